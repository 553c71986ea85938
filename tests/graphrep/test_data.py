"""Dataset loading and every bad-input error."""
import shutil

import pytest
import torch

from graphrep.data import (
    DatasetFormatError,
    MissingRawFilesError,
    canonical_name,
    load_graph_dataset,
    load_node_dataset,
)


def test_cora_public_split(cora):
    d = cora.data
    assert d.num_nodes == 2708 and d.edge_index.size(1) == 10556
    assert int(d.train_mask.sum()) == 140 and int(d.test_mask.sum()) == 1000
    assert torch.allclose(d.x.sum(1), torch.ones(2708))


def test_cora_pygcn_split(data_dir, cache_dir):
    d = load_node_dataset("cora", "pygcn", data_dir, cache_dir).data
    assert d.num_nodes == 2708 and d.num_features == 1433
    assert d.train_mask[:140].all() and int(d.train_mask.sum()) == 140
    assert d.val_mask[200:500].all() and int(d.val_mask.sum()) == 300
    assert d.test_mask[500:1500].all() and int(d.test_mask.sum()) == 1000
    assert d.edge_index.size(1) == 10556  # 5278 undirected citation pairs
    assert torch.allclose(d.x.sum(1), torch.ones(2708))
    # classes numbered in sorted name order: Case_Based, Genetic_Algorithms, Neural_Networks,
    # Probabilistic_Methods, Reinforcement_Learning, Rule_Learning, Theory (LINQS counts)
    assert torch.bincount(d.y).tolist() == [298, 418, 818, 426, 217, 180, 351]


def test_cora_pygcn_is_the_planetoid_graph_in_another_order(cora, data_dir, cache_dir):
    """Both splits read one graph: same degree sequence, class sizes and feature counts
    per node once sorted (edges mapped to the wrong papers would change the degrees)."""
    from torch_geometric.utils import degree

    pygcn, public = load_node_dataset("cora", "pygcn", data_dir, cache_dir).data, cora.data

    def profile(d):
        deg = degree(d.edge_index[0], d.num_nodes).long()
        words = (d.x > 0).sum(1)
        return (sorted(zip(deg.tolist(), words.tolist(), strict=True)),
                sorted(torch.bincount(d.y).tolist()))

    assert profile(pygcn) == profile(public)


def test_raw_dir_is_copied_not_written(cora, data_dir, cache_dir):
    assert (cache_dir / "Planetoid" / "Cora" / "raw" / "ind.cora.x").is_file()
    assert not (data_dir / "Planetoid" / "Cora" / "processed").exists()


def test_raw_files_found_through_the_environment(data_dir, tmp_path, monkeypatch):
    from graphrep.data import DATA_ENV

    monkeypatch.setenv(DATA_ENV, str(data_dir))
    ds = load_graph_dataset("MUTAG", None, tmp_path / "cache", download=False)
    assert len(ds.graphs) == 188
    monkeypatch.delenv(DATA_ENV)
    with pytest.raises(MissingRawFilesError, match=DATA_ENV):
        load_graph_dataset("PTC_MR", None, tmp_path / "cache2", download=False)


def test_changed_raw_file_replaces_the_cached_copy(tmp_path):
    import os

    from graphrep.data import _stage_raw_files

    src, cache = tmp_path / "data", tmp_path / "cache"
    (src / "Set" / "raw").mkdir(parents=True)
    raw = src / "Set" / "raw" / "a.txt"
    raw.write_text("1 2 3\n")
    raw.chmod(0o444)  # read-only data dir, as in CI
    assert _stage_raw_files("Set", "Set/raw", ["a.txt"], src, cache)
    copy, processed = cache / "Set" / "raw" / "a.txt", cache / "Set" / "processed"
    processed.mkdir()
    assert _stage_raw_files("Set", "Set/raw", ["a.txt"], src, cache)
    assert processed.is_dir()  # unchanged source: nothing copied, nothing rebuilt
    raw.chmod(0o644)
    raw.write_text("1 2 4\n")  # a corrected file of the same size
    os.utime(raw, ns=(raw.stat().st_atime_ns, raw.stat().st_mtime_ns + 10**9))
    assert _stage_raw_files("Set", "Set/raw", ["a.txt"], src, cache)
    assert copy.read_text() == "1 2 4\n" and not processed.exists()


def test_mutag_features(mutag):
    assert len(mutag) == 188
    # 7 one-hot atom labels + one-hot degree 0..4
    assert mutag.num_features == 12
    assert all(torch.allclose(g.x[:, :7].sum(1), torch.ones(g.num_nodes)) for g in mutag.graphs)


def test_featureless_tu_set_gets_degree(data_dir, cache_dir):
    ds = load_graph_dataset("IMDB-BINARY", data_dir, cache_dir, download=False)
    g = ds.graphs[0]
    deg = torch.bincount(g.edge_index[0], minlength=g.num_nodes)
    assert torch.equal(g.x.argmax(1), deg.clamp(max=ds.num_features - 1))


def test_degree_features_count_the_undirected_graph(data_dir, tmp_path):
    """An edge listed one way only (MUTAG's first line, "2, 1", dropped with its label) is
    an edge of the views' undirected graph; the degree one-hot counts it too."""
    root = _copy(data_dir, tmp_path, "TUDataset/MUTAG")
    raw = root / "TUDataset/MUTAG/raw"
    for f in ("MUTAG_A.txt", "MUTAG_edge_labels.txt"):
        (raw / f).write_text("".join((raw / f).read_text().splitlines(keepends=True)[1:]))
    ds = load_graph_dataset("MUTAG", root, tmp_path / "cache", download=False)
    for g in ds.graphs[:5]:
        deg = torch.bincount(g.edge_index[0], minlength=g.num_nodes)
        assert torch.equal(g.x[:, 7:].argmax(1), deg)  # after MUTAG's 7 label columns
    ei = ds.graphs[0].edge_index
    assert ((ei[0] == 1) & (ei[1] == 0)).any()  # the dropped direction is back


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match="Valid names: Cora, CiteSeer.*MUTAG"):
        canonical_name("Corra")
    assert canonical_name("imdb_binary") == "IMDB-BINARY"


def test_wrong_split():
    with pytest.raises(ValueError, match="pygcn"):
        load_node_dataset("CiteSeer", "pygcn")


def test_missing_raw_files_name_files_and_variable(tmp_path):
    with pytest.raises(MissingRawFilesError, match="ind.cora.x(.|\n)*GRAPHREP_DATA"):
        load_node_dataset("Cora", "public", tmp_path / "none", tmp_path / "c",
                          download=False)
    with pytest.raises(MissingRawFilesError, match="MUTAG_A.txt(.|\n)*GRAPHREP_DATA"):
        load_graph_dataset("MUTAG", tmp_path / "none", tmp_path / "c",
                           download=False)
    with pytest.raises(MissingRawFilesError, match="cora.content") as err:
        load_node_dataset("Cora", "pygcn", tmp_path / "none", tmp_path / "c")
    assert "not downloaded" in str(err.value) and "allow downloading" not in str(err.value)


def _copy(data_dir, tmp_path, sub):
    dst = tmp_path / "data" / sub
    shutil.copytree(data_dir / sub, dst)
    for f in dst.rglob("*"):
        f.chmod(0o644)
    return tmp_path / "data"


def test_corrupt_tu_file_is_named(data_dir, tmp_path):
    root = _copy(data_dir, tmp_path, "TUDataset/MUTAG")
    bad = root / "TUDataset/MUTAG/raw/MUTAG_graph_indicator.txt"
    bad.write_text("1\n1\nnot-a-number\n")
    with pytest.raises(DatasetFormatError, match="MUTAG_graph_indicator.txt:3: .not-a-number. is not") as err:
        load_graph_dataset("MUTAG", root, tmp_path / "cache", download=False)
    # the user's file, not its cache copy (which the source would overwrite again)
    assert str(bad) in str(err.value) and str(tmp_path / "cache") not in str(err.value)


def test_cache_failure_is_not_reported_as_missing_raw_files(data_dir, tmp_path):
    """The raw files are in place but PyG cannot write its processed files: the error
    names the cache and the real cause, not the (present) raw files."""
    cache = tmp_path / "cache"
    (cache / "TUDataset" / "MUTAG").mkdir(parents=True)
    (cache / "TUDataset" / "MUTAG" / "processed").write_text("not a directory")
    with pytest.raises(RuntimeError, match="Cannot build MUTAG in the cache(.|\n)*"
                                           "FileExistsError") as err:
        load_graph_dataset("MUTAG", data_dir, cache, download=False)
    assert not isinstance(err.value, MissingRawFilesError)


@pytest.mark.parametrize("dropped", ["MUTAG_graph_labels.txt", "MUTAG_node_labels.txt"])
def test_partial_tu_set_is_named_even_with_download_allowed(data_dir, tmp_path, dropped):
    # PyG downloads a TU set only when A or graph_indicator is absent: without this
    # check a set lacking labels would crash later, or lose its label features silently
    root = _copy(data_dir, tmp_path, "TUDataset/MUTAG")
    (root / "TUDataset/MUTAG/raw" / dropped).unlink()
    with pytest.raises(MissingRawFilesError, match=f"{dropped}(.|\n)*partial copy"):
        load_graph_dataset("MUTAG", root, tmp_path / "cache", download=True)


@pytest.mark.parametrize("mutate, match", [
    (("MUTAG_A.txt", "99999, 1\n"), r"MUTAG_A.txt:7443: edge \[99999, 1\].*1\.\.3371"),
    (("MUTAG_graph_labels.txt", "1\n"), "MUTAG_graph_labels.txt has 189 lines for the 188 "
                                          "graphs of MUTAG_graph_indicator.txt"),
])
def test_tu_files_that_parse_but_do_not_fit_are_named(data_dir, tmp_path, mutate, match):
    root = _copy(data_dir, tmp_path, "TUDataset/MUTAG")
    f = root / "TUDataset/MUTAG/raw" / mutate[0]
    f.write_text(f.read_text() + mutate[1])
    with pytest.raises(DatasetFormatError, match=match):
        load_graph_dataset("MUTAG", root, tmp_path / "cache", download=False)


def _replace_line(text: str, lineno: int, line: str) -> str:
    lines = text.splitlines(keepends=True)
    lines[lineno - 1] = line + "\n"
    return "".join(lines)


@pytest.mark.parametrize("file, mutate, match", [
    # cut short after a comma: numpy's own message would name no file
    ("A", lambda t: t[:t.index(",", 1000) + 1],
     r"Cannot parse .*MUTAG_A.txt: .*row 149"),
    ("A", lambda t: t + "1, 2, 3\n", r"Cannot parse .*MUTAG_A.txt: .*columns"),
    ("A", lambda t: t.replace(", ", "\t"), r"Cannot parse .*MUTAG_A.txt"),
    # cut in half at a line end: the edge labels outnumber the edges, either may be wrong
    ("A", lambda t: t[:t.index("\n", len(t) // 2) + 1],
     r"MUTAG_edge_labels.txt has 7442 lines for the 3945 edges of MUTAG_A.txt: one of "
     r"the two is cut short"),
    ("graph_indicator", lambda t: _replace_line(t, 46, "6"),
     r"MUTAG_graph_indicator.txt:46: graph id 6 follows 4"),
    ("graph_indicator", lambda t: _replace_line(t, 1, "0"),
     r"MUTAG_graph_indicator.txt:1: the first graph id is 0"),
    ("graph_indicator", lambda t: _replace_line(t, 2, "1.5"),
     r"MUTAG_graph_indicator.txt:2: graph id 1.5 is not an integer"),
    ("node_labels", lambda t: _replace_line(t, 6, "100000"),
     r"MUTAG_node_labels.txt:6: label 100000 would make the one-hot encoding 100001 "
     r"columns wide for 8 distinct labels"),
    ("node_labels", lambda t: _replace_line(t, 6, "nan"),
     r"MUTAG_node_labels.txt:6: 'nan' is not a finite number"),
    # PyG reads every line as a row (int('') failed, naming no file); numpy skips empty
    # lines, so the line numbers below would be off by one without this check
    ("A", lambda t: _replace_line(t, 101, "\n" + t.splitlines()[100]),
     r"MUTAG_A.txt:101: the line is empty"),
    ("graph_indicator", lambda t: t + "\n",
     r"MUTAG_graph_indicator.txt:3372: the line is empty"),
    # endpoints in 1..N that PyG cut into graph-local ids outside their graph: the run
    # failed later naming node -17 or 29 of "nodes 0..16", and no file
    ("A", lambda t: _replace_line(t, 1, "1, 30"),
     r"MUTAG_A.txt:1: edge \[1, 30\] joins graph 1 to graph 2"),
    ("A", lambda t: _replace_line(t, 1, "1.5, 2"),
     r"MUTAG_A.txt:1: edge \[1.5, 2.0\] names a non-integer node"),
    ("graph_labels", lambda t: _replace_line(t, 3, "-1.5"),
     r"MUTAG_graph_labels.txt:3: graph label \[-1.5\] is not an integer"),
    # PyG's reader failed on these with an IndexError naming no file
    ("A", lambda t: "", r"MUTAG_A.txt is empty: PyG's TUDataset cannot read a set with no "
                        r"edge at all \(single graphs without edges are fine\)"),
    ("graph_indicator", lambda t: "", r"MUTAG_graph_indicator.txt is empty: .* no node"),
    ("graph_indicator", lambda t: "1\n" * len(t.splitlines()),
     r"MUTAG_graph_indicator.txt: every node is in graph 1: a graph classification set "
     r"needs more than one graph"),
])
def test_garbled_tu_lines_are_named(data_dir, tmp_path, file, mutate, match):
    root = _copy(data_dir, tmp_path, "TUDataset/MUTAG")
    f = root / f"TUDataset/MUTAG/raw/MUTAG_{file}.txt"
    f.write_text(mutate(f.read_text()))
    with pytest.raises(DatasetFormatError, match=match) as err:
        load_graph_dataset("MUTAG", root, tmp_path / "cache", download=False)
    assert "usecols" not in str(err.value)  # numpy's advice, not the fix for a bad file


def test_truncated_planetoid_test_index_is_named(data_dir, tmp_path):
    # it still parses (test ids lost, one cut in two): PyG would load a scrambled Cora
    root = _copy(data_dir, tmp_path, "Planetoid/Cora")
    f = root / "Planetoid/Cora/raw/ind.cora.test.index"
    f.write_bytes(f.read_bytes()[:f.stat().st_size // 2])
    with pytest.raises(DatasetFormatError, match=r"2708 nodes and a 140/500/\d+ train/val/"
                                                 r"test split, expected 2708 and 140/500/"
                                                 r"1000(.|\n)*ind.cora.test.index"):
        load_node_dataset("Cora", "public", root, tmp_path / "cache", download=False)
    # what PyG built from the bad file is not kept: the original file loads again
    assert not (tmp_path / "cache" / "Planetoid" / "Cora" / "processed").exists()
    shutil.copyfile(data_dir / "Planetoid/Cora/raw/ind.cora.test.index", f)
    assert load_node_dataset("Cora", "public", root, tmp_path / "cache",
                             download=False).data.test_mask.sum() == 1000


def test_one_missing_planetoid_file_is_the_one_named(data_dir, tmp_path, monkeypatch):
    import torch_geometric.datasets.planetoid as planetoid

    def offline(*a, **k):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(planetoid.Planetoid, "download", offline)
    root = _copy(data_dir, tmp_path, "Planetoid/Cora")
    (root / "Planetoid/Cora/raw/ind.cora.graph").unlink()
    with pytest.raises(MissingRawFilesError, match="ind.cora.graph(.|\n)*tried and failed"
                       ) as err:
        load_node_dataset("Cora", "public", root, tmp_path / "cache", download=True)
    assert "ind.cora.x" not in str(err.value)


def test_corrupt_planetoid_file_is_named(data_dir, tmp_path):
    root = _copy(data_dir, tmp_path, "Planetoid/Cora")
    bad = root / "Planetoid/Cora/raw/ind.cora.tx"
    bad.write_bytes(b"garbage, not a pickle")
    with pytest.raises(DatasetFormatError, match="ind.cora.tx"):
        load_node_dataset("Cora", "public", root, tmp_path / "cache", download=False)
    # files that unpickle but do not fit together (140 test rows for 1000 test ids)
    shutil.copyfile(root / "Planetoid/Cora/raw/ind.cora.x", bad)
    with pytest.raises(DatasetFormatError, match="Planetoid/Cora/raw.*do not fit together"):
        load_node_dataset("Cora", "public", root, tmp_path / "cache2", download=False)


def test_planetoid_edge_past_the_last_node_is_named(data_dir, tmp_path):
    import pickle

    root = _copy(data_dir, tmp_path, "Planetoid/Cora")
    f = root / "Planetoid/Cora/raw/ind.cora.graph"
    with f.open("rb") as fh:
        graph = pickle.load(fh, encoding="latin1")
    graph[0].append(5000)
    with f.open("wb") as fh:
        pickle.dump(graph, fh)
    with pytest.raises(DatasetFormatError, match=r"names node 5000 but the set has 2708 nodes"
                                                 r"(.|\n)*ind.cora.graph"):
        load_node_dataset("Cora", "public", root, tmp_path / "cache", download=False)


def test_corrupt_linqs_file_is_named(data_dir, tmp_path):
    root = _copy(data_dir, tmp_path, "LINQS/cora")
    cites = root / "LINQS/cora/cora.cites"
    cites.write_text(cites.read_text() + "35 999999999\n")
    with pytest.raises(DatasetFormatError, match="cora.cites:5430.*999999999"):
        load_node_dataset("Cora", "pygcn", root, tmp_path / "cache")
    content = root / "LINQS/cora/cora.content"
    original = content.read_bytes()
    content.write_text("31336 0 1 x Neural_Networks\n")
    with pytest.raises(DatasetFormatError, match="cora.content:1"):
        load_node_dataset("Cora", "pygcn", root, tmp_path / "cache")
    content.write_bytes(original.replace(b"\t0\t", b"\tnan\t", 1))
    with pytest.raises(DatasetFormatError, match="cora.content:1: a feature is NaN or inf"):
        load_node_dataset("Cora", "pygcn", root, tmp_path / "cache")
    # a byte that is not UTF-8 deep in the file (decoding runs ahead in 8 KiB chunks)
    lines = original.splitlines(keepends=True)
    content.write_bytes(b"".join(lines[:1000]) + b"\xff" + b"".join(lines[1000:]))
    with pytest.raises(DatasetFormatError, match="cora.content:1001: not UTF-8 text"):
        load_node_dataset("Cora", "pygcn", root, tmp_path / "cache")


def test_isolated_nodes_and_edgeless_graphs(mutag):
    from torch_geometric.data import Data

    from graphrep.views import DiffusionOptions, attach_graph_views

    g = Data(x=torch.ones(3, mutag.num_features), y=torch.tensor([0]),
             edge_index=torch.empty(2, 0, dtype=torch.long), num_nodes=3)
    import math

    # self-loops only: D^-1/2 (A + I) D^-1/2 = I; PPR of T = I: alpha / (1 - (1 - alpha))
    # = 1; heat exp(t (A D^-1 - I)) with A = 0: exp(-t) on the diagonal
    for kind, diag in (("ppr", 1.0), ("heat", math.exp(-5.0))):
        out = attach_graph_views([g], DiffusionOptions(kind=kind), progress=False)[0]
        for ei, ew, value in ((out.adj_edge_index, out.adj_edge_weight, 1.0),
                              (out.diff_edge_index, out.diff_edge_weight, diag)):
            assert torch.equal(ei, torch.arange(3).repeat(2, 1))
            assert torch.allclose(ew.double(), torch.full((3,), value, dtype=torch.float64))
    # an edgeless graph trains beside ordinary ones: finite loss, finite gradients
    from torch_geometric.loader import DataLoader

    from graphrep.models import MVGRLGraph

    graphs = attach_graph_views([g, *mutag.graphs[:3]], DiffusionOptions(), progress=False)
    b = next(iter(DataLoader(graphs, batch_size=4)))
    m = MVGRLGraph(mutag.num_features, 8, num_layers=2)
    loss = m(b.x, b.adj_edge_index, b.adj_edge_weight, b.diff_edge_index,
             b.diff_edge_weight, b.batch, 4)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.encoder_adj.parameters())


@pytest.mark.parametrize("name", ["MUTAG", "Cora"])
def test_concurrent_loads_share_one_cache(name, data_dir, tmp_path, monkeypatch):
    """Two jobs started together on an empty cache (two seeds' runs side by side) both load
    the dataset: staging raw files and PyG's processing are serialised per dataset. Copies
    are slowed so that unserialised loaders collide (same temporary name, one processes
    while the other replaces its raw files)."""
    import threading
    import time

    import graphrep.data as data_mod

    real_copy = shutil.copy2

    def slow_copy(src, dst, *args, **kwargs):
        time.sleep(0.05)
        copied = real_copy(src, dst, *args, **kwargs)
        time.sleep(0.05)
        return copied

    monkeypatch.setattr(data_mod.shutil, "copy2", slow_copy)
    load = ((lambda: load_graph_dataset(name, data_dir, tmp_path, download=False))
            if name == "MUTAG" else
            (lambda: load_node_dataset(name, "public", data_dir, tmp_path, download=False)))
    start, out, errors = threading.Barrier(2), [], []

    def job():
        start.wait()
        try:
            out.append(load())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=job) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    sizes = [len(d.graphs) if name == "MUTAG" else d.data.num_nodes for d in out]
    assert sizes == ([188, 188] if name == "MUTAG" else [2708, 2708])


def test_unusable_cache_is_named_before_staging(data_dir, tmp_path):
    """A cache where the dataset family's folder cannot be made (a file in its place)
    names the cache and the cause, not the (present) raw files."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "TUDataset").write_text("not a directory")
    with pytest.raises(RuntimeError, match="Cannot lock (.|\n)*MUTAG in the cache(.|\n)*"
                                           "FileExistsError(.|\n)*--cache-dir") as err:
        load_graph_dataset("MUTAG", data_dir, cache, download=False)
    assert not isinstance(err.value, MissingRawFilesError)


def test_failed_download_is_reported_as_such(tmp_path, monkeypatch):
    """Raw files absent and PyG's download failing (offline): the error lists the files and
    says the download was tried and why it failed, not "allow downloading"."""
    import torch_geometric.datasets.tu_dataset as tu

    def offline(*a, **k):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(tu.TUDataset, "download", offline)
    monkeypatch.delenv("GRAPHREP_DATA", raising=False)
    with pytest.raises(MissingRawFilesError, match="MUTAG_A.txt(.|\n)*tried and failed "
                                                   r"\(OSError: Network is unreachable") as err:
        load_graph_dataset("MUTAG", None, tmp_path / "cache", download=True)
    assert "allow downloading" not in str(err.value)


def test_degree_cap_puts_higher_degrees_in_the_last_column(data_dir, cache_dir):
    from torch_geometric.utils import to_undirected

    ds = load_graph_dataset("MUTAG", data_dir, cache_dir, max_degree_cap=2)
    assert ds.num_features == 7 + 3  # labels, then degrees 0, 1 and ">= 2"
    deg = torch.cat([torch.bincount(to_undirected(g.edge_index, num_nodes=g.num_nodes)[0],
                                    minlength=g.num_nodes) for g in ds.graphs])
    assert int(deg.max()) > 2  # the cap bites
    x = torch.cat([g.x for g in ds.graphs])
    assert torch.equal(x[:, 7:].argmax(1), deg.clamp(max=2))
    assert torch.equal(x[:, 7:].sum(1), torch.ones(len(x)))


def test_negative_degree_cap_is_refused(mutag, data_dir, cache_dir):
    with pytest.raises(ValueError, match="max_degree_cap must be >= 0"):
        load_graph_dataset("MUTAG", data_dir, cache_dir, max_degree_cap=-1)
