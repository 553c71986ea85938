"""Small encoders for the bridge demonstrations (CPU-sized, a few thousand parameters).

* :class:`ClipEncoder3d`: ``[N, C, T, H, W] -> [N, D]`` (3-D convs, global average pool).
* :class:`FrameMapEncoder`: ``[B, T, C, H, W] -> [B, T, P, D]`` per-frame feature maps
  (2-D convs shared over frames plus a temporal conv), ``P = (H / 4) * (W / 4)``.
* :class:`AudioFrameEncoder`: ``[B, Ta, F] -> [B, Ta, D]`` (1-D convs over time).

Example::

    >>> import torch
    >>> from shared.bridge.encoders import ClipEncoder3d
    >>> ClipEncoder3d(out_dim=32)(torch.rand(2, 3, 8, 16, 16)).shape
    torch.Size([2, 32])
"""

from __future__ import annotations

from torch import Tensor, nn

from shared.bridge._checks import check_tensor

__all__ = ["ClipEncoder3d", "FrameMapEncoder", "AudioFrameEncoder"]


class ClipEncoder3d(nn.Module):
    """Three ``Conv3d -> BN -> ReLU`` stages (spatial stride 2, last also temporal) + pool."""

    def __init__(self, in_channels: int = 3, width: int = 16, out_dim: int = 64) -> None:
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv3d(in_channels, w, 3, stride=(1, 2, 2), padding=1),
            nn.BatchNorm3d(w),
            nn.ReLU(inplace=True),
            nn.Conv3d(w, 2 * w, 3, stride=(1, 2, 2), padding=1),
            nn.BatchNorm3d(2 * w),
            nn.ReLU(inplace=True),
            nn.Conv3d(2 * w, out_dim, 3, stride=2, padding=1),
            nn.BatchNorm3d(out_dim),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool3d(1),
            nn.Flatten(),
        )

    def forward(self, x: Tensor) -> Tensor:
        check_tensor("x", x, 5, "[N, C, T, H, W]")
        return self.net(x)


class FrameMapEncoder(nn.Module):
    """Per-frame 2-D conv maps with a temporal conv: ``[B, T, C, H, W] -> [B, T, P, D]``."""

    def __init__(self, in_channels: int = 3, width: int = 32, out_dim: int = 32) -> None:
        super().__init__()
        self.spatial = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
        )
        self.temporal = nn.Conv3d(width, width, (3, 1, 1), padding=(1, 0, 0))
        self.proj = nn.Conv3d(width, out_dim, 1)

    def forward(self, video: Tensor) -> Tensor:
        check_tensor("video", video, 5, "[B, T, C, H, W]")
        b, t = video.shape[:2]
        x = self.spatial(video.flatten(0, 1))  # [B*T, w, h, w']
        x = x.view(b, t, *x.shape[1:]).transpose(1, 2)  # [B, w, T, h, w']
        x = self.proj(x + self.temporal(x).relu())  # [B, D, T, h, w']
        return x.flatten(3).permute(0, 2, 3, 1)  # [B, T, P, D]


class AudioFrameEncoder(nn.Module):
    """``Conv1d -> ReLU -> Conv1d`` over audio frames: ``[B, Ta, F] -> [B, Ta, D]``."""

    def __init__(self, in_features: int, width: int = 64, out_dim: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(in_features, width, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv1d(width, out_dim, 3, padding=1),
        )

    def forward(self, audio: Tensor) -> Tensor:
        check_tensor("audio", audio, 3, "[B, Ta, F]")
        return self.net(audio.transpose(1, 2)).transpose(1, 2)
