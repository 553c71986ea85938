"""SimCLR on scikit-learn's digits: linear probe after NT-Xent pretraining vs random encoder.

Encoder ``64 -> 256 -> 128`` MLP (BN, ReLU), projection head ``128 -> 128 -> 64``, NT-Xent
(:func:`shared.losses.nt_xent`, temperature 0.5) on two augmented views
(:func:`shared.bridge.augment.augment_digits`). Probes: logistic regression
(:func:`shared.probes.logistic_regression_probe`) on the encoder output of un-augmented
images, with all training labels and with 5 labels per class.

Findings (full run, 150 epochs): linear probe 0.987 after SimCLR vs 0.957 on the random
encoder (raw pixels 0.976); with 5 labels per class 0.922 vs 0.744 (raw pixels 0.840).
Shown, and SimCLR also beats raw pixels.
"""

from __future__ import annotations

import copy
import time

import torch
from torch import nn

from shared.bridge.augment import augment_digits
from shared.bridge.demos._common import load_digits_tensors, split_masks
from shared.heads import ProjectionHead
from shared.losses import nt_xent


def _encoder() -> nn.Module:
    return nn.Sequential(
        nn.Linear(64, 256), nn.BatchNorm1d(256), nn.ReLU(),
        nn.Linear(256, 128), nn.BatchNorm1d(128), nn.ReLU(),
    )


def _few_label_mask(labels: torch.Tensor, train: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros_like(train)
    for c in labels.unique():
        idx = torch.nonzero(train & (labels == c)).flatten()
        mask[idx[torch.randperm(len(idx), generator=g)[:per_class]]] = True
    return mask


def run(quick: bool = False, seed: int = 0, epochs: int | None = None,
        probe_c_grid: tuple[float, ...] | None = None) -> dict:
    """``probe_c_grid`` overrides the probes' C grids (a single C skips the CV: fast tests)."""
    from shared.probes import logistic_regression_probe

    torch.manual_seed(seed)
    x, y = load_digits_tensors()
    train, test = split_masks(len(x), 0.3, seed)
    epochs = epochs or (15 if quick else 150)
    enc, head = _encoder(), ProjectionHead(128, 128, 64)
    random_enc = copy.deepcopy(enc)
    opt = torch.optim.Adam([*enc.parameters(), *head.parameters()], lr=1e-3, weight_decay=1e-5)
    g = torch.Generator().manual_seed(seed + 1)
    xt = x[train]
    start = time.perf_counter()
    losses = []
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=g)
        for i in range(0, len(xt) - 255, 256):
            b = xt[perm[i : i + 256]]
            z1 = head(enc(augment_digits(b, g)))
            z2 = head(enc(augment_digits(b, g)))
            loss = nt_xent(z1, z2, temperature=0.5)
            opt.zero_grad()
            loss.backward()
            opt.step()
        losses.append(loss.item())
    seconds = time.perf_counter() - start

    few = _few_label_mask(y, train, 5, seed)
    grid_full = {} if probe_c_grid is None else {"c_grid": probe_c_grid}
    grid_low = {"c_grid": (0.1, 1.0, 10.0) if probe_c_grid is None else probe_c_grid}
    out: dict = {"epochs": epochs, "train_seconds": round(seconds, 1),
                 "final_loss": losses[-1], "metrics": {}}
    for name, model in (("simclr", enc), ("random", random_enc)):
        model.eval()
        with torch.no_grad():
            h = model(x)
        full = logistic_regression_probe(h, y, train, test, seed=seed, **grid_full)
        low = logistic_regression_probe(h, y, few, test, seed=seed, **grid_low)
        out["metrics"][name] = {"probe_all_labels": full.test_accuracy,
                                "probe_5_per_class": low.test_accuracy}
    raw_full = logistic_regression_probe(x, y, train, test, seed=seed, **grid_full)
    raw_low = logistic_regression_probe(x, y, few, test, seed=seed, **grid_low)
    out["metrics"]["raw_pixels"] = {"probe_all_labels": raw_full.test_accuracy,
                                    "probe_5_per_class": raw_low.test_accuracy}
    m = out["metrics"]
    out["claim_holds"] = bool(m["simclr"]["probe_all_labels"] > m["random"]["probe_all_labels"])
    out["summary"] = (
        f"linear probe (all labels): SimCLR {m['simclr']['probe_all_labels']:.3f} vs random encoder "
        f"{m['random']['probe_all_labels']:.3f} (raw pixels {m['raw_pixels']['probe_all_labels']:.3f}); "
        f"5 labels/class: {m['simclr']['probe_5_per_class']:.3f} vs {m['random']['probe_5_per_class']:.3f}"
    )
    return out
