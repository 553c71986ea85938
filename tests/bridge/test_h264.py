"""The H.264 baseline of the NeRV demo: real libx264 encodes on a short pan."""

import pytest
import torch

from shared.bridge.h264 import ffmpeg_available, h264_encode

needs_ffmpeg = pytest.mark.skipif(not ffmpeg_available(), reason="ffmpeg with libx264 not installed")


def _pan(t: int = 8, h: int = 32, w: int = 48) -> torch.Tensor:
    from shared.bridge.synthetic import pan_video

    return pan_video(n_frames=t, height=h, width=w)


@needs_ffmpeg
def test_rate_and_distortion_move_with_crf():
    frames = _pan()
    fine, coarse = h264_encode(frames, crf=10), h264_encode(frames, crf=40)
    t, _, h, w = frames.shape
    for r in (fine, coarse):
        assert r.bpp == pytest.approx(r.bits / (t * h * w))
        assert r.decode_fps > 0
    # lower CRF: more bits and higher PSNR; both far above an all-grey guess
    assert fine.bits > coarse.bits
    assert fine.psnr > coarse.psnr + 5
    grey_mse = ((frames - 0.5) ** 2).mean().item()
    assert coarse.psnr > -10 * torch.log10(torch.tensor(grey_mse)).item()
    assert fine.psnr > 35


@needs_ffmpeg
def test_identical_frames_cost_few_bits():
    still = _pan(t=1).expand(8, -1, -1, -1).contiguous()
    moving = _pan(t=8)
    assert h264_encode(still, crf=20).bits < h264_encode(moving, crf=20).bits


def test_bad_frames_rejected():
    with pytest.raises(ValueError, match=r"frames must be \[T, 3, H, W\]"):
        h264_encode(torch.rand(4, 32, 32), crf=20)


def test_falls_back_to_imageio_ffmpeg(monkeypatch):
    pytest.importorskip("imageio_ffmpeg")
    from shared.bridge import h264

    monkeypatch.setattr(h264.shutil, "which", lambda name: None)
    h264.ffmpeg_executable.cache_clear()
    try:
        exe = h264.ffmpeg_executable()
        assert exe is not None and "imageio_ffmpeg" in exe
        assert h264.h264_encode(_pan(t=4), crf=20).psnr > 30
    finally:
        h264.ffmpeg_executable.cache_clear()


def test_annex_b_units_split_on_start_codes():
    from shared.bridge.h264 import annex_b_units

    stream = (b"\x00\x00\x00\x01\x67\xaa\xbb" + b"\x00\x00\x01\x06" + b"x" * 10
              + b"\x00\x00\x01\x65\x01\x02")
    # from each 00 00 01 to the next; a 4-byte start code's first zero is not counted
    assert annex_b_units(stream) == [(7, 6), (6, 14), (5, 6)]


@needs_ffmpeg
def test_bits_leave_out_x264s_sei_text():
    """x264 writes its version and options as an SEI unit (hundreds of bytes, whatever the
    clip); the rate counts the coded video only."""
    r = h264_encode(_pan(t=4), crf=30)
    assert 4000 < r.sei_bits < 8000
    assert r.bits > 0 and r.bpp == pytest.approx(r.bits / (4 * 32 * 48))
