import math

import pytest
import torch
import torch.nn.functional as F

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


def test_sample_pairs_shapes_and_rates():
    sampler = SpaceTimeCropSampler(16, 32, 32, 8, 20)
    video = torch.rand(40, 16, 3, 32, 32)
    pair = sampler.sample_pairs(video, torch.Generator().manual_seed(1))
    assert pair.clip1.shape == pair.clip2.shape == (40, 3, 8, 20, 20)
    rates = torch.tensor(RATES)
    assert (pair.spatial_rate - rates[pair.spatial_label]).abs().max() <= 0.05 + 1e-6
    assert (pair.temporal_rate - rates[pair.temporal_label]).abs().max() <= 1 / 16 + 1e-6
    # a box overlaps itself fully (the crops' contents are compared in the next test)
    box = CropBox(0, 0, 0, 8, 20)
    assert box.spatial_overlap(box) == 1.0 and box.temporal_overlap(box) == 1.0


def test_sample_pairs_crop_content_matches_reported_rates():
    """Each voxel of a float64 video encodes its own (clip, frame, channel, row, col), so every
    crop's origin can be read off its corner; the crop must be exactly that window of the
    video, and the overlap rates recomputed from the two decoded windows must equal the
    reported ones."""
    n, frames, c, h, w, t, s = 40, 16, 3, 32, 44, 8, 20  # H != W: rows and cols not interchangeable
    sampler = SpaceTimeCropSampler(frames, h, w, t, s)
    idx = [torch.arange(k, dtype=torch.float64) for k in (n, frames, c, h, w)]
    video = (
        idx[0].view(-1, 1, 1, 1, 1) * 1e7
        + idx[1].view(1, -1, 1, 1, 1) * 1e5
        + idx[2].view(1, 1, -1, 1, 1) * 1e4
        + idx[3].view(1, 1, 1, -1, 1) * 100
        + idx[4].view(1, 1, 1, 1, -1)
    )
    pair = sampler.sample_pairs(video, torch.Generator().manual_seed(1))
    assert pair.clip1.dtype == torch.float64

    def origin(corner: float) -> tuple[int, int, int, int, int]:
        v = round(corner)
        return v // 10**7, v // 10**5 % 100, v // 10**4 % 10, v // 100 % 100, v % 100

    seen_s, seen_t = set(), set()
    for i in range(n):
        boxes = []
        for clip in (pair.clip1[i], pair.clip2[i]):
            clip_i, t0, ch, y0, x0 = origin(float(clip[0, 0, 0, 0]))
            assert (clip_i, ch) == (i, 0)
            assert 0 <= t0 <= frames - t and 0 <= y0 <= h - s and 0 <= x0 <= w - s
            window = video[i, t0 : t0 + t, :, y0 : y0 + s, x0 : x0 + s].permute(1, 0, 2, 3)
            assert torch.equal(clip, window)  # [C, t, s, s], channels first
            boxes.append((t0, y0, x0))
        (t1, y1, x1), (t2, y2, x2) = boxes
        spatial = max(0, s - abs(y1 - y2)) * max(0, s - abs(x1 - x2)) / s**2
        temporal = max(0, t - abs(t1 - t2)) / t
        assert pair.spatial_rate[i].item() == pytest.approx(spatial, abs=1e-6)
        assert pair.temporal_rate[i].item() == pytest.approx(temporal, abs=1e-6)
        assert abs(spatial - RATES[pair.spatial_label[i]]) <= 1 / s + 1e-9
        assert abs(temporal - RATES[pair.temporal_label[i]]) <= 0.5 / t + 1e-9
        seen_s.add(int(pair.spatial_label[i]))
        seen_t.add(int(pair.temporal_label[i]))
    assert seen_s == seen_t == set(range(5))  # every class was drawn and checked


def test_sampler_rejects_impossible_geometry():
    with pytest.raises(ValueError, match=r"temporal rate .* needs"):
        SpaceTimeCropSampler(10, 32, 32, 8, 16)
    with pytest.raises(ValueError, match="cannot be realised"):
        SpaceTimeCropSampler(16, 20, 20, 8, 16)
    with pytest.raises(ValueError, match="sampler was built for"):
        SpaceTimeCropSampler(16, 32, 32, 8, 20).sample_pairs(torch.rand(2, 16, 3, 30, 32))
    with pytest.raises(ValueError, match="crop_frames and crop_size must be >= 1"):
        SpaceTimeCropSampler(16, 32, 32, 8, 0)  # was a ZeroDivisionError
    with pytest.raises(ValueError, match="rates is empty"):
        SpaceTimeCropSampler(16, 32, 32, 8, 16, rates=())
    for rates in ((1.0, 0.0), (1.2, 0.5)):
        with pytest.raises(ValueError, match=r"rates must lie in \(0, 1\]"):
            SpaceTimeCropSampler(16, 32, 32, 8, 16, rates=rates)
    sampler = SpaceTimeCropSampler(16, 32, 32, 8, 16)
    for labels in ((-1, 0), (0, 5)):  # -1 took the last class silently; 5 an IndexError
        with pytest.raises(ValueError, match=r"_label must index rates \(0..4\)"):
            sampler.sample_boxes(*labels)


def test_untrained_head_ce_about_log5():
    torch.manual_seed(0)
    loss = STORLoss(64, contrastive="none")
    f1, f2 = 0.1 * torch.randn(256, 64), 0.1 * torch.randn(256, 64)
    sl = torch.randint(0, 5, (256,))
    tl = (sl + torch.randint(1, 5, (256,))) % 5  # differs from sl everywhere
    out = loss(f1, f2, sl, tl)
    assert out["spatial"].item() == pytest.approx(math.log(5), abs=0.15)
    assert out["temporal"].item() == pytest.approx(math.log(5), abs=0.15)
    # each head is scored against its own labels (training-mode BN: batch statistics, so a
    # second call gives the same logits)
    ls, lt = loss.spatial_head(f1, f2), loss.temporal_head(f1, f2)
    assert out["spatial"].item() == pytest.approx(F.cross_entropy(ls, sl).item(), rel=1e-6)
    assert out["temporal"].item() == pytest.approx(F.cross_entropy(lt, tl).item(), rel=1e-6)
    assert abs(F.cross_entropy(lt, sl).item() - F.cross_entropy(lt, tl).item()) > 1e-4
    assert abs(F.cross_entropy(ls, sl).item() - F.cross_entropy(lt, sl).item()) > 1e-4
    assert out["spatial_acc"] == pytest.approx((ls.argmax(1) == sl).float().mean().item())
    assert out["temporal_acc"] == pytest.approx((lt.argmax(1) == tl).float().mean().item())
    assert out["contrastive"].item() == 0.0


def _cos_ce(q, k, temperature):
    """CE of cosine(q_i, k_j) / temperature with the diagonal as targets, from scratch."""
    logits = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / temperature
    return -logits.log_softmax(dim=1).diagonal().mean()


def _byol(p, z):
    return (2 - 2 * (F.normalize(p, dim=1) * F.normalize(z, dim=1)).sum(1)).mean()


@pytest.mark.parametrize("mode", ["infonce", "byol", "none"])
def test_joint_loss_gradients_finite(mode):
    loss = STORLoss(16, contrastive=mode)
    f1, f2 = torch.randn(8, 16, requires_grad=True), torch.randn(8, 16, requires_grad=True)
    z1, z2 = torch.randn(8, 12, requires_grad=True), torch.randn(8, 12, requires_grad=True)
    sl = torch.randint(0, 5, (8,))
    tl = (sl + torch.randint(1, 5, (8,))) % 5
    tz1, tz2 = torch.randn(8, 12), torch.randn(8, 12)
    kw = {"target_z1": tz1, "target_z2": tz2} if mode == "byol" else {}
    out = loss(f1, f2, sl, tl, z1=z1, z2=z2, **kw)
    out["loss"].backward()
    assert torch.isfinite(f1.grad).all()
    expected = out["spatial"] + out["temporal"] + 0.1 * out["contrastive"]
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-5)
    with torch.no_grad():
        ls, lt = loss.spatial_head(f1, f2), loss.temporal_head(f1, f2)
        assert out["spatial"].item() == pytest.approx(F.cross_entropy(ls, sl).item(), rel=1e-6)
        assert out["temporal"].item() == pytest.approx(F.cross_entropy(lt, tl).item(), rel=1e-6)
        if mode == "infonce":  # symmetric: each crop's projection retrieves the other's
            con = 0.5 * (_cos_ce(z1, z2, 0.1) + _cos_ce(z2, z1, 0.1))
            assert abs(_cos_ce(z1, z2, 0.1).item() - _cos_ce(z2, z1, 0.1).item()) > 1e-4
        elif mode == "byol":  # prediction of crop 1 vs target of crop 2, and vice versa
            con = _byol(z1, tz2) + _byol(z2, tz1)
            assert abs(con.item() - (_byol(z1, tz1) + _byol(z2, tz2)).item()) > 1e-3
        else:
            con = torch.tensor(0.0)
        assert out["contrastive"].item() == pytest.approx(con.item(), rel=1e-5, abs=1e-6)
        # the weights: w_o * (CE_s + CE_t) + w_c * contrastive
        weighted = STORLoss(16, contrastive=mode, contrastive_weight=0.5, overlap_weight=2.0)
        weighted.load_state_dict(loss.state_dict())
        out2 = weighted(f1, f2, sl, tl, z1=z1, z2=z2, **kw)
        expected2 = 2.0 * (F.cross_entropy(ls, sl) + F.cross_entropy(lt, tl)) + 0.5 * con
        assert out2["loss"].item() == pytest.approx(expected2.item(), rel=1e-5)
    if mode == "byol":  # the targets are detached: no gradient flows into them
        tz = torch.randn(8, 12, requires_grad=True)
        loss(f1, f2, sl, tl, z1=z1, z2=z2, target_z1=tz, target_z2=tz)["loss"].backward()
        assert tz.grad is None


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
    torch.manual_seed(0)
    online = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.BatchNorm1d(3))
    target = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.BatchNorm1d(3))
    online(torch.randn(8, 3))  # training mode: the online running statistics move
    with torch.no_grad():
        online[1].weight.add_(0.5)  # BatchNorm's affine parameters differ too
        online[1].bias.sub_(0.25)
    before = [p.detach().clone() for p in target.parameters()]
    ema_update_(target, online, 0.9)
    for t, b, o in zip(target.parameters(), before, online.parameters(), strict=True):
        assert torch.allclose(t, 0.9 * b + 0.1 * o)  # weights, biases, BatchNorm's affine
    for t, o in zip(target.buffers(), online.buffers(), strict=True):
        assert torch.equal(t, o)  # running mean / var / count copied
    with pytest.raises(ValueError, match="momentum must be in"):
        ema_update_(target, online, 1.5)


@pytest.mark.parametrize("crop_frames, crop_size, message", [
    (4, 20, "temporal rates 0.6 and 0.4 give the same shift"),
    (8, 8, r"spatial rates 1.0 and 0.8 share the offset"),
])
def test_indistinguishable_rate_classes_are_refused(crop_frames, crop_size, message):
    # one crop pair would carry two labels: the overlap heads would be trained on noise
    with pytest.raises(ValueError, match=message):
        SpaceTimeCropSampler(16, 32, 32, crop_frames, crop_size)
