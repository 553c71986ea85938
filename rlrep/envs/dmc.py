"""DeepMind Control Suite as gymnasium environments (a small dm_env wrapper of our own).

Pixels (``dmc:<domain>-<task>``): ``physics.render`` at 100x100 (camera 2 for quadruped, else 0),
channel-first, 3 frames stacked -> ``uint8 [9, 100, 100]``. The agent random-crops to 84x84 when
training and center-crops when acting (see :mod:`rlrep.auxiliary.augment`), as CURL does.
States (``dmc-state:<domain>-<task>``): the flattened observation dict -> ``float32 [D]``.
Both: actions ``float32`` in the task's bounds (``[-1, 1]`` for every suite task), action repeat
per domain (CURL/PlaNet: 2 finger and walker, 8 cartpole, 4 otherwise), rewards summed over the
repeats. The suite's 1000-step time limit ends an episode as ``truncated``; a task termination
(discount 0) as ``terminated``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rlrep.envs.frame_stack import ChannelFirstFrameStack

# Must be set before dm_control is first imported: headless software rendering works on the CPU here.
os.environ.setdefault("MUJOCO_GL", "egl")


def dm_control_suite() -> ModuleType:
    """``dm_control.suite``, imported after triton where triton is installed.

    CUDA builds of torch ship triton, which torch imports on first use of an optimiser
    (``torch._dynamo``). Imported after dm_control has loaded Mesa's EGL (``MUJOCO_GL=egl``),
    triton's LLVM crashes the process with a segmentation fault (seen with torch 2.14.1+cu130:
    ``rlrep train --env dmc-state:...`` died building SAC's Adam); imported first, both work.
    """
    if "dm_control.suite" not in sys.modules and importlib.util.find_spec("triton") is not None:
        import triton  # noqa: F401
    from dm_control import suite

    return suite

ACTION_REPEAT = {"finger": 2, "walker": 2, "cartpole": 8}
DEFAULT_ACTION_REPEAT = 4
PIXEL_SIZE = 100
PIXEL_FRAME_STACK = 3


def default_action_repeat(domain: str) -> int:
    """The per-domain action repeat of PlaNet/CURL (2 finger/walker, 8 cartpole, 4 others)."""
    return ACTION_REPEAT.get(domain, DEFAULT_ACTION_REPEAT)


def dmc_task_exists(domain: str, task: str) -> bool:
    return (domain, task) in dm_control_suite().ALL_TASKS


class DMCEnv(gym.Env):
    """One dm_control suite task with action repeat, from pixels or from states.

    :param domain: e.g. ``"cartpole"``.
    :param task: e.g. ``"swingup"``.
    :param from_pixels: render ``[3, size, size]`` frames instead of the state vector.
    :param action_repeat: env steps per agent step (``None``: the per-domain default).
    :param size: render height and width.
    """

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(
        self,
        domain: str,
        task: str,
        *,
        from_pixels: bool,
        action_repeat: int | None = None,
        size: int = PIXEL_SIZE,
    ) -> None:
        suite = dm_control_suite()
        self.domain, self.task_name = domain, task
        self.from_pixels = from_pixels
        self.size = size
        self.action_repeat = action_repeat or default_action_repeat(domain)
        self.camera_id = 2 if domain == "quadruped" else 0
        self._env = suite.load(domain, task, task_kwargs={"random": 0})
        spec = self._env.action_spec()
        self.action_space = spaces.Box(
            spec.minimum.astype(np.float32), spec.maximum.astype(np.float32), dtype=np.float32
        )
        if from_pixels:
            self.observation_space = spaces.Box(0, 255, shape=(size, size, 3), dtype=np.uint8)
        else:
            dim = sum(int(np.prod(v.shape)) for v in self._env.observation_spec().values())
            self.observation_space = spaces.Box(-np.inf, np.inf, shape=(dim,), dtype=np.float32)

    # -- gymnasium API ----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._env.task._random = np.random.RandomState(seed)
        time_step = self._env.reset()
        return self._observe(time_step), {}

    def step(self, action: np.ndarray):
        action = np.asarray(action, dtype=np.float32)
        reward = 0.0
        for _ in range(self.action_repeat):
            time_step = self._env.step(action)
            reward += time_step.reward or 0.0
            if time_step.last():
                break
        terminated = bool(time_step.last() and time_step.discount == 0.0)
        truncated = bool(time_step.last() and not terminated)
        return self._observe(time_step), float(reward), terminated, truncated, {}

    def render(self) -> np.ndarray:
        return self._env.physics.render(height=self.size, width=self.size, camera_id=self.camera_id)

    # -- snapshot (exact resume) ------------------------------------------------------------
    def get_snapshot(self) -> dict[str, Any]:
        """Full integration state of MuJoCo plus the task RNG and the dm_env step counters."""
        import mujoco

        physics = self._env.physics
        spec = mujoco.mjtState.mjSTATE_INTEGRATION
        state = np.empty(mujoco.mj_stateSize(physics.model.ptr, spec))
        mujoco.mj_getState(physics.model.ptr, physics.data.ptr, state, spec)
        return {
            "mj_state": state,
            # tasks edit the model at reset (reacher's target, finger's damping and site
            # colours): the integration state alone would resume under the default model
            "mj_model": {name: np.array(value) for name, value in _model_arrays(physics.model.ptr)},
            "task_random": self._env.task._random.get_state(),
            "step_count": self._env._step_count,
            "reset_next_step": self._env._reset_next_step,
        }

    def set_snapshot(self, snapshot: dict[str, Any]) -> None:
        import mujoco

        physics = self._env.physics
        arrays = dict(_model_arrays(physics.model.ptr))
        for name, value in snapshot.get("mj_model", {}).items():  # absent in older checkpoints
            arrays[name][...] = value
        spec = mujoco.mjtState.mjSTATE_INTEGRATION
        mujoco.mj_setState(physics.model.ptr, physics.data.ptr, snapshot["mj_state"], spec)
        mujoco.mj_forward(physics.model.ptr, physics.data.ptr)
        self._env.task._random.set_state(snapshot["task_random"])
        self._env._step_count = snapshot["step_count"]
        self._env._reset_next_step = snapshot["reset_next_step"]

    # -- helpers ----------------------------------------------------------------------------
    def _observe(self, time_step: Any) -> np.ndarray:
        if self.from_pixels:
            return self.render()
        parts = [np.asarray(v, dtype=np.float32).reshape(-1) for v in time_step.observation.values()]
        return np.concatenate(parts)


def make_dmc(
    domain: str,
    task: str,
    *,
    from_pixels: bool,
    action_repeat: int | None = None,
    frame_stack: int = PIXEL_FRAME_STACK,
    size: int = PIXEL_SIZE,
) -> gym.Env:
    """Build a DMC env: pixels -> ``uint8 [3 * frame_stack, size, size]``; states -> ``float32 [D]``."""
    from stable_baselines3.common.monitor import Monitor

    env: gym.Env = DMCEnv(domain, task, from_pixels=from_pixels, action_repeat=action_repeat, size=size)
    env = Monitor(env)
    if from_pixels:
        env = ChannelFirstFrameStack(env, frame_stack)
    return env


#: Model arrays no task edits and too large to copy into every checkpoint (textures: 11.8 MB).
_MODEL_ARRAYS_SKIPPED = frozenset({"tex_data"})


def _model_arrays(model: Any) -> list[tuple[str, np.ndarray]]:
    """Every numeric array field of a ``mujoco.MjModel`` (views into the model, writable),
    textures excepted (:data:`_MODEL_ARRAYS_SKIPPED`)."""
    out = []
    for name in dir(model):
        if name.startswith("_") or name in _MODEL_ARRAYS_SKIPPED:
            continue
        try:
            value = getattr(model, name)
        except Exception:  # properties that need arguments or are not readable
            continue
        if isinstance(value, np.ndarray) and value.dtype.kind in "fiub" and value.flags.writeable:
            out.append((name, value))
    return out
