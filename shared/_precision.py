"""Precision of the losses' logits: float32 for half-precision inputs, also under autocast.

Every loss forms its logits (norms, products, log-sum-exps) in float32 when its inputs
are float16 / bfloat16 (:func:`upcast`), so small temperatures stay finite. Under
``torch.autocast`` that alone is not enough: autocast would run the products in half
precision again whatever their inputs' dtype, so the losses form their logits inside
:func:`autocast_off`.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor


def upcast(x: Tensor) -> Tensor:
    """float16 / bfloat16 -> float32 (for logits and softmax); other dtypes unchanged."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def autocast_off(device: torch.device) -> contextlib.AbstractContextManager:
    """A context with autocast disabled for ``device``'s type: products inside run in
    their inputs' dtype even when the caller runs under ``torch.autocast``. A no-op for
    device types autocast does not know (e.g. ``meta``)."""
    if torch.amp.is_autocast_available(device.type):
        return torch.autocast(device.type, enabled=False)
    return contextlib.nullcontext()
