"""Should the graph-level probe z-score the embedding? Judged by inner CV only.

The honest node probe chooses z-scoring together with C on validation nodes; the graph
probe (:func:`shared.probes.svc_cross_validation`, LinearSVC, C by inner 5-fold CV in
each of 10 outer folds) never z-scores, as the release's does not. This script probes
each seed's embedding both ways, on the same folds, and counts the outer folds whose
inner CV prefers the z-scored probe, the raw one, or neither (tied to 1e-12). Those
counts read only the training part of each outer fold. With ``--test`` it also reports
the outer-fold accuracy of both probes and of the per-fold choice between them
(:func:`graphrep.evaluate.select_per_fold`, ties sharing the fold): for reporting after a
decision, never for making one. ``--from-json`` prints the summary of a saved ``--out``
file again (the paired per-seed differences quoted in the docs) without probing.

Embeddings come from ``graphrep train`` runs of one configuration
(``<run>/<config>/seed_<k>/embedding.pt``)::

    graphrep train --dataset MUTAG --seeds 0 1 ... 9 --out-dir /tmp/emb/MUTAG
    python experiments/svc_standardize_check.py --run MUTAG:/tmp/emb/MUTAG \\
        --out experiments/results/svc_standardize_check.json
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import torch

from graphrep.data import load_graph_dataset
from graphrep.evaluate import GRAPH_FOLDS, graph_accuracy, select_per_fold
from shared.checkpoint import atomic_write_json, load_file


def fold_record(emb: np.ndarray, labels: np.ndarray, seed: int, standardize: bool) -> dict:
    """One probe's per-fold record (``emb`` ``[G, D]``, ``labels`` ``[G]``): what
    :func:`select_per_fold` reads (accuracies as fractions), the folds fixed by ``seed``
    alone, so both probes of a seed share them."""
    return graph_accuracy(emb, labels, seed=seed, standardize=standardize)


def inner_preferences(raw: dict, scaled: dict) -> dict[str, int]:
    """Outer folds whose inner CV prefers the z-scored probe, the raw one, or neither
    (scores equal to 1e-12), from two :func:`fold_record` results of one seed."""
    z, r = np.asarray(scaled["inner_scores"]), np.asarray(raw["inner_scores"])
    tie = np.isclose(z, r, rtol=0.0, atol=1e-12)
    return {"z_scored": int(((z > r) & ~tie).sum()), "raw": int(((r > z) & ~tie).sum()),
            "tied": int(tie.sum())}


def check_run(name: str, run: Path, with_test: bool, data_dir: str | None) -> dict:
    """Every seed under ``run`` (one configuration directory): inner-CV preferences
    per seed and in total, and (``with_test``) test accuracies of both probes and of the
    per-fold choice.

    Returns:
        ``{"dataset", "config", "seeds", "inner_preference": {"z_scored", "raw", "tied"},
        "per_seed": {seed: {"inner_preference", "inner_scores": {"raw", "z_scored"}[,
        "test": {"raw", "z_scored", "per_fold"}]}}}`` and, with ``with_test``,
        ``"test_mean"`` and ``"test_std"`` (ddof 0) over seeds; test figures in %.
    """
    configs = [p for p in run.iterdir() if p.is_dir() and any(p.glob("seed_*"))]
    if len(configs) != 1:
        raise SystemExit(f"{run} holds {len(configs)} configuration directories with "
                         f"seeds; pass a run of exactly one configuration")
    ds = load_graph_dataset(name, data_dir=data_dir)
    labels = torch.cat([g.y for g in ds.graphs]).numpy()
    seeds = sorted(int(m.group(1)) for p in configs[0].glob("seed_*")
                   if (m := re.fullmatch(r"seed_(\d+)", p.name)))
    per_seed, total = {}, {"z_scored": 0, "raw": 0, "tied": 0}
    for s in seeds:
        emb = load_file(configs[0] / f"seed_{s}" / "embedding.pt")["embedding"]
        emb = emb.double().numpy()
        raw = fold_record(emb, labels, s, standardize=False)
        scaled = fold_record(emb, labels, s, standardize=True)
        pref = inner_preferences(raw, scaled)
        total = {k: total[k] + v for k, v in pref.items()}
        rec = {"inner_preference": pref,
               "inner_scores": {"raw": raw["inner_scores"], "z_scored": scaled["inner_scores"]}}
        if with_test:
            rec["test"] = {"raw": 100 * float(np.mean(raw["fold_accuracies"])),
                           "z_scored": 100 * float(np.mean(scaled["fold_accuracies"])),
                           "per_fold": 100 * select_per_fold([raw, scaled])["accuracy"]}
        per_seed[s] = rec
        print(f"{name} seed {s}: inner CV prefers z-scored on {pref['z_scored']} folds, "
              f"raw on {pref['raw']}, tied {pref['tied']}", flush=True)
    out = {"dataset": name, "config": configs[0].name, "seeds": seeds,
           "inner_preference": total, "per_seed": per_seed}
    if with_test:
        out["test_mean"] = {k: float(np.mean([r["test"][k] for r in per_seed.values()]))
                            for k in ("raw", "z_scored", "per_fold")}
        out["test_std"] = {k: float(np.std([r["test"][k] for r in per_seed.values()]))
                           for k in ("raw", "z_scored", "per_fold")}
    return out


def summary(results: list[dict]) -> list[str]:
    """Lines summarising :func:`check_run` results (as returned or as saved by
    ``--out``): fold preferences and, where test figures exist, their means and the paired
    per-seed differences from the raw probe (mean +- sample std, seeds higher / lower)."""
    lines = []
    for r in results:
        t = r["inner_preference"]
        lines.append(f"{r['dataset']} ({len(r['seeds'])} seeds x {GRAPH_FOLDS} outer folds): "
                     f"inner CV prefers z-scored on {t['z_scored']} folds, raw on {t['raw']}, "
                     f"tied {t['tied']}")
        inner = np.array([np.subtract(p["inner_scores"]["z_scored"], p["inner_scores"]["raw"])
                          for p in r["per_seed"].values()])
        lines.append(f"  mean inner-CV accuracy, z-scored - raw: {100 * inner.mean():+.2f} points")
        if "test_mean" not in r:
            continue
        lines.append("  test (logged only): " + ", ".join(
            f"{k} {v:.2f} +- {r['test_std'][k]:.2f}" for k, v in r["test_mean"].items()))
        for k in ("z_scored", "per_fold"):
            d = np.array([p["test"][k] - p["test"]["raw"] for p in r["per_seed"].values()])
            lines.append(f"  {k} - raw per seed: {d.mean():+.2f} +- {d.std(ddof=1):.2f} "
                         f"(higher on {int((d > 0).sum())} seeds, lower on "
                         f"{int((d < 0).sum())})")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", action="append", default=[], metavar="NAME:DIR",
                   help="dataset and a graphrep train run directory (repeatable)")
    p.add_argument("--test", action="store_true",
                   help="also report test-fold accuracies (after a decision only)")
    p.add_argument("--from-json", type=Path, default=None,
                   help="print the summary of a saved --out file instead of probing")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", type=Path, default=None, help="write the records as JSON")
    args = p.parse_args()
    if args.from_json is not None:
        print("\n".join(summary(json.loads(args.from_json.read_text())["runs"])))
        return
    if not args.run or any(":" not in spec for spec in args.run):
        p.error("give --run NAME:DIR (e.g. --run MUTAG:/tmp/emb/MUTAG) or --from-json FILE")
    results = [check_run(spec.split(":", 1)[0], Path(spec.split(":", 1)[1]), args.test,
                         args.data_dir)
               for spec in args.run]
    print("\n".join(summary(results)))
    if args.out is not None:
        atomic_write_json(args.out, {"runs": results})
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
