"""Honest choice among graph-level run directories (e.g. the PPR and heat-kernel views).

A run directory trains one or several encoder configurations; its own nested selection
(:func:`graphrep.experiment.evaluate_runs`) chooses among those. :func:`select_runs` does
the same across run directories of one dataset that differ in what a single run cannot
vary, such as the diffusion view: on every outer fold of every seed, the candidate
(run, configuration) with the best inner-CV accuracy is chosen and its test accuracy on
that fold counts (:func:`graphrep.evaluate.select_per_fold`). Every candidate's probe uses
the same folds (same seed, same labels), so this equals one inner search over candidates
and ``C`` together; test folds never take part in the choice.

Example::

    graphrep select --runs runs/PTC_MR-ppr runs/PTC_MR-heat --out ptc_view.json
"""
from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

import numpy as np

from graphrep.data import default_cache_dir, load_graph_dataset
from graphrep.evaluate import FOLD_RECORD, select_per_fold
from graphrep.experiment import PROBE_KEY, RunOptions, config_name, peak_rss_mb, probe_record
from graphrep.train import GraphTrainConfig

__all__ = ["run_candidates", "select_runs"]


def run_candidates(run: Path) -> tuple[dict, list[str]]:
    """A graph-level run directory's ``config.json`` and its configurations' names.

    Raises:
        FileNotFoundError: no ``config.json`` (not a run directory).
        ValueError: a node-level run.
    """
    cfg_file = Path(run) / "config.json"
    if not cfg_file.is_file():
        raise FileNotFoundError(f"{cfg_file} is missing: {run} is not a graphrep run "
                                f"directory (train it with `graphrep train` or bench).")
    cfg = json.loads(cfg_file.read_text())
    if not cfg.get("graph_level"):
        raise ValueError(f"{run} is a node-level run; select_runs compares graph-level "
                         f"runs (node-level choices are made on validation nodes).")
    known = {f.name for f in fields(GraphTrainConfig)}
    opts = RunOptions(dataset=cfg["dataset"], out_dir=str(run),
                      graph=GraphTrainConfig(**{k: v for k, v in cfg["graph"].items()
                                                if k in known}),
                      layers_grid=cfg.get("layers_grid") or [],
                      batch_grid=cfg.get("batch_grid") or [],
                      epochs_grid=cfg.get("epochs_grid") or [])
    return cfg, [config_name(c) for c in opts.graph_configs()]


def select_runs(runs: Sequence[str | Path], seeds: Sequence[int] | None = None,
                data_dir: str | None = None, cache_dir: str | None = None,
                probe_jobs: int = 1) -> dict:
    """Choose, per seed and outer fold, among every configuration of ``runs`` by inner CV.

    Probe records are read from each seed's ``svc.json`` (computed and stored there when
    missing or stored before the folds were recorded).

    Args:
        runs: graph-level run directories of one dataset.
        seeds: encoder seeds (default: those every run was trained with, in the first
            run's order).
        data_dir, cache_dir: where the dataset's labels are loaded from.
        probe_jobs: parallel fits of a probe's inner grid search.

    Returns:
        ``{"dataset", "protocol": "honest", "candidates": ["<run>/<config>", ...],
        "seeds", "accuracies" (%), "accuracy_mean", "accuracy_std", "per_candidate"
        (% per seed), "chosen" (candidate per fold, per seed), "chosen_counts",
        "probe", "seconds", "peak_rss_mb"}``.
    """
    t0 = time.perf_counter()
    runs = [Path(r) for r in runs]
    if len(runs) < 2:
        raise ValueError("select_runs compares at least two run directories.")
    stored = [run_candidates(r) for r in runs]
    datasets = {cfg["dataset"] for cfg, _ in stored}
    if len(datasets) != 1:
        raise ValueError(f"the runs hold different datasets {sorted(datasets)}; "
                         f"select among runs of one dataset.")
    common = [s for s in stored[0][0]["seeds"]
              if all(s in cfg["seeds"] for cfg, _ in stored[1:])]
    seeds = list(common if seeds is None else seeds)
    if not seeds:
        raise ValueError("the runs share no encoder seed; train them on common --seeds.")
    dataset = datasets.pop()
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    labels = load_graph_dataset(dataset, data_dir, cache).labels
    names, records = [], []
    for run, (_, configs) in zip(runs, stored, strict=True):
        for name in configs:
            names.append(f"{run.name}/{name}")
            records.append([probe_record(run / name / f"seed_{s}", s, labels, probe_jobs,
                                         required=FOLD_RECORD) for s in seeds])
    accs, chosen = [], {}
    for i, s in enumerate(seeds):
        r = select_per_fold([recs[i] for recs in records])
        accs.append(100 * r["accuracy"])
        chosen[s] = [names[k] for k in r["chosen"]]
    picks = [n for per_seed in chosen.values() for n in per_seed]
    return {
        "dataset": dataset, "protocol": "honest",
        "selection": "run and config chosen per outer fold by inner CV",
        "candidates": names, "seeds": seeds, "accuracies": accs,
        "accuracy_mean": float(np.mean(accs)), "accuracy_std": float(np.std(accs)),
        "per_candidate": {n: [100 * r["accuracy"] for r in recs]
                          for n, recs in zip(names, records, strict=True)},
        "chosen": chosen, "chosen_counts": {n: picks.count(n) for n in names},
        "probe": {**PROBE_KEY, "row_space": True},
        "seconds": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb(),
    }
