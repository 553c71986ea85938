"""Return-based contrastive representation learning (RCRL; Liu et al., ICLR 2021).

A pair of state-action embeddings is labelled 1 when both transitions lie in the same
return-based segment and 0 otherwise; a bilinear discriminator on the pair is trained with
binary cross-entropy, through the agent's own encoder. Segment ids come from
:class:`rlrep.buffers.SegmentReplayBuffer`.

Pair layout used by :meth:`RCRLHead.loss` (``2n`` rows, as ``SegmentReplayBuffer.sample_pairs``
returns them): rows ``[0, n)`` are anchors, row ``n + i`` is a positive of anchor ``i`` (same
segment), and the negative of anchor ``i`` is the partner of anchor ``i - 1`` (a uniform draw
from the buffer). Every label is the exact equality of stored segment ids, so a "negative" that
happens to share the anchor's segment is labelled 1.
"""

from __future__ import annotations

import torch as th
import torch.nn.functional as F
from torch import nn

from shared.heads import BilinearDiscriminator, ProjectionHead


class RCRLHead(nn.Module):
    """State-action embedding MLP plus a bilinear pair discriminator.

    :param features_dim: encoder output size ``D``.
    :param action_dim: action encoding size ``A`` (one-hot size for discrete actions).
    :param hidden_dim: hidden width of the embedding MLP.
    :param embed_dim: embedding size ``E``.
    """

    def __init__(self, features_dim: int, action_dim: int, hidden_dim: int = 256, embed_dim: int = 64) -> None:
        super().__init__()
        self.features_dim, self.action_dim = features_dim, action_dim
        self.embed = ProjectionHead(features_dim + action_dim, hidden_dim, embed_dim)
        self.discriminator = BilinearDiscriminator(embed_dim)

    def forward(self, features: th.Tensor, actions: th.Tensor) -> th.Tensor:
        """``features [N, D]``, ``actions [N, A]`` -> embeddings ``[N, E]``."""
        expected = ((self.features_dim, "features", "features_dim"), (self.action_dim, "actions", "action_dim"))
        for x, (width, name, arg) in zip((features, actions), expected, strict=True):
            if x.dim() != 2 or x.shape[1] != width or x.shape[0] != features.shape[0]:
                raise ValueError(f"{name} must be [N, {width}] (this head's {arg}; discrete actions "
                                 f"one-hot) with N = {features.shape[0]}, got {tuple(x.shape)}")
        return self.embed(th.cat([features, actions], dim=1))

    def pair_logits(self, features: th.Tensor, actions: th.Tensor, segment_ids: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """Logits ``[2n]`` and exact labels ``[2n]`` (positives first, then negatives) for ``2n`` rows."""
        rows = features.shape[0]
        if rows % 2 or rows < 4:
            raise ValueError(f"RCRL needs an even number >= 4 of rows (anchors then partners; a "
                             f"negative is another anchor's partner), got {rows}")
        if actions.shape[0] != rows or segment_ids.shape != (rows,):
            raise ValueError(f"features [{rows}, D], actions [{rows}, A] and segment_ids [{rows}] must "
                             f"share their rows, got {tuple(actions.shape)} and {tuple(segment_ids.shape)}")
        n = rows // 2
        z = self(features, actions)
        anchors, partners = z[:n], z[n : 2 * n]
        negatives = partners.roll(1, dims=0)
        logits = th.cat([self.discriminator(anchors, partners), self.discriminator(anchors, negatives)])
        anchor_ids, partner_ids = segment_ids[:n], segment_ids[n : 2 * n]
        labels = th.cat([anchor_ids == partner_ids, anchor_ids == partner_ids.roll(1, dims=0)])
        return logits, labels.to(logits.dtype)

    def loss(self, features: th.Tensor, actions: th.Tensor, segment_ids: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """Mean BCE over the ``2n`` pairs and the discriminator's accuracy (threshold 0).

        :param features: ``[2n, D]`` encoder features (anchors then partners).
        :param actions: ``[2n, A]`` encoded actions.
        :param segment_ids: ``[2n]`` int64 segment ids.
        """
        logits, labels = self.pair_logits(features, actions, segment_ids)
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        accuracy = ((logits > 0).to(labels.dtype) == labels).float().mean()
        return loss, accuracy.detach()
