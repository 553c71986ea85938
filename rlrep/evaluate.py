"""Policy evaluation (Atari: raw game score, no life-loss terminals) and human-normalised scores."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm

from rlrep.envs import EnvSpec, make_vec_env

#: Human, random, DER, CURL and SimPLe scores of the 26 Atari-100k games (CURL paper, Table 2).
SCORES_CSV = Path(__file__).resolve().parent / "data" / "atari100k_scores.csv"


def evaluate(model: BaseAlgorithm, spec: EnvSpec, episodes: int, seed: int, epsilon: float = 0.001) -> list[float]:
    """Returns of ``episodes`` full episodes on a fresh evaluation env seeded ``seed``.

    Greedy/deterministic actions; Atari takes a random action with probability ``epsilon`` (DER's
    evaluation epsilon). Uses its own RNG, so it never disturbs the training RNG streams.
    """
    env = make_vec_env(spec, n_envs=1, seed=seed, evaluation=True)
    rng = np.random.default_rng(seed)
    returns: list[float] = []
    obs = env.reset()
    while len(returns) < episodes:
        action, _ = model.predict(obs, deterministic=True)
        if spec.is_atari and rng.random() < epsilon:
            action = np.array([rng.integers(env.action_space.n)])
        obs, _, dones, infos = env.step(action)
        if dones[0] and "episode" in infos[0]:
            returns.append(float(infos[0]["episode"]["r"]))
    env.close()
    return returns


def human_normalized(game: str, score: float, table: Path = SCORES_CSV) -> float | None:
    """``(score - random) / (human - random)`` from the Atari-100k table, ``None`` if the game is absent.

    A missing table is an error, not ``None``: it ships with the package, and a silent
    ``None`` left every Atari run's ``human_normalized_score`` empty."""
    if not table.exists():
        raise FileNotFoundError(
            f"Atari score table {table} not found; it ships with rlrep as package data: "
            f"reinstall the package (pip install -e .) or pass table=<csv with game, human, "
            f"random columns>")
    with table.open() as f:
        for row in csv.DictReader(f):
            if row["game"] == game:
                human, random = float(row["human"]), float(row["random"])
                return (score - random) / (human - random)
    return None


def atari_game(env_id: str) -> str:
    """``RoadRunnerNoFrameskip-v4`` -> ``RoadRunner``."""
    return env_id.removesuffix("NoFrameskip-v4")
