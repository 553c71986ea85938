"""H.264 baseline for the NeRV demo: encode frames with ffmpeg's libx264, measure PSNR/bpp.

Frames go to ``ffmpeg`` as raw RGB on stdin and come back decoded the same way; nothing is
written but a temporary Annex-B ``.h264`` elementary stream (no container overhead), whose
size gives the bits. Decoding speed is measured by timing ``ffmpeg -threads 1`` decoding to
the null muxer (the process start-up is included, so short clips understate the speed).

Example::

    >>> from shared.bridge.h264 import ffmpeg_available
    >>> isinstance(ffmpeg_available(), bool)
    True

The ``ffmpeg`` on PATH is used when it has libx264 (Debian's package does); otherwise the
binary shipped by the ``imageio-ffmpeg`` wheel (part of the ``bridge`` extra), which has it.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["ffmpeg_executable", "ffmpeg_available", "H264Result", "h264_encode"]


def _has_libx264(exe: str) -> bool:
    try:
        out = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True)
    except OSError:
        return False
    return "libx264" in out.stdout


@functools.lru_cache(maxsize=1)
def ffmpeg_executable() -> str | None:
    """Path of an ``ffmpeg`` with the libx264 encoder: the one on PATH if it has it, else
    ``imageio-ffmpeg``'s bundled binary; ``None`` if neither is there."""
    exe = shutil.which("ffmpeg")
    if exe is not None and _has_libx264(exe):
        return exe
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:
        return None
    return exe if _has_libx264(exe) else None


def ffmpeg_available() -> bool:
    """True if :func:`ffmpeg_executable` found an ``ffmpeg`` with libx264."""
    return ffmpeg_executable() is not None


def annex_b_units(stream: bytes) -> list[tuple[int, int]]:
    """``(nal_unit_type, bytes)`` of each NAL unit of an Annex B H.264 stream, from its
    ``00 00 01`` to the next one (a 4-byte start code's first zero byte is counted with the
    unit before it, or not at all at the stream's start; emulation prevention keeps
    ``00 00 01`` out of the payloads)."""
    starts, i = [], stream.find(b"\x00\x00\x01")
    while i >= 0:
        starts.append(i)
        i = stream.find(b"\x00\x00\x01", i + 3)
    ends = starts[1:] + [len(stream)]
    return [(stream[s + 3] & 0x1F, e - s) for s, e in zip(starts, ends, strict=True)
            if s + 3 < len(stream)]


#: NAL unit type of supplemental enhancement information: x264 writes its version and full
#: option string there (about 700 bytes), which no decoder needs
SEI = 6


@dataclass
class H264Result:
    """One libx264 encode: ``crf``, ``bits``, ``bpp``, ``psnr`` (dB, RGB) and ``decode_fps``.

    ``bits`` counts the stream less its SEI units (x264's version and option text, about
    5.5 kbit whatever the clip: on a short clip a third of a low-rate stream);
    ``sei_bits`` holds what was left out."""

    crf: int
    bits: int
    bpp: float
    psnr: float
    decode_fps: float
    sei_bits: int = 0


def _ffmpeg(command: list[str], stdin: bytes | None = None) -> bytes:
    """Run ``command`` and return its stdout; on failure raise ``RuntimeError`` with
    ffmpeg's own reason (``check=True`` would give only the command line)."""
    done = subprocess.run(command, input=stdin, capture_output=True)
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip()[-2000:]
        raise RuntimeError(f"ffmpeg failed (exit status {done.returncode}): {reason}")
    return done.stdout


def h264_encode(
    frames: Tensor, crf: int, preset: str = "medium", pix_fmt: str = "yuv444p", fps: int = 25
) -> H264Result:
    """Encode ``frames`` (``[T, 3, H, W]`` in ``[0, 1]``) with libx264 at constant ``crf``.

    ``pix_fmt="yuv444p"`` (default) avoids chroma subsampling so the PSNR compares like with
    like against an RGB network; pass ``"yuv420p"`` for the common consumer setting.
    """
    if frames.dim() != 4 or frames.shape[1] != 3:
        raise ValueError(f"frames must be [T, 3, H, W], got {tuple(frames.shape)}")
    if pix_fmt.startswith(("yuv420", "yuvj420", "nv12")) and (frames.shape[2] % 2 or frames.shape[3] % 2):
        raise ValueError(f"pix_fmt={pix_fmt!r} halves the chroma planes, so H and W must be "
                         f"even, got {tuple(frames.shape[2:])}; crop a row/column or use "
                         f"pix_fmt='yuv444p'")
    exe = ffmpeg_executable()
    if exe is None:
        raise RuntimeError(
            "ffmpeg with libx264 not found: pip install imageio-ffmpeg (or the bridge extra), "
            "or apt-get install ffmpeg"
        )
    t, _, h, w = frames.shape
    rgb = (frames.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()
    raw = rgb.cpu().numpy().tobytes()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "clip.h264")
        enc = [
            exe, "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(fps), "-i", "-",
            "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", pix_fmt,
            "-threads", "1", "-f", "h264", path,
        ]
        _ffmpeg(enc, stdin=raw)
        with open(path, "rb") as f:
            units = annex_b_units(f.read())
        sei_bits = 8 * sum(n for kind, n in units if kind == SEI)
        bits = os.path.getsize(path) * 8 - sei_bits
        dec = [exe, "-hide_banner", "-loglevel", "error", "-threads", "1", "-i", path,
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
        out = _ffmpeg(dec)
        start = time.perf_counter()
        _ffmpeg([exe, "-hide_banner", "-loglevel", "error", "-threads", "1", "-i", path,
                 "-f", "null", "-"])
        seconds = time.perf_counter() - start
    decoded = np.frombuffer(out, dtype=np.uint8).reshape(t, h, w, 3).astype(np.float64) / 255
    ref = rgb.cpu().numpy().astype(np.float64) / 255
    mse = float(((decoded - ref) ** 2).mean())
    return H264Result(
        crf=crf,
        bits=bits,
        bpp=bits / (t * h * w),
        psnr=float("inf") if mse == 0 else -10 * math.log10(mse),
        decode_fps=t / seconds,
        sei_bits=sei_bits,
    )
