"""InfoNCE with an explicit positive mask (multi-positive / supervised contrastive).

van den Oord et al., "Representation Learning with Contrastive Predictive Coding", 2018,
https://arxiv.org/abs/1807.03748; the multi-positive form is Khosla et al., "Supervised
Contrastive Learning", NeurIPS 2020, https://arxiv.org/abs/2004.11362 (``L_out``).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from shared._precision import autocast_off, upcast
from shared._validation import (
    check_choice,
    check_float_match,
    check_mask,
    check_matrix,
    check_temperature,
)

Similarity = Literal["cosine", "dot"]
_SIMILARITIES = ("cosine", "dot")


def info_nce(
    query: Tensor,
    keys: Tensor,
    positive_mask: Tensor | None = None,
    temperature: float = 0.1,
    *,
    normalize: bool = True,
    exclude_mask: Tensor | None = None,
    similarity: Similarity = "cosine",
) -> Tensor:
    r"""InfoNCE of each query against all keys, averaged over the queries that have a positive.

    With logits :math:`s_{ij} = q_i^\top k_j / \tau` over the keys not excluded for row ``i``
    and positives :math:`P(i)`:

    .. math::
        \ell_i = -\frac{1}{|P(i)|} \sum_{p \in P(i)} \log
                 \frac{\exp s_{ip}}{\sum_{j \notin E(i)} \exp s_{ij}}.

    Args:
        query: ``[N, D]``.
        keys: ``[M, D]``.
        positive_mask: ``[N, M]`` bool, ``True`` where key ``j`` is a positive of query ``i``.
            ``None`` means the diagonal (``keys[i]`` is the positive of ``query[i]``; needs
            ``N == M``). Rows without a positive are skipped (no NaN); if no row has one, the
            result is a zero that still carries a graph.
        temperature: :math:`\tau > 0`.
        normalize: L2-normalise both inputs first (with ``similarity="cosine"``).
        exclude_mask: ``[N, M]`` bool, entries dropped from the denominator (e.g. a sample's
            similarity to itself when ``keys is query``). Must not overlap ``positive_mask``.
        similarity: ``"cosine"`` or ``"dot"`` (raw inner products, ``normalize`` ignored).

    Returns:
        A scalar. Logits are computed in float32.

    Example:
        >>> z = torch.randn(6, 8)
        >>> labels = torch.tensor([0, 0, 1, 1, 2, 2])
        >>> pos = positive_mask_from_labels(labels, labels) & ~torch.eye(6, dtype=torch.bool)
        >>> loss = info_nce(z, z, pos, exclude_mask=torch.eye(6, dtype=torch.bool))
    """
    check_matrix("query", query)
    check_matrix("keys", keys)
    check_float_match(("query", query), ("keys", keys))
    check_temperature(temperature)
    if query.shape[1] != keys.shape[1]:
        raise ValueError(
            f"query and keys must have the same embedding dim, got {query.shape[1]} and "
            f"{keys.shape[1]}"
        )
    check_choice("similarity", similarity, _SIMILARITIES)
    n, m = query.shape[0], keys.shape[0]
    if positive_mask is None:
        if n != m:
            raise ValueError(
                f"without positive_mask query and keys must have the same batch size, got {n} "
                f"and {m}"
            )
        positive_mask = torch.eye(n, dtype=torch.bool, device=query.device)
    positive_mask = check_mask("positive_mask", positive_mask, (n, m))

    with autocast_off(query.device):
        query, keys = upcast(query), upcast(keys)  # float32 norms and products (fp16 overflow)
        if similarity == "cosine" and normalize:
            query, keys = F.normalize(query, dim=1), F.normalize(keys, dim=1)
        logits = (query @ keys.T) / temperature
        return masked_log_softmax_loss(logits, positive_mask, exclude_mask)


def masked_log_softmax_loss(
    logits: Tensor, positive_mask: Tensor, exclude_mask: Tensor | None = None
) -> Tensor:
    """Mean over rows with a positive of ``-mean_{p in P(i)} log_softmax(logits)[i, p]``.

    The shared arithmetic of :func:`info_nce` and the InfoNCE mutual-information estimator.
    ``logits``: ``[N, M]``; masks: ``[N, M]`` bool.
    """
    positive_mask = check_mask("positive_mask", positive_mask, tuple(logits.shape))
    if exclude_mask is not None:
        exclude_mask = check_mask("exclude_mask", exclude_mask, tuple(logits.shape))
        if bool((exclude_mask & positive_mask).any()):
            raise ValueError(
                "exclude_mask and positive_mask overlap: a positive cannot be excluded"
            )
        logits = logits.masked_fill(exclude_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    n_pos = positive_mask.sum(dim=1)
    has_pos = n_pos > 0
    if not bool(has_pos.any()):
        return logits.masked_fill(~torch.isfinite(logits), 0).sum() * 0.0
    pos_log_prob = log_prob.masked_fill(~positive_mask, 0.0).sum(dim=1)
    per_row = -pos_log_prob[has_pos] / n_pos[has_pos]
    return per_row.mean()


def positive_mask_from_labels(labels_q: Tensor, labels_k: Tensor) -> Tensor:
    """``[N, M]`` bool mask, ``True`` where ``labels_q[i] == labels_k[j]`` (supervised positives)."""
    if labels_q.dim() != 1 or labels_k.dim() != 1:
        raise ValueError("labels must be 1-D class indices")
    return labels_q[:, None] == labels_k[None, :]


class InfoNCELoss(nn.Module):
    """Module form of :func:`info_nce`.

    Shapes: ``query`` ``[N, D]``, ``keys`` ``[M, D]``, optional masks ``[N, M]`` -> scalar.
    """

    def __init__(
        self, temperature: float = 0.1, normalize: bool = True, similarity: Similarity = "cosine"
    ) -> None:
        super().__init__()
        check_temperature(temperature)
        check_choice("similarity", similarity, _SIMILARITIES)  # now, not at the first batch
        self.temperature = temperature
        self.normalize = normalize
        self.similarity = similarity

    def forward(
        self,
        query: Tensor,
        keys: Tensor,
        positive_mask: Tensor | None = None,
        exclude_mask: Tensor | None = None,
    ) -> Tensor:
        return info_nce(
            query,
            keys,
            positive_mask,
            self.temperature,
            normalize=self.normalize,
            exclude_mask=exclude_mask,
            similarity=self.similarity,
        )
