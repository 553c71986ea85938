"""SimCLR-style augmentations for 8x8 digit images (scikit-learn's ``load_digits``).

The SimCLR recipe (random crop + resize, colour distortion, blur) cut down to what an 8x8
grey image supports: a random affine warp (scale, rotation, translation), random intensity
scaling and additive noise, and random erasing of a small patch. Batched, in torch.

Example::

    >>> import torch
    >>> from shared.bridge.augment import augment_digits
    >>> augment_digits(torch.rand(5, 64)).shape
    torch.Size([5, 64])
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["augment_digits"]


def augment_digits(
    x: Tensor,
    generator: torch.Generator | None = None,
    *,
    max_rotation: float = 15.0,
    scale: tuple[float, float] = (0.8, 1.15),
    max_shift: float = 0.2,
    noise: float = 0.1,
    erase_prob: float = 0.5,
) -> Tensor:
    """Random views of flattened digits.

    Args:
        x: ``[N, 64]`` pixel intensities scaled to ``[0, 1]`` (``load_digits().data / 16``).
        max_rotation: degrees; max_shift: fraction of the image half-width.

    Returns:
        ``[N, 64]`` augmented views.
    """
    if x.dim() != 2 or x.shape[1] != 64:
        raise ValueError(f"x must be [N, 64] flattened 8x8 digits, got {tuple(x.shape)}")
    n = x.shape[0]
    img = x.view(n, 1, 8, 8)
    # drawn where the generator lives (CPU by default), used where x lives
    gen_device = generator.device if generator is not None else torch.device("cpu")
    r = lambda *s: torch.rand(*s, generator=generator, device=gen_device).to(x.device)  # noqa: E731
    ang = (2 * r(n) - 1) * math.radians(max_rotation)
    sc = scale[0] + (scale[1] - scale[0]) * r(n)
    cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
    shift = (2 * r(n, 2) - 1) * max_shift
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(img.shape), align_corners=False)
    out = F.grid_sample(img, grid, align_corners=False, padding_mode="zeros")
    out = out * (0.7 + 0.6 * r(n, 1, 1, 1)) + noise * torch.randn(
        out.shape, generator=generator, device=gen_device).to(x.device)
    erase = r(n) < erase_prob
    if erase.any():
        ys = (r(n) * 6).long()
        xs = (r(n) * 6).long()
        rows = torch.arange(8, device=x.device)
        m = ((rows[None, :, None] >= ys[:, None, None]) & (rows[None, :, None] < ys[:, None, None] + 3)
             & (rows[None, None, :] >= xs[:, None, None]) & (rows[None, None, :] < xs[:, None, None] + 3))
        out = torch.where((m & erase[:, None, None])[:, None], torch.zeros_like(out), out)
    return out.reshape(n, 64)
