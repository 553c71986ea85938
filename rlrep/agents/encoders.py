"""Features extractors (the encoders the RL and auxiliary losses share), as SB3 extractors."""

from __future__ import annotations

import torch as th
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from rlrep.auxiliary.augment import center_crop


class DERConvNet(BaseFeaturesExtractor):
    """Data-efficient Rainbow's encoder: conv 32 5x5/5, conv 64 5x5/5, ReLU, flatten.

    ``[B, 4, 84, 84]`` (scaled to [0, 1] by SB3) -> ``[B, 576]``.
    """

    def __init__(self, observation_space: spaces.Box) -> None:
        channels = observation_space.shape[0]
        net = nn.Sequential(
            nn.Conv2d(channels, 32, kernel_size=5, stride=5),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=5, stride=5),
            nn.ReLU(),
            nn.Flatten(),
        )
        with th.no_grad():
            n_flat = net(th.zeros(1, *observation_space.shape)).shape[1]
        super().__init__(observation_space, n_flat)
        self.net = net

    def forward(self, observations: th.Tensor) -> th.Tensor:
        return self.net(observations)


class CURLPixelEncoder(BaseFeaturesExtractor):
    """CURL's SAC encoder: 4 conv 3x3 of 32 filters (first stride 2) -> linear -> LayerNorm -> tanh.

    The tanh follows the design note; CURL's SAC builds its encoders with ``output_logits=True``
    and so stops at the LayerNorm (a departure listed in ``rlrep/README.md``).

    Inputs larger than ``crop_size`` (the 100x100 renders, when acting) are center-cropped; the
    training batches arrive already random-cropped to ``crop_size``.
    ``[B, 9, crop, crop]`` -> ``[B, features_dim]``.
    """

    def __init__(self, observation_space: spaces.Box, features_dim: int = 50, crop_size: int = 84, num_filters: int = 32) -> None:
        super().__init__(observation_space, features_dim)
        channels = observation_space.shape[0]
        self.crop_size = crop_size
        layers: list[nn.Module] = [nn.Conv2d(channels, num_filters, 3, stride=2), nn.ReLU()]
        for _ in range(3):
            layers += [nn.Conv2d(num_filters, num_filters, 3, stride=1), nn.ReLU()]
        self.convs = nn.Sequential(*layers, nn.Flatten())
        with th.no_grad():
            n_flat = self.convs(th.zeros(1, channels, crop_size, crop_size)).shape[1]
        self.head = nn.Sequential(nn.Linear(n_flat, features_dim), nn.LayerNorm(features_dim), nn.Tanh())

    def forward(self, observations: th.Tensor) -> th.Tensor:
        if observations.shape[-1] > self.crop_size:
            observations = center_crop(observations, self.crop_size)
        return self.head(self.convs(observations))


class StateEncoder(BaseFeaturesExtractor):
    """MLP encoder for proprioceptive states: ``[B, S] -> [B, features_dim]`` (LayerNorm + tanh, as the pixel encoder)."""

    def __init__(self, observation_space: spaces.Box, features_dim: int = 50, hidden_dim: int = 256) -> None:
        super().__init__(observation_space, features_dim)
        self.net = nn.Sequential(
            nn.Linear(int(observation_space.shape[0]), hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, features_dim),
            nn.LayerNorm(features_dim),
            nn.Tanh(),
        )

    def forward(self, observations: th.Tensor) -> th.Tensor:
        return self.net(observations)
