"""Long/short view decomposition into stationary and non-stationary features
(Behrmann et al., ICCV 2021; no official code, so this follows the paper's text).

A long clip and ``K`` short sub-clips of it are encoded by the same backbone; two heads map
each backbone feature to a *stationary* part and a *non-stationary* part.

* **Stationary** (shared by long and short views): each short view's stationary part is the
  query, the long view's stationary part of the same video is the positive, the long views
  of the other videos are the negatives (InfoNCE, :func:`shared.losses.info_nce`); averaged
  over the ``K`` short views, hence invariant to their order.
* **Non-stationary** (short views aggregate to the long one): an *order-aware* aggregator
  (concatenation in temporal order followed by an MLP, or a GRU) maps the ``K`` short
  non-stationary parts to a prediction of the long view's non-stationary part, contrasted
  against the other videos' long views. Shuffling the short views changes this term.
* **Same-video long view** (optional ``other_long_feat``, our addition): a long view of the
  same video from a *disjoint* time window. It shares the video's stationary content and not
  its non-stationary content, so it is a second positive of the stationary term and a hard
  negative of the non-stationary term. Against other videos alone, the non-stationary term
  can be solved with static cues (colour, size, position tell a batch's videos apart); the
  same-video negative can only be told apart by what changed over time.

Total = stationary + non-stationary (weights adjustable).

Example::

    >>> import torch
    >>> from shared.bridge.long_short import LongShortLoss
    >>> loss = LongShortLoss(feat_dim=64, stationary_dim=16, nonstationary_dim=16, num_short=4)
    >>> out = loss(torch.randn(8, 64), torch.randn(8, 4, 64))
    >>> sorted(out)
    ['loss', 'nonstationary', 'stationary']
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from shared.bridge._checks import check_dims_match, check_negatives, check_tensor
from shared.heads import ProjectionHead
from shared.losses import info_nce

__all__ = ["stationary_loss", "nonstationary_loss", "OrderAwareAggregator", "LongShortLoss"]


def _with_own_extra(keys: Tensor, extra: Tensor,
                    extra_is_positive: bool) -> tuple[Tensor, Tensor, Tensor]:
    """Keys ``[2B, D]`` = keys then extra; row ``i``'s positives (and kept entries) for
    :func:`shared.losses.info_nce`, where ``extra[i]`` counts for row ``i`` only."""
    b = keys.shape[0]
    eye = torch.eye(b, dtype=torch.bool, device=keys.device)
    none = torch.zeros_like(eye)
    positive = torch.cat([eye, eye if extra_is_positive else none], dim=1)
    exclude = torch.cat([none, ~eye], dim=1)
    return torch.cat([keys, extra]), positive, exclude


def _check_extra(name: str, extra: Tensor, like: Tensor, like_name: str) -> None:
    if extra.shape != like.shape:
        raise ValueError(
            f"{name} must have the shape of {like_name} {tuple(like.shape)}, got "
            f"{tuple(extra.shape)}"
        )


def stationary_loss(
    long_s: Tensor,
    short_s: Tensor,
    temperature: float = 0.1,
    other_long_s: Tensor | None = None,
    *,
    require_negatives: bool = True,
) -> Tensor:
    """Stationary term: every short view retrieves its own long view.

    Args:
        long_s: ``[B, D]`` stationary parts of the long views.
        short_s: ``[B, K, D]`` stationary parts of the ``K`` short views.
        other_long_s: optional ``[B, D]`` stationary parts of a long view of the same video
            from another time window: a second positive for that video's short views only.
        require_negatives: refuse (``ValueError``) a batch with no negative, whose loss
            would contrast nothing; ``False`` computes it anyway (the combined losses pass
            it when another weighted term has negatives).

    Returns:
        Scalar, mean over the ``K`` short views of InfoNCE(short_k -> long); invariant to any
        permutation of the short views.
    """
    check_tensor("long_s", long_s, 2, "[B, D]")
    check_tensor("short_s", short_s, 3, "[B, K, D]")
    check_dims_match("batch size", ["long_s", "short_s"], [long_s.shape[0], short_s.shape[0]])
    check_dims_match("feature dim", ["long_s", "short_s"], [long_s.shape[1], short_s.shape[2]])
    if require_negatives:  # off: a combined loss whose other term has negatives
        check_negatives("stationary_loss", long_s.shape[0])  # other_long_s is a positive
    k = short_s.shape[1]
    positive = exclude = None
    keys = long_s
    if other_long_s is not None:
        _check_extra("other_long_s", other_long_s, long_s, "long_s")
        keys, positive, exclude = _with_own_extra(long_s, other_long_s, extra_is_positive=True)
    return torch.stack(
        [info_nce(short_s[:, i], keys, positive, temperature, exclude_mask=exclude)
         for i in range(k)]
    ).mean()


def nonstationary_loss(
    long_n: Tensor,
    predicted_n: Tensor,
    temperature: float = 0.1,
    other_long_n: Tensor | None = None,
    *,
    require_negatives: bool = True,
) -> Tensor:
    """Non-stationary term: the aggregate of the short views retrieves its long view.

    Args:
        long_n: ``[B, D]`` non-stationary parts of the long views.
        predicted_n: ``[B, D]`` order-aware aggregate of the short views' parts.
        other_long_n: optional ``[B, D]`` non-stationary parts of a long view of the same
            video from another time window: one extra negative for that video's row only. If
            ``other_long_n == long_n`` (nothing changed over time) the loss cannot go below
            ``log 2``.
        require_negatives: refuse (``ValueError``) a batch with no negative, whose loss
            would contrast nothing; ``False`` computes it anyway (the combined losses pass
            it when another weighted term has negatives).
    """
    check_tensor("long_n", long_n, 2, "[B, D]")
    check_tensor("predicted_n", predicted_n, 2, "[B, D]")
    if long_n.shape != predicted_n.shape:
        raise ValueError(
            f"long_n and predicted_n must have the same shape, got {tuple(long_n.shape)} and "
            f"{tuple(predicted_n.shape)}"
        )
    if require_negatives:
        check_negatives("nonstationary_loss", long_n.shape[0], other_long_n is not None)
    if other_long_n is None:
        return info_nce(predicted_n, long_n, temperature=temperature)
    _check_extra("other_long_n", other_long_n, long_n, "long_n")
    keys, positive, exclude = _with_own_extra(long_n, other_long_n, extra_is_positive=False)
    return info_nce(predicted_n, keys, positive, temperature, exclude_mask=exclude)


class OrderAwareAggregator(nn.Module):
    """Aggregate ``[B, K, D]`` short-view parts into ``[B, D]``, sensitive to their order.

    ``mode="concat"``: concatenate in order then a 2-layer MLP; ``mode="gru"``: last hidden
    state of a GRU run over the ``K`` views, then a Linear.
    """

    def __init__(self, dim: int, num_short: int,
                 mode: Literal["concat", "gru"] = "concat") -> None:
        super().__init__()
        self.mode, self.num_short, self.dim = mode, int(num_short), int(dim)
        if mode == "concat":
            self.net: nn.Module = ProjectionHead(dim * num_short, 2 * dim, dim)
        elif mode == "gru":
            self.gru = nn.GRU(dim, dim, batch_first=True)
            self.net = nn.Linear(dim, dim)
        else:
            raise ValueError(f"mode must be 'concat' or 'gru', got {mode!r}")

    def forward(self, short_n: Tensor) -> Tensor:
        check_tensor("short_n", short_n, 3, "[B, K, D]")
        if short_n.shape[1:] != (self.num_short, self.dim):
            raise ValueError(
                f"short_n must be [B, {self.num_short}, {self.dim}], got {tuple(short_n.shape)}"
            )
        if self.mode == "concat":
            return self.net(short_n.reshape(short_n.shape[0], -1))
        _, h = self.gru(short_n)
        return self.net(h[-1])


class LongShortLoss(nn.Module):
    """Stationary + non-stationary objective with its heads and aggregator.

    Args:
        feat_dim: backbone feature size ``F``.
        stationary_dim, nonstationary_dim: sizes of the two parts.
        num_short: ``K`` short views per long view.
        temperature: InfoNCE temperature for both terms.
        aggregator: ``"concat"`` or ``"gru"`` (see :class:`OrderAwareAggregator`).
        stationary_weight, nonstationary_weight: term weights (1, 1).

    Forward args:
        long_feat: ``[B, F]`` backbone features of the long views.
        short_feat: ``[B, K, F]`` backbone features of the short views, in temporal order.
        other_long_feat: optional ``[B, F]`` features of a long view of the same video from
            a disjoint time window (see the module docstring).

    Returns:
        dict with ``loss``, ``stationary``, ``nonstationary``.
    """

    def __init__(
        self,
        feat_dim: int,
        stationary_dim: int,
        nonstationary_dim: int,
        num_short: int,
        temperature: float = 0.1,
        aggregator: Literal["concat", "gru"] = "concat",
        stationary_weight: float = 1.0,
        nonstationary_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.stationary_head = ProjectionHead(feat_dim, feat_dim, stationary_dim)
        self.nonstationary_head = ProjectionHead(feat_dim, feat_dim, nonstationary_dim)
        self.aggregator = OrderAwareAggregator(nonstationary_dim, num_short, aggregator)
        self.temperature = float(temperature)
        self.stationary_weight = float(stationary_weight)
        self.nonstationary_weight = float(nonstationary_weight)

    def split(self, feat: Tensor) -> tuple[Tensor, Tensor]:
        """``[..., F]`` -> (stationary ``[..., Ds]``, non-stationary ``[..., Dn]``)."""
        return self.stationary_head(feat), self.nonstationary_head(feat)

    def forward(
        self, long_feat: Tensor, short_feat: Tensor, other_long_feat: Tensor | None = None
    ) -> dict[str, Tensor]:
        check_tensor("long_feat", long_feat, 2, "[B, F]")
        check_tensor("short_feat", short_feat, 3, "[B, K, F]")
        check_dims_match("batch size", ["long_feat", "short_feat"],
                         [long_feat.shape[0], short_feat.shape[0]])
        check_dims_match("feature dim", ["long_feat", "short_feat"],
                         [long_feat.shape[1], short_feat.shape[2]])
        check_dims_match("short views", ["short_feat's K", "num_short"],
                         [short_feat.shape[1], self.aggregator.num_short])
        ls, ln = self.split(long_feat)
        ss, sn = self.split(short_feat)
        os_ = on = None
        if other_long_feat is not None:
            _check_extra("other_long_feat", other_long_feat, long_feat, "long_feat")
            os_, on = self.split(other_long_feat)
        # one video has no negative for the stationary term (the other window's view is a
        # positive) but one for the non-stationary term: refused only when no weighted
        # term has a negative
        b = long_feat.shape[0]
        strict = not any(w != 0 and ok for w, ok in (
            (self.stationary_weight, b >= 2),
            (self.nonstationary_weight, b >= 2 or other_long_feat is not None)))
        st = stationary_loss(ls, ss, self.temperature, os_, require_negatives=strict)
        ns = nonstationary_loss(ln, self.aggregator(sn), self.temperature, on,
                                require_negatives=strict)
        total = self.stationary_weight * st + self.nonstationary_weight * ns
        return {"loss": total, "stationary": st, "nonstationary": ns}
