"""CRD on digits: a small student distilled from a larger teacher vs the same student alone.

Teacher ``64 -> 256 -> 256 -> 10`` MLP trained with cross-entropy; student
``64 -> 16 -> 10``. Student arms (same init, data, schedule): CE alone; CE + CRD
(:class:`shared.losses.CRDLoss` on the penultimate features, weight 0.8); CE + KD (T=4) +
CRD (RepDistiller's ``-r 1 -a 1 -b 0.8``); CE + KD alone for reference. To leave room for
distillation, the student sees only ``labelled`` labelled training digits while the teacher
was trained on all of them (the unlabelled rest are still used by the KD/CRD terms).
Test accuracy over several seeds.
"""

from __future__ import annotations

import copy
import time

import torch
import torch.nn.functional as F
from torch import nn

from shared.bridge.demos._common import load_digits_tensors, mean_std, split_masks
from shared.losses import CRDLoss


class _MLP(nn.Module):
    def __init__(self, hidden: list[int]):
        super().__init__()
        dims = [64, *hidden]
        layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(dims[-1], 10)

    def forward(self, x):
        f = self.features(x)
        return f, self.classifier(f)


def _accuracy(model: _MLP, x, y) -> float:
    with torch.no_grad():
        return float((model(x)[1].argmax(1) == y).float().mean())


def _train_student(student, teacher, x, y, labelled, n_epochs, arm, seed):
    g = torch.Generator().manual_seed(seed)
    n = len(x)
    crd = CRDLoss(16, 256, n_data=n, feat_dim=64, num_negatives=512) if "crd" in arm else None
    params = list(student.parameters()) + (list(crd.parameters()) if crd else [])
    opt = torch.optim.Adam(params, lr=3e-3, weight_decay=1e-4)
    with torch.no_grad():
        ft_all, logit_t_all = teacher(x)
    for _ in range(n_epochs):
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, 64):
            idx = perm[i : i + 64]
            fs, logits = student(x[idx])
            lab = labelled[idx]
            loss = F.cross_entropy(logits[lab], y[idx][lab]) if lab.any() else logits.sum() * 0
            if "kd" in arm:
                t = 4.0
                loss = loss + F.kl_div(F.log_softmax(logits / t, 1), F.softmax(logit_t_all[idx] / t, 1),
                                       reduction="batchmean") * t * t
            if crd is not None:
                loss = loss + 0.8 * crd(fs, ft_all[idx], idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return student


def run(quick: bool = False, seed: int = 0, seeds: int | None = None, labelled_count: int = 200) -> dict:
    x, y = load_digits_tensors()
    train, test = split_masks(len(x), 0.3, seed)
    xtr, ytr, xte, yte = x[train], y[train], x[test], y[test]
    n_seeds = seeds or (1 if quick else 3)
    epochs_t, epochs_s = (20, 15) if quick else (40, 40)
    torch.manual_seed(seed)
    teacher = _MLP([256, 256])
    opt = torch.optim.Adam(teacher.parameters(), lr=1e-3)
    for _ in range(epochs_t):
        for i in range(0, len(xtr), 64):
            loss = F.cross_entropy(teacher(xtr[i : i + 64])[1], ytr[i : i + 64])
            opt.zero_grad()
            loss.backward()
            opt.step()
    teacher.eval()
    arms = ("student_alone", "kd", "crd", "crd+kd")
    results: dict[str, list[float]] = {a: [] for a in arms}
    start = time.perf_counter()
    for s in range(n_seeds):
        g = torch.Generator().manual_seed(100 + s)
        labelled = torch.zeros(len(xtr), dtype=torch.bool)
        labelled[torch.randperm(len(xtr), generator=g)[:labelled_count]] = True
        torch.manual_seed(1000 + s)
        init = _MLP([16])
        for arm in arms:
            torch.manual_seed(2000 + s)
            st = _train_student(copy.deepcopy(init), teacher, xtr, ytr, labelled, epochs_s,
                                arm if arm != "student_alone" else "", s)
            results[arm].append(_accuracy(st, xte, yte))
    metrics = {"teacher": _accuracy(teacher, xte, yte)}
    for a in arms:
        m, sd = mean_std(results[a])
        metrics[a] = {"mean": m, "std": sd, "runs": results[a]}
    holds = metrics["crd"]["mean"] > metrics["student_alone"]["mean"]
    return {
        "seeds": n_seeds, "labelled": labelled_count, "train_seconds": round(time.perf_counter() - start, 1),
        "metrics": metrics, "claim_holds": bool(holds),
        "summary": (
            f"test acc (mean of {n_seeds} seeds, {labelled_count} labels): teacher {metrics['teacher']:.3f}; "
            f"student alone {metrics['student_alone']['mean']:.3f}, KD {metrics['kd']['mean']:.3f}, "
            f"CRD {metrics['crd']['mean']:.3f}, CRD+KD {metrics['crd+kd']['mean']:.3f}"
        ),
    }
