r"""Node-level MVGRL.

`Hassani & Khasahmadi, "Contrastive Multi-View Representation Learning on
Graphs", ICML 2020 <https://arxiv.org/abs/2006.05582>`_.

Two views of one graph, the normalised adjacency :math:`\hat{A}` and a
diffusion :math:`S`, each get their own one-layer GCN encoder:

.. math::
    H^{\alpha} = \mathrm{PReLU}(\hat{A} X W_\alpha), \qquad
    H^{\beta} = \mathrm{PReLU}(S X W_\beta).

A readout summarises each view of a subgraph,
:math:`s^{v} = \sigma\big(\frac{1}{n} \sum_i h^{v}_i\big)`, and a shared
bilinear discriminator :math:`\mathcal{D}(s, h) = s^\top W h + b` scores node
embeddings of one view against the summary of the other. Negatives encode
row-shuffled features :math:`\tilde{X}` on the same views. The loss is the
binary cross-entropy over positives
:math:`\{(s^\alpha, h^\beta_i), (s^\beta, h^\alpha_i)\}` and negatives
:math:`\{(s^\alpha, \tilde{h}^\beta_i), (s^\beta, \tilde{h}^\alpha_i)\}`, pooled
into one mean as in the release. After training, node ``i`` is represented by
:math:`h^\alpha_i + h^\beta_i` on the full graph.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import global_mean_pool

from graphrep.encoders import GCNEncoder, check_batch, check_id_ranges, check_view
from shared.heads import BilinearDiscriminator
from shared.losses import discriminator_bce

__all__ = ["MVGRL"]


class MVGRL(nn.Module):
    r"""Node-level MVGRL (see the module docstring for the math).

    Args:
        in_channels: node feature width ``F``.
        hidden_channels: embedding width ``D`` (512 in the paper).
        discriminator_init: initial scale of :math:`W`
            (:class:`~shared.heads.BilinearDiscriminator`): ``"bilinear"``, the
            release's (Xavier with ``nn.Bilinear``'s fans, ``b = \sqrt{6 / (D^2 + D)}``),
            or ``"xavier"`` of the ``[D, D]`` matrix (16x wider at ``D = 512``).
        prelu: the encoders' PReLU, ``"channel"`` (one slope per channel) or
            ``"shared"`` (one slope, the release's ``nn.PReLU()``).
    """

    def __init__(self, in_channels: int, hidden_channels: int = 512,
                 discriminator_init: str = "bilinear", prelu: str = "channel") -> None:
        super().__init__()
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.encoder_adj = GCNEncoder(in_channels, hidden_channels, 1, prelu)
        self.encoder_diff = GCNEncoder(in_channels, hidden_channels, 1, prelu)
        self.discriminator = BilinearDiscriminator(hidden_channels,
                                                   init=discriminator_init)

    def reset_parameters(self) -> None:
        self.encoder_adj.reset_parameters()
        self.encoder_diff.reset_parameters()
        self.discriminator.reset_parameters()

    @staticmethod
    def summary(h: Tensor, batch: Tensor, num_subgraphs: int) -> Tensor:
        r"""Readout :math:`\sigma(\mathrm{mean}_i h_i)` per subgraph: ``[N, D] -> [B, D]``."""
        return torch.sigmoid(global_mean_pool(h, batch, num_subgraphs))

    def _scores(self, summary: Tensor, h: Tensor, batch: Tensor) -> Tensor:
        """``D(s_{batch[i]}, h_i)`` for every node: ``[N]``.

        ``score_matrix(summary [B, D], h [N, D])`` costs ``B D^2 + B N D``; the
        per-node form would cost ``N D^2``.
        """
        return self.discriminator.score_matrix(summary, h).gather(
            0, batch.view(1, -1)).view(-1)

    def forward(self, x: Tensor, nodes: Tensor, neg_nodes: Tensor, adj: Tensor,
                diff: Tensor, batch: Tensor, num_subgraphs: int
                ) -> tuple[Tensor, Tensor]:
        """Discriminator logits of a batch of subgraphs.

        The feature products :math:`XW` are computed once on the full graph and
        gathered: rows ``nodes`` for the positives and ``neg_nodes`` (a shuffle
        of ``nodes`` within each subgraph) for the corruption, which equals
        encoding the shuffled feature rows. Positives and negatives share one
        sparse product per view.

        Args:
            x: ``[N_full, F]`` features of the whole graph (dense or sparse).
            nodes: ``[M]`` full-graph index of every batch node.
            neg_nodes: ``[M]`` feature row each batch node gets in the corruption.
            adj: adjacency view of the batch, sparse ``[M, M]`` (rows = targets),
                or dense ``[B, s, s]`` blocks (``M = B s``).
            diff: diffusion view of the batch, in either form.
            batch: ``[M]`` subgraph of every node; ``num_subgraphs``: ``B``.

        Returns:
            ``(pos [2M], neg [2M])`` logits.
        """
        self._check_batch_inputs(x, nodes, neg_nodes, adj, diff, batch, num_subgraphs)
        d = self.hidden_channels
        xw_adj = self.encoder_adj.project(x)
        xw_diff = self.encoder_diff.project(x)
        both_adj = self.encoder_adj.propagate(
            torch.cat([xw_adj[nodes], xw_adj[neg_nodes]], dim=1), adj)
        both_diff = self.encoder_diff.propagate(
            torch.cat([xw_diff[nodes], xw_diff[neg_nodes]], dim=1), diff)
        h_adj, n_adj = both_adj[:, :d], both_adj[:, d:]
        h_diff, n_diff = both_diff[:, :d], both_diff[:, d:]
        s_adj = self.summary(h_adj, batch, num_subgraphs)
        s_diff = self.summary(h_diff, batch, num_subgraphs)
        pos = torch.cat([self._scores(s_adj, h_diff, batch),
                         self._scores(s_diff, h_adj, batch)])
        neg = torch.cat([self._scores(s_adj, n_diff, batch),
                         self._scores(s_diff, n_adj, batch)])
        return pos, neg

    @staticmethod
    def _check_batch_inputs(x: Tensor, nodes: Tensor, neg_nodes: Tensor, adj: Tensor,
                            diff: Tensor, batch: Tensor, num_subgraphs: int) -> None:
        """:meth:`forward`'s inputs fit together, else ``ValueError`` saying how."""
        if nodes.dim() != 1 or nodes.shape != neg_nodes.shape:
            raise ValueError(f"nodes and neg_nodes must be [M] index tensors of one length, "
                             f"got {tuple(nodes.shape)} and {tuple(neg_nodes.shape)}.")
        m = nodes.numel()
        bounds = (("nodes", nodes, x.size(0), "x.size(0)"),
                  ("neg_nodes", neg_nodes, x.size(0), "x.size(0)"),
                  ("batch", batch, num_subgraphs, "num_subgraphs"))
        for name, idx, _, _ in bounds:  # shapes and dtypes: no device sync
            check_batch(idx, m, None, name=name)
        check_id_ranges(bounds)  # one device sync: this runs every training step
        for name, view in (("adj", adj), ("diff", diff)):
            if view.dim() == 3 and view.layout == torch.strided:
                if view.shape[0] * view.shape[1] != nodes.numel() or \
                        view.shape[1] != view.shape[2]:
                    raise ValueError(f"{name} as dense blocks must be [B, s, s] with B * s = "
                                     f"{nodes.numel()} (the batch nodes), got "
                                     f"{tuple(view.shape)}.")
            else:
                check_view(view, nodes.numel(), name=name)

    @staticmethod
    def loss(pos: Tensor, neg: Tensor) -> Tensor:
        """Pooled BCE (the release's form; ``log 2`` at zero logits)."""
        return discriminator_bce(pos, neg, convention="pooled")

    @torch.no_grad()
    def embed(self, x: Tensor, adj: Tensor, diff: Tensor,
              adj_weight: Tensor | None = None,
              diff_weight: Tensor | None = None) -> Tensor:
        """Node embeddings ``h_adj + h_diff`` on the full graph: ``[N, D]``.

        Raises:
            ValueError: the embedding holds NaN or inf (from ``x`` or the weights).
        """
        emb = (self.encoder_adj(x, adj, adj_weight) +
               self.encoder_diff(x, diff, diff_weight))
        if not bool(torch.isfinite(emb).all()):
            where = ("x holds NaN or inf values" if x.layout == torch.strided
                     and not bool(torch.isfinite(x).all())
                     else "x is finite, so the weights are not (a diverged training run?)")
            raise ValueError(f"the embedding holds NaN or inf: {where}.")
        return emb

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, "
                f"{self.hidden_channels})")
