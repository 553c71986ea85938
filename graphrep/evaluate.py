"""Linear evaluation of frozen MVGRL embeddings, under two protocols.

``honest``
    Node level: :func:`shared.probes.logistic_regression_probe` fitted on the
    split's training nodes, ``C`` and whether to z-score the embedding chosen
    on the validation nodes, accuracy on the test nodes. Graph level:
    :func:`shared.probes.svc_cross_validation` (stratified 10-fold, LinearSVC,
    ``C`` by inner 5-fold CV); when several encoder configurations were
    trained, the configuration too is chosen per outer fold by inner-fold
    accuracy (:func:`select_per_fold`, from each configuration's probe record).
``paper``
    Node level: the release's probe (one linear layer, Adam lr 0.01, 300 steps,
    weight decay 0.01 on CiteSeer and none elsewhere, mean test accuracy over 50
    restarts). Graph level: the
    same SVC cross-validation, but the configuration with the best mean test
    accuracy over seeds is reported, as the paper did (selection on test folds;
    labelled as such in every output).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from shared.probes import (
    DEFAULT_SVC_C,
    check_stratifiable,
    logistic_regression_probe,
    svc_cross_validation,
)

__all__ = ["PROTOCOLS", "node_accuracy", "release_logreg_predictions", "release_logreg_probe",
           "select_per_fold", "select_per_seed", "graph_accuracy", "nested_config_selection"]

PROTOCOLS = ("honest", "paper")
#: the graph probe's C grid (recorded in stored probe results' keys)
SVC_C_GRID = DEFAULT_SVC_C


#: the release's probe weight decay per dataset (its node-level ``train.py``:
#: ``wd = 0.01 if dataset == 'citeseer' else 0.0``); other datasets take none
RELEASE_PROBE_WEIGHT_DECAY = {"CiteSeer": 0.01}


def release_logreg_predictions(emb: Tensor, y: Tensor, train_mask: Tensor,
                               rows: Tensor, restarts: int = 50, steps: int = 300,
                               lr: float = 0.01, seed: int = 0,
                               weight_decay: float = 0.0) -> Tensor:
    """The MVGRL release's node probe, restart by restart: each of ``restarts`` linear
    layers (Xavier-uniform weight, zero bias) is trained with Adam on the training nodes
    for ``steps`` full-batch steps and predicts ``rows``.

    Args:
        emb: ``[N, D]`` frozen embeddings; ``y``: ``[N]`` labels.
        train_mask, rows: ``[N]`` bool: the nodes fitted, and those predicted.
        weight_decay: Adam's (the release: 0.01 on CiteSeer, else 0;
            :data:`RELEASE_PROBE_WEIGHT_DECAY`).

    Returns:
        ``[restarts, rows.sum()]`` predicted classes.
    """
    gen = torch.Generator().manual_seed(seed)
    # on the CPU, where the probe is built (a CUDA embedding met a CPU Linear)
    emb, y, train_mask, rows = (t.detach().cpu() for t in (emb, y, train_mask, rows))
    x_tr, y_tr = emb[train_mask].float(), y[train_mask]
    x_rows = emb[rows].float()
    num_classes = int(y.max()) + 1
    preds = []
    for _ in range(restarts):
        lin = torch.nn.Linear(emb.size(1), num_classes)
        bound = (6.0 / (emb.size(1) + num_classes)) ** 0.5  # xavier_uniform
        with torch.no_grad():
            lin.weight.uniform_(-bound, bound, generator=gen)
            lin.bias.zero_()
        opt = torch.optim.Adam(lin.parameters(), lr=lr, weight_decay=weight_decay)
        for _ in range(steps):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(lin(x_tr), y_tr).backward()
            opt.step()
        with torch.no_grad():
            preds.append(lin(x_rows).argmax(1))
    return torch.stack(preds)


def release_logreg_probe(emb: Tensor, y: Tensor, train_mask: Tensor,
                         test_mask: Tensor, restarts: int = 50, steps: int = 300,
                         lr: float = 0.01, seed: int = 0,
                         weight_decay: float = 0.0) -> float:
    """The MVGRL release's node probe: mean test accuracy over ``restarts``
    (:func:`release_logreg_predictions` on ``test_mask``)."""
    preds = release_logreg_predictions(emb, y, train_mask, test_mask, restarts, steps,
                                       lr, seed, weight_decay)
    y_te = y.detach().cpu()[test_mask.detach().cpu()]
    # per restart, then averaged in float64: the figures stored before this split
    return float(np.mean([float((p == y_te).float().mean()) for p in preds]))


def node_accuracy(emb: Tensor, data, protocol: str = "honest",
                  seed: int = 0, dataset: str | None = None) -> dict[str, float]:
    """Test accuracy (fraction) of a node embedding under ``protocol``.

    Args:
        emb: ``[N, D]``; ``data``: ``Data`` with ``y`` and the split masks.
        dataset: its name, which sets the ``paper`` probe's weight decay
            (:data:`RELEASE_PROBE_WEIGHT_DECAY`).
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
        wd = RELEASE_PROBE_WEIGHT_DECAY.get(dataset, 0.0)
        return {"accuracy": release_logreg_probe(emb, data.y, data.train_mask,
                                                 data.test_mask, seed=seed,
                                                 weight_decay=wd),
                "weight_decay": wd}
    raise ValueError(f"Unknown protocol {protocol!r}; choose from {PROTOCOLS}.")


#: outer folds of the graph-level probe
GRAPH_FOLDS = 10


def check_graph_labels(labels: Tensor, dataset: str) -> None:
    """Reject, before any training, labels ``[G]`` that the stratified
    :data:`GRAPH_FOLDS`-fold probe cannot split: every class needs a graph in every
    outer fold."""
    try:
        check_stratifiable(labels, GRAPH_FOLDS, unit="graphs")
    except ValueError as error:
        raise ValueError(f"{dataset}, graph-level probe: {error}") from None


def graph_accuracy(emb: Tensor, labels: Tensor, seed: int = 0,
                   n_jobs: int | None = None,
                   on_fold: Callable[[int], None] | None = None,
                   standardize: bool = False) -> dict:
    """10-fold SVC accuracy (fraction) of one graph embedding ``[G, D]``, with the
    per-fold record :func:`select_per_fold` needs; ``n_jobs`` parallel fits of the
    inner grid search; ``on_fold`` called with the folds done after each outer fold;
    ``standardize`` z-scores inside each fit (the package's probe does not, as released).

    Returns:
        ``{"accuracy", "fold_std", "fold_accuracies", "inner_scores", "chosen_C",
        "seed"}`` (the seed fixes the folds).
    """
    res = svc_cross_validation(emb, labels, n_folds=GRAPH_FOLDS, seed=seed, n_jobs=n_jobs,
                               on_fold=on_fold, standardize=standardize)
    return {"accuracy": res.mean, "fold_std": res.std,
            "fold_accuracies": res.fold_accuracies, "inner_scores": res.inner_scores,
            "chosen_C": res.chosen_C, "seed": seed}


#: what :func:`select_per_fold` reads from each configuration's probe record
FOLD_RECORD = ("fold_accuracies", "inner_scores")


def select_per_fold(per_config: Sequence[dict]) -> dict:
    """Nested selection of the encoder configuration from per-configuration probes.

    On outer fold ``f`` the configuration with the best inner-CV accuracy
    (``inner_scores[f]``, computed on that fold's training part only; a NaN score never
    wins) is chosen, and its test accuracy on the fold counts. Configurations tied at the
    best inner score (equal to 1e-12; common on small sets such as MUTAG) share the fold:
    it counts the mean of their test accuracies, the expected value of a uniform random
    pick, so the result does not depend on the order of ``per_config``. Because every
    configuration's probe uses the same folds (same seed, same labels), this equals
    running the inner search over configurations and ``C`` together, without refitting.

    Args:
        per_config: one :func:`graph_accuracy` record per configuration, all of one seed
            (records stored before the seed was recorded are taken as they are).

    Returns:
        ``{"accuracy": mean, "fold_std": std, "chosen": [[indices tied best] per fold]}``.
    """
    if not per_config:
        raise ValueError("select_per_fold needs at least one configuration")
    missing = [k for r in per_config for k in FOLD_RECORD if k not in r]
    if missing:
        raise ValueError(f"probe records lack {sorted(set(missing))}; re-run the probe "
                         f"(graph_accuracy) to record its folds")
    folds = {len(r[k]) for r in per_config for k in FOLD_RECORD}
    if len(folds) != 1:
        raise ValueError("every configuration needs one inner score and one test accuracy "
                         f"per fold, the same folds for all; got fold counts {sorted(folds)}")
    seeds = {r["seed"] for r in per_config if "seed" in r}
    if len(seeds) > 1:
        raise ValueError(f"records of different seeds {sorted(seeds)} were probed on "
                         "different folds; select among records of one seed")
    inner = np.array([r["inner_scores"] for r in per_config], dtype=float)  # [configs, folds]
    test = np.array([r["fold_accuracies"] for r in per_config], dtype=float)
    score = np.where(np.isnan(inner), -np.inf, inner)
    tied = np.isclose(score, score.max(axis=0), rtol=0.0, atol=1e-12) & np.isfinite(score)
    tied[:, ~tied.any(axis=0)] = True  # no finite score on a fold: no basis to choose
    accs = (test * tied).sum(axis=0) / tied.sum(axis=0)
    return {"accuracy": float(accs.mean()), "fold_std": float(accs.std()),
            "chosen": [[int(k) for k in np.flatnonzero(col)] for col in tied.T]}


def select_per_seed(records: dict[str, Sequence[dict]], seeds: Sequence[int]
                    ) -> tuple[list[float], dict[str, list[list[str]]]]:
    """:func:`select_per_fold` for every seed.

    Args:
        records: candidate name -> one probe record per seed, in the order of ``seeds``.

    Returns:
        per-seed accuracies (fractions) and, keyed by ``str(seed)``, the names tied best
        on every outer fold.
    """
    names = list(records)
    accs, chosen = [], {}
    for i, s in enumerate(seeds):
        r = select_per_fold([records[n][i] for n in names])
        accs.append(r["accuracy"])
        chosen[str(s)] = [[names[k] for k in tied] for tied in r["chosen"]]
    return accs, chosen


def nested_config_selection(embeddings: Sequence[np.ndarray], labels: np.ndarray,
                            seed: int = 0, n_jobs: int | None = None) -> dict[str, object]:
    """10-fold CV accuracy where each outer fold picks the encoder configuration
    *and* ``C`` by inner CV on its training part only (:func:`select_per_fold` over
    one :func:`graph_accuracy` per configuration). For embeddings in memory; a run
    directory stores each configuration's record and selects from those.

    Args:
        embeddings: one ``[G, D_k]`` embedding per configuration (same graphs).
        labels: ``[G]``.
        seed: seeds the outer and inner fold splits and the SVC.
        n_jobs: parallel fits of each inner grid search (scikit-learn's meaning).

    Returns:
        ``{"accuracy": mean, "fold_std": std, "chosen": [[indices tied best] per fold]}``.
    """
    return select_per_fold([graph_accuracy(emb, labels, seed, n_jobs)
                            for emb in embeddings])
