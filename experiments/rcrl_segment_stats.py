"""How RCRL's Atari segments close under the warm-up policy of a training run.

An Atari segment closes at a non-zero (clipped) reward, at an episode end (a lost life, as
the training env signals it) or at ``--segment-max-length`` transitions (32 by default).
Where rewards are sparse most segments close at the cap, and RCRL's positive pairs then
mean "within the same 32 steps" more than "the same return". This script fills the agent's
own :class:`~rlrep.buffers.SegmentReplayBuffer` through ``model.learn`` with
``learning_starts`` past the last step, so every action is the uniform-random one of a
run's warm-up phase (its first 1600 steps; a trained policy scores more often, so this is
the sparse end), and writes :meth:`~rlrep.buffers.SegmentReplayBuffer.segment_statistics`
per game. A training run logs the same numbers as ``rcrl/*`` as it goes.

Usage (repository root)::

    python experiments/rcrl_segment_stats.py --steps 10000 \\
        --out experiments/results/rcrl_segments.json

writes the JSON and a table beside it (same name, ``.md``); ``--table-only`` rebuilds the
table from an existing JSON.
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from pathlib import Path

import torch

from shared.checkpoint import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results"


def atari100k_games() -> list[str]:
    """The 26 Atari-100k games, as in the score table shipped with rlrep."""
    from rlrep.evaluate import SCORES_CSV

    with open(SCORES_CSV) as fh:
        return [row["game"] for row in csv.DictReader(fh)]


def game_statistics(game: str, steps: int, seed: int, max_length: int) -> dict:
    """Segment statistics of ``steps`` warm-up transitions of ``game``."""
    from rlrep.config import TrainConfig, build_model
    from rlrep.envs import make_vec_env

    config = TrainConfig(env=f"{game}NoFrameskip-v4", aux="rcrl", steps=steps, seed=seed,
                         learning_starts=steps + 1, segment_max_length=max_length,
                         tensorboard=False, progress=False, device="cpu")
    env = make_vec_env(config.env_spec, n_envs=1, seed=seed)
    try:
        model = build_model(config, env)
        start = time.perf_counter()
        model.learn(steps)
        stats = model.replay_buffer.segment_statistics()
    finally:
        env.close()
    return {"game": game, "steps": steps, "seed": seed, "segment_max_length": max_length,
            **stats, "seconds": round(time.perf_counter() - start, 1)}


def write_table(records: list[dict], path: Path) -> None:
    """A markdown table of ``records`` (one per game) with the median over games, at ``path``."""
    rows = ["# RCRL segments on Atari under the warm-up (uniform-random) policy", "",
            "Built by `experiments/rcrl_segment_stats.py`. `closed`: segments closed in the "
            "first `steps` transitions; `by cap` / `by reward` / `by episode end`: share of "
            "their *transitions* (what uniformly drawn anchors see) whose segment closed that "
            "way; segment shares in the JSON.", "",
            "| game | steps | closed | mean length | by cap | by reward | by episode end |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for r in records:
        rows.append(f"| {r['game']} | {r['steps']} | {r['closed']:.0f} | {r['mean_length']:.1f} | "
                    f"{r['rows_closed_by_length_cap']:.2f} | {r['rows_closed_by_reward']:.2f} | "
                    f"{r['rows_closed_by_episode_end']:.2f} |")
    capped = [r["rows_closed_by_length_cap"] for r in records]
    rows += ["", f"Median over {len(records)} games of the share of transitions in capped "
                 f"segments: {statistics.median(capped):.3f} (min {min(capped):.3f}, max "
                 f"{max(capped):.3f}). Counts cover every segment closed in the run (rows overwritten "
                 f"included, where `steps` exceeds the agent's replay buffer: 100000 rows on "
                 f"Atari); still-open segments are left out."]
    atomic_write_text(path, "\n".join(rows) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--games", nargs="+", default=None,
                   help="game names as in <Game>NoFrameskip-v4 (default: the 26 of Atari-100k)")
    p.add_argument("--steps", type=int, default=10000, help="warm-up transitions per game")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--segment-max-length", type=int, default=32)
    p.add_argument("--out", type=Path, default=RESULTS / "rcrl_segments.json")
    p.add_argument("--table-only", action="store_true",
                   help="rebuild the .md table from the JSON at --out, running nothing")
    args = p.parse_args()
    if args.table_only:
        if not args.out.is_file():
            p.error(f"--table-only: no {args.out} to build the table from: run without it first")
        write_table(json.loads(args.out.read_text()), args.out.with_suffix(".md"))
        print(f"-> {args.out.with_suffix('.md')}")
        return
    if args.steps <= args.segment_max_length:
        p.error(f"--steps ({args.steps}) must exceed --segment-max-length "
                f"({args.segment_max_length}) for any segment to close")
    torch.set_num_threads(1)
    records = []
    for game in args.games or atari100k_games():
        records.append(game_statistics(game, args.steps, args.seed, args.segment_max_length))
        print(json.dumps(records[-1]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(records, indent=1) + "\n")
    write_table(records, args.out.with_suffix(".md"))
    print(f"{len(records)} games -> {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
