"""graphrep: multi-view graph contrastive learning (MVGRL) on PyTorch Geometric.

Node level: :class:`graphrep.models.MVGRL`; graph level:
:class:`graphrep.models.MVGRLGraph`; views in :mod:`graphrep.diffusion`;
datasets in :mod:`graphrep.data`; the ``graphrep`` command in
:mod:`graphrep.cli`.
"""
__version__ = "0.1.0"
