"""Environment ids understood by rlrep, and the factories behind them.

- ``<Game>NoFrameskip-v4`` (e.g. ``PongNoFrameskip-v4``): Atari-100k protocol, see :mod:`.atari`.
- ``dmc:<domain>-<task>`` (e.g. ``dmc:cartpole-swingup``): DeepMind Control from pixels.
- ``dmc-state:<domain>-<task>`` (e.g. ``dmc-state:cartpole-swingup``): DMC from proprioceptive states.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import gymnasium as gym
from stable_baselines3.common.vec_env import DummyVecEnv

from rlrep.envs.atari import ATARI_FRAME_STACK, closest_atari_id, is_atari_id, make_atari
from rlrep.envs.dmc import (
    PIXEL_FRAME_STACK,
    default_action_repeat,
    dm_control_suite,
    dmc_task_exists,
    make_dmc,
)
from rlrep.envs.snapshot import get_vec_env_snapshot, set_vec_env_snapshot

ENV_ID_HELP = (
    "name an environment as one of:\n"
    "  <Game>NoFrameskip-v4        Atari-100k protocol, e.g. PongNoFrameskip-v4, RoadRunnerNoFrameskip-v4\n"
    "  dmc:<domain>-<task>         DeepMind Control from pixels, e.g. dmc:cartpole-swingup\n"
    "  dmc-state:<domain>-<task>   DeepMind Control from states, e.g. dmc-state:cartpole-swingup"
)

Kind = Literal["atari", "dmc-pixels", "dmc-state"]


class UnknownEnvError(ValueError):
    """Raised for an env id rlrep cannot build; the message says how to name one."""


@dataclass(frozen=True)
class EnvSpec:
    """A parsed env id."""

    env_id: str
    kind: Kind
    domain: str = ""
    task: str = ""
    action_repeat: int = 1

    @property
    def is_atari(self) -> bool:
        return self.kind == "atari"

    @property
    def frame_stack(self) -> int:
        """Frames per observation that :func:`make_vec_env` stacks (0: states, no stack)."""
        return {"atari": ATARI_FRAME_STACK, "dmc-pixels": PIXEL_FRAME_STACK}.get(self.kind, 0)


def parse_env_id(env_id: str, action_repeat: int | None = None) -> EnvSpec:
    """Validate ``env_id`` and say which family it belongs to.

    :raises UnknownEnvError: with :data:`ENV_ID_HELP` in the message.
    """
    for prefix, kind in (("dmc-state:", "dmc-state"), ("dmc:", "dmc-pixels")):
        if env_id.startswith(prefix):
            name = env_id[len(prefix) :]
            domain, _, task = name.partition("-")
            task = task.replace("-", "_")
            if not task or not dmc_task_exists(domain, task):
                known = ", ".join(f"{d}-{t}" for d, t in dm_control_suite().BENCHMARKING[:8])
                raise UnknownEnvError(
                    f"unknown DeepMind Control task {name!r} (examples: {known}, ...).\n{ENV_ID_HELP}"
                )
            repeat = action_repeat or default_action_repeat(domain)
            return EnvSpec(env_id, kind, domain, task, repeat)  # type: ignore[arg-type]
    if is_atari_id(env_id):
        if action_repeat not in (None, 4):
            raise ValueError(f"Atari's frame skip is fixed at 4 (the Atari-100k protocol); "
                             f"drop --action-repeat {action_repeat}")
        return EnvSpec(env_id, "atari", action_repeat=4)
    hint = ""
    if env_id.startswith("ALE/"):
        hint = " (ALE/*-v5 ids use sticky actions and frame-skip 4: use <Game>NoFrameskip-v4)"
    suggestion = closest_atari_id(env_id)
    end = "." if suggestion is None else f"; did you mean {suggestion}?"
    raise UnknownEnvError(f"unknown environment id {env_id!r}{hint}{end}\n{ENV_ID_HELP}")


def make_env(spec: EnvSpec, *, evaluation: bool = False) -> gym.Env:
    """One gymnasium env for ``spec`` (``evaluation``: Atari raw score, no life-loss terminals)."""
    if spec.kind == "atari":
        return make_atari(spec.env_id, evaluation=evaluation)
    return make_dmc(spec.domain, spec.task, from_pixels=spec.kind == "dmc-pixels", action_repeat=spec.action_repeat)


def make_vec_env(spec: EnvSpec, n_envs: int = 1, *, seed: int | None = None, evaluation: bool = False) -> DummyVecEnv:
    """A :class:`DummyVecEnv` of ``n_envs`` copies, seeded ``seed, seed + 1, ...`` at the first reset."""
    venv = DummyVecEnv([lambda: make_env(spec, evaluation=evaluation) for _ in range(n_envs)])
    if seed is not None:
        venv.seed(seed)
        venv.action_space.seed(seed)
    return venv


__all__ = [
    "ENV_ID_HELP",
    "EnvSpec",
    "UnknownEnvError",
    "get_vec_env_snapshot",
    "make_env",
    "make_vec_env",
    "parse_env_id",
    "set_vec_env_snapshot",
]
