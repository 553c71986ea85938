"""Image augmentations on batches ``[B, C, H, W]`` (any dtype), using torch's global RNG.

- :func:`random_crop`: CURL's crop (DMC: 100x100 renders -> 84x84).
- :func:`random_shift`: pad by replicating the border, then crop back (DrQ-style; Atari 84x84).
- :func:`center_crop`: the deterministic crop used when acting.
"""

from __future__ import annotations

import torch as th
import torch.nn.functional as F


def _hw(x: th.Tensor, size: int | tuple[int, int], what: str) -> tuple[int, int]:
    """``size`` as ``(height, width)``, checked against the ``[B, C, H, W]`` images."""
    if x.dim() != 4:
        raise ValueError(f"expected images [B, C, H, W], got shape {tuple(x.shape)}")
    sh, sw = (size, size) if isinstance(size, int) else size
    h, w = x.shape[-2:]
    if not (0 < sh <= h and 0 < sw <= w):
        raise ValueError(f"cannot {what} {h}x{w} images to {sh}x{sw}")
    return sh, sw


def random_crop(x: th.Tensor, size: int | tuple[int, int]) -> th.Tensor:
    """An independent random window per image: ``[B, C, H, W] -> [B, C, h, w]``, ``size`` =
    ``h = w`` or ``(h, w)``."""
    sh, sw = _hw(x, size, "crop")
    b, _, h, w = x.shape
    top = th.randint(0, h - sh + 1, (b,), device=x.device)
    left = th.randint(0, w - sw + 1, (b,), device=x.device)
    rows = (top[:, None] + th.arange(sh, device=x.device))[:, :, None]  # [B, h, 1]
    cols = (left[:, None] + th.arange(sw, device=x.device))[:, None, :]  # [B, 1, w]
    batch = th.arange(b, device=x.device)[:, None, None]
    return x.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def random_shift(x: th.Tensor, pad: int = 4) -> th.Tensor:
    """Replicate-pad by ``pad`` pixels and random-crop back: ``[B, C, H, W] -> [B, C, H, W]`` float."""
    padded = F.pad(x.float(), (pad, pad, pad, pad), mode="replicate")
    return random_crop(padded, (x.shape[-2], x.shape[-1]))


def center_crop(x: th.Tensor, size: int | tuple[int, int]) -> th.Tensor:
    """The central window: ``[B, C, H, W] -> [B, C, h, w]``, ``size`` = ``h = w`` or ``(h, w)``."""
    sh, sw = _hw(x, size, "center-crop")
    h, w = x.shape[-2:]
    top, left = (h - sh) // 2, (w - sw) // 2
    return x[..., top : top + sh, left : left + sw]
