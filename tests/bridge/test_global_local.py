import math

import pytest
import torch

from shared.bridge.global_local import (
    GlobalLocalLoss,
    attention_pool,
    audio_spatial_attention,
    global_audio_visual_loss,
    local_audio_visual_loss,
    multiple_instance_nce,
)


@pytest.mark.parametrize("b,p", [(2, 1), (4, 9), (8, 16)])
def test_global_equal_logits_is_log_2b(b, p):
    loss = global_audio_visual_loss(torch.zeros(b, 5), torch.randn(b, p, 5))
    assert loss.item() == pytest.approx(math.log(2 * b), abs=1e-5)


@pytest.mark.parametrize("chunking", ["clip", "release"])
@pytest.mark.parametrize("b,t,ta", [(2, 4, 8), (3, 5, 17), (4, 8, 32)])
def test_local_equal_logits_is_log_2bt(b, t, ta, chunking):
    loss = local_audio_visual_loss(torch.zeros(b, ta, 6), torch.randn(b, t, 6), chunking=chunking)
    assert loss.item() == pytest.approx(math.log(2 * b * t), abs=1e-5)


def _per_anchor_reference(scores):
    """The release's loss written anchor by anchor: row i (i against every candidate's
    instances) and column i (every anchor against i's instances) share one denominator."""
    n = scores.shape[0]
    losses = []
    for i in range(n):
        denominator = torch.cat([scores[i].flatten(), scores[:, i].flatten()])
        losses.append(torch.logsumexp(denominator, 0) - torch.logsumexp(scores[i, i], 0))
    return torch.stack(losses).mean()


def test_losses_against_a_per_anchor_reference():
    """Random scores, so a loss that dropped the column half (or counted the row twice)
    would differ; the equal-score and aligned cases cannot tell."""
    torch.manual_seed(0)
    s = 3 * torch.randn(5, 5, 3)
    torch.testing.assert_close(multiple_instance_nce(s), _per_anchor_reference(s))
    a, v = torch.randn(4, 6), torch.randn(4, 9, 6)
    torch.testing.assert_close(global_audio_visual_loss(a, v),
                               _per_anchor_reference(torch.einsum("id,jpd->ijp", a, v)))
    af, vf = torch.randn(2, 8, 6), torch.randn(2, 4, 6)  # 2 audio frames per video frame
    chunks = af.reshape(2 * 4, 2, 6)  # clip chunking: chunk t of clip b follows frame t
    torch.testing.assert_close(
        local_audio_visual_loss(af, vf, chunking="clip"),
        _per_anchor_reference(torch.einsum("id,jkd->ijk", vf.reshape(8, 6), chunks)))


def test_half_precision_and_autocast_keep_float32_scores():
    """Raw dot products (no temperature) in bfloat16 round the loss below its floor
    log 2; the loss runs in float32 whatever the inputs or autocast."""
    torch.manual_seed(0)
    a = torch.randn(16, 128) * 2
    v = torch.randn(16, 9, 128) * 2 + 0.5 * a[:, None]
    ref = global_audio_visual_loss(a, v)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        auto = global_audio_visual_loss(a, v)
    assert auto.dtype == torch.float32 and auto >= math.log(2) - 1e-5
    torch.testing.assert_close(auto, ref)
    low = global_audio_visual_loss(a.bfloat16(), v.bfloat16())
    assert low.dtype == torch.float32 and low >= math.log(2) - 1e-5
    loss = GlobalLocalLoss()  # the whole objective, attention pooling included
    args = (torch.randn(4, 8), torch.randn(4, 9, 8), torch.randn(4, 16, 8), torch.randn(4, 4, 9, 8))
    for dtype in (torch.float16, torch.bfloat16):
        half = loss(*(x.to(dtype) for x in args))["loss"]
        assert half.dtype == torch.float32 and torch.isfinite(half)
    with pytest.raises(ValueError, match="audio contains 16 NaN"):
        global_audio_visual_loss(torch.where(torch.arange(128) == 3, float("nan"), a), v)  # column 3


def test_perfect_alignment_is_log_2():
    b, p = 6, 4
    s = torch.full((b, b, p), -50.0)
    s[torch.arange(b), torch.arange(b)] = 50.0
    assert multiple_instance_nce(s).item() == pytest.approx(math.log(2), abs=1e-4)
    # global form: orthogonal audio vectors, each video's positions equal its audio, scaled
    a = 30 * torch.eye(b)
    v = a[:, None, :].expand(b, p, b).clone()
    assert global_audio_visual_loss(a, v).item() == pytest.approx(math.log(2), abs=1e-4)


def test_local_perfect_alignment_clip_chunking():
    b, t, k = 2, 3, 2
    d = b * t
    v = 30 * torch.eye(d).view(b, t, d)
    a = v.repeat_interleave(k, dim=1)  # audio frames [t*k, (t+1)*k) equal video frame t
    assert local_audio_visual_loss(a, v).item() == pytest.approx(math.log(2), abs=1e-4)


def test_release_chunking_drifts_across_clips():
    # Ta not a multiple of T: the release's flattened groups differ from per-clip chunks
    a, v = torch.randn(3, 7, 4), torch.randn(3, 3, 4)
    assert not torch.isclose(local_audio_visual_loss(a, v, "clip"), local_audio_visual_loss(a, v, "release"))
    a8 = torch.randn(3, 6, 4)  # multiple of T: identical
    assert torch.isclose(local_audio_visual_loss(a8, v, "clip"), local_audio_visual_loss(a8, v, "release"))


def test_module_gradients_finite_and_attention_normalised():
    b, t, p, ta = 4, 5, 9, 20
    inputs = [torch.randn(b, 8, requires_grad=True), torch.randn(b, p, 8, requires_grad=True),
              torch.randn(b, ta, 6, requires_grad=True), torch.randn(b, t, p, 6, requires_grad=True)]
    out = GlobalLocalLoss()(*inputs)
    out["loss"].backward()
    assert all(torch.isfinite(x.grad).all() for x in inputs)
    assert torch.allclose(out["attention"].sum(1), torch.ones(b))
    assert out["loss"].item() == pytest.approx((out["global"] + out["local"]).item(), rel=1e-6)


@pytest.mark.parametrize("detach", [False, True])
def test_detach_attention_stops_local_gradient_into_the_attention(detach):
    """With ``detach_attention`` the local term trains only the pooled frame maps and the audio
    frames; the attention's inputs (global pathway) get no gradient from it."""
    b, t, p, ta = 3, 4, 6, 8
    torch.manual_seed(0)
    inputs = [torch.randn(b, 8, requires_grad=True), torch.randn(b, p, 8, requires_grad=True),
              torch.randn(b, ta, 5, requires_grad=True), torch.randn(b, t, p, 5, requires_grad=True)]
    out = GlobalLocalLoss(global_weight=0.0, local_weight=1.0, detach_attention=detach)(*inputs)
    out["loss"].backward()
    attention_inputs_moved = any(bool(x.grad.abs().sum() > 0) for x in inputs[:2])
    assert attention_inputs_moved is not detach
    assert inputs[2].grad.abs().sum() > 0 and inputs[3].grad.abs().sum() > 0


def test_attention_is_a_softmax_of_dot_products_and_pools_the_local_term():
    torch.manual_seed(1)
    a, vmap = torch.randn(3, 4), torch.randn(3, 6, 4)
    expected = torch.softmax(torch.stack([vmap[b] @ a[b] for b in range(3)]), dim=1)
    torch.testing.assert_close(audio_spatial_attention(a, vmap), expected)
    af, maps = torch.randn(3, 8, 5), torch.randn(3, 4, 6, 5)
    out = GlobalLocalLoss(global_weight=0.3, local_weight=2.0)(a, vmap, af, maps)
    torch.testing.assert_close(out["attention"], expected)
    pooled = (expected[:, None, :, None] * maps).sum(2)
    torch.testing.assert_close(out["local"], local_audio_visual_loss(af, pooled))
    torch.testing.assert_close(out["global"], global_audio_visual_loss(a, vmap))
    torch.testing.assert_close(out["loss"], 0.3 * out["global"] + 2.0 * out["local"])


def test_release_chunking_groups_the_flattened_audio_frames():
    """The release flattens the batch's audio frames and gives flattened video frame i the
    audio rows [i k, (i + 1) k), k = Ta // T, from the first clip's frames on."""
    torch.manual_seed(2)
    b, t, ta, d = 3, 3, 7, 4
    af, vf = torch.randn(b, ta, d), torch.randn(b, t, d)
    flat_audio, flat_video, k = af.reshape(b * ta, d), vf.reshape(b * t, d), ta // t
    scores = torch.stack([torch.stack([flat_audio[j * k:(j + 1) * k] @ flat_video[i]
                                       for j in range(b * t)]) for i in range(b * t)])
    torch.testing.assert_close(local_audio_visual_loss(af, vf, "release"),
                               _per_anchor_reference(scores))


def test_attention_pool_shapes():
    w = audio_spatial_attention(torch.randn(2, 4), torch.randn(2, 6, 4))
    maps = torch.randn(2, 3, 6, 5)
    pooled = attention_pool(w, maps)
    assert pooled.shape == (2, 3, 5)
    # documented: out[b, t] = sum_p weights[b, p] * frame_maps[b, t, p]
    assert torch.allclose(pooled, (w[:, None, :, None] * maps).sum(2), atol=1e-6)
    for b in range(2):
        for t in range(3):
            assert torch.allclose(pooled[b, t], w[b] @ maps[b, t], atol=1e-6)
    # unnormalised weights are used as given (no re-normalisation inside)
    raw = torch.randn(2, 6)
    expected = (raw[:, None, :, None] * maps).sum(2)
    assert torch.allclose(attention_pool(raw, maps), expected, atol=1e-6)
    # one-hot weights pick that position's map
    picked = attention_pool(torch.eye(6)[[4, 1]], maps)
    assert torch.equal(picked, torch.stack([maps[0, :, 4], maps[1, :, 1]]))


def test_bad_shapes_rejected():
    with pytest.raises(ValueError, match=r"video_map must be 3-D \[B, P, D\]"):
        global_audio_visual_loss(torch.randn(2, 4), torch.randn(2, 4))
    with pytest.raises(ValueError, match="batch size must agree"):
        global_audio_visual_loss(torch.randn(2, 4), torch.randn(3, 5, 4))
    with pytest.raises(ValueError, match="feature dim must agree"):
        local_audio_visual_loss(torch.randn(2, 8, 4), torch.randn(2, 4, 5))
    with pytest.raises(ValueError, match="at least as many frames"):
        local_audio_visual_loss(torch.randn(2, 3, 4), torch.randn(2, 4, 4))
    with pytest.raises(ValueError, match="chunking must be"):
        local_audio_visual_loss(torch.randn(2, 8, 4), torch.randn(2, 4, 4), chunking="x")
