"""Benchmark NT-Xent forward+backward against a plain dense PyTorch reference.

Dense path: ``shared.losses.nt_xent`` vs the textbook form (normalise, 2N x 2N cosine matrix,
masked diagonal, ``cross_entropy``) timed interleaved in one process, one thread, for several
N (d = 128); medians of ``--reps`` runs. Chunked path: ``nt_xent(..., chunk_size=C)`` at a large N in
a child process whose peak RSS is read from the OS.

Writes ``<out>/bench_losses.json`` and ``<out>/bench_losses.md``.

    python experiments/bench_losses.py                    # full run (~15 min on 2 cores)
    python experiments/bench_losses.py --sizes 256 1024 --chunked-n 8192 --reps 3  # quick
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from shared.checkpoint import atomic_write_json, atomic_write_text
from shared.losses import nt_xent

D, TEMPERATURE = 128, 0.1


def reference_nt_xent(z1: torch.Tensor, z2: torch.Tensor, t: float) -> torch.Tensor:
    """The plain dense form (mean over 2N anchors)."""
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / t
    sim.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(sim, targets)


def _time_once(fn, z1, z2) -> float:
    a, b = z1.clone().requires_grad_(), z2.clone().requires_grad_()
    start = time.perf_counter()
    fn(a, b).backward()
    return time.perf_counter() - start


def bench_dense(n: int, reps: int) -> dict:
    g = torch.Generator().manual_seed(n)
    z1, z2 = torch.randn(n, D, generator=g), torch.randn(n, D, generator=g)
    ours = lambda a, b: nt_xent(a, b, TEMPERATURE)  # noqa: E731
    ref = lambda a, b: reference_nt_xent(a, b, TEMPERATURE)  # noqa: E731
    torch.testing.assert_close(ours(z1, z2), ref(z1, z2))
    _time_once(ours, z1, z2), _time_once(ref, z1, z2)  # warm-up
    t_ours, t_ref = [], []
    for i in range(reps):  # interleave, alternating order, so drift hits both alike
        pair = [(ours, t_ours), (ref, t_ref)]
        for fn, acc in pair if i % 2 == 0 else pair[::-1]:
            acc.append(_time_once(fn, z1, z2))
    m_ours, m_ref = statistics.median(t_ours), statistics.median(t_ref)
    return {"n": n, "ours_s": m_ours, "reference_s": m_ref, "ratio": m_ours / m_ref, "reps": reps}


def _chunked_child(n: int, chunk: int, baseline_only: bool) -> None:
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(n, D, generator=g).requires_grad_()
    z2 = torch.randn(n, D, generator=g).requires_grad_()
    start = time.perf_counter()
    loss = None
    if not baseline_only:
        loss = nt_xent(z1, z2, TEMPERATURE, chunk_size=chunk)
        loss.backward()
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_rss_mb": _peak_rss_mb(),
                      "loss": None if loss is None else loss.item()}))


def _peak_rss_mb() -> float:
    """This process's peak RSS. Linux's ``VmHWM`` starts afresh at ``exec``; ``ru_maxrss`` does
    not (a child started by a large parent would report the parent's peak), so prefer it."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_chunked(n: int, chunk: int) -> dict:
    def run(baseline: bool) -> dict:
        cmd = [sys.executable, __file__, "--_child", str(n), str(chunk)]
        out = subprocess.run(cmd + (["--_baseline"] if baseline else []), check=True,
                             capture_output=True, text=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    base, full = run(True), run(False)
    dense_gib = (2 * n) ** 2 * 4 / 2**30
    return {"n": n, "chunk_size": chunk, "seconds": full["seconds"],
            "peak_rss_mb": full["peak_rss_mb"], "inputs_only_peak_rss_mb": base["peak_rss_mb"],
            "loss": full["loss"], "dense_logits_alone_gib": dense_gib}


def to_markdown(result: dict, command: str) -> str:
    lines = [
        "# NT-Xent benchmark (forward + backward, d = 128, one thread)",
        "",
        f"Command: `{command}`  ",
        f"Machine: {result['machine']}, torch {result['torch']}, {result['threads']} thread(s); "
        f"1-min load average at the end: {result.get('load_average_1min_at_end', float('nan')):.1f} "
        "(other jobs on the same cores inflate absolute times; the interleaved ratios less so).",
        "",
        "## Dense path vs a plain PyTorch reference (medians)",
        "",
        "| N | ours (s) | reference (s) | ratio ours/ref |",
        "|---:|---:|---:|---:|",
    ]
    for r in result["dense"]:
        lines.append(f"| {r['n']} | {r['ours_s']:.4f} | {r['reference_s']:.4f} | {r['ratio']:.3f} |")
    c = result["chunked"]
    lines += [
        "",
        "## Chunked path",
        "",
        "| N | chunk | seconds | peak RSS (MiB) | RSS with inputs only (MiB) | dense logits alone would need (GiB) |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {c['n']} | {c['chunk_size']} | {c['seconds']:.1f} | {c['peak_rss_mb']:.0f} | "
        f"{c['inputs_only_peak_rss_mb']:.0f} | {c['dense_logits_alone_gib']:.1f} |",
        "",
        "Targets: dense ratio <= 1 (within timing noise); chunked peak under 4 GiB.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096, 16384])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--chunked-n", type=int, default=65536)
    p.add_argument("--chunk-size", type=int, default=512)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    p.add_argument("--_child", type=int, nargs=2, help=argparse.SUPPRESS)
    p.add_argument("--_baseline", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._child:
        _chunked_child(*args._child, baseline_only=args._baseline)
        return
    # named here, not by a child process after the whole dense benchmark (minutes)
    for flag, values in (("--sizes", args.sizes), ("--reps", [args.reps]),
                         ("--chunked-n", [args.chunked_n]), ("--chunk-size", [args.chunk_size]),
                         ("--threads", [args.threads])):
        if min(values) < 1:
            p.error(f"{flag} must be >= 1, got {min(values)}")
    torch.set_num_threads(args.threads)
    dense = []
    for n in args.sizes:
        reps = args.reps if n <= 4096 else max(2, args.reps // 2)
        dense.append(bench_dense(n, reps))
        print(f"dense N={n}: {dense[-1]}", flush=True)
    chunked = bench_chunked(args.chunked_n, args.chunk_size)
    print(f"chunked: {chunked}", flush=True)
    result = {"machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
              "load_average_1min_at_end": os.getloadavg()[0],
              "torch": torch.__version__, "threads": args.threads, "dense": dense,
              "chunked": chunked}
    command = "python experiments/bench_losses.py " + " ".join(sys.argv[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "bench_losses.json", {**result, "command": command.strip()})
    atomic_write_text(args.out / "bench_losses.md", to_markdown(result, command.strip()))
    print((args.out / "bench_losses.md").read_text())


if __name__ == "__main__":
    main()
