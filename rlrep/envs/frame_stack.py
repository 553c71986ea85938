"""Channel-first frame stacking as a gymnasium wrapper (so a single env passes ``check_env``)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class ChannelFirstFrameStack(gym.ObservationWrapper):
    """Stack the last ``n_stack`` observations along the channel axis.

    Input observations are images ``[H, W, C]`` (channel-last, as SB3's ``WarpFrame`` gives) or
    ``[C, H, W]`` (``channel_first=True``); the output is always ``[n_stack * C, H, W]`` uint8.
    At reset the stack is zero-filled and the first frame is pushed, like SB3's ``VecFrameStack``;
    :class:`rlrep.buffers.SegmentReplayBuffer` relies on this zero padding when it stores only the
    newest frame of every observation.
    """

    def __init__(self, env: gym.Env, n_stack: int, channel_first: bool = False) -> None:
        super().__init__(env)
        shape = env.observation_space.shape
        assert shape is not None and len(shape) == 3, f"expected an image space, got {shape}"
        self.channel_first = channel_first
        c, h, w = shape if channel_first else (shape[2], shape[0], shape[1])
        self.n_stack = n_stack
        self.frame_channels = c
        self.observation_space = spaces.Box(0, 255, shape=(n_stack * c, h, w), dtype=np.uint8)
        self.stacked = np.zeros((n_stack * c, h, w), dtype=np.uint8)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        self.stacked[...] = 0
        return super().reset(**kwargs)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        frame = observation if self.channel_first else np.transpose(observation, (2, 0, 1))
        c = self.frame_channels
        self.stacked[:-c] = self.stacked[c:]
        self.stacked[-c:] = frame
        return self.stacked.copy()
