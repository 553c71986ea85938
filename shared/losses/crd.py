"""Contrastive Representation Distillation (CRD).

Tian, Krishnan & Isola, "Contrastive Representation Distillation", ICLR 2020,
https://arxiv.org/abs/1910.10699. Conventions follow the official release
(HobbitLong/RepDistiller): two momentum memory banks, NCE with ``K`` negatives and noise
probability ``1 / n_data``, the normaliser ``Z`` fixed on the first call.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from shared._precision import autocast_off, upcast
from shared._validation import check_matrix, check_rows, check_temperature, value_range


class CRDLoss(nn.Module):
    r"""CRD loss between student and teacher features, both directions summed.

    Each side embeds its features (``Linear`` to ``feat_dim`` then L2 normalisation) and is
    scored against the *other* side's memory bank at the sample's own index (positive) and at
    ``K`` other indices (negatives): :math:`x = \exp(v^\top m / \tau) / Z`. The NCE loss with
    noise probability :math:`P_n = 1/n_{data}` is

    .. math::
        -\log \frac{x_0}{x_0 + K P_n} - \sum_{k=1}^{K} \log \frac{K P_n}{x_k + K P_n},

    evaluated here in log space with ``softplus`` (no bare ``exp``), so it is finite for any
    temperature and dtype. ``Z`` is fixed on the first call as ``mean(exp(scores / tau)) *
    n_data``. After scoring, each bank row at the batch indices moves toward the new embedding:
    ``m <- normalize(momentum * m + (1 - momentum) * v)`` under ``no_grad``. Both happen in
    training mode only: in ``eval()`` mode (validation passes) the banks are read, not changed,
    and a ``Z`` not yet fixed is computed for the call without being kept.

    Args:
        student_dim: student feature dim ``Ds``.
        teacher_dim: teacher feature dim ``Dt``.
        n_data: number of training samples (rows of each memory bank).
        feat_dim: embedding dim (128 in the paper).
        num_negatives: ``K`` (16384 in the paper).
        temperature: :math:`\tau` (0.07).
        momentum: memory-bank momentum (0.5).
        labels: optional ``[n_data]`` class labels; when given, sampled negatives come only
            from other classes (the release's ``mode='exact'`` sampler).

    Shapes:
        forward(f_s ``[B, Ds]``, f_t ``[B, Dt]``, index ``[B]`` long,
        contrast_index ``[B, K + 1]`` long or ``None``) -> scalar. ``contrast_index[:, 0]`` must
        be ``index``; when ``None`` negatives are drawn uniformly (or from other classes).

    Example:
        >>> crd = CRDLoss(32, 64, n_data=100, num_negatives=10)
        >>> loss = crd(torch.randn(8, 32), torch.randn(8, 64), torch.arange(8))
    """

    def __init__(
        self,
        student_dim: int,
        teacher_dim: int,
        n_data: int,
        feat_dim: int = 128,
        num_negatives: int = 16384,
        temperature: float = 0.07,
        momentum: float = 0.5,
        labels: Tensor | None = None,
    ) -> None:
        super().__init__()
        if n_data < 2:
            raise ValueError(f"n_data must be at least 2, got {n_data}")
        if num_negatives < 1:
            raise ValueError(f"num_negatives must be >= 1, got {num_negatives}")
        if feat_dim < 1:
            raise ValueError(f"feat_dim must be >= 1, got {feat_dim}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
        check_temperature(temperature)
        self.embed_student = nn.Linear(student_dim, feat_dim)
        self.embed_teacher = nn.Linear(teacher_dim, feat_dim)
        self.n_data, self.num_negatives = n_data, num_negatives
        self.temperature, self.momentum = temperature, momentum
        stdv = 1.0 / math.sqrt(feat_dim / 3)
        self.register_buffer("memory_student", torch.rand(n_data, feat_dim) * 2 * stdv - stdv)
        self.register_buffer("memory_teacher", torch.rand(n_data, feat_dim) * 2 * stdv - stdv)
        # log Z for each side, fixed on the first call (NaN = not yet set).
        self.register_buffer("log_z", torch.full((2,), float("nan")))
        if labels is not None:
            labels = torch.as_tensor(labels)
            if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
                # .long() would truncate 0.5 and 1.2 to 0 and 1: other classes, silently
                raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}")
            labels = labels.long()
            if labels.shape != (n_data,):
                raise ValueError(f"labels must have shape ({n_data},), got {tuple(labels.shape)}")
        self.register_buffer("labels", labels)

    def _check_index(self, index: Tensor) -> None:
        """Raise ``ValueError`` unless ``index`` is a non-empty ``[B]`` of dataset indices."""
        if index.dim() != 1 or index.numel() == 0:
            raise ValueError(f"index must be a non-empty [B] tensor, got shape {tuple(index.shape)}")
        lo, hi = value_range(index)
        if index.dtype not in (torch.int64, torch.int32) or lo < 0 or hi >= self.n_data:
            raise ValueError(f"index must hold dataset indices in [0, n_data={self.n_data}), got "
                             f"{index.dtype} values in [{lo}, {hi}] (a negative one would address "
                             f"the memory bank from its end)")

    def sample_contrast_index(self, index: Tensor) -> Tensor:
        """``[B]`` -> ``[B, K + 1]``: the sample itself, then ``K`` negatives drawn with replacement."""
        self._check_index(index)
        return self._sample_contrast_index(index)

    def _sample_contrast_index(self, index: Tensor) -> Tensor:  # index checked
        b, k = index.shape[0], self.num_negatives
        if self.labels is None:
            negatives = torch.randint(self.n_data, (b, k), device=index.device)
        else:  # drawn where the labels live, returned where index lives
            dev = self.labels.device
            negatives = torch.empty(b, k, dtype=torch.long, device=dev)
            anchor_labels = self.labels[index.to(dev)]
            for c in anchor_labels.unique():
                rows = anchor_labels == c
                pool = torch.nonzero(self.labels != c).flatten()
                if pool.numel() == 0:
                    raise ValueError(f"class {int(c)} has no samples of another class to contrast")
                draw = torch.randint(pool.numel(), (int(rows.sum()), k), device=dev)
                negatives[rows] = pool[draw]
            negatives = negatives.to(index.device)
        return torch.cat([index[:, None], negatives], dim=1)

    def forward(
        self, f_s: Tensor, f_t: Tensor, index: Tensor, contrast_index: Tensor | None = None
    ) -> Tensor:
        check_matrix("f_s", f_s)
        check_matrix("f_t", f_t)
        check_rows("f_s", f_s)
        for name, f, head in (("f_s", f_s, self.embed_student), ("f_t", f_t, self.embed_teacher)):
            width = getattr(head, "in_features", None)  # None: a head the caller swapped in
            if width is not None and f.shape[1] != width:
                raise ValueError(f"{name} has {f.shape[1]} features, but this CRDLoss was built "
                                 f"for {width} (its student_dim / teacher_dim)")
        if f_s.shape[0] != f_t.shape[0] or index.shape != (f_s.shape[0],):
            raise ValueError(
                f"f_s, f_t and index must share the batch size, got {f_s.shape[0]}, "
                f"{f_t.shape[0]} and index shape {tuple(index.shape)}"
            )
        self._check_index(index)
        if contrast_index is None:
            contrast_index = self._sample_contrast_index(index)
        else:
            self._check_contrast_index(contrast_index, index)
        h_s, h_t = self.embed_student(f_s), self.embed_teacher(f_t)  # caller's autocast, if any
        with autocast_off(h_s.device):
            v_s, v_t = F.normalize(upcast(h_s), dim=1), F.normalize(upcast(h_t), dim=1)
            # Teacher embedding against the student bank, and vice versa: [B, K+1] scores.
            scores_t = self.memory_scores(self.memory_student, v_t, contrast_index)
            scores_s = self.memory_scores(self.memory_teacher, v_s, contrast_index)
            log_x_t = self._log_normalised(scores_t, side=0)
            log_x_s = self._log_normalised(scores_s, side=1)
            loss = self.nce_loss(log_x_s) + self.nce_loss(log_x_t)
        if self.training:  # eval() passes read the banks without changing them
            self._update_memory(index, v_s.detach(), v_t.detach())
        return loss

    def _check_contrast_index(self, contrast_index: Tensor, index: Tensor) -> None:
        if (contrast_index.dim() != 2 or contrast_index.shape[0] != index.shape[0]
                or contrast_index.shape[1] < 2):
            raise ValueError(
                f"contrast_index must be [B, K+1] with K >= 1 negatives, got shape "
                f"{tuple(contrast_index.shape)}"
            )
        if contrast_index.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"contrast_index must hold dataset indices (torch.long), got "
                             f"{contrast_index.dtype}")
        lo, hi = value_range(contrast_index)
        if lo < 0 or hi >= self.n_data:
            raise ValueError(
                f"contrast_index must lie in [0, n_data={self.n_data}), got values in [{lo}, {hi}]"
            )
        if not torch.equal(contrast_index[:, 0], index.to(contrast_index.device)):
            raise ValueError(
                "contrast_index[:, 0] must equal index (column 0 is each sample's positive); "
                "build it with sample_contrast_index(index)"
            )

    #: score the whole bank when it has at most this many times ``K + 1`` rows (see
    #: :meth:`memory_scores`; crossover measured by ``experiments/bench_crd_scores.py``)
    FULL_BANK_FACTOR = 16

    @classmethod
    def memory_scores(cls, memory: Tensor, v: Tensor, contrast_index: Tensor,
                      full_bank: bool | None = None) -> Tensor:
        """``[n_data, D]`` bank, ``[B, D]`` embeddings, ``[B, K+1]`` indices -> ``[B, K+1]``
        dot products ``memory[contrast_index[b, k]] . v[b]``.

        Two ways, equal up to float rounding: gather the ``[B, K+1, D]`` bank rows and take
        ``B (K+1)`` dot products (memory-bound, slow on CPU for large ``K``), or multiply
        ``v`` by the whole bank (``B n_data D`` multiply-adds in one dense matmul) and pick
        the ``K + 1`` columns. The second is used while ``n_data <= FULL_BANK_FACTOR * (K+1)``,
        where it measured faster (results/bench_crd_scores.md); ``full_bank`` forces one way.
        """
        # long: int32 indices are accepted, and gather took only int64 before recent torch
        contrast_index = contrast_index.to(v.device, torch.long)
        if full_bank is None:
            full_bank = memory.shape[0] <= cls.FULL_BANK_FACTOR * contrast_index.shape[1]
        if full_bank:
            # a copy: autograd keeps it for v's gradient, and the bank is updated in place
            bank = memory.to(v.dtype, copy=True)
            return torch.gather(v @ bank.T, 1, contrast_index)
        return torch.einsum("bkd,bd->bk", memory[contrast_index].to(v.dtype), v)

    def _log_normalised(self, scores: Tensor, side: int) -> Tensor:
        """``log x = scores / tau - log Z`` with ``Z`` fixed on the first call in training
        mode (in eval mode an unfixed ``Z`` is computed for this call only)."""
        logits = upcast(scores) / self.temperature
        log_z = self.log_z[side]
        if torch.isnan(log_z):
            with torch.no_grad():
                log_mean = torch.logsumexp(logits.flatten(), 0) - math.log(logits.numel())
                log_z = (log_mean + math.log(self.n_data)).to(self.log_z.dtype)
            if self.training:
                self.log_z[side] = log_z
        return logits - log_z

    def nce_loss(self, log_x: Tensor) -> Tensor:
        """NCE loss from ``[B, K+1]`` log-probabilities (column 0 positive), mean over the batch."""
        k = log_x.shape[1] - 1
        log_k_pn = math.log(k / self.n_data)
        log_d1 = -F.softplus(log_k_pn - log_x[:, 0])
        log_d0 = -F.softplus(log_x[:, 1:] - log_k_pn)
        return -(log_d1.sum() + log_d0.sum()) / log_x.shape[0]

    @torch.no_grad()
    def _update_memory(self, index: Tensor, v_s: Tensor, v_t: Tensor) -> None:
        for bank, v in ((self.memory_student, v_s), (self.memory_teacher, v_t)):
            mixed = bank[index] * self.momentum + v.to(bank.dtype) * (1 - self.momentum)
            bank[index] = F.normalize(mixed, dim=1)
