"""Build experiments/results/mvgrl.md and mvgrl.csv (+ PNG plots) from MVGRL run dirs.

Usage (from the repository root)::

    python experiments/mvgrl_table.py [--runs experiments/results/mvgrl_runs]

First, each dataset's default configuration against the issue's target (``TARGETS``:
the seeds' mean, its 95% t-interval and a one-sample t-test; also ``mvgrl_targets.csv``).
Then every ``results*.json`` under ``--runs`` becomes one row: ours, with its
protocol, view, split, seeds, seconds and peak memory, next to the paper's
number and the DGL example's reproduction (both from ../shared/design/mvgrl.md).
Plots: training-loss curves of every run (its first seed and configuration, one panel
per dataset) and a 2-D PCA of the Cora embeddings (seed 0, where the run directory
holds them: embeddings are not committed) coloured by class.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

import numpy as np

from shared.checkpoint import CorruptFileError, read_json, read_json_lines, require_keys

PAPER = {"Cora": 86.8, "CiteSeer": 73.3, "PubMed": 80.1, "MUTAG": 89.7,
         "PTC_MR": 62.5, "IMDB-BINARY": 74.2, "IMDB-MULTI": 51.2,
         "REDDIT-BINARY": 84.5}
DGL = {"Cora": "83.2-83.5", "CiteSeer": "72.6-73.7", "PubMed": "79.8",
       "MUTAG": "89.4", "PTC_MR": "62.2", "IMDB-BINARY": "73.8",
       "IMDB-MULTI": "51.1", "REDDIT-BINARY": "failed"}
FIELDS = ["dataset", "split", "view", "diffusion", "protocol", "ours_mean", "ours_std",
          "n_seeds", "val_mean", "paper", "dgl_reproduction", "seconds", "seconds_per_seed",
          "train_seconds_per_run",
          "diffusion_seconds", "peak_rss_mb", "train_peak_rss_mb", "run"]


#: the issue's target for each (dataset, split), with the run directories that hold the
#: package's default configuration there (several where its seeds trained in separate runs)
#: (session 32 doubled each one's seeds: the ``-s10-19`` and ``-s5-9`` runs; session 34 gave
#: the Cora public split back its own default, top-64 at alpha 0.2 on one random 2000-node
#: subgraph per step: see mvgrl_bench.sh)
TARGETS: dict[tuple[str, str], tuple[float, tuple[str, ...]]] = {
    ("Cora", "pygcn"): (86.8, ("Cora-pygcn-ppr-alpha015", "Cora-pygcn-ppr-alpha015-s10-19")),
    ("Cora", "public"): (84.0, ("Cora-public-ppr-subgraph", "Cora-public-ppr-subgraph-s10-19")),
    ("CiteSeer", "public"): (73.3, ("CiteSeer-public-ppr-bilinear-init",
                                    "CiteSeer-public-ppr-bilinear-init-s10-19")),
    ("MUTAG", "graph-cv"): (89.7, ("MUTAG-ppr-head", "MUTAG-ppr-head-s5-9")),
    ("PTC_MR", "graph-cv"): (62.5, ("PTC_MR-ppr-head", "PTC_MR-ppr-head-s5-9")),
    ("IMDB-BINARY", "graph-cv"): (74.2, ("IMDB-BINARY-ppr-head", "IMDB-BINARY-ppr-head-s5-9")),
    ("IMDB-MULTI", "graph-cv"): (51.2, ("IMDB-MULTI-ppr-head", "IMDB-MULTI-ppr-head-s5-9")),
    ("REDDIT-BINARY", "graph-cv"): (84.5, ("REDDIT-BINARY-ppr-head-s0", "REDDIT-BINARY-ppr-head-s1-2",
                                           "REDDIT-BINARY-ppr-head-s3-4")),
}
#: the issue's floor, where it gives one below the target
FLOORS: dict[tuple[str, str], float] = {("CiteSeer", "public"): 72.5}

#: the heat kernel's transitions other than the paper's A D^-1, as the table names them
HEAT_TRANSITION_LABELS = {"sym": "D^-1/2 A D^-1/2", "row": "D^-1 A"}


def describe_diffusion(run: Path) -> str:
    """Sparsification of a run's diffusion view, from its config.json; plus a node-level
    run's schedule where it is not the default (and the release's index windows), and
    at graph level which embedding was evaluated (and frozen encoders)."""
    cfg_file = run / "config.json"
    if not cfg_file.is_file():
        return ""
    cfg = read_json(cfg_file)
    d = cfg.get("diffusion", {})
    parts = [f"top-{d['topk']}"] if d.get("topk") else []
    parts += [f"eps {d['eps']:g}"] if d.get("eps") else []
    parts = parts or ["dense"]  # neither cut: every entry kept
    if d.get("kind", "ppr") == "ppr" and d.get("alpha", 0.2) != 0.2:  # the paper's goes unsaid
        parts.append(f"alpha {d['alpha']:g}")
    parts += ["column min-max"] if d.get("column_scale") == "minmax" else []
    if d.get("self_loop_weight", 1.0) != 1.0:
        parts.append(f"A + {d['self_loop_weight']:g}I")
    if d.get("heat_transition", "col") != "col":  # the paper's A D^-1 goes unsaid
        parts.append(f"heat T = {HEAT_TRANSITION_LABELS[d['heat_transition']]}")
    from graphrep.experiment import training_signature

    # the signature reads a config written before an option as that option's meaning
    # then (no "embedding" key: the encoder readouts; no "discriminator_init": xavier)
    sig = training_signature(cfg)
    if not cfg.get("graph_level") and cfg.get("node"):
        node = sig["node"] or {}
        parts += _node_schedule(node)
        if node.get("subsets") == "windows":
            parts.append("index windows")
        parts.append(f"{node.get('discriminator_init')} disc. init")
        if node.get("prelu") == "shared":
            parts.append("shared PReLU slope")
    if cfg.get("graph_level"):
        graph = sig["graph"] or {}
        if graph.get("frozen_encoders"):
            parts.append("GCNs frozen (release bug)")
        if graph.get("prelu") == "shared":
            parts.append("shared PReLU slope")
        parts.append("head output" if graph.get("embedding") == "head"
                     else "encoder readout")
        parts += _graph_config(cfg)
    return ", ".join(parts)


def _node_schedule(node: dict) -> list:
    """A node-level run's training schedule where it is not the default full-batch one
    (e.g. ``["4 x 2000-node subgraphs", "<= 3000 steps, patience 20"]``)."""
    from graphrep.train import NodeTrainConfig

    d = NodeTrainConfig()
    get = {k: node.get(k, getattr(d, k))
           for k in ("batch_size", "sample_size", "epochs", "patience")}
    parts = []
    if node.get("full_batch") is False:
        parts.append(f"{get['batch_size']} x {get['sample_size']}-node subgraphs")
    if get["epochs"] == 0:
        parts.append("0 steps (untrained encoders)")
    elif (get["epochs"], get["patience"]) != (d.epochs, d.patience):
        parts.append(f"<= {get['epochs']} steps, patience {get['patience']}")
    return parts


def _graph_config(cfg: dict) -> list:
    """A graph-level run of one configuration other than the defaults, named (e.g.
    ``"L4 x 128, B64, E32"``); grids are named per cell by their ``paper`` rows."""
    from graphrep.train import GraphTrainConfig

    if any(len(cfg.get(k) or []) > 1 for k in ("layers_grid", "batch_grid", "epochs_grid")):
        return []
    d = GraphTrainConfig()
    layers, hidden, batch, epochs = (cfg["graph"].get(k, getattr(d, k)) for k in (
        "num_layers", "hidden_channels", "batch_size", "epochs"))
    if (layers, hidden, batch, epochs) == (d.num_layers, d.hidden_channels,
                                           d.batch_size, d.epochs):
        return []
    untrained = " (untrained encoders and heads)" if epochs == 0 else ""
    return [f"L{layers} x {hidden}, B{batch}, E{epochs}{untrained}"]


def _row(r: dict, name: str, diffusion: str = "") -> dict:
    split = r["split"]
    note = " (paper's split)" if split == "pygcn" else ""
    return {
        "dataset": r["dataset"], "split": split + note, "view": r["view"],
        "diffusion": diffusion, "protocol": r["protocol"], "ours_mean": round(r["accuracy_mean"], 2),
        "ours_std": round(r["accuracy_std"], 2), "n_seeds": len(r["seeds"]),
        # node level, honest: mean validation-node accuracy (what choices may read)
        "val_mean": _val_mean(r.get("per_seed", {})),
        "paper": PAPER.get(r["dataset"], ""),
        "dgl_reproduction": DGL.get(r["dataset"], "") if split != "pygcn" else "",
        "seconds": round(r["seconds"], 1),
        # eval-only rows (results_<protocol>.json) time the probe alone
        "seconds_per_seed": round(r["seconds"] / max(len(r["seeds"]), 1), 1),
        # training time per (config, seed), as recorded when it was trained (a run
        # resumed later keeps it, while "seconds" then covers the resumed part only)
        "train_seconds_per_run": _mean_or_blank(
            [t["train_seconds"] for t in r.get("train", {}).values()]),
        "diffusion_seconds": _mean_or_blank(
            [r["diffusion_seconds"]] if np.isfinite(r.get("diffusion_seconds", np.nan)) else []),
        "peak_rss_mb": round(r["peak_rss_mb"]),
        "train_peak_rss_mb": _train_peak(r.get("train", {})), "run": name,
    }


def _mean_or_blank(values: list) -> float | str:
    """Mean rounded to 0.1, or blank (not nan) where a row recorded none."""
    return round(float(np.mean(values)), 1) if values else ""


def _val_mean(per_seed: dict) -> str:
    vals = [v["val_accuracy"] for v in per_seed.values()
            if isinstance(v, dict) and "val_accuracy" in v]
    return f"{100 * np.mean(vals):.2f}" if vals else ""


def _train_peak(train: dict) -> str:
    """Largest peak memory recorded by the processes that trained a run's embeddings:
    blank when none was recorded (trained before it was kept), marked with how many
    of the (config, seed) records carry it when only some do."""
    from graphrep.experiment import train_peaks

    peaks = train_peaks({"train": train})
    if not peaks:
        return ""
    top = f"{max(peaks):.0f}"
    return top if len(peaks) == len(train) else f">= {top} ({len(peaks)} of {len(train)})"


def collect(runs: Path) -> list:
    rows = []
    for f in sorted(runs.glob("*/results*.json")):
        r = read_json(f)
        rows.append(_row(r, f.parent.name, describe_diffusion(f.parent)))
        per_config = r.get("per_config") or {}
        if r["protocol"] == "honest" and len(per_config) > 1:
            # the paper's selection, read off the same per-config probes: the config with
            # the best mean test-fold accuracy over seeds (selection on test, as released)
            best = max(per_config, key=lambda k: np.mean(per_config[k]))
            accs = 100 * np.asarray(per_config[best])
            rows.append({**rows[-1], "protocol": f"paper ({best} of {len(per_config)})",
                         "ours_mean": round(float(accs.mean()), 2),
                         "ours_std": round(float(accs.std()), 2)})
    return rows + merged_rows(runs) + selected_rows(runs.parent / "mvgrl_select", runs)


def _candidate_label(candidate: str, candidates: list) -> str:
    """``run`` for a run of one configuration, ``run/config`` for a grid's cells."""
    run = candidate.split("/")[0]
    return run if sum(c.split("/")[0] == run for c in candidates) == 1 else candidate


def selected_rows(folder: Path, runs_dir: Path) -> list:
    """One row per ``graphrep select`` result in ``folder`` (the run chosen per outer fold
    by inner CV among run directories in ``runs_dir``): its seconds are the selection's
    (probes reused or re-run), its peak memory the largest of the selecting process and
    the member runs' ``peak_rss_mb``; its view the members' one, or "chosen per fold"
    where they differ. A selection whose member runs lack results is left out, named."""
    rows = []
    for f in sorted(folder.glob("*.json")):
        r = read_json(f)
        runs = sorted({c.split("/")[0] for c in r["candidates"]})
        missing = [run for run in runs if not (runs_dir / run / "results.json").is_file()]
        if missing:
            print(f"mvgrl_table: {f.name} left out: no results.json in "
                  f"{', '.join(str(runs_dir / run) for run in missing)}", file=sys.stderr)
            continue
        members = [read_json(runs_dir / run / "results.json") for run in runs]
        views = {m.get("view") for m in members}
        won = ", ".join(f"{_candidate_label(c, r['candidates'])} {n}"
                        for c, n in r["folds_won"].items())
        view = views.pop() if len(views) == 1 and None not in views else "chosen per fold"
        rows.append(_row({**r, "split": "graph-cv", "view": view,
                          "protocol": f"honest (folds won: {won}, tied {r['folds_tied']})",
                          "peak_rss_mb": max([r["peak_rss_mb"]]
                                             + [m["peak_rss_mb"] for m in members])},
                         " + ".join(runs), "as in each run"))
    return rows


def merged_rows(runs: Path) -> list:
    """One row per group of run dirs that trained the same configuration on disjoint
    seeds (e.g. a long REDDIT-BINARY benchmark split over sessions) and were probed the
    same way (protocol and probe settings): accuracies pooled, seconds summed, peak memory
    the largest. Results files written before the probe settings were recorded in them
    pool only with each other: re-run ``graphrep eval`` on such a dir to record them."""
    from graphrep.experiment import training_signature

    groups: dict = {}
    for f in sorted(runs.glob("*/results*.json")):
        cfg_file = f.parent / "config.json"
        if not cfg_file.is_file():
            continue
        cfg = read_json(cfg_file)
        res = read_json(f)
        key = json.dumps(training_signature(cfg)
                         | {"protocol": res["protocol"], "probe": res.get("probe")},
                         sort_keys=True)
        groups.setdefault(key, []).append(res | {"_run": f.parent.name})
    rows = []
    for members in groups.values():
        seeds = [s for m in members for s in m["seeds"]]
        if len(members) < 2 or len(set(seeds)) != len(seeds) or any(
                len(m["accuracies"]) != len(m["seeds"]) for m in members):
            continue
        accs = np.asarray([a for m in members for a in m["accuracies"]])
        pooled = {**members[0], "seeds": seeds, "accuracy_mean": float(accs.mean()),
                  "accuracy_std": float(accs.std()),
                  "seconds": sum(m["seconds"] for m in members),
                  "peak_rss_mb": max(m["peak_rss_mb"] for m in members),
                  # each member computed its own views: their mean, as train s/run
                  "diffusion_seconds": np.mean([m["diffusion_seconds"] for m in members
                                                if "diffusion_seconds" in m] or [np.nan]),
                  # node level: every member's seeds (the pooled validation mean)
                  "per_seed": {k: v for m in members for k, v in m.get("per_seed", {}).items()},
                  "train": {f"{m['_run']}/{k}": v for m in members
                            for k, v in m.get("train", {}).items()}}
        rows.append(_row(pooled, " + ".join(m["_run"] for m in members),
                         describe_diffusion(runs / members[0]["_run"])))
    return rows


def target_rows(runs: Path, targets: dict = TARGETS, floors: dict = FLOORS) -> list[dict]:
    """Each default against the issue's target, from the honest ``results.json`` of its
    run directories under ``runs`` (seeds pooled; a target none of whose runs is there is
    left out): ``n`` seeds, ``mean``, ``sd`` (sample, ddof 1), the 95% t-interval of the
    mean (``ci_low``, ``ci_high``), the two-sided one-sample t-test's ``p`` against the
    target and ``p_holm``, Holm's adjustment over all the rows' tests, the seeds' ``low`` and
    ``high``, and a ``verdict``. One seed has no sd, interval or p (``nan``). Runs that share
    a seed, or trained another configuration (``training_signature`` of their
    ``config.json``), raise ``ValueError``."""
    from scipy import stats

    from graphrep.experiment import training_signature

    rows = []
    for (dataset, split), (target, names) in targets.items():
        found = [n for n in names if (runs / n / "results.json").is_file()]
        if not found:
            continue
        results = [read_json(runs / n / "results.json") for n in found]
        seeds = [s for r in results for s in r["seeds"]]
        if len(set(seeds)) != len(seeds) or any(
                len(r["accuracies"]) != len(r["seeds"]) for r in results):
            raise ValueError(f"{dataset} ({split}): the runs {', '.join(found)} share seeds "
                             f"or lack an accuracy for one ({sorted(seeds)}); pool runs of "
                             f"disjoint seeds only")
        signatures = {json.dumps(training_signature(read_json(runs / n / "config.json")),
                                 sort_keys=True)
                      for n in found if (runs / n / "config.json").is_file()}
        if len(signatures) > 1:
            raise ValueError(f"{dataset} ({split}): the runs {', '.join(found)} trained "
                             f"different configurations; pool runs of one configuration only")
        accs = np.asarray([a for r in results for a in r["accuracies"]], dtype=float)
        n, mean = len(accs), float(accs.mean())
        sd = half = p = float("nan")
        if n > 1:
            sd = float(accs.std(ddof=1))
            half = float(stats.t.ppf(0.975, n - 1)) * sd / np.sqrt(n)
            # no spread: the seeds either are the target or certainly are not
            p = float(stats.ttest_1samp(accs, target).pvalue) if sd > 0 else float(mean == target)
        met = mean >= target - 1e-9  # a mean of exact hits must not fall below by rounding
        if np.isnan(half):
            verdict = f"{'met' if met else 'below'} (one seed: no interval)"
        elif met:
            verdict = "met, above the 95% CI" if mean - half > target else "met, inside the 95% CI"
        else:
            verdict = "below, inside the 95% CI" if mean + half >= target else "below the 95% CI"
        floor = floors.get((dataset, split))
        if floor is not None and not met:
            verdict += (f"; floor {floor:g} {'met' if mean >= floor else 'not met'} on the mean"
                        + (" (inside the 95% CI)" if abs(mean - floor) <= half else ""))
        rows.append({"dataset": dataset, "split": split, "target": target, "n": n,
                     "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half,
                     "p": p, "p_holm": float("nan"), "low": float(accs.min()),
                     "high": float(accs.max()), "verdict": verdict, "runs": " + ".join(found) + (
                         f" (not found: {', '.join(n for n in names if n not in found)})"
                         if len(found) < len(names) else "")})
    for r, adjusted in zip(rows, holm_adjusted([r["p"] for r in rows]), strict=True):
        r["p_holm"] = adjusted
    return rows


def holm_adjusted(p: list[float]) -> list[float]:
    """Holm's step-down adjustment of the p-values ``p`` (``nan`` entries are no test and
    stay ``nan``): the i-th smallest of m becomes ``max_{j <= i} min(1, (m - j + 1) p_(j))``."""
    order = sorted((i for i, v in enumerate(p) if not np.isnan(v)), key=lambda i: p[i])
    out, running = [float("nan")] * len(p), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[i]))
        out[i] = running
    return out


def target_section(rows: list[dict]) -> list[str]:
    """``mvgrl.md``'s lines for :func:`target_rows` (none without rows)."""
    if not rows:
        return []
    lines = [
        "## The defaults against the issue's targets",
        "",
        "The package's default configuration per dataset (the honest protocol), its",
        "encoder seeds pooled: `sd` is the sample std (ddof 1, so it reads a little above",
        "the population std of the table below), `95% CI` the t-interval of the mean, `p`",
        "a two-sided one-sample t-test of the seeds against the target, which it takes as",
        "an exact number (the paper's own figures carry their seeds' and folds' error too),",
        "`Holm p` that p adjusted for testing every row at once (Holm's step-down).",
        f"With {min(r['n'] for r in rows)}-{max(r['n'] for r in rows)} seeds an interval is "
        "wide: `inside the 95% CI` says these",
        "seeds cannot tell the default from the target, not that it is met or missed.",
        "",
        "| dataset | split | target | ours | sd | 95% CI | p | Holm p | seeds | range | verdict | run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def num(x: float, fmt: str = ".2f") -> str:
        return "" if np.isnan(x) else format(x, fmt)

    for r in rows:
        ci = "" if np.isnan(r["ci_low"]) else f"{r['ci_low']:.2f}-{r['ci_high']:.2f}"
        p, holm = ("< 0.001" if r[k] < 0.001 else num(r[k], ".3f") for k in ("p", "p_holm"))
        lines.append(f"| {r['dataset']} | {r['split']} | {r['target']:.1f} | {r['mean']:.2f} | "
                     f"{num(r['sd'])} | {ci} | {p} | {holm} | {r['n']} | "
                     f"{r['low']:.2f}-{r['high']:.2f} | {r['verdict']} | {r['runs']} |")
    return lines + [""]


def write_tables(rows: list, out: Path, tune: Path | None = None,
                 targets: list[dict] | None = None) -> None:
    from shared.checkpoint import atomic_write_text

    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, FIELDS)
    w.writeheader()
    w.writerows(rows)
    # read before either table is written: a bad record leaves both as they were
    tune_lines = tune_section(tune if tune is not None else out / "mvgrl_tune.jsonl")
    lines = ["# MVGRL: paper, DGL reproduction, ours", ""] + target_section(targets or []) + [
        "## Every run",
        "",
        "Accuracy in % (mean +- population std, ddof 0, over encoder seeds). `honest`:",
        "hyperparameters fixed in advance or chosen on validation nodes / inner folds; `paper`: the release's",
        "probe (node level) or best-config-on-test-folds selection (graph level).",
        "A graph-level run of one fixed config has no config to select, so its paper",
        "protocol is its honest number (the same probe: C by inner CV); graph-level",
        "`paper` rows come from runs over a grid of configs (`-sweep`).",
        "`diffusion` names a PPR view's teleport only where it is not the paper's 0.2.",
        "Times are wall-clock seconds for the whole run (all seeds, diffusion, training,",
        "evaluation) on a shared 2-core CPU, one torch thread, with other jobs running.",
        "",
        "Node-level rows with protocol `paper` re-evaluate the honest run's embeddings",
        "with the release's probe; their seconds are the probe's alone. Graph-level",
        "`paper (<config> of <n>)` rows are read off the honest grid run's per-config",
        "probes and repeat its seconds and memory. The runs here predate `elapsed.json`:",
        "one that was resumed (re-probed, or continued in a later session) counts only",
        "its last process in `seconds`;",
        "`train s/run` is the training time per (config, seed) recorded when trained;",
        "`val` is the mean validation-node accuracy of honest node-level rows.",
        "`peak MiB` is the largest resident memory of the process that wrote the row and",
        "of the processes that trained its embeddings, where recorded; `train peak MiB`",
        "is the latter alone (blank: trained before it was recorded, so `peak MiB` may be",
        "an evaluation-only process's).",
        "",
        "| dataset | split | view | diffusion | protocol | ours | seeds | val | paper | DGL repro | seconds | s/seed | train s/run | diffusion s | peak MiB | train peak MiB | run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['split']} | {r['view']} | {r['diffusion']} | {r['protocol']} | "
            f"{r['ours_mean']:.2f} +- {r['ours_std']:.2f} | {r['n_seeds']} | {r['val_mean']} | "
            f"{r['paper']} | {r['dgl_reproduction']} | {r['seconds']} | "
            f"{r['seconds_per_seed']} | {r['train_seconds_per_run']} | "
            f"{r['diffusion_seconds']} | {r['peak_rss_mb']} | {r['train_peak_rss_mb']} | "
            f"{r['run']} |")
    lines += tune_lines
    atomic_write_text(out / "mvgrl.csv", buf.getvalue())  # a Ctrl-C leaves the old table
    if targets:
        tbuf = io.StringIO(newline="")
        tw = csv.DictWriter(tbuf, list(targets[0]))
        tw.writeheader()
        tw.writerows({k: float(f"{v:.4g}") if isinstance(v, float) else v for k, v in r.items()}
                     for r in targets)  # significant digits: a p of 2e-5 is not 0
        atomic_write_text(out / "mvgrl_targets.csv", tbuf.getvalue())
    atomic_write_text(out / "mvgrl.md", "\n".join(lines) + "\n")


def tune_section(path: Path) -> list:
    """Validation sweep (experiments/mvgrl_tune.py): mean over seeds per
    (split, config, epoch). Choices were made on `val`; `test` is logged only."""
    if not path.is_file():
        return []
    groups: dict = {}
    # a torn last line (a killed mvgrl_tune) is left out; its next run drops it
    keys = ("dataset", "split", "spec", "seed", "epoch", "val_std", "test_std", "loss")
    for r in read_json_lines(path, check=require_keys(*keys, what="sweep record"))[0]:
        spec = ",".join(kv for kv in r["spec"].split(",")
                        if not kv.startswith(("eval_at", "epochs")))
        key = (r["dataset"], r["split"], spec or "(defaults)", r["epoch"])
        groups.setdefault(key, []).append(r)
    lines = ["", "## Validation sweep (node level)", "",
             "`experiments/mvgrl_tune.py`, one record per encoder seed and step count;",
             "`val` = validation-node accuracy of the standardised probe (C chosen on",
             "the same nodes), the only number choices were made on; `test` is logged,",
             "never used to choose. Base config: PPR top-64, A + I, one random",
             "2000-node subgraph per step, Adam 1e-3, Xavier discriminator init (not the",
             "package's default `bilinear`: rows without `disc=` use Xavier), 100 steps",
             "(`full_batch=1`: whole graph per step). `train_s` in the records includes",
             "the validation probes run during training.",
             "Cora's two splits are one graph in two node orders and share nodes: 108 of",
             "the pygcn split's 298 matched validation nodes are public-split test nodes,",
             "181 of the public split's 500 are pygcn test nodes (2683 of 2708 nodes",
             "matched; `cora_split_overlap.json`). Session 22",
             "re-decided the public split's schedule, step cap and learning rate on its own",
             "nodes (the public rows with `disc=bilinear`, 10 seeds) with the selecting",
             "probe (standardised or raw, chosen on validation nodes per seed), whose",
             "accuracies differ from this table's standardised ones",
             "(`cora_public_redecision.json`; docs/mvgrl_results.md). `val sel` is that",
             "selecting probe's validation accuracy (per seed the standardised or the raw",
             "probe, whichever scores higher there; blank for records written before the raw",
             "one was logged): the number the later default decisions",
             "(docs/mvgrl_results.md) were taken on.",
             "",
             "| dataset | split | config | steps | seeds | val | test | loss | val sel |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (ds, split, spec, ep), rs in sorted(groups.items()):
        seeds = sorted({r["seed"] for r in rs})
        rs = [next(r for r in rs if r["seed"] == s) for s in seeds]
        lines.append(
            f"| {ds} | {split} | {spec} | {ep} | {','.join(map(str, seeds))} | "
            f"{np.mean([r['val_std'] for r in rs]):.2f} | "
            f"{np.mean([r['test_std'] for r in rs]):.2f} | "
            f"{np.mean([r['loss'] for r in rs]):.3f} | {_selecting_val(rs)} |")
    return lines


def _selecting_val(records: list) -> str:
    """Mean over seeds of the selecting probe's validation accuracy (the better of the
    standardised and raw probes per seed); blank unless every record logged both."""
    if not all("val_raw" in r for r in records):
        return ""
    return f"{np.mean([max(r['val_std'], r['val_raw']) for r in records]):.2f}"


def plot(runs: Path, out: Path, data_dir: str | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    curves = loss_curves(runs)
    datasets = sorted({ds for ds, _, _ in curves})
    cols = 2
    nrows = max(1, -(-len(datasets) // cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(12, 3.2 * nrows), squeeze=False)
    for ax, ds in zip(axes.flat, datasets, strict=False):
        for _, name, (epochs, losses) in (c for c in curves if c[0] == ds):
            ax.plot(epochs, losses, label=name, lw=1)
        ax.set_title(ds, fontsize=9)
        ax.set_xlabel("epoch (node level: step)")
        ax.set_ylabel("training loss")
        ax.legend(fontsize=5, ncol=2)
    for ax in axes.flat[len(datasets):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / "mvgrl_loss_curves.png", dpi=120)
    plt.close(fig)

    from graphrep.data import load_node_dataset

    no_embedding = []
    for run in sorted(runs.glob("Cora-*")):
        if not (run / "results.json").is_file():  # unfinished: not in the table either
            continue
        emb_file = next(iter(sorted(run.glob("default/seed_*/embedding.pt"))), None)
        if emb_file is None:
            no_embedding.append(run.name)
            continue
        split = read_json(run / "config.json")["split"]
        y = load_node_dataset("Cora", split, data_dir).data.y.numpy()
        emb = torch.load(emb_file, weights_only=False)["embedding"].numpy()
        emb = emb - emb.mean(0)
        _, _, vt = np.linalg.svd(emb, full_matrices=False)
        xy = emb @ vt[:2].T
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.scatter(xy[:, 0], xy[:, 1], c=y, s=3, cmap="tab10")
        ax.set_title(f"Cora ({split} split) MVGRL embeddings, PCA")
        fig.tight_layout()
        fig.savefig(out / f"mvgrl_cora_{run.name}_pca.png", dpi=120)
        plt.close(fig)
    if no_embedding:  # embeddings are not committed: their PNGs stay as they were
        print(f"mvgrl_table: no Cora PCA plot redrawn for {len(no_embedding)} runs without "
              f"a default/seed_*/embedding.pt: {', '.join(no_embedding)}", file=sys.stderr)


def loss_curves(runs: Path) -> list[tuple[str, str, tuple[list[int], list[float]]]]:
    """``(dataset, run, (epochs, losses))`` of every finished run: its first seed and
    first configuration, the last record of each epoch (a retrained run logs its epochs
    again), in epoch order."""
    from graphrep.experiment import metrics_record  # a garbled line reads as no record

    curves = []
    for m in sorted(runs.glob("*/metrics.jsonl")):
        run = m.parent
        if not (run / "results.json").is_file():  # unfinished: not in the table either
            continue
        cfg = read_json(run / "config.json") if (run / "config.json").is_file() else {}
        text = m.read_text(encoding="utf-8", errors="replace")  # a garbled line: no record
        records = [metrics_record(line) for line in text.splitlines() if line.strip()]
        records = [r for r in records if "loss" in r and "epoch" in r and "seed" in r]
        if not records:
            continue
        seed = (cfg.get("seeds") or read_json(run / "results.json").get("seeds")
                or [records[0]["seed"]])[0]
        config = next((r.get("config") for r in records if r["seed"] == seed), None)
        by_epoch = {r["epoch"]: r["loss"] for r in records
                    if r["seed"] == seed and r.get("config") == config}
        if by_epoch:
            epochs = sorted(by_epoch)
            dataset = cfg.get("dataset") or run.name.split("-")[0]
            curves.append((dataset, run.name, (epochs, [by_epoch[e] for e in epochs])))
    return curves


RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=Path, default=RESULTS / "mvgrl_runs",
                   help="run directories (default: experiments/results/mvgrl_runs)")
    p.add_argument("--out", type=Path, default=RESULTS,
                   help="folder for mvgrl.md / .csv and the plots (default: experiments/results)")
    p.add_argument("--tune", type=Path, default=RESULTS / "mvgrl_tune.jsonl",
                   help="validation sweep records (experiments/mvgrl_tune.py)")
    p.add_argument("--data-dir", default=None,
                   help="raw datasets, for the Cora labels of the PCA plots "
                        "(else $GRAPHREP_DATA)")
    args = p.parse_args()
    runs, out = args.runs, args.out
    try:
        rows = collect(runs)
        if not rows:
            p.error(f"no run results (*/results*.json) under {runs}: pass --runs")
        out.mkdir(parents=True, exist_ok=True)
        try:
            targets = target_rows(runs)
        except ValueError as e:  # default runs that cannot pool (shared seeds, other configs)
            p.error(str(e))
        write_tables(rows, out, args.tune, targets)
    except CorruptFileError as e:  # a damaged results/config file or tune record, named
        p.error(str(e))
    from graphrep.data import MissingRawFilesError

    try:
        plot(runs, out, args.data_dir)
    except MissingRawFilesError as e:  # the tables stand; the Cora plots need labels
        p.exit(2, f"{len(rows)} rows -> {out / 'mvgrl.md'}, but the Cora PCA plots were "
                  f"not drawn: {e}\n")
    print(f"{len(rows)} rows -> {out / 'mvgrl.md'}")


if __name__ == "__main__":
    main()
