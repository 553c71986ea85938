"""experiments/probe_selection_check.py: selection rules judged on validation halves."""
import numpy as np
import torch

from graphrep.evaluate import release_logreg_probe
from shared.probes import DEFAULT_LOGREG_C, logistic_regression_probe
from tests.conftest import load_experiment

check = load_experiment("probe_selection_check")


def _cand(c, scaled, proba):
    proba = np.asarray(proba, dtype=float)
    return check.Candidate("logreg", c, scaled, proba.argmax(1)[None], proba)


def test_accuracy_ties_go_to_the_first_candidate_and_log_loss_reads_confidence():
    y = np.array([0, 1, 0, 1])
    sure = [[0.9, 0.1], [0.1, 0.9], [0.9, 0.1], [0.1, 0.9]]
    unsure = [[0.6, 0.4], [0.4, 0.6], [0.6, 0.4], [0.4, 0.6]]
    cands = [_cand(0.01, True, unsure), _cand(0.1, True, sure)]
    rows = np.arange(4)
    assert check.choose(cands, "logreg", DEFAULT_LOGREG_C, "accuracy", y, rows) is cands[0]
    assert check.choose(cands, "logreg", DEFAULT_LOGREG_C, "log_loss", y, rows) is cands[1]
    # a grid leaves out the candidates it does not hold
    assert check.choose(cands, "logreg", (0.1,), "accuracy", y, rows) is cands[1]


def test_restarts_are_averaged_when_choosing_and_scoring():
    """A release-probe candidate right on both rows in 3 of 4 restarts (0.75) beats one
    right on both rows in 1 restart and on row 0 in the others (0.625)."""
    y = np.array([0, 1])
    good = check.Candidate("release", 0.0, False, np.array([[0, 1], [0, 1], [0, 1], [1, 0]]))
    worse = check.Candidate("release", 0.01, False, np.array([[0, 1], [0, 0], [0, 0], [0, 0]]))
    pick = check.choose([worse, good], "release", check.RELEASE_WD, "accuracy", y,
                        np.arange(2))
    assert pick is good


def test_identical_candidates_score_their_accuracy_on_every_halving():
    """Both halves of an even split are scored, so the mean over them is the accuracy on
    all validation rows, whatever the rule chooses among equal candidates."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 40)
    proba = rng.dirichlet(np.ones(3), 40)
    cands = [_cand(c, s, proba) for s in (True, False) for c in check.FINE_C]
    pred = np.tile(proba.argmax(1), (3, 1))  # three restarts, all alike
    cands += [check.Candidate("release", wd, False, pred) for wd in check.RELEASE_WD]
    res = check.held_out_accuracy(cands, y, halvings=3, seed=1)
    full = float((proba.argmax(1) == y).mean())
    assert set(res) == set(check.RULES)
    for v in res.values():
        assert abs(v - full) < 1e-12


def test_the_choice_is_scored_on_the_other_half():
    """Two validation rows, two candidates each right on one row only: whichever row a
    rule chooses on, its choice is wrong on the other, so held-out accuracy is 0 (scoring
    on the choosing half would give 1)."""
    y = np.array([0, 1])
    cands = [_cand(0.01, True, [[0.9, 0.1], [0.9, 0.1]]),
             _cand(0.1, True, [[0.1, 0.9], [0.1, 0.9]]),
             check.Candidate("release", 0.0, False, np.array([[0, 0]])),
             check.Candidate("release", 0.01, False, np.array([[1, 1]]))]
    assert check.held_out_accuracy(cands, y, halvings=2, seed=0) == dict.fromkeys(
        check.RULES, 0.0)


def test_accuracy_rule_picks_what_the_probe_picks():
    """The script's ``accuracy`` rule on all validation nodes is the honest probe's choice
    (same candidates, same order, same tie-break)."""
    rng = np.random.default_rng(3)
    n, d = 240, 16
    y = rng.integers(0, 3, n)
    x = rng.normal(size=(n, d)) + 0.6 * np.eye(3)[y] @ rng.normal(size=(3, d))
    x[:, :4] *= 50.0  # scales that make z-scoring matter
    train = np.zeros(n, bool)
    train[:60] = True
    val = np.zeros(n, bool)
    val[60:160] = True
    test = ~(train | val)
    cands = check.fit_candidates(x, y, train, val, test, check.FITTED_C, seed=0)
    pick = check.choose(cands, "logreg", DEFAULT_LOGREG_C, "accuracy", y[val],
                        np.arange(val.sum()))
    probe = logistic_regression_probe(x, y, train, test, val, seed=0, standardize="select")
    assert (pick.setting, pick.scaled) == (probe.C, probe.standardized)
    assert abs(float((pick.test_pred == y[test]).mean()) - probe.test_accuracy) < 1e-12


def test_release_candidates_are_the_release_probe():
    """Each weight decay's test predictions average to ``release_logreg_probe``'s figure,
    and its validation predictions do not depend on whether test rows are predicted too."""
    rng = np.random.default_rng(4)
    n, d = 150, 8
    y = rng.integers(0, 3, n)
    x = rng.normal(size=(n, d)) + np.eye(3)[y] @ rng.normal(size=(3, d))
    train, val = np.zeros(n, bool), np.zeros(n, bool)
    train[:40] = True
    val[40:140:2] = True  # interleaved with the test rows
    test = ~(train | val)
    with_test = check.release_candidates(x, y, train, val, test, seed=2, restarts=3)
    without = check.release_candidates(x, y, train, val, None, seed=2, restarts=3)
    t = torch.from_numpy
    for a, b in zip(with_test, without, strict=True):
        assert a.val_pred.shape == (3, 50) and a.test_pred.shape == (3, 60)
        np.testing.assert_array_equal(a.val_pred, b.val_pred)
        probe = release_logreg_probe(t(x).float(), t(y), t(train), t(test), restarts=3,
                                     seed=2, weight_decay=a.setting)
        assert abs(float((a.test_pred == y[test]).mean()) - probe) < 1e-6


def test_without_test_flag_the_test_mask_is_never_read(monkeypatch, tmp_path):
    """``check_run`` on a dataset object that has no test mask at all: it must finish,
    with no test predictions and no test figures."""
    rng = np.random.default_rng(5)
    n = 60
    y = torch.from_numpy(rng.integers(0, 2, n))
    train, val = torch.zeros(n, dtype=torch.bool), torch.zeros(n, dtype=torch.bool)
    train[:20], val[20:40] = True, True

    class NoTestMask:  # reading .test_mask raises AttributeError
        pass

    data = NoTestMask()
    data.y, data.train_mask, data.val_mask = y, train, val
    monkeypatch.setattr(check, "load_node_dataset",
                        lambda *a, **k: type("D", (), {"data": data}))
    for s in (0, 1):
        (tmp_path / "default" / f"seed_{s}").mkdir(parents=True)
    monkeypatch.setattr(check, "load_file", lambda p: {
        "embedding": torch.from_numpy(rng.normal(size=(n, 4)) + y[:, None].numpy())})
    out = check.check_run("Cora", "public", tmp_path, halvings=2, with_test=False,
                          data_dir=None, restarts=2)
    assert out["seeds"] == [0, 1] and "test_mean" not in out
    assert set(out["held_out_mean"]) == set(check.RULES)
    assert all("test_accuracy" not in pick for rec in out["per_seed"].values()
               for pick in rec["pick"].values())
    data.test_mask = ~(train | val)  # with the flag, it is read
    assert "test_mean" in check.check_run("Cora", "public", tmp_path, halvings=2,
                                          with_test=True, data_dir=None, restarts=2)
