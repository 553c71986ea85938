"""Atari-100k protocol, DMC wrappers, frame stacking, env-id errors, exact env snapshots, evaluation."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3.common.atari_wrappers import ClipRewardEnv, EpisodicLifeEnv, MaxAndSkipEnv
from stable_baselines3.common.env_checker import check_env

from rlrep.envs import UnknownEnvError, make_env, make_vec_env, parse_env_id
from rlrep.envs.frame_stack import ChannelFirstFrameStack
from rlrep.envs.snapshot import get_vec_env_snapshot, set_vec_env_snapshot


def _wrappers(env):
    found = []
    while hasattr(env, "env"):
        found.append(type(env))
        env = env.env
    return found, env


def test_atari_protocol():
    spec = parse_env_id("PongNoFrameskip-v4")
    train_env, eval_env = make_env(spec), make_env(spec, evaluation=True)
    check_env(train_env)
    assert train_env.observation_space.shape == (4, 84, 84)
    layers, base = _wrappers(train_env)
    ale = base.ale
    assert ale.getFloat("repeat_action_probability") == 0.0  # no sticky actions
    assert ale.getInt("max_num_frames_per_episode") == 108_000  # 108k-frame cap
    assert ale.getInt("frame_skip") == 1 and base._frameskip == 1  # skipping happens in MaxAndSkipEnv
    skip = next(w for w in _iter(train_env) if isinstance(w, MaxAndSkipEnv))
    assert skip._skip == 4
    assert EpisodicLifeEnv in layers and ClipRewardEnv in layers
    eval_layers, _ = _wrappers(eval_env)
    assert EpisodicLifeEnv not in eval_layers and ClipRewardEnv not in eval_layers  # raw score, game-over only


def _iter(env):
    while True:
        yield env
        if not hasattr(env, "env"):
            return
        env = env.env


def test_dmc_state_and_pixels():
    state = make_env(parse_env_id("dmc-state:cartpole-swingup"))
    check_env(state)
    assert state.action_space.dtype == np.float32 and state.unwrapped.action_repeat == 8
    pixels = make_env(parse_env_id("dmc:walker-walk"))
    assert pixels.observation_space.shape == (9, 100, 100)
    assert pixels.unwrapped.action_repeat == 2
    assert parse_env_id("dmc:cheetah-run").action_repeat == 4


def test_dmc_time_limit_is_a_truncation():
    """DMC tasks end at 1000 physics steps (125 agent steps at cartpole's action repeat 8)
    by the time limit: truncated, not terminated, so the critic bootstraps there."""
    env = make_env(parse_env_id("dmc-state:cartpole-swingup"))
    env.reset(seed=0)
    zero = np.zeros(env.action_space.shape, np.float32)
    for step in range(1, 126):
        _, _, terminated, truncated, _ = env.step(zero)
        assert not terminated and truncated == (step == 125), step


@pytest.mark.parametrize("bad", ["Pong-v5", "ALE/Pong-v5", "dmc:cartpole-nope", "dmc-state:", "cartpole"])
def test_unknown_env_id_explains_naming(bad):
    with pytest.raises(UnknownEnvError, match="PongNoFrameskip-v4") as info:
        parse_env_id(bad)
    assert "dmc-state:cartpole-swingup" in str(info.value)


@pytest.mark.parametrize("near, meant", [
    ("Pong-v4", "PongNoFrameskip-v4"), ("pongnoframeskip-v4", "PongNoFrameskip-v4"),
    ("ALE/RoadRunner-v5", "RoadRunnerNoFrameskip-v4"), ("BreakoutNoFrameskip-v5", "BreakoutNoFrameskip-v4"),
])
def test_near_miss_atari_id_is_answered_with_the_id_meant(near, meant):
    with pytest.raises(UnknownEnvError, match=f"did you mean {meant}\\?"):
        parse_env_id(near)


def test_unrelated_id_gets_no_guess():
    with pytest.raises(UnknownEnvError) as info:
        parse_env_id("CartPole-v1")
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize("env_id", ["PongNoFrameskip-v4", "dmc-state:cartpole-swingup",
                                    "dmc-state:reacher-easy", "dmc-state:finger-spin"])
def test_env_snapshot_restores_exactly(env_id):
    """Restored into an env of another seed, the snapshot continues bit for bit; reacher and
    finger edit the physics model at reset (target position, damping), which it carries."""
    spec = parse_env_id(env_id)
    venv, other = make_vec_env(spec, seed=3), make_vec_env(spec, seed=99)
    venv.reset()
    # other stays as built, un-reset: as on resume, where the snapshot is applied to a fresh env
    for _ in range(40):
        venv.step(np.array([venv.action_space.sample()]))
    set_vec_env_snapshot(other, get_vec_env_snapshot(venv))
    actions = [np.array([venv.action_space.sample()]) for _ in range(300)]
    ends = 0
    for action in actions:
        a, b = venv.step(action), other.step(action)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        np.testing.assert_array_equal(a[2], b[2])
        ends += int(a[2][0])
    if env_id == "dmc-state:cartpole-swingup":  # 125-step episodes: the run crosses ends and resets
        assert ends >= 2


class _CountingFrames(gym.Env):
    """Frame ``t`` (1, 2, ... since construction): every pixel and channel distinct, never 0."""

    PATTERN = np.arange(4 * 5 * 2, dtype=np.uint8).reshape(4, 5, 2)  # [H, W, C] channel-last

    def __init__(self, channel_first: bool) -> None:
        self.channel_first = channel_first
        shape = (2, 4, 5) if channel_first else (4, 5, 2)
        self.observation_space = spaces.Box(0, 255, shape, np.uint8)
        self.action_space = spaces.Discrete(2)
        self.t = 0

    def frame(self, t: int) -> np.ndarray:
        """Frame ``t`` as ``[C, H, W]``."""
        return np.transpose((self.PATTERN.astype(np.int64) + 35 * t) % 255 + 1, (2, 0, 1)).astype(np.uint8)

    def _next(self) -> np.ndarray:
        self.t += 1
        f = self.frame(self.t)
        return f if self.channel_first else np.transpose(f, (1, 2, 0))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._next(), {}

    def step(self, action):
        return self._next(), 0.0, False, False, {}


@pytest.mark.parametrize("channel_first", [False, True])
def test_frame_stack_zero_pads_at_every_reset(channel_first):
    base = _CountingFrames(channel_first)
    env = ChannelFirstFrameStack(base, n_stack=3, channel_first=channel_first)
    assert env.observation_space.shape == (6, 4, 5) and env.observation_space.dtype == np.uint8
    zero = np.zeros((2, 4, 5), np.uint8)

    def stack(*frames):  # oldest first, channel-first
        return np.concatenate(frames, axis=0)

    first, _ = env.reset()
    np.testing.assert_array_equal(first, stack(zero, zero, base.frame(1)))
    second = env.step(0)[0]
    np.testing.assert_array_equal(second, stack(zero, base.frame(1), base.frame(2)))
    np.testing.assert_array_equal(first, stack(zero, zero, base.frame(1)))  # returned stacks are copies
    env.step(0)
    full = env.step(0)[0]
    np.testing.assert_array_equal(full, stack(base.frame(2), base.frame(3), base.frame(4)))
    after_reset, _ = env.reset()  # the old episode's frames are gone: zeros, then the new first frame
    np.testing.assert_array_equal(after_reset, stack(zero, zero, base.frame(5)))
    np.testing.assert_array_equal(env.step(0)[0], stack(zero, base.frame(5), base.frame(6)))
    check_env(ChannelFirstFrameStack(_CountingFrames(channel_first), n_stack=3, channel_first=channel_first), warn=False)


def test_evaluate_returns_whole_episode_scores():
    from rlrep.agents import AuxSAC
    from rlrep.agents.encoders import StateEncoder
    from rlrep.evaluate import evaluate

    spec = parse_env_id("dmc-state:cartpole-swingup")
    kwargs = dict(policy_kwargs=dict(features_extractor_class=StateEncoder, net_arch=[32, 32]))
    model = AuxSAC(env=make_vec_env(spec, seed=0), buffer_size=100, learning_starts=10, seed=0, **kwargs)
    np.random.seed(5)
    global_rng = np.random.get_state()[1].copy()
    returns = evaluate(model, spec, episodes=2, seed=7)
    assert np.array_equal(np.random.get_state()[1], global_rng)  # its own RNG: training streams untouched
    assert len(returns) == 2 and all(isinstance(r, float) for r in returns)
    # the same rollout by hand: deterministic actions, sum of rewards up to each episode end
    env = make_vec_env(spec, seed=7, evaluation=True)
    obs, total, by_hand, steps = env.reset(), 0.0, [], 0
    while len(by_hand) < 2:
        action, _ = model.predict(obs, deterministic=True)
        obs, reward, done, _ = env.step(action)
        total, steps = total + float(reward[0]), steps + 1
        if done[0]:
            by_hand.append(total)
            total = 0.0
    assert steps == 2 * 1000 // spec.action_repeat  # two whole 1000-step DMC episodes
    np.testing.assert_allclose(returns, by_hand, rtol=1e-5, atol=1e-5)
    assert by_hand[0] > 0 and by_hand[0] != by_hand[1]


def test_evaluation_relaunches_breakout_after_a_lost_life():
    """Training's FIRE-on-reset relaunches the game at every life-loss episode end; the
    full-game evaluation presses FIRE after each lost life, or an idle policy would hold
    Breakout at its second life until the frame cap."""
    from rlrep.envs.atari import make_atari

    env = make_atari("BreakoutNoFrameskip-v4", evaluation=True)
    env.reset(seed=0)
    steps, terminated, truncated = 0, False, False
    while not (terminated or truncated) and steps < 2000:
        *_, terminated, truncated, _ = env.step(0)  # NOOP only
        steps += 1
    assert terminated and env.unwrapped.ale.lives() == 0 and steps < 500


def test_triton_is_imported_before_dm_control_loads_its_renderer(tmp_path):
    """CUDA builds of torch import triton on first optimiser use; after dm_control's EGL
    renderer is loaded that import crashed the process (torch 2.14.1+cu130). A stand-in
    triton records whether dm_control was already imported when it was."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    fake = tmp_path / "site" / "triton"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "import sys, pathlib\n"
        f"pathlib.Path({str(tmp_path / 'order')!r}).write_text("
        "str(any(m.startswith('dm_control') for m in sys.modules)))\n")
    code = ("from rlrep.envs import make_vec_env, parse_env_id\n"
            "make_vec_env(parse_env_id('dmc-state:cartpole-swingup'), seed=0).close()\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake.parent), str(root)])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=tmp_path,
                   capture_output=True)
    assert (tmp_path / "order").read_text() == "False"  # triton came first
