"""Train and evaluate MVGRL over seeds into one run directory.

Layout of a run directory::

    config.json          every resolved option
    metrics.jsonl        one line per epoch ({"seed", "config", "epoch", "loss", ...})
                         and per evaluation
    .run.lock            held by the process writing the directory (a second one is
                         refused: it would overwrite the first's files)
    elapsed.json         wall seconds of every process that trained the run so far
    <config>/seed_<k>/checkpoint.pt   atomic, resumable; once training finished, the
                                      lowest-loss parameters and the run's record only
    <config>/seed_<k>/embedding.pt    frozen embedding after training
    <config>/seed_<k>/svc.json        graph level: stored probe result, per fold, named
                                      by the embedding's digest (resumes evaluation,
                                      also after retraining on a fresh checkout; the
                                      nested selection reads it)
    results.json         dataset, split, protocol, accuracy_mean, accuracy_std,
                         seeds, seconds, peak_rss_mb, per-seed accuracies, ...
                         (``seconds``: every process's that trained the run, an
                         interrupted and resumed one included, plus this evaluation;
                         ``process_seconds``: this process's alone, as are
                         ``load_seconds``, ``diffusion_seconds`` and ``train_seconds``;
                         ``peak_rss_mb``: the largest of this process's peak and the
                         peaks recorded by the processes that trained its embeddings;
                         ``process_peak_rss_mb``: this process's alone)

``<config>`` is ``default`` for node level and ``L{layers}-B{batch}-E{epochs}``
at graph level (several when a sweep is given). Configurations that differ only in
their epochs share one training run per seed: the longest writes the shorter ones'
embeddings as it passes their epoch (on CPU bit for bit what their own runs would
write); such a cell's ``train_seconds`` is the time the shared run took to get there.
"""
from __future__ import annotations

import hashlib
import json
import math
import resource
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch

from graphrep.data import (
    PLANETOID_SIZES,
    default_cache_dir,
    is_graph_level,
    load_graph_dataset,
    load_node_dataset,
)
from graphrep.diffusion import PUSH_EPS
from graphrep.evaluate import (
    FOLD_RECORD,
    GRAPH_FOLDS,
    RELEASE_PROBE_WEIGHT_DECAY,
    SVC_C_GRID,
    check_graph_labels,
    graph_accuracy,
    node_accuracy,
    select_per_seed,
)
from graphrep.models import MVGRL, MVGRLGraph
from graphrep.subgraphs import view_as_sparse
from graphrep.train import (
    GraphTrainConfig,
    NodeTrainConfig,
    TrainResult,
    check_node_config,
    save_finished_checkpoint,
    train_graph_model,
    train_node_model,
)
from graphrep.views import DiffusionOptions, attach_graph_views, node_views
from shared.checkpoint import (
    CorruptFileError,
    atomic_save,
    atomic_write_json,
    atomic_write_text,
    drop_torn_tail,
    finite_or_null,
    load_file,
    make_dirs,
    read_json,
)
from shared.probes import DEFAULT_SVC_MAX_ITER, SVC_DUAL
from shared.run_dir import hold_run_dir
from shared.seeding import seed_everything

__all__ = ["RunOptions", "peak_rss_mb", "train_runs", "evaluate_runs", "bench", "probe_record",
           "PROBE_KEY", "embedding_digest", "config_name", "train_peaks", "training_signature",
           "resolve_device", "run_dir_lock"]


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (``getrusage``)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


@dataclass
class RunOptions:
    """Everything a run needs; saved as ``config.json``."""

    dataset: str
    out_dir: str
    split: str = "public"
    protocol: str = "honest"
    seeds: list[int] = field(default_factory=lambda: list(range(10)))
    device: str = "cpu"
    #: torch threads of the process (not part of what is trained, but the last bits of a
    #: node-level embedding differ between thread counts)
    threads: int = 1
    data_dir: str | None = None
    cache_dir: str | None = None
    resume: bool = False
    progress: bool = True
    diffusion: DiffusionOptions = field(default_factory=DiffusionOptions)
    node: NodeTrainConfig = field(default_factory=NodeTrainConfig)
    graph: GraphTrainConfig = field(default_factory=GraphTrainConfig)
    # Graph-level sweep (the paper's protocol searches all of these).
    layers_grid: list[int] = field(default_factory=list)
    batch_grid: list[int] = field(default_factory=list)
    epochs_grid: list[int] = field(default_factory=list)
    #: graph level: parallel SVC fits in the probe's inner grid search (results do not
    #: depend on it; one per free core)
    probe_jobs: int = 1

    @property
    def graph_level(self) -> bool:
        return is_graph_level(self.dataset)

    def graph_configs(self) -> list[GraphTrainConfig]:
        layers = self.layers_grid or [self.graph.num_layers]
        batches = self.batch_grid or [self.graph.batch_size]
        epochs = self.epochs_grid or [self.graph.epochs]
        return [replace(self.graph, num_layers=n, batch_size=b, epochs=e)
                for n in layers for b in batches for e in epochs]

    def to_json(self) -> dict:
        d = asdict(self)
        d["graph_level"] = self.graph_level
        return d

    @classmethod
    def from_json(cls, d: dict) -> RunOptions:
        """Options from a run's ``config.json`` (:meth:`to_json`); fields it lacks keep
        their defaults, fields this version does not know are ignored."""
        def pick(klass, values: dict | None):
            known = {f.name for f in fields(klass)}
            return klass(**{k: v for k, v in (values or {}).items() if k in known})

        parts = {"diffusion": DiffusionOptions, "node": NodeTrainConfig,
                 "graph": GraphTrainConfig}
        opts = pick(cls, {k: v for k, v in d.items() if k not in parts})
        for name, klass in parts.items():
            setattr(opts, name, pick(klass, _with_legacy_defaults(name, d.get(name))))
        return opts


#: What a ``config.json`` written before an option existed meant by its absence, for
#: options whose default is not ``None`` (an absent key would otherwise compare unequal to
#: it, and ``--resume`` refuse the run) or differs from what those runs trained
#: (``prelu``: every run before the option trained per-channel slopes, today's default).
_LEGACY_DEFAULTS = {"graph": {"embedding": "encoder", "prelu": "channel"},
                    "node": {"discriminator_init": "xavier", "prelu": "channel"},
                    # before the push method: no committed run used it (every graph
                    # has <= 6000 nodes), so any value reads the same; every heat run
                    # before the option took the paper's A D^-1
                    "diffusion": {"push_eps": PUSH_EPS, "heat_transition": "col"}}


def _with_legacy_defaults(part: str, values: dict | None) -> dict | None:
    legacy = _LEGACY_DEFAULTS.get(part)
    if not legacy or not isinstance(values, dict):
        return values
    return {**legacy, **values}


def config_name(cfg: GraphTrainConfig | NodeTrainConfig) -> str:
    """Directory name of a configuration in a run: ``L{layers}-B{batch}-E{epochs}`` at
    graph level, ``default`` at node level."""
    if isinstance(cfg, GraphTrainConfig):
        return f"L{cfg.num_layers}-B{cfg.batch_size}-E{cfg.epochs}"
    return "default"


class _Metrics:
    """``metrics.jsonl``, appended one JSON record per line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._training: set[tuple] = set()
        self._tail_checked = False  # a torn line is an earlier process's: looked for once

    def write(self, record: dict) -> None:
        # strict JSON: a non-finite number (best_loss of an untrained budget: inf) is null
        line = json.dumps(finite_or_null(record), allow_nan=False) + "\n"
        self._drop_torn_tail()
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)

    def _drop_torn_tail(self) -> None:
        """Cut a last line torn by a kill mid-write (:func:`shared.checkpoint.drop_torn_tail`):
        no record, and the next one appended would join it on one unreadable line."""
        if self._tail_checked:
            return
        self._tail_checked = True
        if drop_torn_tail(self.path):
            print(f"graphrep: dropped the torn last line of {self.path} (left by an "
                  f"interrupted write)", file=sys.stderr)

    def write_epoch(self, tag: dict, record: dict) -> None:
        """Append ``{**tag, **record}`` (``record["epoch"]``). The first epoch this
        process writes for a ``tag`` (seed and config) first drops that tag's lines from
        this epoch on: a killed run logged epochs past its last checkpoint, and the
        resumed run trains them again, so each epoch keeps one line (the resumed one)."""
        key = (tag["seed"], tag["config"])
        if key not in self._training:
            self._training.add(key)
            self._drop_epochs(tag, record["epoch"])
        self.write({**tag, **record})

    def _drop_epochs(self, tag: dict, first: int) -> None:
        if not self.path.is_file():
            return
        self._drop_torn_tail()  # else the rewrite below would end that fragment with a newline
        # (a garbled line, non-UTF-8 bytes included, is kept where it is)
        lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        kept = [line for line in lines if not _logged_from(metrics_record(line), tag, first)]
        if len(kept) < len(lines):
            atomic_write_text(self.path, "".join(line + "\n" for line in kept))


def metrics_record(line: str) -> dict:
    """A line of ``metrics.jsonl`` as its record; ``{}`` for a line that does not parse (a
    garbled write: the file keeps it where it is, and drops only a torn last line)."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return {}
    return record if isinstance(record, dict) else {}


def _logged_from(record: dict, tag: dict, first: int) -> bool:
    """Whether ``record`` is an epoch line of ``tag`` (seed, config) at epoch >= first."""
    return ("epoch" in record and record.get("epoch", -1) >= first
            and all(record.get(k) == v for k, v in tag.items()))


def resolve_device(name: str) -> torch.device:
    """``torch.device(name)``, checked: a CUDA device must exist here; ``"auto"``: CUDA
    when present, else the CPU. Raises ValueError naming ``--device`` and what to pass
    instead."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"--device {name!r} is not a device ({exc}); pass auto, cpu, cuda "
                         f"or cuda:<index>.") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"--device {name} was asked for but CUDA is not available "
                             f"here; pass --device cpu (or leave --device out: CUDA is "
                             f"used when present).")
        if device.index is not None and device.index >= count:
            raise ValueError(f"--device {name}: this machine has {count} CUDA device(s), "
                             f"cuda:0..cuda:{count - 1}.")
    elif device.type != "cpu":
        raise ValueError(f"--device {name}: graphrep runs on cpu or cuda.")
    return device


def _prepare(opts: RunOptions):
    """Load data and build the views; returns (payload, timing dict)."""
    cache = Path(opts.cache_dir) if opts.cache_dir else default_cache_dir()
    t0 = time.perf_counter()
    if opts.graph_level:
        ds = load_graph_dataset(opts.dataset, opts.data_dir, cache)
        check_graph_labels(ds.labels, ds.name)  # before hours of training, not after
        t1 = time.perf_counter()
        largest = max(int(g.num_nodes) for g in ds.graphs)
        cache_file = cache / "views" / f"{ds.name}-{opts.diffusion.key(largest)}.pt"
        graphs = attach_graph_views(ds.graphs, opts.diffusion, cache_file,
                                    progress=opts.progress)
        payload = (ds, graphs)
    else:
        ds = load_node_dataset(opts.dataset, opts.split, opts.data_dir, cache)
        t1 = time.perf_counter()
        views = node_views(ds.data.edge_index, ds.data.num_nodes, opts.diffusion)
        payload = (ds, views)
    t2 = time.perf_counter()
    return payload, {"load_seconds": t1 - t0, "diffusion_seconds": t2 - t1}


def _train_group(opts: RunOptions, payload, group: list, seed: int, run: Path,
                 metrics: _Metrics) -> dict[str, dict]:
    """Train one seed of ``group``, configurations that differ only in their epochs
    (ascending): the longest is trained and hands out the shorter ones' embeddings as
    it passes them (:func:`graphrep.train.train_graph_model`'s ``budgets``). Returns
    the training record per configuration name."""
    dirs = {config_name(cfg): run / config_name(cfg) / f"seed_{seed}" for cfg in group}
    infos, todo = {}, []
    for cfg in group:
        seed_dir = dirs[config_name(cfg)]
        if opts.resume and (seed_dir / "embedding.pt").is_file():
            infos[config_name(cfg)] = load_file(seed_dir / "embedding.pt",
                                                weights_only=False)["train"]
            continue
        todo.append(cfg)
    while todo:  # a budget a resumed run had already passed trains on its own
        infos.update(_train_one(opts, payload, todo[-1], todo[:-1], seed, dirs, metrics))
        todo = [cfg for cfg in todo if config_name(cfg) not in infos]
    return infos


def _train_one(opts: RunOptions, payload, cfg, shorter: list, seed: int,
               dirs: dict[str, Path], metrics: _Metrics) -> dict[str, dict]:
    """Train ``cfg`` for one seed into ``dirs[config_name(cfg)]``, and write the
    embedding (and a finished checkpoint) of each configuration in ``shorter`` (same
    but fewer epochs) that training passes. Returns the training records written."""
    device = resolve_device(opts.device)
    seed_dir = dirs[config_name(cfg)]
    make_dirs(seed_dir)
    seed_everything(seed)
    tag = {"seed": seed, "config": config_name(cfg)}
    on_epoch = lambda rec: metrics.write_epoch(tag, rec)  # noqa: E731
    ds, extra = payload
    if opts.graph_level:
        projected = _projected(cfg)  # a bad value fails before training, not after
        model = MVGRLGraph(ds.num_features, cfg.hidden_channels,
                           cfg.num_layers, prelu=cfg.prelu).to(device)

        def embed() -> torch.Tensor:
            return _embed_graphs(model, extra, device, projected)
    else:
        data = ds.data
        model = MVGRL(data.num_features, cfg.hidden_channels,
                      discriminator_init=cfg.discriminator_init,
                      prelu=cfg.prelu).to(device)

        def embed() -> torch.Tensor:
            model.eval()
            return model.embed(data.x.to(device),
                               view_as_sparse(extra.adj, extra.num_nodes).to(device),
                               view_as_sparse(extra.diff, extra.num_nodes).to(device)
                               ).cpu()
    written = {}

    def keep(name: str, res: TrainResult) -> None:
        info = {"train_seconds": res.seconds, "epochs_run": len(res.losses),
                "best_epoch": res.best_epoch, "best_loss": res.best_loss,
                "stopped_early": res.stopped_early,
                # this process's peak so far: an upper bound on what training this
                # embedding needed, kept with it so a later evaluation-only process
                # (whose own peak is the probe's) still reports it
                "peak_rss_mb": peak_rss_mb()}
        # "auto" resolves by graph size and installed numba
        if opts.graph_level:  # graphs per method
            info["diffusion_methods"] = opts.diffusion.methods(g.num_nodes for g in extra)
        else:
            info["diffusion_method"] = extra.diffusion_method
        atomic_save({"embedding": embed(), "train": info}, dirs[name] / "embedding.pt")
        written[name] = info

    by_epochs = {c.epochs: config_name(c) for c in shorter}

    def on_budget(epochs: int, trained: torch.nn.Module, res: TrainResult) -> None:
        name = by_epochs[epochs]
        make_dirs(dirs[name])
        save_finished_checkpoint(dirs[name] / "checkpoint.pt", trained, res)
        keep(name, res)
        metrics.write({"seed": seed, "config": name, "trained_by": config_name(cfg),
                       "best_epoch": res.best_epoch, "best_loss": res.best_loss})

    train = train_graph_model if opts.graph_level else train_node_model
    inputs = (extra,) if opts.graph_level else (data.x, extra)
    res = train(model, *inputs, cfg, seed, seed_dir / "checkpoint.pt", on_epoch,
                opts.progress, budgets=list(by_epochs), on_budget=on_budget)
    keep(config_name(cfg), res)
    return written


def _projected(cfg) -> bool:
    """Whether a graph config evaluates the head outputs (``embedding="head"``)."""
    if cfg.embedding not in ("encoder", "head"):
        raise ValueError(f"graph embedding must be 'encoder' or 'head', got "
                         f"{cfg.embedding!r}.")
    return cfg.embedding == "head"


@torch.no_grad()
def _embed_graphs(model: MVGRLGraph, graphs: list, device: torch.device,
                  projected: bool = True) -> torch.Tensor:
    from torch_geometric.loader import DataLoader

    model.eval()
    out = []
    for data in DataLoader(graphs, batch_size=256, shuffle=False):
        data = data.to(device)
        out.append(model.embed(data.x, data.adj_edge_index, data.adj_edge_weight,
                               data.diff_edge_index, data.diff_edge_weight,
                               data.batch, data.num_graphs, projected).cpu())
    return torch.cat(out)


#: Options that change what is trained; ``--resume`` refuses a run directory
#: whose ``config.json`` differs in any of them (its embeddings would be stale).
_TRAINING_KEYS = ("dataset", "split", "diffusion", "node", "graph",
                  "layers_grid", "batch_grid", "epochs_grid")
#: Keys that a run of the other level never reads (its config.json holds them anyway).
_OTHER_LEVEL_KEYS = {True: ("node",), False: ("graph", "layers_grid", "batch_grid",
                                              "epochs_grid")}


#: Options inside the node/graph configs that do not change what is trained
#: (``dense_views`` changes how views are stored, the model only up to rounding).
_BOOKKEEPING_KEYS = ("checkpoint_every", "dense_views")


def _trained_part(value):
    # None-valued options compare as absent, so run dirs written before an
    # option existed (at its None default) still resume
    if isinstance(value, dict):
        return {k: v for k, v in value.items()
                if k not in _BOOKKEEPING_KEYS and v is not None}
    return value


def training_signature(config: dict) -> dict:
    """The part of a run's ``config.json`` that decides what is trained: two run
    directories with equal signatures hold embeddings of the same configuration
    (``--resume`` refuses a directory whose signature differs). The options of the
    other level (a node-level run's graph options and grids, a graph-level run's node
    options) are left out: they change nothing it trains."""
    graph_level = config.get("graph_level")
    if graph_level is None and "dataset" in config:
        graph_level = is_graph_level(config["dataset"])
    other = () if graph_level is None else _OTHER_LEVEL_KEYS[bool(graph_level)]
    signature = {k: _trained_part(_with_legacy_defaults(k, config.get(k)))
                 for k in _TRAINING_KEYS if k not in other}
    node, sizes = signature.get("node"), PLANETOID_SIZES.get(config.get("dataset"))
    if isinstance(node, dict) and "full_batch" not in node and sizes is not None:
        # full_batch None trains by graph size: the same as saying which, so a run
        # written with None resumes under the flag that names what it trained
        node["full_batch"] = NodeTrainConfig().trains_full_batch(sizes[0])
    return signature


def _check_resumable(old: dict, new: dict, path: Path, action: str = "--resume") -> None:
    """Raise ValueError when ``new`` options would train something other than what
    ``old`` (the run's ``config.json`` at ``path``) trained; ``action`` names the
    command refused (``--resume`` or ``eval``)."""
    was, now = training_signature(old), training_signature(new)
    diff = [k for k in was if k in old and was[k] != now.get(k)]
    if "dataset" in diff:  # the rest follows from it (another level's options, even)
        diff = ["dataset"]
    if diff:
        changes = []
        for k in diff:
            a, b = was[k], now.get(k)
            if isinstance(a, dict) and isinstance(b, dict):
                changes += [f"{k}.{f}: {a.get(f)} -> {b.get(f)}"
                            for f in sorted(set(a) | set(b)) if a.get(f) != b.get(f)]
            else:
                changes.append(f"{k}: {a} -> {b}")
        fix = ("use a new --out-dir, or drop --resume" if action == "--resume"
               else "or train these options into their own --out-dir")
        raise ValueError(
            f"{action}: {path} was written with other training options "
            f"({'; '.join(changes)}: the run's -> given); pass the run's options "
            f"again, {fix}.")


def _read_config(cfg_file: Path) -> dict:
    """A run's ``config.json`` (a damaged one is named, with the way out)."""
    return read_json(cfg_file, fix="restore it, or train the run again (train or bench "
                                   "without --resume starts it over)", expect=dict)


def _epoch_groups(configs: list) -> list[list]:
    """``configs`` grouped by everything but their epochs, each group by ascending
    epochs (one training run serves a group)."""
    groups: list[tuple[object, dict]] = []
    for cfg in configs:
        rest = replace(cfg, epochs=0)
        group = next((g for key, g in groups if key == rest), None)
        if group is None:
            groups.append((rest, group := {}))
        group.setdefault(cfg.epochs, cfg)  # a repeated value is one configuration
    return [[g[e] for e in sorted(g)] for _, g in groups]


def _configs(opts: RunOptions) -> list:
    return opts.graph_configs() if opts.graph_level else [opts.node]


#: What a run writes per (configuration, seed) and per run directory.
_SEED_OUTPUTS = ("checkpoint.pt", "embedding.pt", "svc.json")
_RUN_OUTPUTS = ("metrics.jsonl", "results.json", "results_*.json", "elapsed.json")


class _Elapsed:
    """Wall seconds a run has taken over all the processes that trained it, kept in
    ``<run>/elapsed.json`` (``{"seconds": s}``), so ``results.json``'s ``seconds`` of a
    resumed run is the whole run's, not the last process's.

    A resuming process starts from the stored value. The file is rewritten (atomically)
    every ``every`` seconds by a daemon thread once :meth:`begin` is called (when the run
    is committed to: its ``config.json`` written), and on exit, an exception or Ctrl-C
    included; a killed process loses at most ``every`` seconds of its count.
    """

    FILE = "elapsed.json"

    def __init__(self, run: Path, resuming: bool, every: float = 10.0) -> None:
        self.path, self.every = run / self.FILE, every
        self.earlier = self._stored() if resuming else 0.0
        self.start = time.perf_counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned = False

    def _stored(self) -> float:
        try:
            seconds = float(read_json(self.path, expect=dict)["seconds"])
        except FileNotFoundError:  # a run trained before the file was kept
            return 0.0
        except Exception as exc:  # a damaged ledger costs the count, never the run
            print(f"graphrep: {self.path} unreadable ({type(exc).__name__}: {exc}); the "
                  f"earlier processes' time is not counted in seconds", file=sys.stderr)
            return 0.0
        return seconds if math.isfinite(seconds) and seconds >= 0 else 0.0

    def total(self) -> float:
        return self.earlier + time.perf_counter() - self.start

    def save(self) -> None:
        """Write the count; a failure (disk full, the directory removed) is reported once
        and never fails the run, and a removed directory is not made again."""
        if not self.path.parent.is_dir():
            return
        try:
            atomic_write_json(self.path, {"seconds": self.total()})
        except OSError as exc:
            if not self._warned:
                self._warned = True
                print(f"graphrep: cannot write {self.path} ({exc}); results.json's seconds "
                      f"will miss this process's time if the run is resumed", file=sys.stderr)

    def begin(self) -> None:
        if self._thread is None:
            self.save()
            self._thread = threading.Thread(target=self._tick, daemon=True,
                                             name="graphrep-elapsed")
            self._thread.start()

    def _tick(self) -> None:
        while not self._stop.wait(self.every):
            self.save()

    def __enter__(self) -> _Elapsed:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.save()


def _resuming(opts: RunOptions) -> bool:
    return bool(opts.resume) and (Path(opts.out_dir) / "config.json").is_file()


def _clear_run_outputs(run: Path) -> None:
    """Delete what an earlier run wrote into ``run`` (and nothing else), before a fresh
    run writes its ``config.json``: otherwise a fresh run killed part way would leave
    the earlier run's embeddings and probe records beside it, and a later ``--resume``
    (which compares options with the new ``config.json``) would take them as its own."""
    for seed_dir in run.glob("*/seed_*"):
        for name in _SEED_OUTPUTS:
            (seed_dir / name).unlink(missing_ok=True)
    for pattern in _RUN_OUTPUTS:
        for f in run.glob(pattern):
            f.unlink()


def run_dir_lock(out_dir: str | Path, create: bool = True):
    """Hold the run directory (:func:`shared.run_dir.hold_run_dir`): a second job given
    the same ``--out-dir`` is refused before it loads or deletes anything."""
    return hold_run_dir(out_dir, create=create, other="pass another --out-dir")


def train_runs(opts: RunOptions) -> dict:
    """Train every (configuration, seed); write config.json, metrics, checkpoints
    and embeddings. Returns timing information."""
    with run_dir_lock(opts.out_dir), _Elapsed(Path(opts.out_dir), _resuming(opts)) as elapsed:
        return _train_runs(opts, elapsed)


def _train_runs(opts: RunOptions, elapsed: _Elapsed) -> dict:
    run = Path(opts.out_dir)
    make_dirs(run)
    cfg_file = run / "config.json"
    resuming = _resuming(opts)
    if resuming:
        stored = _read_config(cfg_file)
        _check_resumable(stored, opts.to_json(), cfg_file)
        was, now = (str(d or "cpu").split(":")[0] for d in (stored.get("device"), opts.device))
        if was != now:  # allowed, but not the same run bit for bit
            print(f"graphrep: {run} trained on {was} so far and continues on {now}: the "
                  f"result will not repeat an uninterrupted {was} run bit for bit (pass "
                  f"--device {was} to keep it)", file=sys.stderr)
        was_threads = stored.get("threads", 1)
        if was_threads != opts.threads:  # the same, for CPU threads
            print(f"graphrep: {run} trained with {was_threads} torch thread(s) so far and "
                  f"continues with {opts.threads}: the result may differ from an uninterrupted "
                  f"run in the last bits (pass --threads {was_threads} to keep it)",
                  file=sys.stderr)
        dropped = [s for s in stored.get("seeds") or [] if s not in opts.seeds]
        if dropped:  # their embeddings stay, but results.json and eval stop covering them
            print(f"graphrep: note: seeds {dropped} of {run} are not among --seeds: its "
                  f"results (and a later eval) cover seeds {list(opts.seeds)} only; add "
                  f"them to --seeds to keep them", file=sys.stderr)
    elif opts.resume:  # scripts pass --resume to start-or-continue: say which this is
        print(f"graphrep: no run to resume in {run} (no config.json): starting a fresh one",
              file=sys.stderr)
    t0 = time.perf_counter()
    payload, timing = _prepare(opts)  # before anything is deleted: bad data leaves the run as it was
    for cfg in _configs(opts):  # and so do settings that cannot train
        if opts.graph_level:
            _projected(cfg)
        else:
            check_node_config(cfg, payload[1].num_nodes)
    if not resuming:  # outputs without a config.json are no run's known to these options
        _clear_run_outputs(run)
    atomic_write_json(cfg_file, opts.to_json())
    elapsed.begin()
    metrics = _Metrics(run / "metrics.jsonl")
    per_run = {}
    for group in _epoch_groups(_configs(opts)):
        for seed in opts.seeds:
            infos = _train_group(opts, payload, group, seed, run, metrics)
            per_run.update({f"{name}/seed_{seed}": info for name, info in infos.items()})
    timing["train_seconds"] = time.perf_counter() - t0 - sum(timing.values())
    return {"timing": timing, "runs": per_run, "payload": payload}


def evaluate_runs(opts: RunOptions, payload=None) -> dict:
    """Evaluate the stored embeddings under ``opts.protocol``."""
    with run_dir_lock(opts.out_dir, create=False):
        return _evaluate_runs(opts, payload)


def _evaluate_runs(opts: RunOptions, payload=None) -> dict:
    run = Path(opts.out_dir)
    metrics = _Metrics(run / "metrics.jsonl")
    if payload is None:
        payload, _ = _prepare(opts)
    ds, _ = payload
    configs = _configs(opts)

    def emb(cfg, seed) -> torch.Tensor:
        path = run / config_name(cfg) / f"seed_{seed}" / "embedding.pt"
        out = _load_embedding(path)
        _check_rows(out, ds.data.num_nodes, path, "nodes")
        return out

    from tqdm.auto import tqdm

    out: dict = {"per_seed": {}}
    if not opts.graph_level:
        accs = []
        for seed in tqdm(opts.seeds, desc="probe", disable=not opts.progress,
                         leave=False):
            r = node_accuracy(emb(configs[0], seed), ds.data, opts.protocol, seed,
                              dataset=ds.name)
            metrics.write({"seed": seed, "eval": opts.protocol, **r})
            out["per_seed"][seed] = r
            accs.append(r["accuracy"])
        out["accuracies"] = accs
        out["probe"] = ({"probe": "logreg", "standardize": "select"}
                        if opts.protocol == "honest" else
                        {"probe": "release_logreg",
                         "weight_decay": RELEASE_PROBE_WEIGHT_DECAY.get(ds.name, 0.0)})
        return out

    # fits on row-space coordinates unless graphs outnumber features 4:1 (same classifier;
    # not in the cache key, so results stored before that change stay valid)
    out["probe"] = {**PROBE_KEY, "row_space": True}
    nested = opts.protocol == "honest" and len(configs) > 1
    records = {}  # config -> per-seed probe record
    # one step per outer fold: a probe takes minutes on the larger sets (IMDB-MULTI: ~13
    # minutes a seed in the committed run)
    bar = tqdm(total=len(configs) * len(opts.seeds) * GRAPH_FOLDS, desc="svc folds",
               disable=not opts.progress, leave=False)
    for cfg in configs:
        name = config_name(cfg)
        records[name] = []
        for s in opts.seeds:
            bar.set_postfix_str(f"{name} seed {s}", refresh=False)
            done = bar.n + GRAPH_FOLDS
            records[name].append(probe_record(run / name / f"seed_{s}", s, ds.labels,
                                              opts.probe_jobs,
                                              required=FOLD_RECORD if nested else (),
                                              on_fold=lambda _: bar.update()))
            bar.update(done - bar.n)  # a stored record counts its folds at once
        metrics.write({"config": name, "eval": "svc",
                       "accuracies": [r["accuracy"] for r in records[name]]})
    bar.close()
    table = {name: [r["accuracy"] for r in recs] for name, recs in records.items()}
    out["per_config"] = table
    if opts.protocol == "paper":
        best = max(table, key=lambda k: np.mean(table[k]))
        out["selected_config"] = best
        out["selection"] = "best mean test accuracy over configs (paper protocol)"
        out["accuracies"] = table[best]
    elif not nested:
        out["accuracies"] = table[config_name(configs[0])]
    else:
        accs, chosen = select_per_seed(records, opts.seeds)
        out["accuracies"] = accs
        out["selection"] = ("config and C chosen per outer fold by inner CV (configs tied "
                            "there share the fold: mean of their test accuracies)")
        out["chosen_configs"] = chosen
    return out


#: settings of the graph probe, stored with every probe result (a result stored under
#: other settings is recomputed)
PROBE_KEY = {"probe": "svc", "c_grid": list(SVC_C_GRID), "max_iter": DEFAULT_SVC_MAX_ITER,
             "dual": SVC_DUAL}


def probe_record(seed_dir: Path, seed: int, labels: torch.Tensor, probe_jobs: int = 1,
                 required: tuple[str, ...] = (),
                 on_fold: Callable[[int], None] | None = None) -> dict:
    """The graph probe's record (:func:`graph_accuracy`) of ``seed_dir/embedding.pt``
    (``[G, D]``, labels ``[G]``), read from ``seed_dir/svc.json`` when stored under the
    same settings for the same embedding (and holding the ``required`` fields), else
    computed and stored there.

    The record names its embedding by content (:func:`embedding_digest`), so an
    embedding retrained bit for bit (same seed and options, e.g. on a fresh checkout
    where only the records were kept) reuses it, and any other embedding is re-probed.
    Without the embedding on disk the stored record is taken as is. ``on_fold``:
    :func:`~shared.probes.svc_cross_validation`'s progress hook (not called for a
    stored record)."""
    emb_file = seed_dir / "embedding.pt"
    emb = _load_embedding(emb_file) if emb_file.is_file() else None
    if emb is not None:
        _check_rows(emb, len(labels), emb_file, "graphs")
    return _cached(seed_dir / "svc.json", {**PROBE_KEY, "seed": seed},
                   None if emb is None else embedding_digest(emb), emb_file,
                   lambda: graph_accuracy(_load_embedding(emb_file) if emb is None else emb,
                                          labels, seed, n_jobs=probe_jobs, on_fold=on_fold),
                   required=required)


def embedding_digest(emb: torch.Tensor) -> str:
    """SHA-256 of a tensor's dtype, shape and values (``[G, D]`` embeddings): equal
    exactly when the tensors are bit for bit equal."""
    t = emb.detach().cpu().contiguous()
    h = hashlib.sha256(f"{t.dtype}{tuple(t.shape)}".encode())
    h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _check_rows(emb: torch.Tensor, count: int, path: Path, what: str) -> None:
    """Raise ``ValueError`` unless the embedding from ``path`` has ``count`` rows."""
    if emb.dim() != 2 or emb.shape[0] != count:
        raise ValueError(f"{path} holds embeddings of shape {tuple(emb.shape)}, but the "
                         f"dataset has {count} {what}: it belongs to another dataset's run; "
                         f"evaluate it with that run's options, or train into a new "
                         f"--out-dir.")


def _load_embedding(path: Path) -> torch.Tensor:
    """A trained embedding (``[N, D]`` nodes or ``[G, D]`` graphs) from ``path``."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the run has not trained it yet (or "
                                f"was interrupted first); continue it with `graphrep train "
                                f"--resume` (or bench --resume) and the same --out-dir (without "
                                f"--resume it starts over).")
    return load_file(path, weights_only=False)["embedding"]


def _cached(path: Path, key: dict, digest: str | None, input_file: Path, compute,
            required: tuple[str, ...] = ()) -> dict:
    """Probe result stored at ``path`` so an interrupted evaluation resumes where it
    stopped (a graph-level probe takes minutes per seed). Recomputed when ``key`` (the
    probe's settings) differs, the input's ``digest`` differs from the stored one, or
    the stored result lacks a ``required`` field (written before it was recorded).
    ``digest`` None: the input is absent, the stored result stands. A record stored
    before digests were kept stands while ``input_file`` is not newer than it (and
    gains the digest)."""
    try:  # a damaged record is recomputed like a stale one
        stored = read_json(path) if path.is_file() else None
    except CorruptFileError:
        stored = None
    if stored is not None:
        if "input_sha256" in stored or digest is None:
            same_input = digest is None or stored["input_sha256"] == digest
        else:
            same_input = input_file.stat().st_mtime <= path.stat().st_mtime
        if (same_input and stored.get("key") == key
                and all(k in stored["result"] for k in required)):
            if digest is not None and "input_sha256" not in stored:
                atomic_write_json(path, {**stored, "input_sha256": digest})
            return stored["result"]
    result = compute()
    atomic_write_json(path, {"key": key, "input_sha256": digest, "result": result})
    return result


_TRAINING_RECORD = ("load_seconds", "diffusion_seconds", "train_seconds")


def _keep_training_record(run: Path, name: str, results: dict, keys: list[str]) -> None:
    """An evaluation-only run (``graphrep eval``) keeps the training record of each
    evaluated embedding (``keys``: ``"<config>/seed_<k>"``): the record stored in its
    ``embedding.pt``, else (embeddings written before they held one) the record of the
    results files it follows (``name`` and ``results.json``), where that embedding is
    no newer than the file, i.e. was not retrained since. The run's timing keys come
    from a results file whose records equal the kept ones."""
    files = [run / n for n in dict.fromkeys((name, "results.json")) if (run / n).is_file()]
    olds = [(read_json(f), f.stat().st_mtime) for f in files]
    kept = {}
    for key in keys:
        emb = run / key / "embedding.pt"
        if not emb.is_file():
            continue
        own = load_file(emb, weights_only=False).get("train")
        if own is not None:
            kept[key] = own
            continue
        for old, written in olds:
            if key in old.get("train", {}) and emb.stat().st_mtime <= written:
                kept[key] = old["train"][key]
                break
    results["train"] = kept
    for old, _ in olds:
        if kept and old.get("train") == kept:
            for k in _TRAINING_RECORD:
                if k in old:
                    results[k] = old[k]
            break


def train_peaks(results: dict) -> list[float]:
    """Peak memory recorded by the processes that trained ``results``' embeddings
    (records written before it was kept have none)."""
    return [r["peak_rss_mb"] for r in results.get("train", {}).values()
            if "peak_rss_mb" in r]


def bench(opts: RunOptions, train: bool = True) -> dict:
    """Train (unless ``train=False``) and evaluate; write ``results.json``."""
    with run_dir_lock(opts.out_dir, create=train):
        if not train:
            return _bench(opts, None)
        with _Elapsed(Path(opts.out_dir), _resuming(opts)) as elapsed:
            return _bench(opts, elapsed)


def _bench(opts: RunOptions, elapsed: _Elapsed | None) -> dict:
    """``elapsed``: the run's time ledger when this process trains, else ``None``."""
    train = elapsed is not None
    t0 = time.perf_counter()
    cfg_file = Path(opts.out_dir) / "config.json"
    if not train and not cfg_file.is_file():
        raise FileNotFoundError(
            f"eval: {cfg_file} is missing: nothing says which dataset and options the "
            f"embeddings in {opts.out_dir} were trained with (a probe record of another "
            f"dataset would be reported as this one's); restore it, or run `graphrep "
            f"bench` with these options into this --out-dir.")
    stored = _read_config(cfg_file) if not train else None
    if stored is not None:  # embeddings are found by the options' names
        _check_resumable(stored, opts.to_json(), cfg_file, action="eval")
    payload, timing, runs = None, {}, {}
    if train:
        tr = _train_runs(opts, elapsed)
        payload, timing, runs = tr["payload"], tr["timing"], tr["runs"]
    ev = evaluate_runs(opts, payload)
    accs = np.asarray(ev.pop("accuracies"), dtype=float) * 100
    results = {
        "dataset": opts.dataset,
        "split": "graph-cv" if opts.graph_level else opts.split,
        "protocol": opts.protocol,
        "view": opts.diffusion.kind,
        "accuracy_mean": float(accs.mean()),
        "accuracy_std": float(accs.std()),
        "accuracies": accs.tolist(),
        "seeds": list(opts.seeds),
        # every process's time on the run when this one trained (resumed runs included),
        # else this evaluation's alone
        "seconds": elapsed.total() if train else time.perf_counter() - t0,
        "process_seconds": time.perf_counter() - t0,
        "process_peak_rss_mb": peak_rss_mb(),
        "device": opts.device,
        "torch_threads": torch.get_num_threads(),
        **timing,
        "train": runs,
        **ev,
    }
    name = "results.json"
    if stored is not None:
        if stored.get("protocol") != opts.protocol:  # re-evaluation under another protocol
            name = f"results_{opts.protocol}.json"
    if not train:
        _keep_training_record(Path(opts.out_dir), name, results,
                              [f"{config_name(c)}/seed_{s}" for c in _configs(opts)
                               for s in opts.seeds])
    results["peak_rss_mb"] = max([results["process_peak_rss_mb"]] + train_peaks(results))
    atomic_write_json(Path(opts.out_dir) / name, results)
    results["results_file"] = name
    return results
