"""The contrastive core shared by ``graphrep`` and ``rlrep``.

Importing ``shared`` loads torch, NumPy and SciPy only: never PyTorch Geometric,
Stable-Baselines3 or gymnasium. scikit-learn is imported by :mod:`shared.probes` when used.

Submodules: :mod:`shared.losses`, :mod:`shared.heads`, :mod:`shared.probes`,
:mod:`shared.distributed`, :mod:`shared.checkpoint`, :mod:`shared.run_dir`,
:mod:`shared.seeding`, :mod:`shared.bridge`.
"""

from shared import heads, losses
from shared.losses import nt_xent

__all__ = ["heads", "losses", "nt_xent"]
__version__ = "0.1.0"
