"""Random node-subset batches cut from sparse views (node-level MVGRL).

The MVGRL release trains on contiguous index windows of the node list; here a
batch is ``count`` independent uniformly random node subsets of ``size``
nodes. Each view is restricted to every subset (the induced sub-matrix, not
renormalised, as the release does with dense slices) and the subsets are
stacked block-diagonally, so one sparse product encodes the whole batch.

A view that keeps most of its entries (the release's exact, unsparsified
diffusion) is better held as a dense ``[N, N]`` matrix
(:func:`view_as_dense`, chosen by :func:`prefers_dense`): its subsets are then
cut as dense ``[B, s, s]`` blocks that one batched matmul multiplies, instead of
sparse products over millions of stored entries.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.utils import subgraph, to_torch_csr_tensor

from graphrep.diffusion import SparseView

__all__ = ["SubgraphBatch", "sample_node_subsets", "sample_node_windows", "view_as_sparse",
           "view_as_dense", "prefers_dense", "DENSE_MIN_FILL", "cut_subgraph_batch"]

#: Fraction of a view's ``N^2`` entries kept at and above which
#: :func:`prefers_dense` holds it dense. Dense storage (4 bytes per entry) then
#: takes less memory than edge format (20 bytes per kept entry) for any fill
#: above 0.2. Measured on Cora with 4 subgraphs of 2000 nodes per step
#: (``experiments/results/bench_node_views.md``): the unsparsified PPR view (84%
#: fill) steps 6.3x faster dense, top-256 (9%) 2x faster sparse.
DENSE_MIN_FILL = 0.25

#: A view restricted to subsets: sparse CSR ``[B * s, B * s]`` (block diagonal) or
#: dense ``[B, s, s]`` blocks.
BatchView = Tensor


@dataclass
class SubgraphBatch:
    """A block-diagonal batch of induced subgraphs.

    Attributes:
        nodes: ``[B * s]`` original index of every batch node.
        batch: ``[B * s]`` subgraph index of every batch node.
        views: per view, a ``torch.sparse_csr`` ``[B * s, B * s]`` matrix, or
            ``[B, s, s]`` dense blocks for a view given dense.
        num_subgraphs: ``B``.
    """

    nodes: Tensor
    batch: Tensor
    views: Sequence[BatchView]
    num_subgraphs: int


def sample_node_subsets(num_nodes: int, size: int, count: int,
                        generator: torch.Generator | None = None) -> Tensor:
    """``count`` uniformly random subsets of ``size`` distinct nodes.

    A ``size`` larger than the graph is reduced to ``num_nodes`` (with a
    warning): every subset is then the whole graph in random order.

    Returns:
        ``[count, min(size, num_nodes)]`` long tensor.
    """
    size = _subgraph_size(num_nodes, size, count)
    keys = torch.rand(count, num_nodes, generator=generator)
    return keys.argsort(dim=1)[:, :size]


def sample_node_windows(num_nodes: int, size: int, count: int,
                        generator: torch.Generator | None = None) -> Tensor:
    """``count`` contiguous index windows ``[i, i + size)`` with ``i`` uniform in
    ``[0, num_nodes - size]``: the MVGRL release's subgraphs (kept as an ablation;
    what a window holds depends on the node order of the files, which random
    subsets do not). A ``size`` larger than the graph is reduced as in
    :func:`sample_node_subsets`.

    Returns:
        ``[count, min(size, num_nodes)]`` long tensor, each row ascending.
    """
    size = _subgraph_size(num_nodes, size, count)
    starts = torch.randint(0, num_nodes - size + 1, (count, 1), generator=generator)
    return starts + torch.arange(size)


def _subgraph_size(num_nodes: int, size: int, count: int) -> int:
    """``size`` checked and reduced to the graph (with a warning naming both)."""
    if size < 1 or count < 1:
        raise ValueError(f"subgraph size and count must be >= 1, got {size}, {count}.")
    if size > num_nodes:
        warnings.warn(f"subgraph size {size} exceeds the graph's {num_nodes} "
                      f"nodes; using {num_nodes}.", stacklevel=3)
        size = num_nodes
    return size


def view_as_sparse(view: SparseView, num_nodes: int) -> Tensor:
    """A view in edge format as the ``torch.sparse_csr`` matrix ``S [N, N]``
    (rows = targets), the form ``GCNConv`` multiplies directly."""
    edge_index, edge_weight = view
    return to_torch_csr_tensor(edge_index.flip(0), edge_weight,
                               size=(num_nodes, num_nodes))


def view_as_dense(view: SparseView, num_nodes: int) -> Tensor:
    """A view in edge format as the dense matrix ``S [N, N]`` (rows = targets;
    repeated edges add up, as in the sparse form)."""
    edge_index, edge_weight = view
    dense = edge_weight.new_zeros(num_nodes, num_nodes)
    return dense.index_put_((edge_index[1], edge_index[0]), edge_weight, accumulate=True)


def prefers_dense(view: SparseView, num_nodes: int) -> bool:
    """Whether a view keeps at least :data:`DENSE_MIN_FILL` of its ``N^2`` entries."""
    return view[1].numel() >= DENSE_MIN_FILL * num_nodes ** 2


def cut_subgraph_batch(subsets: Tensor, views: Sequence[SparseView | Tensor],
                       num_nodes: int) -> SubgraphBatch:
    """Restrict every view to every subset and stack the blocks.

    Args:
        subsets: ``[B, s]`` node indices (from :func:`sample_node_subsets`).
        views: views on the full graph, each in edge format (cut into one sparse
            block-diagonal ``[B * s, B * s]`` matrix) or as a dense ``[N, N]``
            matrix from :func:`view_as_dense` (cut into ``[B, s, s]`` blocks).
        num_nodes: ``N`` of the full graph.
    """
    count, size = subsets.shape
    total = count * size
    out = []
    for view in views:
        if isinstance(view, Tensor):  # blocks are cut where the view lives
            idx = subsets.to(view.device)
            out.append(view[idx.unsqueeze(2), idx.unsqueeze(1)])
            continue
        edge_index, edge_weight = view
        parts_i, parts_w = [], []
        for b in range(count):
            ei, ew = subgraph(subsets[b].to(edge_index.device), edge_index, edge_weight,
                              relabel_nodes=True, num_nodes=num_nodes)
            parts_i.append(ei + b * size)
            parts_w.append(ew)
        out.append(view_as_sparse((torch.cat(parts_i, 1), torch.cat(parts_w)),
                                  total))
    batch = torch.arange(count).repeat_interleave(size)
    return SubgraphBatch(subsets.reshape(-1), batch, out, count)
