"""CURL (Srinivas, Laskin, Abbeel 2020): contrastive learning between two random crops.

Query = the online encoder's features of one augmentation (the very features the RL loss uses),
key = a momentum (EMA) copy of the encoder applied to a second augmentation of the same
observations, score = bilinear ``q W k^T`` over every pair in the batch, loss = InfoNCE
(cross-entropy with the diagonal as the positive), from :class:`shared.heads.BilinearDiscriminator`.
"""

from __future__ import annotations

import copy

import torch as th
import torch.nn.functional as F
from stable_baselines3.common.utils import polyak_update
from torch import nn

from shared.heads import BilinearDiscriminator


class CURLHead(nn.Module):
    """Momentum key encoder and bilinear InfoNCE.

    :param encoder: the agent's online encoder; a frozen copy becomes the key encoder.
    :param features_dim: encoder output size ``D`` (``W`` is ``[D, D]``).
    :param momentum_tau: EMA rate of the key encoder (``key <- tau * online + (1 - tau) * key``).
    """

    def __init__(self, encoder: nn.Module, features_dim: int, momentum_tau: float) -> None:
        super().__init__()
        self.key_encoder = copy.deepcopy(encoder)
        self.key_encoder.requires_grad_(False)
        self.score = BilinearDiscriminator(features_dim, bias=False)
        self.momentum_tau = momentum_tau

    @th.no_grad()
    def keys(self, observations: th.Tensor) -> th.Tensor:
        """Preprocessed observations ``[N, ...]`` -> key features ``[N, D]`` (no gradient)."""
        return self.key_encoder(observations)

    def loss(
        self, queries: th.Tensor, keys: th.Tensor, exclude: th.Tensor | None = None
    ) -> tuple[th.Tensor, th.Tensor]:
        """InfoNCE of queries ``[N, D]`` against keys ``[N, D]``; returns (loss, top-1 accuracy).

        :param exclude: ``[N, N]`` bool, keys left out of a query's negatives (never the
            diagonal): with RCRL, the other rows of the query's segment, which RCRL pulls
            together and CURL would otherwise push apart.
        """
        if queries.shape != keys.shape:
            raise ValueError(f"queries and keys must pair row for row ([N, D] each), got "
                             f"{tuple(queries.shape)} and {tuple(keys.shape)}")
        logits = self.score.score_matrix(queries, keys)  # [N, N]
        targets = th.arange(logits.shape[0], device=logits.device)
        if exclude is not None:
            if (exclude.dtype != th.bool or exclude.shape != logits.shape
                    or bool(exclude.diagonal().any())):
                raise ValueError(f"exclude must be [N, N] = {tuple(logits.shape)} bool and leave "
                                 f"the diagonal (the positives) out")
            logits = logits.masked_fill(exclude, float("-inf"))
        loss = F.cross_entropy(logits, targets)
        accuracy = (logits.argmax(dim=1) == targets).float().mean()
        return loss, accuracy.detach()

    @th.no_grad()
    def update_key_encoder(self, encoder: nn.Module) -> None:
        """EMA step of the key encoder towards the online ``encoder``."""
        polyak_update(encoder.parameters(), self.key_encoder.parameters(), self.momentum_tau)
