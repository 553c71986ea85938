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


def test_raw_dir_is_copied_not_written(data_dir, cache_dir):
    assert (cache_dir / "Planetoid" / "Cora" / "raw" / "ind.cora.x").is_file()
    assert not (data_dir / "Planetoid" / "Cora" / "processed").exists()


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
    with pytest.raises(MissingRawFilesError, match="cora.content"):
        load_node_dataset("Cora", "pygcn", tmp_path / "none", tmp_path / "c")


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
    with pytest.raises(DatasetFormatError, match="MUTAG_graph_indicator.txt"):
        load_graph_dataset("MUTAG", root, tmp_path / "cache", download=False)


def test_corrupt_planetoid_file_is_named(data_dir, tmp_path):
    root = _copy(data_dir, tmp_path, "Planetoid/Cora")
    bad = root / "Planetoid/Cora/raw/ind.cora.tx"
    bad.write_bytes(b"garbage, not a pickle")
    with pytest.raises(DatasetFormatError, match="ind.cora.tx"):
        load_node_dataset("Cora", "public", root, tmp_path / "cache", download=False)


def test_corrupt_linqs_file_is_named(data_dir, tmp_path):
    root = _copy(data_dir, tmp_path, "LINQS/cora")
    cites = root / "LINQS/cora/cora.cites"
    cites.write_text(cites.read_text() + "35 999999999\n")
    with pytest.raises(DatasetFormatError, match="cora.cites:5430.*999999999"):
        load_node_dataset("Cora", "pygcn", root, tmp_path / "cache")
    content = root / "LINQS/cora/cora.content"
    content.write_text("31336 0 1 x Neural_Networks\n")
    with pytest.raises(DatasetFormatError, match="cora.content:1"):
        load_node_dataset("Cora", "pygcn", root, tmp_path / "cache")


def test_isolated_nodes_and_edgeless_graphs(mutag):
    from torch_geometric.data import Data

    from graphrep.views import DiffusionOptions, attach_graph_views

    g = Data(x=torch.ones(3, mutag.num_features), y=torch.tensor([0]),
             edge_index=torch.empty(2, 0, dtype=torch.long), num_nodes=3)
    out = attach_graph_views([g], DiffusionOptions(), progress=False)[0]
    assert out.adj_edge_index.size(1) == 3  # self-loops only
    assert out.diff_edge_index.size(1) == 3
