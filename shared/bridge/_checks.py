"""Shape checks for ``shared.bridge``: one clear ``ValueError`` per kind of bad input."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from shared._validation import check_finite


def check_tensor(name: str, x: Tensor, ndim: int, layout: str, allow_empty: bool = False) -> None:
    """Raise ``ValueError`` unless ``x`` is a finite floating tensor with ``ndim`` dimensions,
    none of them of size 0 unless ``allow_empty`` (an empty batch would give a NaN mean).

    ``layout`` names the expected dimensions (for example ``"[B, P, D]"``) and is quoted in
    the message.
    """
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor {layout}, got {type(x).__name__}")
    if x.dim() != ndim:
        raise ValueError(f"{name} must be {ndim}-D {layout}, got shape {tuple(x.shape)}")
    if not allow_empty and 0 in x.shape:
        raise ValueError(f"{name} is empty: shape {tuple(x.shape)} for {layout}; every "
                         f"dimension needs at least one entry")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.device.type != "meta":  # meta tensors (device checks) carry no values
        check_finite(name, x)


def check_negatives(what: str, candidates: int, extra: bool = False) -> None:
    """Raise ``ValueError`` unless a contrastive term over a batch has a negative: at least
    2 ``candidates`` (batch rows), or ``extra`` ones supplied. With one, every candidate is
    a positive: nothing is contrasted (the loss is a constant, 0 or ``log 2``, with no
    gradient, unless a second positive pulls without any push)."""
    if candidates < 2 and not extra:
        raise ValueError(f"{what} needs a batch of at least 2 (the other rows are the "
                         f"negatives), got {candidates}: with one there is no negative "
                         f"to contrast against")


def check_dims_match(what: str, names: Sequence[str], sizes: Sequence[int]) -> None:
    """Raise ``ValueError`` unless all ``sizes`` are equal (``what``: e.g. "batch size")."""
    if len(set(int(s) for s in sizes)) > 1:
        pairs = ", ".join(f"{n}={int(s)}" for n, s in zip(names, sizes, strict=True))
        raise ValueError(f"{what} must agree: {pairs}")
