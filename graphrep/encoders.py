r"""GCN encoders used by MVGRL, on PyG's :class:`~torch_geometric.nn.GCNConv`.

The views of :mod:`graphrep.diffusion` are already normalised, so every
convolution runs with ``normalize=False`` and consumes the view's weights as
they are: :math:`H' = \mathrm{PReLU}(S H W + b)`.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch_geometric.nn import GCNConv, global_add_pool
from torch_geometric.utils import to_torch_csr_tensor

from graphrep.diffusion import check_edge_index

__all__ = ["GCNEncoder", "GraphGCNEncoder", "check_batch", "check_features", "check_id_ranges",
           "check_view", "prelu_slopes"]


def prelu_slopes(prelu: str, channels: int) -> int:
    """Number of PReLU slopes for ``prelu`` = ``"channel"`` (``channels``) or ``"shared"`` (1)."""
    if prelu == "channel":
        return channels
    if prelu == "shared":
        return 1
    raise ValueError(f"prelu must be 'channel' or 'shared', got {prelu!r}.")


def check_features(x: Tensor, in_channels: int) -> None:
    """Raise ``ValueError`` unless ``x`` is ``[N, in_channels]`` (dense or sparse)."""
    if not isinstance(x, Tensor) or x.dim() != 2:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"x must be a [N, F] node-feature tensor, got {shape}.")
    if x.size(1) != in_channels:
        raise ValueError(f"x has {x.size(1)} features per node but the model was built for "
                         f"in_channels={in_channels}; build it with in_channels=x.size(1).")


def check_view(view: Tensor, num_nodes: int, name: str = "edge_index") -> None:
    """Raise ``ValueError`` unless ``view`` is an ``edge_index [2, E]`` of node ids in
    ``[0, num_nodes)`` or a ``torch.sparse`` ``[num_nodes, num_nodes]`` matrix."""
    if isinstance(view, Tensor) and view.layout != torch.strided:
        if tuple(view.shape) != (num_nodes, num_nodes):
            raise ValueError(f"{name} is a sparse {tuple(view.shape)} matrix but the "
                             f"features have {num_nodes} rows: it must be "
                             f"[{num_nodes}, {num_nodes}].")
        return
    if isinstance(view, Tensor) and view.is_floating_point():
        raise ValueError(f"{name} is a dense {tuple(view.shape)} float tensor; pass the view "
                         f"as edge_index [2, E] with edge_weight [E], or as a torch.sparse "
                         f"matrix (view.to_sparse()).")
    check_edge_index(view, num_nodes)


#: A view: ``edge_index [2, E]`` (weights passed separately) or ``S`` as a
#: ``torch.sparse`` ``[N, N]`` matrix (rows = targets).
Adj = Tensor


class GCNEncoder(nn.Module):
    r"""Stack of GCN layers with PReLU, for node-level MVGRL (one layer there).

    .. math::
        H^{(l+1)} = \mathrm{PReLU}\left(S H^{(l)} W^{(l)} + b^{(l)}\right)

    Args:
        in_channels: input feature width ``F``.
        hidden_channels: output width ``D`` of every layer.
        num_layers: number of GCN layers.
        prelu: ``"channel"``, one PReLU slope per channel (``D`` per layer), or
            ``"shared"``, one slope per layer, the release's ``nn.PReLU()``.
    """

    def __init__(self, in_channels: int, hidden_channels: int,
                 num_layers: int = 1, prelu: str = "channel") -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}.")
        for what, value in (("in_channels", in_channels), ("hidden_channels", hidden_channels)):
            if value < 1:
                raise ValueError(f"{what} must be >= 1, got {value}.")
        self.in_channels = in_channels
        slopes = prelu_slopes(prelu, hidden_channels)
        self.convs = nn.ModuleList(
            GCNConv(in_channels if i == 0 else hidden_channels,
                    hidden_channels, normalize=False, add_self_loops=False)
            for i in range(num_layers))
        self.acts = nn.ModuleList(nn.PReLU(slopes) for _ in range(num_layers))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()
        for act in self.acts:
            nn.init.constant_(act.weight, 0.25)

    def forward(self, x: Tensor, edge_index: Adj,
                edge_weight: Tensor | None = None) -> Tensor:
        """
        Args:
            x: ``[N, F]`` node features (dense or ``torch.sparse``).
            edge_index: ``[2, E]`` view edges, or the view ``S`` itself as a
                ``torch.sparse`` ``[N, N]`` matrix (faster on CPU).
            edge_weight: ``[E]`` view weights (with ``edge_index`` only).

        Returns:
            ``[N, D]`` node embeddings.
        """
        check_features(x, self.in_channels)
        check_view(edge_index, x.size(0))
        for conv, act in zip(self.convs, self.acts, strict=True):
            x = act(conv(x, edge_index, edge_weight))
        return x

    def project(self, x: Tensor) -> Tensor:
        r"""First half of a one-layer encoder: :math:`X W`, ``[N, F] -> [N, D]``.

        ``propagate(project(x)[idx], S_idx)`` equals ``forward(x[idx], S_idx)``;
        splitting lets a row gather sit between the two halves, so the feature
        product is computed once on the full graph per step and reused for every
        subgraph and for the row-shuffled negatives (``(XW)[perm] = X[perm] W``).
        """
        if len(self.convs) != 1:
            raise RuntimeError("project/propagate split needs a one-layer encoder")
        check_features(x, self.in_channels)
        return self.convs[0].lin(x)

    def propagate(self, h: Tensor, edge_index: Adj,
                  edge_weight: Tensor | None = None) -> Tensor:
        r"""Second half: :math:`\mathrm{PReLU}(S H + b)` for ``H = project(x)``.

        ``h`` may hold several feature blocks side by side (``[N, k D]``, e.g.
        positives and negatives); each block gets the bias and PReLU.

        ``edge_index`` may also be dense blocks ``[B, s, s]`` (rows = targets)
        of a batch of ``B`` subgraphs of ``s`` nodes each, ``N = B s``
        (:func:`graphrep.subgraphs.cut_subgraph_batch` on a dense view): then
        ``S H`` is one batched matmul.
        """
        conv, act = self.convs[0], self.acts[0]
        if (edge_index.dim() == 3 and edge_index.layout == torch.strided
                and edge_index.is_floating_point()):
            count, size = edge_index.shape[0], edge_index.shape[-1]
            out = torch.bmm(edge_index, h.reshape(count, size, -1))
        else:
            out = conv.propagate(edge_index, x=h, edge_weight=edge_weight)
        out = out.reshape(-1, conv.out_channels)  # one row per (node, block)
        if conv.bias is not None:
            out = out + conv.bias
        return act(out).reshape(h.shape)


def check_batch(batch: Tensor, num_nodes: int, num_groups: int | None,
                name: str = "batch", groups: str = "num_graphs") -> None:
    """Raise ``ValueError`` unless ``batch`` is ``[num_nodes]`` integer group ids below
    ``num_groups`` (when given)."""
    if not isinstance(batch, Tensor) or tuple(batch.shape) != (num_nodes,):
        shape = tuple(batch.shape) if isinstance(batch, Tensor) else type(batch).__name__
        raise ValueError(f"{name} must give the group of each of the {num_nodes} nodes "
                         f"([{num_nodes}]), got {shape}.")
    if batch.is_floating_point():
        raise ValueError(f"{name} must hold integer ids (torch.long), got {batch.dtype}.")
    if num_groups is not None:
        check_id_ranges([(name, batch, num_groups, groups)])


def check_id_ranges(checks: Sequence[tuple[str, Tensor, int, str]]) -> None:
    """Raise ``ValueError`` unless each ``(name, ids, limit, what)`` holds ids in
    ``0..limit - 1`` (``what`` names the limit in the message). All ranges are read with
    one device sync (a per-step check on the GPU)."""
    checks = [c for c in checks if c[1].numel()]
    if not checks:
        return
    ranges = torch.stack([v.long() for _, ids, _, _ in checks
                          for v in torch.aminmax(ids)]).tolist()
    for (name, _, limit, what), lo, hi in zip(checks, ranges[::2], ranges[1::2], strict=True):
        if lo < 0 or hi >= limit:
            raise ValueError(f"{name} holds id {lo if lo < 0 else hi} but {what}={limit}; "
                             f"ids must lie in 0..{limit - 1}.")


class GraphGCNEncoder(nn.Module):
    r"""L-layer GCN with a sum readout after every layer, for graph-level MVGRL.

    .. math::
        h_i = h_i^{(L)}, \qquad
        h_G = \big\Vert_{l=1}^{L} \sum_{i \in G} h_i^{(l)}

    All layers live in :class:`~torch.nn.ModuleList` and are trained (the
    release kept them in a Python list, so they never were).

    Args:
        in_channels: input feature width ``F``.
        hidden_channels: layer width ``D``.
        num_layers: ``L``.
        prelu: ``"channel"`` or ``"shared"`` PReLU slopes (:class:`GCNEncoder`).
    """

    def __init__(self, in_channels: int, hidden_channels: int,
                 num_layers: int, prelu: str = "channel") -> None:
        super().__init__()
        self.gcn = GCNEncoder(in_channels, hidden_channels, num_layers, prelu)
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers

    @property
    def out_graph_channels(self) -> int:
        """Width of the graph embedding, ``L * D``."""
        return self.hidden_channels * self.num_layers

    def reset_parameters(self) -> None:
        self.gcn.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor,
                batch: Tensor, num_graphs: int | None = None
                ) -> tuple[Tensor, Tensor]:
        """
        Args:
            x: ``[N, F]`` node features of a mini-batch of graphs.
            edge_index: ``[2, E]`` view edges; ``edge_weight``: ``[E]``.
            batch: ``[N]`` graph index of every node.
            num_graphs: ``G`` (inferred from ``batch`` if omitted).

        Returns:
            ``(node [N, D], graph [G, L * D])``: last-layer node embeddings and
            the concatenated per-layer sum readouts.
        """
        # one sparse CSR matrix per batch: GCNConv then multiplies S @ (H W) directly
        # instead of materialising an [E, D] message per edge (those messages were
        # REDDIT-BINARY's memory peak): 8.3x faster, 832 vs 2614 MiB on a 32-graph
        # REDDIT-shaped batch (experiments/bench_graph_encoder.py; results/bench_graph_encoder.md)
        check_features(x, self.gcn.in_channels)
        check_edge_index(edge_index, x.size(0))  # a wrong id crashes the CSR kernel
        if edge_weight.shape != edge_index.shape[1:]:
            raise ValueError(f"edge_weight must be [E] = [{edge_index.size(1)}], got "
                             f"{tuple(edge_weight.shape)}.")
        check_batch(batch, x.size(0), num_graphs)
        adj = to_torch_csr_tensor(edge_index.flip(0), edge_weight,
                                  size=(x.size(0), x.size(0)))
        readouts = []
        for conv, act in zip(self.gcn.convs, self.gcn.acts, strict=True):
            x = act(conv(x, adj))
            readouts.append(global_add_pool(x, batch, num_graphs))
        return x, torch.cat(readouts, dim=-1)
