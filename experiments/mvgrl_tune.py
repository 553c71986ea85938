"""Validation-node sweep for node-level MVGRL (Cora / CiteSeer).

Each config trains one encoder and probes it at several epochs; every record
holds the validation accuracy (what choices are made on) and the test accuracy
(logged, never used to choose). One JSON line per (config, seed, epoch) is
appended to ``experiments/results/mvgrl_tune.jsonl``.

Usage (repository root)::

    python experiments/mvgrl_tune.py --dataset Cora --split pygcn \\
        --set topk=64 --set topk=256 --set full_batch=1,topk=128 --seeds 0 1

``--set`` takes comma-separated ``key=value`` pairs over :data:`DEFAULTS`.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

#: ``disc``: the discriminator's initial scale (``MVGRL(discriminator_init=...)``);
#: records written before the key (session 12) used "xavier", so it stays the default here;
#: ``prelu``: the encoders' PReLU slopes, "channel" or "shared" (``MVGRL(prelu=...)``);
#: ``heat_tr``: the heat kernel's transition (``DiffusionOptions.heat_transition``);
#: ``alpha``: PPR's teleport probability (``DiffusionOptions.alpha``); ``t``: the heat kernel's
#: time (``DiffusionOptions.t``). Literals on purpose, not read from the package's defaults:
#: a stored record names only the keys its spec set, so these values are part of what every
#: committed record in mvgrl_tune.jsonl means, and must not move when a package default does.
DEFAULTS = dict(topk=64, eps=None, self_loop=1.0, full_batch=0, batch_size=1,
                sample_size=2000, lr=1e-3, epochs=100, eval_at="25,50,75,100",
                view="ppr", wd=0.0, binary_x=0, colscale=0, disc="xavier",
                prelu="channel", heat_tr="col", alpha=0.2, t=5.0)


#: the string-valued keys and their values
CHOICES = {"view": ("ppr", "heat"), "disc": ("xavier", "bilinear"), "prelu": ("channel", "shared"),
           "heat_tr": ("col", "sym", "row")}


def _parse(spec: str) -> dict:
    cfg = dict(DEFAULTS)
    for kv in filter(None, spec.split(",")):
        k, sep, v = kv.partition("=")
        if not sep:
            raise SystemExit(f"--set {spec!r}: {kv!r} is not key=value (keys: {', '.join(DEFAULTS)})")
        if k not in cfg:
            raise SystemExit(f"--set {spec!r}: unknown key {k!r} (keys: {', '.join(DEFAULTS)})")
        if k == "eval_at":
            cfg[k] = v.replace(":", ",")
        elif k in CHOICES:
            if v not in CHOICES[k]:
                raise SystemExit(f"--set {spec!r}: {k}={v!r} is not one of {', '.join(CHOICES[k])}")
            cfg[k] = v
        elif v == "None":
            cfg[k] = None
        else:
            try:
                cfg[k] = float(v) if k in ("eps", "self_loop", "lr", "wd", "alpha", "t") else int(v)
            except ValueError:
                raise SystemExit(f"--set {spec!r}: {k}={v!r} is not a number") from None
    try:
        steps = [int(e) for e in cfg["eval_at"].split(",")]
    except ValueError:
        raise SystemExit(f"--set {spec!r}: eval_at={cfg['eval_at']!r} is not step counts "
                         f"separated by ':'") from None
    if cfg["view"] == "ppr" and cfg["heat_tr"] != "col":
        raise SystemExit(f"--set {spec!r}: heat_tr sets the heat kernel; add view=heat")
    if not 0 < cfg["alpha"] < 1:  # found before the first configuration trains, not at its turn
        raise SystemExit(f"--set {spec!r}: alpha={cfg['alpha']:g} must lie in (0, 1)")
    if not cfg["t"] > 0:
        raise SystemExit(f"--set {spec!r}: t={cfg['t']:g} must be > 0")
    if cfg["view"] == "heat" and cfg["alpha"] != DEFAULTS["alpha"]:
        raise SystemExit(f"--set {spec!r}: alpha sets the PPR view; the heat kernel ignores it")
    if cfg["view"] == "ppr" and cfg["t"] != DEFAULTS["t"]:
        raise SystemExit(f"--set {spec!r}: t sets the heat kernel; add view=heat")
    if any(not 1 <= e <= cfg["epochs"] for e in steps):
        # a probe past the last step never runs: the config would train and record nothing
        raise SystemExit(f"--set {spec!r}: eval_at {steps} must lie in 1..epochs "
                         f"({cfg['epochs']})")
    return cfg


#: a sweep record's key: a rerun skips the keys already recorded
RECORD_KEYS = ("dataset", "split", "spec", "seed", "epoch")


def _recorded(path: Path) -> set[tuple[str, str, str, int, int]]:
    """``(dataset, split, spec, seed, epoch)`` of every record in ``path`` (a rerun skips
    them instead of appending records that the table, keeping the first, would hide)."""
    if not path.is_file():
        return set()
    from shared.checkpoint import CorruptFileError, drop_torn_tail, read_json_lines, require_keys

    try:
        records, _ = read_json_lines(path, fix="delete that line and run again",
                                     check=require_keys(*RECORD_KEYS, what="sweep record"))
    except CorruptFileError as error:
        raise SystemExit(str(error)) from None
    if drop_torn_tail(path):  # a killed run's: dropped (its seed trains again), not joined
        print(f"mvgrl_tune: dropped the torn last line of {path}", flush=True)
    return {tuple(r[k] for k in RECORD_KEYS) for r in records}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="Cora")
    p.add_argument("--split", default="pygcn")
    p.add_argument("--set", action="append", default=[],
                   help=f"comma-separated key=value over the defaults {DEFAULTS} (repeatable: "
                        f"one configuration each)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "mvgrl_tune.jsonl"),
                   help="JSON lines appended here (default: the committed experiments/results/mvgrl_tune.jsonl)")
    args = p.parse_args()
    for spec in args.set:  # every typo before the first configuration trains
        _parse(spec)
    args.seeds = list(dict.fromkeys(args.seeds))  # a repeated seed is one run
    args.set = list(dict.fromkeys(args.set))
    if not Path(args.out).parent.is_dir():  # found before minutes of training, not after
        raise SystemExit(f"--out {args.out}: its folder does not exist")
    torch.set_num_threads(1)
    import warnings
    warnings.filterwarnings("ignore")
    from graphrep.data import load_node_dataset
    from graphrep.models import MVGRL
    from graphrep.subgraphs import view_as_sparse
    from graphrep.train import NodeTrainConfig, train_node_model
    from graphrep.views import DiffusionOptions, node_views
    from shared.probes import logistic_regression_probe
    from shared.seeding import seed_everything

    done = _recorded(Path(args.out))
    try:
        ds = load_node_dataset(args.dataset, args.split, os.environ.get("GRAPHREP_DATA"))
    except (ValueError, FileNotFoundError) as error:  # an unknown dataset or split, no files
        raise SystemExit(f"mvgrl_tune: {error}") from None
    data = ds.data
    n = data.num_nodes
    views_cache = {}
    for spec in args.set or [""]:
        cfg = _parse(spec)
        # the (frozen, hashable) options are the cache key: every setting that builds a view
        options = DiffusionOptions(kind=cfg["view"], alpha=cfg["alpha"], t=cfg["t"],
                                   topk=cfg["topk"], eps=cfg["eps"],
                                   self_loop_weight=cfg["self_loop"],
                                   column_scale="minmax" if cfg["colscale"] else None,
                                   heat_transition=cfg["heat_tr"])
        t0 = time.perf_counter()
        if options not in views_cache:
            views_cache[options] = node_views(data.edge_index, n, options)
        views = views_cache[options]
        tdiff = time.perf_counter() - t0
        adj_s = view_as_sparse(views.adj, n)
        diff_s = view_as_sparse(views.diff, n)
        eval_at = sorted(int(e) for e in cfg["eval_at"].split(","))
        for seed in args.seeds:
            if all((args.dataset, args.split, spec, seed, ep) in done for ep in eval_at):
                print(f"mvgrl_tune: {spec or '(defaults)'} seed {seed} is already in {args.out} "
                      f"at steps {eval_at}: skipped (delete its lines to run it again)", flush=True)
                continue
            seed_everything(seed)
            model = MVGRL(data.num_features, 512, discriminator_init=cfg["disc"],
                          prelu=cfg["prelu"])
            x = (data.x > 0).float() if cfg["binary_x"] else data.x
            tc = NodeTrainConfig(lr=cfg["lr"], epochs=cfg["epochs"],
                                 batch_size=cfg["batch_size"],
                                 sample_size=cfg["sample_size"],
                                 full_batch=bool(cfg["full_batch"]),
                                 weight_decay=cfg["wd"], patience=10**9,
                                 checkpoint_every=0)
            recs = []

            def on_epoch(rec, model=model, x=x, adj_s=adj_s, diff_s=diff_s, seed=seed,
                         recs=recs, eval_at=eval_at):
                ep = rec["epoch"] + 1
                if ep in eval_at:
                    model.eval()
                    emb = model.embed(x, adj_s, diff_s)
                    model.train()
                    r = {"epoch": ep, "loss": rec["loss"]}
                    for std in (True, False):
                        pr = logistic_regression_probe(
                            emb, data.y, data.train_mask, data.test_mask,
                            data.val_mask, seed=seed, standardize=std)
                        tag = "std" if std else "raw"
                        r[f"val_{tag}"] = round(pr.val_accuracy * 100, 2)
                        r[f"test_{tag}"] = round(pr.test_accuracy * 100, 2)
                        r[f"C_{tag}"] = pr.C
                    recs.append(r)

            t1 = time.perf_counter()
            train_node_model(model, x, views, tc, seed=seed,
                             on_epoch=on_epoch, progress=False)
            ttrain = time.perf_counter() - t1
            for r in recs:
                if (args.dataset, args.split, spec, seed, r["epoch"]) in done:
                    continue  # recorded by an earlier, interrupted run: the table keeps that one
                out = {"dataset": args.dataset, "split": args.split, "spec": spec,
                       "seed": seed, **r, "train_s": round(ttrain, 1),
                       "diff_s": round(tdiff, 1),
                       "nnz_diff": int(views.diff[1].numel())}
                print(json.dumps(out), flush=True)
                with open(args.out, "a") as fh:
                    fh.write(json.dumps(out) + "\n")
                done.add((args.dataset, args.split, spec, seed, r["epoch"]))


if __name__ == "__main__":
    main()
