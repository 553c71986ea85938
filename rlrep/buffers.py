"""A replay buffer that labels return-based segments (RCRL) on top of SB3's n-step buffer.

For every stored transition (row ``r`` of env column ``e``) the buffer records

- ``segment_ids[r, e]``: a globally unique id of the segment the transition belongs to,
- ``segment_starts[r, e]``: the ring row where that segment began,
- ``segment_lengths[r, e]``: its length (0 while the segment is still open),
- ``mc_returns[r, e]``: the discounted Monte-Carlo return from ``r`` to the end of its episode
  (``nan`` until the episode ends; rewards as stored, i.e. clipped for Atari),
- ``episode_ids[r, e]``: a globally unique episode id.

A segment closes after the transition that ends an episode, after a transition whose reward is
non-zero (``segment_rule="nonzero_reward"``, Atari with clipped rewards), once the reward summed
inside it reaches ``reward_threshold`` in absolute value (``"reward_threshold"``, dense DMC
rewards), or when it reaches ``max_segment_length`` transitions.

Ring wrap-around: a segment loses its oldest rows first, so its surviving rows are always a suffix
``end - k, ..., end`` of the segment; positives are drawn from that suffix only, so a positive's
segment id always equals its anchor's. Every env column keeps its own open segment and episode.

``frame_stack=K`` stores only the newest frame (``C / K`` channels) of each image observation and
rebuilds the stack at sampling time from the previous rows of the same episode (zero padding at
episode start, as :class:`rlrep.envs.frame_stack.ChannelFirstFrameStack` does): an Atari-100k
buffer then takes 1.4 GB instead of 5.6 GB. The oldest ``K - 1`` rows of a full buffer, whose
history was overwritten, are never sampled.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import NStepReplayBuffer
from stable_baselines3.common.vec_env import VecNormalize

SegmentRule = Literal["nonzero_reward", "reward_threshold"]
#: why a segment closed (:meth:`SegmentReplayBuffer.segment_statistics`); an episode end
#: counts as such even when its last reward is non-zero, a reward before the length cap
CLOSE_REASONS = ("reward", "episode_end", "length_cap")


class SegmentReplaySamples(NamedTuple):
    """A replay batch with segment labels (field order and names extend SB3's ``ReplayBufferSamples``).

    Shapes for a batch of ``B`` rows: observations ``[B, *obs_shape]``, actions ``[B, action_dim]``,
    next_observations ``[B, *obs_shape]``, dones / rewards / discounts ``[B, 1]`` (n-step),
    segment_ids ``[B]`` int64, mc_returns ``[B]`` float32.
    """

    observations: th.Tensor
    actions: th.Tensor
    next_observations: th.Tensor
    dones: th.Tensor
    rewards: th.Tensor
    discounts: th.Tensor
    segment_ids: th.Tensor
    mc_returns: th.Tensor


class SegmentReplayBuffer(NStepReplayBuffer):
    """SB3 :class:`NStepReplayBuffer` + segment ids, starts, lengths and Monte-Carlo returns.

    :param n_steps: n-step return horizon (1 = ordinary one-step transitions).
    :param gamma: discount of the n-step and Monte-Carlo returns.
    :param segment_rule: ``"nonzero_reward"`` (Atari) or ``"reward_threshold"`` (DMC).
    :param reward_threshold: |summed reward| that closes a segment under ``"reward_threshold"``.
    :param max_segment_length: a segment closes when it holds this many transitions.
    :param frame_stack: store one frame per row and rebuild ``frame_stack``-frame observations.
    Other parameters as SB3's :class:`~stable_baselines3.common.buffers.ReplayBuffer`.
    """

    def __init__(
        self,
        buffer_size: int,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        device: th.device | str = "auto",
        n_envs: int = 1,
        optimize_memory_usage: bool = False,
        handle_timeout_termination: bool = True,
        n_steps: int = 1,
        gamma: float = 0.99,
        segment_rule: SegmentRule = "nonzero_reward",
        reward_threshold: float = 1.0,
        max_segment_length: int = 32,
        frame_stack: int = 0,
    ) -> None:
        if n_steps < 1:
            raise ValueError(f"n_steps must be >= 1 (1: one-step transitions), got {n_steps}")
        super().__init__(
            buffer_size,
            observation_space,
            action_space,
            device=device,
            n_envs=n_envs,
            optimize_memory_usage=optimize_memory_usage,
            handle_timeout_termination=handle_timeout_termination,
            n_steps=n_steps,
            gamma=gamma,
        )
        if segment_rule not in ("nonzero_reward", "reward_threshold"):
            raise ValueError(f"segment_rule must be 'nonzero_reward' or 'reward_threshold', got {segment_rule!r}")
        if not 1 <= max_segment_length < self.buffer_size:
            raise ValueError(f"max_segment_length must be in [1, buffer_size), got {max_segment_length}")
        if frame_stack and self.buffer_size < frame_stack:  # no row would keep its frame history
            raise ValueError(f"buffer_size ({self.buffer_size}) must be >= frame_stack ({frame_stack})")
        self.segment_rule = segment_rule
        self.reward_threshold = reward_threshold
        self.max_segment_length = max_segment_length
        self.frame_stack = frame_stack
        shape = (self.buffer_size, self.n_envs)
        if frame_stack:
            channels = self.obs_shape[0]
            if len(self.obs_shape) != 3 or channels % frame_stack:
                raise ValueError(f"frame_stack={frame_stack} needs a [C, H, W] space with C divisible, got {self.obs_shape}")
            self.frame_channels = channels // frame_stack
            frame_shape = (self.frame_channels, *self.obs_shape[1:])
            # np.zeros pages in lazily, so the parent's full-size arrays never cost memory.
            self.observations = np.zeros((*shape, *frame_shape), dtype=observation_space.dtype)
            self.next_observations = np.zeros((*shape, *frame_shape), dtype=observation_space.dtype)
            self.episode_steps = np.zeros(shape, dtype=np.int64)
        self.segment_ids = np.full(shape, -1, dtype=np.int64)
        self.segment_starts = np.zeros(shape, dtype=np.int64)
        self.segment_lengths = np.zeros(shape, dtype=np.int64)
        self.mc_returns = np.full(shape, np.nan, dtype=np.float32)
        self.episode_ids = np.full(shape, -1, dtype=np.int64)
        # Per-env trackers of the open segment and the running episode.
        self._open_segment = np.full(n_envs, -1, dtype=np.int64)
        self._open_start = np.zeros(n_envs, dtype=np.int64)
        self._open_length = np.zeros(n_envs, dtype=np.int64)
        self._open_reward = np.zeros(n_envs, dtype=np.float64)
        self._episode = np.full(n_envs, -1, dtype=np.int64)
        self._episode_length = np.zeros(n_envs, dtype=np.int64)
        self._next_segment_id = 0
        self._next_episode_id = 0
        self._closed_by = dict.fromkeys(CLOSE_REASONS, 0)  # segments
        self._closed_rows = dict.fromkeys(CLOSE_REASONS, 0)  # their transitions

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickling (``load_replay_buffer``): a buffer saved before the closing counters
        existed starts them at zero."""
        self.__dict__.update(state)
        for counter in ("_closed_by", "_closed_rows"):
            if counter not in state:
                setattr(self, counter, dict.fromkeys(CLOSE_REASONS, 0))

    # -- storing ------------------------------------------------------------------------------
    def add(
        self,
        obs: np.ndarray,
        next_obs: np.ndarray,
        action: np.ndarray,
        reward: np.ndarray,
        done: np.ndarray,
        infos: list[dict[str, Any]],
    ) -> None:
        """Store one transition per env (arrays ``[n_envs, ...]``) and update the segment labels."""
        # checked before the parent writes the row: a failure after it would leave the row
        # stored without a segment (id -1) and the position advanced
        for name, value in (("reward", reward), ("done", done)):
            if np.size(value) != self.n_envs:
                raise ValueError(f"{name} must hold one value per env ({self.n_envs}), got shape "
                                 f"{np.shape(value)}")
        row = self.pos
        if self.frame_stack:
            self.episode_steps[row] = self._episode_length
            obs, next_obs = obs[:, -self.frame_channels :], next_obs[:, -self.frame_channels :]
        super().add(obs, next_obs, action, reward, done, infos)
        reward = np.asarray(reward, dtype=np.float64).reshape(self.n_envs)
        done = np.asarray(done, dtype=bool).reshape(self.n_envs)
        for env in range(self.n_envs):
            self._label(row, env, float(reward[env]), bool(done[env]))

    def _label(self, row: int, env: int, reward: float, done: bool) -> None:
        if self._open_segment[env] < 0:
            self._open_segment[env] = self._next_segment_id
            self._next_segment_id += 1
            self._open_start[env], self._open_length[env], self._open_reward[env] = row, 0, 0.0
        if self._episode_length[env] == 0:
            self._episode[env] = self._next_episode_id
            self._next_episode_id += 1
        self.segment_ids[row, env] = self._open_segment[env]
        self.segment_starts[row, env] = self._open_start[env]
        self.segment_lengths[row, env] = 0
        self.mc_returns[row, env] = np.nan
        self.episode_ids[row, env] = self._episode[env]
        self._open_length[env] += 1
        self._open_reward[env] += reward
        self._episode_length[env] += 1
        reason = "episode_end" if done else self._segment_closes(reward, env)
        if reason is not None:
            self._close_segment(env, reason)
        if done:
            self._finish_episode(row, env)

    def _segment_closes(self, reward: float, env: int) -> str | None:
        """Why the open segment closes after this transition (``None``: it stays open)."""
        if self.segment_rule == "nonzero_reward":
            by_reward = reward != 0.0
        else:
            by_reward = abs(self._open_reward[env]) >= self.reward_threshold
        if by_reward:
            return "reward"
        return "length_cap" if self._open_length[env] >= self.max_segment_length else None

    def _close_segment(self, env: int, reason: str) -> None:
        length = self._open_length[env]
        rows = (self._open_start[env] + np.arange(length)) % self.buffer_size
        self.segment_lengths[rows, env] = length
        self._open_segment[env] = -1
        self._closed_by[reason] += 1
        self._closed_rows[reason] += int(length)

    def segment_statistics(self) -> dict[str, float]:
        """Why segments closed: every segment closed since this buffer was created (or
        resumed from a save that predates the counters), rows overwritten since included,
        still-open segments left out.

        Returns ``closed`` (count) and ``mean_length`` (transitions) of the closed segments;
        for each of :data:`CLOSE_REASONS` (``reward``: a non-zero reward or the threshold;
        ``episode_end``; ``length_cap``: ``max_segment_length`` reached without a reward),
        ``closed_by_<reason>``, the fraction of segments, and ``rows_closed_by_<reason>``, the
        fraction of their transitions (what uniformly drawn anchors see while the buffer has
        not wrapped). ``nan`` before any segment closed.

        A large ``rows_closed_by_length_cap`` means RCRL's classes are mostly "the same
        stretch of at most ``max_segment_length`` steps" rather than "the same return".
        """
        closed_by, rows = self._closed_by, self._closed_rows
        total, total_rows = sum(closed_by.values()), sum(rows.values())
        nan = float("nan")
        stats: dict[str, float] = {"closed": float(total),
                                   "mean_length": total_rows / total if total else nan}
        for reason in CLOSE_REASONS:
            stats[f"closed_by_{reason}"] = closed_by[reason] / total if total else nan
            stats[f"rows_closed_by_{reason}"] = rows[reason] / total_rows if total else nan
        return stats

    def _finish_episode(self, last_row: int, env: int) -> None:
        """Write discounted returns-to-go over the episode's surviving rows (newest first)."""
        n = min(int(self._episode_length[env]), self.buffer_size)
        rows = (last_row - np.arange(n)) % self.buffer_size
        rewards = self.rewards[rows, env].astype(np.float64)
        returns = np.empty(n, dtype=np.float64)
        running = 0.0
        for i in range(n):
            running = rewards[i] + self.gamma * running
            returns[i] = running
        self.mc_returns[rows, env] = returns
        self._episode_length[env] = 0

    def closed_segments(self) -> dict[str, np.ndarray]:
        """The closed segments whose rows all survive in the buffer, read from its arrays.

        Returns ``[S]`` arrays, one entry per segment, ordered by env column then closing row:
        ``env``, ``last_row`` (the ring row of its last transition; the step it closed at,
        counted from 0, while the buffer has not wrapped and ``n_envs == 1``), ``length``, and
        ``reason`` (an index into :data:`CLOSE_REASONS`, decided as when it closed: an
        episode end first, then the reward rule, then the length cap). Unlike
        :meth:`segment_statistics` this needs no counters, so it also reads buffers saved
        before they existed; it sees only what the buffer still holds. Under
        ``"reward_threshold"`` the sum is re-read from the stored (float32) rewards, so a
        segment whose sum lies within rounding of the threshold may read differently.
        """
        rows = np.arange(self.buffer_size if self.full else self.pos)
        parts: dict[str, list[np.ndarray]] = {"env": [], "last_row": [], "length": [], "reason": []}
        for env in range(self.n_envs):
            length = self.segment_lengths[rows, env]
            start = self.segment_starts[rows, env]
            last = rows[(length > 0) & ((start + length - 1) % self.buffer_size == rows)]
            start, length = self.segment_starts[last, env], self.segment_lengths[last, env]
            whole = self.segment_ids[start, env] == self.segment_ids[last, env]  # start not overwritten
            last, start, length = last[whole], start[whole], length[whole]
            if self.full:  # closing order: oldest first, counted from the write position
                order = np.argsort((last - self.pos) % self.buffer_size, kind="stable")
                last, start, length = last[order], start[order], length[order]
            reason = np.full(len(last), CLOSE_REASONS.index("length_cap"))
            for i, (end, first, n) in enumerate(zip(last, start, length, strict=True)):
                if self.dones[end, env]:
                    reason[i] = CLOSE_REASONS.index("episode_end")
                elif self.segment_rule == "nonzero_reward":
                    if self.rewards[end, env] != 0.0:
                        reason[i] = CLOSE_REASONS.index("reward")
                else:
                    summed = self.rewards[(first + np.arange(n)) % self.buffer_size, env].astype(np.float64).sum()
                    if abs(summed) >= self.reward_threshold:
                        reason[i] = CLOSE_REASONS.index("reward")
            for key, value in (("env", np.full(len(last), env)), ("last_row", last), ("length", length),
                               ("reason", reason)):
                parts[key].append(value)
        return {key: np.concatenate(values).astype(np.int64) for key, values in parts.items()}

    # -- sampling -----------------------------------------------------------------------------
    @property
    def _min_offset(self) -> int:
        """Rows this close to the oldest row of a full buffer are not sampled (lost frame history)."""
        return max(self.frame_stack - 1, 0) if self.full else 0

    def _sample_rows(self, n: int) -> np.ndarray:
        if not self.full and self.pos == 0:
            raise ValueError("the buffer is empty: add transitions before sampling")
        if self.full:
            return (np.random.randint(self._min_offset, self.buffer_size, size=n) + self.pos) % self.buffer_size
        return np.random.randint(0, self.pos, size=n)

    def sample(self, batch_size: int, env: VecNormalize | None = None) -> SegmentReplaySamples:  # type: ignore[override]
        """Uniform batch of ``batch_size`` transitions with their segment labels."""
        return self._get_samples(self._sample_rows(batch_size), env=env)

    def sample_pairs(self, n_anchors: int, env: VecNormalize | None = None) -> SegmentReplaySamples:
        """Anchors and one positive partner each: rows ``[0, n)`` anchors, ``[n, 2n)`` partners.

        Anchors are uniform over the buffer; partner ``i`` is uniform over the other surviving
        transitions of anchor ``i``'s segment (the anchor itself for a one-transition segment),
        hence also marginally uniform over the buffer. ``segment_ids[i] == segment_ids[n + i]``.
        """
        rows = self._sample_rows(n_anchors)
        envs = np.random.randint(0, self.n_envs, size=n_anchors)
        partners = self.positive_rows(rows, envs)
        return self._get_samples(np.concatenate([rows, partners]), env=env, env_indices=np.concatenate([envs, envs]))

    def segment_bounds(self, rows: np.ndarray, envs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Last row ``[B]`` and number of surviving, sampleable rows ``[B]`` of each row's segment."""
        length = self.segment_lengths[rows, envs].copy()
        is_open = length == 0
        length[is_open] = self._open_length[envs[is_open]]
        end = (self.segment_starts[rows, envs] + length - 1) % self.buffer_size
        if self.full:
            end_offset = (end - self.pos) % self.buffer_size
            length = np.minimum(length, end_offset - self._min_offset + 1)
        return end, length

    def positive_rows(self, rows: np.ndarray, envs: np.ndarray) -> np.ndarray:
        """For each anchor row ``[B]`` a different row ``[B]`` of the same segment, where one exists."""
        end, count = self.segment_bounds(rows, envs)
        anchor_back = (end - rows) % self.buffer_size
        back = np.floor(np.random.random(len(rows)) * np.maximum(count - 1, 1)).astype(np.int64)
        back = np.where(count > 1, back + (back >= anchor_back), anchor_back)
        return (end - back) % self.buffer_size

    def _stacked(self, rows: np.ndarray, envs: np.ndarray) -> np.ndarray:
        """Rebuild ``[B, K * C_f, H, W]`` observations from the per-row newest frames."""
        lags = np.arange(self.frame_stack - 1, -1, -1)
        src = (rows[:, None] - lags[None, :]) % self.buffer_size
        frames = self.observations[src, envs[:, None]]  # [B, K, C_f, H, W]
        keep = self.episode_steps[rows, envs][:, None] >= lags[None, :]
        frames = frames * keep[:, :, None, None, None].astype(frames.dtype)
        return frames.reshape(len(rows), -1, *frames.shape[3:])

    def _observations(self, rows: np.ndarray, envs: np.ndarray, next_obs: bool) -> np.ndarray:
        if not self.frame_stack:
            return (self.next_observations if next_obs else self.observations)[rows, envs]
        stacked = self._stacked(rows, envs)
        if not next_obs:
            return stacked
        return np.concatenate([stacked[:, self.frame_channels :], self.next_observations[rows, envs]], axis=1)

    def _get_samples(  # type: ignore[override]
        self,
        batch_inds: np.ndarray,
        env: VecNormalize | None = None,
        env_indices: np.ndarray | None = None,
    ) -> SegmentReplaySamples:
        """The n-step computation of SB3's ``NStepReplayBuffer`` with caller-chosen env columns.

        Rewards are summed with discount up to ``n_steps`` or the first done/timeout; the last
        written row counts as a timeout so that n-step windows never run into stale data.
        """
        if env_indices is None:
            env_indices = np.random.randint(0, self.n_envs, size=batch_inds.shape)
        last_valid = self.pos - 1
        saved_timeouts = self.timeouts[last_valid].copy()
        self.timeouts[last_valid] = np.logical_or(saved_timeouts, np.logical_not(self.dones[last_valid]))

        steps = np.arange(self.n_steps)
        window = (batch_inds[:, None] + steps[None, :]) % self.buffer_size  # [B, n]
        cols = env_indices[:, None]
        stop = np.logical_or(self.dones[window, cols], self.timeouts[window, cols])
        stop_idx = np.where(stop.any(axis=1), stop.argmax(axis=1), self.n_steps - 1)
        mask = steps[None, :] <= stop_idx[:, None]
        rewards = self._normalize_reward(self.rewards[window, cols], env)
        n_step_returns = (rewards * (self.gamma**steps)[None, :] * mask).sum(axis=1, keepdims=True)
        discounts = (self.gamma ** mask.sum(axis=1, keepdims=True)).astype(np.float32)
        last = (batch_inds + stop_idx) % self.buffer_size
        final_dones = self.dones[last, env_indices] * (1.0 - self.timeouts[last, env_indices])
        self.timeouts[last_valid] = saved_timeouts

        obs = self._normalize_obs(self._observations(batch_inds, env_indices, next_obs=False), env)
        next_obs = self._normalize_obs(self._observations(last, env_indices, next_obs=True), env)
        return SegmentReplaySamples(
            observations=self.to_torch(obs),
            actions=self.to_torch(self.actions[batch_inds, env_indices]),
            next_observations=self.to_torch(next_obs),
            dones=self.to_torch(final_dones[:, None].astype(np.float32)),
            rewards=self.to_torch(n_step_returns.astype(np.float32)),
            discounts=self.to_torch(discounts),
            segment_ids=self.to_torch(self.segment_ids[batch_inds, env_indices]),
            mc_returns=self.to_torch(self.mc_returns[batch_inds, env_indices]),
        )
