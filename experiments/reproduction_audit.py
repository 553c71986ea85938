"""Does the code at HEAD still reproduce the committed MVGRL runs?

The run directories under ``experiments/results/mvgrl_runs`` keep each run's
``config.json``, ``results.json`` and (graph level) per-seed probe records
``<config>/seed_<k>/svc.json``, which name the probed embedding by its SHA-256.
Checkpoints and embeddings are not committed, so a fresh clone that runs
``experiments/mvgrl_bench.sh`` retrains; a committed number holds for that clone only
if today's code trains the same embedding. This script retrains one seed of each
named run from its ``config.json`` into a scratch directory and compares:

* graph level: the embedding's SHA-256 against the committed ``svc.json`` (equal means
  the committed probe record, and the accuracy built on it, is reproduced bit for
  bit); with ``--probe``, a differing embedding is probed and both accuracies reported;
* node level: the seed's test accuracy (honest protocol) and best training loss
  against the committed ``results.json``;
* both: the best training loss and its epoch, where ``results.json`` records them.

Grids (``--layers`` / ``--batch-size`` / ``--epochs`` sweeps) are audited on their first
configuration. One JSON record per (run, seed) is appended to ``--out``, and the
newest record of each is tabulated beside it (same name, ``.md``)::

    GRAPHREP_DATA=../shared/data python experiments/reproduction_audit.py \\
        --runs MUTAG-ppr-head PTC_MR-ppr-head \\
        --out experiments/results/reproduction_audit.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from graphrep.data import reuse_dirs
from graphrep.experiment import (
    RunOptions,
    bench,
    config_name,
    embedding_digest,
    probe_record,
    train_runs,
)
from shared.checkpoint import atomic_write_text, finite_or_null

RUNS_DIR = Path(__file__).parent / "results" / "mvgrl_runs"
#: the default configuration's run of each dataset (REDDIT-BINARY left out: 1.5 h a seed)
DEFAULT_RUNS = ["Cora-pygcn-ppr-alpha015", "Cora-public-ppr-subgraph",
                "CiteSeer-public-ppr-bilinear-init", "MUTAG-ppr-head", "PTC_MR-ppr-head",
                "IMDB-BINARY-ppr-head", "IMDB-MULTI-ppr-head"]


def _head_commit() -> str | None:
    """HEAD's hash, with ``-dirty`` when the packages' code differs from it."""
    repo = Path(__file__).resolve().parent.parent  # run from experiments/ too
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=repo).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "graphrep", "shared"],
                               cwd=repo).returncode != 0
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")


def _config(run: Path) -> dict:
    """A committed run's ``config.json``."""
    cfg_file = run / "config.json"
    if not cfg_file.is_file():
        raise SystemExit(f"{cfg_file} is missing: is {run.name!r} a run directory under "
                         f"{RUNS_DIR}?")
    if not (run / "results.json").is_file():  # nothing committed to compare with
        raise SystemExit(f"{run / 'results.json'} is missing: {run.name!r} is unfinished; "
                         f"finish it (graphrep bench --resume --out-dir {run}) or leave it out")
    return json.loads(cfg_file.read_text())


def audit_options(run: Path, seed: int, scratch: Path, data_dir: str | None) -> RunOptions:
    """The committed run's options, narrowed to one seed and its first configuration,
    writing into ``scratch``."""
    opts = RunOptions.from_json(_config(run))
    first = opts.graph_configs()[0]
    # --data-dir, else $GRAPHREP_DATA, else the recorded directory where it exists
    data, cache = reuse_dirs(opts.data_dir, opts.cache_dir, data_dir)
    return replace(opts, out_dir=str(scratch), seeds=[seed], resume=False, progress=False,
                   data_dir=data, cache_dir=cache, graph=first, layers_grid=[],
                   batch_grid=[], epochs_grid=[], device="cpu")


def audit_run(run: Path, seed: int, data_dir: str | None, probe: bool,
              commit: str | None = None) -> dict:
    """Retrain ``seed`` of ``run`` and compare with what is committed (module docstring).
    ``commit``: the code's commit, recorded (default: HEAD now, before training; a REDDIT
    seed trains for over an hour, and HEAD may move meanwhile)."""
    commit = commit if commit is not None else _head_commit()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="audit-") as tmp:
        opts = audit_options(run, seed, Path(tmp), data_dir)
        committed_results = json.loads((run / "results.json").read_text())
        name = config_name(opts.graph if opts.graph_level else opts.node)
        key = f"{name}/seed_{seed}"
        rec: dict = {"run": run.name, "seed": seed, "config": name,
                     "level": "graph" if opts.graph_level else "node"}
        if opts.graph_level:
            run_out = train_runs(opts)
            trained = run_out["runs"][key]
            seed_dir = Path(tmp) / name / f"seed_{seed}"
            emb = torch.load(seed_dir / "embedding.pt", weights_only=False)["embedding"]
            svc_file = run / name / f"seed_{seed}" / "svc.json"
            stored = json.loads(svc_file.read_text()) if svc_file.is_file() else None
            committed_sha = None if stored is None else stored.get("input_sha256")
            rec["embedding_sha256"] = embedding_digest(emb)
            rec["committed_sha256"] = committed_sha
            rec["identical_embedding"] = (None if committed_sha is None
                                          else committed_sha == rec["embedding_sha256"])
            if stored is not None:
                rec["committed_accuracy"] = stored["result"]["accuracy"]
            else:  # runs committed without probe records: their results file
                accs = committed_results.get("per_config", {}).get(name)
                seeds = committed_results.get("seeds", [])
                if accs and seed in seeds:
                    rec["committed_accuracy"] = accs[seeds.index(seed)]
            if probe and not rec["identical_embedding"]:
                ds, _ = run_out["payload"]
                rec["accuracy"] = probe_record(seed_dir, seed, ds.labels)["accuracy"]
        else:
            res = bench(opts)
            trained = res["train"][key]
            rec["accuracy"] = res["accuracies"][0] / 100
            seeds = committed_results.get("seeds", [])
            if seed in seeds:
                rec["committed_accuracy"] = committed_results["accuracies"][seeds.index(seed)] / 100
    committed = committed_results.get("train", {}).get(key, {})
    rec["best_loss"], rec["best_epoch"] = trained["best_loss"], trained["best_epoch"]
    rec["committed_best_loss"] = committed.get("best_loss")
    rec["committed_best_epoch"] = committed.get("best_epoch")
    if committed.get("best_loss", 0.0) is None:  # written as null: no finite loss (--epochs 0)
        rec["same_best_loss"] = not math.isfinite(rec["best_loss"])
    else:
        rec["same_best_loss"] = (None if rec["committed_best_loss"] is None
                                 else rec["committed_best_loss"] == rec["best_loss"])
    if "accuracy" in rec and "committed_accuracy" in rec:
        rec["same_accuracy"] = abs(rec["accuracy"] - rec["committed_accuracy"]) < 1e-9
    rec["seconds"] = round(time.perf_counter() - start, 1)
    rec["commit"] = commit
    rec["torch"] = torch.__version__
    return rec


def verdict(rec: dict) -> str:
    """One line on what :func:`audit_run`'s record shows."""
    if rec.get("identical_embedding"):
        return "embedding reproduced bit for bit"
    loss = {True: "same best loss", False: "best loss DIFFERS",
            None: "no best loss committed"}[rec["same_best_loss"]]
    acc = {True: "same accuracy", False: "accuracy DIFFERS", None: "accuracy not compared"}[
        rec.get("same_accuracy")]
    parts = [loss, acc]
    if rec["level"] == "graph":
        parts.insert(0, "embedding DIFFERS" if rec["identical_embedding"] is False
                     else "no digest committed (legacy record)")
    return ", ".join(parts)


def _short(commit: str | None) -> str:
    if not commit:
        return ""
    return commit[:7] + ("-dirty" if commit.endswith("-dirty") else "")


def write_table(records_file: Path, table_file: Path) -> None:
    """A markdown table of the newest record of each (run, seed) in ``records_file``."""
    newest: dict = {}
    for line in records_file.read_text().splitlines():
        rec = json.loads(line)
        newest[(rec["run"], rec["seed"])] = rec

    def pct(value) -> str:
        return "" if value is None else f"{100 * value:.2f}"

    def loss(value) -> str:  # null: no finite loss (an untrained run; written as inf before)
        return "inf" if value is None else f"{value:.6g}"

    def committed_loss(rec: dict) -> str:  # null and the same: both untrained; else none kept
        value = rec["committed_best_loss"]
        return loss(value) if value is not None or rec["same_best_loss"] else ""

    rows = ["| run | seed | config | verdict | accuracy (HEAD / committed) | best loss "
            "(HEAD / committed) | s | commit |", "|---|---|---|---|---|---|---|---|"]
    for rec in newest.values():
        rows.append(
            f"| {rec['run']} | {rec['seed']} | {rec['config']} | {verdict(rec)} | "
            f"{pct(rec.get('accuracy'))} / {pct(rec.get('committed_accuracy'))} | "
            f"{loss(rec['best_loss'])} / {committed_loss(rec)} | "
            f"{rec['seconds']:.0f} | {_short(rec.get('commit'))} |")
    atomic_write_text(
        table_file,
        "# MVGRL runs retrained at HEAD against what is committed\n\n"
        "Built by `experiments/reproduction_audit.py` from "
        f"`{records_file.name}` (newest record per run and seed).\n\n"
        + "\n".join(rows) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", nargs="+", default=DEFAULT_RUNS,
                   help=f"run directory names under {RUNS_DIR} (default: %(default)s)")
    p.add_argument("--seeds", type=int, nargs="+", default=None,
                   help="seeds to retrain (default: each run's first seed)")
    p.add_argument("--data-dir", default=None, help="raw data (else $GRAPHREP_DATA)")
    p.add_argument("--probe", action="store_true",
                   help="graph level: probe an embedding that differs from the committed one")
    p.add_argument("--out", type=Path, default=None, help="append JSON records here")
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.out is not None and not args.out.parent.is_dir():  # before hours of training
        raise SystemExit(f"--out {args.out}: its folder does not exist")
    configs = {name: _config(RUNS_DIR / name) for name in args.runs}  # every name, first
    commit = _head_commit()  # the code this process imported, whatever HEAD does later
    for name in args.runs:
        seeds = args.seeds or configs[name]["seeds"][:1]
        for seed in seeds:
            rec = audit_run(RUNS_DIR / name, seed, args.data_dir, args.probe, commit)
            print(f"{name} seed {seed}: {verdict(rec)}; best loss {rec['best_loss']!r} vs "
                  f"{rec['committed_best_loss']!r}; accuracy {rec.get('accuracy')} vs "
                  f"{rec.get('committed_accuracy')} ({rec['seconds']} s)", flush=True)
            if args.out is not None:
                with args.out.open("a") as f:  # strict JSON: an untrained run's inf is null
                    f.write(json.dumps(finite_or_null(rec), allow_nan=False) + "\n")
                write_table(args.out, args.out.with_suffix(".md"))


if __name__ == "__main__":
    main()
