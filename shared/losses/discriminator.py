"""Binary discriminator losses of Deep Graph Infomax and MVGRL, in logits-stable form.

Veličković et al., "Deep Graph Infomax", ICLR 2019, https://arxiv.org/abs/1809.10341;
Hassani & Khasahmadi, "Contrastive Multi-View Representation Learning on Graphs", ICML 2020,
https://arxiv.org/abs/2006.05582.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from shared._precision import upcast
from shared._validation import check_choice, check_floating

Convention = Literal["separate", "pooled"]
_CONVENTIONS = ("separate", "pooled")


def discriminator_bce(
    pos_logits: Tensor, neg_logits: Tensor, convention: Convention = "separate"
) -> Tensor:
    r"""Binary cross-entropy of a discriminator that scores positives 1 and negatives 0.

    Computed with ``binary_cross_entropy_with_logits`` (no ``log(sigmoid + eps)``), so large
    logits neither overflow nor saturate.

    Args:
        pos_logits: logits of positive pairs, any shape ``[*P]``.
        neg_logits: logits of negative pairs, any shape ``[*Q]``.
        convention: ``"separate"`` (default) returns
            :math:`\mathrm{mean}_P\,\mathrm{BCE}(s, 1) + \mathrm{mean}_Q\,\mathrm{BCE}(s, 0)`, the
            form of PyG's ``DeepGraphInfomax.loss`` (``2 log 2`` when every logit is 0).
            ``"pooled"`` returns one BCE mean over the concatenation of both, the MVGRL
            release's form (``log 2`` when every logit is 0).

    Example:
        >>> discriminator_bce(torch.zeros(4), torch.zeros(4))  # 2 log 2
        tensor(1.3863)
    """
    check_choice("convention", convention, _CONVENTIONS)
    check_floating("pos_logits", pos_logits)
    check_floating("neg_logits", neg_logits)
    if pos_logits.numel() == 0 or neg_logits.numel() == 0:
        raise ValueError("discriminator_bce needs at least one positive and one negative logit")
    pos, neg = upcast(pos_logits).reshape(-1), upcast(neg_logits).reshape(-1)
    if convention == "pooled":
        logits = torch.cat([pos, neg])
        targets = torch.cat([torch.ones_like(pos), torch.zeros_like(neg)])
        return F.binary_cross_entropy_with_logits(logits, targets)
    return F.binary_cross_entropy_with_logits(
        pos, torch.ones_like(pos)
    ) + F.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg))


class DiscriminatorBCELoss(nn.Module):
    """Module form of :func:`discriminator_bce`: ``(pos [*P], neg [*Q]) -> scalar``."""

    def __init__(self, convention: Convention = "separate") -> None:
        super().__init__()
        check_choice("convention", convention, _CONVENTIONS)  # now, not at the first batch
        self.convention = convention

    def forward(self, pos_logits: Tensor, neg_logits: Tensor) -> Tensor:
        return discriminator_bce(pos_logits, neg_logits, self.convention)
