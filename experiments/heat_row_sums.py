"""How much each node aggregates through the heat-kernel view, per transition.

The paper's heat kernel ``exp(t (A D^-1 - I))`` is column-stochastic: its row sums, the
total weight a node's diffused features carry, follow the degrees. This prints and writes
the smallest and largest row sum of the exact dense kernel (t = 5) on a node-level dataset
for each of :data:`graphrep.diffusion.HEAT_TRANSITIONS`, and their quartiles, to
``experiments/results/heat_row_sums.json``.

Usage (repository root)::

    GRAPHREP_DATA=../shared/data python experiments/heat_row_sums.py --dataset Cora
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from shared.checkpoint import atomic_write_text


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="Cora")
    p.add_argument("--t", type=float, default=5.0)
    p.add_argument("--out", default="experiments/results/heat_row_sums.json")
    args = p.parse_args(argv)
    import torch

    from graphrep.data import load_node_dataset
    from graphrep.diffusion import EXACT_MAX_NODES, HEAT_TRANSITIONS, heat_matrix

    if not 0 < args.t < float("inf"):
        raise SystemExit(f"heat_row_sums: --t must be a finite number > 0, got {args.t}")
    if not Path(args.out).parent.is_dir():
        raise SystemExit(f"heat_row_sums: no folder {Path(args.out).parent} for --out")
    try:
        data = load_node_dataset(args.dataset, "public", os.environ.get("GRAPHREP_DATA")).data
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"heat_row_sums: {error}") from None
    if data.num_nodes > EXACT_MAX_NODES:  # three dense N x N float64 kernels by eigh
        raise SystemExit(f"heat_row_sums: {args.dataset} has {data.num_nodes} nodes; the dense "
                         f"kernel is computed up to {EXACT_MAX_NODES}")
    out = {"dataset": args.dataset, "t": args.t, "num_nodes": int(data.num_nodes)}
    for transition in HEAT_TRANSITIONS:
        sums = heat_matrix(data.edge_index, data.num_nodes, args.t, transition).sum(1)
        q = torch.quantile(sums, torch.tensor([0.25, 0.5, 0.75], dtype=sums.dtype))
        out[transition] = {"min": round(float(sums.min()), 4), "max": round(float(sums.max()), 4),
                           "quartiles": [round(float(v), 4) for v in q]}
        print(f"{transition}: row sums {out[transition]['min']:.2f} - "
              f"{out[transition]['max']:.2f}, quartiles "
              f"{', '.join(f'{v:.2f}' for v in out[transition]['quartiles'])}")
    atomic_write_text(Path(args.out), json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
