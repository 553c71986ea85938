"""NeRV: a video as a network from frame index to frame (Chen et al., NeurIPS 2021).

``t = i / num_frames`` -> positional encoding ``[sin(b^0 pi t), cos(b^0 pi t), ...,
sin(b^(l-1) pi t), cos(b^(l-1) pi t)]`` (``b = 1.25``, ``l = 40`` or ``80``) -> MLP stem
(every Linear followed by the activation) -> reshape to ``(C, h0, w0)`` (``9 x 16`` in the
paper) -> NeRV blocks ``conv3x3(C_in, C_out * s^2) -> PixelShuffle(s) -> activation`` ->
``1x1`` conv head -> ``(tanh + 1) / 2``. Loss ``0.7 * L1 + 0.3 * (1 - SSIM)``; Adam with
betas ``(0.5, 0.999)``, linear warm-up (from 0.1x) over the first 20% then cosine decay.

Channel widths follow the release (haochen-rye/NeRV ``model_nerv.py``): the first block
expands the stem width by ``expansion``, later blocks divide by ``reduction`` (never below
``lower_width``). Differences from the release, by design: only the final resolution has
an output head (the release's ``--single_res``), and the activation defaults to SiLU
(``"swish"`` in the release's README commands; its argparse default is GELU: pass
``activation="gelu"``).

Example::

    >>> import torch
    >>> from shared.bridge.nerv import NeRV, frame_times
    >>> model = NeRV(stem_dims=(32,), fc_dim=16, strides=(2, 2))
    >>> model(frame_times(4)).shape
    torch.Size([4, 3, 36, 64])
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from shared._precision import autocast_off, upcast
from shared._validation import value_range
from shared.bridge._checks import check_tensor

__all__ = [
    "positional_encoding",
    "frame_times",
    "NeRVBlock",
    "NeRV",
    "ssim",
    "nerv_loss",
    "psnr",
    "FitResult",
    "fit_nerv",
    "reconstruct",
]

_ACTS: dict[str, Callable[[], nn.Module]] = {
    "silu": nn.SiLU,
    "swish": nn.SiLU,
    "gelu": nn.GELU,
    "relu": nn.ReLU,
    "leaky": nn.LeakyReLU,
}


def _activation(name: str) -> nn.Module:
    if name not in _ACTS:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(_ACTS)}")
    return _ACTS[name]()


def frame_times(num_frames: int, device: torch.device | str | None = None) -> Tensor:
    """Normalised frame indices ``t_i = i / num_frames`` (the release's convention): ``[T]``."""
    return torch.arange(num_frames, dtype=torch.float32, device=device) / num_frames


def positional_encoding(t: Tensor, levels: int = 80, base: float = 1.25) -> Tensor:
    """NeRV's positional encoding of normalised frame times.

    Args:
        t: ``[N]`` frame times (usually in ``[0, 1)``).
        levels: ``l``; the output has ``2 * l`` features.
        base: ``b`` (1.25 in the paper).

    Returns:
        ``[N, 2 * levels]`` = ``[sin(b^0 pi t), cos(b^0 pi t), sin(b^1 pi t), ...]``.
    """
    if not isinstance(t, Tensor) or t.dim() != 1:
        raise ValueError(f"t must be a 1-D tensor of frame times [N], got {getattr(t, 'shape', t)}")
    freqs = base ** torch.arange(levels, dtype=torch.float32, device=t.device) * math.pi
    angles = t.float()[:, None] * freqs[None, :]  # [N, l]
    return torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).reshape(len(t), 2 * levels)


class NeRVBlock(nn.Module):
    """``conv3x3(in, out * s^2) -> PixelShuffle(s) -> activation``.

    forward(x ``[N, in, H, W]``) -> ``[N, out, s*H, s*W]``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 activation: str = "silu") -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels * stride * stride, 3, 1, 1)
        self.shuffle = nn.PixelShuffle(stride)
        self.act = _activation(activation)
        self.in_channels = in_channels

    def forward(self, x: Tensor) -> Tensor:
        check_tensor("x", x, 4, "[N, C, H, W]")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"x must have {self.in_channels} channels, got {x.shape[1]}")
        return self.act(self.shuffle(self.conv(x)))


class NeRV(nn.Module):
    """Frame-time -> RGB frame network.

    Args:
        embed_levels: positional-encoding levels ``l`` (input width ``2 l``).
        embed_base: ``b``.
        stem_dims: hidden widths of the MLP stem (release: ``(1024,)``).
        fc_hw: ``(h0, w0)`` of the stem's output map (paper: ``(9, 16)``).
        fc_dim: channels ``C`` of the stem's output map.
        strides: PixelShuffle factor of each block; output is ``h0 * prod x w0 * prod``.
        expansion, reduction, lower_width: channel rule of the release (see module doc).
        activation: ``"silu"`` (default), ``"gelu"``, ``"relu"``, ``"leaky"``.

    forward(t ``[N]``) -> frames ``[N, 3, H, W]`` in ``[0, 1]``.
    """

    def __init__(
        self,
        embed_levels: int = 80,
        embed_base: float = 1.25,
        stem_dims: Sequence[int] = (512,),
        fc_hw: tuple[int, int] = (9, 16),
        fc_dim: int = 64,
        strides: Sequence[int] = (2, 2, 2),
        expansion: float = 1.0,
        reduction: int = 2,
        lower_width: int = 16,
        activation: str = "silu",
    ) -> None:
        super().__init__()
        self.embed_levels, self.embed_base = int(embed_levels), float(embed_base)
        self.fc_hw, self.fc_dim = (int(fc_hw[0]), int(fc_hw[1])), int(fc_dim)
        dims = [2 * self.embed_levels, *[int(d) for d in stem_dims],
                self.fc_dim * self.fc_hw[0] * self.fc_hw[1]]
        stem: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            stem += [nn.Linear(a, b), _activation(activation)]
        self.stem = nn.Sequential(*stem)
        blocks = []
        ngf = self.fc_dim
        for i, s in enumerate(strides):
            if i == 0:
                new = int(ngf * expansion)
            else:
                new = max(ngf // (1 if s == 1 else reduction), lower_width)
            blocks.append(NeRVBlock(ngf, new, int(s), activation))
            ngf = new
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(ngf, 3, 1)
        self.scale = math.prod(int(s) for s in strides)

    @property
    def frame_size(self) -> tuple[int, int]:
        """``(H, W)`` of the decoded frames."""
        return self.fc_hw[0] * self.scale, self.fc_hw[1] * self.scale

    def forward(self, t: Tensor) -> Tensor:
        x = self.stem(positional_encoding(t, self.embed_levels, self.embed_base))
        x = x.view(len(t), self.fc_dim, *self.fc_hw)
        for block in self.blocks:
            x = block(x)
        return (torch.tanh(self.head(x)) + 1) * 0.5


def _gaussian_window(size: int, sigma: float, device: torch.device) -> Tensor:
    x = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(x: Tensor, y: Tensor, window: int = 11, sigma: float = 1.5, data_range: float = 1.0) -> Tensor:
    """Mean SSIM with a Gaussian window (valid filtering, as in ``pytorch_msssim.ssim``).

    Args:
        x, y: ``[N, C, H, W]`` images in ``[0, data_range]``, ``H, W >= window``.

    Returns:
        Scalar mean SSIM (1 for identical images).
    """
    check_tensor("x", x, 4, "[N, C, H, W]")
    check_tensor("y", y, 4, "[N, C, H, W]")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if min(x.shape[-2:]) < window:
        raise ValueError(f"images must be at least {window}x{window} for SSIM, got {tuple(x.shape[-2:])}")
    c = x.shape[1]
    x, y = upcast(x), upcast(y)  # half inputs: float32 statistics (the window is float32)
    g = _gaussian_window(window, sigma, x.device).to(x.dtype)
    gh = g.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    gv = g.view(1, 1, -1, 1).repeat(c, 1, 1, 1)

    def blur(z: Tensor) -> Tensor:
        return F.conv2d(F.conv2d(z, gh, groups=c), gv, groups=c)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    with autocast_off(x.device):  # the statistics in float32 under the caller's autocast too
        mx, my = blur(x), blur(y)
        sxx = blur(x * x) - mx * mx
        syy = blur(y * y) - my * my
        sxy = blur(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
        return s.mean()


def nerv_loss(pred: Tensor, target: Tensor, l1_weight: float = 0.7) -> Tensor:
    """``l1_weight * L1 + (1 - l1_weight) * (1 - SSIM)`` (the paper's 0.7 / 0.3 fusion).

    Args:
        pred, target: ``[N, 3, H, W]`` in ``[0, 1]``.
    """
    check_tensor("pred", pred, 4, "[N, 3, H, W]")
    check_tensor("target", target, 4, "[N, 3, H, W]")
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    pred, target = upcast(pred), upcast(target.detach())
    with autocast_off(pred.device):
        return l1_weight * (pred - target).abs().mean() + (1 - l1_weight) * (1 - ssim(pred, target))


def psnr(pred: Tensor, target: Tensor) -> float:
    """PSNR in dB over the whole clip (mean squared error over all pixels, peak 1).

    One MSE over the clip, not the mean of per-frame PSNRs (the NeRV release's), which
    Jensen's inequality puts at or above this value for the same frames."""
    if pred.shape != target.shape:  # mse_loss would broadcast them (with a warning)
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} "
                         f"and {tuple(target.shape)}")
    mse = F.mse_loss(pred.detach().float(), target.detach().float()).item()
    return float("inf") if mse == 0 else -10.0 * math.log10(mse)


@dataclass
class FitResult:
    """History of :func:`fit_nerv`: per-epoch loss, final PSNR (dB) and wall-clock seconds."""

    losses: list[float] = field(default_factory=list)
    psnr: float = float("nan")
    seconds: float = 0.0


def _lr_multiplier(progress: float, warmup: float) -> float:
    """Release schedule: 0.1 -> 1 linearly over ``warmup`` (fraction), then cosine to 0."""
    if progress < warmup:
        return 0.1 + 0.9 * progress / warmup
    return 0.5 * (1 + math.cos(math.pi * (progress - warmup) / max(1e-12, 1 - warmup)))


def fit_nerv(
    model: NeRV,
    frames: Tensor,
    epochs: int = 300,
    lr: float = 5e-3,
    batch_size: int = 1,
    warmup: float = 0.2,
    betas: tuple[float, float] = (0.5, 0.999),
    l1_weight: float = 0.7,
    generator: torch.Generator | None = None,
    time_limit: float | None = None,
) -> FitResult:
    """Fit ``model`` to ``frames`` (the NeRV "encoding" step).

    Args:
        frames: ``[T, 3, H, W]`` in ``[0, 1]``; ``(H, W)`` must equal ``model.frame_size``.
        epochs: passes over the frames (shuffled, ``batch_size`` frames per step).
        lr: peak learning rate of the warm-up + cosine schedule.
        time_limit: stop early after this many seconds (the schedule is not compressed).

    Returns:
        :class:`FitResult`.
    """
    check_tensor("frames", frames, 4, "[T, 3, H, W]")
    if tuple(frames.shape[-2:]) != model.frame_size or frames.shape[1] != 3:
        raise ValueError(
            f"frames must be [T, 3, {model.frame_size[0]}, {model.frame_size[1]}] for this model, "
            f"got {tuple(frames.shape)}"
        )
    if batch_size < 1 or epochs < 1:
        raise ValueError(f"batch_size and epochs must be >= 1, got {batch_size} and {epochs}")
    lo, hi = value_range(frames)
    if lo < 0 or hi > 1:  # the output (tanh + 1) / 2 cannot reach them
        raise ValueError(f"frames must lie in [0, 1] (the decoder's output range), got "
                         f"{lo:g}..{hi:g}; scale them (e.g. uint8 frames / 255)")
    n = frames.shape[0]
    t_all = frame_times(n, frames.device)
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=betas)
    steps_per_epoch = math.ceil(n / batch_size)
    total = epochs * steps_per_epoch
    result = FitResult()
    start = time.perf_counter()
    step = 0
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=generator,  # drawn where the generator lives
                              device=generator.device if generator is not None else None)
        perm = perm.to(t_all.device)
        running = 0.0
        for b in range(steps_per_epoch):
            idx = perm[b * batch_size : (b + 1) * batch_size]
            for group in opt.param_groups:
                group["lr"] = lr * _lr_multiplier(step / total, warmup)
            loss = nerv_loss(model(t_all[idx]), frames[idx], l1_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            running += loss.item() * len(idx)
            step += 1
        result.losses.append(running / n)
        if time_limit is not None and time.perf_counter() - start > time_limit:
            break
    result.seconds = time.perf_counter() - start
    result.psnr = psnr(reconstruct(model, n), frames)
    return result


@torch.no_grad()
def reconstruct(model: NeRV, num_frames: int, batch_size: int = 8) -> Tensor:
    """Decode all frames: ``[num_frames, 3, H, W]``."""
    model.eval()
    t = frame_times(num_frames, next(model.parameters()).device)
    return torch.cat([model(t[i : i + batch_size]) for i in range(0, num_frames, batch_size)])
