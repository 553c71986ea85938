"""Image augmentations on batches ``[B, C, H, W]`` (any dtype), using torch's global RNG.

- :func:`random_crop`: CURL's crop (DMC: 100x100 renders -> 84x84).
- :func:`random_shift`: pad by replicating the border, then crop back (DrQ-style; Atari 84x84).
- :func:`center_crop`: the deterministic crop used when acting.
"""

from __future__ import annotations

import torch as th
import torch.nn.functional as F


def random_crop(x: th.Tensor, size: int) -> th.Tensor:
    """An independent random ``size x size`` window per image: ``[B, C, H, W] -> [B, C, size, size]``."""
    b, _, h, w = x.shape
    if h < size or w < size:
        raise ValueError(f"cannot crop {h}x{w} images to {size}x{size}")
    top = th.randint(0, h - size + 1, (b,), device=x.device)
    left = th.randint(0, w - size + 1, (b,), device=x.device)
    offsets = th.arange(size, device=x.device)
    rows = (top[:, None] + offsets)[:, :, None]  # [B, size, 1]
    cols = (left[:, None] + offsets)[:, None, :]  # [B, 1, size]
    batch = th.arange(b, device=x.device)[:, None, None]
    return x.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def random_shift(x: th.Tensor, pad: int = 4) -> th.Tensor:
    """Replicate-pad by ``pad`` pixels and random-crop back: ``[B, C, H, W] -> [B, C, H, W]`` float."""
    padded = F.pad(x.float(), (pad, pad, pad, pad), mode="replicate")
    return random_crop(padded, x.shape[-1])


def center_crop(x: th.Tensor, size: int) -> th.Tensor:
    """The central ``size x size`` window: ``[B, C, H, W] -> [B, C, size, size]``."""
    h, w = x.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return x[..., top : top + size, left : left + size]
