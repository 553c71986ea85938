"""Random node-subset batches cut from sparse views (node-level MVGRL).

The MVGRL release trains on contiguous index windows of the node list; here a
batch is ``count`` independent uniformly random node subsets of ``size``
nodes. Each view is restricted to every subset (the induced sub-matrix, not
renormalised, as the release does with dense slices) and the subsets are
stacked block-diagonally, so one sparse product encodes the whole batch.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.utils import subgraph, to_torch_csr_tensor

from graphrep.diffusion import SparseView

__all__ = ["SubgraphBatch", "sample_node_subsets", "view_as_sparse",
           "cut_subgraph_batch"]


@dataclass
class SubgraphBatch:
    """A block-diagonal batch of induced subgraphs.

    Attributes:
        nodes: ``[B * s]`` original index of every batch node.
        batch: ``[B * s]`` subgraph index of every batch node.
        views: one ``torch.sparse_csr`` ``[B * s, B * s]`` matrix per view.
        num_subgraphs: ``B``.
    """

    nodes: Tensor
    batch: Tensor
    views: Sequence[Tensor]
    num_subgraphs: int


def sample_node_subsets(num_nodes: int, size: int, count: int,
                        generator: torch.Generator | None = None) -> Tensor:
    """``count`` uniformly random subsets of ``size`` distinct nodes.

    A ``size`` larger than the graph is reduced to ``num_nodes`` (with a
    warning): every subset is then the whole graph in random order.

    Returns:
        ``[count, min(size, num_nodes)]`` long tensor.
    """
    if size < 1 or count < 1:
        raise ValueError(f"subgraph size and count must be >= 1, got {size}, {count}.")
    if size > num_nodes:
        warnings.warn(f"subgraph size {size} exceeds the graph's {num_nodes} "
                      f"nodes; using {num_nodes}.", stacklevel=2)
        size = num_nodes
    keys = torch.rand(count, num_nodes, generator=generator)
    return keys.argsort(dim=1)[:, :size]


def view_as_sparse(view: SparseView, num_nodes: int) -> Tensor:
    """A view in edge format as the ``torch.sparse_csr`` matrix ``S [N, N]``
    (rows = targets), the form ``GCNConv`` multiplies directly."""
    edge_index, edge_weight = view
    return to_torch_csr_tensor(edge_index.flip(0), edge_weight,
                               size=(num_nodes, num_nodes))


def cut_subgraph_batch(subsets: Tensor, views: Sequence[SparseView],
                       num_nodes: int) -> SubgraphBatch:
    """Restrict every view to every subset and stack the blocks.

    Args:
        subsets: ``[B, s]`` node indices (from :func:`sample_node_subsets`).
        views: views in edge format on the full graph.
        num_nodes: ``N`` of the full graph.
    """
    count, size = subsets.shape
    total = count * size
    out = []
    for edge_index, edge_weight in views:
        parts_i, parts_w = [], []
        for b in range(count):
            ei, ew = subgraph(subsets[b], edge_index, edge_weight,
                              relabel_nodes=True, num_nodes=num_nodes)
            parts_i.append(ei + b * size)
            parts_w.append(ew)
        out.append(view_as_sparse((torch.cat(parts_i, 1), torch.cat(parts_w)),
                                  total))
    batch = torch.arange(count).repeat_interleave(size)
    return SubgraphBatch(subsets.reshape(-1), batch, out, count)
