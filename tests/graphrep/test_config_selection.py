"""Nested selection of the encoder configuration (honest graph-level protocol)."""
import json

import numpy as np
import pytest
import torch

from graphrep.evaluate import graph_accuracy, nested_config_selection, select_per_fold


def test_select_per_fold_picks_on_inner_scores_never_on_test_folds():
    a = {"inner_scores": [0.70, 0.60, 0.50], "fold_accuracies": [0.1, 0.2, 0.3]}
    b = {"inner_scores": [0.60, 0.65, 0.50], "fold_accuracies": [0.9, 0.8, 0.7]}
    r = select_per_fold([a, b])
    # fold 0: a (inner 0.70) despite b's better test accuracy; fold 1: b; fold 2: a tie,
    # which the two share (mean of their test accuracies), whatever their order
    assert r["chosen"] == [[0], [1], [0, 1]]
    assert r["accuracy"] == pytest.approx(np.mean([0.1, 0.8, 0.5]))
    assert r["fold_std"] == pytest.approx(np.std([0.1, 0.8, 0.5]))
    swapped = select_per_fold([b, a])
    assert swapped["chosen"] == [[1], [0], [0, 1]]
    assert swapped["accuracy"] == r["accuracy"] and swapped["fold_std"] == r["fold_std"]
    assert select_per_fold([b])["chosen"] == [[0], [0], [0]]


def test_select_per_fold_never_picks_a_nan_score():
    a = {"inner_scores": [float("nan"), 0.5], "fold_accuracies": [0.9, 0.9]}
    b = {"inner_scores": [0.4, 0.6], "fold_accuracies": [0.1, 0.2]}
    assert select_per_fold([a, b])["chosen"] == [[1], [1]]
    # no finite score on a fold: no basis to choose, so every configuration shares it
    c = {"inner_scores": [float("nan"), 0.6], "fold_accuracies": [0.3, 0.2]}
    r = select_per_fold([a, c])
    assert r["chosen"] == [[0, 1], [1]]
    assert r["accuracy"] == pytest.approx(np.mean([0.6, 0.2]))


def test_select_per_fold_rejects_records_it_cannot_compare():
    with pytest.raises(ValueError, match="re-run the probe"):
        select_per_fold([{"accuracy": 0.7, "fold_std": 0.01}])
    with pytest.raises(ValueError, match="one inner score and one test"):
        select_per_fold([{"inner_scores": [0.5, 0.6], "fold_accuracies": [0.5]}])
    with pytest.raises(ValueError, match="one inner score and one test"):
        select_per_fold([{"inner_scores": [0.5], "fold_accuracies": [0.5]},
                         {"inner_scores": [0.5, 0.6], "fold_accuracies": [0.5, 0.6]}])
    with pytest.raises(ValueError, match="different seeds"):
        select_per_fold([{"inner_scores": [0.5], "fold_accuracies": [0.5], "seed": 0},
                         {"inner_scores": [0.5], "fold_accuracies": [0.5], "seed": 1}])
    with pytest.raises(ValueError, match="at least one"):
        select_per_fold([])


def _search_configs_and_c_together(embeddings, labels, seed):
    """Reference: per outer fold, one inner grid search per configuration, best wins."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.svm import LinearSVC

    accs, chosen = [], []
    outer = StratifiedKFold(10, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for tr, te in outer.split(embeddings[0], labels):
            fits = []
            for k, emb in enumerate(embeddings):
                search = GridSearchCV(
                    LinearSVC(max_iter=1000, dual=True, random_state=seed),
                    {"C": [1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3]},
                    cv=StratifiedKFold(5, shuffle=True, random_state=seed))
                search.fit(emb[tr], labels[tr])
                fits.append((search.best_score_, k, search))
            top = max(score for score, _, _ in fits)
            best = [(k, search) for score, k, search in fits if abs(score - top) <= 1e-12]
            accs.append(np.mean([search.score(embeddings[k][te], labels[te])
                                 for k, search in best]))
            chosen.append([k for k, _ in best])
    return float(np.mean(accs)), chosen


@pytest.mark.parametrize("dim", [6, 60])  # 60 > 40 rows: the row-space path
def test_nested_selection_equals_searching_configs_and_c_together(dim):
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(40) % 2
    signal = torch.zeros(40, dim)
    signal[:, 0] = labels.float()
    # three configurations of close quality, so folds disagree on the best one
    embs = [(torch.randn(40, dim, generator=g) + shift * signal).numpy()
            for shift in (0.9, 0.8, 0.7)]
    choices = set()
    for seed in (0, 3):
        want_acc, want_chosen = _search_configs_and_c_together(embs, labels.numpy(), seed)
        got = nested_config_selection(embs, labels.numpy(), seed=seed)
        assert got["chosen"] == want_chosen
        assert got["accuracy"] == pytest.approx(want_acc)
        choices |= {tuple(c) for c in want_chosen}
    assert len(choices) > 1


def _drop_folds_and_count_probes(svc_file, monkeypatch) -> list:
    """Make ``svc_file`` look stored before folds were recorded; returns the list every
    later probe run appends to."""
    import graphrep.experiment as experiment

    stored = json.loads(svc_file.read_text())
    stored["result"] = {k: stored["result"][k] for k in ("accuracy", "fold_std")}
    svc_file.write_text(json.dumps(stored))
    calls = []

    def counting(emb, *a, **k):
        calls.append(emb.shape)
        return graph_accuracy(emb, *a, **k)

    monkeypatch.setattr(experiment, "graph_accuracy", counting)
    return calls


def test_sweep_selects_from_stored_probes(data_dir, cache_dir, tmp_path, monkeypatch):
    from graphrep.cli import main

    out = tmp_path / "sweep"
    args = ["bench", "--dataset", "MUTAG", "--seeds", "1", "0", "--epochs", "2", "--hidden", "8",
            "--layers", "1", "2", "--data-dir", str(data_dir), "--cache-dir",
            str(cache_dir), "--out-dir", str(out), "--quiet"]
    assert main(args) == 0
    res = json.loads((out / "results.json").read_text())
    names = ["L1-B128-E2", "L2-B128-E2"]
    accs = []
    for seed in (1, 0):
        records = [json.loads((out / n / f"seed_{seed}" / "svc.json").read_text())["result"]
                   for n in names]
        want = select_per_fold(records)
        assert [[names.index(n) for n in ks] for ks in res["chosen_configs"][str(seed)]] \
            == want["chosen"]
        accs.append(100 * want["accuracy"])
    assert res["accuracies"] == pytest.approx(accs)
    # a probe stored before folds were recorded is re-run once, the complete one is reused
    calls = _drop_folds_and_count_probes(out / names[0] / "seed_0" / "svc.json", monkeypatch)
    assert main(args + ["--resume"]) == 0
    assert len(calls) == 1
    again = json.loads((out / "results.json").read_text())
    assert again["accuracy_mean"] == pytest.approx(res["accuracy_mean"])
    # the paper protocol reads the same stored probes (and needs no folds)
    assert main(["eval", *args[1:], "--protocol", "paper"]) == 0
    assert len(calls) == 1
    # ... and reports the config with the best mean test accuracy, as the release selected
    paper = json.loads((out / "results_paper.json").read_text())
    means = {n: sum(a) / len(a) for n, a in paper["per_config"].items()}
    assert sorted(means) == names and means[names[0]] != means[names[1]]
    assert paper["selected_config"] == max(means, key=means.get)
    assert paper["accuracies"] == pytest.approx(  # % here, fractions per config
        [100 * a for a in paper["per_config"][paper["selected_config"]]])


def test_select_runs_chooses_among_views_per_fold(data_dir, cache_dir, tmp_path, monkeypatch,
                                                  capsys):
    from graphrep.cli import main

    common = ["--dataset", "MUTAG", "--seeds", "0", "1", "--epochs", "2", "--hidden", "8",
              "--data-dir", str(data_dir), "--cache-dir", str(cache_dir), "--quiet"]
    runs = {v: tmp_path / v for v in ("ppr", "heat")}
    for view, run in runs.items():
        assert main(["bench", *common, "--view", view, "--out-dir", str(run)]) == 0
    out = tmp_path / "select.json"
    where = ["--data-dir", str(data_dir), "--cache-dir", str(cache_dir)]
    assert main(["select", "--runs", str(runs["ppr"]), str(runs["heat"]), "--out", str(out),
                 *where]) == 0
    res = json.loads(out.read_text())
    names = ["ppr/L2-B128-E2", "heat/L2-B128-E2"]
    assert res["candidates"] == names and res["seeds"] == [0, 1]
    assert sum(res["folds_won"].values()) + res["folds_tied"] == 2 * 10
    for i, seed in enumerate((0, 1)):
        records = [json.loads((runs[v] / "L2-B128-E2" / f"seed_{seed}" / "svc.json")
                              .read_text())["result"] for v in ("ppr", "heat")]
        want = select_per_fold(records)
        assert res["chosen"][str(seed)] == [[names[k] for k in ks] for ks in want["chosen"]]
        assert res["accuracies"][i] == pytest.approx(100 * want["accuracy"])
        for name, rec in zip(names, records, strict=True):
            assert res["per_candidate"][name][i] == pytest.approx(100 * rec["accuracy"])
    # without --data-dir/--cache-dir, the directories the runs were trained with (it fell
    # back to the default cache, where this dataset need not be)
    import graphrep.selection as selection

    def no_default_cache():
        raise AssertionError("the default cache was used")

    monkeypatch.setattr(selection, "default_cache_dir", no_default_cache)
    assert main(["select", "--runs", str(runs["ppr"]), str(runs["heat"]), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["accuracies"] == pytest.approx(res["accuracies"])
    monkeypatch.undo()
    # the order of the runs does not matter (ties share their folds)
    assert main(["select", "--runs", str(runs["heat"]), str(runs["ppr"]), "--out",
                 str(out), *where]) == 0
    assert json.loads(out.read_text())["accuracies"] == pytest.approx(res["accuracies"])
    # a probe stored without its folds is re-run once; complete ones are reused
    calls = _drop_folds_and_count_probes(runs["heat"] / "L2-B128-E2" / "seed_1" / "svc.json",
                                         monkeypatch)
    assert main(["select", "--runs", str(runs["ppr"]), str(runs["heat"]), "--seeds", "1",
                 *where]) == 0
    assert len(calls) == 1
    assert f"{res['accuracies'][1]:.2f} +- 0.00 over 1 seeds" in capsys.readouterr().out
    # what it cannot compare is refused with the reason
    other = tmp_path / "other"
    other.mkdir()
    cfg = json.loads((runs["heat"] / "config.json").read_text())
    cases = [("different datasets", {"dataset": "PTC_MR"}, [runs["ppr"], other]),
             ("node-level", {"dataset": "Cora"}, [runs["ppr"], other]),
             ("no encoder seed", {"seeds": [7]}, [runs["ppr"], other]),
             ("repeat a directory or a name", {}, [runs["ppr"], runs["ppr"]]),
             ("at least two", {}, [runs["ppr"]]),
             ("not a graphrep run", {}, [runs["ppr"], tmp_path / "missing"])]
    for message, change, args in cases:
        (other / "config.json").write_text(json.dumps({**cfg, **change}))
        assert main(["select", "--runs", *map(str, args), *where]) == 2
        assert message in capsys.readouterr().err
    (other / "config.json").write_text(json.dumps({**cfg, "seeds": [0]}))
    assert main(["select", "--runs", str(runs["ppr"]), str(other), "--seeds", "0", "1",
                 *where]) == 2
    assert "were not all trained in" in capsys.readouterr().err
    # a seed given twice would count twice in the mean
    assert main(["select", "--runs", str(runs["ppr"]), str(other), "--seeds", "0", "0",
                 *where]) == 2
    assert "list 0 more than once" in capsys.readouterr().err
