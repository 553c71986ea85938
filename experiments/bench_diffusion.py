"""Benchmark the diffusion views' methods: time, peak memory and agreement.

``method="exact"`` holds the dense ``N x N`` matrix (what ``"auto"`` does up to
``graphrep.diffusion.EXACT_MAX_NODES`` nodes); ``method="power"`` sums the sparse
series a block of rows at a time (``"auto"`` above, up to ``POWER_MAX_NODES`` for PPR);
``method="push"`` runs PyG's ``get_ppr`` (``"auto"`` for PPR above ``POWER_MAX_NODES``;
approximate, set by ``--push-eps``). Each (graph, method) runs in its own child process with one torch
thread, so its peak RSS is its own (push's includes numba compiling ``get_ppr``, on a
50-node graph before the timed call, as a first call in any process would). Graphs: Barabasi-Albert graphs (PyG
``barabasi_albert_graph``, two edges per new node: about PubMed's 4.5 mean degree at
``--nodes 19717``). Where the exact view is computed too, the script reports, for each
other method, how many of its kept entries the exact view keeps too, their largest
difference, and the smallest over rows of the exact mass its entries keep relative to
the exact view's own top-k (1 when it keeps the right entries, near-ties aside).

Writes ``<out>/bench_diffusion.json`` and ``.md`` (``bench_diffusion_at_<rev>.*`` with
``--rev``, ``<stem>.*`` with ``--stem``)::

    python experiments/bench_diffusion.py                          # ~10 min
    python experiments/bench_diffusion.py --nodes 3000 --kinds ppr --topk 64
    python experiments/bench_diffusion.py --nodes 2708 6000 --rev 63456b6   # the code before
    python experiments/bench_diffusion.py --methods push exact --push-eps 1e-4 --out /tmp/b
    python experiments/bench_diffusion.py --nodes 10000 --kinds ppr --exact-max 10000 \
        --stem bench_diffusion_10000   # ~4 min: where auto switches from power to push
    python experiments/bench_diffusion.py --nodes 40000 --kinds ppr --methods power push \
        --stem bench_diffusion_40000   # ~16 min: how each grows with N
    python experiments/bench_diffusion.py --nodes 40000 --kinds ppr --methods push \
        --stem bench_diffusion_40000_push
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from shared.checkpoint import atomic_write_json, atomic_write_text


def _graph(nodes: int) -> torch.Tensor:
    import numpy as np
    from torch_geometric.utils import barabasi_albert_graph

    torch.manual_seed(0)
    np.random.seed(0)  # PyG draws the attachments with numpy
    return barabasi_albert_graph(nodes, 2)


def _diffusion_module(rev: str | None):
    """``graphrep.diffusion``, or its source at git revision ``rev`` (to measure the
    code it replaced)."""
    if rev is None:
        import graphrep.diffusion as module

        return module
    import importlib.util
    import tempfile

    src = subprocess.run(["git", "show", f"{rev}:graphrep/diffusion.py"], check=True,
                         stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent).stdout
    file = Path(tempfile.mkdtemp()) / "diffusion_at_rev.py"
    file.write_text(src)
    spec = importlib.util.spec_from_file_location("diffusion_at_rev", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_one(nodes: int, kind: str, method: str, topk: int, out: Path,
            rev: str | None = None, push_eps: float | None = None) -> dict:
    diffusion_view = _diffusion_module(rev).diffusion_view
    torch.set_num_threads(1)
    ei = _graph(nodes)
    if method == "push":  # compile get_ppr's numba kernel outside the timing
        diffusion_view(_graph(50), 50, kind, method=method, topk=topk, push_eps=push_eps)
    extra = {"push_eps": push_eps} if method == "push" else {}
    t0 = time.perf_counter()
    view = diffusion_view(ei, nodes, kind, method=method, topk=topk, **extra)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    torch.save(view, out)
    if method == "exact":  # the whole matrix, for the other methods' row mass
        module = _diffusion_module(rev)
        matrix = module.ppr_matrix(ei, nodes) if kind == "ppr" else module.heat_matrix(ei, nodes)
        torch.save(matrix, out.with_suffix(".dense.pt"))
    return {"nodes": nodes, "edges": ei.size(1) // 2, "kind": kind,
            "method": method if rev is None else f"{method} @ {rev}", **extra,
            "topk": topk, "seconds": seconds, "kept": view[1].numel(), "peak_rss_mb": peak}


def _agreement(approx: tuple, exact: tuple, matrix: torch.Tensor, nodes: int) -> dict:
    """How far ``approx`` (a sparsified view) is from the ``exact`` one (the same
    sparsification of the dense ``matrix``): shared entries, their largest difference,
    and per row the mass of ``matrix`` on ``approx``'s columns over that on ``exact``'s
    (its minimum over rows)."""
    def as_dict(view):
        ei, ew = view
        return dict(zip((ei[0] * nodes + ei[1]).tolist(), ew.double().tolist(), strict=True))

    p, e = as_dict(approx), as_dict(exact)
    shared = p.keys() & e.keys()

    def row_mass(view):  # edge j -> i carries S[i, j]
        (j, i), _ = view
        return torch.zeros(nodes, dtype=torch.float64).index_add_(0, i, matrix[i, j])

    row_mass_exact, row_mass_approx = row_mass(exact), row_mass(approx)
    has = row_mass_exact > 0
    return {"same_entries": len(shared) / max(len(p), 1),
            "max_abs_diff": max((abs(p[k] - e[k]) for k in shared), default=0.0),
            "min_row_mass": float((row_mass_approx[has] / row_mass_exact[has]).min())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nodes", type=int, nargs="+", default=[2708, 6000, 19717])
    p.add_argument("--kinds", nargs="+", default=["ppr", "heat"], choices=["ppr", "heat"])
    p.add_argument("--methods", nargs="+", default=["power", "push", "exact"],
                   choices=["power", "push", "exact"],
                   help="push runs for PPR only; exact up to --exact-max nodes")
    p.add_argument("--push-eps", type=float, default=None,
                   help="push method's residual threshold (default: graphrep's PUSH_EPS)")
    p.add_argument("--topk", type=int, default=64)
    p.add_argument("--exact-max", type=int, default=6000,
                   help="run the exact method only up to this many nodes")
    p.add_argument("--rev", default=None,
                   help="run the power method of graphrep/diffusion.py at this git revision "
                        "(the code before row blocks: 63456b6), nothing else")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    p.add_argument("--stem", default=None,
                   help="output file names (default: bench_diffusion, or "
                        "bench_diffusion_at_<rev> with --rev)")
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.push_eps is None and args.rev is None:
        from graphrep.diffusion import PUSH_EPS

        args.push_eps = PUSH_EPS
    if args.child:
        nodes, kind, method, file = args.child
        print(json.dumps(run_one(int(nodes), kind, method, args.topk, Path(file), args.rev,
                                 args.push_eps)))
        return
    for flag, value in (("--nodes", min(args.nodes)), ("--topk", args.topk)):
        if value < 1:
            p.error(f"{flag} must be >= 1, got {value}")
    if args.rev is not None and subprocess.run(
            ["git", "cat-file", "-e", f"{args.rev}:graphrep/diffusion.py"], cwd=Path(__file__).parent,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        p.error(f"--rev {args.rev}: no graphrep/diffusion.py at that revision of this repository")
    def methods_for(nodes: int, kind: str) -> list[str]:
        return ["power"] if args.rev else [
            m for m in args.methods
            if not (m == "push" and kind != "ppr") and not (m == "exact" and nodes > args.exact_max)]

    if not any(methods_for(n, k) for n in args.nodes for k in args.kinds):
        # nothing would run, and the empty table would replace the stored one
        p.error(f"nothing to run: --methods {' '.join(args.methods)} with --kinds "
                f"{' '.join(args.kinds)} at --nodes {' '.join(map(str, args.nodes))} (push "
                f"runs for PPR only, exact up to --exact-max {args.exact_max} nodes)")
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for nodes in args.nodes:
            for kind in args.kinds:
                views, here = {}, {}
                for method in methods_for(nodes, kind):
                    file = Path(tmp) / f"{nodes}-{kind}-{method}.pt"
                    res = subprocess.run(
                        [sys.executable, __file__, "--topk", str(args.topk),
                         *(["--rev", args.rev] if args.rev else
                           ["--push-eps", str(args.push_eps)]), "--child",
                         str(nodes), kind, method, str(file)],
                        stdout=subprocess.PIPE, text=True, check=True)
                    row = json.loads(res.stdout.strip().splitlines()[-1])
                    views[method] = torch.load(file, weights_only=True)
                    if method == "exact":
                        matrix = torch.load(file.with_suffix(".dense.pt"), weights_only=True)
                    print(row, flush=True)
                    rows.append(row)
                    here[method] = row
                for method, row in here.items():
                    if method != "exact" and "exact" in views:
                        row.update(_agreement(views[method], views["exact"], matrix, nodes))
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"machine": platform.processor() or platform.machine(),
            "torch_threads": 1, "command": " ".join(["python", *sys.argv])}
    stem = args.stem or ("bench_diffusion" if args.rev is None
                         else f"bench_diffusion_at_{args.rev}")
    atomic_write_json(args.out / f"{stem}.json", {"meta": meta, "rows": rows})
    title = ("exact (dense), power (sparse series in row blocks), push (PyG get_ppr)"
             if args.rev is None else f"the power method of graphrep/diffusion.py at {args.rev}")
    lines = [f"# Diffusion views: {title}", "",
             f"`{meta['command']}`; Barabasi-Albert graphs (2 edges per new node), "
             f"top-{args.topk} per row, one thread, each run in its own process. "
             "Row mass: over rows, the smallest ratio of the exact view's mass on the "
             "entries a method keeps to the exact top-k's mass.", "",
             "| nodes | edges | view | method | seconds | peak RSS MiB | kept entries "
             "| entries the exact view keeps too | max abs diff | row mass (min) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        same = f"{100 * r['same_entries']:.2f}%" if "same_entries" in r else ""
        diff = f"{r['max_abs_diff']:.1e}" if "max_abs_diff" in r else ""
        mass = f"{r['min_row_mass']:.5f}" if "min_row_mass" in r else ""
        method = r["method"] + (f" (eps {r['push_eps']:g})" if "push_eps" in r else "")
        lines.append(f"| {r['nodes']} | {r['edges']} | {r['kind']} | {method} | "
                     f"{r['seconds']:.1f} | {r['peak_rss_mb']:.0f} | {r['kept']} | "
                     f"{same} | {diff} | {mass} |")
    atomic_write_text(args.out / f"{stem}.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
