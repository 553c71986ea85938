"""Mutual-information lower bounds over a positive mask: JSD, Donsker-Varadhan, InfoNCE.

The local-global objective of InfoGraph (Sun et al., ICLR 2020,
https://arxiv.org/abs/1908.01000) and MVGRL's graph level (https://arxiv.org/abs/2006.05582):
every node is a positive of its own graph and a negative of every other graph in the batch.
The estimators follow Hjelm et al., "Deep InfoMax" (https://arxiv.org/abs/1808.06670).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from shared._precision import autocast_off, upcast
from shared._validation import (
    check_choice,
    check_float_match,
    check_floating,
    check_mask,
    check_matrix,
    value_range,
)
from shared.losses.info_nce import masked_log_softmax_loss

Estimator = Literal["jsd", "dv", "infonce"]
_ESTIMATORS = ("jsd", "dv", "infonce")
_LOG2 = math.log(2.0)


def mi_scores_loss(scores: Tensor, pos_mask: Tensor, estimator: Estimator = "jsd") -> Tensor:
    r"""Negative MI estimate (a loss to minimise) from a score matrix and a positive mask.

    With :math:`s` the scores of positive pairs (``pos_mask``) and negative pairs (the rest):

    - ``"jsd"``: :math:`-(\mathbb{E}_{pos}[\log 2 - \mathrm{sp}(-s)] -
      \mathbb{E}_{neg}[\mathrm{sp}(-s) + s - \log 2])`, ``sp`` = softplus; 0 at zero scores.
    - ``"dv"``: :math:`-(\mathbb{E}_{pos}[s] - \log \mathbb{E}_{neg}[e^{s}])`, the
      log-mean-exp computed with ``logsumexp``.
    - ``"infonce"``: for each row, the log-softmax of its positives against the whole row
      (mean over positives, then over rows with a positive).

    Args:
        scores: ``[N, G]`` float scores.
        pos_mask: ``[N, G]`` bool; needs at least one positive and one negative.
        estimator: ``"jsd"``, ``"dv"`` or ``"infonce"``.

    Returns:
        A scalar.
    """
    check_choice("estimator", estimator, _ESTIMATORS)
    if scores.dim() != 2:
        raise ValueError(f"scores must be 2-D [N, G], got shape {tuple(scores.shape)}")
    check_floating("scores", scores)
    pos_mask = check_mask("pos_mask", pos_mask, tuple(scores.shape))
    scores = upcast(scores)
    n_pos = int(pos_mask.sum())
    n_neg = pos_mask.numel() - n_pos
    if n_pos == 0:
        raise ValueError("pos_mask has no positive pair")
    if n_neg == 0:  # infonce too: without negatives it is a constant (0 for one graph)
        raise ValueError(
            f"estimator {estimator!r} needs negative pairs; a batch with a single graph has none"
        )
    if estimator == "infonce":
        return masked_log_softmax_loss(scores, pos_mask)
    pos, neg = scores[pos_mask], scores[~pos_mask]
    if estimator == "jsd":
        e_pos = (_LOG2 - F.softplus(-pos)).mean()
        e_neg = (F.softplus(-neg) + neg - _LOG2).mean()
        return e_neg - e_pos
    # Donsker-Varadhan
    log_mean_exp_neg = torch.logsumexp(neg, dim=0) - math.log(n_neg)
    return log_mean_exp_neg - pos.mean()


def local_global_loss(
    local: Tensor, global_: Tensor, batch: Tensor, estimator: Estimator = "jsd"
) -> Tensor:
    r"""Local-global MI loss: node ``i`` is positive with graph ``batch[i]``.

    Scores are inner products :math:`s_{ig} = h_i^\top g_g`.

    Args:
        local: ``[N_nodes, D]`` node (patch) embeddings.
        global_: ``[G, D]`` graph (summary) embeddings.
        batch: ``[N_nodes]`` long, graph index of each node in ``[0, G)`` (PyG's ``batch``).
        estimator: see :func:`mi_scores_loss`.

    Returns:
        A scalar (negative MI estimate).

    Example:
        >>> h, g = torch.randn(5, 8), torch.randn(2, 8)
        >>> loss = local_global_loss(h, g, torch.tensor([0, 0, 0, 1, 1]))
    """
    check_matrix("local", local)
    check_matrix("global_", global_)
    check_float_match(("local", local), ("global_", global_))
    if local.shape[1] != global_.shape[1]:
        raise ValueError(
            f"local and global_ must have the same dim, got {local.shape[1]} and {global_.shape[1]}"
        )
    if batch.dim() != 1 or batch.shape[0] != local.shape[0]:
        raise ValueError(
            f"batch must be 1-D with one entry per node ({local.shape[0]}), got shape "
            f"{tuple(batch.shape)}"
        )
    if batch.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise ValueError(f"batch must hold integer graph indices (torch.long), got {batch.dtype}")
    lo, hi = value_range(batch) if batch.numel() else (0, 0)
    if lo < 0 or hi >= global_.shape[0]:
        raise ValueError(f"batch entries must lie in [0, {global_.shape[0]})")
    with autocast_off(local.device):
        scores = upcast(local) @ upcast(global_).T  # float32 products (float16 overflows)
    batch = batch.to(scores.device)
    pos_mask = batch[:, None] == torch.arange(global_.shape[0], device=batch.device)[None, :]
    return mi_scores_loss(scores, pos_mask, estimator)


class LocalGlobalLoss(nn.Module):
    """Module form of :func:`local_global_loss`: ``([N, D], [G, D], [N]) -> scalar``."""

    def __init__(self, estimator: Estimator = "jsd") -> None:
        super().__init__()
        check_choice("estimator", estimator, _ESTIMATORS)  # now, not at the first batch
        self.estimator = estimator

    def forward(self, local: Tensor, global_: Tensor, batch: Tensor) -> Tensor:
        return local_global_loss(local, global_, batch, self.estimator)
