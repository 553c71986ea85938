r"""Dataset loading for MVGRL: Planetoid citation graphs, TU graph collections
and Cora on the pygcn split built from the original LINQS files.

Raw files are looked up, in this order, in

1. the directory given as ``data_dir`` (``--data-dir`` on the command line), or,
   when none is given, the one named by the environment variable ``GRAPHREP_DATA``,
2. the writable cache (``GRAPHREP_CACHE``, default ``~/.cache/graphrep``),
3. PyG's download (only when ``download=True``).

The raw directory may be read-only: the needed raw files are copied into the
cache first and PyG processes them there (one job at a time per dataset: jobs
started together on one cache wait on ``<cache>/<family>/.<name>.lock``). Its
layout mirrors PyG's roots::

    <data_dir>/Planetoid/<Name>/raw/ind.<name>.*
    <data_dir>/TUDataset/<NAME>/raw/<NAME>_*.txt
    <data_dir>/LINQS/cora/cora.content, cora.cites

Node features
-------------
* Planetoid and LINQS Cora: bag-of-words rows normalised to sum one (as the
  MVGRL release and pygcn do).
* TU sets: one-hot node labels (when the set has them) followed by a one-hot
  encoding of the node degree (``OneHotDegree`` convention: ``max_degree + 1``
  columns, degree ``d`` in column ``min(d, max_degree)``). ``max_degree`` is the
  largest degree in the set, capped at :data:`MAX_DEGREE_CAP` (150: IMDB's
  largest degree is 135) and at :data:`DEGREE_CAPS` for REDDIT-BINARY (32),
  whose hubs would otherwise make the feature matrix hundreds of MB. This follows the
  MVGRL release, which uses the node label plus one-hot degree (its MUTAG
  features are 11-wide; ours are 7 labels + 5 degree columns = 12, because we
  keep a column for degree 0). Sets with continuous node attributes
  (PROTEINS) use the attributes plus the one-hot labels instead.
"""
from __future__ import annotations

import logging
import math
import os
import pickle
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data, InMemoryDataset
from torch_geometric.utils import (
    coalesce,
    degree,
    remove_self_loops,
    to_undirected,
)

log = logging.getLogger(__name__)

__all__ = [
    "DATA_ENV",
    "CACHE_ENV",
    "MAX_DEGREE_CAP",
    "DEGREE_CAPS",
    "TU_NODE_LABELLED",
    "NODE_DATASETS",
    "GRAPH_DATASETS",
    "DatasetFormatError",
    "MissingRawFilesError",
    "NodeDataset",
    "GraphDataset",
    "canonical_name",
    "is_graph_level",
    "default_cache_dir",
    "resolve_data_dir",
    "reuse_dirs",
    "load_node_dataset",
    "load_graph_dataset",
    "load_linqs_cora",
]

DATA_ENV = "GRAPHREP_DATA"
CACHE_ENV = "GRAPHREP_CACHE"
MAX_DEGREE_CAP = 150
#: Smaller caps where the default would make the feature matrix too large
#: (REDDIT-BINARY: 860k nodes, degrees up to 3062).
DEGREE_CAPS: dict[str, int] = {"REDDIT-BINARY": 32}

#: TU sets whose nodes carry labels: their ``_node_labels.txt`` is required, since
#: without it PyG would build the set silently without the label features.
TU_NODE_LABELLED: frozenset[str] = frozenset({"MUTAG", "PTC_MR", "NCI1", "PROTEINS"})

#: Node-classification datasets and the splits each supports.
NODE_DATASETS: dict[str, tuple[str, ...]] = {
    "Cora": ("public", "pygcn"),
    "CiteSeer": ("public",),
    "PubMed": ("public",),
}
#: Planetoid statistics on the public split: (nodes, train, val, test). A raw file cut
#: short can still unpickle or parse (a truncated ``ind.<name>.test.index`` loses test
#: nodes and scrambles the rows PyG reorders by it), so a loaded set is checked against them.
PLANETOID_SIZES: dict[str, tuple[int, int, int, int]] = {
    "Cora": (2708, 140, 500, 1000),
    "CiteSeer": (3327, 120, 500, 1000),
    "PubMed": (19717, 60, 500, 1000),
}
#: Graph-classification datasets (TUDataset names).
GRAPH_DATASETS: tuple[str, ...] = (
    "MUTAG",
    "PTC_MR",
    "IMDB-BINARY",
    "IMDB-MULTI",
    "REDDIT-BINARY",
    "NCI1",
    "PROTEINS",
)


class MissingRawFilesError(FileNotFoundError):
    """Raised when the raw files of a dataset are found nowhere."""


class DatasetFormatError(ValueError):
    """Raised when a raw file cannot be parsed; the message names the file."""


@dataclass
class NodeDataset:
    """One graph with node labels and a train/val/test split.

    Attributes:
        name: canonical dataset name.
        split: ``"public"`` (Planetoid) or ``"pygcn"`` (LINQS Cora).
        data: PyG ``Data`` with ``x [N, F]``, ``edge_index [2, E]`` (undirected,
            no self-loops), ``y [N]`` and boolean ``train_mask``, ``val_mask``,
            ``test_mask`` of shape ``[N]``.
    """

    name: str
    split: str
    data: Data

    @property
    def num_classes(self) -> int:
        return int(self.data.y.max()) + 1


@dataclass
class GraphDataset:
    """A list of graphs with graph labels.

    Attributes:
        name: canonical dataset name.
        graphs: list of ``Data`` with ``x [n_i, F]``, ``edge_index [2, e_i]``
            and ``y [1]``.
        feature_description: how node features were built.
    """

    name: str
    graphs: list[Data]
    feature_description: str

    @property
    def num_features(self) -> int:
        return int(self.graphs[0].x.size(1))

    @property
    def num_classes(self) -> int:
        return int(torch.cat([g.y for g in self.graphs]).max()) + 1

    @property
    def labels(self) -> Tensor:
        """Graph labels, shape ``[G]``."""
        return torch.cat([g.y.view(-1) for g in self.graphs])

    def __len__(self) -> int:
        return len(self.graphs)


# --------------------------------------------------------------------------
# names and directories
# --------------------------------------------------------------------------
def _all_names() -> list[str]:
    return list(NODE_DATASETS) + list(GRAPH_DATASETS)


def canonical_name(name: str) -> str:
    """Map a user-given name (any case, ``_`` or ``-``) to the canonical one.

    Raises:
        ValueError: unknown name; the message lists the valid names.
    """
    key = name.strip().lower().replace("_", "-")
    for valid in _all_names():
        if valid.lower().replace("_", "-") == key:
            return valid
    raise ValueError(
        f"Unknown dataset {name!r}. Valid names: {', '.join(_all_names())}.")


def is_graph_level(name: str) -> bool:
    """Whether ``name`` is a graph-classification dataset."""
    return canonical_name(name) in GRAPH_DATASETS


def default_cache_dir() -> Path:
    """``$GRAPHREP_CACHE`` or ``~/.cache/graphrep``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "graphrep"


def resolve_data_dir(data_dir: str | Path | None = None) -> Path | None:
    """The raw-data directory: ``data_dir`` if given, else ``$GRAPHREP_DATA``."""
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else None


def reuse_dirs(recorded_data: str | None, recorded_cache: str | None,
               data_dir: str | None = None,
               cache_dir: str | None = None) -> tuple[str | None, str | None]:
    """The raw-data and cache directories for working on a run again (``eval``,
    ``--resume``, ``select``, the reproduction audit), which recorded ``recorded_data`` and
    ``recorded_cache`` in its ``config.json``: each the given directory, else
    ``$GRAPHREP_DATA`` / ``$GRAPHREP_CACHE``, else the recorded one where it still exists,
    else None (no raw-data directory; the default cache). So a run copied to another
    machine, or whose directories moved, is read with that machine's settings."""
    def pick(given: str | None, env: str, recorded: str | None) -> str | None:
        if given is not None:
            return given
        if os.environ.get(env):
            return os.environ[env]
        return recorded if recorded is not None and Path(recorded).is_dir() else None

    return pick(data_dir, DATA_ENV, recorded_data), pick(cache_dir, CACHE_ENV, recorded_cache)


def _missing_files_error(name: str, files: Sequence[Path],
                         partial_in: Path | None = None,
                         downloadable: bool = True,
                         download_error: BaseException | None = None) -> MissingRawFilesError:
    """The error naming the missing raw ``files`` and the variable to set.
    ``partial_in``: the cache directory holding a partial copy, which keeps PyG from
    downloading the set; ``downloadable``: whether PyG could download the set;
    ``download_error``: why PyG's download failed."""
    listing = "\n  ".join(str(f) for f in files)
    if not downloadable:
        fallback = "which is not downloaded (no PyG loader reads these files)."
    elif download_error is not None:
        fallback = (f"or let PyG download them: it tried and failed "
                    f"({type(download_error).__name__}: {download_error}; offline?).")
    elif partial_in is None:
        fallback = "or allow downloading."
    else:
        fallback = (f"or delete the partial copy in {partial_in} (and its source) to let "
                    f"PyG download the whole set.")
    return MissingRawFilesError(
        f"Raw files of {name} not found:\n  {listing}\n"
        f"Point --data-dir or the {DATA_ENV} environment variable at a "
        f"directory holding them (layout: Planetoid/<Name>/raw, "
        f"TUDataset/<NAME>/raw, LINQS/cora), {fallback}")


def _same_file_stats(src: Path, copy: Path) -> bool:
    a, b = src.stat(), copy.stat()
    return a.st_size == b.st_size and a.st_mtime_ns == b.st_mtime_ns


def _stage_raw_files(
    name: str,
    subdir: str,
    required: Sequence[str],
    data_dir: Path | None,
    cache_dir: Path,
    optional_glob: str | None = None,
) -> bool:
    """Copy raw files from ``data_dir/subdir`` into ``cache_dir/subdir``.

    A file is copied when the cache lacks it or holds a copy of a different size
    or modification time (copies keep the source's), so a corrected raw file
    replaces a stale copy even at the same size. Returns whether every required
    file is now in the cache.
    """
    dst = cache_dir / subdir
    if data_dir is not None and (data_dir / subdir).is_dir():
        src = data_dir / subdir
        names = set(required)
        if optional_glob is not None:
            names |= {p.name for p in src.glob(optional_glob)}
        for fname in sorted(names):
            s, d = src / fname, dst / fname
            if not s.is_file():
                continue
            if d.is_file() and _same_file_stats(s, d):
                continue
            dst.mkdir(parents=True, exist_ok=True)
            tmp = d.with_name(d.name + ".tmp")
            shutil.copy2(s, tmp)  # keeps the source's mtime (compared above)
            tmp.chmod(tmp.stat().st_mode | 0o600)  # writable even from a read-only source
            os.replace(tmp, d)
            # The processed tensors were built from other raw bytes.
            processed = dst.parent / "processed"
            if processed.is_dir():
                shutil.rmtree(processed)
    return all((dst / f).is_file() for f in required)


def _source_dir(data_dir: Path | None, subdir: str) -> Path | None:
    """``data_dir/subdir`` when the cache's raw files were copied from there."""
    if data_dir is not None and (data_dir / subdir).is_dir():
        return data_dir / subdir
    return None


def _source_of(cached: Path, data_dir: Path | None, subdir: str) -> Path:
    """The file a cached raw file was copied from, else the cached file itself."""
    src = _source_dir(data_dir, subdir)
    return src / cached.name if src is not None and (src / cached.name).is_file() \
        else cached


def _cache_error(name: str, where: Path, exc: BaseException) -> RuntimeError:
    """PyG failed to build ``name`` in the cache although its raw files are there."""
    return RuntimeError(
        f"Cannot build {name} in the cache {where}: {type(exc).__name__}: {exc}. The raw "
        f"files are in place; make the cache writable with free space, point "
        f"--cache-dir or {CACHE_ENV} elsewhere, or delete {where / 'processed'} and "
        f"retry.")


@contextmanager
def _cache_lock(cache: Path, family: str, name: str) -> Iterator[None]:
    """Hold ``<cache>/<family>/.<name>.lock`` while the raw files of ``name`` are staged
    and PyG processes them: jobs started together on one cache (two seeds side by side)
    would otherwise copy over each other's files and read half-processed ones. The
    second job waits, then finds the processed files."""
    from filelock import FileLock, Timeout

    where = cache / family
    try:
        where.mkdir(parents=True, exist_ok=True)
        lock = FileLock(where / f".{name}.lock")
        try:
            lock.acquire(timeout=1)
        except Timeout:
            log.warning("waiting for another job preparing %s in %s (it holds %s)",
                        name, where, lock.lock_file)
            lock.acquire()
    except OSError as exc:
        raise RuntimeError(
            f"Cannot lock {where / f'.{name}.lock'} to prepare {name} in the cache: "
            f"{type(exc).__name__}: {exc}. Make the cache writable or point --cache-dir "
            f"or {CACHE_ENV} elsewhere.") from exc
    try:
        yield
    finally:
        lock.release()


def _pyg_failure(name: str, where: Path, staged: bool, raw_files: list[Path],
                 exc: BaseException) -> RuntimeError | MissingRawFilesError:
    """The error for PyG's ``OSError`` building ``name``: with the raw files ``staged``
    the cache failed (:func:`_cache_error`), else they are missing and the download
    PyG tried failed."""
    if staged:
        return _cache_error(name, where, exc)
    return _missing_files_error(name, raw_files, download_error=exc)


# --------------------------------------------------------------------------
# node-level datasets
# --------------------------------------------------------------------------
def _row_normalize(x: Tensor) -> Tensor:
    """Divide each row by its sum (rows summing to zero stay zero)."""
    s = x.sum(dim=1, keepdim=True)
    return x / s.clamp(min=torch.finfo(x.dtype).tiny)


def _text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a UTF-8 text file; bytes that are not UTF-8 raise
    :class:`DatasetFormatError` naming the file and line."""
    try:
        with open(path, encoding="utf-8", errors="strict") as f:
            yield from enumerate(f, start=1)
    except UnicodeDecodeError:
        raw = path.read_bytes()  # decoding runs ahead in chunks: locate the bad byte
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise DatasetFormatError(
                f"{path}:{line}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                f"replace the file with the original") from None
        raise


def load_linqs_cora(directory: str | Path) -> Data:
    """Cora from the LINQS files in pygcn order with the pygcn split.

    Node ``i`` is line ``i`` of ``cora.content``; train = nodes 0-139,
    val = 200-499, test = 500-1499. Features are row-normalised, classes are
    numbered in sorted order of their names, edges come from ``cora.cites``
    (``cited citing`` paper ids), symmetrised, without self-loops.

    Raises:
        MissingRawFilesError: a file is absent.
        DatasetFormatError: a line cannot be parsed (message names file and line).
    """
    directory = Path(directory)
    content, cites = directory / "cora.content", directory / "cora.cites"
    missing = [f for f in (content, cites) if not f.is_file()]
    if missing:
        raise _missing_files_error("Cora (pygcn split)", missing, downloadable=False)

    ids: dict[str, int] = {}
    feats: list[np.ndarray] = []
    labels: list[str] = []
    width: int | None = None
    for lineno, line in _text_lines(content):
        parts = line.split()
        if not parts:
            continue
        try:
            row = np.asarray(parts[1:-1], dtype=np.float32)
        except ValueError as exc:
            raise DatasetFormatError(
                f"{content}:{lineno}: cannot parse features ({exc})") from None
        if not np.isfinite(row).all():
            raise DatasetFormatError(f"{content}:{lineno}: a feature is NaN or inf")
        if len(parts) < 3 or (width is not None and row.size != width):
            raise DatasetFormatError(
                f"{content}:{lineno}: expected '<paper id> <{width or 'F'} "
                f"features> <label>', got {len(parts)} fields")
        width = row.size
        if parts[0] in ids:
            raise DatasetFormatError(
                f"{content}:{lineno}: duplicate paper id {parts[0]}")
        ids[parts[0]] = len(ids)
        feats.append(row)
        labels.append(parts[-1])
    if not ids:
        raise DatasetFormatError(f"{content}: no nodes")

    edges: list[tuple[int, int]] = []
    for lineno, line in _text_lines(cites):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise DatasetFormatError(
                f"{cites}:{lineno}: expected '<cited id> <citing id>'")
        try:
            edges.append((ids[parts[0]], ids[parts[1]]))
        except KeyError as exc:
            raise DatasetFormatError(
                f"{cites}:{lineno}: paper id {exc.args[0]} is not in "
                f"{content.name}") from None

    n = len(ids)
    x = _row_normalize(torch.from_numpy(np.stack(feats)))
    classes = sorted(set(labels))
    y = torch.tensor([classes.index(c) for c in labels], dtype=torch.long)
    edge_index = torch.tensor(edges, dtype=torch.long).t().reshape(2, -1)
    edge_index, _ = remove_self_loops(edge_index)
    edge_index = to_undirected(edge_index, num_nodes=n)

    def mask(lo: int, hi: int) -> Tensor:
        m = torch.zeros(n, dtype=torch.bool)
        m[lo:min(hi, n)] = True
        return m

    return Data(x=x, edge_index=edge_index, y=y, train_mask=mask(0, 140),
                val_mask=mask(200, 500), test_mask=mask(500, 1500))


def _find_corrupt_planetoid_file(raw_dir: Path) -> Path | None:
    for f in sorted(raw_dir.glob("ind.*")):
        if f.name.endswith("test.index"):
            try:
                np.loadtxt(f, dtype=np.int64, ndmin=1)
            except ValueError:
                return f
            continue
        try:
            with open(f, "rb") as fh:
                pickle.load(fh, encoding="latin1")
        except Exception:  # any unpickling failure marks the file
            return f
    return None


def _find_corrupt_tu_file(raw_dir: Path, name: str) -> str | None:
    """``"<file>:<line>: <token> is not a number"`` for the first TU file of ``name``
    in ``raw_dir`` holding a token that is not a finite number, an empty line or bytes
    that are not UTF-8, else None. Past this check every line is a row, so the line
    numbers of later checks (rows as numpy reads them) are the file's."""
    for f in sorted(raw_dir.glob(f"{name}_*.txt")):
        try:
            with open(f, encoding="utf-8") as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():  # PyG reads every line as a row: int('') fails
                        return f"{f}:{lineno}: the line is empty (every line must hold a row)"
                    for tok in line.replace(",", " ").split():
                        try:
                            if not math.isfinite(float(tok)):
                                return f"{f}:{lineno}: {tok!r} is not a finite number"
                        except ValueError:
                            return f"{f}:{lineno}: {tok!r} is not a number"
        except UnicodeDecodeError as exc:
            return f"{f}: not UTF-8 text ({exc})"
    return None


def _check_tu_files(raw_dir: Path, name: str, source: Path | None = None) -> None:
    """Raise :class:`DatasetFormatError` naming the first TU file of ``name`` in
    ``raw_dir`` that does not parse as numbers or does not fit the others; named in
    ``source`` (the directory ``raw_dir``'s files were copied from), if given, since
    replacing the cache copy would not last: the source is copied over it again."""
    bad = _find_corrupt_tu_file(raw_dir, name)
    reason = (f"Cannot parse {bad}" if bad is not None
              else _tu_inconsistency(raw_dir, name))
    if reason is not None:
        if source is not None:
            reason = reason.replace(str(raw_dir), str(source))
        raise DatasetFormatError(f"{reason}. Replace the file with the original TU file.")


def _tu_inconsistency(raw_dir: Path, name: str) -> str | None:
    """Where TU files that parse as numbers still do not fit together: an edge
    endpoint that is not an integer or lies outside ``1..N`` (``N`` = lines of
    ``graph_indicator``), an edge joining two graphs, a graph label that is not an
    integer, a label column far wider than its labels, or a per-node, per-edge or
    per-graph file with the wrong number of lines. Returns a message naming the file
    (and line), or None. For files that passed :func:`_find_corrupt_tu_file`."""
    class Unparsable(Exception):
        pass

    def rows(suffix: str, columns: int | None = None) -> np.ndarray | None:
        f = raw_dir / f"{name}_{suffix}.txt"
        if not f.is_file():
            return None
        try:
            r = np.loadtxt(f, delimiter=",", dtype=np.float64, ndmin=2)
        except ValueError as exc:  # a line cut short, a changed column count
            # numpy's advice (``usecols``) is not the fix for a damaged file
            raise Unparsable(f"Cannot parse {f}: {str(exc).split('; use `usecols`')[0]}") from None
        if columns is not None and r.size and r.shape[1] != columns:
            raise Unparsable(f"{f} has {r.shape[1]} columns per line, expected {columns}")
        return r

    try:
        for suffix, what in (("graph_indicator", "no node"), ("A", "no edge")):
            f = raw_dir / f"{name}_{suffix}.txt"
            # (past _find_corrupt_tu_file, which refuses blank lines, empty means 0 bytes)
            if f.is_file() and f.stat().st_size == 0:
                # PyG's reader fails on it with an IndexError that names nothing
                return (f"{f} is empty: PyG's TUDataset cannot read a set with {what} at "
                        f"all (single graphs without edges are fine)")
        indicator = rows("graph_indicator", columns=1)
        if indicator is None or indicator.size == 0:
            return None
        indicator = indicator[:, 0]
        reason = _graph_indicator_problem(indicator)
        if reason is not None:
            return f"{raw_dir / f'{name}_graph_indicator.txt'}:{reason}"
        n, g = len(indicator), int(indicator[-1])
        if g < 2:  # PyG's reader fails on it with an IndexError that names nothing
            return (f"{raw_dir / f'{name}_graph_indicator.txt'}: every node is in graph 1: "
                    f"a graph classification set needs more than one graph")
        edges = rows("A", columns=2)
        if edges is not None and edges.size:
            where = raw_dir / f"{name}_A.txt"
            i = _first_non_integer_row(edges)
            if i is not None:
                return f"{where}:{i + 1}: edge {edges[i].tolist()} names a non-integer node"
            bad = np.flatnonzero(((edges < 1) | (edges > n)).any(axis=1))
            if bad.size:
                i = int(bad[0])
                return (f"{where}:{i + 1}: edge "
                        f"{edges[i].astype(int).tolist()} names a node outside 1..{n} "
                        f"({n} = the lines of {name}_graph_indicator.txt)")
            graph_of = indicator[edges.astype(np.int64) - 1]  # [E, 2] graph of each endpoint
            bad = np.flatnonzero(graph_of[:, 0] != graph_of[:, 1])
            if bad.size:
                i = int(bad[0])
                a, b = edges[i].astype(int).tolist()
                return (f"{where}:{i + 1}: edge [{a}, {b}] joins graph "
                        f"{graph_of[i, 0]:g} to graph {graph_of[i, 1]:g} (their lines in "
                        f"{name}_graph_indicator.txt); an edge must stay within one graph")
        expected = {"graph_labels": (g, "graphs", f"{name}_graph_indicator.txt"),
                    "node_labels": (n, "nodes", f"{name}_graph_indicator.txt"),
                    "node_attributes": (n, "nodes", f"{name}_graph_indicator.txt"),
                    "edge_labels": (None if edges is None else len(edges), "edges",
                                    f"{name}_A.txt")}
        for suffix, (count, what, other) in expected.items():
            r = rows(suffix)
            if r is None:
                continue
            if count is not None and len(r) != count:
                return (f"{raw_dir / f'{name}_{suffix}.txt'} has {len(r)} lines for the "
                        f"{count} {what} of {other}: one of the two is cut short or not "
                        f"the original")
            if suffix == "graph_labels":
                i = _first_non_integer_row(r)
                if i is not None:
                    return (f"{raw_dir / f'{name}_{suffix}.txt'}:{i + 1}: graph label "
                            f"{r[i].tolist()} is not an integer")
            if suffix in ("node_labels", "edge_labels"):
                reason = _label_range_problem(r)
                if reason is not None:
                    return f"{raw_dir / f'{name}_{suffix}.txt'}:{reason}"
    except Unparsable as exc:
        return str(exc)
    return None


def _first_non_integer_row(rows: np.ndarray) -> int | None:
    """Index of the first row of ``rows`` (``[R, C]``) holding a non-integer, or None."""
    bad = np.flatnonzero((rows != np.round(rows)).any(axis=1))
    return int(bad[0]) if bad.size else None


def _graph_indicator_problem(ids: np.ndarray) -> str | None:
    """``"<line>: <reason>"`` unless the graph ids (one per node, in file order) are
    integers that start at 1 and rise by 0 or 1 from line to line (PyG splits the nodes
    into graphs by counting each id, so ids out of order give wrong graphs)."""
    if ids[0] != 1:
        return f"1: the first graph id is {ids[0]:g}, expected 1"
    bad = np.flatnonzero(ids != np.round(ids))
    if bad.size:
        return f"{int(bad[0]) + 1}: graph id {ids[bad[0]]:g} is not an integer"
    step = np.diff(ids)
    bad = np.flatnonzero((step != 0) & (step != 1))
    if bad.size:
        i = int(bad[0]) + 1
        return (f"{i + 1}: graph id {ids[i]:g} follows {ids[i - 1]:g}; the ids must "
                f"run 1, 2, 3, ... in node order")
    return None


#: widest one-hot label encoding accepted without question; beyond it a label column
#: must use at least a quarter of its range (a garbled line, say ``100000`` among
#: labels 0-6, would otherwise make PyG build a 100001-wide one-hot matrix)
_LABEL_RANGE_FREE = 64


def _label_range_problem(labels: np.ndarray) -> str | None:
    """``"<line>: <reason>"`` when a node- or edge-label column (``[rows, columns]``)
    holds non-integers or spans a range far wider than the labels it uses."""
    i = _first_non_integer_row(labels)
    if i is not None:
        return f"{i + 1}: label {labels[i].tolist()} is not an integer"
    for col in labels.T:
        lo, hi = col.min(), col.max()
        width, used = int(hi - lo) + 1, len(np.unique(col))
        if width > max(_LABEL_RANGE_FREE, 4 * used):
            i = int(np.argmax(col)) if hi - np.median(col) >= np.median(col) - lo \
                else int(np.argmin(col))
            return (f"{i + 1}: label {col[i]:g} would make the one-hot encoding "
                    f"{width} columns wide for {used} distinct labels ({lo:g}..{hi:g}); "
                    f"a garbled line?")
    return None


def load_node_dataset(
    name: str,
    split: str = "public",
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    download: bool = True,
) -> NodeDataset:
    """Load a node-classification dataset.

    Args:
        name: ``"Cora"``, ``"CiteSeer"`` or ``"PubMed"`` (any case).
        split: ``"public"`` (Planetoid split: 20 labels per class, 500 val,
            1000 test) or, for Cora only, ``"pygcn"`` (LINQS file order).
        data_dir: raw-data root; defaults to ``$GRAPHREP_DATA``.
        cache_dir: writable cache; defaults to :func:`default_cache_dir`.
        download: let PyG download missing Planetoid files.
    """
    from torch_geometric.datasets import Planetoid

    canon = canonical_name(name)
    if canon not in NODE_DATASETS:
        raise ValueError(
            f"{canon} is a graph-classification dataset; node-level datasets "
            f"are {', '.join(NODE_DATASETS)}.")
    if split not in NODE_DATASETS[canon]:
        raise ValueError(
            f"Split {split!r} is not available for {canon}; choose from "
            f"{', '.join(NODE_DATASETS[canon])}.")
    root = resolve_data_dir(data_dir)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()

    if split == "pygcn":
        candidates = [d / "LINQS" / "cora" for d in (root, cache) if d is not None]
        for d in candidates:
            if (d / "cora.content").is_file() and (d / "cora.cites").is_file():
                return NodeDataset(canon, split, load_linqs_cora(d))
        where = candidates[0] if candidates else Path("LINQS") / "cora"
        raise _missing_files_error(
            "Cora (pygcn split)",
            [where / "cora.content", where / "cora.cites"], downloadable=False)

    low = canon.lower()
    required = [f"ind.{low}.{s}" for s in
                ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")]
    subdir = f"Planetoid/{canon}/raw"
    with _cache_lock(cache, "Planetoid", canon):
        ok = _stage_raw_files(canon, subdir, required, root, cache)
        if not ok and not download:
            base = (root or cache) / subdir
            raise _missing_files_error(
                canon, [base / f for f in required if not (base / f).is_file()])
        try:
            ds = Planetoid(str(cache / "Planetoid"), canon, split="public")
        except (OSError, ConnectionError) as exc:
            missing = [f for f in required if not (cache / subdir / f).is_file()]
            raise _pyg_failure(canon, cache / "Planetoid" / canon, ok,
                               [(root or cache) / subdir / f for f in missing or required],
                               exc) from exc
        except MemoryError:
            raise
        except Exception as exc:
            bad = _find_corrupt_planetoid_file(cache / subdir)
            if bad is not None:
                raise DatasetFormatError(f"Cannot parse {_source_of(bad, root, subdir)}: "
                                         f"{exc}") from exc
            raise DatasetFormatError(
                f"Cannot build {canon} from the raw files in {(root or cache) / subdir}: "
                f"{type(exc).__name__}: {exc}. Every file unpickles: if they are not the "
                f"original Planetoid files they do not fit together (replace them), else "
                f"delete {cache / 'Planetoid' / canon / 'processed'} (built by another PyG "
                f"version?) and retry.") from exc
        data = ds[0]
        try:
            _check_planetoid(data, canon, _source_dir(root, subdir) or cache / subdir)
        except DatasetFormatError:
            # built from the bad file: PyG would reuse it after the file is replaced
            shutil.rmtree(cache / "Planetoid" / canon / "processed", ignore_errors=True)
            raise
    data.x = _row_normalize(data.x)
    return NodeDataset(canon, split, data)


def _check_planetoid(data: Data, name: str, raw_dir: Path) -> None:
    """Raise :class:`DatasetFormatError` when a loaded Planetoid set has other sizes
    than :data:`PLANETOID_SIZES` or non-finite features, naming the raw files to check
    in ``raw_dir`` (a file cut short can still parse)."""
    low = name.lower()
    got = (data.num_nodes, int(data.train_mask.sum()), int(data.val_mask.sum()),
           int(data.test_mask.sum()))
    expected = PLANETOID_SIZES[name]
    if got != expected:
        suspects = ([f"ind.{low}.test.index"] if got[3] != expected[3]
                    else [f"ind.{low}.{s}" for s in ("x", "allx", "tx", "graph")])
        raise DatasetFormatError(
            f"{name} loaded with {got[0]} nodes and a {got[1]}/{got[2]}/{got[3]} "
            f"train/val/test split, expected {expected[0]} and "
            f"{expected[1]}/{expected[2]}/{expected[3]}: a raw file is cut short or not "
            f"the original; check {', '.join(str(raw_dir / f) for f in suspects)} "
            f"against the Planetoid originals.")
    if data.edge_index.numel() and int(data.edge_index.max()) >= data.num_nodes:
        raise DatasetFormatError(
            f"{name}'s graph names node {int(data.edge_index.max())} but the set has "
            f"{data.num_nodes} nodes (0..{data.num_nodes - 1}); replace "
            f"{raw_dir / f'ind.{low}.graph'} with the Planetoid original.")
    if not bool(torch.isfinite(data.x).all()):
        raise DatasetFormatError(
            f"{name}'s features hold NaN or inf values; replace "
            f"{', '.join(str(raw_dir / f'ind.{low}.{s}') for s in ('x', 'allx', 'tx'))} "
            f"with the Planetoid originals.")


# --------------------------------------------------------------------------
# graph-level datasets
# --------------------------------------------------------------------------
def _one_hot(index: Tensor, num_classes: int) -> Tensor:
    return torch.nn.functional.one_hot(index, num_classes).to(torch.float)


def _graph_features(ds: InMemoryDataset, max_degree_cap: int
                    ) -> tuple[list[Data], str]:
    """Build node features for every graph (see the module docstring)."""
    num_labels = int(ds.num_node_labels)
    num_attrs = int(ds.num_node_attributes)
    graphs = [ds[i] for i in range(len(ds))]
    # the views' graph: undirected, no self-loops, no duplicates; degrees are counted on it
    # (a TU file may list an edge in one direction only)
    edges = [coalesce(to_undirected(remove_self_loops(g.edge_index)[0], num_nodes=g.num_nodes),
                      num_nodes=g.num_nodes) for g in graphs]
    degs = [degree(e[0], g.num_nodes, dtype=torch.long) for e, g in zip(edges, graphs, strict=True)]
    max_deg = max((int(d.max()) for d in degs if d.numel()), default=0)
    max_deg = min(max_deg, max_degree_cap)
    out: list[Data] = []
    for g, d, edge_index in zip(graphs, degs, edges, strict=True):
        parts: list[Tensor] = []
        if num_attrs > 0:
            parts.append(g.x[:, :num_attrs])
        if num_labels > 0:
            parts.append(g.x[:, num_attrs:num_attrs + num_labels])
        if num_attrs == 0:
            parts.append(_one_hot(d.clamp(max=max_deg), max_deg + 1))
        x = torch.cat(parts, dim=1) if parts else torch.ones(g.num_nodes, 1)
        out.append(Data(x=x, edge_index=edge_index, y=g.y.view(-1),
                        num_nodes=g.num_nodes))
    desc = []
    if num_attrs:
        desc.append(f"{num_attrs} continuous attributes")
    if num_labels:
        desc.append(f"{num_labels} one-hot node labels")
    if not num_attrs:
        desc.append(f"one-hot degree 0..{max_deg} (capped at {max_degree_cap})")
    return out, " + ".join(desc)


def load_graph_dataset(
    name: str,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    download: bool = True,
    max_degree_cap: int | None = None,
) -> GraphDataset:
    """Load a TU graph-classification dataset with MVGRL node features.

    Graphs without edges or with isolated nodes are kept: the views add
    self-loops, so every node still has a well-defined embedding.

    Args:
        name: one of :data:`GRAPH_DATASETS` (any case, ``-`` or ``_``).
        data_dir: raw-data root; defaults to ``$GRAPHREP_DATA``.
        cache_dir: writable cache; defaults to :func:`default_cache_dir`.
        download: let PyG download missing files.
        max_degree_cap: largest degree with its own one-hot column
            (default: :data:`DEGREE_CAPS` or :data:`MAX_DEGREE_CAP`).
    """
    from torch_geometric.datasets import TUDataset

    canon = canonical_name(name)
    if canon not in GRAPH_DATASETS:
        raise ValueError(
            f"{canon} is a node-classification dataset; graph-level datasets "
            f"are {', '.join(GRAPH_DATASETS)}.")
    if max_degree_cap is not None and max_degree_cap < 0:  # before loading, not after
        raise ValueError(f"max_degree_cap must be >= 0 (the largest degree with its own "
                         f"one-hot column), got {max_degree_cap}.")
    root = resolve_data_dir(data_dir)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    required = [f"{canon}_A.txt", f"{canon}_graph_indicator.txt",
                f"{canon}_graph_labels.txt"]
    if canon in TU_NODE_LABELLED:
        required.append(f"{canon}_node_labels.txt")
    subdir = f"TUDataset/{canon}/raw"
    with _cache_lock(cache, "TUDataset", canon):
        ok = _stage_raw_files(canon, subdir, required, root, cache,
                              optional_glob=f"{canon}_*.txt")
        # PyG downloads a TU set only when its edge or indicator file is absent, so a
        # partial set would be processed as it is (no labels, or no label features).
        partial = any((cache / subdir / f).is_file() for f in required)
        if not ok and (partial or not download):
            base = (root or cache) / subdir
            raise _missing_files_error(
                canon, [base / f for f in required if not (base / f).is_file()],
                partial_in=cache / subdir if partial else None)
        if ok and not (cache / "TUDataset" / canon / "processed").is_dir():
            # PyG would process them as they are
            _check_tu_files(cache / subdir, canon, source=_source_dir(root, subdir))
        try:
            ds = TUDataset(str(cache / "TUDataset"), canon, use_node_attr=True)
        except (OSError, ConnectionError) as exc:
            raise _pyg_failure(canon, cache / "TUDataset" / canon, ok,
                               [(root or cache) / subdir / f for f in required], exc) from exc
        except MemoryError:
            raise
        except Exception as exc:
            try:
                _check_tu_files(cache / subdir, canon, source=_source_dir(root, subdir))
            except DatasetFormatError as named:
                raise named from exc
            raise DatasetFormatError(
                f"Cannot build {canon} from the raw files in {(root or cache) / subdir}: "
                f"{type(exc).__name__}: {exc}. They pass the format checks: if they are not "
                f"the original TU files replace them, else delete "
                f"{cache / 'TUDataset' / canon / 'processed'} (built by another PyG version?) "
                f"and retry.") from exc
    if max_degree_cap is None:
        max_degree_cap = DEGREE_CAPS.get(canon, MAX_DEGREE_CAP)
    graphs, desc = _graph_features(ds, max_degree_cap)
    return GraphDataset(canon, graphs, desc)
