"""How well does each rule for choosing the node probe's settings generalise, judged on
validation nodes only?

The honest node probe (:func:`shared.probes.logistic_regression_probe`,
``standardize="select"``) picks ``C`` and z-scoring by validation accuracy. On 300-500
validation nodes that pick jumps between seeds (C = 0.01 z-scored on one, C = 100 raw on
the next, in the default runs' ``per_seed``). This script measures a selection rule the
way the rule itself would be used, without test nodes: it splits the validation nodes in
two random halves, lets the rule choose on one half and scores the choice on the other,
both ways, over several random halvings and every seed's embedding. Rules:

``accuracy``
    the probe's own: ``C`` in :data:`shared.probes.DEFAULT_LOGREG_C`, with and without
    z-scoring, the highest validation accuracy (ties to the first candidate).
``log_loss``
    the same candidates, the lowest validation cross-entropy.
``log_loss_fine``
    ``C`` in ``10^-3, 10^-2.5, ..., 10^3`` (13 values), with and without z-scoring, the
    lowest validation cross-entropy.
``release_wd``
    the release's probe (:func:`graphrep.evaluate.release_logreg_predictions`: 50
    restarts of a linear layer, Adam 0.01, 300 steps, no z-scoring) with its weight decay
    in :data:`RELEASE_WD` chosen by validation accuracy averaged over the restarts (the
    release fixes it: 0.01 on CiteSeer, 0 elsewhere); scored by accuracy averaged over
    the restarts, as the release scores it (``--restarts``: 50 as released; the
    committed check ran 20, for time).

Every candidate is fitted once on the training nodes (as its probe fits it), so rules
differ only in what they read on the selecting half. Test nodes are not read unless
``--test`` is given, which adds each rule's test accuracy when it chooses on all
validation nodes: for reporting after a decision, never for making one.

Embeddings come from ``graphrep train`` runs (``<run>/default/seed_<k>/embedding.pt``)::

    graphrep train --dataset CiteSeer --seeds 0 1 ... 19 --out-dir /tmp/emb/CiteSeer-public
    python experiments/probe_selection_check.py --run CiteSeer:public:/tmp/emb/CiteSeer-public \\
        --out experiments/results/probe_selection_check.json
"""
from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from graphrep.data import load_node_dataset
from graphrep.evaluate import release_logreg_predictions
from shared.checkpoint import atomic_write_json, load_file
from shared.probes import DEFAULT_LOGREG_C, logreg_model

#: candidate C values of the ``log_loss_fine`` rule: 10^-3 .. 10^3 in half decades
FINE_C = tuple(float(10.0 ** (k / 2)) for k in range(-6, 7))
#: every C fitted: the union of both grids (rounded, so the grids' shared values fit once)
FITTED_C = tuple(sorted({round(float(c), 12) for c in (*DEFAULT_LOGREG_C, *FINE_C)}))
#: candidate weight decays of the ``release_wd`` rule (the release uses 0 and 0.01)
RELEASE_WD = (0.0, 1e-3, 1e-2, 1e-1)
#: rule name -> (probe family, its candidate settings, criterion)
RULES = {"accuracy": ("logreg", DEFAULT_LOGREG_C, "accuracy"),
         "log_loss": ("logreg", DEFAULT_LOGREG_C, "log_loss"),
         "log_loss_fine": ("logreg", FINE_C, "log_loss"),
         "release_wd": ("release", RELEASE_WD, "accuracy")}


@dataclass
class Candidate:
    """One fitted probe setting: ``setting`` is C (``logreg``) or the weight decay
    (``release``); ``val_pred`` holds its validation predictions, one row per restart
    (``[R, V]``), ``val_proba`` its class probabilities (``[V, K]``, ``logreg`` only), and
    ``test_pred`` (with ``--test``) its test predictions (``[R, T]``)."""

    family: str
    setting: float
    scaled: bool
    val_pred: np.ndarray
    val_proba: np.ndarray | None = None
    test_pred: np.ndarray | None = None


def fit_candidates(x: np.ndarray, y: np.ndarray, train: np.ndarray, val: np.ndarray,
                   test: np.ndarray | None, grid: Sequence[float],
                   seed: int) -> list[Candidate]:
    """Fit a logistic regression per (z-scoring, C) on the ``train`` rows, as
    :func:`shared.probes.logistic_regression_probe` does (z-scored first, then raw).

    Args:
        x: ``[N, D]`` embeddings; ``y``: ``[N]`` labels.
        train, val: ``[N]`` bool masks; ``test``: ``[N]`` bool or ``None`` (not predicted).
        grid: the C values, ascending.

    Returns:
        ``2 * len(grid)`` candidates, each with one restart (``val_pred`` ``[1, V]``).
    """
    out = []
    for scaled in (True, False):
        for c in grid:
            model = logreg_model(c, scaled, seed).fit(x[train], y[train])
            proba = model.predict_proba(x[val])
            out.append(Candidate("logreg", c, scaled, proba.argmax(1)[None], proba,
                                 None if test is None else model.predict(x[test])[None]))
    return out


def release_candidates(x: np.ndarray, y: np.ndarray, train: np.ndarray, val: np.ndarray,
                       test: np.ndarray | None, seed: int,
                       restarts: int = 50) -> list[Candidate]:
    """The release's probe at each weight decay of :data:`RELEASE_WD`, seeded as
    ``graphrep eval --protocol paper`` seeds it (its restarts' initial weights do not
    depend on the rows predicted).

    Args: as :func:`fit_candidates`.

    Returns:
        one candidate per weight decay, ``val_pred`` ``[restarts, V]`` (``test_pred``
        ``[restarts, T]`` when ``test`` is given).
    """
    emb, labels = torch.from_numpy(x).float(), torch.from_numpy(y)
    rows = val if test is None else val | test
    out = []
    for wd in RELEASE_WD:
        pred = release_logreg_predictions(emb, labels, torch.from_numpy(train),
                                          torch.from_numpy(rows), restarts=restarts,
                                          seed=seed, weight_decay=wd).numpy()
        on_val = val[rows]
        out.append(Candidate("release", wd, False, pred[:, on_val], None,
                             None if test is None else pred[:, ~on_val]))
    return out


def choose(cands: list[Candidate], family: str, grid: tuple[float, ...], criterion: str,
           y_val: np.ndarray, rows: np.ndarray) -> Candidate:
    """The candidate of ``family`` and ``grid`` that ``criterion`` prefers on validation
    ``rows`` (indices into the validation nodes); ties go to the first, as in the probe.
    Accuracy is averaged over a candidate's restarts."""
    pool = [c for c in cands if c.family == family and np.isclose(c.setting, grid).any()]
    y = y_val[rows]
    if criterion == "accuracy":
        scores = [-(c.val_pred[:, rows] == y).mean() for c in pool]
    else:
        scores = [-np.log(np.clip(c.val_proba[rows, y], 1e-15, None)).mean() for c in pool]
    return pool[int(np.argmin(scores))]


def held_out_accuracy(cands: list[Candidate], y_val: np.ndarray, halvings: int,
                      seed: int) -> dict[str, float]:
    """Per rule: mean accuracy on one half of the validation nodes of the candidate it
    chose on the other half, over ``halvings`` random halvings and both directions (every
    rule sees the same halvings)."""
    rng = np.random.default_rng(seed)
    n = len(y_val)
    acc = {r: [] for r in RULES}
    for _ in range(halvings):
        perm = rng.permutation(n)
        halves = (perm[: n // 2], perm[n // 2:])
        for pick, score in (halves, halves[::-1]):
            for rule, (family, grid, criterion) in RULES.items():
                c = choose(cands, family, grid, criterion, y_val, pick)
                acc[rule].append(float((c.val_pred[:, score] == y_val[score]).mean()))
    return {r: float(np.mean(v)) for r, v in acc.items()}


def check_run(name: str, split: str, run: Path, halvings: int, with_test: bool,
              data_dir: str | None, restarts: int = 50) -> dict:
    """Every seed's embedding under ``run``: held-out-half accuracy per rule, each rule's
    pick on all validation nodes, and (``with_test``) that pick's test accuracy; the test
    mask is not read without ``with_test``.

    Returns:
        ``{"dataset", "split", "seeds", "halvings", "release_restarts", "held_out_mean":
        {rule: %}, "per_seed": {seed: {"held_out": {rule: fraction}, "pick": {rule:
        {"setting", "standardized", "val_accuracy"[, "test_accuracy"]}}}}`` and, with
        ``with_test``, ``"test_mean": {rule: %}``.
    """
    data = load_node_dataset(name, split, data_dir=data_dir).data
    y = data.y.numpy()
    train, val = data.train_mask.numpy(), data.val_mask.numpy()
    test = data.test_mask.numpy() if with_test else None
    seeds = sorted(int(m.group(1)) for p in (run / "default").glob("seed_*")
                   if (m := re.fullmatch(r"seed_(\d+)", p.name)))
    if not seeds:
        raise SystemExit(f"no {run}/default/seed_<k>/embedding.pt: run graphrep train first")
    per_seed = {}
    for s in seeds:
        x = load_file(run / "default" / f"seed_{s}" / "embedding.pt")["embedding"]
        x = x.double().numpy()
        cands = (fit_candidates(x, y, train, val, test, FITTED_C, seed=s)
                 + release_candidates(x, y, train, val, test, seed=s, restarts=restarts))
        y_val = y[val]
        rec = {"held_out": held_out_accuracy(cands, y_val, halvings, seed=s), "pick": {}}
        every = np.arange(len(y_val))
        for rule, (family, g, criterion) in RULES.items():
            c = choose(cands, family, g, criterion, y_val, every)
            rec["pick"][rule] = {"setting": c.setting, "standardized": c.scaled,
                                 "val_accuracy": float((c.val_pred == y_val).mean())}
            if with_test:
                rec["pick"][rule]["test_accuracy"] = float((c.test_pred == y[test]).mean())
        per_seed[s] = rec
        print(f"{name} {split} seed {s}: " + ", ".join(
            f"{r} {100 * v:.2f}" for r, v in rec["held_out"].items()), flush=True)
    summary = {r: 100 * float(np.mean([p["held_out"][r] for p in per_seed.values()]))
               for r in RULES}
    out = {"dataset": name, "split": split, "seeds": seeds, "halvings": halvings,
           "release_restarts": restarts,
           "held_out_mean": summary, "per_seed": per_seed}
    if with_test:
        out["test_mean"] = {r: 100 * float(np.mean([p["pick"][r]["test_accuracy"]
                                                    for p in per_seed.values()]))
                            for r in RULES}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", action="append", required=True, metavar="NAME:SPLIT:DIR",
                   help="dataset, split and a graphrep train run directory (repeatable)")
    p.add_argument("--halvings", type=int, default=10)
    p.add_argument("--restarts", type=int, default=50,
                   help="restarts of the release probe (the release: 50)")
    p.add_argument("--test", action="store_true",
                   help="also report each rule's test accuracy (after a decision only)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", type=Path, default=None, help="write the records as JSON")
    args = p.parse_args()
    results = []
    if any(spec.count(":") < 2 for spec in args.run):
        p.error("--run takes NAME:SPLIT:DIR, e.g. --run CiteSeer:public:/tmp/emb/CiteSeer-public")
    for spec in args.run:
        name, split, run = spec.split(":", 2)
        results.append(check_run(name, split, Path(run), args.halvings, args.test,
                                 args.data_dir, args.restarts))
    for r in results:
        base = r["held_out_mean"]["accuracy"]
        print(f"{r['dataset']} {r['split']} ({len(r['seeds'])} seeds): " + ", ".join(
            f"{k} {v:.2f} ({v - base:+.2f})" for k, v in r["held_out_mean"].items()))
        if "test_mean" in r:
            print("  test (logged only): " + ", ".join(
                f"{k} {v:.2f}" for k, v in r["test_mean"].items()))
    if args.out is not None:
        atomic_write_json(args.out, {"rules": {k: {"probe": f, "settings": list(g),
                                                   "criterion": c}
                                               for k, (f, g, c) in RULES.items()},
                                     "runs": results})
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
