"""CrossCLR: cross-modal contrastive loss with intra-modality negatives and pruning.

Zolfaghari et al., "CrossCLR: Cross-modal Contrastive Learning For Multi-modal Video
Representations", ICCV 2021, https://arxiv.org/abs/2109.14910.
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from shared._precision import autocast_off, upcast
from shared._validation import (
    check_choice,
    check_float_match,
    check_matrix,
    check_rows,
    check_same_shape,
    check_temperature,
)

SelfMode = Literal["mask", "zero_logit"]


def connectivity(x: Tensor) -> Tensor:
    r"""``[N, D] -> [N]``: mean cosine similarity of each sample to the others,
    :math:`C_i = \frac{1}{N-1} \sum_{j \ne i} \cos(x_i, x_j)` (the paper's measure of how
    "influential" a sample is)."""
    check_matrix("x", x)
    return _connectivity(x)


def _connectivity(x: Tensor) -> Tensor:
    """:func:`connectivity` of an ``x`` already checked (:func:`crossclr_loss` checks its
    inputs once: a second finiteness scan per forward costs a device sync)."""
    with autocast_off(x.device):
        xn = F.normalize(upcast(x), dim=1)
        sim = xn @ xn.T
    n = x.shape[0]
    return (sim.sum(dim=1) - sim.diagonal()) / max(n - 1, 1)


def crossclr_loss(
    x: Tensor,
    y: Tensor,
    temperature: float = 0.03,
    intra_weight: float = 0.8,
    *,
    prune_threshold: float = math.inf,
    weighted: bool = True,
    weight_temperature: float = 1.0,
    x_input: Tensor | None = None,
    y_input: Tensor | None = None,
    x_queue: Tensor | None = None,
    y_queue: Tensor | None = None,
    self_mode: SelfMode = "mask",
    reduction: Literal["mean", "none"] = "mean",
) -> Tensor:
    r"""Symmetric CrossCLR loss between two modalities.

    For anchor :math:`x_i` (cosine similarities, temperature :math:`\tau`), the positive is
    :math:`y_i`; negatives are the other :math:`y_k` (inter-modality) and the other :math:`x_k`
    (intra-modality, logits scaled by ``intra_weight`` as in the release). Samples whose
    connectivity on the *input* embeddings exceeds ``prune_threshold`` are "influential" and
    are removed from every negative set (they remain anchors with their own positive).
    With ``weighted``, each anchor's loss is weighted by
    :math:`w_i = N\,\mathrm{softmax}(C / \kappa)_i` (mean 1, growing with connectivity;
    :math:`\kappa` = ``weight_temperature``). The result is the mean of both directions.

    The released code (amazon-research/crossmodal-contrastive-learning) is
    ``prune_threshold=inf, weighted=False, self_mode="zero_logit"``: it zeroes the intra
    diagonal logit instead of removing it, so ``exp(0)`` stays in the denominator.

    Args:
        x: ``[N, D]`` embeddings of modality A.
        y: ``[N, D]`` embeddings of modality B; row ``i`` pairs with ``x[i]``.
        temperature: :math:`\tau > 0` (0.03).
        intra_weight: scale of the intra-modality logits (0.8).
        prune_threshold: connectivity above which a sample is pruned from the negatives;
            ``inf`` disables pruning.
        weighted: weight anchors by connectivity.
        weight_temperature: :math:`\kappa > 0` of the weights.
        x_input, y_input: ``[N, D_in]`` input embeddings on which connectivity is measured
            (default: ``x`` and ``y`` themselves, detached).
        x_queue, y_queue: optional ``[Q, D]`` past embeddings (from :class:`CrossCLRLoss`'s
            queue) added as extra negatives: ``y_queue`` to the inter and ``x_queue`` to the
            intra set of ``x`` anchors, and symmetrically. They are never pruned.
        self_mode: ``"mask"`` (the paper: a sample is not its own negative) or
            ``"zero_logit"`` (the release).
        reduction: ``"mean"`` or ``"none"`` (``[2, N]``: per-anchor weighted losses, row 0
            with ``x`` anchors, row 1 with ``y`` anchors).

    Returns:
        A scalar, or ``[2, N]``.

    Example:
        >>> v, t = torch.randn(16, 32), torch.randn(16, 32)
        >>> loss = crossclr_loss(v, t, prune_threshold=0.5)
    """
    check_matrix("x", x)
    check_matrix("y", y)
    check_same_shape("x", x, "y", y)
    check_rows("x", x)
    _check_settings(temperature, weight_temperature, self_mode, prune_threshold)
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    if not math.isfinite(float(intra_weight)):
        raise ValueError(f"intra_weight must be a finite number, got {intra_weight!r}")
    if (x_queue is None) != (y_queue is None):
        raise ValueError("x_queue and y_queue must be given together")
    if x_queue is not None:
        check_matrix("x_queue", x_queue)
        check_matrix("y_queue", y_queue)
        check_same_shape("x_queue", x_queue, "y_queue", y_queue)
        if x_queue.shape[1] != x.shape[1]:
            raise ValueError(f"the queues must have the embeddings' width D = {x.shape[1]}, "
                             f"got [Q, D] = {tuple(x_queue.shape)}")
    if x.shape[0] == 1 and x_queue is None and self_mode == "mask":
        raise ValueError("crossclr_loss needs at least 2 samples (or a queue): one sample's "
                         "only key is its positive, so the loss is 0 whatever the inputs")
    if x_input is not None:
        check_matrix("x_input", x_input)
    if y_input is not None:
        check_matrix("y_input", y_input)
    x_input = x.detach() if x_input is None else x_input
    y_input = y.detach() if y_input is None else y_input
    check_float_match(("x", x), ("y", y), *((("x_queue", x_queue), ("y_queue", y_queue))
                                           if x_queue is not None else ()))
    if x_input.shape[0] != x.shape[0] or y_input.shape[0] != y.shape[0]:
        raise ValueError("x_input / y_input must have one row per sample of x / y")

    settings = dict(
        temperature=temperature, intra_weight=intra_weight, prune_threshold=prune_threshold,
        weighted=weighted, weight_temperature=weight_temperature, self_mode=self_mode,
    )  # fmt: skip
    with autocast_off(x.device):
        # float32 before the norms: a float16 row norm past 65504 is inf (the row becomes 0)
        xn, yn = F.normalize(upcast(x), dim=1), F.normalize(upcast(y), dim=1)
        xq = F.normalize(upcast(x_queue), dim=1) if x_queue is not None else None
        yq = F.normalize(upcast(y_queue), dim=1) if y_queue is not None else None
        conn_x, conn_y = _connectivity(x_input), _connectivity(y_input)
        if (math.isfinite(prune_threshold) and xq is None and self_mode == "mask"
                and bool(torch.cat([conn_x, conn_y]).gt(prune_threshold).all())):  # one sync
            warnings.warn(f"crossclr_loss: every sample's connectivity exceeds prune_threshold="
                          f"{prune_threshold}, so every negative is pruned and the loss is 0 "
                          f"with no gradient (near-collapsed embeddings, early in training?); "
                          f"raise prune_threshold or add a queue", stacklevel=2)
        loss_x = _one_direction(xn, yn, xq, yq, conn_x, conn_y, **settings)
        loss_y = _one_direction(yn, xn, yq, xq, conn_y, conn_x, **settings)
    if reduction == "none":
        return torch.stack([loss_x, loss_y])
    return 0.5 * (loss_x.mean() + loss_y.mean())


def _check_settings(temperature: float, weight_temperature: float, self_mode: str,
                    prune_threshold: float) -> None:
    """The settings :func:`crossclr_loss` and :class:`CrossCLRLoss` (when built) check."""
    check_temperature(temperature)
    check_temperature(weight_temperature)
    check_choice("self_mode", self_mode, ("mask", "zero_logit"))
    if math.isnan(float(prune_threshold)):
        raise ValueError("prune_threshold must be a number (inf: prune nothing), got nan")


def _one_direction(
    a: Tensor,
    b: Tensor,
    a_queue: Tensor | None,
    b_queue: Tensor | None,
    conn_a: Tensor,
    conn_b: Tensor,
    temperature: float,
    intra_weight: float,
    prune_threshold: float,
    weighted: bool,
    weight_temperature: float,
    self_mode: SelfMode,
) -> Tensor:
    """``[N]`` losses of anchors ``a`` [N, D] with positives ``b`` [N, D] (already normalised)."""
    n = a.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=a.device)
    inter = (a @ b.T) / temperature  # [N, N], positives on the diagonal (a, b float32)
    intra = intra_weight * (a @ a.T) / temperature  # [N, N]
    # A pruned sample k is removed from column k of both negative sets (never its own positive).
    pruned_b = (conn_b > prune_threshold)[None, :] & ~eye
    pruned_a = (conn_a > prune_threshold)[None, :].expand(n, n)
    inter = inter.masked_fill(pruned_b, float("-inf"))
    if self_mode == "mask":
        intra = intra.masked_fill(eye | pruned_a, float("-inf"))
    else:
        intra = intra.masked_fill(eye, 0.0).masked_fill(pruned_a & ~eye, float("-inf"))
    blocks = [inter, intra]
    if b_queue is not None and a_queue is not None:
        blocks += [
            (a @ b_queue.T) / temperature,
            intra_weight * (a @ a_queue.T) / temperature,
        ]
    logits = torch.cat(blocks, dim=1)
    losses = torch.logsumexp(logits, dim=1) - inter.diagonal()
    if weighted:
        weights = n * torch.softmax(conn_a / weight_temperature, dim=0)
        return weights.detach() * losses
    return losses


class CrossCLRLoss(nn.Module):
    """:func:`crossclr_loss` with an optional FIFO feature queue of past batches.

    The queue holds detached embeddings of both modalities; after each call in training mode
    the batch is enqueued at the tail and the oldest rows drop out (the order of
    ``torch.cat([old, new])``). In ``eval()`` mode (validation passes) the queue is read, not
    changed, as BatchNorm keeps its running statistics.

    Shapes: ``x``, ``y``: ``[N, D]`` (optional ``x_input``, ``y_input``: ``[N, D_in]``) -> scalar.
    """

    def __init__(
        self,
        temperature: float = 0.03,
        intra_weight: float = 0.8,
        prune_threshold: float = math.inf,
        weighted: bool = True,
        weight_temperature: float = 1.0,
        queue_size: int = 0,
        self_mode: SelfMode = "mask",
    ) -> None:
        super().__init__()
        _check_settings(temperature, weight_temperature, self_mode, prune_threshold)
        if queue_size != int(queue_size) or queue_size < 0:
            raise ValueError(f"queue_size must be an integer >= 0, got {queue_size!r}")
        self.temperature, self.intra_weight = temperature, intra_weight
        self.prune_threshold, self.weighted = prune_threshold, weighted
        self.weight_temperature, self.queue_size, self.self_mode = (
            weight_temperature,
            queue_size,
            self_mode,
        )
        self.register_buffer("x_queue", None)  # [<= queue_size, D] once the first batch passed
        self.register_buffer("y_queue", None)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # The queues fill batch by batch, so their size is known only from what is loaded:
        # take it from there (a state saved before the first batch holds no queue).
        for name in ("x_queue", "y_queue"):
            mine, saved = getattr(self, name), state_dict.get(prefix + name)
            device = mine.device if mine is not None else None
            setattr(self, name, None if saved is None else saved.detach().clone().to(device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(
        self, x: Tensor, y: Tensor, x_input: Tensor | None = None, y_input: Tensor | None = None
    ) -> Tensor:
        if self.x_queue is not None and self.x_queue.device != x.device:
            # a queue loaded into a fresh module stays where the checkpoint put it
            self.x_queue, self.y_queue = self.x_queue.to(x.device), self.y_queue.to(y.device)
        loss = crossclr_loss(
            x,
            y,
            self.temperature,
            self.intra_weight,
            prune_threshold=self.prune_threshold,
            weighted=self.weighted,
            weight_temperature=self.weight_temperature,
            x_input=x_input,
            y_input=y_input,
            x_queue=self.x_queue,
            y_queue=self.y_queue,
            self_mode=self.self_mode,
        )
        if self.queue_size > 0 and self.training:  # eval() passes leave the queue as it is
            self._enqueue(x.detach(), y.detach())
        return loss

    @torch.no_grad()
    def _enqueue(self, x: Tensor, y: Tensor) -> None:
        if self.x_queue is None:  # copies: the caller may change x and y in place
            self.x_queue = x[-self.queue_size :].clone()
            self.y_queue = y[-self.queue_size :].clone()
        else:
            self.x_queue = torch.cat([self.x_queue, x])[-self.queue_size :]
            self.y_queue = torch.cat([self.y_queue, y])[-self.queue_size :]
