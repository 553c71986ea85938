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

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from graphrep.data import default_cache_dir, load_graph_dataset, reuse_dirs
from graphrep.evaluate import FOLD_RECORD, select_per_seed
from graphrep.experiment import PROBE_KEY, RunOptions, config_name, peak_rss_mb, probe_record
from shared.checkpoint import read_json

__all__ = ["run_candidates", "select_runs"]


def run_candidates(run: Path) -> tuple[RunOptions, list[str]]:
    """A graph-level run directory's options (its ``config.json``) and configuration names.

    Raises:
        FileNotFoundError: no ``config.json`` (not a run directory).
        ValueError: a node-level run.
    """
    cfg_file = Path(run) / "config.json"
    if not cfg_file.is_file():
        raise FileNotFoundError(f"{cfg_file} is missing: {run} is not a graphrep run "
                                f"directory (train it with `graphrep train` or bench).")
    opts = RunOptions.from_json(read_json(cfg_file, expect=dict))
    if not opts.graph_level:
        raise ValueError(f"{run} is a node-level run; select_runs compares graph-level "
                         f"runs (node-level choices are made on validation nodes).")
    return opts, [config_name(c) for c in opts.graph_configs()]


def select_runs(runs: Sequence[str | Path], seeds: Sequence[int] | None = None,
                data_dir: str | None = None, cache_dir: str | None = None,
                probe_jobs: int = 1) -> dict:
    """Choose, per seed and outer fold, among every configuration of ``runs`` by inner CV.

    Probe records are read from each seed's ``svc.json`` (computed and stored there when
    missing or stored before the folds were recorded). Candidates tied at the best inner
    score share the fold (:func:`~graphrep.evaluate.select_per_fold`), so the result does
    not depend on the order of ``runs``.

    Args:
        runs: graph-level run directories of one dataset, with distinct names.
        seeds: encoder seeds, each trained by every run (default: all such seeds, in the
            first run's order).
        data_dir, cache_dir: where the dataset's labels are loaded from (default:
            ``$GRAPHREP_DATA`` / ``$GRAPHREP_CACHE``, else the directories the first run
            was trained with where they exist, else the default cache;
            :func:`graphrep.data.reuse_dirs`).
        probe_jobs: parallel fits of a probe's inner grid search.

    Returns:
        ``{"dataset", "protocol": "honest", "candidates": ["<run>/<config>", ...],
        "seeds", "accuracies" (%), "accuracy_mean", "accuracy_std", "per_candidate"
        (% per seed), "chosen" ({seed: [[candidates tied best] per fold]}),
        "folds_won" (alone, per candidate), "folds_tied", "probe", "seconds",
        "peak_rss_mb"}``.
    """
    t0 = time.perf_counter()
    runs = [Path(r) for r in runs]
    if len(runs) < 2:
        raise ValueError("select_runs compares at least two run directories.")
    if len({r.resolve() for r in runs}) < len(runs) or len({r.name for r in runs}) < len(runs):
        raise ValueError(f"the run directories {[str(r) for r in runs]} repeat a directory "
                         f"or a name; pass each run once, under distinct names.")
    stored = [run_candidates(r) for r in runs]
    datasets = {opts.dataset for opts, _ in stored}
    if len(datasets) != 1:
        raise ValueError(f"the runs hold different datasets {sorted(datasets)}; "
                         f"select among runs of one dataset.")
    if seeds is None:
        seeds = [s for s in stored[0][0].seeds
                 if all(s in opts.seeds for opts, _ in stored[1:])]
        if not seeds:
            raise ValueError("the runs share no encoder seed; train them on common --seeds.")
    seeds = list(seeds)
    twice = sorted({s for s in seeds if seeds.count(s) > 1})
    if twice:  # each seed would count once more in the mean
        raise ValueError(f"seeds {seeds} list {twice[0]} more than once; pass each seed once.")
    lacking = [f"{run} (trained seeds {opts.seeds})" for run, (opts, _) in zip(runs, stored, strict=True)
               if not set(seeds) <= set(opts.seeds)]
    if lacking:
        raise ValueError(f"seeds {seeds} were not all trained in {', '.join(lacking)}; "
                         f"train them there (graphrep train --resume) or pass --seeds "
                         f"that every run holds.")
    dataset = datasets.pop()
    # not given: the variables, else where the first run was trained from (a run records
    # its directories)
    first = stored[0][0]
    data_dir, cache_dir = reuse_dirs(first.data_dir, first.cache_dir, data_dir, cache_dir)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    labels = load_graph_dataset(dataset, data_dir, cache).labels
    records = {f"{run.name}/{name}": [probe_record(run / name / f"seed_{s}", s, labels,
                                                  probe_jobs, required=FOLD_RECORD)
                                     for s in seeds]
               for run, (_, configs) in zip(runs, stored, strict=True) for name in configs}
    names = list(records)
    accs, chosen = select_per_seed(records, seeds)
    accs = [100 * a for a in accs]
    folds = [tied for per_seed in chosen.values() for tied in per_seed]
    return {
        "dataset": dataset, "protocol": "honest",
        "selection": "run and config chosen per outer fold by inner CV (ties share the "
                     "fold: mean of their test accuracies)",
        "candidates": names, "seeds": seeds, "accuracies": accs,
        "accuracy_mean": float(np.mean(accs)), "accuracy_std": float(np.std(accs)),
        "per_candidate": {n: [100 * r["accuracy"] for r in recs]
                          for n, recs in records.items()},
        "chosen": chosen,
        "folds_won": {n: sum(t == [n] for t in folds) for n in names},
        "folds_tied": sum(len(t) > 1 for t in folds),
        "probe": {**PROBE_KEY, "row_space": True},
        "seconds": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb(),
    }
