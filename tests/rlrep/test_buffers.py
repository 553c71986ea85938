"""Segment labelling, pair sampling and frame-stack storage of SegmentReplayBuffer."""

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3.common.buffers import NStepReplayBuffer

from rlrep.auxiliary import RCRLHead
from rlrep.buffers import SegmentReplayBuffer
from rlrep.envs.frame_stack import ChannelFirstFrameStack

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


def test_segment_statistics_count_why_segments_closed():
    buf = make(max_segment_length=3)
    assert buf.segment_statistics()["closed"] == 0
    assert np.isnan(buf.segment_statistics()["closed_by_reward"])
    # segments: [0 0 0] cap, [0 1] reward, [0 0 1] reward at the cap, [0 0] episode end with
    # one more, open one after it
    fill(buf, [0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0], dones=[0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0])
    stats = buf.segment_statistics()
    assert stats["closed"] == 4
    assert stats["closed_by_length_cap"] == 0.25 and stats["closed_by_reward"] == 0.5
    assert stats["closed_by_episode_end"] == 0.25
    assert stats["mean_length"] == (3 + 2 + 3 + 2) / 4
    assert stats["rows_closed_by_length_cap"] == 3 / 10 and stats["rows_closed_by_reward"] == 5 / 10
    assert stats["rows_closed_by_episode_end"] == 2 / 10
    # an episode that ends on a reward counts as an episode end
    buf = make()
    fill(buf, [0, 1], dones=[0, 1])
    assert buf.segment_statistics()["closed_by_episode_end"] == 1.0
    # a buffer pickled before the counters existed starts counting when it resumes
    import pickle

    del buf._closed_by, buf._closed_rows
    buf = pickle.loads(pickle.dumps(buf))
    assert buf.segment_statistics()["closed"] == 0
    fill(buf, [1])
    assert buf.segment_statistics()["closed_by_reward"] == 1.0


@pytest.mark.parametrize("rule", ["nonzero_reward", "reward_threshold"])
@pytest.mark.parametrize("n_envs, size", [(1, 256), (2, 256), (1, 24), (3, 24), (2, 13)])
@pytest.mark.parametrize("steps", [60, 150])
def test_closed_segments_read_back_why_each_segment_closed(rule, n_envs, size, steps):
    """closed_segments() returns exactly the segments recorded as closed whose rows all
    still hold them (spanning the ring end included, overwritten ones left out), in
    closing order, each with the reason recorded when it closed."""
    from rlrep.buffers import CLOSE_REASONS

    rng = np.random.default_rng(n_envs * size + steps + len(rule))
    buf = make(size=size, n_envs=n_envs, segment_rule=rule, reward_threshold=1.0, max_segment_length=5)
    recorded, close = [], buf._close_segment

    def spy(env, reason):
        recorded.append((env, int(buf._open_segment[env]), int(buf._open_start[env]),
                         int(buf._open_length[env]), reason))
        close(env, reason)

    buf._close_segment = spy
    rewards = rng.choice([0.0, 0.0, 0.0, 0.5, 1.0, -1.0], size=(steps, n_envs))
    fill(buf, rewards, dones=rng.random((steps, n_envs)) < 0.05)
    rows = buf.buffer_size  # SB3 divides buffer_size among the env columns
    expected = [(env, (start + length - 1) % rows, length, CLOSE_REASONS.index(reason))
                for env in range(n_envs)
                for e, seg, start, length, reason in recorded if e == env
                and (buf.segment_ids[(start + np.arange(length)) % rows, env] == seg).all()]
    got = buf.closed_segments()
    assert list(zip(*(got[k].tolist() for k in ("env", "last_row", "length", "reason")), strict=True)) == expected
    assert len(expected) >= (1 if rows < 10 else 3)
    assert buf.full == (steps >= rows)  # both cases occur
    if not buf.full:  # nothing overwritten: the arrays hold every closed segment
        stats = buf.segment_statistics()
        assert len(got["reason"]) == stats["closed"]
        for i, reason in enumerate(CLOSE_REASONS):
            rows = got["length"][got["reason"] == i].sum() / got["length"].sum()
            assert rows == pytest.approx(stats[f"rows_closed_by_{reason}"])


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


def test_mc_returns_of_an_episode_longer_than_the_buffer():
    """Steps 0-11 of one episode in an 8-row buffer: rows hold steps 4-11, each with its
    exact discounted return to the episode's end (the lost steps came before them)."""
    buf = make(size=8, gamma=0.5, max_segment_length=4)
    rewards = np.arange(1, 13, dtype=np.float32)
    fill(buf, rewards, dones=[0] * 11 + [1])
    for step in range(4, 12):
        expected = sum(0.5 ** (j - step) * rewards[j] for j in range(step, 12))
        assert buf.mc_returns[step % 8, 0] == pytest.approx(expected, rel=1e-6), step


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


def test_partner_is_uniform_over_the_segments_other_rows():
    """positive_rows' promise: for an anchor in a segment of k surviving rows, each of
    the k - 1 others is drawn with probability 1 / (k - 1), the anchor never (a partner
    always at the segment's end would pass the membership tests above)."""
    buf = make(size=64, n_envs=1, max_segment_length=7)
    fill(buf, np.zeros((20, 1), dtype=np.float32))  # length cap only: segments of 7 rows
    end, count = buf.segment_bounds(np.array([9]), np.array([0]))
    k = int(count[0])
    assert k == 7
    members = [(int(end[0]) - j) % 64 for j in range(k)]
    np.random.seed(0)
    draws = 14_000
    partners = buf.positive_rows(np.full(draws, 9), np.zeros(draws, dtype=np.int64))
    hist = {m: int((partners == m).sum()) for m in members}
    assert hist[9] == 0 and sum(hist.values()) == draws
    expected = draws / (k - 1)
    sigma = np.sqrt(draws * (1 / (k - 1)) * (1 - 1 / (k - 1)))
    for m in members:
        if m != 9:
            assert abs(hist[m] - expected) < 4 * sigma, hist


def test_pair_labels_are_exact_segment_equality():
    np.random.seed(1)
    buf = make(size=400, n_envs=2)
    rewards = (np.random.random((150, 2)) < 0.3).astype(np.float32)
    fill(buf, rewards)
    data = buf.sample_pairs(64)
    ids = data.segment_ids
    n = 64
    assert torch.equal(ids[:n], ids[n:])
    torch.manual_seed(0)
    head = RCRLHead(2, 3, hidden_dim=16, embed_dim=8)
    with torch.no_grad():
        head.discriminator.bias.fill_(0.3)  # a non-zero bias, so it is checked too
    features = data.observations / 150.0
    actions = F.one_hot(torch.randint(0, 3, (2 * n,)), 3).float()
    logits, labels = head.pair_logits(features, actions, ids)
    expected = torch.cat([ids[:n] == ids[n:], ids[:n] == ids[n:].roll(1)]).float()
    assert torch.equal(labels, expected)
    assert labels[:n].all() and labels[n:].mean() < 0.5
    # the documented pairing, pair by pair: anchor i (row i) with its positive (row n + i), then
    # with the partner of anchor i - 1 (row n + (i - 1) mod n); s(x, y) = x^T W y + b on the
    # embeddings of (features, one-hot action)
    with torch.no_grad():
        z = head.embed(torch.cat([features, actions], dim=1))
        w, b = head.discriminator.weight, head.discriminator.bias
        pairs = [(i, n + i) for i in range(n)] + [(i, n + (i - 1) % n) for i in range(n)]
        by_hand = torch.stack([z[i] @ w @ z[j] + b for i, j in pairs])
        hand_labels = torch.tensor([float(ids[i] == ids[j]) for i, j in pairs])
    torch.testing.assert_close(logits, by_hand)
    assert torch.equal(labels, hand_labels)
    loss, accuracy = head.loss(features, actions, ids)
    torch.testing.assert_close(loss, F.binary_cross_entropy_with_logits(by_hand, hand_labels))
    assert accuracy.item() == pytest.approx(((by_hand > 0).float() == hand_labels).float().mean().item())


@pytest.mark.parametrize("with_timeouts", [False, True])
def test_n_step_matches_sb3(with_timeouts):
    """n-step windows, rewards, discounts and terminal flags as SB3's NStepReplayBuffer,
    time-limit truncations included (they end the window but are not terminal)."""
    np.random.seed(0)
    mine = make(size=32, n_steps=3, gamma=0.9, max_segment_length=8)
    ref = NStepReplayBuffer(32, OBS, ACT, device="cpu", n_steps=3, gamma=0.9)
    rewards = np.random.random(40).astype(np.float32)
    dones = (np.random.random(40) < 0.2).astype(np.float32)
    truncated = dones.astype(bool) & (np.arange(40) % 2 == 0) if with_timeouts else np.zeros(40, bool)
    for t in range(40):
        obs = np.full((1, 2), t, np.float32)
        infos = [{"TimeLimit.truncated": True} if truncated[t] else {}]
        for buf in (mine, ref):
            buf.add(obs, obs + 1, np.zeros((1, 1)), rewards[t : t + 1], dones[t : t + 1], infos)
    assert (mine.timeouts.sum() > 0) == with_timeouts
    inds = np.arange(32)
    a, b = mine._get_samples(inds), ref._get_samples(inds)
    for field in ("observations", "next_observations", "rewards", "dones", "discounts"):
        torch.testing.assert_close(getattr(a, field), getattr(b, field))
    if with_timeouts:  # a window ending at a truncation bootstraps (done 0)
        rows = [i for i in inds if mine.timeouts[i, 0]]
        assert rows and all(a.dones[i] == 0 for i in rows)


class _RandomFrames(gym.Env):
    """Random channel-first ``[C, 5, 5]`` frames; an episode ends with probability 0.2 per step."""

    def __init__(self, rng: np.random.Generator, c: int) -> None:
        self.rng, self.c = rng, c
        self.observation_space = spaces.Box(0, 255, (c, 5, 5), np.uint8)
        self.action_space = spaces.Discrete(2)

    def _frame(self) -> np.ndarray:
        return self.rng.integers(1, 255, (self.c, 5, 5), dtype=np.uint8)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._frame(), {}

    def step(self, action):
        return self._frame(), 0.0, bool(self.rng.random() < 0.2), False, {}


@pytest.mark.parametrize("n_envs", [1, 2])
def test_frame_stack_storage_rebuilds_observations(n_envs):
    """One-frame storage returns the same stacked obs / next obs as full storage, for the stacks
    that ChannelFirstFrameStack produces (zero padding after every reset)."""
    k, c = 3, 2
    space = spaces.Box(0, 255, (k * c, 5, 5), np.uint8)
    full = SegmentReplayBuffer(12 * n_envs, space, ACT, device="cpu", n_envs=n_envs, max_segment_length=4)
    small = SegmentReplayBuffer(12 * n_envs, space, ACT, device="cpu", n_envs=n_envs, max_segment_length=4, frame_stack=k)
    rng = np.random.default_rng(0)
    envs = [ChannelFirstFrameStack(_RandomFrames(rng, c), k, channel_first=True) for _ in range(n_envs)]
    stacks = np.stack([env.reset()[0] for env in envs])
    resets = 0
    for _ in range(30):
        obs = stacks.copy()
        next_obs = np.zeros_like(obs)
        dones = np.zeros(n_envs, bool)
        for e, env in enumerate(envs):
            next_obs[e], _, dones[e], _, _ = env.step(0)
            stacks[e] = env.reset()[0] if dones[e] else next_obs[e]  # auto-reset, as a VecEnv does
            resets += int(dones[e])
        for buf in (full, small):
            buf.add(obs, next_obs, np.zeros((n_envs, 1)), np.zeros(n_envs), dones.astype(np.float32), [{}] * n_envs)
    assert full.full and resets >= 3 and (full.observations[..., :c, :, :] == 0).any()  # padded stacks stored
    offsets = np.arange(k - 1, 12)
    rows = (offsets + full.pos) % 12
    for env in range(n_envs):
        cols = np.full(len(rows), env)
        a, b = full._get_samples(rows, env_indices=cols), small._get_samples(rows, env_indices=cols)
        assert torch.equal(a.observations, b.observations)
        assert torch.equal(a.next_observations, b.next_observations)
    assert small.observations.nbytes * k == full.observations.nbytes


def test_full_frame_stacked_buffer_never_samples_rows_without_their_history():
    """In a full buffer storing single frames, the ``frame_stack - 1`` oldest rows have lost
    the frames before them: they are never sampled, by ``sample`` or as pair anchors."""
    size, k = 16, 4
    space = spaces.Box(0, 255, (k, 5, 5), np.uint8)
    buf = SegmentReplayBuffer(size, space, ACT, device="cpu", frame_stack=k, max_segment_length=8)
    for t in range(size + 5):  # full, wrapped: pos = 5
        obs = np.full((1, k, 5, 5), t % 255, np.uint8)
        buf.add(obs, obs, np.zeros((1, 1)), np.zeros(1, np.float32), np.zeros(1, np.float32), [{}])
    assert buf.full and buf._min_offset == k - 1
    np.random.seed(0)
    rows = buf._sample_rows(10_000)
    age = (rows - buf.pos) % size  # 0 = the oldest row
    assert age.min() == k - 1 and set(age) == set(range(k - 1, size))


def test_full_frame_stacked_buffer_never_draws_a_partner_without_its_history():
    """Partners too: with 2 rows overwritten, the segment of steps 0-7 keeps steps 2-7, of
    which steps 2-4 (the 3 oldest rows) have lost the frames before them. Anchors at steps
    5-7 must draw their partners among steps 5-7 (the trim of the segment's length; without
    it about 1 partner in 7 lacked its history)."""
    size, k = 16, 4
    space = spaces.Box(0, 255, (k, 5, 5), np.uint8)
    buf = SegmentReplayBuffer(size, space, ACT, device="cpu", frame_stack=k, max_segment_length=8)
    for t in range(size + 2):  # full, wrapped: pos = 2, rows hold steps 2-17
        obs = np.full((1, k, 5, 5), t % 255, np.uint8)
        buf.add(obs, obs, np.zeros((1, 1)), np.zeros(1, np.float32), np.zeros(1, np.float32), [{}])
    assert buf.full and buf.pos == 2
    np.random.seed(0)
    anchors = np.repeat(np.array([5, 6, 7]), 1000)  # rows = steps here (pos 2: no wrap yet)
    partners = buf.positive_rows(anchors, np.zeros(len(anchors), np.int64))
    assert set(partners.tolist()) == {5, 6, 7} and (partners != anchors).all()
    pairs = buf.sample_pairs(5000)
    n = len(pairs.segment_ids) // 2
    stacks = pairs.observations.numpy()
    ages = ((stacks[:, -1, 0, 0].astype(np.int64) - 2) % size)  # newest frame's step -> age
    assert ages.min() >= k - 1
    assert (pairs.segment_ids[:n] == pairs.segment_ids[n:]).all()


def test_bad_input_is_refused_before_anything_is_stored():
    buf = make(size=128, n_envs=2)
    with pytest.raises(ValueError, match="the buffer is empty"):
        buf.sample(4)
    fill(buf, [[0.0, 1.0]])
    obs = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError, match=r"reward must hold one value per env \(2\)"):
        buf.add(obs, obs, np.zeros((2, 1)), np.zeros(3), np.zeros(2), [{}, {}])
    assert buf.pos == 1 and (buf.segment_ids[1] == -1).all()  # nothing written: row 1 still free
    fill(buf, [[0.0, 0.0]])
    assert buf.pos == 2 and (buf.segment_ids[:2] >= 0).all()
    with pytest.raises(ValueError, match="n_steps must be >= 1"):
        make(n_steps=0)


def test_buffer_smaller_than_its_frame_stack_is_refused():
    """With ``buffer_size < frame_stack`` no row of a full buffer keeps its history: sampling
    failed with numpy's ``low >= high``."""
    space = spaces.Box(0, 255, (4, 5, 5), np.uint8)
    with pytest.raises(ValueError, match=r"buffer_size \(3\) must be >= frame_stack \(4\)"):
        SegmentReplayBuffer(3, space, ACT, device="cpu", frame_stack=4, max_segment_length=1)
    SegmentReplayBuffer(4, space, ACT, device="cpu", frame_stack=4, max_segment_length=1)
