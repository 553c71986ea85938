"""STOR: spatio-temporal overlap-rate prediction joint with contrastive learning (CSTP, 2022).

Two space-time crops of the same clip are drawn so that their *spatial* overlap rate and
their *temporal* overlap rate each take one of ``RATES = (1.0, 0.8, 0.6, 0.4, 0.2)``; two
heads ``concat(f1, f2) -> Linear -> BN -> ReLU -> Linear(5)`` classify the two rates from
the crops' features, and a contrastive term pulls the two crops' embeddings together.

Definitions used here (equal-sized crops, so "overlap rate" is unambiguous):

* spatial rate = ``|A ∩ B| / |A|`` of the two ``s x s`` windows, realised by integer offsets
  ``(dy, dx)`` with ``(s - dy)(s - dx) / s^2`` within ``spatial_tolerance`` (default
  ``1 / s``) of the requested rate, chosen uniformly among all such offsets, not only the
  closest ones;
* temporal rate = shared frames / ``t`` for two ``t``-frame windows: overlap
  ``round(rate * t)`` frames, so the realised rate is within ``1 / (2t)`` of the request.

Paper vs release: the paper speaks of contrastive learning; the released code (Katou2/CSTP)
uses BYOL (EMA 0.996) with weight 0.1 for the contrastive term and 1 for each overlap head.
Both are offered: ``contrastive="infonce"`` (symmetric InfoNCE from :mod:`shared.losses`,
default) or ``contrastive="byol"`` (:func:`shared.bridge.byol.byol_loss`), or ``"none"``.

Example::

    >>> import torch
    >>> from shared.bridge.stor import SpaceTimeCropSampler, STORLoss
    >>> sampler = SpaceTimeCropSampler(16, 32, 32, crop_frames=8, crop_size=20)
    >>> video = torch.rand(4, 16, 3, 32, 32)
    >>> pair = sampler.sample_pairs(video, torch.Generator().manual_seed(0))
    >>> pair.clip1.shape
    torch.Size([4, 3, 8, 20, 20])
    >>> loss = STORLoss(feat_dim=64)
    >>> f1, f2 = torch.randn(4, 64), torch.randn(4, 64)
    >>> out = loss(f1, f2, pair.spatial_label, pair.temporal_label, z1=f1, z2=f2)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from shared._validation import value_range
from shared.bridge._checks import check_dims_match, check_tensor
from shared.bridge.byol import byol_loss
from shared.losses import info_nce

__all__ = ["RATES", "CropBox", "CropPair", "SpaceTimeCropSampler", "OverlapHead", "STORLoss"]

#: The overlap-rate classes of STOR (index = class label).
RATES: tuple[float, ...] = (1.0, 0.8, 0.6, 0.4, 0.2)


@dataclass(frozen=True)
class CropBox:
    """A space-time window: frames ``[t0, t0 + t)``, rows ``[y0, y0 + s)``, cols ``[x0, x0 + s)``."""

    t0: int
    y0: int
    x0: int
    t: int
    s: int

    def spatial_overlap(self, other: CropBox) -> float:
        """Intersection area over this box's area."""
        oy = max(0, min(self.y0 + self.s, other.y0 + other.s) - max(self.y0, other.y0))
        ox = max(0, min(self.x0 + self.s, other.x0 + other.s) - max(self.x0, other.x0))
        return oy * ox / (self.s * self.s)

    def temporal_overlap(self, other: CropBox) -> float:
        """Shared frames over this box's length."""
        o = max(0, min(self.t0 + self.t, other.t0 + other.t) - max(self.t0, other.t0))
        return o / self.t


@dataclass
class CropPair:
    """A batch of crop pairs from :meth:`SpaceTimeCropSampler.sample_pairs`.

    Attributes:
        clip1, clip2: ``[N, C, t, s, s]`` (channels first, ready for ``nn.Conv3d``).
        spatial_label, temporal_label: ``[N]`` long, index into the sampler's ``rates``.
        spatial_rate, temporal_rate: ``[N]`` realised overlap rates.
    """

    clip1: Tensor
    clip2: Tensor
    spatial_label: Tensor
    temporal_label: Tensor
    spatial_rate: Tensor
    temporal_rate: Tensor


class SpaceTimeCropSampler:
    """Draws pairs of ``crop_frames x crop_size x crop_size`` windows with given overlaps.

    Args:
        frames, height, width: clip size ``T, H, W``.
        crop_frames: ``t``; crop_size: ``s``.
        rates: the overlap-rate classes (default :data:`RATES`).
        spatial_tolerance: largest accepted ``|realised - requested|`` spatial rate
            (default ``1 / s``).

    Raises:
        ValueError: if the clip is too small to realise some rate (e.g. ``T < t + t - round(r t)``),
            or two rate classes cannot be told apart (a spatial offset within the tolerance
            of both, or the same temporal shift).
    """

    def __init__(
        self,
        frames: int,
        height: int,
        width: int,
        crop_frames: int,
        crop_size: int,
        rates: Sequence[float] = RATES,
        spatial_tolerance: float | None = None,
    ) -> None:
        self.frames, self.height, self.width = int(frames), int(height), int(width)
        self.t, self.s = int(crop_frames), int(crop_size)
        self.rates = tuple(float(r) for r in rates)
        if min(self.t, self.s) < 1:  # a ZeroDivisionError in the rate search below
            raise ValueError(f"crop_frames and crop_size must be >= 1, got {self.t} and {self.s}")
        if not self.rates:
            raise ValueError("rates is empty: give at least one overlap-rate class")
        if any(not 0 < r <= 1 for r in self.rates):
            raise ValueError(f"rates must lie in (0, 1], got {self.rates}")
        if self.s > min(self.height, self.width) or self.t > self.frames:
            raise ValueError(
                f"crop {self.t}x{self.s}x{self.s} does not fit in clip "
                f"{self.frames}x{self.height}x{self.width}"
            )
        tol = 1.0 / self.s if spatial_tolerance is None else float(spatial_tolerance)
        self._spatial: list[list[tuple[int, int]]] = []
        for r in self.rates:
            cands = []
            best, best_err = None, math.inf
            for dy in range(0, min(self.s, self.height - self.s) + 1):
                for dx in range(0, min(self.s, self.width - self.s) + 1):
                    err = abs((self.s - dy) * (self.s - dx) / self.s**2 - r)
                    if err <= tol + 1e-12:
                        cands.append((dy, dx))
                    if err < best_err:
                        best, best_err = (dy, dx), err
            if not cands:
                raise ValueError(
                    f"spatial rate {r} cannot be realised within {tol:.3f} by {self.s}x{self.s} "
                    f"crops of a {self.height}x{self.width} frame (closest offset {best}, "
                    f"error {best_err:.3f}); use a larger frame or smaller crop"
                )
            self._spatial.append(cands)
        self._shift = []
        for r in self.rates:
            shift = self.t - int(round(r * self.t))
            if self.t + shift > self.frames:
                raise ValueError(
                    f"temporal rate {r} needs {self.t + shift} frames for {self.t}-frame crops, "
                    f"clip has {self.frames}"
                )
            self._shift.append(shift)
        # an offset or shift admissible for two classes would label one crop pair two ways
        for i in range(len(self.rates)):
            for j in range(i + 1, len(self.rates)):
                shared = set(self._spatial[i]) & set(self._spatial[j])
                if shared:
                    raise ValueError(
                        f"spatial rates {self.rates[i]} and {self.rates[j]} share the offset(s) "
                        f"{sorted(shared)[:3]} with {self.s}x{self.s} crops and tolerance "
                        f"{tol:.3f}: use larger crops or a smaller spatial_tolerance"
                    )
                if self._shift[i] == self._shift[j]:
                    raise ValueError(
                        f"temporal rates {self.rates[i]} and {self.rates[j]} give the same "
                        f"shift ({self._shift[i]} frames) with {self.t}-frame crops: use "
                        f"longer crops"
                    )

    def sample_boxes(
        self, spatial_label: int, temporal_label: int, generator: torch.Generator | None = None
    ) -> tuple[CropBox, CropBox]:
        """Two boxes realising ``rates[spatial_label]`` and ``rates[temporal_label]``."""
        for name, label in (("spatial_label", spatial_label), ("temporal_label", temporal_label)):
            if not 0 <= label < len(self.rates):  # -1 silently took the last rate's class
                raise ValueError(f"{name} must index rates (0..{len(self.rates) - 1}), got {label}")
        where = generator.device if generator is not None else None  # a CUDA generator draws there

        def randint(hi: int) -> int:  # uniform in [0, hi]
            return int(torch.randint(0, hi + 1, (1,), generator=generator, device=where))

        cands = self._spatial[spatial_label]
        dy, dx = cands[int(torch.randint(0, len(cands), (1,), generator=generator, device=where))]
        sy = 1 if randint(1) else -1
        sx = 1 if randint(1) else -1
        y_a = randint(self.height - self.s - dy)
        x_a = randint(self.width - self.s - dx)
        y1, y2 = (y_a, y_a + dy) if sy > 0 else (y_a + dy, y_a)
        x1, x2 = (x_a, x_a + dx) if sx > 0 else (x_a + dx, x_a)
        shift = self._shift[temporal_label]
        t_a = randint(self.frames - self.t - shift)
        t1, t2 = (t_a, t_a + shift) if randint(1) else (t_a + shift, t_a)
        return CropBox(t1, y1, x1, self.t, self.s), CropBox(t2, y2, x2, self.t, self.s)

    def sample_pairs(self, video: Tensor, generator: torch.Generator | None = None) -> CropPair:
        """Crop a pair from every clip with uniformly drawn rate classes.

        Args:
            video: ``[N, T, C, H, W]`` with ``T, H, W`` equal to the sampler's clip size.

        Returns:
            :class:`CropPair` with clips ``[N, C, t, s, s]``.
        """
        check_tensor("video", video, 5, "[N, T, C, H, W]")
        n, frames, _, h, w = video.shape
        if (frames, h, w) != (self.frames, self.height, self.width):
            raise ValueError(
                f"video clips are {frames}x{h}x{w} (T x H x W) but the sampler was built for "
                f"{self.frames}x{self.height}x{self.width}"
            )
        k = len(self.rates)
        where = generator.device if generator is not None else None  # a CUDA generator draws there
        sl = torch.randint(0, k, (n,), generator=generator, device=where).cpu()
        tl = torch.randint(0, k, (n,), generator=generator, device=where).cpu()
        c1, c2, sr, tr = [], [], [], []
        for i in range(n):
            b1, b2 = self.sample_boxes(int(sl[i]), int(tl[i]), generator)
            for box, out in ((b1, c1), (b2, c2)):
                crop = video[
                    i, box.t0 : box.t0 + box.t, :, box.y0 : box.y0 + box.s, box.x0 : box.x0 + box.s
                ]
                out.append(crop.permute(1, 0, 2, 3))
            sr.append(b1.spatial_overlap(b2))
            tr.append(b1.temporal_overlap(b2))
        return CropPair(
            clip1=torch.stack(c1),
            clip2=torch.stack(c2),
            spatial_label=sl.to(video.device),
            temporal_label=tl.to(video.device),
            spatial_rate=torch.tensor(sr, device=video.device),
            temporal_rate=torch.tensor(tr, device=video.device),
        )


class OverlapHead(nn.Module):
    """``concat(f1, f2) -> Linear -> BatchNorm1d -> ReLU -> Linear(num_classes)``.

    forward(f1 ``[N, D]``, f2 ``[N, D]``) -> logits ``[N, num_classes]``.
    """

    def __init__(self, feat_dim: int, hidden_dim: int | None = None, num_classes: int = 5) -> None:
        super().__init__()
        hidden = hidden_dim or feat_dim
        self.net = nn.Sequential(
            nn.Linear(2 * feat_dim, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, f1: Tensor, f2: Tensor) -> Tensor:
        check_tensor("f1", f1, 2, "[N, D]")
        check_tensor("f2", f2, 2, "[N, D]")
        if f1.shape != f2.shape:
            raise ValueError(
                f"f1 and f2 must have the same shape, got {tuple(f1.shape)} and {tuple(f2.shape)}"
            )
        return self.net(torch.cat([f1, f2], dim=1))


class STORLoss(nn.Module):
    """Joint STOR objective: ``w_o * (CE_spatial + CE_temporal) + w_c * contrastive``.

    Args:
        feat_dim: encoder feature size ``D`` fed to the overlap heads.
        hidden_dim: hidden width of the heads (default ``feat_dim``).
        num_classes: number of rate classes (5).
        contrastive: ``"infonce"`` (symmetric InfoNCE, paper), ``"byol"`` (release) or
            ``"none"`` (overlap prediction only).
        contrastive_weight: ``w_c`` (release: 0.1).
        overlap_weight: ``w_o`` (release: 1 for each head).
        temperature: InfoNCE temperature.

    Forward args:
        f1, f2: ``[N, D]`` encoder features of the two crops.
        spatial_label, temporal_label: ``[N]`` long rate classes.
        z1, z2: ``[N, E]`` embeddings for the contrastive term. InfoNCE: the two crops'
            projections. BYOL: the online *predictions* of crops 1 and 2.
        target_z1, target_z2: BYOL only, ``[N, E]`` EMA-target projections of crops 1 and 2
            (the loss pairs ``z1`` with ``target_z2`` and ``z2`` with ``target_z1``).

    Returns:
        dict: ``loss``, ``spatial``, ``temporal``, ``contrastive`` (scalars) and
        ``spatial_acc``, ``temporal_acc`` (floats, no grad).
    """

    def __init__(
        self,
        feat_dim: int,
        hidden_dim: int | None = None,
        num_classes: int = 5,
        contrastive: Literal["infonce", "byol", "none"] = "infonce",
        contrastive_weight: float = 0.1,
        overlap_weight: float = 1.0,
        temperature: float = 0.1,
    ) -> None:
        super().__init__()
        if contrastive not in ("infonce", "byol", "none"):
            raise ValueError(
                f"contrastive must be 'infonce', 'byol' or 'none', got {contrastive!r}"
            )
        self.num_classes = int(num_classes)
        self.spatial_head = OverlapHead(feat_dim, hidden_dim, num_classes)
        self.temporal_head = OverlapHead(feat_dim, hidden_dim, num_classes)
        self.contrastive = contrastive
        self.contrastive_weight = float(contrastive_weight)
        self.overlap_weight = float(overlap_weight)
        self.temperature = float(temperature)

    def overlap_logits(self, f1: Tensor, f2: Tensor) -> tuple[Tensor, Tensor]:
        """(spatial, temporal) rate logits, each ``[N, num_classes]``."""
        return self.spatial_head(f1, f2), self.temporal_head(f1, f2)

    def forward(
        self,
        f1: Tensor,
        f2: Tensor,
        spatial_label: Tensor,
        temporal_label: Tensor,
        z1: Tensor | None = None,
        z2: Tensor | None = None,
        target_z1: Tensor | None = None,
        target_z2: Tensor | None = None,
    ) -> dict[str, Tensor | float]:
        n = f1.shape[0] if isinstance(f1, Tensor) else -1
        for name, lab in (("spatial_label", spatial_label), ("temporal_label", temporal_label)):
            if not isinstance(lab, Tensor) or lab.dim() != 1 or lab.dtype != torch.long:
                raise ValueError(f"{name} must be a 1-D long tensor [N]")
            check_dims_match("batch size", ["f1", name], [n, lab.shape[0]])
            if lab.numel():  # a label beyond the classes: IndexError on CPU, a CUDA assert
                lo, hi = value_range(lab)
                if lo < 0 or hi >= self.num_classes:
                    raise ValueError(f"{name} must hold classes 0..{self.num_classes - 1}, got "
                                     f"values {lo}..{hi}")
        given = [(k, z) for k, z in (("z1", z1), ("z2", z2), ("target_z1", target_z1),
                                     ("target_z2", target_z2))
                 if isinstance(z, Tensor) and self.contrastive != "none"]  # else unused
        check_dims_match("batch size", ["f1", *(k for k, _ in given)],
                         [n, *(z.shape[0] for _, z in given)])
        ls = self.spatial_head(f1, f2)
        lt = self.temporal_head(f1, f2)
        ce_s = F.cross_entropy(ls, spatial_label)
        ce_t = F.cross_entropy(lt, temporal_label)
        if self.contrastive == "none":
            con = f1.new_zeros(())
        else:
            if z1 is None or z2 is None:
                raise ValueError(f"contrastive={self.contrastive!r} needs z1 and z2")
            if self.contrastive == "infonce":
                con = 0.5 * (
                    info_nce(z1, z2, temperature=self.temperature)
                    + info_nce(z2, z1, temperature=self.temperature)
                )
            else:
                if target_z1 is None or target_z2 is None:
                    raise ValueError("contrastive='byol' needs target_z1 and target_z2")
                con = byol_loss(z1, target_z2) + byol_loss(z2, target_z1)
        total = self.overlap_weight * (ce_s + ce_t) + self.contrastive_weight * con
        with torch.no_grad():
            acc_s = float((ls.argmax(1) == spatial_label).float().mean())
            acc_t = float((lt.argmax(1) == temporal_label).float().mean())
        return {
            "loss": total,
            "spatial": ce_s,
            "temporal": ce_t,
            "contrastive": con,
            "spatial_acc": acc_s,
            "temporal_acc": acc_t,
        }
