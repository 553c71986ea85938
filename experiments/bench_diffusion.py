"""Benchmark the diffusion views' two methods: time, peak memory and agreement.

``method="exact"`` holds the dense ``N x N`` matrix (what ``"auto"`` does up to
``graphrep.diffusion.EXACT_MAX_NODES`` nodes); ``method="power"`` sums the sparse
series a block of rows at a time (what ``"auto"`` does above). Each (graph, method)
runs in its own child process with one torch thread, so its peak RSS is its own.
Graphs: Barabasi-Albert graphs (PyG ``barabasi_albert_graph``, two edges per new node:
about PubMed's 4.5 mean degree at ``--nodes 19717``). Where both methods run, the
script reports how many of the power method's kept entries the exact view keeps too
and their largest difference.

Writes ``<out>/bench_diffusion.json`` and ``.md`` (``bench_diffusion_at_<rev>.*`` with ``--rev``)::

    python experiments/bench_diffusion.py                          # ~10 min
    python experiments/bench_diffusion.py --nodes 3000 --kinds ppr --topk 64
    python experiments/bench_diffusion.py --nodes 2708 6000 --rev 63456b6   # the code before
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
                         capture_output=True, text=True, cwd=Path(__file__).parent).stdout
    file = Path(tempfile.mkdtemp()) / "diffusion_at_rev.py"
    file.write_text(src)
    spec = importlib.util.spec_from_file_location("diffusion_at_rev", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_one(nodes: int, kind: str, method: str, topk: int, out: Path,
            rev: str | None = None) -> dict:
    diffusion_view = _diffusion_module(rev).diffusion_view
    torch.set_num_threads(1)
    ei = _graph(nodes)
    t0 = time.perf_counter()
    view = diffusion_view(ei, nodes, kind, method=method, topk=topk)
    seconds = time.perf_counter() - t0
    torch.save(view, out)
    return {"nodes": nodes, "edges": ei.size(1) // 2, "kind": kind,
            "method": method if rev is None else f"{method} @ {rev}",
            "topk": topk, "seconds": seconds, "kept": view[1].numel(),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _agreement(power: tuple, exact: tuple, nodes: int) -> dict:
    def as_dict(view):
        ei, ew = view
        return dict(zip((ei[0] * nodes + ei[1]).tolist(), ew.double().tolist(), strict=True))

    p, e = as_dict(power), as_dict(exact)
    shared = p.keys() & e.keys()
    return {"same_entries": len(shared) / max(len(p), 1),
            "max_abs_diff": max((abs(p[k] - e[k]) for k in shared), default=0.0)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nodes", type=int, nargs="+", default=[2708, 6000, 19717])
    p.add_argument("--kinds", nargs="+", default=["ppr", "heat"])
    p.add_argument("--topk", type=int, default=64)
    p.add_argument("--exact-max", type=int, default=6000,
                   help="run the exact method only up to this many nodes")
    p.add_argument("--rev", default=None,
                   help="run the power method of graphrep/diffusion.py at this git revision "
                        "(the code before row blocks: 63456b6), exact not run")
    p.add_argument("--out", type=Path, default=Path("experiments/results"))
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        nodes, kind, method, file = args.child
        print(json.dumps(run_one(int(nodes), kind, method, args.topk, Path(file), args.rev)))
        return
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for nodes in args.nodes:
            for kind in args.kinds:
                views = {}
                methods = ["power"] + (["exact"] if nodes <= args.exact_max
                                       and args.rev is None else [])
                for method in methods:
                    file = Path(tmp) / f"{nodes}-{kind}-{method}.pt"
                    res = subprocess.run(
                        [sys.executable, __file__, "--topk", str(args.topk),
                         *(["--rev", args.rev] if args.rev else []), "--child",
                         str(nodes), kind, method, str(file)],
                        capture_output=True, text=True, check=True)
                    row = json.loads(res.stdout.strip().splitlines()[-1])
                    views[method] = torch.load(file)
                    print(row, flush=True)
                    rows.append(row)
                if "exact" in views:
                    rows[-2].update(_agreement(views["power"], views["exact"], nodes))
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"machine": platform.processor() or platform.machine(),
            "torch_threads": 1, "command": " ".join(["python", *sys.argv])}
    stem = "bench_diffusion" if args.rev is None else f"bench_diffusion_at_{args.rev}"
    atomic_write_json(args.out / f"{stem}.json", {"meta": meta, "rows": rows})
    title = ("exact (dense) vs power (sparse series in row blocks)" if args.rev is None
             else f"the power method of graphrep/diffusion.py at {args.rev}")
    lines = [f"# Diffusion views: {title}", "",
             f"`{meta['command']}`; Barabasi-Albert graphs (2 edges per new node), "
             f"top-{args.topk} per row, one thread, each run in its own process.", "",
             "| nodes | edges | view | method | seconds | peak RSS MiB | kept entries "
             "| entries the exact view keeps too | max abs diff |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        same = f"{100 * r['same_entries']:.2f}%" if "same_entries" in r else ""
        diff = f"{r['max_abs_diff']:.1e}" if "max_abs_diff" in r else ""
        lines.append(f"| {r['nodes']} | {r['edges']} | {r['kind']} | {r['method']} | "
                     f"{r['seconds']:.1f} | {r['peak_rss_mb']:.0f} | {r['kept']} | "
                     f"{same} | {diff} |")
    atomic_write_text(args.out / f"{stem}.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
