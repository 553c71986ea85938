import math

import pytest
import torch

from shared.bridge.byol import byol_loss, ema_update_
from shared.bridge.stor import RATES, CropBox, OverlapHead, SpaceTimeCropSampler, STORLoss


@pytest.mark.parametrize("t,s", [(8, 20), (6, 16)])
def test_crop_generator_realises_requested_overlaps(t, s):
    sampler = SpaceTimeCropSampler(16, 32, 36, crop_frames=t, crop_size=s)
    g = torch.Generator().manual_seed(0)
    for si in range(5):
        for ti in range(5):
            for _ in range(10):
                b1, b2 = sampler.sample_boxes(si, ti, g)
                for b in (b1, b2):
                    assert 0 <= b.y0 and b.y0 + s <= 32 and 0 <= b.x0 and b.x0 + s <= 36
                    assert 0 <= b.t0 and b.t0 + t <= 16
                assert abs(b1.spatial_overlap(b2) - RATES[si]) <= 1 / s + 1e-9
                assert abs(b1.temporal_overlap(b2) - RATES[ti]) <= 0.5 / t + 1e-9
                assert b1.spatial_overlap(b2) == pytest.approx(b2.spatial_overlap(b1))


def test_sample_pairs_shapes_and_rates():
    sampler = SpaceTimeCropSampler(16, 32, 32, 8, 20)
    video = torch.rand(40, 16, 3, 32, 32)
    pair = sampler.sample_pairs(video, torch.Generator().manual_seed(1))
    assert pair.clip1.shape == pair.clip2.shape == (40, 3, 8, 20, 20)
    rates = torch.tensor(RATES)
    assert (pair.spatial_rate - rates[pair.spatial_label]).abs().max() <= 0.05 + 1e-6
    assert (pair.temporal_rate - rates[pair.temporal_label]).abs().max() <= 1 / 16 + 1e-6
    # content check: rate 1.0 in both -> identical crops
    box = CropBox(0, 0, 0, 8, 20)
    assert box.spatial_overlap(box) == 1.0 and box.temporal_overlap(box) == 1.0


def test_sampler_rejects_impossible_geometry():
    with pytest.raises(ValueError, match=r"temporal rate .* needs"):
        SpaceTimeCropSampler(10, 32, 32, 8, 16)
    with pytest.raises(ValueError, match="cannot be realised"):
        SpaceTimeCropSampler(16, 20, 20, 8, 16)
    with pytest.raises(ValueError, match="sampler was built for"):
        SpaceTimeCropSampler(16, 32, 32, 8, 20).sample_pairs(torch.rand(2, 16, 3, 30, 32))


def test_untrained_head_ce_about_log5():
    torch.manual_seed(0)
    loss = STORLoss(64, contrastive="none")
    f1, f2 = 0.1 * torch.randn(256, 64), 0.1 * torch.randn(256, 64)
    labels = torch.randint(0, 5, (256,))
    out = loss(f1, f2, labels, labels)
    assert out["spatial"].item() == pytest.approx(math.log(5), abs=0.15)
    assert out["temporal"].item() == pytest.approx(math.log(5), abs=0.15)


@pytest.mark.parametrize("mode", ["infonce", "byol", "none"])
def test_joint_loss_gradients_finite(mode):
    loss = STORLoss(16, contrastive=mode)
    f1, f2 = torch.randn(8, 16, requires_grad=True), torch.randn(8, 16, requires_grad=True)
    z1, z2 = torch.randn(8, 12, requires_grad=True), torch.randn(8, 12, requires_grad=True)
    lab = torch.randint(0, 5, (8,))
    kw = {"target_z1": torch.randn(8, 12), "target_z2": torch.randn(8, 12)} if mode == "byol" else {}
    out = loss(f1, f2, lab, lab, z1=z1, z2=z2, **kw)
    out["loss"].backward()
    assert torch.isfinite(f1.grad).all()
    expected = out["spatial"] + out["temporal"] + 0.1 * out["contrastive"]
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_stor_bad_inputs():
    loss = STORLoss(16)
    lab = torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match="needs z1 and z2"):
        loss(torch.randn(4, 16), torch.randn(4, 16), lab, lab)
    with pytest.raises(ValueError, match="spatial_label must be a 1-D long tensor"):
        loss(torch.randn(4, 16), torch.randn(4, 16), lab.float(), lab)
    with pytest.raises(ValueError, match="f1 and f2 must have the same shape"):
        OverlapHead(16)(torch.randn(4, 16), torch.randn(3, 16))


def test_byol_closed_forms_and_ema():
    x = torch.randn(10, 8)
    assert byol_loss(x, 3 * x).item() == pytest.approx(0.0, abs=1e-6)
    assert byol_loss(torch.eye(4)[:2], torch.eye(4)[2:]).item() == pytest.approx(2.0)
    assert byol_loss(x, -x).item() == pytest.approx(4.0, abs=1e-5)
    online, target = torch.nn.Linear(3, 3), torch.nn.Linear(3, 3)
    before = target.weight.detach().clone()
    ema_update_(target, online, 0.9)
    assert torch.allclose(target.weight, 0.9 * before + 0.1 * online.weight)
