"""Model parts: shapes, learning, determinism, a tiny end-to-end run."""
import json
from dataclasses import replace

import pytest
import torch
from torch_geometric.loader import DataLoader

from graphrep.encoders import GCNEncoder, GraphGCNEncoder
from graphrep.models import MVGRL, MVGRLGraph
from graphrep.subgraphs import (
    cut_subgraph_batch,
    prefers_dense,
    sample_node_subsets,
    sample_node_windows,
    view_as_dense,
    view_as_sparse,
)
from graphrep.train import NodeTrainConfig, train_node_model
from graphrep.views import DiffusionOptions, attach_graph_views, node_views


def _bench_options(*argv):
    """The RunOptions that ``graphrep bench ARGV`` builds."""
    from graphrep.cli import _options, build_parser

    return _options(build_parser().parse_args(["bench", *argv]))


def _written_before(config: dict, part: str, key: str) -> dict:
    """``config`` (a config.json dict) as written before option ``part.key`` existed."""
    return {**config, part: {k: v for k, v in config[part].items() if k != key}}


@pytest.fixture(scope="module")
def cora_views(cora):
    return node_views(cora.data.edge_index, cora.data.num_nodes,
                      DiffusionOptions(topk=32))


def test_gcn_encoder_shapes_and_split_forward():
    enc = GCNEncoder(10, 16)
    x, ei = torch.randn(5, 10), torch.tensor([[0, 1, 2], [1, 2, 3]])
    w = torch.rand(3)
    out = enc(x, ei, w)
    assert out.shape == (5, 16)
    assert torch.allclose(enc.propagate(enc.project(x), ei, w), out, atol=1e-6)
    both = enc.propagate(torch.cat([enc.project(x)] * 2, 1), ei, w)
    assert torch.allclose(both[:, 16:], out, atol=1e-6)


def test_graph_encoder_registers_and_trains_every_layer():
    enc = GraphGCNEncoder(7, 8, num_layers=3)
    assert len(list(enc.gcn.convs)) == 3
    x = torch.randn(6, 7)
    ei = torch.tensor([[0, 1, 3, 4], [1, 0, 4, 3]])
    batch = torch.tensor([0, 0, 0, 1, 1, 1])
    node, graph = enc(x, ei, torch.ones(4), batch, 2)
    assert node.shape == (6, 8) and graph.shape == (2, 24)
    graph.sum().backward()
    assert all(p.grad is not None for p in enc.parameters())


def test_graph_encoder_matches_dense_formula():
    """H^(l+1) = PReLU(S H^(l) W + b), graph readout = concat of per-layer node sums."""
    torch.manual_seed(0)
    enc = GraphGCNEncoder(5, 4, num_layers=2)
    x = torch.randn(5, 5)
    ei = torch.tensor([[0, 1, 1, 2, 3, 4, 0], [1, 0, 2, 1, 4, 3, 0]])
    w = torch.rand(7)
    batch = torch.tensor([0, 0, 0, 1, 1])
    node, graph = enc(x, ei, w, batch, 2)
    s = torch.zeros(5, 5)
    s[ei[1], ei[0]] = w  # row = target
    h, sums = x, []
    for conv, act in zip(enc.gcn.convs, enc.gcn.acts, strict=True):
        h = act(s @ (h @ conv.lin.weight.T) + conv.bias)
        sums.append(torch.stack([h[:3].sum(0), h[3:].sum(0)]))
    torch.testing.assert_close(node, h)
    torch.testing.assert_close(graph, torch.cat(sums, dim=1))


def test_subgraph_sampling(cora_views):
    subsets = sample_node_subsets(2708, 100, 3)
    assert subsets.shape == (3, 100)
    assert all(len(set(s.tolist())) == 100 for s in subsets)
    b = cut_subgraph_batch(subsets, [cora_views.adj, cora_views.diff], 2708)
    assert b.views[0].shape == (300, 300) and b.batch.tolist()[::100] == [0, 1, 2]
    full = view_as_sparse(cora_views.diff, 2708).to_dense()
    blk = b.views[1].to_dense()[100:200, 100:200]
    assert torch.allclose(blk, full[subsets[1]][:, subsets[1]])
    with pytest.warns(UserWarning, match="exceeds"):
        assert sample_node_subsets(10, 50, 2).shape == (2, 10)


def test_window_sampling():
    gen = torch.Generator().manual_seed(0)
    w = sample_node_windows(30, 10, 500, gen)
    assert w.shape == (500, 10)
    assert torch.equal(w - w[:, :1], torch.arange(10).expand(500, 10))  # contiguous
    starts = w[:, 0]
    assert starts.min() == 0 and starts.max() == 20  # every start in [0, N - s]
    assert torch.equal(sample_node_windows(7, 7, 2), torch.arange(7).expand(2, 7))
    with pytest.warns(UserWarning, match="exceeds"):
        assert torch.equal(sample_node_windows(5, 9, 1), torch.arange(5)[None])
    with pytest.raises(ValueError, match=">= 1"):
        sample_node_windows(5, 0, 1)


@pytest.mark.parametrize("subsets", [None, "windows"])
def test_training_draws_the_configured_subsets(cora, cora_views, monkeypatch, subsets):
    import graphrep.train as train_mod

    drawn = []
    cut = train_mod.cut_subgraph_batch
    monkeypatch.setattr(train_mod, "cut_subgraph_batch",
                        lambda sub, *a, **k: drawn.append(sub) or cut(sub, *a, **k))
    cfg = NodeTrainConfig(hidden_channels=16, epochs=3, sample_size=300, batch_size=2,
                          full_batch=False, subsets=subsets)
    m = MVGRL(cora.data.num_features, 16)
    train_node_model(m, cora.data.x, cora_views, cfg, seed=0, progress=False)
    assert len(drawn) == 3 and all(d.shape == (2, 300) for d in drawn)
    contiguous = [bool((torch.diff(row) == 1).all()) for d in drawn for row in d]
    assert all(contiguous) if subsets == "windows" else not any(contiguous)
    with pytest.raises(ValueError, match="'random' or 'windows'"):
        train_node_model(m, cora.data.x, cora_views, replace(cfg, subsets="bfs"),
                         seed=0, progress=False)
    with pytest.raises(ValueError, match="--no-full-batch"):
        train_node_model(m, cora.data.x, cora_views,
                         replace(cfg, subsets="windows", full_batch=True), seed=0,
                         progress=False)

def test_node_model_shapes(cora, cora_views):
    m = MVGRL(cora.data.num_features, 32)
    subsets = sample_node_subsets(2708, 50, 2)
    b = cut_subgraph_batch(subsets, [cora_views.adj, cora_views.diff], 2708)
    pos, neg = m(cora.data.x, b.nodes, b.nodes.flip(0), *b.views, b.batch, 2)
    assert pos.shape == neg.shape == (200,)
    emb = m.embed(cora.data.x, view_as_sparse(cora_views.adj, 2708),
                  view_as_sparse(cora_views.diff, 2708))
    assert emb.shape == (2708, 32)


def _train(cora, views, seed, epochs, hidden=64, sample=500, batch=2):
    torch.manual_seed(seed)
    m = MVGRL(cora.data.num_features, hidden)
    cfg = NodeTrainConfig(hidden_channels=hidden, epochs=epochs, sample_size=sample,
                          batch_size=batch, lr=1e-3, full_batch=False)
    res = train_node_model(m, cora.data.x, views, cfg, seed=seed, progress=False)
    emb = m.embed(cora.data.x, view_as_sparse(views.adj, 2708),
                  view_as_sparse(views.diff, 2708))
    return res, emb


def test_node_loss_decreases_on_cora(cora, cora_views):
    res, _ = _train(cora, cora_views, 0, 20, hidden=512, sample=2000, batch=1)
    assert res.losses[-1] < res.losses[0] - 0.05


def test_same_seed_same_embedding(cora, cora_views):
    _, a = _train(cora, cora_views, 3, 3)
    _, b = _train(cora, cora_views, 3, 3)
    _, c = _train(cora, cora_views, 4, 3)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_full_batch_training(cora, cora_views):
    cfg = NodeTrainConfig(hidden_channels=64, epochs=15, lr=1e-2, full_batch=True)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        m = MVGRL(cora.data.num_features, 64)
        res = train_node_model(m, cora.data.x, cora_views, cfg, seed=0,
                               progress=False)
        runs.append(m.embed(cora.data.x, view_as_sparse(cora_views.adj, 2708),
                            view_as_sparse(cora_views.diff, 2708)))
    assert res.losses[-1] < res.losses[0] - 0.05
    assert torch.equal(runs[0], runs[1])


def test_full_batch_step_equals_whole_graph_subset(cora, cora_views):
    """A full-batch step is the subgraph step with one subset = every node."""
    torch.manual_seed(0)
    m = MVGRL(cora.data.num_features, 16)
    n = 2708
    nodes, neg = torch.arange(n), torch.randperm(n)
    full = [view_as_sparse(v, n) for v in (cora_views.adj, cora_views.diff)]
    b = cut_subgraph_batch(nodes.view(1, -1), [cora_views.adj, cora_views.diff], n)
    zeros = torch.zeros(n, dtype=torch.long)
    p1, n1 = m(cora.data.x, nodes, neg, *full, zeros, 1)
    p2, n2 = m(cora.data.x, b.nodes, neg, *b.views, b.batch, 1)
    assert torch.allclose(p1, p2, atol=1e-5) and torch.allclose(n1, n2, atol=1e-5)


def test_graph_model_shapes_and_loss(mutag):
    graphs = attach_graph_views(mutag.graphs[:8], DiffusionOptions(), progress=False)
    data = next(iter(DataLoader(graphs, batch_size=8)))
    m = MVGRLGraph(mutag.num_features, 16, num_layers=2)
    loss = m(data.x, data.adj_edge_index, data.adj_edge_weight,
             data.diff_edge_index, data.diff_edge_weight, data.batch, 8)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in m.encoder_adj.parameters())
    emb = m.embed(data.x, data.adj_edge_index, data.adj_edge_weight,
                  data.diff_edge_index, data.diff_edge_weight, data.batch, 8,
                  projected=False)
    assert emb.shape == (8, 32)


def test_graph_embedding_through_the_head(mutag):
    """The default embedding is f_omega(h_G^adj) + f_omega(h_G^diff) (the
    release's embed), not f_omega of the sum: the head is not linear."""
    graphs = attach_graph_views(mutag.graphs[:8], DiffusionOptions(), progress=False)
    data = next(iter(DataLoader(graphs, batch_size=8)))
    torch.manual_seed(0)
    m = MVGRLGraph(mutag.num_features, 16, num_layers=3).eval()
    views = (data.x, data.adj_edge_index, data.adj_edge_weight,
             data.diff_edge_index, data.diff_edge_weight, data.batch, 8)
    _, g_a, _, g_d = m.encode(*views)
    head = m.embed(*views)
    assert head.shape == (8, 16)
    assert torch.allclose(head, m.global_head(g_a) + m.global_head(g_d))
    assert not torch.allclose(head, m.global_head(g_a + g_d), atol=1e-3)
    assert torch.equal(m.embed(*views, projected=False), g_a + g_d)


@pytest.mark.parametrize("frozen", [None, True])
def test_frozen_encoders_ablation_trains_the_heads_only(mutag, frozen):
    from graphrep.train import GraphTrainConfig, train_graph_model

    graphs = attach_graph_views(mutag.graphs[:32], DiffusionOptions(), progress=False)
    torch.manual_seed(0)
    m = MVGRLGraph(mutag.num_features, 16, num_layers=2)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    cfg = GraphTrainConfig(hidden_channels=16, epochs=2, batch_size=16,
                           frozen_encoders=frozen)
    train_graph_model(m, graphs, cfg, seed=0, progress=False)
    moved = {k for k, v in m.state_dict().items() if not torch.equal(v, before[k])}
    enc = {k for k in before if k.startswith("encoder_")}
    assert {k for k in before if k.startswith("global_head")} <= moved
    assert (moved & enc) == (set() if frozen else enc)


def test_tiny_end_to_end_mutag(data_dir, cache_dir, tmp_path, monkeypatch):
    from graphrep.cli import main

    out = tmp_path / "run"
    args = ["bench", "--dataset", "MUTAG", "--seeds", "0", "--epochs", "2",
            "--hidden", "16", "--data-dir", str(data_dir), "--cache-dir",
            str(cache_dir), "--out-dir", str(out), "--quiet"]
    assert main(args) == 0
    res = json.loads((out / "results.json").read_text())
    for key in ("dataset", "split", "protocol", "accuracy_mean", "accuracy_std",
                "seeds", "seconds", "peak_rss_mb"):
        assert key in res
    assert res["accuracy_mean"] > 50
    assert (out / "config.json").is_file() and (out / "metrics.jsonl").is_file()
    # --resume reuses the finished run, including the stored probe result
    stored = json.loads((out / "L2-B128-E2" / "seed_0" / "svc.json").read_text())
    assert stored["result"]["accuracy"] * 100 == pytest.approx(res["accuracy_mean"])
    import graphrep.experiment as experiment

    def no_probe(*a, **k):
        raise AssertionError("the stored probe result should have been reused")

    monkeypatch.setattr(experiment, "graph_accuracy", no_probe)
    assert main(args + ["--resume"]) == 0
    # an evaluation alone re-probes but keeps the training record
    before = json.loads((out / "results.json").read_text())
    assert main(["eval"] + args[1:]) == 0
    again = json.loads((out / "results.json").read_text())
    assert again["train"] == res["train"] and "L2-B128-E2/seed_0" in again["train"]
    assert again["train_seconds"] == before["train_seconds"]
    # the training process's recorded peak memory survives an evaluation-only process
    assert 0 < res["train"]["L2-B128-E2/seed_0"]["peak_rss_mb"] <= res["peak_rss_mb"]
    doctored = {k: {**v, "peak_rss_mb": 1e7} for k, v in again["train"].items()}
    (out / "results.json").write_text(json.dumps({**again, "train": doctored}))
    assert main(["eval"] + args[1:]) == 0
    peaks = json.loads((out / "results.json").read_text())
    assert peaks["peak_rss_mb"] == 1e7 and peaks["process_peak_rss_mb"] < 1e7
    # ... unless the embedding was written after that record (retrained since)
    import os

    later = (out / "results.json").stat().st_mtime + 10
    os.utime(out / "L2-B128-E2" / "seed_0" / "embedding.pt", (later, later))
    assert main(["eval"] + args[1:]) == 0
    stale = json.loads((out / "results.json").read_text())
    assert stale["train"] == {} and "train_seconds" not in stale
    # ... but refuses one trained with other options
    other = [a if a != "2" else "3" for a in args]
    assert main(other + ["--resume"]) == 2
    # a stored probe result is reused on a fresh checkout that kept only svc.json:
    # the same seed retrains the same embedding bit for bit, which the record is keyed by
    monkeypatch.setattr(experiment, "graph_accuracy", no_probe)
    seed_dir = out / "L2-B128-E2" / "seed_0"
    emb_before = torch.load(seed_dir / "embedding.pt", weights_only=False)["embedding"]
    for f in ("embedding.pt", "checkpoint.pt"):
        (seed_dir / f).unlink()
    assert main(args + ["--resume"]) == 0
    emb_after = torch.load(seed_dir / "embedding.pt", weights_only=False)["embedding"]
    assert torch.equal(emb_before, emb_after)
    stored = json.loads((seed_dir / "svc.json").read_text())
    assert stored["input_sha256"] == experiment.embedding_digest(emb_after)
    monkeypatch.undo()
    # another embedding under the same name is probed again
    probed = []
    monkeypatch.setattr(experiment, "graph_accuracy",
                        lambda *a, **k: probed.append(1) or stored["result"])
    torch.save({"embedding": emb_after + 1, "train": {}}, seed_dir / "embedding.pt")
    assert main(["eval"] + args[1:]) == 0 and probed == [1]
    torch.save({"embedding": emb_after, "train": {}}, seed_dir / "embedding.pt")
    assert main(["eval"] + args[1:]) == 0 and probed == [1, 1]
    monkeypatch.undo()



def test_probe_cache_keys_records_by_embedding_content(tmp_path):
    import os

    from graphrep.experiment import _cached, embedding_digest

    a, b = torch.arange(6.0).view(2, 3), torch.arange(6.0).view(2, 3)
    assert embedding_digest(a) == embedding_digest(b)
    assert embedding_digest(a) != embedding_digest(a.view(3, 2))  # shape counts
    assert embedding_digest(a) != embedding_digest(a.double())  # dtype counts
    b[1, 2] = 5.000001
    assert embedding_digest(a) != embedding_digest(b)

    inp, rec = tmp_path / "embedding.pt", tmp_path / "svc.json"
    inp.write_bytes(b"x")
    calls = []

    def compute():
        calls.append(1)
        return {"accuracy": 0.5}

    key = {"probe": "svc"}
    assert _cached(rec, key, "d1", inp, compute) == {"accuracy": 0.5} and len(calls) == 1
    assert _cached(rec, key, "d1", inp, compute) and len(calls) == 1  # same content
    _cached(rec, key, None, inp, compute)  # input absent: the record stands
    assert len(calls) == 1
    _cached(rec, key, "d2", inp, compute)  # other content
    assert len(calls) == 2
    _cached(rec, {"probe": "other"}, "d2", inp, compute)  # other settings
    assert len(calls) == 3
    _cached(rec, {"probe": "other"}, "d2", inp, compute, required=("folds",))
    assert len(calls) == 4
    # a record written before digests were kept stands while its input is not newer
    # (and gains the digest), and is recomputed once the input is newer
    rec.write_text(json.dumps({"key": key, "result": {"accuracy": 0.7}}))
    old = rec.stat().st_mtime
    os.utime(inp, (old - 10, old - 10))
    assert _cached(rec, key, "d3", inp, compute) == {"accuracy": 0.7} and len(calls) == 4
    assert json.loads(rec.read_text())["input_sha256"] == "d3"
    rec.write_text(json.dumps({"key": key, "result": {"accuracy": 0.7}}))
    os.utime(inp, (old + 10, old + 10))
    assert _cached(rec, key, "d3", inp, compute) == {"accuracy": 0.5} and len(calls) == 5

def test_cli_errors(capsys):
    from graphrep.cli import main

    assert main(["bench", "--dataset", "Coraa", "--quiet"]) == 2
    assert "Valid names" in capsys.readouterr().err
    assert main(["bench", "--dataset", "MUTAG", "--split", "pygcn"]) == 2
    assert main(["bench", "--dataset", "MUTAG", "--subsets", "windows"]) == 2
    assert "--subsets applies to node-level" in capsys.readouterr().err
    assert main(["bench", "--dataset", "Cora", "--graph-embedding", "head"]) == 2
    assert "--graph-embedding applies to graph-level" in capsys.readouterr().err
    assert main(["bench", "--dataset", "Cora", "--frozen-encoders"]) == 2
    assert "--frozen-encoders applies to graph-level" in capsys.readouterr().err


def test_graph_embedding_option(data_dir, cache_dir, tmp_path):
    from graphrep.cli import main
    from graphrep.experiment import RunOptions, _projected, training_signature
    from graphrep.train import GraphTrainConfig

    def opts(*argv):
        return _bench_options("--dataset", "MUTAG", *argv)

    assert opts().graph.embedding == "head" and opts().graph.frozen_encoders is None
    assert opts("--frozen-encoders").graph.frozen_encoders is True
    enc = opts("--graph-embedding", "encoder")
    assert enc.graph.embedding == "encoder"
    assert all(c.embedding == "encoder" for c in
               opts("--graph-embedding", "encoder", "--layers", "2", "8").graph_configs())
    # run dirs written before the option hold encoder readouts: they resume with
    # --graph-embedding encoder, and are refused under the new default
    plain = enc.to_json()
    before = _written_before(plain, "graph", "embedding")
    assert training_signature(before) == training_signature(plain)
    assert training_signature(before) != training_signature(opts().to_json())
    assert RunOptions.from_json(before).graph.embedding == "encoder"
    assert RunOptions.from_json(opts().to_json()).graph.embedding == "head"
    with pytest.raises(ValueError, match="'encoder' or 'head'"):
        _projected(GraphTrainConfig(embedding="heads"))
    # end to end: the stored embedding is the head's width, not L x hidden
    out = tmp_path / "head"
    assert main(["bench", "--dataset", "MUTAG", "--seeds", "0", "--epochs", "1",
                 "--hidden", "16", "--layers", "3",
                 "--data-dir", str(data_dir), "--cache-dir", str(cache_dir),
                 "--out-dir", str(out), "--quiet"]) == 0
    emb = torch.load(out / "L3-B128-E1" / "seed_0" / "embedding.pt",
                     weights_only=False)["embedding"]
    assert emb.shape == (188, 16)


def test_discriminator_init_option(data_dir, cache_dir, tmp_path, capsys):
    from graphrep.cli import main
    from graphrep.experiment import RunOptions, training_signature

    def opts(*argv):
        return _bench_options("--dataset", "Cora", *argv)

    assert opts().node.discriminator_init == "bilinear"
    old = opts("--discriminator-init", "xavier")
    assert old.node.discriminator_init == "xavier"
    # run dirs written before the option trained the wider init: they resume with
    # --discriminator-init xavier and are refused under the new default
    plain = old.to_json()
    before = _written_before(plain, "node", "discriminator_init")
    assert training_signature(before) == training_signature(plain)
    assert training_signature(before) != training_signature(opts().to_json())
    assert RunOptions.from_json(before).node.discriminator_init == "xavier"
    assert main(["bench", "--dataset", "MUTAG", "--discriminator-init", "xavier"]) == 2
    assert "--discriminator-init applies to node-level" in capsys.readouterr().err
    # end to end: the trained model starts from the chosen scale (lr 0 keeps it)
    for init, bound in (("bilinear", (6 / (16 * 16 + 16)) ** 0.5), ("xavier", (6 / 32) ** 0.5)):
        out = tmp_path / init
        assert main(["train", "--dataset", "Cora", "--seeds", "0", "--epochs", "1",
                     "--lr", "0", "--hidden", "16", "--discriminator-init", init,
                     "--data-dir", str(data_dir), "--cache-dir", str(cache_dir),
                     "--out-dir", str(out), "--quiet"]) == 0
        state = torch.load(out / "default" / "seed_0" / "checkpoint.pt",
                           weights_only=False)["model"]
        w = state["discriminator.weight"].abs().max()
        assert 0.9 * bound < w <= bound


def test_signature_ignores_the_other_levels_options(tmp_path):
    """A node-level run dir resumes whatever the graph options' defaults became (and
    the reverse): a default changed at one level must not lock out the other's runs."""
    from graphrep.experiment import _check_resumable, training_signature

    def cfg(*argv):
        return _bench_options(*argv).to_json()

    node = cfg("--dataset", "Cora")
    other = {**node, "graph": {**node["graph"], "embedding": "encoder", "num_layers": 8}}
    assert training_signature(other) == training_signature(node)
    _check_resumable(other, node, tmp_path)
    graph = cfg("--dataset", "MUTAG")
    other = {**graph, "node": {**graph["node"], "discriminator_init": "xavier"}}
    assert training_signature(other) == training_signature(graph)
    _check_resumable(other, graph, tmp_path)
    # while a change of the run's own level is still refused, naming the option
    changed = {**graph, "graph": {**graph["graph"], "num_layers": 8}}
    with pytest.raises(ValueError, match="graph.num_layers: 8 -> 2"):
        _check_resumable(changed, graph, tmp_path)


def test_subsets_option_reaches_the_node_config():
    from graphrep.experiment import training_signature

    def node(*argv):
        return _bench_options("--dataset", "Cora", *argv).node

    assert node().subsets is None and node("--subsets", "random").subsets is None
    windows = _bench_options("--dataset", "Cora", "--subsets", "windows")
    assert windows.node.subsets == "windows"
    # random subsets keep the signature of run dirs written before the option existed
    plain = _bench_options("--dataset", "Cora").to_json()
    before = _written_before(plain, "node", "subsets")
    assert training_signature(before) == training_signature(plain)
    assert training_signature(windows.to_json()) != training_signature(plain)


def test_resume_ignores_bookkeeping_options(tmp_path):
    from graphrep.experiment import _check_resumable

    old = {"dataset": "MUTAG", "graph": {"lr": 1e-3, "epochs": 20, "checkpoint_every": 5}}
    _check_resumable(old, {**old, "graph": {**old["graph"], "checkpoint_every": 1}}, tmp_path)
    with pytest.raises(ValueError, match=r"other training options \(graph: graph\.lr: "
                                         r"0\.001 -> 0\.01\)"):
        _check_resumable(old, {**old, "graph": {**old["graph"], "lr": 1e-2}}, tmp_path)


def test_resume_accepts_run_dirs_written_before_an_option_existed(tmp_path):
    from dataclasses import asdict

    from graphrep.experiment import _check_resumable
    from graphrep.views import DiffusionOptions

    new = asdict(DiffusionOptions(topk=32))
    old = {k: v for k, v in new.items() if k != "column_scale"}
    _check_resumable({"diffusion": old}, {"diffusion": new}, tmp_path)
    with pytest.raises(ValueError, match=r"diffusion\.column_scale: None -> minmax"):
        _check_resumable({"diffusion": old},
                         {"diffusion": {**new, "column_scale": "minmax"}}, tmp_path)
    # views cached before the option existed keep their file names (keys written then)
    assert DiffusionOptions().key() == "ppr-ee075b8e46"
    assert DiffusionOptions(topk=32).key() == "ppr-4029cb73c6"
    assert DiffusionOptions(topk=32, column_scale="minmax").key() != "ppr-4029cb73c6"


def test_node_diffusion_defaults_per_dataset():
    def diffusion(*argv):
        return _bench_options(*argv).diffusion

    cite = diffusion("--dataset", "citeseer")
    assert (cite.topk, cite.eps, cite.column_scale) == (None, 0.01, "minmax")
    # any explicit diffusion flag replaces the preset as a whole
    cite64 = diffusion("--dataset", "CiteSeer", "--topk", "64")
    assert (cite64.topk, cite64.eps, cite64.column_scale) == (64, None, None)
    plain = diffusion("--dataset", "CiteSeer", "--column-scale", "none")
    assert (plain.topk, plain.eps, plain.column_scale) == (64, None, None)
    # validated for PPR at alpha 0.2 only
    for other in (["--view", "heat"], ["--alpha", "0.15"]):
        d = diffusion("--dataset", "CiteSeer", *other)
        assert (d.topk, d.eps, d.column_scale) == (64, None, None)
    cora = diffusion("--dataset", "Cora")
    assert (cora.topk, cora.eps, cora.column_scale) == (64, None, None)
    assert diffusion("--dataset", "MUTAG").topk is None


def test_graph_probe_parallel_fits_give_the_same_result():
    from graphrep.evaluate import graph_accuracy, nested_config_selection

    g = torch.Generator().manual_seed(0)
    labels = torch.arange(60) % 2
    emb = torch.randn(60, 8, generator=g) + labels[:, None].float()
    assert graph_accuracy(emb, labels, n_jobs=2) == graph_accuracy(emb, labels)
    embs = [emb.numpy(), torch.randn(60, 8, generator=g).numpy()]
    assert (nested_config_selection(embs, labels.numpy(), n_jobs=2)
            == nested_config_selection(embs, labels.numpy()))


def test_eval_under_another_protocol_keeps_the_newest_training_record(data_dir, cache_dir,
                                                                      tmp_path):
    from graphrep.cli import main

    out = tmp_path / "run"
    common = ["--dataset", "MUTAG", "--epochs", "2", "--hidden", "8", "--data-dir",
              str(data_dir), "--cache-dir", str(cache_dir), "--out-dir", str(out), "--quiet"]
    assert main(["bench", *common, "--seeds", "0"]) == 0
    assert main(["eval", *common, "--seeds", "0", "--protocol", "paper"]) == 0
    # a seed trained later is recorded in results.json only, not in results_paper.json
    assert main(["bench", *common, "--seeds", "0", "1", "--resume"]) == 0
    assert main(["eval", *common, "--seeds", "0", "1", "--protocol", "paper"]) == 0
    honest = json.loads((out / "results.json").read_text())
    paper = json.loads((out / "results_paper.json").read_text())
    assert set(paper["train"]) == {"L2-B128-E2/seed_0", "L2-B128-E2/seed_1"}
    assert paper["train"] == honest["train"]
    assert paper["train_seconds"] == honest["train_seconds"]


@pytest.fixture(scope="module")
def dense_graph():
    """A 300-node random graph whose exact PPR view keeps every entry."""
    gen = torch.Generator().manual_seed(0)
    n = 300
    src = torch.randint(0, n, (1200,), generator=gen)
    dst = torch.randint(0, n, (1200,), generator=gen)
    ring = torch.arange(n)  # connected, so the diffusion has no zero entries
    ei = torch.cat([torch.stack([src, dst]), torch.stack([ring, (ring + 1) % n])], 1)
    ei = torch.cat([ei, ei.flip(0)], 1).unique(dim=1)
    ei = ei[:, ei[0] != ei[1]]
    x = torch.rand(n, 20, generator=gen)
    return x, node_views(ei, n, DiffusionOptions())


def test_dense_view_and_blocks_equal_the_sparse_ones(dense_graph, cora_views):
    _, views = dense_graph
    n = views.num_nodes
    assert prefers_dense(views.diff, n) and not prefers_dense(views.adj, n)
    assert not prefers_dense(cora_views.diff, 2708)  # top-32: 1.2% of the entries
    dense = view_as_dense(views.diff, n)
    torch.testing.assert_close(dense, view_as_sparse(views.diff, n).to_dense())
    subsets = sample_node_subsets(n, 50, 3, torch.Generator().manual_seed(1))
    sparse_b = cut_subgraph_batch(subsets, [views.adj, views.diff], n)
    dense_b = cut_subgraph_batch(subsets, [views.adj, dense], n)
    assert dense_b.views[1].shape == (3, 50, 50)
    torch.testing.assert_close(dense_b.views[0].to_dense(), sparse_b.views[0].to_dense())
    torch.testing.assert_close(torch.block_diag(*dense_b.views[1]),
                               sparse_b.views[1].to_dense())


def test_model_logits_equal_with_dense_blocks(dense_graph):
    x, views = dense_graph
    n = views.num_nodes
    torch.manual_seed(0)
    m = MVGRL(x.size(1), 16)
    subsets = sample_node_subsets(n, 80, 2, torch.Generator().manual_seed(2))
    neg = subsets.flip(1).reshape(-1)
    sparse_b = cut_subgraph_batch(subsets, [views.adj, views.diff], n)
    dense_b = cut_subgraph_batch(subsets, [view_as_dense(views.adj, n),
                                           view_as_dense(views.diff, n)], n)
    p1, n1 = m(x, sparse_b.nodes, neg, *sparse_b.views, sparse_b.batch, 2)
    p2, n2 = m(x, dense_b.nodes, neg, *dense_b.views, dense_b.batch, 2)
    torch.testing.assert_close(p1, p2, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(n1, n2, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("full_batch", [True, False])
def test_training_on_dense_views_follows_the_sparse_path(dense_graph, full_batch):
    """Views held dense (by default for a full-fill view, or asked for) train the
    same model as edge format, up to rounding."""
    x, views = dense_graph

    def run(dense_views):
        cfg = NodeTrainConfig(hidden_channels=32, epochs=8, lr=1e-2, sample_size=100,
                              batch_size=2, full_batch=full_batch, dense_views=dense_views)
        torch.manual_seed(0)
        # the wider init moves this small synthetic loss within 8 steps
        m = MVGRL(x.size(1), 32, discriminator_init="xavier")
        return train_node_model(m, x, views, cfg, seed=0, progress=False).losses

    dense, sparse = run(None), run(False)
    torch.testing.assert_close(torch.tensor(run(True)), torch.tensor(sparse),
                               rtol=1e-3, atol=1e-4)
    assert dense[-1] < dense[0]
    torch.testing.assert_close(torch.tensor(dense), torch.tensor(sparse),
                               rtol=1e-3, atol=1e-4)


def test_device_defaults_to_cuda_when_present(monkeypatch):
    def device(*argv):
        return _bench_options("--dataset", "MUTAG", *argv).device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device() == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device() == "cuda"
    assert device("--device", "cpu") == "cpu"
