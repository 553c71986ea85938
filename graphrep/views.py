"""The two MVGRL views of a dataset: adjacency + diffusion, ready to train on.

Node level: one :class:`NodeViews` for the graph. Graph level: every graph
gets ``adj_edge_index/adj_edge_weight`` and ``diff_edge_index/diff_edge_weight``
attributes (PyG increments ``*_index`` attributes when batching). Graph-level
views are cached on disk (``<cache>/views/<dataset>-<view>-<options>.pt``)
because REDDIT-BINARY takes minutes to diffuse.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch_geometric.data import Data
from tqdm.auto import tqdm

from graphrep.diffusion import (
    PUSH_EPS,
    SparseView,
    adjacency_view,
    diffusion_view,
    resolve_method,
)
from shared.checkpoint import CorruptFileError, atomic_save, load_file

__all__ = ["DiffusionOptions", "NodeViews", "node_views", "attach_graph_views", "structure_digest", "check_dense_budget",
           "MAX_DENSE_VIEW_ENTRIES"]


@dataclass(frozen=True)
class DiffusionOptions:
    """How the diffusion view is built (see :func:`graphrep.diffusion.diffusion_view`)."""

    kind: str = "ppr"
    alpha: float = 0.2
    t: float = 5.0
    #: ``"auto"`` resolves by graph size (:func:`graphrep.diffusion.resolve_method`):
    #: exact up to 6000 nodes, power up to 10000; above, PPR takes the push method when
    #: numba imports (power otherwise, with a warning)
    method: str = "auto"
    eps: float | None = None
    topk: int | None = None
    #: weight ``w`` of the self-loops of the adjacency view
    #: ``D^-1/2 (A + w I) D^-1/2`` (the release effectively uses 2 at node level).
    self_loop_weight: float = 1.0
    #: ``None`` or ``"minmax"``: scale every column of the diffusion to [0, 1]
    #: (the release's CiteSeer treatment; :func:`graphrep.diffusion.minmax_columns`).
    column_scale: str | None = None
    #: residual threshold of the ``"push"`` method (PyG ``get_ppr``'s ``eps``)
    push_eps: float = PUSH_EPS
    #: the heat kernel's transition ``T`` in ``exp(t T - t I)``: ``"col"`` ``A D^-1`` (the
    #: paper's Eq. 4), ``"sym"`` ``D^-1/2 A D^-1/2`` (GDC's ``sym``, no self-loops),
    #: ``"row"`` ``D^-1 A``
    heat_transition: str = "col"

    def build(self, edge_index: Tensor, num_nodes: int) -> SparseView:
        return diffusion_view(edge_index, num_nodes, self.kind, alpha=self.alpha,
                              t=self.t, method=self.method, eps=self.eps,
                              topk=self.topk, column_scale=self.column_scale,
                              push_eps=self.push_eps, heat_transition=self.heat_transition)

    def methods(self, sizes: Iterable[int]) -> dict[str, int]:
        """Number of graphs each method diffuses among graphs of these node counts
        (``"auto"`` resolved, :func:`graphrep.diffusion.resolve_method`)."""
        return dict(Counter(resolve_method(self.kind, int(n), self.method) for n in sizes))

    def key(self, max_nodes: int | None = None) -> str:
        """Short stable identifier for cache file names. ``max_nodes``: the largest
        graph the views are built for; ``push_eps`` is part of the key only when the
        push method runs on such a graph (a setting that changes nothing built
        reuses the cached views)."""
        fields = asdict(self)
        # options at their defaults are left out: keeps the keys of views cached before
        # the options existed
        if fields["column_scale"] is None:
            del fields["column_scale"]
        if fields["heat_transition"] == "col":
            del fields["heat_transition"]
        if fields["push_eps"] == PUSH_EPS or (
                max_nodes is not None
                and resolve_method(self.kind, max_nodes, self.method) != "push"):
            del fields["push_eps"]
        blob = json.dumps(fields, sort_keys=True)
        return f"{self.kind}-{hashlib.sha1(blob.encode()).hexdigest()[:10]}"


@dataclass
class NodeViews:
    """Both views of one graph in edge format (``[2, nnz]``, ``[nnz]``)."""

    adj: SparseView
    diff: SparseView
    num_nodes: int
    #: the method the diffusion ran (``"auto"`` resolved: exact, power or push)
    diffusion_method: str = ""

    @property
    def diff_density(self) -> float:
        """Kept diffusion entries per node."""
        return self.diff[1].numel() / self.num_nodes


def _check_kept(entries: int, options: DiffusionOptions) -> None:
    """Refuse a sparsification that kept no diffusion entry (an ``eps`` above every
    entry, or column min-max scaling of columns that each hold one value): the diffusion
    view would be empty and MVGRL would train on one view."""
    if entries == 0 and options.column_scale == "minmax":
        raise ValueError(f"column min-max scaling left none of the {options.kind} "
                         f"diffusion's entries: each column held one value, which scales "
                         f"to 0 (e.g. a one-node graph, or an --eps that leaves one entry "
                         f"per column); pass --column-scale none"
                         + (", or lower --eps." if options.eps is not None else "."))
    if entries == 0:
        raise ValueError(f"--eps {options.eps} keeps none of the {options.kind} diffusion's "
                         f"entries (every one is smaller); lower it, e.g. --eps 1e-4.")


def node_views(edge_index: Tensor, num_nodes: int,
               options: DiffusionOptions) -> NodeViews:
    """Adjacency and diffusion views of a node-level graph."""
    diff = options.build(edge_index, num_nodes)
    _check_kept(diff[1].numel(), options)
    return NodeViews(adjacency_view(edge_index, num_nodes,
                                    self_loop_weight=options.self_loop_weight),
                     diff, num_nodes,
                     resolve_method(options.kind, num_nodes, options.method))


#: Most diffusion entries kept over all graphs without ``topk`` / ``eps`` (about 2 GB as
#: int64 index pairs + float32 weights). REDDIT-BINARY's dense views hold ~10x more.
MAX_DENSE_VIEW_ENTRIES = 100_000_000


def check_dense_budget(graphs: list[Data], options: DiffusionOptions) -> None:
    """Refuse dense (unsparsified) diffusion views that would not fit in memory, naming the fix."""
    if options.topk is not None or options.eps is not None:
        return
    entries = sum(int(g.num_nodes) ** 2 for g in graphs)
    if entries > MAX_DENSE_VIEW_ENTRIES:
        raise ValueError(
            f"dense {options.kind} views of these {len(graphs)} graphs would keep {entries:.2e} "
            f"entries (~{entries * 20 / 2**30:.0f} GiB); keep the largest per node with "
            f"--topk 32 (DiffusionOptions(topk=32)) or drop small ones with --eps 1e-4."
        )


def structure_digest(graphs: list[Data]) -> str:
    """SHA-256 of every graph's node count and ``edge_index`` (``[2, E]``), in order:
    what the views are built from."""
    h = hashlib.sha256()
    for g in graphs:
        ei = g.edge_index.detach().cpu().to(torch.int64).contiguous()
        h.update(f"{g.num_nodes}:{ei.size(1)};".encode())
        h.update(ei.numpy().tobytes())
    return h.hexdigest()


def attach_graph_views(graphs: list[Data], options: DiffusionOptions,
                       cache_file: Path | None = None,
                       progress: bool = True) -> list[Data]:
    """Copy of ``graphs`` with both views attached to every graph.

    Args:
        graphs: graphs with ``x``, ``edge_index`` and ``y``.
        options: diffusion options.
        cache_file: load the views from / save them to this file; a stored file is
            used only when it was built from the same graphs (:func:`structure_digest`:
            a corrected raw file with the same number of graphs rebuilds the views).
    """
    views = None
    digest = structure_digest(graphs) if cache_file is not None else None
    if cache_file is not None and cache_file.is_file():
        try:  # a damaged cache file is rebuilt
            cached = load_file(cache_file, weights_only=True, map_location="cpu")
        except CorruptFileError:
            cached = None
        if isinstance(cached, dict) and cached.get("structure_sha256") == digest:
            views = cached["views"]
    if views is None:
        check_dense_budget(graphs, options)
        views = []
        for g in tqdm(graphs, desc=f"{options.kind} views", disable=not progress,
                      leave=False):
            a_i, a_w = adjacency_view(g.edge_index, g.num_nodes,
                                      self_loop_weight=options.self_loop_weight)
            d_i, d_w = options.build(g.edge_index, g.num_nodes)
            views.append((a_i, a_w, d_i, d_w))
        _check_kept(sum(v[3].numel() for v in views), options)
        if cache_file is not None:
            # CPU tensors: a cache written from CUDA graphs loads on a CPU-only machine too
            atomic_save({"structure_sha256": digest,
                         "views": [tuple(t.cpu() for t in v) for v in views]}, cache_file)
    out = []
    for g, (a_i, a_w, d_i, d_w) in zip(graphs, views, strict=True):
        out.append(Data(x=g.x, y=g.y, num_nodes=g.num_nodes,
                        adj_edge_index=a_i, adj_edge_weight=a_w,
                        diff_edge_index=d_i, diff_edge_weight=d_w))
    return out
