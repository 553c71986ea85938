"""Segment labelling, pair sampling and frame-stack storage of SegmentReplayBuffer."""

import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import NStepReplayBuffer

from rlrep.auxiliary import RCRLHead
from rlrep.buffers import SegmentReplayBuffer

OBS = spaces.Box(-1, 1, (2,), np.float32)
ACT = spaces.Discrete(3)


def make(size=64, n_envs=1, **kw):
    return SegmentReplayBuffer(size, OBS, ACT, device="cpu", n_envs=n_envs, **kw)


def fill(buf, rewards, dones=None):
    """rewards/dones: [T, n_envs]."""
    rewards = np.asarray(rewards, dtype=np.float32).reshape(len(rewards), -1)
    dones = np.zeros_like(rewards) if dones is None else np.asarray(dones, dtype=np.float32).reshape(rewards.shape)
    for t in range(len(rewards)):
        obs = np.full((buf.n_envs, 2), t, np.float32)
        buf.add(obs, obs + 1, np.zeros((buf.n_envs, 1)), rewards[t], dones[t], [{} for _ in range(buf.n_envs)])


def test_atari_segments_close_at_nonzero_reward_and_episode_end():
    buf = make(gamma=0.5)
    fill(buf, [0, 0, 1, 0, 0, 0, -1, 0, 0], dones=[0, 0, 0, 0, 0, 0, 0, 0, 1])
    ids = buf.segment_ids[:9, 0]
    assert list(ids) == [0, 0, 0, 1, 1, 1, 1, 2, 2]
    assert list(buf.segment_lengths[:9, 0]) == [3, 3, 3, 4, 4, 4, 4, 2, 2]
    assert list(buf.segment_starts[:9, 0]) == [0, 0, 0, 3, 3, 3, 3, 7, 7]
    # discounted return-to-go with gamma 0.5 from the end of the episode backwards
    expected = np.zeros(9)
    running = 0.0
    for t, r in reversed(list(enumerate([0, 0, 1, 0, 0, 0, -1, 0, 0]))):
        running = r + 0.5 * running
        expected[t] = running
    np.testing.assert_allclose(buf.mc_returns[:9, 0], expected, rtol=1e-6)
    assert set(buf.episode_ids[:9, 0]) == {0}


def test_open_segment_and_unfinished_episode():
    buf = make()
    fill(buf, [0, 1, 0, 0])
    assert list(buf.segment_lengths[:4, 0]) == [2, 2, 0, 0]  # last segment still open
    assert np.isnan(buf.mc_returns[:4, 0]).all()
    end, count = buf.segment_bounds(np.array([3]), np.array([0]))
    assert end[0] == 3 and count[0] == 2


def test_max_length_closes_segments():
    buf = make(max_segment_length=3)
    fill(buf, [0] * 7)
    assert list(buf.segment_ids[:7, 0]) == [0, 0, 0, 1, 1, 1, 2]
    assert list(buf.segment_lengths[:6, 0]) == [3] * 6


def test_dmc_reward_threshold():
    buf = make(segment_rule="reward_threshold", reward_threshold=1.0)
    fill(buf, [0.5, 0.4, 0.2, 1.5, 0.1, 0.1, -1.2, 0.3])
    assert list(buf.segment_ids[:8, 0]) == [0, 0, 0, 1, 2, 2, 2, 3]


def test_parallel_envs_keep_separate_segments():
    buf = make(size=128, n_envs=2)
    rewards = [[0, 1], [1, 0], [0, 0], [0, 1]]
    dones = [[0, 0], [0, 1], [0, 0], [0, 0]]
    fill(buf, rewards, dones)
    a, b = buf.segment_ids[:4, 0], buf.segment_ids[:4, 1]
    assert a[0] == a[1] and a[2] == a[3] and a[1] != a[2]
    assert b[0] != b[1] and b[2] == b[3] and b[1] != b[2]
    assert not set(a) & set(b)  # ids are globally unique
    assert buf.segment_lengths[1, 1] == 1 and buf.mc_returns[1, 1] == 0.0
    assert np.isnan(buf.mc_returns[:4, 0]).all()


def test_wrap_around_keeps_positives_in_segment():
    rng = np.random.default_rng(0)
    buf = make(size=32, n_envs=2, max_segment_length=7)  # SB3 splits the size: 16 rows per env
    rewards = (rng.random((61, 2)) < 0.15).astype(np.float32)
    dones = (rng.random((61, 2)) < 0.05).astype(np.float32)
    fill(buf, rewards, dones)
    assert buf.full
    rows = np.tile(np.arange(16), 2)
    envs = np.repeat([0, 1], 16)
    end, count = buf.segment_bounds(rows, envs)
    for r, e, last, c in zip(rows, envs, end, count, strict=True):
        same = {int(x) for x in np.nonzero(buf.segment_ids[:, e] == buf.segment_ids[r, e])[0]}
        assert len(same) == c  # surviving rows of the segment are exactly counted
        assert same == {(last - k) % 16 for k in range(c)}
    np.random.seed(0)
    for _ in range(20):
        partners = buf.positive_rows(rows, envs)
        assert (buf.segment_ids[partners, envs] == buf.segment_ids[rows, envs]).all()
        several = count > 1
        assert (partners[several] != rows[several]).all()


def test_pair_labels_are_exact_segment_equality():
    np.random.seed(1)
    buf = make(size=400, n_envs=2)
    rewards = (np.random.random((150, 2)) < 0.3).astype(np.float32)
    fill(buf, rewards)
    data = buf.sample_pairs(64)
    ids = data.segment_ids
    assert torch.equal(ids[:64], ids[64:])
    head = RCRLHead(2, 3)
    features = data.observations
    logits, labels = head.pair_logits(features, torch.zeros(128, 3), ids)
    expected = torch.cat([ids[:64] == ids[64:], ids[:64] == ids[64:].roll(1)]).float()
    assert torch.equal(labels, expected)
    assert labels[:64].all() and labels[64:].mean() < 0.5


def test_n_step_matches_sb3():
    np.random.seed(0)
    mine = make(size=32, n_steps=3, gamma=0.9, max_segment_length=8)
    ref = NStepReplayBuffer(32, OBS, ACT, device="cpu", n_steps=3, gamma=0.9)
    rewards = np.random.random(40).astype(np.float32)
    dones = (np.random.random(40) < 0.1).astype(np.float32)
    for t in range(40):
        obs = np.full((1, 2), t, np.float32)
        for buf in (mine, ref):
            buf.add(obs, obs + 1, np.zeros((1, 1)), rewards[t : t + 1], dones[t : t + 1], [{}])
    inds = np.arange(32)
    a, b = mine._get_samples(inds), ref._get_samples(inds)
    for field in ("observations", "next_observations", "rewards", "dones", "discounts"):
        torch.testing.assert_close(getattr(a, field), getattr(b, field))


@pytest.mark.parametrize("n_envs", [1, 2])
def test_frame_stack_storage_rebuilds_observations(n_envs):
    """One-frame storage returns the same stacked obs / next obs as full storage."""
    from rlrep.envs.frame_stack import ChannelFirstFrameStack  # noqa: F401  (padding convention)

    k, c = 3, 2
    space = spaces.Box(0, 255, (k * c, 5, 5), np.uint8)
    full = SegmentReplayBuffer(12 * n_envs, space, ACT, device="cpu", n_envs=n_envs, max_segment_length=4)
    small = SegmentReplayBuffer(12 * n_envs, space, ACT, device="cpu", n_envs=n_envs, max_segment_length=4, frame_stack=k)
    rng = np.random.default_rng(0)
    stacks = np.zeros((n_envs, k * c, 5, 5), np.uint8)

    def push(env, frame):
        stacks[env, :-c] = stacks[env, c:]
        stacks[env, -c:] = frame

    for env in range(n_envs):
        push(env, rng.integers(0, 255, (c, 5, 5)))
    for _ in range(30):
        obs = stacks.copy()
        dones = rng.random(n_envs) < 0.2
        next_obs = stacks.copy()
        for env in range(n_envs):
            push(env, rng.integers(0, 255, (c, 5, 5)))
            next_obs[env] = stacks[env]
            if dones[env]:  # auto-reset: zero stack + first frame of the new episode
                stacks[env] = 0
                push(env, rng.integers(0, 255, (c, 5, 5)))
        for buf in (full, small):
            buf.add(obs, next_obs, np.zeros((n_envs, 1)), np.zeros(n_envs), dones.astype(np.float32), [{}] * n_envs)
    offsets = np.arange(k - 1, 12)
    rows = (offsets + full.pos) % 12
    for env in range(n_envs):
        envs = np.full(len(rows), env)
        a, b = full._get_samples(rows, env_indices=envs), small._get_samples(rows, env_indices=envs)
        assert torch.equal(a.observations, b.observations)
        assert torch.equal(a.next_observations, b.next_observations)
    assert small.observations.nbytes * k == full.observations.nbytes
