"""CRD's transfer test on digits: do distilled features carry over to unseen classes?

The CRD paper (Sec. 4.3, "transferability of representations") freezes students trained on
CIFAR-100 and fits linear probes on other data sets (STL-10, TinyImageNet), where the CRD
student transfers better than the student trained alone and than KD. Cut down: teacher and
students of :mod:`shared.bridge.demos.crd` (same architectures, augmentation, schedule and
arms) are trained on the digits 0-4 only (70% of their rows; the other 30% give the source
accuracy); each frozen network's penultimate features of the digits 5-9 then feed a
logistic-regression probe (:func:`shared.probes.logistic_regression_probe`, ``C`` by
cross-validation on the probe's training half, accuracy on the other half).

Findings (5 seeds, ``python experiments/bridge_demos.py --demo crd_transfer``, 278 s on a
shared core): with the demo's 16-unit student the transfer probe gives 0.863 +- 0.045 alone,
0.858 +- 0.060 KD (the release's 0.1 CE + 0.9 KD), 0.857 +- 0.049 CRD, 0.857 +- 0.065
CRD+KD (teacher 0.965; +- is the sample std over seeds). With a 64-unit student
(``crd_transfer_64`` in ``experiments/results/bridge_ablations.md``, ``python
experiments/bridge_ablations.py --only crd_transfer_64``): 0.964 / 0.963 / 0.964 / 0.964
(teacher 0.965). Source accuracy is 0.97-0.99 for every arm. Seed-to-seed spread
(0.79-0.93 for one arm) is ten times any gap between arms: no distillation term changes how
well the features transfer, so the claim is not shown on digits in this form either (see
:mod:`~shared.bridge.demos.crd` for the in-distribution form).
"""

from __future__ import annotations

import time

import torch

from shared.bridge.demos import crd
from shared.bridge.demos._common import load_digits_tensors, mean_std, split_masks
from shared.probes import logistic_regression_probe

ARMS = ("student_alone", "kd", "crd", "crd+kd")


def run(quick: bool = False, seed: int = 0, seeds: int | None = None, hidden: int = 16) -> dict:
    x, y = load_digits_tensors()
    source = y < 5
    xs, ys = x[source], y[source]
    xt, yt = x[~source], y[~source] - 5
    n_seeds = seeds or (1 if quick else 5)
    epochs_t, epochs_s = (20, 15) if quick else (60, 40)
    results: dict[str, list[tuple[float, float]]] = {a: [] for a in ("teacher", *ARMS)}
    start = time.perf_counter()
    for s in range(seed, seed + n_seeds):
        train, test = split_masks(len(xs), 0.3, s)
        probe_train, probe_test = split_masks(len(xt), 0.5, s + 7)

        def scores(model: crd._MLP, s=s, test=test, probe_train=probe_train,
                   probe_test=probe_test) -> tuple[float, float]:
            """(source test accuracy, probe accuracy on the unseen digits' frozen features)"""
            with torch.no_grad():
                features = model(xt)[0]
            probe = logistic_regression_probe(features, yt, probe_train, probe_test, seed=s)
            return crd._accuracy(model, xs[test], ys[test]), probe.test_accuracy

        teacher = crd._train_teacher(xs[train], ys[train], epochs_t, s)
        results["teacher"].append(scores(teacher))
        torch.manual_seed(1000 + s)
        init = crd._MLP([hidden])
        for arm, student in crd._train_arms(init, teacher, xs[train], ys[train], epochs_s, s,
                                            ARMS):
            results[arm].append(scores(student))
    metrics = {}
    for arm, runs in results.items():
        src_mean, _ = mean_std([r[0] for r in runs])
        tr_mean, tr_std = mean_std([r[1] for r in runs])
        metrics[arm] = {"source_accuracy": src_mean, "transfer_probe": tr_mean,
                        "transfer_probe_std": tr_std, "runs": [list(r) for r in runs]}
    holds = metrics["crd"]["transfer_probe"] > metrics["student_alone"]["transfer_probe"]
    return {
        "seeds": n_seeds, "student_hidden": hidden, "epochs_teacher": epochs_t,
        "epochs_student": epochs_s, "train_seconds": round(time.perf_counter() - start, 1),
        "metrics": metrics, "claim_holds": bool(holds),
        "summary": (
            f"probe on unseen digits 5-9 (mean of {n_seeds} seeds, {hidden}-unit student "
            f"trained on 0-4): " + ", ".join(
                f"{arm} {m['transfer_probe']:.3f} (source acc {m['source_accuracy']:.3f})"
                for arm, m in metrics.items())
        ),
    }
