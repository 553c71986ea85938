"""Atari with the Atari-100k protocol (as used by DER, CURL and SPR).

``<Game>NoFrameskip-v4`` (ale-py: frame-skip 1 inside ALE, no sticky actions, 108k-frame cap)
wrapped by SB3's :class:`~stable_baselines3.common.atari_wrappers.AtariWrapper` (up to 30 no-op
starts, frame-skip 4 with max-pooling, 84x84 grey, FIRE on reset where needed) and a channel-first
4-frame stack: observations are ``uint8 [4, 84, 84]``.

Training env: reward clipped to {-1, 0, 1} and a life loss ends the (RL) episode.
Evaluation env: raw game score and only game-over ends the episode.
A :class:`~stable_baselines3.common.monitor.Monitor` sits *under* the Atari wrappers so that the
episode returns it reports are always the raw score of a full game.
"""

from __future__ import annotations

import difflib
from typing import Any

import gymnasium as gym
from stable_baselines3.common.atari_wrappers import AtariWrapper
from stable_baselines3.common.monitor import Monitor

from rlrep.envs.frame_stack import ChannelFirstFrameStack

ATARI_FRAME_SKIP = 4
ATARI_FRAME_STACK = 4
ATARI_MAX_FRAMES = 108_000
#: The Atari evaluation protocol, recorded in each run's ``results.json``
#: (``eval_protocol``): raw score, no life-loss terminals, FIRE after each lost life
#: (:class:`FireAfterLifeLoss`, since session 16). Runs without the key predate it:
#: their evaluations waited for the policy to press FIRE.
ATARI_EVAL_PROTOCOL = "fire-after-life-loss"


def _register_ale() -> None:
    import ale_py

    gym.register_envs(ale_py)


def is_atari_id(env_id: str) -> bool:
    """True for ``<Game>NoFrameskip-v4`` ids known to gymnasium once ale-py is registered."""
    if not env_id.endswith("NoFrameskip-v4"):
        return False
    _register_ale()
    return env_id in gym.registry


def closest_atari_id(env_id: str) -> str | None:
    """The ``<Game>NoFrameskip-v4`` id a near-miss names (``Pong-v4``, ``ALE/Pong-v5``,
    ``pongnoframeskip-v4``), or None."""
    _register_ale()
    known = [k for k in gym.registry if k.endswith("NoFrameskip-v4") and "-ram" not in k]
    game = env_id.removeprefix("ALE/").split("-")[0].removesuffix("NoFrameskip")
    by_game = {k.removesuffix("NoFrameskip-v4").lower(): k for k in known}
    if game.lower() in by_game:
        return by_game[game.lower()]
    close = difflib.get_close_matches(env_id, known, n=1, cutoff=0.8)
    return close[0] if close else None


def make_atari(env_id: str, *, evaluation: bool = False, frame_stack: int = ATARI_FRAME_STACK) -> gym.Env:
    """Build one Atari-100k environment.

    :param env_id: a ``<Game>NoFrameskip-v4`` id, e.g. ``PongNoFrameskip-v4``.
    :param evaluation: raw rewards and no life-loss terminals (the evaluation protocol).
    :return: an env with ``uint8 [frame_stack, 84, 84]`` observations and a Discrete action space.
    """
    _register_ale()
    env = gym.make(env_id, max_num_frames_per_episode=ATARI_MAX_FRAMES, repeat_action_probability=0.0)
    env = Monitor(env)
    env = AtariWrapper(
        env,
        noop_max=30,
        frame_skip=ATARI_FRAME_SKIP,
        screen_size=84,
        terminal_on_life_loss=not evaluation,
        clip_reward=not evaluation,
        action_repeat_probability=0.0,
    )
    if evaluation and "FIRE" in env.unwrapped.get_action_meanings():
        env = FireAfterLifeLoss(env)
    return ChannelFirstFrameStack(env, frame_stack)


class FireAfterLifeLoss(gym.Wrapper):
    """Evaluation's counterpart of training's FIRE on reset: after each lost life, press FIRE
    (actions 1 then 2, as SB3's ``FireResetEnv`` does on reset).

    Training ends an episode at every life loss, so ``FireResetEnv`` relaunches the game
    and the agent never learns to; evaluation plays the full game, where a game such as
    Breakout would otherwise wait, until the policy happens to pick FIRE or the frame cap.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.lives = 0

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        obs, info = self.env.reset(**kwargs)
        self.lives = int(self.env.unwrapped.ale.lives())
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        lives = int(self.env.unwrapped.ale.lives())
        if 0 < lives < self.lives and not (terminated or truncated):
            for fire in (1, 2):
                obs, extra, terminated, truncated, info = self.env.step(fire)
                reward += extra
                if terminated or truncated:
                    break
        self.lives = int(self.env.unwrapped.ale.lives())
        return obs, reward, terminated, truncated, info
