"""CRD's memory-bank scoring: gather rows vs score the whole bank, forward + backward.

:meth:`shared.losses.CRDLoss.memory_scores` multiplies by the whole bank while
``n_data <= FULL_BANK_FACTOR * (K + 1)``; this measures both ways around that line and writes
``experiments/results/bench_crd_scores.md``. One CPU thread; about a minute.

Usage::

    python experiments/bench_crd_scores.py [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from shared.checkpoint import atomic_write_text

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
CASES = [  # (K, D, n_data): digits / 100-class demos, and CIFAR-100's 50k with the paper's K
    (512, 64, 1258), (1024, 64, 3000), (1024, 64, 10000), (1024, 64, 30000),
    (1024, 64, 65600), (16384, 128, 50000), (16384, 128, 200000),
]


def _ms(fn, repeats: int = 5) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=RESULTS,
                        help="folder for bench_crd_scores.md (default: experiments/results)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    from shared.losses import CRDLoss

    batch = 64
    lines = ["# CRD memory-bank scoring: whole bank vs gathered rows", "",
             "`python experiments/bench_crd_scores.py`; batch 64, forward + backward, one CPU",
             f"thread, ms per call, each path forced. `CRDLoss.FULL_BANK_FACTOR` = {CRDLoss.FULL_BANK_FACTOR}.", "",
             "| K | D | n_data | n_data / (K+1) | whole bank ms | gather ms | used |",
             "|---|---|---|---|---|---|---|"]
    for k, d, n in CASES:
        memory = torch.randn(n, d)
        v = torch.randn(batch, d, requires_grad=True)
        index = torch.randint(n, (batch, k + 1))

        def path(full_bank: bool, memory=memory, v=v, index=index) -> float:
            """ms per forward + backward of CRDLoss.memory_scores forced onto one path"""
            return _ms(lambda: CRDLoss.memory_scores(memory, v, index, full_bank)
                       .sum().backward())

        used = "whole" if n <= CRDLoss.FULL_BANK_FACTOR * (k + 1) else "gather"
        row = (f"| {k} | {d} | {n} | {n / (k + 1):.1f} | {path(True):.1f} | "
               f"{path(False):.1f} | {used} |")
        print(row, flush=True)
        lines.append(row)
    os.makedirs(args.out, exist_ok=True)
    atomic_write_text(os.path.join(args.out, "bench_crd_scores.md"), "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
