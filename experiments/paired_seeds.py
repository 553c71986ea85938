"""Two MVGRL runs compared seed by seed: accuracy of run A minus run B on each shared seed.

Usage (from the repository root)::

    python experiments/paired_seeds.py PTC_MR-ppr-head-L2-B32-E100-s5-9 PTC_MR-ppr-head-s5-9

Runs are directory names under ``--runs`` (default ``experiments/results/mvgrl_runs``),
read from their ``results.json``. Prints each seed's difference and their mean +- sample
std (ddof 1), in accuracy points. The runs must hold the same seeds: a graph-level seed
also fixes the fold split, so only equal seeds pair.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from shared.checkpoint import CorruptFileError, read_json

RUNS = Path(__file__).resolve().parent / "results" / "mvgrl_runs"


def paired_differences(a: dict, b: dict) -> dict[int, float]:
    """``{seed: accuracy_a - accuracy_b}`` of two ``results.json`` records; ``ValueError``
    when their seeds differ."""
    if sorted(a["seeds"]) != sorted(b["seeds"]):
        raise ValueError(f"the runs hold different seeds ({a['seeds']} and {b['seeds']}); "
                         f"only runs of the same seeds pair")
    acc_b = dict(zip(b["seeds"], b["accuracies"], strict=True))
    return {s: x - acc_b[s] for s, x in zip(a["seeds"], a["accuracies"], strict=True)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_a")
    p.add_argument("run_b")
    p.add_argument("--runs", type=Path, default=RUNS, help="folder of run directories")
    args = p.parse_args()
    try:
        diffs = paired_differences(*(read_json(args.runs / r / "results.json")
                                     for r in (args.run_a, args.run_b)))
    except (CorruptFileError, FileNotFoundError, ValueError) as e:
        p.error(str(e))
    d = np.asarray(list(diffs.values()))
    sd = f"{d.std(ddof=1):.2f}" if len(d) > 1 else "n/a"
    print(", ".join(f"seed {s}: {v:+.2f}" for s, v in diffs.items()))
    print(f"{args.run_a} - {args.run_b}: {d.mean():+.2f} +- {sd} over {len(d)} seeds")


if __name__ == "__main__":
    main()
