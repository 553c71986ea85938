"""How RCRL's segments closed over the steps of a training run, from its saved replay buffer.

``rcrl_segment_stats.py`` measures the warm-up (uniform-random) policy; this reads the
replay buffer of an ``rlrep train`` run's latest checkpoint and splits its closed segments
by the step they closed at into windows of ``--window`` steps, so the share of transitions
in segments closed by the length cap can be followed as the policy learns.
:meth:`~rlrep.buffers.SegmentReplayBuffer.closed_segments` re-derives each segment's reason
from the stored arrays. Needs a buffer that has not wrapped (Atari-100k: 100000 rows) and
one env column, where a row is a step.

Usage (repository root)::

    python experiments/rcrl_segments_of_run.py <run dir> --window 5000 \\
        --out experiments/results/rcrl_segments_roadrunner.json

writes the JSON and a table beside it (same name, ``.md``).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from shared.checkpoint import CorruptFileError, atomic_write_text, read_json_lines


def windows(closed: dict[str, np.ndarray], window: int, steps: int,
            episodes: list[dict] | None = None) -> list[dict]:
    """Per window of ``window`` closing steps (``[k * window, (k + 1) * window)``), the
    number of segments closed and the share of their transitions by reason; with
    ``episodes`` (metrics.jsonl ``episode`` records), the mean return of the training
    episodes that ended in the window (``None`` where none did)."""
    from rlrep.buffers import CLOSE_REASONS

    out = []
    for lo in range(0, steps, window):
        inside = (closed["last_row"] >= lo) & (closed["last_row"] < lo + window)
        rows = closed["length"][inside]
        ended = [e["return"] for e in episodes or [] if lo < e["step"] <= lo + window]
        record = {"from_step": lo, "to_step": min(lo + window, steps), "closed": int(inside.sum()),
                  "mean_length": float(rows.mean()) if len(rows) else float("nan"),
                  "episodes": len(ended),
                  "episode_return_mean": float(np.mean(ended)) if ended else None}
        for i, reason in enumerate(CLOSE_REASONS):
            part = closed["length"][inside & (closed["reason"] == i)].sum()
            record[f"rows_closed_by_{reason}"] = float(part / rows.sum()) if len(rows) else float("nan")
        out.append(record)
    return out


def read_run(run_dir: Path) -> tuple[dict, dict[str, np.ndarray], int]:
    """``(config, closed segments, steps stored)`` of the run's latest checkpoint."""
    from stable_baselines3.common.save_util import load_from_pkl

    from rlrep.checkpoints import latest_checkpoint

    config_file = run_dir / "config.json"
    if not config_file.is_file():
        raise SystemExit(f"{run_dir} is not an rlrep run directory (no config.json)")
    checkpoint = latest_checkpoint(run_dir / "checkpoints")
    if checkpoint is None or not (checkpoint / "replay_buffer.pkl").is_file():
        raise SystemExit(f"{run_dir / 'checkpoints'} holds no checkpoint with a replay buffer: "
                         f"train with --checkpoint-freq below --steps")
    buffer = load_from_pkl(checkpoint / "replay_buffer.pkl")
    steps = int(checkpoint.name.removeprefix(".old-").split("-")[0].removeprefix("step_"))
    if buffer.n_envs != 1:
        raise SystemExit(f"{checkpoint}: the buffer holds {buffer.n_envs} env columns, so its rows "
                         f"are not steps; this reads one-env runs")
    # exactly full (steps == buffer_size: pos back at 0) has overwritten nothing yet
    unwrapped = buffer.pos == steps if not buffer.full else (buffer.pos == 0 and steps == buffer.buffer_size)
    if not unwrapped:
        raise SystemExit(f"{checkpoint}: the buffer has wrapped ({steps} steps in "
                         f"{buffer.buffer_size} rows), so its rows are not steps; this reads "
                         f"runs that fit in the buffer")
    return json.loads(config_file.read_text()), buffer.closed_segments(), steps


def _returns(by_step: dict) -> str:
    """``5000: 0, 10000: 1500`` in step order, the same from the record or its JSON (whose
    keys are strings)."""
    pairs = sorted((int(step), value) for step, value in by_step.items())
    return ", ".join(f"{step}: {'null' if value is None else f'{value:g}'}"
                     for step, value in pairs) or "none"


def write_table(record: dict, path: Path) -> None:
    """A markdown table of ``record["windows"]`` at ``path``."""
    rows = [f"# RCRL segments over a training run: {record['env']}, aux {record['aux']}, "
            f"seed {record['seed']}", "",
            f"Built by `experiments/rcrl_segments_of_run.py` from the replay buffer of the run's "
            f"checkpoint at step {record['steps']} (eval returns in its metrics.jsonl, "
            f"step: mean return: {_returns(record['eval_returns'])}). Shares are of the transitions in segments closed in "
            f"each window; training episodes: the games that ended in it, with their raw "
            f"score (the Monitor under the Atari wrappers logs whole games).", "",
            "| steps | closed | mean length | by cap | by reward | by episode end | training episodes "
            "(mean return) |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for w in record["windows"]:
        mean = w.get("episode_return_mean")
        episodes = f"{w.get('episodes', 0)} ({mean:.1f})" if mean is not None else "0"
        rows.append(f"| {w['from_step']}-{w['to_step']} | {w['closed']} | {w['mean_length']:.1f} | "
                    f"{w['rows_closed_by_length_cap']:.2f} | {w['rows_closed_by_reward']:.2f} | "
                    f"{w['rows_closed_by_episode_end']:.2f} | {episodes} |")
    atomic_write_text(path, "\n".join(rows) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", type=Path)
    p.add_argument("--window", type=int, default=5000, help="steps per window")
    p.add_argument("--out", type=Path, required=True, help="JSON here, the table beside it (.md)")
    args = p.parse_args()
    if args.window <= 0:
        p.error(f"--window must be positive, got {args.window}")
    config, closed, steps = read_run(args.run_dir)
    metrics = args.run_dir / "metrics.jsonl"
    from rlrep.callbacks import metrics_record_problem

    try:  # a run still going (or killed mid-write) has a torn last line: left out
        evals = (read_json_lines(metrics, check=metrics_record_problem)[0]
                 if metrics.is_file() else [])
    except CorruptFileError as error:
        p.error(str(error))
    record = {"env": config["env"], "aux": config["aux"], "seed": config["seed"], "steps": steps,
              "segment_max_length": config.get("segment_max_length"),
              # evaluations up to the checkpoint (a run killed later logged more)
              "eval_returns": {r["step"]: r["mean_return"] for r in evals
                               if r.get("type") == "eval" and r["step"] <= steps},
              "windows": windows(closed, args.window, steps,
                                 [r for r in evals if r.get("type") == "episode" and r["step"] <= steps])}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(record, indent=1) + "\n")
    write_table(record, args.out.with_suffix(".md"))
    print(f"{len(record['windows'])} windows -> {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
