import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from shared.probes import logistic_regression_probe, svc_cross_validation


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return x[:600], y[:600]


def masks(n, seed=0):
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    tr, va, te = (np.zeros(n, bool) for _ in range(3))
    tr[perm[:200]], va[perm[200:300]], te[perm[300:]] = True, True, True
    return tr, va, te


def test_logreg_probe_learns_and_beats_noise(digits):
    x, y = digits
    tr, va, te = masks(len(y))
    real = logistic_regression_probe(torch.tensor(x), torch.tensor(y), tr, te, va)
    noise = logistic_regression_probe(np.random.default_rng(0).normal(size=x.shape), y, tr, te, va)
    assert real.test_accuracy > 0.9
    assert noise.test_accuracy < 0.3
    assert real.C in (0.01, 0.1, 1.0, 10.0, 100.0) and real.val_accuracy is not None


def test_probes_take_half_precision_embeddings(digits):
    """bfloat16 / float16 embeddings (autocast training) are probed as float32."""
    x, y = digits
    tr, va, te = masks(len(y))
    ref = logistic_regression_probe(torch.tensor(x).bfloat16().float(), y, tr, te, va)
    for dtype in (torch.bfloat16, torch.float16):
        res = logistic_regression_probe(torch.tensor(x).to(dtype), y, tr, te, va)
        assert res.test_accuracy == pytest.approx(ref.test_accuracy, abs=0.01)


def test_logreg_probe_never_reads_test_labels_when_choosing(digits):
    """C and z-scoring are chosen on the validation rows: scrambling the test rows'
    labels changes the test accuracy and nothing else."""
    x, y = digits
    tr, va, te = masks(len(y))
    scrambled = y.copy()
    scrambled[te] = np.random.default_rng(1).permutation(y[te])
    for standardize in ("select", True):
        a = logistic_regression_probe(x, y, tr, te, va, standardize=standardize)
        b = logistic_regression_probe(x, scrambled, tr, te, va, standardize=standardize)
        assert (a.C, a.standardized, a.val_accuracy) == (b.C, b.standardized, b.val_accuracy)
        assert b.test_accuracy < 0.3 < 0.9 < a.test_accuracy


def test_logreg_probe_is_deterministic_and_cv_selection_without_val(digits):
    """Without validation rows C is chosen by CV on the training rows: repeatable, and
    blind to the test labels (scrambling them moves the test accuracy only)."""
    x, y = digits
    tr, _, te = masks(len(y))
    a = logistic_regression_probe(x, y, tr, te, seed=3)
    b = logistic_regression_probe(x, y, tr, te, seed=3)
    assert a == b and a.val_accuracy is None
    scrambled = y.copy()
    scrambled[te] = np.random.default_rng(1).permutation(y[te])
    c = logistic_regression_probe(x, scrambled, tr, te, seed=3)
    assert (c.C, c.standardized) == (a.C, a.standardized)
    assert c.test_accuracy < 0.3 < 0.9 < a.test_accuracy


def test_svc_cv_chooses_c_from_grid_and_learns(digits):
    x, y = digits
    res = svc_cross_validation(x[:300], y[:300], n_folds=5, inner_folds=3, seed=0)
    assert len(res.fold_accuracies) == 5 and res.mean > 0.85
    assert len(res.chosen_C) == len(res.inner_scores) == 5
    assert set(res.chosen_C) <= {1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3}
    assert res.mean == pytest.approx(np.mean(res.fold_accuracies))
    assert res.std == pytest.approx(np.std(res.fold_accuracies))  # ddof 0, as released
    done = []  # the progress hook: called after each outer fold, results unchanged
    again = svc_cross_validation(x[:300], y[:300], n_folds=5, inner_folds=3, seed=0,
                                 on_fold=done.append)
    assert again.fold_accuracies == res.fold_accuracies
    assert done == [1, 2, 3, 4, 5]


def test_probe_errors(digits):
    x, y = digits
    tr, va, te = masks(len(y))
    with pytest.raises(ValueError, match="2-D"):
        logistic_regression_probe(x[:, 0], y, tr, te)
    with pytest.raises(ValueError, match="one entry per embedding"):
        logistic_regression_probe(x, y[:10], tr, te)
    with pytest.raises(ValueError, match="test_mask must be a bool mask"):
        logistic_regression_probe(x, y, tr, te[:5])
    with pytest.raises(ValueError, match="selects no sample"):
        logistic_regression_probe(x, y, tr, np.zeros(len(y), bool))
    bad = x.copy().astype(float)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        logistic_regression_probe(bad, y, tr, te)
    with pytest.raises(ValueError, match="fewer than n_folds"):
        svc_cross_validation(x[:20], y[:20], n_folds=10)


def test_logreg_probe_selects_standardisation_on_validation(digits):
    x, y = digits
    tr, va, te = masks(len(y))
    rng = np.random.default_rng(0)
    # digits at their own scale + 400 tiny noise columns: z-scoring blows the noise up to
    # the signal's scale, so the raw probe should win on validation
    x_noisy = np.hstack([x, 1e-3 * rng.normal(size=(len(y), 400))])
    fixed = {s: logistic_regression_probe(x_noisy, y, tr, te, va, standardize=s)
             for s in (True, False)}
    sel = logistic_regression_probe(x_noisy, y, tr, te, va, standardize="select")
    assert fixed[False].val_accuracy > fixed[True].val_accuracy
    assert sel.standardized is False and sel == fixed[False]
    # the default keeps z-scoring
    assert logistic_regression_probe(x, y, tr, te, va).standardized is True
    with pytest.raises(ValueError, match="standardize"):
        logistic_regression_probe(x, y, tr, te, va, standardize="maybe")


def test_svc_uses_the_dual_solver_even_with_more_rows_than_features(digits):
    # the release's LinearSVC() was dual; scikit-learn's "auto" would switch to the
    # (much slower at the iteration cap) primal solver here, 300 rows > 64 features
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.svm import LinearSVC

    x, y = digits[0][:300], digits[1][:300]
    res = svc_cross_validation(x, y, n_folds=3, inner_folds=3, c_grid=(0.1, 10.0), seed=0)
    outer = StratifiedKFold(3, shuffle=True, random_state=0)
    want = []
    for tr, te in outer.split(x, y):
        search = GridSearchCV(LinearSVC(max_iter=1000, dual=True, random_state=0),
                              {"C": [0.1, 10.0]},
                              cv=StratifiedKFold(3, shuffle=True, random_state=0))
        want.append(float(search.fit(x[tr], y[tr]).score(x[te], y[te])))
    assert res.fold_accuracies == want


def test_row_space_coordinates_keep_every_inner_product():
    from shared.probes import row_space_coordinates

    x = np.random.default_rng(0).normal(size=(30, 200))
    z = row_space_coordinates(x)
    assert z.shape == (30, 30)
    np.testing.assert_allclose(z @ z.T, x @ x.T, rtol=1e-10, atol=1e-9)
    # more rows than features: a rotation of the features themselves
    tall = x[:, :10]
    assert row_space_coordinates(tall).shape == (30, 10)
    np.testing.assert_allclose(row_space_coordinates(tall) @ row_space_coordinates(tall).T,
                               tall @ tall.T, rtol=1e-10, atol=1e-9)


def test_svc_on_row_space_coordinates_is_the_same_probe(digits, monkeypatch):
    # features outnumber samples (the 4096-d embeddings of 1000 graphs): the probe fits
    # on the rows' coordinates in their span, and must give what the raw features give,
    # one-vs-rest over 10 classes and at C large enough to stop at the iteration cap
    import shared.probes as probes

    x, y = digits[0][:150], digits[1][:150]
    rng = np.random.default_rng(1)
    wide = np.hstack([x, rng.normal(size=(150, 300))]) @ rng.normal(size=(364, 364))
    calls, original = [], probes.row_space_coordinates

    def counted(a):
        calls.append(a.shape)
        return original(a)

    monkeypatch.setattr(probes, "row_space_coordinates", counted)
    kw = dict(n_folds=3, inner_folds=3, c_grid=(1e-1, 1e2, 1e3), seed=0)
    fast = svc_cross_validation(wide, y, **kw)
    assert calls == [(150, 364)]
    slow = svc_cross_validation(wide, y, row_space=False, **kw)
    assert calls == [(150, 364)]
    assert fast.fold_accuracies == slow.fold_accuracies and fast.mean > 0.5
    assert fast.chosen_C == slow.chosen_C
    assert fast.row_space and not slow.row_space
    assert fast.inner_scores == pytest.approx(slow.inner_scores, abs=1e-12)
    assert len(fast.inner_scores) == 3 and all(0 <= s <= 1 for s in fast.inner_scores)
    # taller than wide but not by much (150 x 64): coordinates too, the same probe
    tall = svc_cross_validation(x, y, **kw)
    assert calls[-1] == (150, 64)
    assert tall.fold_accuracies == svc_cross_validation(x, y, row_space=False, **kw).fold_accuracies
    # far taller than wide (150 x 30 < 150 / 4), or z-scored features: raw features
    svc_cross_validation(x[:, 17:47], y, **kw)
    svc_cross_validation(wide, y, standardize=True, **kw)
    assert len(calls) == 2


def test_overlapping_or_non_bool_masks_are_refused():
    from shared.probes import logistic_regression_probe

    x, y = torch.randn(30, 4), torch.arange(30) % 2
    train = torch.arange(30) < 20
    with pytest.raises(ValueError, match="test_mask shares 5 samples with train_mask"):
        logistic_regression_probe(x, y, train, torch.arange(30) >= 15)
    with pytest.raises(ValueError, match="train_mask must be a bool mask"):
        logistic_regression_probe(x, y, torch.arange(30) % 3, ~train)


def test_probes_refuse_what_cannot_be_classified(digits):
    x, y = digits
    with pytest.raises(ValueError, match="at least 2 classes, but every one of the 40 samples"):
        svc_cross_validation(x[:40], np.zeros(40, dtype=int), n_folds=2, inner_folds=2)
    two = np.repeat([0, 1], 20)
    with pytest.raises(ValueError, match="inner_folds=25 must be >= 2 and at most 10"):
        svc_cross_validation(x[:40], two, n_folds=2, inner_folds=25)
    # a small class the inner folds cannot all hold: scikit-learn warns and runs, so do we
    uneven = np.repeat([0, 1], [30, 6])
    assert svc_cross_validation(x[:36], uneven, n_folds=3, inner_folds=5).mean > 0
    train = np.zeros(40, dtype=bool)
    train[:10] = True  # all of class 0
    with pytest.raises(ValueError, match="training rows hold one class only"):
        logistic_regression_probe(x[:40], two, train, ~train)
    # outer folds: the message named inner_folds ("at most 0") for n_folds=1
    for folds in (1, 0):
        with pytest.raises(ValueError, match=f"n_folds must be an integer >= 2 .*got {folds}"):
            svc_cross_validation(x[:40], two, n_folds=folds)


def test_probe_refuses_tuning_on_its_training_rows_and_warns_of_unseen_classes(digits):
    x, y = digits
    three = np.repeat([0, 1, 2], 20)
    train = np.zeros(60, dtype=bool)
    train[[*range(10), *range(20, 30)]] = True  # classes 0 and 1 only
    val = np.zeros(60, dtype=bool)
    val[5:15] = True  # half of it training rows: C was picked on the fitted rows
    with pytest.raises(ValueError, match="val_mask shares 5 samples with train_mask"):
        logistic_regression_probe(x[:60], three, train, ~train & ~val, val)
    with pytest.warns(UserWarning, match=r"test classes \[2\] have no training sample: the "
                                         r"probe never predicts them, so their 20 test"):
        res = logistic_regression_probe(x[:60], three, train, ~train)
    assert res.test_accuracy <= 20 / 40  # class 2's 20 test rows are all errors
