"""CBT: contrastive bidirectional transformer (Sun et al., 2019; no official code).

* **Visual (masked continuous features)**: some steps of a sequence of continuous features
  are replaced by a learned mask token; a bidirectional transformer reads the sequence and
  its output ``e_t`` at each masked step is scored against the true feature ``y_t``
  (positive) and the other masked steps' features in the batch (negatives) with
  ``exp(e_t . y_t)`` (dot product, no temperature), an NCE / InfoNCE loss
  (:func:`masked_feature_nce`). All scores equal -> ``log(1 + #negatives)``; orthogonal
  features scaled up with ``e_t = y_t`` -> 0.
* **Cross-modal (sequence level)**: a second transformer reads ``[CLS] text [SEP] visual``
  and scores the pair; aligned pairs are positives, the other sequences of the batch
  negatives, again InfoNCE over the ``[B, B]`` score matrix (:func:`cross_modal_nce`).

Example::

    >>> import torch
    >>> from shared.bridge.cbt import CBTVisual
    >>> model = CBTVisual(feat_dim=32, d_model=32, num_layers=1)
    >>> x = torch.randn(4, 10, 32)
    >>> out = model(x, model.random_mask(4, 10, 0.15, torch.Generator().manual_seed(0)))
    >>> out["loss"].ndim
    0
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from shared.bridge._checks import check_dims_match, check_negatives, check_tensor
from shared.losses import info_nce

__all__ = ["masked_feature_nce", "cross_modal_nce", "CBTVisual", "CBTCrossModal"]


def masked_feature_nce(
    outputs: Tensor, targets: Tensor, extra_negatives: Tensor | None = None
) -> Tensor:
    """NCE of transformer outputs at masked steps against the true features.

    Args:
        outputs: ``[M, D]`` transformer outputs ``e_t`` at the ``M`` masked steps.
        targets: ``[M, D]`` true features ``y_t`` (row ``i`` is the positive of output ``i``;
            the other rows are its negatives).
        extra_negatives: optional ``[R, D]`` more negatives (e.g. unmasked features).

    Returns:
        Scalar mean over ``M`` of ``-log softmax_j(e_i . y_j)[i]``; ``log(M + R)`` when all
        scores are equal. With ``M + R = 1`` (one masked step in the whole batch, no extra
        negatives) the loss is 0 with no gradient; it is returned rather than refused
        because :meth:`CBTVisual.random_mask` draws such masks by chance for one sequence
        (train on batches of several sequences).
    """
    check_tensor("outputs", outputs, 2, "[M, D]")
    check_tensor("targets", targets, 2, "[M, D]")
    if outputs.shape != targets.shape:
        raise ValueError(
            f"outputs and targets must have the same shape, got {tuple(outputs.shape)} and "
            f"{tuple(targets.shape)}"
        )
    keys = targets
    if extra_negatives is not None:
        check_tensor("extra_negatives", extra_negatives, 2, "[R, D]", allow_empty=True)
        check_dims_match("feature dim", ["targets", "extra_negatives"],
                         [targets.shape[1], extra_negatives.shape[1]])
        keys = torch.cat([targets, extra_negatives])
    m = outputs.shape[0]
    pos = torch.zeros(m, keys.shape[0], dtype=torch.bool, device=outputs.device)
    pos[torch.arange(m), torch.arange(m)] = True
    return info_nce(outputs, keys, pos, temperature=1.0, similarity="dot")


def cross_modal_nce(scores: Tensor, symmetric: bool = False) -> Tensor:
    """InfoNCE over a ``[B, B]`` matrix of pair scores (``scores[i, j]`` = text i, visual j).

    Row ``i``'s positive is column ``i``. ``symmetric`` also averages in the columns.
    """
    check_tensor("scores", scores, 2, "[B, B]")
    if scores.shape[0] != scores.shape[1]:
        raise ValueError(f"scores must be square [B, B], got {tuple(scores.shape)}")
    check_negatives("cross_modal_nce", scores.shape[0])
    target = torch.arange(scores.shape[0], device=scores.device)
    loss = F.cross_entropy(scores, target)
    if symmetric:
        loss = 0.5 * (loss + F.cross_entropy(scores.T, target))
    return loss


def _encoder(d_model: int, num_layers: int, num_heads: int, dropout: float) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        d_model, num_heads, dim_feedforward=2 * d_model, dropout=dropout, batch_first=True
    )
    return nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)


class CBTVisual(nn.Module):
    """Bidirectional transformer over continuous features with masked-step NCE.

    Args:
        feat_dim: ``D`` of the input features.
        d_model, num_layers, num_heads, dropout: transformer size.
        max_len: longest sequence (learned positional embeddings).

    forward(features ``[B, T, D]``, mask ``[B, T]`` bool) -> dict with ``loss`` (scalar),
    ``outputs`` ``[M, D]`` and ``targets`` ``[M, D]`` at the ``M`` masked steps, and
    ``accuracy`` (masked-step retrieval among the batch's masked features, a float).
    """

    def __init__(
        self,
        feat_dim: int,
        d_model: int = 64,
        num_layers: int = 2,
        num_heads: int = 4,
        dropout: float = 0.0,
        max_len: int = 128,
    ) -> None:
        super().__init__()
        self.feat_dim = int(feat_dim)
        self.inp = nn.Linear(feat_dim, d_model)
        self.mask_token = nn.Parameter(torch.zeros(d_model))
        self.pos = nn.Parameter(0.02 * torch.randn(max_len, d_model))
        self.encoder = _encoder(d_model, num_layers, num_heads, dropout)
        self.out = nn.Linear(d_model, feat_dim)

    @staticmethod
    def random_mask(
        batch: int, length: int, rate: float = 0.15, generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """``[batch, length]`` bool, on ``device``: each step masked with probability ``rate``,
        and one uniformly drawn step per row always (so ``1 + (length - 1) * rate`` masked
        steps per row on average). Drawn on the generator's device (CPU by default)."""
        gen_device = generator.device if generator is not None else torch.device("cpu")
        mask = torch.rand(batch, length, generator=generator, device=gen_device) < rate
        first = torch.randint(0, length, (batch,), generator=generator, device=gen_device)
        mask[torch.arange(batch, device=gen_device), first] = True
        return mask.to(device) if device is not None else mask

    def encode(self, features: Tensor, mask: Tensor) -> Tensor:
        """Transformer outputs projected back to feature space: ``[B, T, D]``."""
        check_tensor("features", features, 3, "[B, T, D]")
        b, t, d = features.shape
        if d != self.feat_dim:
            raise ValueError(f"features must have feature dim {self.feat_dim}, got {d}")
        if not isinstance(mask, Tensor) or mask.shape != (b, t) or mask.dtype != torch.bool:
            raise ValueError(f"mask must be a bool tensor of shape ({b}, {t})")
        if t > self.pos.shape[0]:
            raise ValueError(f"sequence length {t} exceeds max_len {self.pos.shape[0]}")
        mask = mask.to(features.device)
        h = self.inp(features)
        h = torch.where(mask[..., None], self.mask_token.expand_as(h), h) + self.pos[:t]
        return self.out(self.encoder(h))

    def forward(self, features: Tensor, mask: Tensor) -> dict[str, Tensor | float]:
        e = self.encode(features, mask)
        mask = mask.to(features.device)
        if not bool(mask.any()):
            raise ValueError("mask selects no step: the loss needs at least one masked step "
                             "(CBTVisual.random_mask masks one per row at least)")
        outputs, targets = e[mask], features[mask]
        loss = masked_feature_nce(outputs, targets)
        with torch.no_grad():
            acc = float(((outputs @ targets.T).argmax(1) == torch.arange(len(targets), device=targets.device)).float().mean())
        return {"loss": loss, "outputs": outputs, "targets": targets, "accuracy": acc}


class CBTCrossModal(nn.Module):
    """Transformer that scores (text sequence, visual sequence) pairs; sequence-level NCE.

    Args:
        text_dim, visual_dim: input feature sizes.
        d_model, num_layers, num_heads, dropout, max_len: transformer size.

    ``score_matrix(text [B, L, Dt], visual [B, T, Dv]) -> [B, B]`` scores every pairing
    (``B^2`` transformer passes); forward returns ``{"loss", "scores", "accuracy"}`` where
    accuracy is text->visual retrieval R@1 within the batch.
    """

    def __init__(
        self,
        text_dim: int,
        visual_dim: int,
        d_model: int = 64,
        num_layers: int = 2,
        num_heads: int = 4,
        dropout: float = 0.0,
        max_len: int = 128,
    ) -> None:
        super().__init__()
        self.text_in = nn.Linear(text_dim, d_model)
        self.visual_in = nn.Linear(visual_dim, d_model)
        self.cls = nn.Parameter(0.02 * torch.randn(d_model))
        self.sep = nn.Parameter(0.02 * torch.randn(d_model))
        self.modality = nn.Parameter(0.02 * torch.randn(2, d_model))
        self.pos = nn.Parameter(0.02 * torch.randn(max_len, d_model))
        self.encoder = _encoder(d_model, num_layers, num_heads, dropout)
        self.score = nn.Linear(d_model, 1)

    def pair_scores(self, text: Tensor, visual: Tensor) -> Tensor:
        """Score aligned rows: text ``[N, L, Dt]``, visual ``[N, T, Dv]`` -> ``[N]``."""
        n = text.shape[0]
        tt = self.text_in(text) + self.modality[0]
        vv = self.visual_in(visual) + self.modality[1]
        seq = torch.cat([self.cls.expand(n, 1, -1), tt, self.sep.expand(n, 1, -1), vv], dim=1)
        if seq.shape[1] > self.pos.shape[0]:
            raise ValueError(f"text + visual length {seq.shape[1]} exceeds max_len {self.pos.shape[0]}")
        h = self.encoder(seq + self.pos[: seq.shape[1]])
        return self.score(h[:, 0]).squeeze(-1)

    def score_matrix(self, text: Tensor, visual: Tensor) -> Tensor:
        check_tensor("text", text, 3, "[B, L, Dt]")
        check_tensor("visual", visual, 3, "[B, T, Dv]")
        check_dims_match("batch size", ["text", "visual"], [text.shape[0], visual.shape[0]])
        b = text.shape[0]
        ti = torch.arange(b).repeat_interleave(b)
        vi = torch.arange(b).repeat(b)
        return self.pair_scores(text[ti], visual[vi]).view(b, b)

    def forward(self, text: Tensor, visual: Tensor) -> dict[str, Tensor | float]:
        s = self.score_matrix(text, visual)
        with torch.no_grad():
            acc = float((s.argmax(1) == torch.arange(len(s), device=s.device)).float().mean())
        return {"loss": cross_modal_nce(s), "scores": s, "accuracy": acc}
