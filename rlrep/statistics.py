"""Aggregate RL scores the way rliable recommends (Agarwal et al., NeurIPS 2021,
https://arxiv.org/abs/2108.13264): interquartile mean with stratified-bootstrap confidence
intervals, and the probability that one arm improves on another.

Scores are ``[num_runs, num_tasks]`` arrays (e.g. human-normalised Atari scores, one column per
game, one row per seed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    """A point estimate and its confidence interval."""

    point: float
    low: float
    high: float


def _check(scores: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for name, arr in scores.items():
        arr = np.asarray(arr, dtype=float)
        if arr.ndim != 2 or arr.size == 0:
            raise ValueError(f"scores[{name!r}] must be a non-empty [num_runs, num_tasks] array, got shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError(f"scores[{name!r}] contains NaN or inf")
        out[name] = arr
    return out


def iqm_with_ci(scores: Mapping[str, np.ndarray], reps: int = 2000, seed: int = 0) -> dict[str, Interval]:
    """IQM of each arm's ``[runs, tasks]`` scores with a 95% stratified-bootstrap interval."""
    from rliable import library as rly
    from rliable import metrics

    scores = _check(scores)
    point, ci = rly.get_interval_estimates(
        scores,
        lambda x: np.array([metrics.aggregate_iqm(x)]),
        reps=reps,
        random_state=np.random.RandomState(seed),
    )
    return {k: Interval(float(point[k][0]), float(ci[k][0, 0]), float(ci[k][1, 0])) for k in scores}


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) averaged over tasks (ties count half), for ``[runs, tasks]`` arrays ``x`` and ``y``."""
    from rliable import metrics

    checked = _check({"x": x, "y": y})
    if checked["x"].shape[1] != checked["y"].shape[1]:
        raise ValueError("x and y must cover the same tasks (same number of columns)")
    return float(metrics.probability_of_improvement(checked["x"], checked["y"]))
