"""BYOL regression loss and EMA target update (the contrastive arm of the STOR release).

``loss = 2 - 2 * cos(p, z_target)`` averaged over the batch, where ``p`` is the online
network's prediction and ``z_target`` the (detached) projection of the other view by the
EMA target network. The target follows ``target = m * target + (1 - m) * online`` with
``m = 0.996`` in the CSTP release.

Example::

    >>> import torch
    >>> from shared.bridge.byol import byol_loss
    >>> p = torch.randn(8, 32)
    >>> float(byol_loss(p, p)) < 1e-6
    True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from shared._precision import autocast_off, upcast
from shared.bridge._checks import check_tensor

__all__ = ["byol_loss", "ema_update_"]


def byol_loss(online_pred: Tensor, target_proj: Tensor) -> Tensor:
    """Mean of ``2 - 2 cos(online_pred[i], target_proj[i])``.

    Args:
        online_pred: ``[N, D]`` online predictor outputs.
        target_proj: ``[N, D]`` target projections of the *other* view; detached here.

    Returns:
        Scalar in ``[0, 4]``: 0 for aligned pairs, 2 for orthogonal ones.
    """
    check_tensor("online_pred", online_pred, 2, "[N, D]")
    check_tensor("target_proj", target_proj, 2, "[N, D]")
    if online_pred.shape != target_proj.shape:
        raise ValueError(
            f"online_pred and target_proj must have the same shape, got "
            f"{tuple(online_pred.shape)} and {tuple(target_proj.shape)}"
        )
    with autocast_off(online_pred.device):  # float32 for half inputs, as every loss here
        cos = F.cosine_similarity(upcast(online_pred), upcast(target_proj.detach()), dim=-1)
        return (2 - 2 * cos).mean()


@torch.no_grad()
def ema_update_(target: nn.Module, online: nn.Module, momentum: float = 0.996) -> None:
    """In place: ``target_param = momentum * target_param + (1 - momentum) * online_param``.

    Buffers (e.g. BatchNorm statistics) are copied from ``online``. Both modules must have
    the same architecture.
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum}")
    for t, o in zip(target.parameters(), online.parameters(), strict=True):
        t.mul_(momentum).add_(o.detach(), alpha=1 - momentum)
    for tb, ob in zip(target.buffers(), online.buffers(), strict=True):
        tb.copy_(ob)
