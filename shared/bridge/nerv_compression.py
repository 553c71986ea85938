"""NeRV model compression: global pruning, 8-bit quantisation, entropy coding, bits per pixel.

The paper's pipeline (Sec. 3.3), with the facts of the release (haochen-rye/NeRV):

1. **Pruning**: global L1 unstructured pruning (``torch.nn.utils.prune``) of the stem's
   Linear weights and the blocks' conv weights (the 1x1 head and biases are kept), then
   fine-tuning with the masks in place (:func:`global_prune_`, :func:`finalize_pruning_`).
2. **Quantisation**: per-output-channel uniform quantisation of the *non-zero* weights
   (biases: per tensor). Pruned weights stay exactly zero. Default step
   ``(max - min) / (2^bits - 1)`` so codes fit in ``bits`` bits; ``release_scale=True``
   uses the release's ``(max - min) / 2^bits``, whose top code ``2^bits`` needs one more
   level (257 for 8 bits). Either way ``|w - w_hat| <= step / 2``.
3. **Entropy coding** of the code stream (pruned weights are one extra symbol): Huffman
   (the paper; code lengths by ``heapq``) or ANS via ``constriction`` (near the entropy).

``bits`` reported = coded stream + side information: two float32 (min, step) per channel,
the code table (5 bits per Huffman code length, or 16 bits per ANS frequency), and each
tensor's shape is treated as known to the decoder. bpp = bits / (frames * H * W).

Example::

    >>> import torch
    >>> from shared.bridge.nerv import NeRV
    >>> from shared.bridge.nerv_compression import global_prune_, finalize_pruning_, compress
    >>> m = NeRV(stem_dims=(32,), fc_dim=8, strides=(2,))
    >>> global_prune_(m, 0.5); finalize_pruning_(m)
    >>> report = compress(m, bits=8)
    >>> report.total_bits > 0
    True
"""

from __future__ import annotations

import copy
import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.utils import prune

__all__ = [
    "prunable_parameters",
    "global_prune_",
    "finalize_pruning_",
    "sparsity",
    "QuantizedTensor",
    "quantize_tensor",
    "huffman_code_lengths",
    "entropy_coded_bits",
    "CompressionReport",
    "compress",
]


def prunable_parameters(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """``(module, "weight")`` for every Linear in ``model.stem`` and conv in ``model.blocks``."""
    params: list[tuple[nn.Module, str]] = []
    for name in ("stem", "blocks"):
        part = getattr(model, name, None)
        if part is None:
            raise ValueError(f"model has no '{name}' attribute; expected a shared.bridge.nerv.NeRV")
        params += [(m, "weight") for m in part.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    return params


def global_prune_(model: nn.Module, amount: float) -> None:
    """Prune the ``amount`` fraction of smallest-|w| prunable weights, globally, in place.

    Masks stay attached (``weight_orig`` / ``weight_mask``) so fine-tuning keeps zeros; call
    :func:`finalize_pruning_` before compressing. Calling again prunes further (amount is a
    fraction of the weights still unpruned, as in ``torch.nn.utils.prune``).
    """
    if not 0.0 <= amount < 1.0:
        raise ValueError(f"amount must be in [0, 1), got {amount}")
    prune.global_unstructured(
        prunable_parameters(model), pruning_method=prune.L1Unstructured, amount=float(amount)
    )


def finalize_pruning_(model: nn.Module) -> None:
    """Make pruning permanent (``prune.remove``) wherever a mask is attached."""
    for module, name in prunable_parameters(model):
        if prune.is_pruned(module) and hasattr(module, name + "_mask"):
            prune.remove(module, name)


def sparsity(model: nn.Module) -> float:
    """Fraction of exactly-zero entries among the prunable weights."""
    ws = [getattr(m, n).detach() for m, n in prunable_parameters(model)]
    total = sum(w.numel() for w in ws)
    return sum(int((w == 0).sum()) for w in ws) / total


def layer_sparsity(model: nn.Module) -> list[float]:
    """Fraction of exactly-zero entries of each prunable weight, in
    :func:`prunable_parameters` order (global pruning can empty whole layers whose weights
    are small, which the global :func:`sparsity` hides)."""
    ws = [getattr(m, n).detach() for m, n in prunable_parameters(model)]
    return [float((w == 0).float().mean()) for w in ws]


@dataclass
class QuantizedTensor:
    """Per-channel uniform quantisation of one tensor.

    Attributes:
        codes: same shape as the tensor, int64 codes; ``-1`` marks exact zeros (pruned).
        minimum: ``[C]`` per-channel minimum of the non-zero entries.
        step: ``[C]`` per-channel step.
        dequantized: the reconstructed tensor (zeros kept exactly).
    """

    codes: Tensor
    minimum: Tensor
    step: Tensor
    dequantized: Tensor


def quantize_tensor(
    w: Tensor, bits: int = 8, per_channel: bool = True, release_scale: bool = False
) -> QuantizedTensor:
    """Quantise the non-zero entries of ``w`` to ``bits`` bits per output channel (dim 0).

    Args:
        w: any tensor ``[C, ...]`` (1-D tensors, or ``per_channel=False``: one channel).
        bits: code width; codes in ``[0, 2^bits - 1]`` (``[0, 2^bits]`` with ``release_scale``).
        release_scale: use the release's step ``(max - min) / 2^bits``.

    Returns:
        :class:`QuantizedTensor`; ``|w - dequantized| <= step / 2`` elementwise.
    """
    if bits < 1 or bits > 16:
        raise ValueError(f"bits must be in [1, 16], got {bits}")
    w = w.detach().float()
    flat = w.reshape(w.shape[0], -1) if (per_channel and w.dim() > 1) else w.reshape(1, -1)
    nz = flat != 0
    big = torch.finfo(torch.float32).max
    mins = torch.where(nz, flat, torch.full_like(flat, big)).amin(1)
    maxs = torch.where(nz, flat, torch.full_like(flat, -big)).amax(1)
    empty = ~nz.any(1)
    mins = torch.where(empty, torch.zeros_like(mins), mins)
    maxs = torch.where(empty, torch.zeros_like(maxs), maxs)
    levels = 2**bits if release_scale else 2**bits - 1
    step = (maxs - mins) / levels
    safe = torch.where(step > 0, step, torch.ones_like(step))
    codes = torch.round((flat - mins[:, None]) / safe[:, None]).long()
    deq = mins[:, None] + codes.float() * step[:, None]
    deq = torch.where(nz, deq, torch.zeros_like(deq))
    codes = torch.where(nz, codes, torch.full_like(codes, -1))
    return QuantizedTensor(
        codes=codes.reshape(w.shape), minimum=mins, step=step, dequantized=deq.reshape(w.shape)
    )


def huffman_code_lengths(counts: Sequence[int]) -> np.ndarray:
    """Huffman code length of every symbol with a positive count (0 for absent symbols).

    A single present symbol gets length 1.
    """
    counts = np.asarray(counts, dtype=np.int64)
    lengths = np.zeros(len(counts), dtype=np.int64)
    present = np.flatnonzero(counts > 0)
    if len(present) == 0:
        return lengths
    if len(present) == 1:
        lengths[present[0]] = 1
        return lengths
    # heap of (weight, tie-break, symbols in the subtree)
    heap = [(int(counts[s]), i, [int(s)]) for i, s in enumerate(present)]
    heapq.heapify(heap)
    tie = len(heap)
    while len(heap) > 1:
        w1, _, s1 = heapq.heappop(heap)
        w2, _, s2 = heapq.heappop(heap)
        for s in s1 + s2:
            lengths[s] += 1
        heapq.heappush(heap, (w1 + w2, tie, s1 + s2))
        tie += 1
    return lengths


def entropy_coded_bits(
    symbols: np.ndarray, alphabet: int, method: Literal["huffman", "ans"] = "huffman"
) -> int:
    """Size in bits of ``symbols`` (ints in ``[0, alphabet)``) after entropy coding.

    ``"huffman"``: sum of code lengths + 5 bits per alphabet entry for the table.
    ``"ans"``: a real ``constriction`` ANS encode with the empirical distribution, verified
    by decoding, plus 16 bits per alphabet entry charged as side information. That charge
    is an estimate: the coder is built from float32 probabilities (``perfect=False``), so a
    decoder sent 16-bit frequencies would not rebuild exactly this model.
    """
    symbols = np.asarray(symbols, dtype=np.int64).ravel()
    if symbols.size and (symbols.min() < 0 or symbols.max() >= alphabet):
        raise ValueError(f"symbols must lie in [0, {alphabet}), got [{symbols.min()}, {symbols.max()}]")
    counts = np.bincount(symbols, minlength=alphabet)
    if method == "huffman":
        lengths = huffman_code_lengths(counts)
        return int((counts * lengths).sum()) + 5 * alphabet
    if method == "ans":
        import constriction  # optional dependency, imported only here

        probs = counts.astype(np.float64) / max(1, counts.sum())
        probs = np.maximum(probs, 1e-9)
        probs /= probs.sum()
        model = constriction.stream.model.Categorical(probs.astype(np.float32), perfect=False)
        coder = constriction.stream.stack.AnsCoder()
        data = symbols.astype(np.int32)
        coder.encode_reverse(data, model)
        compressed = coder.get_compressed()
        decoded = constriction.stream.stack.AnsCoder(compressed).decode(model, len(data))
        if not np.array_equal(decoded, data):
            raise RuntimeError("ANS round trip failed")
        return int(compressed.size * 32) + 16 * alphabet
    raise ValueError(f"method must be 'huffman' or 'ans', got {method!r}")


@dataclass
class CompressionReport:
    """Result of :func:`compress`.

    Attributes:
        total_bits: coded weights + side information.
        payload_bits: the entropy-coded stream alone.
        side_bits: per-channel (min, step) float32 pairs + code table.
        raw_bits: ``bits`` per non-zero parameter plus a 1-bit-per-parameter sparsity mask
            (fixed-length storage, no entropy coding; side information not included).
        num_params, num_nonzero: parameter counts.
        model: a copy of the model holding the dequantised weights.
        method: entropy coder used.
    """

    total_bits: int
    payload_bits: int
    side_bits: int
    raw_bits: int
    num_params: int
    num_nonzero: int
    model: nn.Module = field(repr=False)
    method: str = "huffman"

    def bpp(self, num_frames: int, height: int, width: int) -> float:
        """Bits per pixel of a ``num_frames x height x width`` clip."""
        return self.total_bits / (num_frames * height * width)


def compress(
    model: nn.Module,
    bits: int = 8,
    method: Literal["huffman", "ans"] = "huffman",
    release_scale: bool = False,
    per_channel_min_size: int = 0,
) -> CompressionReport:
    """Quantise every parameter of ``model`` and entropy-code all codes as one stream.

    Weights (``dim > 1``) are quantised per output channel, biases per tensor; pruned zeros
    become one extra symbol. The model must not carry pruning masks
    (:func:`finalize_pruning_` first).

    ``per_channel_min_size``: a weight whose output channels hold fewer than this many
    entries is quantised per tensor instead (one (min, step) pair). Per-channel side
    information costs 64 bits per channel, which for a small model's stem (e.g. a
    ``Linear(32, 1152)``: 1152 rows of 32 weights) is 2 bits per weight, more than entropy
    coding saves. 0 (default) keeps every weight per channel, as described in the paper.

    Returns:
        :class:`CompressionReport` whose ``model`` is a dequantised copy (decode with it).
    """
    for m, n in prunable_parameters(model):
        if hasattr(m, n + "_mask"):
            raise ValueError("model still carries pruning masks; call finalize_pruning_(model) first")
    q_model = copy.deepcopy(model)
    levels = 2**bits + (1 if release_scale else 0)
    zero_symbol = levels
    streams, side, n_params, n_nonzero = [], 0, 0, 0
    with torch.no_grad():
        for p in q_model.parameters():
            row = p[0].numel() if p.dim() > 1 else 0
            per_channel = p.dim() > 1 and row >= per_channel_min_size
            q = quantize_tensor(p, bits, per_channel=per_channel, release_scale=release_scale)
            p.copy_(q.dequantized)
            codes = q.codes.reshape(-1)
            codes = torch.where(codes < 0, torch.full_like(codes, zero_symbol), codes)
            streams.append(codes.cpu().numpy())
            side += 64 * len(q.minimum)
            n_params += p.numel()
            n_nonzero += int((q.codes >= 0).sum())
    symbols = np.concatenate(streams)
    alphabet = levels + 1
    coded = entropy_coded_bits(symbols, alphabet, method)
    table = (5 if method == "huffman" else 16) * alphabet
    payload = coded - table
    return CompressionReport(
        total_bits=coded + side,
        payload_bits=payload,
        side_bits=side + table,
        raw_bits=n_nonzero * math.ceil(math.log2(levels)) + n_params,
        num_params=n_params,
        num_nonzero=n_nonzero,
        model=q_model,
        method=method,
    )
