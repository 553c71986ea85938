"""Which auxiliary losses a run uses, and their settings (each a CLI flag but ``rcrl_hidden_dim``, the spec's fixed 256)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

AUX_CHOICES = ("rcrl", "curl")


def parse_aux(spec: str) -> tuple[str, ...]:
    """``"none" | "rcrl" | "curl" | "rcrl,curl"`` -> sorted tuple of names.

    :raises ValueError: on an unknown name, with the accepted spellings.
    """
    names = [s.strip().lower() for s in spec.split(",") if s.strip()]
    if not names:
        raise ValueError(f"empty --aux {spec!r}: use --aux none, rcrl, curl or rcrl,curl")
    if names == ["none"]:
        return ()
    if "none" in names:
        raise ValueError(f"--aux {spec!r}: 'none' stands alone; use --aux none, rcrl, curl or rcrl,curl")
    unknown = [n for n in names if n not in AUX_CHOICES]
    if unknown:
        raise ValueError(f"unknown auxiliary loss {unknown[0]!r}: use --aux none, rcrl, curl or rcrl,curl")
    return tuple(sorted(set(names), key=AUX_CHOICES.index))


def odd_batch_message(batch_size: int) -> str:
    """Why RCRL's ``"batch"`` partners refuse an odd RL batch, and the two ways out."""
    return (f"RCRL with rcrl_partners='batch' splits the RL batch into anchors and their "
            f"partners, so the batch size must be even, got {batch_size}: use an even "
            f"--batch-size or --rcrl-partners extra.")


def check_aux_settings(settings: Mapping[str, Any], spell: Callable[[str], str] = str) -> None:
    """Range checks of the numeric auxiliary-loss settings present in ``settings`` (the
    fields of :class:`AuxConfig`, or the same-named options of a run's config);
    ``spell`` names a setting in the message (e.g. as its command-line flag)."""
    for name in ("rcrl_weight", "curl_weight"):
        if name in settings and not 0 <= settings[name] < math.inf:
            raise ValueError(f"{spell(name)} must be a finite number >= 0, got {settings[name]}")
    for name in ("rcrl_hidden_dim", "rcrl_embed_dim"):
        if name in settings and settings[name] < 1:
            raise ValueError(f"{spell(name)} must be >= 1, got {settings[name]}")
    momentum = settings.get("curl_momentum")
    if momentum is not None and not 0 <= momentum <= 1:
        raise ValueError(f"{spell('curl_momentum')} must be in [0, 1], got {momentum}")


@dataclass
class AuxConfig:
    """Auxiliary-loss settings. Defaults marked (spec) are our choices (the RCRL paper's are unknown).

    :param names: enabled losses, a subset of ``("rcrl", "curl")``.
    :param rcrl_weight: lambda of ``L = L_RL + lambda * L_RCRL`` (spec: 1).
    :param rcrl_hidden_dim: hidden width of the (state, action) embedding MLP (spec: 256).
    :param rcrl_embed_dim: embedding size fed to the bilinear discriminator (spec: 64).
    :param rcrl_partners: ``"batch"``: half of the RL batch are anchors and half their positive
        partners (no extra encoder work; the RL batch stays marginally uniform); ``"extra"``: the
        full RL batch are anchors and the partners are encoded in the same forward pass on top.
    :param curl_weight: weight of the CURL loss.
    :param curl_momentum: EMA rate of CURL's key encoder (``None``: the agent's default).
    """

    names: tuple[str, ...] = ()
    rcrl_weight: float = 1.0
    rcrl_hidden_dim: int = 256
    rcrl_embed_dim: int = 64
    rcrl_partners: Literal["batch", "extra"] = "batch"
    curl_weight: float = 1.0
    curl_momentum: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.names, str) or not set(self.names) <= set(AUX_CHOICES):
            raise ValueError(f"names must be a subset of {AUX_CHOICES} (lower case), got "
                             f"{self.names!r}; parse_aux('rcrl,curl') builds it from a string")
        check_aux_settings(vars(self))
        if self.rcrl_partners not in ("batch", "extra"):
            raise ValueError(f"rcrl_partners must be 'batch' or 'extra', got {self.rcrl_partners!r}")

    @property
    def rcrl(self) -> bool:
        return "rcrl" in self.names

    @property
    def curl(self) -> bool:
        return "curl" in self.names
