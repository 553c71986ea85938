"""Input checks shared by the losses: one clear ``ValueError`` per kind of bad input."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from shared._precision import upcast


def check_matrix(name: str, x: Tensor) -> None:
    """Raise unless ``x`` is a 2-D floating tensor with finite entries."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 2:
        raise ValueError(f"{name} must be 2-D [N, D], got shape {tuple(x.shape)}")
    if x.shape[1] == 0:
        raise ValueError(f"{name} has no features (D = 0), shape {tuple(x.shape)}")
    check_floating(name, x)


def check_choice(name: str, value: object, choices: tuple) -> None:
    """Raise unless ``value`` is one of ``choices`` (a function and its module both call it,
    the module when built: one message for both)."""
    if value not in choices:
        allowed = (f"{choices[0]!r} or {choices[1]!r}" if len(choices) == 2
                   else f"one of {choices}")
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def check_floating(name: str, x: Tensor) -> None:
    """Raise unless ``x`` is a floating tensor with finite entries (any shape)."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    check_finite(name, x)


def check_finite(name: str, x: Tensor) -> None:
    """Raise if ``x`` holds NaN or inf (the usual sign of a diverged encoder)."""
    if not bool(torch.isfinite(x).all()):
        n_nan = int(torch.isnan(x).sum())
        n_inf = int(torch.isinf(x).sum())
        raise ValueError(
            f"{name} contains {n_nan} NaN and {n_inf} inf values; check the encoder output "
            "(a diverged model, a too-large learning rate or an fp16 overflow)"
        )


def value_range(x: Tensor) -> tuple[float, float]:
    """``(min, max)`` of a non-empty tensor, read with one device sync."""
    lo, hi = torch.stack(torch.aminmax(x)).tolist()
    return lo, hi


def check_rows(name: str, x: Tensor, at_least: int = 1) -> None:
    """Raise unless ``x`` has at least ``at_least`` rows (an empty batch gives a NaN mean)."""
    if x.shape[0] < at_least:
        raise ValueError(f"{name} needs at least {at_least} row{'s' * (at_least > 1)} (samples), "
                         f"got shape {tuple(x.shape)}")


def check_same_shape(a_name: str, a: Tensor, b_name: str, b: Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{a_name} and {b_name} must have the same shape, got {tuple(a.shape)} and "
            f"{tuple(b.shape)} (mismatched batch sizes or embedding dims)"
        )


def check_float_match(*named: tuple[str, Tensor]) -> None:
    """Raise unless the ``(name, tensor)`` pairs meet in one dtype once half precision is
    upcast to float32, as the losses do before any arithmetic (float16 or bfloat16 beside
    float32 is fine; float32 beside float64 fails inside a matmul with torch's "expected
    m1 and m2 to have the same dtype")."""
    if len({upcast(x).dtype for _, x in named}) > 1:
        listed = ", ".join(f"{name} {x.dtype}" for name, x in named)
        raise ValueError(f"the inputs must share one float precision, got {listed}; cast "
                         f"them to one (e.g. {named[-1][0]}.to({named[0][0]}.dtype))")


#: Smallest temperature the losses accept: float32's smallest normal number (about
#: 1.18e-38). Below it ``1 / temperature`` overflows float32, the precision logits are
#: computed in, and a cosine logit divided by it becomes inf and the loss NaN. The floor
#: is necessary, not sufficient: near it, losses of ~1e38 can still overflow when summed
#: or weighted (CrossCLR's ``intra_weight``); useful temperatures lie far above it.
MIN_TEMPERATURE = torch.finfo(torch.float32).tiny


def check_temperature(temperature: float | Tensor) -> None:
    # detached: a learnable temperature's float() would warn about requires_grad on each call
    t = float(temperature.detach() if isinstance(temperature, Tensor) else temperature)
    if not math.isfinite(t) or t <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    if t < MIN_TEMPERATURE:
        raise ValueError(
            f"temperature {t:.3g} is below {MIN_TEMPERATURE:.3g}, float32's smallest normal "
            f"number: logits / temperature would overflow to inf and the loss be NaN; use a "
            f"temperature >= {MIN_TEMPERATURE:.3g} (typical values are 0.05-1)")


def check_mask(name: str, mask: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Return ``mask`` as bool after checking its shape and that it is bool or holds
    only 0 and 1 (a soft or scaled mask would otherwise count every nonzero as True)."""
    if not isinstance(mask, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(mask).__name__}")
    if tuple(mask.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(mask.shape)}")
    if mask.dtype != torch.bool:
        off = mask[(mask != 0) & (mask != 1)]
        if off.numel():
            raise ValueError(f"{name} must be a bool mask (or hold only 0 and 1), got the "
                             f"value {off.flatten()[0].item()!r}; threshold it first, e.g. "
                             f"{name} > 0.5")
        return mask.bool()
    return mask
