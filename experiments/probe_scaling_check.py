"""Time the graph-level LinearSVC probe on stored embeddings: with and without feature
standardisation, at several iteration caps, and with and without the row-space
coordinates (:func:`shared.probes.row_space_coordinates`, used unless graphs outnumber
features 4 to 1). Run ``sh experiments/mvgrl_bench.sh`` first so the embeddings exist.

    python experiments/probe_scaling_check.py --seeds 0 1 --max-iter 1000 10000
    python experiments/probe_scaling_check.py --dataset IMDB-BINARY \\
        --run experiments/results/mvgrl_runs/IMDB-BINARY-ppr-sweep/L8-B32-E20 \\
        --seeds 0 --standardize off --row-space on off \\
        --out experiments/results/probe_timing.jsonl

Each probe prints one line and, with ``--out``, appends one JSON record.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch

from graphrep.data import load_graph_dataset
from shared.probes import svc_cross_validation

RUN = Path(__file__).parent / "results" / "mvgrl_runs" / "MUTAG-ppr" / "L2-B128-E20"
SWITCH = {"on": True, "off": False}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="MUTAG")
    p.add_argument("--run", type=Path, default=RUN,
                   help="a config directory holding seed_<k>/embedding.pt")
    p.add_argument("--data-dir", default=None, help="raw data (else $GRAPHREP_DATA)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--max-iter", type=int, nargs="+", default=[1000])
    p.add_argument("--standardize", choices=SWITCH, nargs="+", default=["off", "on"])
    p.add_argument("--row-space", choices=SWITCH, nargs="+", default=["on"])
    p.add_argument("--out", type=Path, default=None, help="append JSON records here")
    args = p.parse_args()
    torch.set_num_threads(1)
    labels = np.array([int(g.y) for g in load_graph_dataset(args.dataset, args.data_dir).graphs])
    for seed in args.seeds:
        f = args.run / f"seed_{seed}" / "embedding.pt"
        if not f.is_file():
            raise SystemExit(f"{f} is missing: train that run first (experiments/mvgrl_bench.sh)")
        emb = torch.load(f, weights_only=False)["embedding"]
        for max_iter, std, rows in itertools.product(args.max_iter, args.standardize,
                                                      args.row_space):
            start = time.perf_counter()
            res = svc_cross_validation(emb, labels, seed=seed, standardize=SWITCH[std],
                                       max_iter=max_iter, row_space=SWITCH[rows])
            seconds = time.perf_counter() - start
            rows = "on" if res.row_space else "off"  # what the probe actually did
            print(f"{args.dataset} {args.run.name} seed {seed} max_iter={max_iter} "
                  f"standardize={std} row_space={rows} ({emb.shape[0]} x {emb.shape[1]}): "
                  f"{100 * res.mean:.2f} +- {100 * res.std:.2f} in {seconds:.1f} s, "
                  f"C per fold {res.chosen_C}", flush=True)
            if args.out is not None:
                rec = {"dataset": args.dataset, "run": str(args.run), "seed": seed,
                       "shape": list(emb.shape), "max_iter": max_iter, "standardize": std,
                       "row_space": rows, "accuracy": res.mean, "fold_std": res.std,
                       "fold_accuracies": res.fold_accuracies, "chosen_C": res.chosen_C,
                       "seconds": seconds}
                with open(args.out, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
