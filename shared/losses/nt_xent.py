"""NT-Xent (normalised temperature-scaled cross entropy), the SimCLR loss.

Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations",
ICML 2020, https://arxiv.org/abs/2002.05709.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from shared._precision import autocast_off, upcast
from shared._validation import check_choice, check_matrix, check_same_shape, check_temperature

Reduction = Literal["mean", "sum", "none", "simclr"]
_REDUCTIONS = ("mean", "sum", "none", "simclr")


def nt_xent(
    z1: Tensor,
    z2: Tensor,
    temperature: float = 0.5,
    *,
    reduction: Reduction = "mean",
    chunk_size: int | None = None,
    normalize: bool = True,
    gather_distributed: bool = False,
) -> Tensor:
    r"""NT-Xent over ``N`` positive pairs, with the other ``2N - 2`` samples as negatives.

    For the ``2N`` vectors :math:`z = [z_1; z_2]` (L2-normalised when ``normalize``), anchor
    :math:`i` with positive :math:`p(i)` (its other view) has the loss

    .. math::
        \ell_i = -\log \frac{\exp(z_i^\top z_{p(i)} / \tau)}
                         {\sum_{k \ne i} \exp(z_i^\top z_k / \tau)}.

    Args:
        z1: ``[N, D]`` embeddings of the first view.
        z2: ``[N, D]`` embeddings of the second view; row ``i`` is the positive of ``z1[i]``.
        temperature: :math:`\tau > 0`.
        reduction: ``"mean"`` (default) averages over the ``2N`` anchors, as lightly,
            solo-learn and pytorch-metric-learning do; ``"simclr"`` returns twice that, the
            scale of the official google-research/simclr code (both directions summed, averaged
            over pairs); ``"sum"`` sums; ``"none"`` returns the ``[2N]`` per-anchor losses.
        chunk_size: if set, process anchors in blocks of this many rows with a
            recomputing backward: same value and gradients as the dense form, memory
            ``O(N * chunk_size)`` instead of ``O(N^2)``. First-order gradients only: a
            backward with ``create_graph=True`` (a gradient penalty) raises; leave
            ``chunk_size`` unset for it.
        normalize: L2-normalise the inputs (cosine similarity). Makes the loss invariant to
            the inputs' scale.
        gather_distributed: gather keys from every process of the default
            ``torch.distributed`` group (differentiably); local anchors are scored against all
            ``2 N W`` keys, the positive index offset by rank. Per-process losses average to the
            single-process loss on the concatenated batch. Every process must pass the same
            ``N`` (e.g. ``DataLoader(drop_last=True)``): not checked, since the check would
            cost a second collective per step.

    Returns:
        A scalar, or ``[2N]`` for ``reduction="none"``. Logits are computed in float32 even
        for float16/bfloat16 inputs, so small temperatures (0.01) stay finite.

    Example:
        >>> z1, z2 = torch.randn(8, 16), torch.randn(8, 16)
        >>> nt_xent(z1, z2, temperature=0.5).shape
        torch.Size([])
    """
    check_matrix("z1", z1)
    check_matrix("z2", z2)
    check_same_shape("z1", z1, "z2", z2)
    check_temperature(temperature)
    check_choice("reduction", reduction, _REDUCTIONS)
    if z1.shape[0] < 1:
        raise ValueError("nt_xent needs at least one pair, got an empty batch")
    if z1.shape[0] == 1 and not (gather_distributed and _world_size() > 1):
        raise ValueError("nt_xent needs at least 2 pairs: with one pair the positive is the "
                         "only other sample, so the loss is 0 whatever the inputs; use a "
                         "batch of 2 or more pairs (or gather keys from other processes)")
    if chunk_size is not None and (chunk_size != int(chunk_size) or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if chunk_size is not None and gather_distributed:
        raise ValueError("chunk_size and gather_distributed cannot be combined")

    n = z1.shape[0]
    with autocast_off(z1.device):
        # float32 before the norm and the products: a float16 row norm past 65504 is inf
        z = upcast(torch.cat([z1, z2], dim=0))
        if normalize:
            z = F.normalize(z, dim=1)

        if gather_distributed:
            losses = _nt_xent_gathered(z, n, temperature)
        elif chunk_size is not None:
            if isinstance(temperature, Tensor) and temperature.requires_grad:
                raise ValueError("chunk_size differentiates the embeddings, not a learnable "
                                 "temperature: pass a float temperature or drop chunk_size")
            losses = _ChunkedNTXent.apply(z, n, float(temperature), int(chunk_size))
        else:
            losses = _nt_xent_dense(z, n, temperature)
        return _reduce(losses, reduction)


def _positive_index(n: int, device: torch.device, offset: int = 0) -> Tensor:
    """``[2N]`` index of each anchor's positive: ``i -> i + N`` and ``i + N -> i``."""
    idx = torch.arange(2 * n, device=device)
    return (idx + n) % (2 * n) + offset


def _nt_xent_dense(z: Tensor, n: int, temperature: float) -> Tensor:
    # Scaling the [2N, D] operand instead of the [2N, 2N] product saves a full pass.
    logits = (z * (1.0 / temperature)) @ z.T  # z is float32 already (nt_xent upcasts)
    logits.fill_diagonal_(float("-inf"))
    return F.cross_entropy(logits, _positive_index(n, z.device), reduction="none")


def _world_size() -> int:
    from shared.distributed import world_size

    return world_size()


def _nt_xent_gathered(z: Tensor, n: int, temperature: float) -> Tensor:
    from shared.distributed import all_gather_with_grad, rank

    keys = all_gather_with_grad(z)
    offset = rank() * 2 * n
    logits = (z * (1.0 / temperature)) @ keys.T
    self_idx = torch.arange(2 * n, device=z.device) + offset
    logits[torch.arange(2 * n, device=z.device), self_idx] = float("-inf")
    return F.cross_entropy(logits, _positive_index(n, z.device, offset), reduction="none")


def _reduce(losses: Tensor, reduction: Reduction) -> Tensor:
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    if reduction == "simclr":
        return 2.0 * losses.mean()
    return losses.mean()


class _ChunkedNTXent(torch.autograd.Function):
    r"""Per-anchor NT-Xent computed in row blocks, recomputing the softmax in backward.

    With :math:`S = z z^\top / \tau` (diagonal excluded), :math:`P = \mathrm{softmax}(S)` row-wise
    and :math:`Y` the one-hot positives, the gradient of :math:`\sum_i g_i \ell_i` is
    :math:`\frac{1}{\tau} (G + G^\top) z` with :math:`G = \mathrm{diag}(g) (P - Y)`; each block of
    rows of :math:`G` is rebuilt in turn, so no ``2N x 2N`` matrix is ever held.
    """

    @staticmethod
    def forward(ctx, z: Tensor, n: int, temperature: float, chunk: int) -> Tensor:  # type: ignore[override]
        z32 = upcast(z.detach())
        pos = _positive_index(n, z.device)
        losses = torch.empty(2 * n, dtype=z32.dtype, device=z.device)
        for start in range(0, 2 * n, chunk):
            rows = torch.arange(start, min(start + chunk, 2 * n), device=z.device)
            logits = _block_logits(z32, rows, temperature)
            losses[rows] = (
                torch.logsumexp(logits, dim=1)
                - logits[torch.arange(len(rows), device=z.device), pos[rows]]
            )
        ctx.save_for_backward(z)
        ctx.n, ctx.temperature, ctx.chunk = n, temperature, chunk
        return losses

    @staticmethod
    def backward(ctx, grad_losses: Tensor):  # type: ignore[override]
        if torch.is_grad_enabled():  # create_graph=True: the gradient below is no graph
            raise RuntimeError(
                "nt_xent(chunk_size=...) has first-order gradients only: its recomputing "
                "backward cannot be differentiated again (create_graph=True, a gradient "
                "penalty); leave chunk_size unset for that")
        (z,) = ctx.saved_tensors
        n, temperature, chunk = ctx.n, ctx.temperature, ctx.chunk
        z32 = upcast(z.detach())
        pos = _positive_index(n, z.device)
        grad = torch.zeros_like(z32)
        g = upcast(grad_losses)
        with autocast_off(z.device):  # backward may run under the caller's autocast
            for start in range(0, 2 * n, chunk):
                rows = torch.arange(start, min(start + chunk, 2 * n), device=z.device)
                logits = _block_logits(z32, rows, temperature)
                block = torch.softmax(logits, dim=1)
                block[torch.arange(len(rows), device=z.device), pos[rows]] -= 1.0
                block *= g[rows, None]
                grad[rows] += block @ z32
                grad += block.T @ z32[rows]
        return (grad / temperature).to(z.dtype), None, None, None


def _block_logits(z32: Tensor, rows: Tensor, temperature: float) -> Tensor:
    logits = (z32[rows] * (1.0 / temperature)) @ z32.T
    logits[torch.arange(len(rows), device=z32.device), rows] = float("-inf")
    return logits


class NTXentLoss(nn.Module):
    """Module form of :func:`nt_xent`.

    Shapes: ``z1``, ``z2``: ``[N, D]`` -> scalar (or ``[2N]`` with ``reduction="none"``).

    Example:
        >>> loss_fn = NTXentLoss(temperature=0.1)
        >>> loss = loss_fn(torch.randn(32, 128), torch.randn(32, 128))
    """

    def __init__(
        self,
        temperature: float = 0.5,
        reduction: Reduction = "mean",
        chunk_size: int | None = None,
        gather_distributed: bool = False,
    ) -> None:
        super().__init__()
        check_temperature(temperature)
        check_choice("reduction", reduction, _REDUCTIONS)  # now, not at the first batch
        self.temperature = temperature
        self.reduction = reduction
        self.chunk_size = chunk_size
        self.gather_distributed = gather_distributed

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        return nt_xent(
            z1,
            z2,
            self.temperature,
            reduction=self.reduction,
            chunk_size=self.chunk_size,
            gather_distributed=self.gather_distributed,
        )

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, reduction={self.reduction!r}"
