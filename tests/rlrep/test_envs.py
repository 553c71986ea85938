"""Atari-100k protocol, DMC wrappers, env-id errors, exact env snapshots."""

import numpy as np
import pytest
from stable_baselines3.common.atari_wrappers import ClipRewardEnv, EpisodicLifeEnv, MaxAndSkipEnv
from stable_baselines3.common.env_checker import check_env

from rlrep.envs import UnknownEnvError, make_env, make_vec_env, parse_env_id
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


@pytest.mark.parametrize("bad", ["Pong-v5", "ALE/Pong-v5", "dmc:cartpole-nope", "dmc-state:", "cartpole"])
def test_unknown_env_id_explains_naming(bad):
    with pytest.raises(UnknownEnvError, match="PongNoFrameskip-v4") as info:
        parse_env_id(bad)
    assert "dmc-state:cartpole-swingup" in str(info.value)


@pytest.mark.parametrize("env_id", ["PongNoFrameskip-v4", "dmc-state:cartpole-swingup"])
def test_env_snapshot_restores_exactly(env_id):
    spec = parse_env_id(env_id)
    venv, other = make_vec_env(spec, seed=3), make_vec_env(spec, seed=99)
    venv.reset()
    other.reset()
    rng = np.random.default_rng(0)
    for _ in range(40):
        venv.step(np.array([venv.action_space.sample()]))
    set_vec_env_snapshot(other, get_vec_env_snapshot(venv))
    actions = [np.array([venv.action_space.sample()]) for _ in range(300)]
    del rng
    for action in actions:  # crosses life losses / episode ends and their resets
        a, b = venv.step(action), other.step(action)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        np.testing.assert_array_equal(a[2], b[2])
