"""Exact snapshots of a running :class:`~stable_baselines3.common.vec_env.DummyVecEnv`.

A checkpoint must let training continue *as if never stopped*, so the environments' internal
state is saved with it: the emulator / physics state and its RNGs (ALE ``clone_state(include_rng)``,
MuJoCo's full integration state), the env's ``np_random`` (used by SB3's no-op reset), and the
plain-data attributes of every wrapper in the chain (frame stacks, ``EpisodicLifeEnv`` lives,
``Monitor`` running episode, ...).
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

_SCALARS = (bool, int, float, str, type(None), np.generic)
_SKIP = {"env", "_action_space", "_observation_space", "_metadata", "_reward_range", "spec", "_cached_spec"}


def _is_plain(value: Any) -> bool:
    if isinstance(value, (*_SCALARS, np.ndarray)):
        return True
    if isinstance(value, list | tuple):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def _layers(env: gym.Env) -> list[gym.Env]:
    layers = [env]
    while isinstance(layers[-1], gym.Wrapper):
        layers.append(layers[-1].env)
    return layers


def get_env_snapshot(env: gym.Env) -> dict[str, Any]:
    """State of one (wrapped) env: plain attributes of each layer, then the base env's own state."""
    layers = _layers(env)
    attrs = [{k: copy.deepcopy(v) for k, v in vars(layer).items() if k not in _SKIP and _is_plain(v)} for layer in layers]
    base = layers[-1]
    snapshot: dict[str, Any] = {"attrs": attrs, "np_random": base.np_random.bit_generator.state}
    if hasattr(base, "clone_state"):  # ale_py AtariEnv
        snapshot["ale"] = base.clone_state(include_rng=True)
    elif hasattr(base, "get_snapshot"):  # rlrep DMCEnv
        snapshot["base"] = base.get_snapshot()
    return snapshot


def set_env_snapshot(env: gym.Env, snapshot: dict[str, Any]) -> None:
    """Inverse of :func:`get_env_snapshot` on an env built with the same constructor."""
    layers = _layers(env)
    assert len(layers) == len(snapshot["attrs"]), "env wrapper chain differs from the snapshot's"
    for layer, attrs in zip(layers, snapshot["attrs"], strict=True):
        for key, value in attrs.items():
            setattr(layer, key, copy.deepcopy(value))
    base = layers[-1]
    base.np_random.bit_generator.state = snapshot["np_random"]
    if "ale" in snapshot:
        base.restore_state(snapshot["ale"])
    elif "base" in snapshot:
        base.set_snapshot(snapshot["base"])


def get_vec_env_snapshot(venv: VecEnv) -> list[dict[str, Any]]:
    """Snapshots of every sub-env of a :class:`DummyVecEnv` (the only VecEnv rlrep builds)."""
    assert isinstance(venv, DummyVecEnv), "exact resume needs a DummyVecEnv"
    return [get_env_snapshot(e) for e in venv.envs]


def set_vec_env_snapshot(venv: VecEnv, snapshots: list[dict[str, Any]]) -> None:
    assert isinstance(venv, DummyVecEnv), "exact resume needs a DummyVecEnv"
    for env, snapshot in zip(venv.envs, snapshots, strict=True):
        set_env_snapshot(env, snapshot)
