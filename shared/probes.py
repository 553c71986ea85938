"""Linear evaluation of frozen embeddings, on scikit-learn.

- :func:`logistic_regression_probe`: node classification with fixed train/val/test masks
  (the Planetoid protocol of DGI and MVGRL); :func:`logreg_model` is one of its candidates.
- :func:`svc_cross_validation`: graph classification by stratified 10-fold CV with a LinearSVC
  whose ``C`` is chosen by an inner stratified CV on each training fold (InfoGraph / MVGRL).
- :func:`row_space_coordinates`: a cheaper input for that probe when features are many
  for the samples, equivalent in exact arithmetic.

The probes are deterministic for a given ``seed``. scikit-learn is imported on first use.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

DEFAULT_LOGREG_C = (0.01, 0.1, 1.0, 10.0, 100.0)
DEFAULT_SVC_C = (1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3)
#: LinearSVC iteration cap: scikit-learn's default, which the MVGRL / InfoGraph evaluation
#: (``LinearSVC()``) runs with. Large ``C`` on unscaled features often stops at the cap; 10x
#: more iterations cost 5.7x the time on MUTAG embeddings (173 s vs 30 s per seed) for no
#: systematic accuracy change (86.75 vs 86.23 on seed 0;
#: ``python experiments/probe_scaling_check.py --seeds 0 --max-iter 1000 10000 --row-space off``;
#: measured before the probe fitted on row-space coordinates).
DEFAULT_SVC_MAX_ITER = 1000
#: :func:`svc_cross_validation` fits on :func:`row_space_coordinates` when features number
#: at least this fraction of the samples: the coordinates then hold at most 7/8 of the
#: entries (``1 - D / (2 N)``); below it the saving is not worth a change of basis.
ROW_SPACE_MIN_RATIO = 0.25
#: LinearSVC solves the dual problem, as ``LinearSVC()`` did when MVGRL / InfoGraph were
#: released. scikit-learn >= 1.5 defaults to ``dual="auto"``, which picks the primal solver
#: whenever training rows outnumber features (IMDB-MULTI, REDDIT-BINARY with 1024-d
#: embeddings); at the 1000-iteration cap that solver took 81-133 s per fit at C >= 1 on
#: IMDB-MULTI embeddings against 9 s for the dual one (1080 x 1024, one thread).
SVC_DUAL = True


@dataclass(frozen=True)
class ProbeResult:
    """Result of :func:`logistic_regression_probe`."""

    test_accuracy: float
    val_accuracy: float | None
    C: float
    #: whether the chosen probe z-scores its inputs
    standardized: bool = True


@dataclass(frozen=True)
class CVResult:
    """Result of :func:`svc_cross_validation`; accuracies are fractions in [0, 1]."""

    mean: float
    std: float
    fold_accuracies: list[float] = field(default_factory=list)
    chosen_C: list[float] = field(default_factory=list)
    #: per outer fold, the inner-CV accuracy of the chosen ``C`` (what a selection among
    #: several embeddings may compare without touching the outer test fold)
    inner_scores: list[float] = field(default_factory=list)
    #: whether the fits ran on :func:`row_space_coordinates`
    row_space: bool = False


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu()
        if x.is_floating_point() and x.element_size() < 4:  # numpy has no bfloat16
            x = x.float()
        x = x.numpy()
    return np.asarray(x)


def check_stratifiable(labels, n_folds: int, unit: str = "samples") -> None:
    """Raise ``ValueError`` unless every class of ``labels`` (``[N]``) has at least
    ``n_folds`` members: stratified ``n_folds``-fold CV puts one in every fold. Callers
    that train before probing can call it first; :func:`svc_cross_validation` does."""
    classes, counts = np.unique(_to_numpy(labels), return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"a probe needs at least 2 classes, but every one of the "
                         f"{int(counts.sum())} {unit} has label {classes.tolist()}: there is "
                         f"nothing to classify (wrong label column?).")
    small = {c.item(): int(n) for c, n in zip(classes, counts, strict=True) if n < n_folds}
    if small:
        raise ValueError(
            f"stratified {n_folds}-fold CV needs at least {n_folds} {unit} in every class; "
            f"class: count {small} (fewer than n_folds={n_folds}). Drop or merge those "
            f"classes (or add {unit}).")


def _check_embeddings(embeddings: np.ndarray, labels: np.ndarray) -> None:
    if embeddings.ndim != 2:
        raise ValueError(f"embeddings must be 2-D [N, D], got shape {embeddings.shape}")
    if labels.ndim != 1 or labels.shape[0] != embeddings.shape[0]:
        raise ValueError(
            f"labels must be 1-D with one entry per embedding ({embeddings.shape[0]}), got "
            f"shape {labels.shape}"
        )
    if not np.isfinite(embeddings).all():
        raise ValueError("embeddings contain NaN or inf; the encoder diverged")


def _mask(name: str, mask, n: int) -> np.ndarray:
    mask = _to_numpy(mask)
    if mask.dtype != bool:
        if not np.isin(mask, (0, 1)).all():  # index lists or scores are not masks
            raise ValueError(f"{name} must be a bool mask of shape ({n},) (or hold only 0 "
                             f"and 1); to select indices idx, pass torch.isin(torch.arange({n}), idx)")
        mask = mask.astype(bool)
    if mask.shape != (n,):
        raise ValueError(f"{name} must be a bool mask of shape ({n},), got {mask.shape}")
    if not mask.any():
        raise ValueError(f"{name} selects no sample")
    return mask


def logistic_regression_probe(
    embeddings,
    labels,
    train_mask,
    test_mask,
    val_mask=None,
    *,
    c_grid: Sequence[float] = DEFAULT_LOGREG_C,
    seed: int = 0,
    standardize: bool | str = True,
    max_iter: int = 2000,
) -> ProbeResult:
    """Fit a multinomial logistic regression on the training rows, report test accuracy.

    ``C`` (inverse L2 strength) is chosen from ``c_grid`` by accuracy on ``val_mask`` when
    given, else by stratified cross-validation on the training rows; test rows are never
    used for selection. Features are standardised with statistics of the training rows.

    Args:
        embeddings: ``[N, D]`` tensor or array (frozen).
        labels: ``[N]`` class indices.
        train_mask, test_mask, val_mask: ``[N]`` bool masks.
        c_grid: candidate ``C`` values; a single value skips selection.
        seed: seed of the CV splits and the solver.
        standardize: z-score features with training statistics; ``"select"`` chooses
            with or without jointly with ``C`` (same validation rows or CV).

    Returns:
        :class:`ProbeResult` with accuracies as fractions.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    x, y = _to_numpy(embeddings).astype(np.float64), _to_numpy(labels)
    _check_embeddings(x, y)
    n = x.shape[0]
    train, test = _mask("train_mask", train_mask, n), _mask("test_mask", test_mask, n)
    val = _mask("val_mask", val_mask, n) if val_mask is not None else None
    for other, name in ((train, "train_mask"), (val, "val_mask")):
        if other is not None and (other & test).any():
            raise ValueError(f"test_mask shares {int((other & test).sum())} samples with "
                             f"{name}: a probe scored on samples it was fitted or tuned on "
                             f"overstates accuracy")
    if val is not None and (val & train).any():
        raise ValueError(f"val_mask shares {int((val & train).sum())} samples with train_mask: "
                         f"C chosen on samples the probe was fitted on favours the least "
                         f"regularised fit; pass disjoint masks")
    if len(c_grid) == 0:
        raise ValueError("c_grid is empty")
    if len(np.unique(y[train])) < 2:
        raise ValueError(f"the training rows hold one class only ({np.unique(y[train]).tolist()}): "
                         f"a classifier needs at least 2; check train_mask and labels.")
    unseen = sorted(set(np.unique(y[test]).tolist()) - set(np.unique(y[train]).tolist()))
    if unseen:  # allowed (a split may leave a rare class out) but never predicted
        warnings.warn(f"test classes {unseen} have no training sample: the probe never "
                      f"predicts them, so their {int(np.isin(y[test], unseen).sum())} test "
                      f"samples all count as errors; check train_mask and labels",
                      stacklevel=2)
    if standardize not in (True, False, "select"):
        raise ValueError(f"standardize must be True, False or 'select', got {standardize!r}")

    def model(c: float, scaled: bool):
        return logreg_model(c, scaled, seed, max_iter)

    # candidates in a fixed order; ties go to the first (standardised, smaller C)
    grid = [(s, float(c)) for s in ((True, False) if standardize == "select"
                                    else (bool(standardize),)) for c in c_grid]
    best_scaled, best_c = grid[0]
    best_val = None
    if len(grid) > 1:
        scores = []
        for scaled, c in grid:
            if val is not None:
                scores.append(model(c, scaled).fit(x[train], y[train]).score(x[val], y[val]))
            else:
                k = int(min(5, np.unique(y[train], return_counts=True)[1].min()))
                if k < 2:
                    raise ValueError(
                        "cannot choose C: a class has fewer than 2 training rows; pass one C"
                    )
                cv = StratifiedKFold(k, shuffle=True, random_state=seed)
                scores.append(cross_val_score(model(c, scaled), x[train], y[train],
                                              cv=cv).mean())
        best_scaled, best_c = grid[int(np.argmax(scores))]
    clf = model(best_c, best_scaled).fit(x[train], y[train])
    if val is not None:
        best_val = float(clf.score(x[val], y[val]))
    return ProbeResult(
        test_accuracy=float(clf.score(x[test], y[test])), val_accuracy=best_val, C=best_c,
        standardized=best_scaled,
    )


def logreg_model(C: float, standardize: bool, seed: int = 0, max_iter: int = 2000):
    """One candidate of :func:`logistic_regression_probe`: a scikit-learn multinomial
    logistic regression with inverse L2 strength ``C``, behind a ``StandardScaler`` when
    ``standardize`` (fitted on the rows the model is fitted on). Unfitted."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
    return make_pipeline(StandardScaler(), clf) if standardize else clf


def row_space_coordinates(x: np.ndarray) -> np.ndarray:
    """Coordinates of the rows of ``x`` in an orthonormal basis of their span.

    With ``x = R^T Q^T`` (QR of ``x^T``), returns ``Z = R^T``, shape ``[N, min(N, D)]``, and
    ``Z Z^T = x x^T``: every inner product between rows is kept. A model that sees its
    inputs only through inner products under an L2 penalty therefore learns the same
    classifier, with the same predictions on every row, from ``Z`` as from ``x``. For
    liblinear's LinearSVC (dual coordinate descent, squared hinge) every step uses only
    ``w . x_i`` and ``||x_i||^2`` with ``w`` in the rows' span, so its iterates, a run
    stopped at ``max_iter`` included, are the same up to rounding; the intercept is a
    constant column appended after this map, so the augmented ``x x^T + 1`` is unchanged
    too; one-vs-rest multi-class is a set of such binary problems. ``Z`` is lower
    triangular (trapezoidal when ``N > D``: row ``i`` has ``min(i + 1, D)`` entries that
    can be nonzero) and liblinear skips zeros, so a pass costs about ``N / (2 D)`` of one
    on ``x`` when ``D > N``, and ``1 - D / (2 N)`` of it when ``N >= D``.

    ``Q`` is not returned: ``Z`` holds coordinates for the rows given here only, so pass
    every row that will be fitted or scored (test folds included) in one call. The basis
    uses no labels and changes no inner product, so this leaks nothing.

    Args:
        x: ``[N, D]`` float array.

    Returns:
        ``[N, min(N, D)]`` float64 array.
    """
    x = np.asarray(x, dtype=np.float64)
    return np.linalg.qr(x.T, mode="r").T


def svc_cross_validation(
    embeddings,
    labels,
    *,
    n_folds: int = 10,
    inner_folds: int = 5,
    c_grid: Sequence[float] = DEFAULT_SVC_C,
    seed: int = 0,
    standardize: bool = False,
    max_iter: int = DEFAULT_SVC_MAX_ITER,
    n_jobs: int | None = None,
    row_space: bool = True,
    on_fold: Callable[[int], None] | None = None,
) -> CVResult:
    """Stratified ``n_folds``-fold CV accuracy of a LinearSVC whose ``C`` is chosen per outer
    fold by stratified ``inner_folds``-fold CV on that fold's training part only.

    Args:
        embeddings: ``[N, D]`` graph embeddings.
        labels: ``[N]`` class indices.
        n_folds, inner_folds: outer and inner fold counts.
        c_grid: candidate ``C`` values ({1e-3, ..., 1e3} as in InfoGraph / MVGRL).
        seed: seeds both fold splits.
        standardize: z-score features inside each fit.
        max_iter: LinearSVC iteration cap (:data:`DEFAULT_SVC_MAX_ITER`, the release's).
        n_jobs: parallel fits of the inner grid search (scikit-learn's meaning).
        row_space: when ``D >= N / 4`` (and ``standardize`` is off), fit on
            :func:`row_space_coordinates` (threshold :data:`ROW_SPACE_MIN_RATIO`): the
            same classifier up to rounding, with at most 7/8 of the entries (1000 x 4096
            embeddings: 1000 columns, half of them zero on average; 1500 x 1024: 66%).
        on_fold: called with the number of outer folds done after each one (a progress
            bar's hook: a fold can take minutes).

    Returns:
        :class:`CVResult` (mean and population std of the fold accuracies, as fractions).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    x, y = _to_numpy(embeddings).astype(np.float64), _to_numpy(labels)
    _check_embeddings(x, y)
    if n_folds != int(n_folds) or n_folds < 2:
        raise ValueError(f"n_folds must be an integer >= 2 (outer cross-validation folds), "
                         f"got {n_folds!r}")
    check_stratifiable(y, n_folds)
    # scikit-learn refuses inner folds that no class can fill (it warns when some can't)
    most = int(max(n - -(-n // n_folds) for n in np.unique(y, return_counts=True)[1]))
    if inner_folds < 2 or most < inner_folds:
        raise ValueError(f"inner_folds={inner_folds} must be >= 2 and at most {most}, the "
                         f"members the largest class keeps in an outer training part; lower "
                         f"inner_folds (or n_folds) or add samples.")
    row_space = bool(row_space and not standardize
                     and x.shape[1] >= ROW_SPACE_MIN_RATIO * x.shape[0])
    if row_space:
        x = row_space_coordinates(x)
    svc = LinearSVC(max_iter=max_iter, dual=SVC_DUAL, random_state=seed)
    est = make_pipeline(StandardScaler(), svc) if standardize else svc
    key = "linearsvc__C" if standardize else "C"
    outer = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    accs, chosen, inner_scores = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for train_idx, test_idx in outer.split(x, y):
            inner = StratifiedKFold(inner_folds, shuffle=True, random_state=seed)
            search = GridSearchCV(est, {key: list(c_grid)}, cv=inner, n_jobs=n_jobs)
            search.fit(x[train_idx], y[train_idx])
            accs.append(float(search.score(x[test_idx], y[test_idx])))
            chosen.append(float(search.best_params_[key]))
            inner_scores.append(float(search.best_score_))
            if on_fold is not None:
                on_fold(len(accs))
    return CVResult(float(np.mean(accs)), float(np.std(accs)), accs, chosen, inner_scores,
                    row_space)
