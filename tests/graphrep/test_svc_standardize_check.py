"""experiments/svc_standardize_check.py: z-scoring judged by inner-CV fold preferences."""
import numpy as np
import pytest
import torch

from graphrep.evaluate import graph_accuracy
from tests.conftest import load_experiment

check = load_experiment("svc_standardize_check")


def test_inner_preferences_count_wins_losses_and_ties():
    raw = {"inner_scores": [0.8, 0.7, 0.9, 0.5]}
    scaled = {"inner_scores": [0.85, 0.7 + 1e-13, 0.85, 0.6]}
    assert check.inner_preferences(raw, scaled) == {"z_scored": 2, "raw": 1, "tied": 1}


def _graphs(n=60, d=6, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    x = rng.normal(size=(n, d)) + 1.5 * y[:, None]
    x[:, 0] *= 100.0  # one wide column: z-scoring changes the fit
    return x, y


def test_raw_record_is_the_default_graph_probe():
    x, y = _graphs()
    rec = check.fold_record(x, y, seed=3, standardize=False)
    ref = graph_accuracy(torch.from_numpy(x), torch.from_numpy(y), seed=3)
    assert rec["fold_accuracies"] == ref["fold_accuracies"]
    assert rec["inner_scores"] == ref["inner_scores"]


def _fake_run(monkeypatch, tmp_path, seeds=(0, 1)):
    x, y = _graphs()
    graphs = [type("G", (), {"y": torch.tensor([int(v)])}) for v in y]
    monkeypatch.setattr(check, "load_graph_dataset",
                        lambda *a, **k: type("DS", (), {"graphs": graphs}))
    monkeypatch.setattr(check, "load_file", lambda p: {"embedding": torch.from_numpy(x)})
    for s in seeds:
        (tmp_path / "L2-B128-E20" / f"seed_{s}").mkdir(parents=True)


def test_check_run_counts_every_fold_and_reads_test_folds_only_when_asked(monkeypatch,
                                                                          tmp_path):
    _fake_run(monkeypatch, tmp_path)
    out = check.check_run("MUTAG", tmp_path, with_test=False, data_dir=None)
    assert out["seeds"] == [0, 1] and out["config"] == "L2-B128-E20"
    assert sum(out["inner_preference"].values()) == 2 * 10  # 10 outer folds per seed
    assert "test_mean" not in out and all("test" not in r for r in out["per_seed"].values())
    # the wide column makes the two probes differ: both were run, not one twice
    scores = out["per_seed"][0]["inner_scores"]
    assert scores["raw"] != scores["z_scored"]
    out = check.check_run("MUTAG", tmp_path, with_test=True, data_dir=None)
    t = out["per_seed"][0]["test"]
    # the per-fold choice lies between the two probes' fold accuracies, fold by fold, so
    # its mean lies between theirs
    assert min(t["raw"], t["z_scored"]) - 1e-9 <= t["per_fold"] <= max(t["raw"],
                                                                       t["z_scored"]) + 1e-9


def test_a_run_of_several_configurations_is_refused(monkeypatch, tmp_path):
    _fake_run(monkeypatch, tmp_path)
    (tmp_path / "L8-B32-E20" / "seed_0").mkdir(parents=True)
    with pytest.raises(SystemExit, match="holds 2 configuration directories"):
        check.check_run("MUTAG", tmp_path, with_test=False, data_dir=None)
