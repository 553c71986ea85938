"""The run callback: periodic evaluation, checkpoints and ``metrics.jsonl`` lines.

Evaluations and checkpoints happen in ``_on_rollout_start``: the moment after the previous
gradient update and before the next environment step, where the whole training state is
consistent, so a run resumed from there continues exactly as the uninterrupted one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

from rlrep.checkpoints import save_checkpoint
from rlrep.config import TrainConfig
from rlrep.evaluate import evaluate
from rlrep.log_state import capture
from shared.checkpoint import finite_or_null

#: TensorBoard tag of the evaluation points
EVAL_TAG = "eval/mean_return"


#: what each type of ``metrics.jsonl`` record holds besides its integer ``step``
METRICS_KEYS = {"episode": ("return", "length"), "eval": ("returns", "mean_return")}


def metrics_record_problem(record: Any) -> str | None:
    """Why ``record`` is not a ``metrics.jsonl`` record (``None`` if it is): a ``check``
    for :func:`shared.checkpoint.read_json_lines`."""
    step = record.get("step") if isinstance(record, dict) else None
    if not isinstance(step, int) or isinstance(step, bool):
        return 'not a metrics record (an object with an integer "step")'
    kind = record.get("type")
    missing = [k for k in (METRICS_KEYS.get(kind, ()) if isinstance(kind, str) else ())
               if k not in record]
    if missing:
        return f"not a metrics record ({record['type']!r} without {', '.join(missing)})"
    return None


class RunCallback(BaseCallback):
    """Checkpoint every ``checkpoint_freq`` steps, evaluate every ``eval_freq``, log episodes.

    :param counters: ``{"next_eval": int, "next_checkpoint": int}``, restored from a checkpoint on resume.
    :param logged_train: ``(step, losses)``: the training losses an earlier process logged with
        its final evaluation at ``step``, the checkpoint a raised budget resumes from; an
        evaluation at that step before this process's first update logs them, as an
        uninterrupted run would (null otherwise).
    """

    def __init__(self, config: TrainConfig, run_dir: Path, counters: dict[str, int] | None = None,
                 logged_train: tuple[int, dict[str, float] | None] | None = None) -> None:
        super().__init__()
        self.config = config
        self.run_dir = run_dir
        self.counters = counters or {"next_eval": config.eval_freq, "next_checkpoint": config.checkpoint_freq}
        self.eval_history: list[dict[str, Any]] = []
        self.logged_train = logged_train

    def write_metric(self, record: dict[str, Any]) -> dict[str, Any]:
        """Append ``record`` to metrics.jsonl as strict JSON (a NaN, e.g. rcrl/* before any
        segment closed, as null); returns what was written."""
        record = finite_or_null(record)
        with (self.run_dir / "metrics.jsonl").open("a") as f:
            f.write(json.dumps(record, allow_nan=False) + "\n")
        return record

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", []):
            if "episode" in info:
                episode = info["episode"]
                self.write_metric({"type": "episode", "step": self.num_timesteps, "return": float(episode["r"]), "length": int(episode["l"])})
        return True

    def _on_rollout_start(self) -> None:
        step = self.num_timesteps
        if step >= self.counters["next_eval"]:
            self.run_evaluation(self.config.eval_episodes)
            self.counters["next_eval"] = (step // self.config.eval_freq + 1) * self.config.eval_freq
        if step >= self.counters["next_checkpoint"]:
            self.counters["next_checkpoint"] = (step // self.config.checkpoint_freq + 1) * self.config.checkpoint_freq
            self.checkpoint()

    def run_evaluation(self, episodes: int, final: bool = False) -> dict[str, Any]:
        """Evaluate for ``episodes`` episodes and log the record (``final``: the run's last
        evaluation, after its last checkpoint)."""
        step = self.num_timesteps
        returns = evaluate(self.model, self.config.env_spec, episodes, seed=(self.config.seed + 10_000 + step) % 2**32, epsilon=self.config.eval_epsilon) if episodes else []
        # no episodes, no score (null), rather than a 0.0 nobody measured
        record = {"type": "eval", "step": step, "returns": returns,
                  "mean_return": sum(returns) / len(returns) if returns else None}
        if final:
            record["final"] = True
        train_logs = {k: float(v) for k, v in self.model.logger.name_to_value.items()
                      if k.startswith(("train/", "aux/", "rcrl/"))}
        if not train_logs and self.logged_train is not None and self.logged_train[0] == step:
            train_logs = self.logged_train[1] or {}  # the same agent's, logged before the resume
        # null: no update logged (none yet, or a run resumed at its budget from a checkpoint
        # that kept no pending values), not "no losses"
        record["train"] = train_logs or None
        return self.log_evaluation(finite_or_null(record))

    def log_evaluation(self, record: dict[str, Any], tensorboard: bool = True) -> dict[str, Any]:
        """Write an evaluation ``record`` to TensorBoard (with the values sb3's logger holds)
        and then to metrics.jsonl; returns what was written. A resume passes the final
        evaluation its killed process logged (``tensorboard=False`` where that point is
        still in the event files, a checkpoint that recorded no event-file sizes, and
        without TensorBoard: the logger then writes nowhere)."""
        if record["returns"] and tensorboard:
            self.logger.record(EVAL_TAG, record["mean_return"])
            # written at its own step now, not at the next episode end: before the
            # checkpoint that follows it (a resume keeps it), and the final one at all
            self.logger.dump(record["step"])
        return self.write_metric(record)

    def checkpoint(self) -> Path:
        return save_checkpoint(
            self.model, self.run_dir / "checkpoints", keep=self.config.keep_checkpoints,
            extra={"counters": dict(self.counters), "logs": capture(self.model.logger, self.run_dir / "tb")},
        )


class ProgressBar(BaseCallback):
    """A tqdm bar over agent steps (SB3's own needs ``rich``); starts at the resumed step."""

    def __init__(self, total_steps: int) -> None:
        super().__init__()
        self.total_steps = total_steps
        self.bar: Any = None

    def _on_training_start(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=self.total_steps, initial=self.num_timesteps, unit="step", dynamic_ncols=True, mininterval=2.0)

    def _on_step(self) -> bool:
        self.bar.update(self.num_timesteps - self.bar.n)
        return True

    def _on_training_end(self) -> None:
        self.bar.close()
