"""The command line and run directories: options, resume, stored probe records."""
import json

import pytest
import torch


def _bench_options(*argv):
    """The RunOptions that ``graphrep bench ARGV`` builds."""
    from graphrep.cli import _options, build_parser

    return _options(build_parser().parse_args(["bench", *argv]))


def _written_before(config: dict, part: str, key: str) -> dict:
    """``config`` (a config.json dict) as written before option ``part.key`` existed."""
    return {**config, part: {k: v for k, v in config[part].items() if k != key}}


def test_tiny_end_to_end_mutag(data_dir, cache_dir, tmp_path, monkeypatch, capsys):
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
    assert res["accuracy_mean"] > 75  # majority class: 66.5% of MUTAG (89.4 here)
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
    # the record names how "auto" diffused the 188 graphs (<= 28 nodes: exactly)
    assert res["train"]["L2-B128-E2/seed_0"]["diffusion_methods"] == {"exact": 188}
    emb_file = out / "L2-B128-E2" / "seed_0" / "embedding.pt"
    stored_emb = torch.load(emb_file, weights_only=False)
    torch.save({**stored_emb, "train": {**stored_emb["train"], "peak_rss_mb": 1e7}},
               emb_file)
    assert main(["eval"] + args[1:]) == 0
    peaks = json.loads((out / "results.json").read_text())
    assert peaks["peak_rss_mb"] == 1e7 and peaks["process_peak_rss_mb"] < 1e7
    torch.save(stored_emb, emb_file)
    # the record comes from the embedding itself: with no results file left (a run
    # evaluated before its bench finished), the evaluation still reports its training
    (out / "results.json").unlink()
    assert main(["eval"] + args[1:]) == 0
    alone = json.loads((out / "results.json").read_text())
    assert alone["train"] == res["train"] and "train_seconds" not in alone
    assert alone["peak_rss_mb"] >= res["train"]["L2-B128-E2/seed_0"]["peak_rss_mb"]
    # an embedding written before embeddings held their record takes the results
    # file's, unless the embedding was written after that file (retrained since)
    import os

    legacy = torch.load(emb_file, weights_only=False)
    del legacy["train"]
    torch.save(legacy, emb_file)
    (out / "results.json").write_text(json.dumps(again))
    os.utime(emb_file, (0, 0))
    assert main(["eval"] + args[1:]) == 0
    old = json.loads((out / "results.json").read_text())
    assert old["train"] == res["train"] and old["train_seconds"] == before["train_seconds"]
    later = (out / "results.json").stat().st_mtime + 10
    os.utime(emb_file, (later, later))
    assert main(["eval"] + args[1:]) == 0
    stale = json.loads((out / "results.json").read_text())
    assert stale["train"] == {} and "train_seconds" not in stale
    # ... but refuses one trained with other options
    other = [a if a != "2" else "3" for a in args]
    capsys.readouterr()
    assert main(other + ["--resume"]) == 2
    assert "--resume:" in (err := capsys.readouterr().err) and "epochs: 2 -> 3" in err
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
    assert "--split applies to node-level" in capsys.readouterr().err
    assert main(["bench", "--dataset", "MUTAG", "--subsets", "windows"]) == 2
    assert "--subsets applies to node-level" in capsys.readouterr().err
    assert main(["bench", "--dataset", "Cora", "--graph-embedding", "head"]) == 2
    assert "--graph-embedding applies to graph-level" in capsys.readouterr().err
    assert main(["bench", "--dataset", "Cora", "--frozen-encoders"]) == 2
    assert "--frozen-encoders applies to graph-level" in capsys.readouterr().err


@pytest.mark.parametrize("dataset, args, message", [
    ("MUTAG", ["--epochs", "20", "-3"], "--epochs must be >= 0"),
    ("MUTAG", ["--batch-size", "1"], "--batch-size must be >= 2 at graph level"),
    ("Cora", ["--batch-size", "0"], "--batch-size must be >= 1, got 0"),
    ("MUTAG", ["--layers", "2", "0"], "--layers must be >= 1"),
    ("Cora", ["--seeds", "0", "-1"], "--seeds must be in [0, 2**32), got -1"),
    ("MUTAG", ["--seeds", str(2**32)], "--seeds must be in [0, 2**32), got 4294967296"),
    ("Cora", ["--alpha", "0"], "--alpha must be in (0, 1)"),
    ("Cora", ["--alpha", "1"], "--alpha must be in (0, 1)"),
    ("Cora", ["--t", "-1"], "--t must be > 0"),
    ("Cora", ["--topk", "-5"], "--topk must be >= 0"),
    ("Cora", ["--self-loop-weight", "0"], "--self-loop-weight must be > 0"),
    ("Cora", ["--push-eps", "0"], "--push-eps must be > 0"),
    ("Cora", ["--eps", "0"], "--eps must be > 0 (omit it to keep every nonzero entry)"),
    # settings that did nothing, yet were stored and then asked for again by eval/--resume
    ("Cora", ["--view", "heat", "--alpha", "0.5"], "drop them with --view heat"),
    ("Cora", ["--t", "3"], "--t sets the heat-kernel view: drop it with --view ppr"),
    ("Cora", ["--heat-transition", "sym"],
     "--heat-transition sets the heat-kernel view: drop it with --view ppr"),
    ("MUTAG", ["--sample-size", "100"], "--sample-size applies to node-level datasets only"),
    ("MUTAG", ["--full-batch"], "--full-batch applies to node-level datasets only"),
    ("Cora", ["--patience", "0"], "--patience must be >= 1"),
    ("Cora", ["--hidden", "0"], "--hidden must be >= 1"),
    ("MUTAG", ["--probe-jobs", "0"], "--probe-jobs must be >= 1"),
    ("Cora", ["--seeds", "0", "0"], "--seeds lists 0 more than once"),
    ("MUTAG", ["--layers", "2", "4", "2"], "--layers lists 2 more than once"),
    ("Cora", ["--threads", "-2"], "--threads must be >= 1"),
])
def test_out_of_range_options_are_rejected_before_loading(dataset, args, message, capsys,
                                                           monkeypatch):
    import graphrep.experiment as experiment
    from graphrep.cli import main

    def no_run(*a, **k):
        raise AssertionError("nothing should run")

    monkeypatch.setattr(experiment, "bench", no_run)
    monkeypatch.setattr(experiment, "train_runs", no_run)
    assert main(["bench", "--dataset", dataset, *args, "--quiet"]) == 2
    assert message in capsys.readouterr().err


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
        # the training record names the diffusion "auto" ran (Cora: 2708 nodes, exact)
        record = torch.load(out / "default" / "seed_0" / "embedding.pt",
                            weights_only=False)["train"]
        assert record["diffusion_method"] == "exact"


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
    # a dataset of the other level is named as such (its signature lacks the run's level
    # keys: this was a KeyError), and alone: the other differences follow from it
    for old, new, names in ((graph, node, "MUTAG -> Cora"), (node, graph, "Cora -> MUTAG")):
        with pytest.raises(ValueError) as err:
            _check_resumable(old, new, tmp_path)
        assert f"other training options (dataset: {names}: the run's -> given)" in str(err.value)


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
    with pytest.raises(ValueError, match=r"other training options \(graph\.lr: "
                                         r"0\.001 -> 0\.01: the run's -> given\)"):
        _check_resumable(old, {**old, "graph": {**old["graph"], "lr": 1e-2}}, tmp_path)


def test_full_batch_left_to_graph_size_resumes_under_the_flag_that_names_it(tmp_path):
    """A node-level run written with full_batch None trained by graph size (full batch up to
    5000 nodes): resuming it with --full-batch is the same run, with --no-full-batch not.
    Cora's public split has trained on one random subgraph per step by default since
    session 34, so its earlier full-batch runs resume under --full-batch."""
    from graphrep.experiment import _check_resumable

    node = {"lr": 1e-3, "epochs": 100, "full_batch": None}
    for dataset in ("Cora", "CiteSeer"):
        old = {"dataset": dataset, "split": "public", "node": node}
        _check_resumable(old, {**old, "node": {**node, "full_batch": True}}, tmp_path)
        with pytest.raises(ValueError, match=r"node\.full_batch: True -> False"):
            _check_resumable(old, {**old, "node": {**node, "full_batch": False}}, tmp_path)
    assert _bench_options("--dataset", "Cora").node.full_batch is False  # public's own
    assert _bench_options("--dataset", "Cora", "--full-batch").node.full_batch is True
    assert _bench_options("--dataset", "Cora", "--split", "pygcn").node.full_batch is None
    assert _bench_options("--dataset", "CiteSeer").node.full_batch is None


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
    # written before push_eps existed
    old = {k: v for k, v in new.items() if k not in ("column_scale", "push_eps")}
    _check_resumable({"diffusion": old}, {"diffusion": new}, tmp_path)
    with pytest.raises(ValueError, match=r"diffusion\.push_eps: 1e-05 -> 0\.001"):
        _check_resumable({"diffusion": old}, {"diffusion": {**new, "push_eps": 1e-3}},
                         tmp_path)
    # written before heat_transition existed: those heat runs took A D^-1 ("col")
    heat = asdict(DiffusionOptions(kind="heat"))
    old = {k: v for k, v in heat.items() if k != "heat_transition"}
    _check_resumable({"diffusion": old}, {"diffusion": heat}, tmp_path)
    with pytest.raises(ValueError, match=r"diffusion\.heat_transition: col -> sym"):
        _check_resumable({"diffusion": old},
                         {"diffusion": {**heat, "heat_transition": "sym"}}, tmp_path)
    # views cached before the options existed keep their file names (keys written then)
    assert DiffusionOptions().key() == "ppr-ee075b8e46"
    assert DiffusionOptions(topk=32).key() == "ppr-4029cb73c6"
    assert DiffusionOptions(topk=32, column_scale="minmax").key() != "ppr-4029cb73c6"
    assert DiffusionOptions(topk=32, push_eps=1e-4).key() != "ppr-4029cb73c6"
    # push_eps names only views the push method built: not those of graphs "auto"
    # diffuses exactly (every TU set), nor the heat kernel's
    assert DiffusionOptions(topk=32, push_eps=1e-4).key(max_nodes=5000) == "ppr-4029cb73c6"
    assert DiffusionOptions(topk=32, push_eps=1e-4, method="push").key(max_nodes=50) \
        == DiffusionOptions(topk=32, push_eps=1e-4, method="push").key()
    assert DiffusionOptions(kind="heat", push_eps=1e-4).key(max_nodes=50000) \
        == DiffusionOptions(kind="heat").key()
    assert DiffusionOptions(kind="heat").key() == "heat-676ddd9107"  # as cached before
    assert DiffusionOptions(kind="heat", heat_transition="sym").key() \
        != DiffusionOptions(kind="heat").key()
    # graphs per method, "auto" resolved by size
    assert DiffusionOptions().methods([10, 6000, 7000, 9000]) == {"exact": 2, "power": 2}
    assert DiffusionOptions(method="power").methods([10, 20]) == {"power": 2}


def test_node_diffusion_defaults_per_dataset(capsys):
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
    # Cora's defaults are per split, each decided on its own validation nodes (session 34):
    # pygcn: top-256 (session 27) at teleport 0.15 (session 31, chosen at top-256); top-256
    # holds at 0.15 and at 0.2 (where it was chosen), not at other values
    cora = diffusion("--dataset", "Cora", "--split", "pygcn")
    assert (cora.topk, cora.eps, cora.column_scale, cora.alpha) == (256, None, None, 0.15)
    paper_alpha = diffusion("--dataset", "Cora", "--split", "pygcn", "--alpha", "0.2")
    assert (paper_alpha.alpha, paper_alpha.topk) == (0.2, 256)
    assert diffusion("--dataset", "Cora", "--split", "pygcn", "--alpha", "0.3").topk == 64
    # public (the default split): both tie on its own validation nodes, so top-64 at 0.2
    public = diffusion("--dataset", "Cora")
    assert (public.topk, public.eps, public.column_scale, public.alpha) == (64, None, None, 0.2)
    assert diffusion("--dataset", "Cora", "--alpha", "0.15").topk == 64
    # every other set and level keeps 0.2
    assert diffusion("--dataset", "CiteSeer").alpha == 0.2
    assert diffusion("--dataset", "MUTAG").alpha == 0.2
    # the heat view stores the paper's teleport, unused (its runs' caches and signatures)
    assert diffusion("--dataset", "Cora", "--view", "heat").alpha == 0.2
    assert diffusion("--dataset", "Cora", "--view", "heat", "--alpha", "0.2").alpha == 0.2
    with pytest.raises(ValueError, match="drop them with --view heat"):  # pygcn's PPR default
        diffusion("--dataset", "Cora", "--split", "pygcn", "--view", "heat", "--alpha", "0.15")
    assert diffusion("--dataset", "Cora", "--topk", "64").topk == 64
    # the heat view's own Cora default (session 28), at t = 5 only; CiteSeer's heat: top-64
    heat = diffusion("--dataset", "Cora", "--view", "heat")
    assert (heat.topk, heat.eps, heat.column_scale) == (256, None, None)
    assert diffusion("--dataset", "Cora", "--view", "heat", "--split", "pygcn").topk == 256
    assert diffusion("--dataset", "Cora", "--view", "heat", "--t", "3").topk == 64
    assert diffusion("--dataset", "Cora", "--view", "heat", "--topk", "64").topk == 64
    # ... for every transition (the paper's A D^-1 the default; the others swept at top-256)
    assert heat.heat_transition == "col"
    for transition in ("sym", "row"):
        other = diffusion("--dataset", "Cora", "--view", "heat", "--heat-transition", transition)
        assert (other.topk, other.heat_transition) == (256, transition)
    assert diffusion("--dataset", "PubMed").topk == 64
    # a preset dropped for --eps / --column-scale alone is said so (its top-k goes too)
    capsys.readouterr()
    assert diffusion("--dataset", "Cora", "--split", "pygcn", "--eps", "1e-4").topk == 64
    assert ("--eps 0.0001 replaces Cora's (pygcn split) PPR default (--topk 256) as a whole: "
            "the view keeps the top 64 entries per node") in capsys.readouterr().err
    assert diffusion("--dataset", "Cora", "--view", "heat", "--eps", "1e-4").topk == 64
    assert ("--eps 0.0001 replaces Cora's (public split) heat-kernel default (--topk 256) as a "
            "whole" in capsys.readouterr().err)
    diffusion("--dataset", "Cora", "--split", "pygcn", "--eps", "1e-4", "--topk", "256")
    diffusion("--dataset", "Cora", "--eps", "1e-4")  # public: no PPR preset to drop
    diffusion("--dataset", "PubMed", "--eps", "1e-4")
    assert capsys.readouterr().err == ""  # top-k chosen; no preset to drop
    assert diffusion("--dataset", "Cora", "--diffusion-method", "push",
                     "--push-eps", "1e-4").push_eps == 1e-4
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


def test_reddit_keeps_the_top_32_diffusion_entries_by_default():
    # its dense views would exceed the dense budget: the default must run as documented
    assert _bench_options("--dataset", "REDDIT-BINARY").diffusion.topk == 32
    assert _bench_options("--dataset", "REDDIT-BINARY", "--topk", "64").diffusion.topk == 64
    assert _bench_options("--dataset", "REDDIT-BINARY", "--topk", "0").diffusion.topk is None
    assert _bench_options("--dataset", "MUTAG").diffusion.topk is None
    # the committed REDDIT runs passed --topk 32: the default resumes them
    from graphrep.experiment import training_signature
    from tests.conftest import REPO

    run = json.loads((REPO / "experiments/results/mvgrl_runs/REDDIT-BINARY-ppr-s1-4/config.json")
                     .read_text())
    opts = _bench_options("--dataset", "REDDIT-BINARY", "--graph-embedding", "encoder")
    assert training_signature(opts.to_json()) == training_signature(run)


def test_device_defaults_to_cuda_when_present(monkeypatch):
    def device(*argv):
        return _bench_options("--dataset", "MUTAG", *argv).device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device() == device("--device", "auto") == "cpu"  # auto, as rlrep's (was refused)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert device() == device("--device", "auto") == "cuda"
    assert device("--device", "cpu") == "cpu"
    assert device("--device", "cuda:0") == "cuda:0"


@pytest.mark.parametrize("name, cuda, message", [
    ("cuda", 0, "CUDA is not available here; pass --device cpu"),
    ("cuda:0", 0, "CUDA is not available here; pass --device cpu"),
    ("cuda:1", 1, "has 1 CUDA device(s), cuda:0..cuda:0"),
    ("gpu", 1, "is not a device"),
    ("meta", 1, "runs on cpu or cuda"),
])
def test_unusable_device_is_rejected_before_loading(name, cuda, message, capsys, monkeypatch):
    import graphrep.experiment as experiment
    from graphrep.cli import main

    def no_run(*a, **k):
        raise AssertionError("nothing should run")

    monkeypatch.setattr(experiment, "bench", no_run)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
    assert main(["bench", "--dataset", "MUTAG", "--device", name, "--quiet"]) == 2
    assert message in capsys.readouterr().err


def test_fresh_run_clears_the_earlier_runs_outputs(data_dir, cache_dir, tmp_path, monkeypatch):
    """A run without --resume into a used directory, killed before it trains, leaves
    none of the earlier run's embeddings, probe records or results: otherwise a later
    --resume (checked against the new config.json) would take them as its own."""
    import graphrep.experiment as experiment
    from graphrep.cli import main

    out = tmp_path / "run"
    common = ["--dataset", "MUTAG", "--seeds", "0", "1", "--epochs", "2", "--hidden", "16",
              "--data-dir", str(data_dir), "--cache-dir", str(cache_dir),
              "--out-dir", str(out), "--quiet"]
    assert main(["bench", *common]) == 0
    seed_dirs = [out / "L2-B128-E2" / f"seed_{s}" for s in (0, 1)]
    assert all((d / "svc.json").is_file() and (d / "embedding.pt").is_file() for d in seed_dirs)
    (out / "L2-B128-E2" / "seed_0" / "notes.txt").write_text("the user's own file")

    def killed(*a, **k):
        raise RuntimeError("killed")

    before = sorted(p for p in out.rglob("*") if p.is_file())
    real_prepare = experiment._prepare
    monkeypatch.setattr(experiment, "_prepare", killed)  # bad data: nothing is deleted yet
    assert main(["train", *common, "--topk", "4"]) == 2
    assert sorted(p for p in out.rglob("*") if p.is_file()) == before
    monkeypatch.setattr(experiment, "_prepare", real_prepare)
    monkeypatch.setattr(experiment, "_train_group", killed)  # killed once training starts
    assert main(["train", *common, "--topk", "4"]) == 2
    assert json.loads((out / "config.json").read_text())["diffusion"]["topk"] == 4
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    # (the run directory's lock file stays, unlocked: see run_dir_lock; elapsed.json is
    # the new run's time so far)
    assert left == [".run.lock", "L2-B128-E2/seed_0/notes.txt", "config.json", "elapsed.json"]
    assert json.loads((out / "elapsed.json").read_text())["seconds"] < 60


def test_eval_refuses_options_the_run_was_not_trained_with(data_dir, cache_dir, tmp_path,
                                                           capsys):
    from graphrep.cli import main

    out = tmp_path / "run"
    common = ["--dataset", "MUTAG", "--seeds", "0", "--epochs", "2", "--hidden", "16",
              "--data-dir", str(data_dir), "--cache-dir", str(cache_dir),
              "--out-dir", str(out), "--quiet"]
    assert main(["train", *common]) == 0
    capsys.readouterr()
    assert main(["eval", *common, "--view", "heat"]) == 2
    err = capsys.readouterr().err
    assert "eval:" in err and "diffusion.kind: ppr -> heat" in err
    assert not (out / "results.json").exists()
    # the node level finds its embeddings under one name whatever the options: a pygcn
    # evaluation of a public-split run would pair them with labels in another node order
    node = ["--dataset", "Cora", "--seeds", "0", "--data-dir", str(data_dir),
            "--cache-dir", str(cache_dir), "--out-dir", str(tmp_path / "cora"), "--quiet"]
    (tmp_path / "cora").mkdir()
    (tmp_path / "cora" / "config.json").write_text(
        json.dumps(_bench_options(*node, "--split", "public").to_json()))
    assert main(["eval", *node, "--split", "pygcn"]) == 2
    assert "split: public -> pygcn" in capsys.readouterr().err


def test_resumed_training_keeps_one_metrics_line_per_epoch(tmp_path, capsys):
    from graphrep.experiment import _Metrics

    path = tmp_path / "metrics.jsonl"
    a, b = {"seed": 0, "config": "A"}, {"seed": 1, "config": "A"}
    killed = _Metrics(path)
    for e in range(7):  # a run that logged epochs 0..6, its last checkpoint after 4
        killed.write_epoch(a, {"epoch": e, "loss": float(e)})
    killed.write_epoch(b, {"epoch": 0, "loss": 9.0})
    killed.write({"seed": 0, "eval": "honest", "accuracy": 0.5})
    resumed = _Metrics(path)
    for e in (5, 6, 7):
        resumed.write_epoch(a, {"epoch": e, "loss": -float(e)})
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    epochs_a = [(r["epoch"], r["loss"]) for r in lines
                if r.get("config") == "A" and r.get("seed") == 0 and "epoch" in r]
    assert epochs_a == [(0, 0.0), (1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0),
                        (5, -5.0), (6, -6.0), (7, -7.0)]
    assert {"seed": 1, "config": "A", "epoch": 0, "loss": 9.0} in lines
    assert {"seed": 0, "eval": "honest", "accuracy": 0.5} in lines
    # a line cut short by a kill neither blocks the resume nor is dropped
    with open(path, "a") as f:
        f.write('{"seed": 0, "config": "A", "ep\n')
    _Metrics(path).write_epoch(a, {"epoch": 8, "loss": -8.0})
    assert '{"seed": 0, "config": "A", "ep' in path.read_text().splitlines()
    # a record cut short by a kill has no newline: the next record, appended, would join
    # it on one unreadable line; the fragment is dropped instead, with a note
    for write in (lambda m: m.write({"seed": 0, "eval": "paper", "accuracy": 0.6}),
                  lambda m: m.write_epoch(b, {"epoch": 1, "loss": 8.0})):
        before = path.read_text()
        with open(path, "a") as f:
            f.write('{"seed": 0, "config": "A", "epoch": 9, "lo')
        write(_Metrics(path))
        added = path.read_text()[len(before):]
        assert added.endswith("\n") and added.count("\n") == 1
        assert json.loads(added) in ({"seed": 0, "eval": "paper", "accuracy": 0.6},
                                     {"seed": 1, "config": "A", "epoch": 1, "loss": 8.0})
        assert "dropped the torn last line" in capsys.readouterr().err
    # a whole record that lost only its newline stays, and the next record starts a line
    with open(path, "a") as f:
        f.write('{"seed": 2, "eval": "paper", "accuracy": 0.7}')
    before = path.read_text()
    _Metrics(path).write({"seed": 3, "eval": "paper", "accuracy": 0.8})
    assert path.read_text() == before + '\n{"seed": 3, "eval": "paper", "accuracy": 0.8}\n'
    assert "dropped" not in capsys.readouterr().err


def test_class_too_small_for_the_probe_is_rejected_before_training(data_dir, tmp_path,
                                                                   capsys):
    """A class with fewer graphs than the probe's 10 outer folds fails at once, not
    after every seed has trained (the probe would raise only then)."""
    import shutil

    from graphrep.cli import main

    root = tmp_path / "data"
    shutil.copytree(data_dir / "TUDataset" / "MUTAG", root / "TUDataset" / "MUTAG")
    labels_file = root / "TUDataset" / "MUTAG" / "raw" / "MUTAG_graph_labels.txt"
    labels_file.chmod(0o644)
    labels = labels_file.read_text().split()
    rare = [i for i, y in enumerate(labels) if y == "-1"][6:]  # keep 6 graphs of class -1
    for i in rare:
        labels[i] = "1"
    labels_file.write_text("\n".join(labels) + "\n")
    out = tmp_path / "run"
    assert main(["bench", "--dataset", "MUTAG", "--seeds", "0", "--epochs", "1",
                 "--data-dir", str(root), "--cache-dir", str(tmp_path / "cache"),
                 "--out-dir", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "at least 10 graphs" in err and "{0: 6}" in err
    assert not list(out.glob("*/seed_*"))  # nothing trained


def test_second_job_on_a_run_directory_is_refused(data_dir, cache_dir, tmp_path, capsys):
    """A job given the --out-dir another job is writing is refused before it loads or
    deletes anything (it would overwrite the first's files); once the first ends, the
    directory is free again. Nested calls in one process (bench = train + eval) pass."""
    from filelock import FileLock

    from graphrep.cli import main

    out = tmp_path / "run"
    common = ["--dataset", "MUTAG", "--seeds", "0", "--epochs", "1", "--hidden", "8",
              "--data-dir", str(data_dir), "--cache-dir", str(cache_dir),
              "--out-dir", str(out), "--quiet"]
    out.mkdir()
    (out / "results.json").write_text("{}")  # an earlier run's file stays untouched
    other = FileLock(out / ".run.lock")  # another process's lock: its own descriptor
    other.acquire()
    try:
        for command in ("bench", "train", "eval"):
            assert main([command, *common]) == 2
            err = capsys.readouterr().err
            assert "in use by another process" in err and "--out-dir" in err
        assert (out / "results.json").read_text() == "{}"
        assert not (out / "config.json").exists()
    finally:
        other.release()
    assert main(["bench", *common]) == 0
    assert json.loads((out / "results.json").read_text())["seeds"] == [0]
    # evaluating a directory that does not exist reports it missing, creating nothing
    assert main(["eval", *common[:-3], "--out-dir", str(tmp_path / "none"), "--quiet"]) == 2
    assert not (tmp_path / "none").exists()


def test_resume_without_a_run_says_it_starts_fresh_and_refusal_leaves_no_directory(
        data_dir, cache_dir, tmp_path, monkeypatch, capsys):
    """--resume on a directory holding no run trains a fresh one and says so (scripts
    pass --resume to start or continue); a run refused before writing anything leaves
    no directory behind."""
    import graphrep.experiment as experiment
    from graphrep.cli import main

    out = tmp_path / "runs" / "new"
    common = ["--dataset", "MUTAG", "--seeds", "0", "--epochs", "1", "--hidden", "8",
              "--data-dir", str(data_dir), "--cache-dir", str(cache_dir),
              "--out-dir", str(out), "--quiet"]

    def refused(*a, **k):
        raise ValueError("refused")

    monkeypatch.setattr(experiment, "_prepare", refused)
    assert main(["train", *common]) == 2
    assert "refused" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    assert main(["train", *common, "--resume"]) == 0
    assert "no run to resume" in capsys.readouterr().err
    assert (out / "L2-B128-E1" / "seed_0" / "embedding.pt").is_file()
    assert main(["train", *common, "--resume"]) == 0  # a run to resume: no such note
    err = capsys.readouterr().err
    assert "no run to resume" not in err and "continues on" not in err
    # a run that trained on one device type and resumes on another is told so
    cfg = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**cfg, "device": "cuda"}))
    assert main(["train", *common, "--resume", "--device", "cpu"]) == 0
    assert "trained on cuda so far and continues on cpu" in capsys.readouterr().err
    # and so is one resumed with another torch thread count (the config records it)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["threads"] == 1
    (out / "config.json").write_text(json.dumps({**cfg, "threads": 7}))
    assert main(["train", *common, "--resume", "--threads", "1"]) == 0
    assert ("trained with 7 torch thread(s) so far and continues with 1"
            in capsys.readouterr().err)
    # eval of a run whose embedding is not there yet points to --resume (a train without
    # it would start the run over, deleting its checkpoints)
    (out / "L2-B128-E1" / "seed_0" / "embedding.pt").unlink()
    assert main(["eval", *common]) == 2
    err = capsys.readouterr().err
    assert "embedding.pt is missing" in err and "graphrep train --resume" in err


def test_settings_that_cannot_train_leave_the_earlier_run_intact(data_dir, cache_dir, tmp_path,
                                                                 capsys):
    """A fresh run refused for a setting that cannot train this graph (index windows on a
    graph that trains full batch: Cora's pygcn split) is refused before it deletes the
    earlier run's files."""
    from graphrep.cli import main

    out = tmp_path / "run"
    common = ["--dataset", "Cora", "--split", "pygcn", "--seeds", "0", "--epochs", "1",
              "--hidden", "8",
              "--data-dir", str(data_dir), "--cache-dir", str(cache_dir),
              "--out-dir", str(out), "--quiet"]
    assert main(["bench", *common]) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert main(["bench", *common, "--subsets", "windows"]) == 2
    assert "--no-full-batch" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_damaged_files_are_named_or_recomputed(data_dir, cache_dir, tmp_path, capsys):
    """A truncated embedding or checkpoint is named in the error (with the way out); a
    damaged probe record or cached view file is recomputed like a stale one."""
    from graphrep.cli import main
    from shared.checkpoint import load_file

    out, cache = tmp_path / "run", tmp_path / "cache"
    common = ["--dataset", "MUTAG", "--seeds", "0", "--epochs", "1", "--hidden", "8",
              "--data-dir", str(data_dir), "--cache-dir", str(cache),
              "--out-dir", str(out), "--quiet"]
    assert main(["bench", *common]) == 0
    first = json.loads((out / "results.json").read_text())["accuracy_mean"]
    seed = out / "L2-B128-E1" / "seed_0"
    (seed / "svc.json").write_text('{"key": ')
    (view,) = (cache / "views").glob("MUTAG-*.pt")
    view.write_bytes(view.read_bytes()[:64])
    assert main(["bench", *common, "--resume"]) == 0
    assert json.loads((out / "results.json").read_text())["accuracy_mean"] == first
    assert json.loads((seed / "svc.json").read_text())["result"]["accuracy"] * 100 == first
    assert load_file(view, weights_only=True)["structure_sha256"]  # rebuilt whole
    for name in ("embedding.pt", "checkpoint.pt"):
        (seed / name).write_bytes((seed / name).read_bytes()[:64])
    capsys.readouterr()
    assert main(["eval", *common]) == 2
    err = capsys.readouterr().err
    assert f"Cannot read {seed / 'embedding.pt'}" in err and "delete it" in err
    (seed / "embedding.pt").unlink()
    assert main(["bench", *common, "--resume"]) == 2
    assert f"Cannot read {seed / 'checkpoint.pt'}" in capsys.readouterr().err
    (out / "config.json").write_text("{")
    assert main(["eval", *common]) == 2
    err = capsys.readouterr().err
    assert f"Cannot read {out / 'config.json'}" in err and "without --resume" in err


@pytest.mark.parametrize("dataset, options, stop_at", [
    ("MUTAG", ["--epochs", "4"], 2),  # graph level: a checkpoint after every epoch
    ("Cora", ["--epochs", "30", "--no-full-batch", "--split", "pygcn"], 27),  # after step 25's
])
def test_run_interrupted_mid_training_resumes_to_the_uninterrupted_one(
        dataset, options, stop_at, data_dir, cache_dir, tmp_path, monkeypatch, capsys):
    """Ctrl-C during training, then the printed ``--resume``: the trainers' own state
    (optimizer, early stopping, the node sampler's or graph loader's generator) comes back
    from the checkpoint, so the embedding and every epoch's loss equal an uninterrupted
    run's."""
    import graphrep.experiment as experiment
    from graphrep.cli import main

    common = ["--dataset", dataset, *options, "--seeds", "0", "--hidden", "8",
              "--data-dir", str(data_dir), "--cache-dir", str(cache_dir), "--quiet"]
    straight, cut = tmp_path / "straight", tmp_path / "cut"
    assert main(["train", *common, "--out-dir", str(straight)]) == 0
    write_epoch = experiment._Metrics.write_epoch

    def ctrl_c(self, tag, record):
        if record["epoch"] == stop_at:
            raise KeyboardInterrupt
        write_epoch(self, tag, record)

    with monkeypatch.context() as m:
        m.setattr(experiment._Metrics, "write_epoch", ctrl_c)
        assert main(["train", *common, "--out-dir", str(cut)]) == 130
    assert f"--resume --out-dir {cut}" in capsys.readouterr().err
    assert not list(cut.rglob("seed_0/embedding.pt"))  # stopped before the end
    assert main(["train", "--resume", "--out-dir", str(cut), "--quiet"]) == 0
    (a,), (b,) = (list(d.rglob("seed_0/embedding.pt")) for d in (straight, cut))
    saved_a, saved_b = torch.load(a), torch.load(b)
    assert torch.equal(saved_a["embedding"], saved_b["embedding"])
    assert {k: saved_a["train"][k] for k in ("best_epoch", "best_loss", "epochs_run")} == \
        {k: saved_b["train"][k] for k in ("best_epoch", "best_loss", "epochs_run")}

    def losses(run):
        return [(r["epoch"], r["loss"]) for r in map(json.loads, (run / "metrics.jsonl")
                .read_text().splitlines()) if "epoch" in r and "loss" in r]
    assert losses(cut) == losses(straight) and len(losses(straight)) == int(options[1])


def test_interrupt_says_how_to_continue(tmp_path, monkeypatch, capsys):
    import graphrep.experiment as experiment
    from graphrep.cli import main

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(experiment, "train_runs", interrupted)
    assert main(["train", "--dataset", "Cora", "--out-dir", str(tmp_path), "--quiet"]) == 130
    # a command that runs as printed: --resume with --out-dir alone takes the run's options
    assert (f"continue with: graphrep train --resume --out-dir {tmp_path}"
            in capsys.readouterr().err)


@pytest.mark.parametrize("dataset", ["Cora", "MUTAG"])
def test_eps_that_keeps_no_diffusion_entry_is_refused(dataset, data_dir, cache_dir, tmp_path,
                                                      capsys):
    from graphrep.cli import main

    assert main(["train", "--dataset", dataset, "--eps", "5", "--seeds", "0", "--epochs", "1",
                 "--data-dir", str(data_dir), "--cache-dir", str(cache_dir),
                 "--out-dir", str(tmp_path), "--quiet"]) == 2
    assert "--eps 5.0 keeps none of the ppr diffusion's entries" in capsys.readouterr().err


def test_prelu_option_reaches_both_levels_and_old_runs_read_as_per_channel(tmp_path):
    from graphrep.experiment import RunOptions, _check_resumable, training_signature

    for dataset, part in (("Cora", "node"), ("MUTAG", "graph")):
        plain = _bench_options("--dataset", dataset)
        shared = _bench_options("--dataset", dataset, "--prelu", "shared")
        assert getattr(plain, part).prelu == "channel"
        assert getattr(shared, part).prelu == "shared"
        # a run dir written before the option trained per-channel slopes: it resumes
        # at the default and is refused with --prelu shared, naming the option
        before = _written_before(plain.to_json(), part, "prelu")
        assert RunOptions.from_json(before).to_json()[part]["prelu"] == "channel"
        assert training_signature(before) == training_signature(plain.to_json())
        _check_resumable(before, plain.to_json(), tmp_path)
        with pytest.raises(ValueError, match=f"{part}.prelu: channel -> shared"):
            _check_resumable(before, shared.to_json(), tmp_path)


def test_run_dir_without_config_is_neither_reused_nor_evaluated(data_dir, cache_dir, tmp_path,
                                                                capsys):
    """Outputs beside no config.json belong to no known run: --resume starts over (it
    said so but reused them), and eval refuses (it reported MUTAG's stored probe record
    as PTC_MR's accuracy)."""
    import torch

    from graphrep.cli import main

    out = tmp_path / "run"
    common = ["--seeds", "0", "--epochs", "1", "--data-dir", str(data_dir), "--cache-dir",
              str(cache_dir), "--out-dir", str(out), "--quiet"]
    assert main(["bench", "--dataset", "MUTAG", "--hidden", "8", *common]) == 0
    (out / "config.json").unlink()
    capsys.readouterr()
    assert main(["eval", "--dataset", "PTC_MR", "--hidden", "8", *common]) == 2
    assert f"eval: {out / 'config.json'} is missing" in capsys.readouterr().err
    assert main(["bench", "--dataset", "MUTAG", "--hidden", "16", *common, "--resume"]) == 0
    assert "starting a fresh one" in capsys.readouterr().err
    emb = torch.load(out / "L2-B128-E1" / "seed_0" / "embedding.pt", weights_only=False)
    assert emb["embedding"].shape == (188, 16)  # trained again, not the hidden-8 one


def test_embedding_of_another_dataset_is_refused(data_dir, cache_dir, tmp_path):
    from graphrep.experiment import probe_record
    from shared.checkpoint import atomic_save

    seed_dir = tmp_path / "seed_0"
    atomic_save({"embedding": torch.zeros(188, 4)}, seed_dir / "embedding.pt")
    with pytest.raises(ValueError, match=r"shape \(188, 4\), but the dataset has 344 graphs"):
        probe_record(seed_dir, 0, torch.zeros(344, dtype=torch.long))


def test_checkpoint_of_another_model_is_named(tmp_path):
    from graphrep.train import EarlyStopping, TrainResult, _load_checkpoint
    from shared.checkpoint import atomic_save

    path = tmp_path / "checkpoint.pt"
    atomic_save({"model": torch.nn.Linear(3, 2).state_dict(), "losses": [1.0]}, path)
    model = torch.nn.Linear(3, 4)
    with pytest.raises(ValueError, match=f"{path} holds another model's parameters"):
        _load_checkpoint(path, model, torch.optim.Adam(model.parameters()), EarlyStopping(5),
                         TrainResult(), torch.Generator(), 10)


def test_seconds_count_every_process_of_a_resumed_run(data_dir, cache_dir, tmp_path):
    """``results.json``'s ``seconds`` is the run's over all its processes (an earlier,
    killed one's kept in ``elapsed.json``); a fresh run in the directory starts at 0."""
    import shutil
    import time

    from graphrep.cli import main
    from graphrep.experiment import _Elapsed

    out = tmp_path / "run"
    common = ["--dataset", "MUTAG", "--epochs", "1", "--hidden", "8", "--data-dir",
              str(data_dir), "--cache-dir", str(cache_dir), "--out-dir", str(out), "--quiet"]
    assert main(["bench", *common, "--seeds", "0"]) == 0
    first = json.loads((out / "results.json").read_text())
    ledger = json.loads((out / "elapsed.json").read_text())["seconds"]
    assert first["seconds"] <= ledger and first["process_seconds"] <= first["seconds"]
    (out / "elapsed.json").write_text(json.dumps({"seconds": 1000.0}))  # a killed process's
    assert main(["bench", *common, "--seeds", "0", "1", "--resume"]) == 0
    resumed = json.loads((out / "results.json").read_text())
    assert resumed["seconds"] == pytest.approx(1000.0 + resumed["process_seconds"], abs=1.0)
    assert main(["bench", *common, "--seeds", "0"]) == 0  # fresh: the ledger restarts
    assert json.loads((out / "results.json").read_text())["seconds"] < 1000.0
    # the ledger is rewritten while the process runs, not only at its end
    ticking = _Elapsed(tmp_path, resuming=False, every=0.05)
    with ticking:
        ticking.begin()
        (tmp_path / "elapsed.json").unlink()
        time.sleep(0.5)
        assert (tmp_path / "elapsed.json").is_file()
    # a run directory removed under a live ledger is not made again (atomic writes would)
    gone = tmp_path / "gone"
    gone.mkdir()
    with _Elapsed(gone, resuming=False, every=0.05) as ledger:
        ledger.begin()
        shutil.rmtree(gone)
        time.sleep(0.3)
    assert not gone.exists()


def test_eval_defaults_to_the_seeds_the_run_was_trained_with(data_dir, cache_dir, tmp_path,
                                                             capsys):
    """Without --seeds, eval took the default seeds (0-4 graph level) and reported
    seed_2's embedding missing for a run trained with seeds 0 and 1."""
    from graphrep.cli import main

    common = ["--dataset", "MUTAG", "--epochs", "1", "--hidden", "8", "--data-dir",
              str(data_dir), "--cache-dir", str(cache_dir), "--out-dir", str(tmp_path / "r"),
              "--quiet"]
    assert main(["train", *common, "--seeds", "0", "1"]) == 0
    assert main(["eval", *common]) == 0
    assert json.loads((tmp_path / "r" / "results.json").read_text())["seeds"] == [0, 1]
    assert main(["eval", *common, "--seeds", "1"]) == 0  # a subset, when asked for
    assert json.loads((tmp_path / "r" / "results.json").read_text())["seeds"] == [1]


def test_eval_and_resume_take_the_runs_options_without_dataset(data_dir, cache_dir, tmp_path,
                                                               capsys):
    """Without --dataset, eval and --resume read every training option from --out-dir's
    config.json (they had to be typed again, and one left out was refused as a change)."""
    from graphrep.cli import main

    run = tmp_path / "r"
    dirs = ["--data-dir", str(data_dir), "--cache-dir", str(cache_dir), "--quiet"]
    assert main(["train", "--dataset", "MUTAG", "--epochs", "1", "--hidden", "8", "--seeds", "0",
                 "1", "--out-dir", str(run), *dirs]) == 0
    assert main(["eval", "--out-dir", str(run), *dirs]) == 0
    res = json.loads((run / "results.json").read_text())
    assert res["dataset"] == "MUTAG" and res["seeds"] == [0, 1]
    capsys.readouterr()
    assert main(["bench", "--resume", "--out-dir", str(run), "--seeds", "0", "1", "2", *dirs]) == 0
    assert json.loads((run / "results.json").read_text())["seeds"] == [0, 1, 2]
    assert "are not among --seeds" not in capsys.readouterr().err  # none dropped
    # seeds left out of a resume are said to leave its results (their embeddings stay)
    assert main(["bench", "--resume", "--out-dir", str(run), "--seeds", "1", "2", *dirs]) == 0
    assert json.loads((run / "results.json").read_text())["seeds"] == [1, 2]
    assert "seeds [0] of " in capsys.readouterr().err
    assert main(["bench", "--resume", "--out-dir", str(run), "--seeds", "0", "1", "2", *dirs]) == 0
    assert json.loads((run / "config.json").read_text())["graph"]["hidden_channels"] == 8
    capsys.readouterr()
    for argv, message in (
            (["eval", "--out-dir", str(run), "--epochs", "5"],
             "--epochs: without --dataset the training options are the run's own"),
            (["train", "--out-dir", str(run)], "without --dataset, train continues the run"),
            (["eval", "--out-dir", str(tmp_path / "none")], "config.json is missing: without "
                                                            "--dataset the options come from"),
            (["eval"], "--dataset is required (or --out-dir of a run")):
        assert main([*argv, "--quiet"]) == 2
        assert message in capsys.readouterr().err


def test_config_records_the_directories_taken_from_the_environment(data_dir, cache_dir, tmp_path,
                                                                   monkeypatch):
    """config.json recorded ``data_dir: null`` (and ``cache_dir: null``) when they came from
    GRAPHREP_DATA / GRAPHREP_CACHE, so the run did not say where its data came from and an
    eval without the variables looked elsewhere. Recorded resolved and absolute now, and
    reused after the flags and the variables (a run copied to another machine, or the
    reproduction audit there, reads that machine's directories)."""
    import shutil

    from graphrep.cli import main
    from graphrep.data import CACHE_ENV, DATA_ENV

    raw = tmp_path / "raw"
    shutil.copytree(data_dir / "TUDataset" / "MUTAG", raw / "TUDataset" / "MUTAG")
    monkeypatch.setenv(DATA_ENV, str(raw))
    monkeypatch.setenv(CACHE_ENV, str(cache_dir))
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--dataset", "MUTAG", "--epochs", "1", "--hidden", "8", "--seeds",
                 "0", "--out-dir", "run", "--quiet"]) == 0
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["data_dir"] == str(raw.resolve()) and cfg["cache_dir"] == str(cache_dir.resolve())
    # eval from elsewhere with neither variable set reads the recorded directories
    monkeypatch.delenv(DATA_ENV)
    monkeypatch.delenv(CACHE_ENV)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    opts = _stored_eval_options(tmp_path / "run")
    assert (opts.data_dir, opts.cache_dir) == (cfg["data_dir"], cfg["cache_dir"])
    assert main(["eval", "--out-dir", str(tmp_path / "run"), "--quiet"]) == 0
    # the variables win over what was recorded, the flags over both
    monkeypatch.setenv(DATA_ENV, str(data_dir))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "other-cache"))
    opts = _stored_eval_options(tmp_path / "run")
    assert (opts.data_dir, opts.cache_dir) == (str(data_dir.resolve()),
                                               str((tmp_path / "other-cache").resolve()))
    opts = _stored_eval_options(tmp_path / "run", "--data-dir", str(raw), "--cache-dir", "c")
    assert (opts.data_dir, opts.cache_dir) == (str(raw.resolve()), str(elsewhere / "c"))
    # neither variable: a recorded directory that is gone is not used (the default cache)
    monkeypatch.delenv(DATA_ENV)
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    shutil.rmtree(raw)
    shutil.copytree(cache_dir, tmp_path / "moved-cache")
    cfg["cache_dir"] = str(tmp_path / "gone-cache")
    (tmp_path / "run" / "config.json").write_text(json.dumps(cfg))
    opts = _stored_eval_options(tmp_path / "run")
    assert opts.data_dir is None
    assert opts.cache_dir == str((tmp_path / "home" / ".cache" / "graphrep").resolve())
    # the reproduction audit reads the same way
    from tests.conftest import load_experiment

    audit = load_experiment("reproduction_audit")
    monkeypatch.setenv(DATA_ENV, str(data_dir))
    audited = audit.audit_options(tmp_path / "run", 0, tmp_path / "scratch", None)
    assert (audited.data_dir, audited.cache_dir) == (str(data_dir), None)


def _stored_eval_options(run, *argv):
    """The RunOptions ``graphrep eval --out-dir RUN ARGV`` builds from the run's config.json."""
    from graphrep.cli import _stored_options, build_parser

    return _stored_options(build_parser().parse_args(["eval", "--out-dir", str(run), *argv]))
