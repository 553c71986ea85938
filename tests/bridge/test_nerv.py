import copy
import math

import pytest
import torch

from shared.bridge.nerv import (
    NeRV,
    NeRVBlock,
    fit_nerv,
    frame_times,
    nerv_loss,
    positional_encoding,
    ssim,
)
from shared.bridge.nerv_compression import (
    compress,
    entropy_coded_bits,
    finalize_pruning_,
    global_prune_,
    huffman_code_lengths,
    layer_sparsity,
    prunable_parameters,
    quantize_tensor,
    sparsity,
)


def test_positional_encoding_values():
    t = torch.tensor([0.0, 0.25, 0.5])
    pe = positional_encoding(t, levels=40, base=1.25)
    assert pe.shape == (3, 80)
    for k in (0, 1, 7, 39):
        assert torch.allclose(pe[:, 2 * k], torch.sin(1.25**k * math.pi * t), atol=1e-5)
        assert torch.allclose(pe[:, 2 * k + 1], torch.cos(1.25**k * math.pi * t), atol=1e-5)
    assert torch.allclose(pe[0, 1::2], torch.ones(40)) and torch.allclose(pe[0, 0::2], torch.zeros(40))
    assert torch.allclose(frame_times(4), torch.tensor([0, 0.25, 0.5, 0.75]))


def test_block_and_model_shapes():
    blk = NeRVBlock(8, 5, stride=3)
    assert blk(torch.randn(2, 8, 9, 16)).shape == (2, 5, 27, 48)
    m = NeRV(embed_levels=40, stem_dims=(32,), fc_hw=(9, 16), fc_dim=16, strides=(5, 2), expansion=2.0,
             lower_width=4)
    out = m(frame_times(3))
    assert out.shape == (3, 3, 90, 160) and m.frame_size == (90, 160)
    assert out.min() >= 0 and out.max() <= 1
    assert [b.conv.out_channels for b in m.blocks] == [32 * 25, 16 * 4]  # expansion, then reduction
    with pytest.raises(ValueError, match="must have 8 channels"):
        blk(torch.randn(2, 7, 9, 16))
    with pytest.raises(ValueError, match="unknown activation"):
        NeRV(activation="tanhh")


def test_ssim_and_loss():
    x = torch.rand(2, 3, 24, 24)
    assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-5)
    assert ssim(x, torch.rand(2, 3, 24, 24)).item() < 0.2
    # two constant images a, b: no variance or covariance, so SSIM reduces to the luminance
    # term (2ab + c1) / (a^2 + b^2 + c1), c1 = (0.01 * data_range)^2
    for a, b, data_range in ((0.2, 0.6, 1.0), (0.5, 0.1, 1.0), (0.4, 1.2, 2.0)):
        c1 = (0.01 * data_range) ** 2
        ca, cb = torch.full((1, 3, 16, 16), a), torch.full((1, 3, 16, 16), b)
        assert ssim(ca, cb, data_range=data_range).item() == pytest.approx(
            (2 * a * b + c1) / (a * a + b * b + c1), abs=1e-5
        )
    assert nerv_loss(x, x).item() == pytest.approx(0.0, abs=1e-5)
    y = (x + 0.1).clamp(0, 1)
    expected = 0.7 * (x - y).abs().mean() + 0.3 * (1 - ssim(x, y))
    assert nerv_loss(x, y).item() == pytest.approx(expected.item(), rel=1e-5)
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_loss_takes_other_float_dtypes(dtype):
    """The window was float32 whatever the images' dtype (half inputs failed in conv2d)."""
    x = torch.rand(2, 3, 16, 16)
    y = (x + 0.1).clamp(0, 1)
    expected = nerv_loss(x, y).item()
    assert nerv_loss(x.to(dtype), y.to(dtype)).item() == pytest.approx(expected, abs=1e-2)


def test_ssim_matches_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 24, 28, generator=g)
    y = (0.6 * x + 0.4 * torch.rand(2, 3, 24, 28, generator=g)).clamp(0, 1)
    # skimage's Gaussian SSIM (truncate 3.5 -> 11-tap window for sigma 1.5) averaged over the
    # window-valid region, per image; its mean over channels equals our mean over everything
    ref = [
        metrics.structural_similarity(
            x[i].double().numpy(), y[i].double().numpy(), gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False, data_range=1.0, channel_axis=0,
        )
        for i in range(2)
    ]
    assert ssim(x, y).item() == pytest.approx(sum(ref) / 2, abs=1e-5)
    assert ssim(x[:1], y[:1]).item() == pytest.approx(ref[0], abs=1e-5)
    with pytest.raises(ValueError, match="same shape"):
        nerv_loss(torch.rand(1, 3, 16, 16), torch.rand(2, 3, 16, 16))


def test_pruning_sparsity():
    m = NeRV(stem_dims=(32,), fc_dim=8, strides=(2, 2))
    global_prune_(m, 0.6)
    assert sparsity(m) == pytest.approx(0.6, abs=0.01)
    finalize_pruning_(m)
    assert sparsity(m) == pytest.approx(0.6, abs=0.01)
    assert not any(n.endswith("_mask") for n, _ in m.named_buffers())
    assert (m.head.weight != 0).all()  # head not pruned
    # per layer: one fraction per prunable weight, averaging (by size) to the global one
    sizes = [getattr(mod, n).numel() for mod, n in prunable_parameters(m)]
    per_layer = layer_sparsity(m)
    assert len(per_layer) == len(sizes) and all(0 <= f <= 1 for f in per_layer)
    assert sum(f * n for f, n in zip(per_layer, sizes, strict=True)) / sum(sizes) == pytest.approx(sparsity(m))
    with torch.no_grad():  # a layer of small weights is emptied first by a global threshold
        prunable_parameters(m)[0][0].weight.mul_(1e-6)
    m2 = copy.deepcopy(m)
    global_prune_(m2, 0.5)
    assert layer_sparsity(m2)[0] == 1.0


@pytest.mark.parametrize("release_scale", [False, True])
def test_quantisation_error_bound_and_zeros(release_scale):
    w = torch.randn(6, 4, 3, 3)
    w[w.abs() < 0.3] = 0.0
    q = quantize_tensor(w, bits=8, release_scale=release_scale)
    err = (q.dequantized - w).abs().reshape(6, -1)
    assert (err <= q.step[:, None] / 2 + 1e-6).all()
    assert (q.dequantized[w == 0] == 0).all() and (q.codes[w == 0] == -1).all()
    top = 2**8 if release_scale else 2**8 - 1
    assert q.codes.max() == top and q.codes[w != 0].min() == 0


def test_huffman_and_ans():
    lengths = huffman_code_lengths([5, 2, 1, 1, 0])
    assert list(lengths) == [1, 2, 3, 3, 0]
    assert sum(2.0 ** -lengths[lengths > 0]) == pytest.approx(1.0)  # complete prefix code
    rng = torch.Generator().manual_seed(0)
    sym = torch.multinomial(torch.tensor([0.7, 0.2, 0.05, 0.05]), 5000, True, generator=rng).numpy()
    h = entropy_coded_bits(sym, 4, "huffman") - 5 * 4
    counts = torch.bincount(torch.from_numpy(sym), minlength=4).double()
    p = counts / counts.sum()
    entropy_bits = float(-(counts * torch.log2(p)).sum())
    assert entropy_bits <= h <= entropy_bits + len(sym)
    pytest.importorskip("constriction")
    a = entropy_coded_bits(sym, 4, "ans") - 16 * 4
    assert entropy_bits <= a + 64 and a <= entropy_bits * 1.02 + 64


def _assert_quantised_copy(original, report, bits, per_channel_min_size=0):
    """``report.model`` holds, for every parameter, the dequantised value of the original
    (per output channel for weights with rows of at least ``per_channel_min_size`` entries,
    per tensor otherwise): checked against :func:`quantize_tensor` and from scratch."""
    params = dict(original.named_parameters())
    changed = 0
    for name, q in report.model.named_parameters():
        p = params[name].detach()
        per_channel = p.dim() > 1 and p[0].numel() >= per_channel_min_size
        expected = quantize_tensor(p, bits, per_channel=per_channel).dequantized
        assert torch.equal(q.detach(), expected)
        changed += int(not torch.equal(q.detach(), p))
        rows_p = p.reshape(p.shape[0], -1) if per_channel else p.reshape(1, -1)
        rows_q = q.detach().reshape(rows_p.shape)
        nz = rows_p != 0
        assert (rows_q[~nz] == 0).all()  # pruned weights stay exactly zero
        inf = torch.tensor(float("inf"))
        lo = torch.where(nz, rows_p, inf).amin(1, keepdim=True)
        hi = torch.where(nz, rows_p, -inf).amax(1, keepdim=True)
        step = ((hi - lo) / (2**bits - 1)).expand_as(rows_p)[nz]
        assert ((rows_q - rows_p)[nz].abs() <= step / 2 + 1e-6).all()
        k = ((rows_q - lo)[nz] / step.clamp_min(1e-30))[step > 0]  # grid lo + k * step
        if k.numel():
            assert (k - k.round()).abs().max() < 1e-3
            assert k.round().min() >= 0 and k.round().max() <= 2**bits - 1
        srt = rows_q.sort(1).values  # distinct values per channel: 2^bits levels plus the zero
        assert (1 + (srt[:, 1:] != srt[:, :-1]).sum(1)).max() <= 2**bits + 1
    assert changed > 0  # not an unquantised copy
    return changed


def test_compress_report_and_8bit_cost():
    torch.manual_seed(0)
    m = NeRV(stem_dims=(16,), fc_dim=8, strides=(2, 2))
    global_prune_(m, 0.5)
    finalize_pruning_(m)
    rep = compress(m, bits=8)
    t = frame_times(4)
    with torch.no_grad():
        assert (rep.model(t) - m(t)).abs().max() < 0.05
    _assert_quantised_copy(m, rep, 8)
    rep3 = compress(m, bits=3)  # few levels: most rows have more entries than levels
    # every parameter with a non-zero entry moves (global pruning at 0.5 zeroes the whole
    # first stem Linear here: its init range is the smallest)
    assert _assert_quantised_copy(m, rep3, 3) == sum(1 for p in m.parameters() if (p != 0).any())
    assert rep.num_nonzero < rep.num_params
    assert rep.total_bits == rep.payload_bits + rep.side_bits
    assert rep.payload_bits < rep.raw_bits  # pruned zeros + skewed codes compress
    m2 = NeRV(stem_dims=(16,), fc_dim=8, strides=(2,))
    global_prune_(m2, 0.5)
    with pytest.raises(ValueError, match="finalize_pruning_"):
        compress(m2)


def test_compress_per_tensor_for_short_rows_cuts_side_information():
    torch.manual_seed(0)
    m = NeRV(stem_dims=(16,), fc_dim=8, strides=(2, 2))  # stem Linear(16, 1152): short rows
    pc = compress(m, bits=8)
    pt = compress(m, bits=8, per_channel_min_size=256)
    rows_short = sum(p.shape[0] for p in m.parameters() if p.dim() > 1 and p[0].numel() < 256)
    n_short = sum(1 for p in m.parameters() if p.dim() > 1 and p[0].numel() < 256)
    assert pc.side_bits - pt.side_bits == 64 * (rows_short - n_short)
    assert pt.total_bits < pc.total_bits
    t = frame_times(4)
    with torch.no_grad():  # still 8-bit accurate
        assert (pt.model(t) - m(t)).abs().max() < 0.05
    _assert_quantised_copy(m, pc, 8)
    _assert_quantised_copy(m, pt, 8, per_channel_min_size=256)
    # the short-row weights really were quantised differently (one range for the tensor)
    short = [n for n, p in m.named_parameters() if p.dim() > 1 and p[0].numel() < 256]
    assert short
    pcp, ptp = dict(pc.model.named_parameters()), dict(pt.model.named_parameters())
    assert all(not torch.equal(pcp[n], ptp[n]) for n in short)


def test_learning_rate_warms_up_from_a_tenth_then_follows_a_cosine():
    from shared.bridge.nerv import _lr_multiplier

    for progress, expected in ((0.0, 0.1), (0.1, 0.55), (0.2, 1.0), (0.6, 0.5), (1.0, 0.0)):
        assert _lr_multiplier(progress, 0.2) == pytest.approx(expected, abs=1e-12)


def test_loss_weights_l1_against_ssim():
    g = torch.Generator().manual_seed(0)
    pred, target = torch.rand(2, 3, 16, 16, generator=g), torch.rand(2, 3, 16, 16, generator=g)
    l1, dssim = (pred - target).abs().mean(), 1 - ssim(pred, target)
    for w in (0.2, 0.7, 1.0):
        torch.testing.assert_close(nerv_loss(pred, target, l1_weight=w), w * l1 + (1 - w) * dssim)


def test_fit_tiny_clip_learns():
    torch.manual_seed(0)
    frames = torch.rand(1, 3, 1, 1) * torch.linspace(0, 1, 36)[None, None, :, None] * torch.ones(4, 3, 36, 64)
    frames = frames * torch.linspace(0.5, 1, 4)[:, None, None, None]
    m = NeRV(embed_levels=20, stem_dims=(32,), fc_dim=8, strides=(2, 2), expansion=2.0, lower_width=8)
    res = fit_nerv(m, frames, epochs=60, lr=5e-3, batch_size=2, generator=torch.Generator().manual_seed(0))
    assert res.losses[-1] < res.losses[0] * 0.5
    assert res.psnr > 25
    with pytest.raises(ValueError, match="frames must be"):
        fit_nerv(m, torch.rand(2, 3, 32, 64), epochs=1)
