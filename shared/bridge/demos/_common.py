"""Small helpers shared by the demo modules: splits, digits loading, seeded generators."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def split_masks(n: int, test_fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Random disjoint (train, test) boolean masks over ``n`` rows."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_test = int(round(n * test_fraction))
    test = torch.zeros(n, dtype=torch.bool)
    test[perm[:n_test]] = True
    return ~test, test


def load_digits_tensors() -> tuple[Tensor, Tensor]:
    """scikit-learn's bundled digits as (``[1797, 64]`` in ``[0, 1]``, ``[1797]`` labels)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return torch.tensor(d.data / 16.0, dtype=torch.float32), torch.tensor(d.target)


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0 for one value) of ``values``."""
    a = np.asarray(values, dtype=np.float64)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0
