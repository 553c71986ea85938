"""experiments/mvgrl_tune.py: --set specs are checked before any configuration trains."""
import pytest
import torch

from tests.conftest import load_experiment


def test_set_specs_parse_and_refuse_unknown_choices():
    tune = load_experiment("mvgrl_tune")
    cfg = tune._parse("full_batch=1,disc=bilinear,prelu=shared,lr=5e-4")
    assert (cfg["full_batch"], cfg["disc"], cfg["prelu"], cfg["lr"]) == (1, "bilinear", "shared", 5e-4)
    assert cfg["topk"] == 64  # the rest stays at the defaults
    assert (cfg["alpha"], tune._parse("alpha=0.1")["alpha"]) == (0.2, 0.1)
    assert (cfg["t"], tune._parse("view=heat,t=3")["t"]) == (5.0, 3.0)
    for spec, message in (("prelu=per-channel", "prelu='per-channel' is not one of channel, shared"),
                          ("disc=glorot", "disc='glorot' is not one of xavier, bilinear"),
                          ("view=katz", "view='katz' is not one of ppr, heat"),
                          ("topk", "is not key=value"), ("depth=2", "unknown key 'depth'"),
                          ("lr=fast", "lr='fast' is not a number"),
                          ("view=heat,alpha=0.1", "alpha sets the PPR view"),
                          ("t=3", "t sets the heat kernel; add view=heat"),
                          ("alpha=1", r"alpha=1 must lie in \(0, 1\)"),
                          ("alpha=0", r"alpha=0 must lie in \(0, 1\)"),
                          ("view=heat,t=0", "t=0 must be > 0"),
                          ("view=heat,t=nan", "t=nan must be > 0"),
                          # found before training, not after the first config (or never)
                          ("eval_at=x1", "eval_at='x1' is not step counts"),
                          ("epochs=1,eval_at=5", r"eval_at \[5\] must lie in 1..epochs \(1\)")):
        with pytest.raises(SystemExit, match=message):
            tune._parse(spec)


def test_a_rerun_skips_what_is_recorded(tmp_path, monkeypatch, capsys, data_dir):
    """Records already in --out are not trained and appended again (the table keeps the
    first record per key, so a second one would be hidden)."""
    import json
    import sys

    import graphrep.train

    tune = load_experiment("mvgrl_tune")
    out = tmp_path / "tune.jsonl"
    rec = {"dataset": "Cora", "split": "pygcn", "spec": "epochs=2,eval_at=1:2", "seed": 0,
           "loss": 0.5}
    out.write_text("".join(json.dumps({**rec, "epoch": e}) + "\n" for e in (1, 2)))
    before = out.read_text()
    monkeypatch.setattr(graphrep.train, "train_node_model",
                        lambda *a, **k: pytest.fail("a recorded configuration trained again"))
    monkeypatch.setenv("GRAPHREP_DATA", str(data_dir))
    monkeypatch.setattr(sys, "argv", ["mvgrl_tune.py", "--set", "epochs=2,eval_at=1:2",
                                      "--seeds", "0", "--out", str(out)])
    tune.main()
    assert "seed 0 is already in" in capsys.readouterr().out and out.read_text() == before


def test_bad_output_input_and_repeats_are_handled_before_training(tmp_path, monkeypatch, capsys,
                                                                  data_dir):
    """A missing --out folder or dataset is named before training (the folder was found
    after it); a torn last record (a killed run) is dropped, not a JSONDecodeError; a seed
    given twice trains and records once."""
    import json
    import sys

    import graphrep.train

    tune = load_experiment("mvgrl_tune")
    monkeypatch.setenv("GRAPHREP_DATA", str(data_dir))
    trained = []

    def fake_train(model, x, views, tc, seed, on_epoch, progress):
        trained.append(seed)
        on_epoch({"epoch": 0, "loss": 0.5})

    monkeypatch.setattr(graphrep.train, "train_node_model",
                        lambda *a, **k: pytest.fail("trained before the check"))
    for argv, message in ((["--out", str(tmp_path / "missing" / "t.jsonl")], "its folder does not exist"),
                          (["--dataset", "Coraa", "--out", str(tmp_path / "t.jsonl")], "Unknown dataset")):
        monkeypatch.setattr(sys, "argv", ["mvgrl_tune.py", "--set", "epochs=1,eval_at=1", *argv])
        with pytest.raises(SystemExit, match=message):
            tune.main()
    out = tmp_path / "t.jsonl"
    rec = {"dataset": "Cora", "split": "pygcn", "spec": "epochs=1,eval_at=1", "seed": 5,
           "epoch": 1, "loss": 0.5}
    out.write_text(json.dumps(rec) + "\n" + '{"dataset": "Cora", "spl')
    monkeypatch.setattr(graphrep.train, "train_node_model", fake_train)
    monkeypatch.setattr(sys, "argv", ["mvgrl_tune.py", "--set", "epochs=1,eval_at=1",
                                      "--seeds", "0", "0", "--out", str(out)])
    tune.main()
    assert trained == [0]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["seed"], r["epoch"]) for r in records] == [(5, 1), (0, 1)]
    assert "dropped the torn last line" in capsys.readouterr().out
    # a record without its key fields is damage, named before anything trains
    monkeypatch.setattr(graphrep.train, "train_node_model",
                        lambda *a, **k: pytest.fail("trained past a damaged record"))
    out.write_text(json.dumps(rec) + "\n" + json.dumps({"dataset": "Cora", "seed": 1}) + "\n")
    with pytest.raises(SystemExit, match=f"Cannot read {out}: line 2: not a sweep record "
                                         r"\(no split, spec, epoch\)"):
        tune.main()


@pytest.mark.parametrize("key, other, base", [("alpha", "alpha=0.5", ""),
                                              ("t", "view=heat,t=2", "view=heat")])
def test_diffusion_settings_reach_the_diffusion_and_its_view_cache(tmp_path, monkeypatch,
                                                                    data_dir, key, other, base):
    """Two configurations that differ only in PPR's alpha (or the heat kernel's t) diffuse
    twice, each with its own value, and train on different views (one view cached for both
    would sweep nothing)."""
    import sys

    import graphrep.train
    import graphrep.views

    tune = load_experiment("mvgrl_tune")
    monkeypatch.setenv("GRAPHREP_DATA", str(data_dir))
    built, trained = [], []
    real_node_views = graphrep.views.node_views

    def recording_node_views(edge_index, n, options):
        built.append(getattr(options, key))
        return real_node_views(edge_index, n, options)

    def fake_train(model, x, views, tc, seed, on_epoch, progress):
        trained.append(views.diff[1].clone())

    monkeypatch.setattr(graphrep.views, "node_views", recording_node_views)
    monkeypatch.setattr(graphrep.train, "train_node_model", fake_train)
    monkeypatch.setattr(sys, "argv", ["mvgrl_tune.py", "--set", f"{base},epochs=1,eval_at=1",
                                      "--set", f"{other},epochs=1,eval_at=1",
                                      "--out", str(tmp_path / "t.jsonl")])
    tune.main()
    assert built == {"alpha": [0.2, 0.5], "t": [5.0, 2.0]}[key] and len(trained) == 2
    assert trained[0].shape != trained[1].shape or not torch.equal(trained[0], trained[1])
