"""Time the graph-level LinearSVC probe with and without feature standardisation, at
several iteration caps, on stored MUTAG embeddings (run ``sh experiments/mvgrl_bench.sh``
first so the embeddings exist).

    python experiments/probe_scaling_check.py --seeds 0 1 --max-iter 1000 10000
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
import torch

from graphrep.data import load_graph_dataset
from shared.probes import svc_cross_validation

RUN = Path(__file__).parent / "results" / "mvgrl_runs" / "MUTAG-ppr" / "L2-B128-E20"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--run", type=Path, default=RUN)
    p.add_argument("--max-iter", type=int, nargs="+", default=[1000])
    args = p.parse_args()
    torch.set_num_threads(1)
    labels = np.array([int(g.y) for g in load_graph_dataset("MUTAG").graphs])
    for seed in args.seeds:
        emb = torch.load(args.run / f"seed_{seed}" / "embedding.pt", weights_only=False)["embedding"]
        for max_iter, standardize in itertools.product(args.max_iter, (False, True)):
            start = time.perf_counter()
            res = svc_cross_validation(emb, labels, seed=seed, standardize=standardize,
                                       max_iter=max_iter)
            print(f"seed {seed} max_iter={max_iter} standardize={standardize}: "
                  f"{100 * res.mean:.2f} +- {100 * res.std:.2f} "
                  f"in {time.perf_counter() - start:.1f} s, C per fold {res.chosen_C}", flush=True)


if __name__ == "__main__":
    main()
