r"""Graph-level MVGRL.

`Hassani & Khasahmadi, "Contrastive Multi-View Representation Learning on
Graphs", ICML 2020 <https://arxiv.org/abs/2006.05582>`_.

Each graph is seen through its adjacency view :math:`\hat{A}` and a diffusion
view :math:`S`; each view has an L-layer GCN encoder
(:class:`~graphrep.encoders.GraphGCNEncoder`) giving node embeddings
:math:`h_i^{v}` (last layer) and a graph embedding :math:`h_G^{v}` (per-layer
sum readouts, concatenated). Shared projection heads :math:`f_\theta` (nodes)
and :math:`f_\omega` (graphs), three Linear+PReLU layers with a linear
shortcut, map both into one space. The loss is the Jensen-Shannon local-global
MI estimate in both directions,

.. math::
    \mathcal{L} = -\frac{1}{N} \sum_{G} \sum_{i \in G}
    \left[ \mathrm{MI}\big(f_\theta(h_i^{\alpha}), f_\omega(h_G^{\beta})\big) +
           \mathrm{MI}\big(f_\theta(h_i^{\beta}), f_\omega(h_G^{\alpha})\big)
    \right],

with :math:`N = \sum_G |G|` the nodes of the mini-batch (every node weighs the same,
so larger graphs weigh more, as in the release's loss) and every other graph of the
mini-batch supplying the negatives, averaged over all (node, other graph) pairs
(:func:`shared.losses.local_global_loss`, ``estimator="jsd"``). Graphs are
batched the PyG way (one disjoint union, no padding).

The graph representation for evaluation is
:math:`f_\omega(h_G^{\alpha}) + f_\omega(h_G^{\beta})` (``D`` wide), what the
release's and DGL's ``embed`` return: the paper's eq. (3) maps the concatenated
readouts to ``D`` dimensions, and the release implements that map as the graph
head. ``projected=False`` gives the encoders' readouts
:math:`h_G^{\alpha} + h_G^{\beta}` (``L * D`` wide) instead.
"""
from __future__ import annotations

from torch import Tensor, nn

from graphrep.encoders import GraphGCNEncoder, prelu_slopes
from shared.heads import ProjectionHead
from shared.losses import local_global_loss

__all__ = ["MVGRLGraph"]


def _mvgrl_head(in_dim: int, dim: int, prelu: str) -> ProjectionHead:
    prelu_slopes(prelu, dim)  # refuses a bad value
    return ProjectionHead(in_dim, dim, dim, num_layers=3,
                          activation="prelu" if prelu == "channel" else "prelu_shared",
                          shortcut=True, final_activation=True)


class MVGRLGraph(nn.Module):
    r"""Graph-level MVGRL (see the module docstring for the math).

    Args:
        in_channels: node feature width ``F``.
        hidden_channels: GCN and head width ``D`` (512 in the paper).
        num_layers: GCN depth ``L`` (the paper searches 2, 8, 12).
        prelu: the PReLUs of encoders and heads, ``"channel"`` (one slope per
            channel) or ``"shared"`` (one slope each, the release's ``nn.PReLU()``).
    """

    def __init__(self, in_channels: int, hidden_channels: int = 512,
                 num_layers: int = 2, prelu: str = "channel") -> None:
        super().__init__()
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.encoder_adj = GraphGCNEncoder(in_channels, hidden_channels, num_layers, prelu)
        self.encoder_diff = GraphGCNEncoder(in_channels, hidden_channels, num_layers,
                                            prelu)
        self.local_head = _mvgrl_head(hidden_channels, hidden_channels, prelu)
        self.global_head = _mvgrl_head(hidden_channels * num_layers, hidden_channels,
                                       prelu)

    def encode(self, x: Tensor, adj_edge_index: Tensor, adj_edge_weight: Tensor,
               diff_edge_index: Tensor, diff_edge_weight: Tensor, batch: Tensor,
               num_graphs: int | None = None
               ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Encoder outputs of both views (before the heads).

        Returns:
            ``(node_adj [N, D], graph_adj [G, L*D], node_diff [N, D],
            graph_diff [G, L*D])``.
        """
        l_a, g_a = self.encoder_adj(x, adj_edge_index, adj_edge_weight, batch,
                                    num_graphs)
        l_d, g_d = self.encoder_diff(x, diff_edge_index, diff_edge_weight,
                                     batch, num_graphs)
        return l_a, g_a, l_d, g_d

    def forward(self, x: Tensor, adj_edge_index: Tensor, adj_edge_weight: Tensor,
                diff_edge_index: Tensor, diff_edge_weight: Tensor, batch: Tensor,
                num_graphs: int | None = None) -> Tensor:
        """The training loss of one mini-batch (a scalar).

        Args:
            x: ``[N, F]`` node features of the batch.
            adj_edge_index, adj_edge_weight: ``[2, E_a]``, ``[E_a]`` adjacency view.
            diff_edge_index, diff_edge_weight: ``[2, E_d]``, ``[E_d]`` diffusion view.
            batch: ``[N]`` graph of every node; needs at least two graphs.
        """
        l_a, g_a, l_d, g_d = self.encode(x, adj_edge_index, adj_edge_weight,
                                         diff_edge_index, diff_edge_weight,
                                         batch, num_graphs)
        l_a, l_d = self.local_head(l_a), self.local_head(l_d)
        g_a, g_d = self.global_head(g_a), self.global_head(g_d)
        return (local_global_loss(l_a, g_d, batch, estimator="jsd") +
                local_global_loss(l_d, g_a, batch, estimator="jsd"))

    def embed(self, x: Tensor, adj_edge_index: Tensor, adj_edge_weight: Tensor,
              diff_edge_index: Tensor, diff_edge_weight: Tensor, batch: Tensor,
              num_graphs: int | None = None, projected: bool = True) -> Tensor:
        """Graph embeddings ``f_omega(h_G^adj) + f_omega(h_G^diff)``: ``[G, D]``
        (the release's and DGL's evaluation embedding); with
        ``projected=False``, the encoder readouts ``h_G^adj + h_G^diff``:
        ``[G, L*D]``."""
        _, g_a, _, g_d = self.encode(x, adj_edge_index, adj_edge_weight,
                                     diff_edge_index, diff_edge_weight, batch,
                                     num_graphs)
        if projected:
            g_a, g_d = self.global_head(g_a), self.global_head(g_d)
        return g_a + g_d

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, "
                f"{self.hidden_channels}, num_layers={self.num_layers})")
