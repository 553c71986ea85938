"""Cross-process negatives: a differentiable all-gather over ``torch.distributed``.

Launch with ``torchrun`` (gloo on CPU, nccl on GPU). Outside an initialised process group every
function here is the identity / single-process answer, so the same code runs anywhere.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    return dist.get_world_size() if is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if is_initialized() else 0


class _AllGatherWithGrad(torch.autograd.Function):
    """All-gather whose backward sums the incoming gradients over ranks and keeps this
    rank's slice: every process's loss sends gradient to the samples it used as keys."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        ctx.n = x.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        grad = grad.clone(memory_format=torch.contiguous_format)  # reduced in place: autograd's
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)  # incoming tensor may be held elsewhere
        start = dist.get_rank() * ctx.n
        return grad[start : start + ctx.n]


def all_gather_with_grad(x: Tensor) -> Tensor:
    r"""``[N, D]`` on each of ``W`` processes -> ``[W * N, D]``, rank ``r``'s rows at
    ``r * N : (r + 1) * N``. Every process must pass the same ``N``.

    Gradient convention: the gradient reaching ``x`` on rank ``r`` is
    :math:`\sum_{r'} \partial L_{r'} / \partial x_r`, the sum of every process's loss. When each
    process's loss is the mean over its local anchors and DistributedDataParallel averages the
    parameter gradients over ``W``, the update equals that of the single-process loss on the
    concatenated batch (mean over all anchors). Without DDP, divide by ``world_size()``.
    """
    if not is_initialized() or dist.get_world_size() == 1:
        return x
    return _AllGatherWithGrad.apply(x)
