import subprocess
import sys

import pytest
import torch

from shared.bridge.synthetic import (
    audio_visual_clips,
    feature_sequences,
    moving_shapes,
    paired_modalities,
)


def test_import_does_not_pull_heavy_or_optional_packages():
    code = (
        "import sys, shared, shared.bridge, shared.bridge.demos;"
        "bad=[m for m in sys.modules if m.split('.')[0] in "
        "('torch_geometric','stable_baselines3','gymnasium','sklearn','skimage','constriction','matplotlib')];"
        "print(bad); assert not bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_synthetic_generators_shapes_and_determinism():
    a = moving_shapes(3, 8, 16, seed=1)
    b = moving_shapes(3, 8, 16, seed=1)
    assert a.video.shape == (3, 8, 3, 16, 16) and torch.equal(a.video, b.video)
    assert a.video.min() >= 0 and a.video.max() <= 1
    seg = moving_shapes(2, 16, 24, segments=4, seed=0)
    assert seg.direction.shape == (2, 4)
    av = audio_visual_clips(2, n_frames=8, size=16, hop_ratio=4)
    assert av.audio.shape[:2] == (2, 32) and av.source_mask.shape == (2, 8, 16, 16)
    assert av.source_mask.any() and av.distractor_mask.any()
    cl = audio_visual_clips(64, n_frames=8, size=16, n_classes=4, seed=0)
    band = 3400.0 / 4
    lo = 400.0 + band * cl.source_class[:, None].float()
    assert ((cl.frequency >= lo) & (cl.frequency <= lo + band)).all()
    src_pix = (cl.video * cl.source_mask[:, :, None]).sum((1, 3, 4)) / cl.source_mask.sum((1, 2, 3))[:, None]
    from shared.bridge.synthetic import PALETTE
    nearest = torch.cdist(src_pix, PALETTE).argmin(1)  # the source square wears its class colour
    assert (nearest == cl.source_class).float().mean() > 0.9
    silent = cl.distractor_mask & ~cl.source_mask  # the silent square wears distractor_class
    dis_pix = (cl.video * silent[:, :, None]).sum((1, 3, 4)) / silent.sum((1, 2, 3))[:, None]
    assert (torch.cdist(dis_pix, PALETTE).argmin(1) == cl.distractor_class).float().mean() > 0.9
    assert (cl.distractor_class != cl.source_class).all()
    from shared.bridge.synthetic import NEUTRAL_PALETTE
    nt = audio_visual_clips(64, n_frames=8, size=16, n_classes=4, distractor="neutral", seed=0)
    silent = nt.distractor_mask & ~nt.source_mask  # now a non-class colour, class -1
    dis_pix = (nt.video * silent[:, :, None]).sum((1, 3, 4)) / silent.sum((1, 2, 3))[:, None]
    # by hue (cosine): the squares' soft edges darken their mean colour toward the background
    both = torch.nn.functional.normalize(torch.cat([PALETTE, NEUTRAL_PALETTE]), dim=1)
    hue = lambda pix: (torch.nn.functional.normalize(pix, dim=1) @ both.T).argmax(1)  # noqa: E731
    assert (hue(dis_pix) >= len(PALETTE)).float().mean() > 0.9
    # ... and it is drawn (white and grey share the grey background's hue): brighter than it
    bg = ~(nt.distractor_mask | nt.source_mask)
    bg_pix = (nt.video * bg[:, :, None]).sum((1, 3, 4)) / bg.sum((1, 2, 3))[:, None]
    assert (dis_pix.mean(1) > bg_pix.mean(1) + 0.1).all()
    src_pix = (nt.video * nt.source_mask[:, :, None]).sum((1, 3, 4)) / nt.source_mask.sum((1, 2, 3))[:, None]
    assert (hue(src_pix) == nt.source_class).float().mean() > 0.9
    assert (nt.distractor_class == -1).all()
    # the default path draws what it drew before the option existed (session 4's results);
    # the audio since session 19, when chunk t was aligned with frame t (was 5402.169)
    old = audio_visual_clips(16, n_classes=4, seed=3)
    assert old.source_class.tolist() == [1, 0, 0, 3, 3, 3, 0, 2, 3, 2, 0, 1, 0, 3, 3, 2]
    assert old.distractor_class.tolist() == [0, 2, 2, 1, 2, 2, 3, 0, 0, 0, 3, 2, 2, 0, 1, 1]
    assert float(old.video.sum()) == pytest.approx(17334.078, rel=1e-5)
    assert float(old.audio.sum()) == pytest.approx(5415.553, rel=1e-5)
    with pytest.raises(ValueError, match="distractor must be"):
        audio_visual_clips(2, n_classes=4, distractor="grey")
    with pytest.raises(ValueError, match="n_classes > 1"):
        audio_visual_clips(2, distractor="neutral")
    fs = feature_sequences(5, 10, 8, text_length=3)
    assert fs.visual.shape == (5, 10, 8) and fs.text.shape == (5, 3, 8)
    pm = paired_modalities(4, 3)
    assert pm.x.shape[0] == pm.y.shape[0] == 12 and torch.bincount(pm.group).tolist() == [3, 3, 3, 3]


def test_audio_chunk_t_hears_video_frame_t():
    """The tone of audio chunk t (STFT frames t * hop_ratio ...) follows frame t's pitch
    equally well at every t: the local loss and the frame-alignment metric pair chunk t
    with frame t. (An interpolation that ran ahead matched the last chunk to frame 7 in
    14% of clips against 67% mid-clip.)"""
    c = audio_visual_clips(256, n_classes=1, noise=0.0, audio_noise=0.0, seed=0)
    n, t = c.frequency.shape
    f = c.audio.shape[2]
    bins = torch.arange(f) * 8000 / 64  # sample_rate / n_fft
    peak = bins[c.audio.reshape(n, t, -1, f).mean(2).argmax(-1)]  # [N, T] chunk pitch
    nearest = (peak[:, :, None] - c.frequency[:, None, :]).abs().argmin(2)  # [N, T] frame
    hits = (nearest == torch.arange(t)).float().mean(0)  # per chunk
    assert hits.min() > 0.55, hits
