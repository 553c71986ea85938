"""How Cora's two splits overlap: the pygcn split (LINQS file order) and the Planetoid public
split are one graph in two node orders, so one split's validation nodes can be the other's
test nodes.

Nodes are matched across the two orders by their binary feature row and degree (the pairs
that occur once in each order); labels are compared under the best class mapping. Writes
``experiments/results/cora_split_overlap.json``.

Usage (repository root)::

    GRAPHREP_DATA=../shared/data python experiments/cora_split_overlap.py
"""
from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np

from shared.checkpoint import atomic_write_text

MASKS = ("train_mask", "val_mask", "test_mask")


def node_keys(data) -> list[tuple[bytes, int]]:
    """Per node: (binary feature row, degree), the same in either node order."""
    from torch_geometric.utils import degree

    deg = degree(data.edge_index[0], data.num_nodes).long().tolist()
    rows = (data.x > 0).numpy()
    return [(rows[i].tobytes(), deg[i]) for i in range(data.num_nodes)]


def match(a, b) -> np.ndarray:
    """``m[i]`` = the node of ``b`` matching node ``i`` of ``a`` (-1: no unique match)."""
    ka, kb = node_keys(a), node_keys(b)
    ca, cb = Counter(ka), Counter(kb)
    where = {k: j for j, k in enumerate(kb) if cb[k] == 1}
    return np.array([where.get(k, -1) if ca[k] == 1 else -1 for k in ka])


def overlap(pygcn, public) -> dict:
    m = match(pygcn, public)
    ok = m >= 0
    ya, yb = pygcn.y.numpy()[ok], public.y.numpy()[m[ok]]
    table = np.zeros((int(ya.max()) + 1, int(yb.max()) + 1), dtype=int)
    np.add.at(table, (ya, yb), 1)
    out = {"nodes": int(pygcn.num_nodes), "matched": int(ok.sum()),
           "labels_agree": int(table.max(axis=1).sum()), "pygcn_in_public": {}}
    for a in MASKS:
        rows = np.flatnonzero(getattr(pygcn, a).numpy() & ok)
        out["pygcn_in_public"][a] = {"matched": len(rows), **{
            b: int(getattr(public, b).numpy()[m[rows]].sum()) for b in MASKS}}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=os.environ.get("GRAPHREP_DATA"))
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"
                                        / "cora_split_overlap.json"))
    args = p.parse_args()
    from graphrep.data import load_node_dataset

    pygcn = load_node_dataset("Cora", "pygcn", args.data_dir).data
    public = load_node_dataset("Cora", "public", args.data_dir).data
    result = overlap(pygcn, public)
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
