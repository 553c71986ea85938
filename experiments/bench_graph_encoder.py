"""Benchmark the graph-level GCN's two ways of applying a view: edge messages vs sparse CSR.

``GraphGCNEncoder`` turns a batch's view into one ``torch.sparse`` CSR matrix and lets
``GCNConv`` multiply ``S @ (H W)``; the edge path (``GCNConv(x, edge_index, edge_weight)``)
materialises one ``[E, D]`` message per view entry first. This times forward + backward of the
same 2-layer, 512-wide encoder (same weights) both ways on a synthetic batch shaped like a
REDDIT-BINARY batch under top-32 PPR (every node keeps ``--k`` random sources within its own
graph), one torch thread, each path in its own child process so that its peak RSS is its own.

Writes ``<out>/bench_graph_encoder.json`` and ``.md``::

    python experiments/bench_graph_encoder.py                       # ~2 min
    python experiments/bench_graph_encoder.py --graphs 128 --nodes 430 --k 32   # a full REDDIT batch
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
from pathlib import Path

import torch

from shared.checkpoint import atomic_write_json, atomic_write_text


def make_batch(graphs: int, nodes: int, k: int, features: int, seed: int = 0):
    """``graphs`` graphs of ``nodes`` nodes; every node gets ``k`` weighted in-edges from its
    own graph. Returns ``x [N, F]``, ``edge_index [2, E]``, ``edge_weight [E]``, ``batch [N]``."""
    g = torch.Generator().manual_seed(seed)
    n = graphs * nodes
    target = torch.arange(n).repeat_interleave(k)
    offset = (target // nodes) * nodes
    source = offset + torch.randint(nodes, (n * k,), generator=g)
    weight = torch.rand(n * k, generator=g) / k
    x = torch.rand(n, features, generator=g)
    batch = torch.arange(graphs).repeat_interleave(nodes)
    return x, torch.stack([source, target]), weight, batch


def run_one(path: str, args: argparse.Namespace) -> dict:
    from torch_geometric.nn import global_add_pool

    from graphrep.encoders import GraphGCNEncoder

    torch.set_num_threads(1)
    x, ei, ew, batch = make_batch(args.graphs, args.nodes, args.k, args.features)
    torch.manual_seed(0)
    enc = GraphGCNEncoder(args.features, args.hidden, args.layers)

    def step() -> float:
        if path == "csr":
            node, graph = enc(x, ei, ew, batch, args.graphs)
        else:  # the edge-message path: the same layers, fed edge_index + weights
            h, readouts = x, []
            for conv, act in zip(enc.gcn.convs, enc.gcn.acts, strict=True):
                h = act(conv(h, ei, ew))
                readouts.append(global_add_pool(h, batch, args.graphs))
            node, graph = h, torch.cat(readouts, -1)
        loss = node.pow(2).mean() + graph.pow(2).mean()
        enc.zero_grad()
        loss.backward()
        return float(loss)

    step()  # warm-up
    times, loss = [], None
    for _ in range(args.reps):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
    return {"path": path, "median_s": statistics.median(times), "times_s": times,
            "loss": loss, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--graphs", type=int, default=32)
    p.add_argument("--nodes", type=int, default=430, help="nodes per graph (REDDIT-B mean: 430)")
    p.add_argument("--k", type=int, default=32, help="view entries per node (top-k)")
    p.add_argument("--features", type=int, default=64)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    p.add_argument("--child", choices=["csr", "edge"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, args)))
        return
    results = {}
    for path in ("csr", "edge"):
        cmd = [sys.executable, __file__, "--child", path] + [
            f"--{k}={v}" for k, v in vars(args).items() if k not in ("child", "out")]
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
        results[path] = json.loads(out.strip().splitlines()[-1])
        print(path, results[path]["median_s"], results[path]["peak_rss_mb"], flush=True)
    if abs(results["csr"]["loss"] - results["edge"]["loss"]) > 1e-4 * abs(results["edge"]["loss"]):
        raise SystemExit(f"the two paths disagree: {results['csr']['loss']} vs "
                         f"{results['edge']['loss']}")
    entries = args.graphs * args.nodes * args.k
    report = {"setting": {k: v for k, v in vars(args).items() if k not in ("child",)},
              "view_entries": entries, "results": results,
              "speedup": results["edge"]["median_s"] / results["csr"]["median_s"],
              "machine": platform.platform(), "torch": torch.__version__}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "bench_graph_encoder.json", report)
    cmd = "python experiments/bench_graph_encoder.py " + " ".join(
        f"--{k} {v}" for k, v in vars(args).items() if k not in ("child", "out"))
    md = [
        "# Graph-level GCN: edge messages vs sparse CSR view",
        "",
        f"`{cmd}`: {args.graphs} graphs x {args.nodes} nodes, {args.k} view entries per node "
        f"({entries:,} in all), {args.layers} layers x {args.hidden}, forward + backward, "
        f"one thread, median of {args.reps}.",
        "",
        "| path | median s / step | peak RSS MiB |",
        "|---|---|---|",
    ] + [f"| {k} | {v['median_s']:.2f} | {v['peak_rss_mb']:.0f} |" for k, v in results.items()] + [
        "", f"Speed-up of CSR over edge messages: {report['speedup']:.1f}x (same loss to 1e-4).", ""]
    atomic_write_text(out / "bench_graph_encoder.md", "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
