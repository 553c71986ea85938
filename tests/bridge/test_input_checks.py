"""Inputs the bridge's objectives used to accept and turn into a wrong or constant result."""

import math

import numpy as np
import pytest
import torch

from shared.bridge.augment import augment_digits
from shared.bridge.byol import byol_loss
from shared.bridge.cbt import CBTCrossModal, CBTVisual, cross_modal_nce
from shared.bridge.global_local import (
    GlobalLocalLoss,
    attention_pool,
    global_audio_visual_loss,
    local_audio_visual_loss,
)
from shared.bridge.long_short import LongShortLoss, nonstationary_loss, stationary_loss
from shared.bridge.nerv import NeRV, fit_nerv, positional_encoding, psnr
from shared.bridge.nerv_compression import entropy_coded_bits, global_prune_, quantize_tensor
from shared.bridge.stor import SpaceTimeCropSampler, STORLoss


def test_one_row_batches_have_no_negative_and_are_refused():
    """With one row the only candidate is the positive: the loss was a constant (log 2 or
    0) with no gradient; now named. Two rows give a loss that depends on the inputs."""
    one = (
        lambda: global_audio_visual_loss(torch.randn(1, 4), torch.randn(1, 3, 4)),
        lambda: local_audio_visual_loss(torch.randn(1, 2, 4), torch.randn(1, 1, 4)),
        lambda: stationary_loss(torch.randn(1, 4), torch.randn(1, 3, 4)),
        # the other window's long view is a second positive there, not a negative
        lambda: stationary_loss(torch.randn(1, 4), torch.randn(1, 3, 4), other_long_s=torch.randn(1, 4)),
        lambda: nonstationary_loss(torch.randn(1, 4), torch.randn(1, 4)),
        lambda: cross_modal_nce(torch.randn(1, 1)),
    )
    for call in one:
        with pytest.raises(ValueError, match="needs a batch of at least 2"):
            call()
    # the other window's view is a negative of the non-stationary term: one row suffices
    long_n = torch.randn(1, 4, requires_grad=True)
    loss = nonstationary_loss(long_n, torch.randn(1, 4), other_long_n=torch.randn(1, 4))
    loss.backward()
    assert long_n.grad.abs().sum() > 0
    a = torch.randn(2, 4, requires_grad=True)
    global_audio_visual_loss(a, torch.randn(2, 3, 4)).backward()
    assert a.grad.abs().sum() > 0


def test_combined_losses_train_one_row_where_a_weighted_term_has_negatives():
    """One clip: its T frames still contrast in the local term, one video: the other
    window's long view is a negative of the non-stationary term; the combined losses
    train those (refusing them broke a last batch of one); refused only when no
    weighted term has a negative."""
    audio = torch.randn(1, 4, requires_grad=True)
    frames = (torch.randn(1, 8, 4), torch.randn(1, 4, 3, 4))
    out = GlobalLocalLoss()(audio, torch.randn(1, 3, 4), *frames)
    out["loss"].backward()
    assert out["global"].item() == pytest.approx(math.log(2)) and audio.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="global_audio_visual_loss needs a batch of at least 2"):
        GlobalLocalLoss(local_weight=0.0)(audio, torch.randn(1, 3, 4), *frames)
    ls = LongShortLoss(16, 4, 4, num_short=3)
    long_feat = torch.randn(1, 16, requires_grad=True)
    ls(long_feat, torch.randn(1, 3, 16), torch.randn(1, 16))["loss"].backward()
    assert long_feat.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="stationary_loss needs a batch of at least 2"):
        ls(long_feat, torch.randn(1, 3, 16))  # no other window: neither term has one


def test_float32_against_float64_is_named():
    a32, v64 = torch.randn(2, 4), torch.randn(2, 3, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match="audio torch.float32, video_map torch.float64"):
        global_audio_visual_loss(a32, v64)
    with pytest.raises(ValueError, match="frame_maps torch.float64"):
        attention_pool(torch.rand(2, 3), torch.randn(2, 5, 3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="share one float precision"):
        GlobalLocalLoss()(a32, a32.new_ones(2, 3, 4), torch.randn(2, 8, 4, dtype=torch.float64),
                          torch.randn(2, 4, 3, 4))
    # half precision still joins float32 (upcast), as before
    assert math.isfinite(global_audio_visual_loss(a32, v64.float().half()).item())


def test_long_short_names_the_users_short_views():
    loss = LongShortLoss(16, 4, 4, num_short=3)
    with pytest.raises(ValueError, match="short views must agree: short_feat's K=2, num_short=3"):
        loss(torch.randn(4, 16), torch.randn(4, 2, 16))


def test_stor_labels_and_embedding_batches_are_checked():
    stor = STORLoss(8, num_classes=5)
    f = torch.randn(4, 8)
    ok = torch.tensor([0, 1, 4, 2])
    with pytest.raises(ValueError, match=r"temporal_label must hold classes 0..4, got values 0..7"):
        stor(f, f, ok, torch.tensor([0, 1, 7, 2]), torch.randn(4, 6), torch.randn(4, 6))
    with pytest.raises(ValueError, match=r"spatial_label must hold classes 0..4, got values -1..2"):
        stor(f, f, torch.tensor([0, -1, 1, 2]), ok, torch.randn(4, 6), torch.randn(4, 6))
    with pytest.raises(ValueError, match="batch size must agree: f1=4, z1=6, z2=6"):
        stor(f, f, ok, ok, torch.randn(6, 6), torch.randn(6, 6))
    out = stor(f, f, ok, ok, torch.randn(4, 6), torch.randn(4, 6))
    assert math.isfinite(out["loss"].item())


def test_psnr_refuses_shapes_it_would_broadcast():
    with pytest.raises(ValueError, match="same shape"):
        psnr(torch.rand(4, 3, 8, 8), torch.rand(3, 8, 8))
    x = torch.rand(2, 3, 8, 8)
    assert psnr(x, x) == math.inf
    assert psnr(x, (x + 0.1)) == pytest.approx(20.0, abs=1e-3)  # mse 0.01 -> 20 dB


def test_fit_nerv_refuses_what_it_cannot_fit():
    model = NeRV(stem_dims=(32,), fc_dim=8, strides=(2, 2))
    frames = torch.rand(4, 3, *model.frame_size)
    with pytest.raises(ValueError, match="batch_size and epochs must be >= 1"):
        fit_nerv(model, frames, epochs=1, batch_size=0)
    with pytest.raises(ValueError, match=r"frames must lie in \[0, 1\].*0\.\.255"):
        fit_nerv(model, (frames * 255).round(), epochs=1)


def test_h264_names_odd_frames_for_420_and_passes_on_ffmpegs_reason():
    from shared.bridge.h264 import ffmpeg_available, h264_encode

    with pytest.raises(ValueError, match="H and W must be even, got \\(15, 17\\)"):
        h264_encode(torch.rand(2, 3, 15, 17), 23, pix_fmt="yuv420p")
    if not ffmpeg_available():
        pytest.skip("ffmpeg with libx264 not installed")
    with pytest.raises(RuntimeError, match="ffmpeg failed .*invalid preset 'nope'"):
        h264_encode(torch.rand(2, 3, 16, 16), 23, preset="nope")


def test_crd_demo_seed_moves_the_students(monkeypatch):
    """seed chose the split and the teacher but the students always took seeds 0..n-1."""
    from shared.bridge.demos import crd

    seen = []
    monkeypatch.setattr(crd, "_train_teacher", lambda x, y, *a, **k: crd._MLP([4], x.shape[1]))

    def arms(init, teacher, x, y, epochs, seed, names, **kw):
        seen.append(seed)
        return [(arm, teacher) for arm in names]

    monkeypatch.setattr(crd, "_train_arms", arms)
    crd.run(quick=True, seed=3, seeds=2)
    assert seen == [3, 4]



def _byol_stor_without_targets():
    lab = torch.zeros(4, dtype=torch.long)
    STORLoss(16, contrastive="byol")(torch.randn(4, 16), torch.randn(4, 16), lab, lab,
                                     z1=torch.randn(4, 8), z2=torch.randn(4, 8))


@pytest.mark.parametrize("call, message", [
    (lambda: SpaceTimeCropSampler(8, 32, 32, 16, 16), r"crop 16x16x16 does not fit in clip 8x32x32"),
    (lambda: STORLoss(16, contrastive="simclr"), "contrastive must be 'infonce', 'byol' or 'none'"),
    (_byol_stor_without_targets, "contrastive='byol' needs target_z1 and target_z2"),
    (lambda: quantize_tensor(torch.randn(3, 3), bits=0), r"bits must be in \[1, 16\], got 0"),
    (lambda: entropy_coded_bits(np.array([0, 1, 4]), 4), r"symbols must lie in \[0, 4\), got \[0, 4\]"),
    (lambda: entropy_coded_bits(np.array([0, 1]), 4, method="zip"), "method must be 'huffman' or 'ans'"),
    (lambda: global_prune_(NeRV(), 1.0), r"amount must be in \[0, 1\), got 1.0"),
    (lambda: CBTVisual(8, max_len=4)(torch.randn(2, 5, 8), torch.ones(2, 5, dtype=torch.bool)),
     "sequence length 5 exceeds max_len 4"),
    (lambda: CBTCrossModal(6, 8, max_len=4)(torch.randn(2, 2, 6), torch.randn(2, 3, 8)),
     r"text \+ visual length 7 exceeds max_len 4"),  # 2 + 3 steps and 2 special tokens
    (lambda: positional_encoding(torch.zeros(2, 1)), "t must be a 1-D tensor of frame times"),
    (lambda: augment_digits(torch.zeros(3, 65)), r"x must be \[N, 64\] flattened 8x8 digits, got \(3, 65\)"),
    (lambda: byol_loss(torch.randn(3, 4), torch.randn(3, 5)),
     "online_pred and target_proj must have the same shape"),
])
def test_documented_bad_inputs_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
