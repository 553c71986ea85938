"""experiments/svc_standardize_check.py: z-scoring judged by inner-CV fold preferences."""
import numpy as np
import pytest
import torch

from graphrep import evaluate
from graphrep.evaluate import graph_accuracy, select_per_fold
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
    calls = []
    real = evaluate.svc_cross_validation

    def spy(*args, **kwargs):
        calls.append((kwargs["seed"], kwargs["standardize"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluate, "svc_cross_validation", spy)
    out = check.check_run("MUTAG", tmp_path, with_test=False, data_dir=None)
    # per seed, both probes on the folds of that seed
    assert calls == [(0, False), (0, True), (1, False), (1, True)]
    assert out["seeds"] == [0, 1] and out["config"] == "L2-B128-E20"
    assert sum(out["inner_preference"].values()) == 2 * 10  # 10 outer folds per seed
    assert "test_mean" not in out and all("test" not in r for r in out["per_seed"].values())
    # the wide column makes the two probes differ: both were run, not one twice
    scores = out["per_seed"][0]["inner_scores"]
    assert scores["raw"] != scores["z_scored"]
    with_test = check.check_run("MUTAG", tmp_path, with_test=True, data_dir=None)
    assert with_test["inner_preference"] == out["inner_preference"]
    x, y = _graphs()
    raw, scaled = (check.fold_record(x, y, 0, standardize=z) for z in (False, True))
    assert with_test["per_seed"][0]["test"] == {
        "raw": 100 * np.mean(raw["fold_accuracies"]),
        "z_scored": 100 * np.mean(scaled["fold_accuracies"]),
        "per_fold": 100 * select_per_fold([raw, scaled])["accuracy"]}


def test_summary_pairs_seeds_against_the_raw_probe():
    rec = {"dataset": "MUTAG", "seeds": [0, 1, 2],
           "inner_preference": {"z_scored": 3, "raw": 25, "tied": 2},
           "test_mean": {"raw": 1.0, "z_scored": 1.0, "per_fold": 1.0},
           "test_std": {"raw": 0.0, "z_scored": 0.0, "per_fold": 0.0},
           "per_seed": {str(s): {"test": {"raw": 80.0, "z_scored": 80.0 + d,
                                          "per_fold": 80.0},
                                 "inner_scores": {"raw": [0.7, 0.8], "z_scored": [0.7, 0.9]}}
                        for s, d in enumerate((1.0, -2.0, 4.0))}}
    lines = check.summary([rec])
    assert "z-scored on 3 folds, raw on 25, tied 2" in lines[0]
    assert lines[1] == "  mean inner-CV accuracy, z-scored - raw: +5.00 points"
    # differences 1, -2, 4: mean +1.00, sample std 3.00
    assert "  z_scored - raw per seed: +1.00 +- 3.00 (higher on 2 seeds, lower on 1)" in lines


def test_a_run_of_several_configurations_is_refused(monkeypatch, tmp_path):
    _fake_run(monkeypatch, tmp_path)
    (tmp_path / "L8-B32-E20" / "seed_0").mkdir(parents=True)
    with pytest.raises(SystemExit, match="holds 2 configuration directories"):
        check.check_run("MUTAG", tmp_path, with_test=False, data_dir=None)
