"""Linear evaluation of frozen MVGRL embeddings, under two protocols.

``honest``
    Node level: :func:`shared.probes.logistic_regression_probe` fitted on the
    split's training nodes, ``C`` and whether to z-score the embedding chosen
    on the validation nodes, accuracy on the test nodes. Graph level:
    :func:`shared.probes.svc_cross_validation` (stratified 10-fold, LinearSVC,
    ``C`` by inner 5-fold CV); when several encoder configurations were
    trained, the configuration too is chosen per outer fold by inner-fold
    accuracy (:func:`nested_config_selection`).
``paper``
    Node level: the release's probe (one linear layer, Adam lr 0.01, 300 steps,
    no weight decay, mean test accuracy over 50 restarts). Graph level: the
    same SVC cross-validation, but the configuration with the best mean test
    accuracy over seeds is reported, as the paper did (selection on test folds;
    labelled as such in every output).
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from shared.probes import (
    DEFAULT_SVC_MAX_ITER,
    SVC_DUAL,
    logistic_regression_probe,
    svc_cross_validation,
)

__all__ = ["PROTOCOLS", "node_accuracy", "release_logreg_probe",
           "graph_accuracy", "nested_config_selection"]

PROTOCOLS = ("honest", "paper")
SVC_C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3)


def release_logreg_probe(emb: Tensor, y: Tensor, train_mask: Tensor,
                         test_mask: Tensor, restarts: int = 50, steps: int = 300,
                         lr: float = 0.01, seed: int = 0) -> float:
    """The MVGRL release's node probe: mean test accuracy over ``restarts``.

    Args:
        emb: ``[N, D]`` frozen embeddings; ``y``: ``[N]`` labels.
        train_mask, test_mask: ``[N]`` bool.
    """
    gen = torch.Generator().manual_seed(seed)
    x_tr, y_tr = emb[train_mask].float(), y[train_mask]
    x_te, y_te = emb[test_mask].float(), y[test_mask]
    num_classes = int(y.max()) + 1
    accs = []
    for _ in range(restarts):
        lin = torch.nn.Linear(emb.size(1), num_classes)
        bound = (6.0 / (emb.size(1) + num_classes)) ** 0.5  # xavier_uniform
        with torch.no_grad():
            lin.weight.uniform_(-bound, bound, generator=gen)
            lin.bias.zero_()
        opt = torch.optim.Adam(lin.parameters(), lr=lr, weight_decay=0.0)
        for _ in range(steps):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(lin(x_tr), y_tr).backward()
            opt.step()
        with torch.no_grad():
            accs.append(float((lin(x_te).argmax(1) == y_te).float().mean()))
    return float(np.mean(accs))


def node_accuracy(emb: Tensor, data, protocol: str = "honest",
                  seed: int = 0) -> dict[str, float]:
    """Test accuracy (fraction) of a node embedding under ``protocol``.

    Args:
        emb: ``[N, D]``; ``data``: ``Data`` with ``y`` and the split masks.
    """
    if protocol == "honest":
        # C and z-scoring chosen together on the validation nodes (CiteSeer's embeddings
        # probe better raw, Cora's z-scored; experiments/results/mvgrl_tune.jsonl)
        res = logistic_regression_probe(emb, data.y, data.train_mask,
                                        data.test_mask, data.val_mask, seed=seed,
                                        standardize="select")
        return {"accuracy": res.test_accuracy, "val_accuracy": res.val_accuracy,
                "C": res.C, "standardized": res.standardized}
    if protocol == "paper":
        return {"accuracy": release_logreg_probe(emb, data.y, data.train_mask,
                                                 data.test_mask, seed=seed)}
    raise ValueError(f"Unknown protocol {protocol!r}; choose from {PROTOCOLS}.")


def graph_accuracy(emb: Tensor, labels: Tensor, seed: int = 0,
                   n_jobs: int | None = None) -> dict[str, float]:
    """10-fold SVC accuracy (fraction) of one graph embedding ``[G, D]``;
    ``n_jobs`` parallel fits of the inner grid search."""
    res = svc_cross_validation(emb, labels, seed=seed, n_jobs=n_jobs)
    return {"accuracy": res.mean, "fold_std": res.std}


def nested_config_selection(embeddings: Sequence[np.ndarray], labels: np.ndarray,
                            seed: int = 0, n_folds: int = 10, inner_folds: int = 5,
                            c_grid: Sequence[float] = SVC_C_GRID,
                            n_jobs: int | None = None) -> dict[str, object]:
    """10-fold CV accuracy where each outer fold picks the encoder
    configuration *and* ``C`` by inner CV on its training part only.

    Uses the same fold seeds as :func:`shared.probes.svc_cross_validation`.
    (Not in the shared core's contract, hence here.)

    Args:
        embeddings: one ``[G, D_k]`` embedding per configuration (same graphs).
        labels: ``[G]``.
        n_jobs: parallel fits of each inner grid search (scikit-learn's meaning).

    Returns:
        ``{"accuracy": mean, "fold_std": std, "chosen": [config index per fold]}``.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.svm import LinearSVC

    labels = np.asarray(labels)
    outer = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    accs: list[float] = []
    chosen: list[int] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for tr, te in outer.split(embeddings[0], labels):
            best = (-1.0, 0, None)
            for k, emb in enumerate(embeddings):
                emb = np.asarray(emb, dtype=np.float64)
                search = GridSearchCV(
                    LinearSVC(max_iter=DEFAULT_SVC_MAX_ITER, dual=SVC_DUAL, random_state=seed),
                    {"C": list(c_grid)},
                    cv=StratifiedKFold(inner_folds, shuffle=True, random_state=seed),
                    n_jobs=n_jobs)
                search.fit(emb[tr], labels[tr])
                if search.best_score_ > best[0]:
                    best = (search.best_score_, k, search)
            _, k, search = best
            emb = np.asarray(embeddings[k], dtype=np.float64)
            accs.append(float(search.score(emb[te], labels[te])))
            chosen.append(k)
    return {"accuracy": float(np.mean(accs)), "fold_std": float(np.std(accs)),
            "chosen": chosen}
