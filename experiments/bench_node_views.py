"""Benchmark node-level MVGRL training steps with the diffusion view sparse vs dense.

The release's own schedule on Cora (pygcn split): 4 random 2000-node subgraphs per step,
adjacency view A + 2I, PPR diffusion at several top-k cuts and unsparsified (``--topk 0``).
Each (top-k, storage) pair trains ``--steps`` steps of ``graphrep.train.train_node_model``
in its own child process (one torch thread; peak RSS is its own) with the views held as
edge format and sparse products (``dense_views=False``) or as dense matrices cut into
``[4, 2000, 2000]`` blocks (``dense_views=True``); ``auto`` is what training picks by
default (:func:`graphrep.subgraphs.prefers_dense`). Same seed, so the two storages must
give the same losses up to rounding; the script checks it.

Writes ``<out>/bench_node_views.json`` and ``.md``::

    GRAPHREP_DATA=../shared/data python experiments/bench_node_views.py            # ~5 min
    GRAPHREP_DATA=../shared/data python experiments/bench_node_views.py --topk 0 --steps 3
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import torch

from shared.checkpoint import atomic_write_json, atomic_write_text


def run_one(topk: int, storage: str, args: argparse.Namespace) -> dict:
    from graphrep.data import load_node_dataset
    from graphrep.models import MVGRL
    from graphrep.subgraphs import prefers_dense
    from graphrep.train import NodeTrainConfig, train_node_model
    from graphrep.views import DiffusionOptions, node_views

    torch.set_num_threads(1)
    ds = load_node_dataset("Cora", "pygcn", args.data_dir)
    data = ds.data
    views = node_views(data.edge_index, data.num_nodes,
                       DiffusionOptions(topk=topk or None, self_loop_weight=2.0))
    dense = {"sparse": False, "dense": True, "auto": None}[storage]
    cfg = NodeTrainConfig(epochs=args.steps + 1, patience=10**6, batch_size=4,
                          sample_size=2000, full_batch=False, dense_views=dense)
    stamps = []
    torch.manual_seed(0)
    model = MVGRL(data.num_features, cfg.hidden_channels)
    res = train_node_model(model, data.x, views, cfg, seed=0, progress=False,
                           on_epoch=lambda rec: stamps.append(time.perf_counter()))
    step_s = [b - a for a, b in pairwise(stamps)]  # the first step is warm-up
    return {"topk": topk, "storage": storage,
            "dense_held": prefers_dense(views.diff, data.num_nodes) if dense is None else dense,
            "view_entries_per_node": views.diff[1].numel() / data.num_nodes,
            "median_step_s": statistics.median(step_s), "step_s": step_s,
            "losses": res.losses,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--topk", type=int, nargs="+", default=[64, 256, 0],
                   help="PPR entries kept per node; 0 = all (unsparsified)")
    p.add_argument("--storage", nargs="+", default=["sparse", "dense"],
                   choices=["sparse", "dense", "auto"])
    p.add_argument("--steps", type=int, default=5, help="timed steps after one warm-up")
    p.add_argument("--data-dir", default=None, help="raw files (else GRAPHREP_DATA)")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(run_one(int(args.child[0]), args.child[1], args)))
        return
    rows = []
    for topk in args.topk:
        for storage in args.storage:
            cmd = [sys.executable, __file__, "--child", str(topk), storage,
                   "--steps", str(args.steps)]
            if args.data_dir:
                cmd += ["--data-dir", args.data_dir]
            out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            r = rows[-1]
            print(topk, storage, f"{r['median_step_s']:.2f} s/step",
                  f"{r['peak_rss_mb']:.0f} MiB", flush=True)
        same = [r["losses"] for r in rows if r["topk"] == topk]
        for other in same[1:]:
            if not torch.allclose(torch.tensor(other), torch.tensor(same[0]), rtol=1e-3):
                raise SystemExit(f"top-{topk}: the storages disagree: {same}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "bench_node_views.json",
                      {"setting": {k: v for k, v in vars(args).items() if k != "child"},
                       "rows": rows, "machine": platform.platform(),
                       "torch": torch.__version__})
    cmd = "python experiments/bench_node_views.py " + " ".join(
        f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in vars(args).items() if k not in ("child", "out", "data_dir"))
    md = [
        "# Node-level MVGRL: sparse vs dense diffusion view",
        "",
        f"`{cmd}`: Cora (pygcn), 4 random 2000-node subgraphs per step, A + 2I, PPR "
        f"(alpha 0.2) at each top-k (0 = every entry), one thread, median of "
        f"{args.steps} steps after a warm-up; the storages' losses agree to 1e-3.",
        "",
        "| PPR top-k | entries / node | storage | s / step | peak RSS MiB |",
        "|---|---|---|---|---|",
    ] + [f"| {r['topk'] or 'all'} | {r['view_entries_per_node']:.0f} | {r['storage']}"
         f"{' (dense)' if r['storage'] == 'auto' and r['dense_held'] else ''} | "
         f"{r['median_step_s']:.2f} | {r['peak_rss_mb']:.0f} |" for r in rows] + [""]
    atomic_write_text(out / "bench_node_views.md", "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
