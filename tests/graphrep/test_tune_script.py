"""experiments/mvgrl_tune.py: --set specs are checked before any configuration trains."""
import pytest

from tests.conftest import load_experiment


def test_set_specs_parse_and_refuse_unknown_choices():
    tune = load_experiment("mvgrl_tune")
    cfg = tune._parse("full_batch=1,disc=bilinear,prelu=shared,lr=5e-4")
    assert (cfg["full_batch"], cfg["disc"], cfg["prelu"], cfg["lr"]) == (1, "bilinear", "shared", 5e-4)
    assert cfg["topk"] == 64  # the rest stays at the defaults
    for spec, message in (("prelu=per-channel", "prelu='per-channel' is not one of channel, shared"),
                          ("disc=glorot", "disc='glorot' is not one of xavier, bilinear"),
                          ("view=katz", "view='katz' is not one of ppr, heat"),
                          ("topk", "is not key=value"), ("depth=2", "unknown key 'depth'"),
                          ("lr=fast", "lr='fast' is not a number")):
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
