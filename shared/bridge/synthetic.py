"""Synthetic video, audio and feature-sequence data for the bridge demos and tests.

No video, audio or text corpora are reachable here, so every demonstration runs on data made
by the functions below. Each generator is deterministic given its ``seed`` and returns plain
tensors (videos as ``[N, T, 3, H, W]`` floats in ``[0, 1]``) plus the ground-truth factors
the demos probe for.

Example::

    >>> from shared.bridge.synthetic import moving_shapes
    >>> data = moving_shapes(4, n_frames=8, size=16, seed=0)
    >>> data.video.shape
    torch.Size([4, 8, 3, 16, 16])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

#: RGB colours used by :func:`moving_shapes` (index = colour label).
PALETTE = torch.tensor(
    [
        [1.0, 0.15, 0.15],  # red
        [0.15, 1.0, 0.15],  # green
        [0.2, 0.35, 1.0],  # blue
        [1.0, 0.9, 0.1],  # yellow
    ]
)
#: Colours of the silent square with ``audio_visual_clips(distractor="neutral")``: none of them
#: is a class colour of :data:`PALETTE`, so the silent square never looks like a sound class.
NEUTRAL_PALETTE = torch.tensor(
    [
        [1.0, 0.2, 1.0],  # magenta
        [0.2, 1.0, 1.0],  # cyan
        [0.95, 0.95, 0.95],  # white
        [0.55, 0.55, 0.55],  # grey
    ]
)
#: Unit (dy, dx) motion directions used by :func:`moving_shapes` (index = direction label).
DIRECTIONS = torch.tensor([[0.0, 1.0], [0.0, -1.0], [1.0, 0.0], [-1.0, 0.0]])


@dataclass
class MovingShapes:
    """Output of :func:`moving_shapes`.

    Attributes:
        video: ``[N, T, 3, H, W]`` in ``[0, 1]``.
        colour: ``[N]`` colour label (static attribute), index into :data:`PALETTE`.
        direction: ``[N]`` motion-direction label (dynamic attribute), index into
            :data:`DIRECTIONS`; ``[N, segments]`` for segmented clips.
        position: ``[N, T, 2]`` top-left corner (y, x) of the square in every frame.
    """

    video: Tensor
    colour: Tensor
    direction: Tensor
    position: Tensor


def _render_squares(
    position: Tensor, side: Tensor, colour: Tensor, size: int, background: Tensor
) -> Tensor:
    """Paint anti-aliased squares. position ``[N, T, 2]``, side ``[N]``, colour ``[N, 3]``,
    background ``[N, T, 3, H, W]`` -> ``[N, T, 3, H, W]``."""
    grid = torch.arange(size, dtype=torch.float32) + 0.5
    y0 = position[..., 0, None]  # [N, T, 1]
    x0 = position[..., 1, None]
    s = side[:, None, None]
    # soft box: 1 inside, linear ramp of one pixel at the border
    wy = ((grid - y0).clamp(0, 1) * (y0 + s - grid).clamp(0, 1)).clamp(0, 1)  # [N, T, H]
    wx = ((grid - x0).clamp(0, 1) * (x0 + s - grid).clamp(0, 1)).clamp(0, 1)  # [N, T, W]
    mask = wy[..., :, None] * wx[..., None, :]  # [N, T, H, W]
    mask = mask[:, :, None]
    return background * (1 - mask) + colour[:, None, :, None, None] * mask


def moving_shapes(
    n: int,
    n_frames: int = 16,
    size: int = 32,
    *,
    side: tuple[int, int] = (6, 10),
    speed: tuple[float, float] = (0.8, 1.6),
    noise: float = 0.05,
    segments: int = 1,
    restart: bool = False,
    seed: int = 0,
) -> MovingShapes:
    """Clips of one coloured square moving in a straight line over a noisy background.

    Colour (4 classes) and motion direction (4 classes) are drawn independently, so a
    feature can know one without the other. Start positions are chosen so that the square
    stays inside the frame for all ``n_frames`` where it can: a square whose travel
    ``speed * (n_frames - 1)`` plus its side exceeds ``size`` starts at the edge it moves
    away from and runs partly out of the frame, where it is clipped (26 of 512 clips of
    ``moving_shapes(512, 16, 32)``).

    With ``segments > 1`` the clip is cut into that many equal time segments, each with its
    own random direction (``direction`` becomes ``[n, segments]``), and the square wraps
    around the frame edges (a torus), so motion is a time-varying attribute while colour
    stays constant. With ``restart=True`` as well, the square jumps back to the clip's start
    position at the beginning of every segment, so the *only* thing that differs between two
    segments of a clip is the direction of motion (without it, where the square is also
    changes over time and can stand in for motion).

    Returns:
        :class:`MovingShapes` with ``video`` of shape ``[n, n_frames, 3, size, size]``.
    """
    if segments > 1:
        return _segmented_shapes(n, n_frames, size, side, speed, noise, segments, seed, restart)
    g = torch.Generator().manual_seed(seed)
    colour = torch.randint(0, len(PALETTE), (n,), generator=g)
    direction = torch.randint(0, len(DIRECTIONS), (n,), generator=g)
    sides = torch.randint(side[0], side[1] + 1, (n,), generator=g).float()
    speeds = speed[0] + (speed[1] - speed[0]) * torch.rand(n, generator=g)
    vel = DIRECTIONS[direction] * speeds[:, None]  # [n, 2]
    travel = vel * (n_frames - 1)
    lo = (-travel).clamp(min=0)
    hi = (size - sides[:, None] - travel.clamp(min=0)).clamp(min=0)
    hi = torch.maximum(hi, lo)
    start = lo + (hi - lo) * torch.rand(n, 2, generator=g)
    t = torch.arange(n_frames, dtype=torch.float32)
    position = start[:, None, :] + t[None, :, None] * vel[:, None, :]
    base = 0.2 * torch.rand(n, 1, 3, 1, 1, generator=g)
    background = base + noise * torch.randn(n, n_frames, 3, size, size, generator=g)
    rgb = (PALETTE[colour] * (0.85 + 0.15 * torch.rand(n, 1, generator=g))).clamp(0, 1)
    video = _render_squares(position, sides, rgb, size, background).clamp(0, 1)
    return MovingShapes(video=video, colour=colour, direction=direction, position=position)


def _segmented_shapes(
    n: int,
    n_frames: int,
    size: int,
    side: tuple[int, int],
    speed: tuple[float, float],
    noise: float,
    segments: int,
    seed: int,
    restart: bool = False,
) -> MovingShapes:
    g = torch.Generator().manual_seed(seed)
    colour = torch.randint(0, len(PALETTE), (n,), generator=g)
    direction = torch.randint(0, len(DIRECTIONS), (n, segments), generator=g)
    sides = torch.randint(side[0], side[1] + 1, (n,), generator=g).float()
    speeds = speed[0] + (speed[1] - speed[0]) * torch.rand(n, generator=g)
    seg_of_frame = torch.clamp(torch.arange(n_frames) * segments // n_frames, max=segments - 1)
    vel = DIRECTIONS[direction[:, seg_of_frame]] * speeds[:, None, None]  # [n, T, 2]
    start = size * torch.rand(n, 1, 2, generator=g)
    if restart:  # frame f sits (f - first frame of its segment) steps from the start
        seg_start = torch.searchsorted(seg_of_frame, seg_of_frame, right=False)
        since = (torch.arange(n_frames) - seg_start).float()[None, :, None]
        position = torch.remainder(start + since * vel, size)
    else:
        steps = torch.cat([torch.zeros(n, 1, 2), vel[:, :-1]], dim=1)
        position = torch.remainder(start + torch.cumsum(steps, dim=1), size)
    base = 0.2 * torch.rand(n, 1, 3, 1, 1, generator=g)
    video = base + noise * torch.randn(n, n_frames, 3, size, size, generator=g)
    rgb = (PALETTE[colour] * (0.85 + 0.15 * torch.rand(n, 1, generator=g))).clamp(0, 1)
    for dy in (0.0, -size):  # draw wrapped copies so the square re-enters at the far edge
        for dx in (0.0, -size):
            video = _render_squares(position + torch.tensor([dy, dx]), sides, rgb, size, video)
    return MovingShapes(video=video.clamp(0, 1), colour=colour, direction=direction,
                        position=position)


@dataclass
class AudioVisualClips:
    """Output of :func:`audio_visual_clips`.

    Attributes:
        video: ``[N, T, 3, H, W]`` two squares, only one of them "sounds" (white when
            ``n_classes == 1``, else in its class's colour).
        audio: ``[N, Ta, F]`` log-magnitude spectrogram of the tone, ``Ta = T * hop_ratio``.
        source_mask: ``[N, T, H, W]`` bool, pixels of the sounding square.
        distractor_mask: ``[N, T, H, W]`` bool, pixels of the silent square.
        frequency: ``[N, T]`` tone frequency (Hz) during each video frame.
        source_class: ``[N]`` class of the sounding square (its colour and the tone's
            frequency band); all zeros when ``n_classes == 1``.
        distractor_class: ``[N]`` class whose colour the silent square has (never the
            source's when ``n_classes > 1``); all zeros when ``n_classes == 1``; ``-1`` with
            ``distractor="neutral"`` (the silent square has no class colour).
    """

    video: Tensor
    audio: Tensor
    source_mask: Tensor
    distractor_mask: Tensor
    frequency: Tensor
    source_class: Tensor
    distractor_class: Tensor


def _smooth_walk(n: int, steps: int, lo: float, hi: float, g: torch.Generator) -> Tensor:
    """A random smooth 1-D trajectory in [lo, hi]: [n, steps]."""
    phase = 2 * math.pi * torch.rand(n, 1, generator=g)
    freq = 0.5 + 1.5 * torch.rand(n, 1, generator=g)
    t = torch.linspace(0, 1, steps)[None, :]
    wave = 0.5 + 0.45 * torch.sin(2 * math.pi * freq * t + phase)
    return lo + (hi - lo) * wave


def audio_visual_clips(
    n: int,
    n_frames: int = 8,
    size: int = 16,
    *,
    side: int = 4,
    hop_ratio: int = 4,
    sample_rate: int = 8000,
    n_fft: int = 64,
    noise: float = 0.05,
    audio_noise: float = 0.3,
    n_classes: int = 1,
    distractor: Literal["class", "neutral"] = "class",
    seed: int = 0,
) -> AudioVisualClips:
    """Clips where a tone's pitch follows the height of one of two squares.

    Both squares wander along smooth random paths; the *source*'s vertical position sets the
    tone frequency, and its horizontal position sets the loudness. The waveform is a chirp
    with continuous phase; ``audio`` is its ``log(1 + |STFT|)`` with ``hop_ratio`` audio
    frames per video frame.

    * ``n_classes == 1``: two identical white squares, frequency 500 Hz (top) to 3500 Hz
      (bottom). Appearance alone cannot tell the squares apart, and clips differ only in
      their trajectories.
    * ``n_classes > 1`` (the kind of content real clips have: sounding objects of several
      categories): each clip has a source class ``c``; the source square has colour
      ``PALETTE[c]`` and its tone lives in frequency band ``c`` of ``n_classes`` equal bands
      of 400-3800 Hz (height moves it within the band); the silent square has the colour of
      a different class. Clip-level audio (band) now says *what* sounds, and localising it
      means matching band to colour; frame-level audio (pitch within the band, loudness)
      still follows the source's trajectory.
    * ``distractor="neutral"`` (with ``n_classes > 1``): the silent square takes a colour of
      :data:`NEUTRAL_PALETTE` instead of another class's, so a clip shows exactly one class
      colour and "which clips have the query's class" has one answer. With ``"class"`` a
      time-averaged clip vector cannot tell which of the two class colours sounds, so
      retrieving a clip with the query's class as its *silent* square is as good a match
      as the right one (see :mod:`shared.bridge.demos.global_local`).

    Returns:
        :class:`AudioVisualClips`; ``audio`` has shape ``[n, n_frames * hop_ratio, n_fft//2+1]``.
    """
    g = torch.Generator().manual_seed(seed)
    hi = float(size - side)
    ys = _smooth_walk(n, n_frames, 0, hi, g)
    xs = _smooth_walk(n, n_frames, 0, hi, g)
    yd = _smooth_walk(n, n_frames, 0, hi, g)
    xd = _smooth_walk(n, n_frames, 0, hi, g)
    pos_s = torch.stack([ys, xs], -1)
    pos_d = torch.stack([yd, xd], -1)
    base = 0.1 + 0.1 * torch.rand(n, 1, 3, 1, 1, generator=g)
    bg = base + noise * torch.randn(n, n_frames, 3, size, size, generator=g)
    if n_classes < 1 or n_classes > len(PALETTE):
        raise ValueError(f"n_classes must be in [1, {len(PALETTE)}], got {n_classes}")
    sides = torch.full((n,), float(side))
    if distractor not in ("class", "neutral"):
        raise ValueError(f"distractor must be 'class' or 'neutral', got {distractor!r}")
    if distractor == "neutral" and n_classes == 1:
        raise ValueError("distractor='neutral' needs n_classes > 1 (with one class both "
                         "squares are white)")
    if n_classes == 1:
        cls = other = torch.zeros(n, dtype=torch.long)
        col_s = col_d = torch.ones(n, 3)
    else:
        cls = torch.randint(0, n_classes, (n,), generator=g)
        col_s = PALETTE[cls]
        if distractor == "class":
            other = (cls + torch.randint(1, n_classes, (n,), generator=g)) % n_classes
            col_d = PALETTE[other]
        else:
            col_d = NEUTRAL_PALETTE[torch.randint(0, len(NEUTRAL_PALETTE), (n,), generator=g)]
            other = torch.full((n,), -1)
    video = _render_squares(pos_s, sides, col_s, size, bg)
    video = _render_squares(pos_d, sides, col_d, size, video).clamp(0, 1)

    grid = torch.arange(size, dtype=torch.float32)[None, None, :]

    def box(pos: Tensor) -> Tensor:
        iny = (grid >= pos[..., 0, None].floor()) & (grid < pos[..., 0, None].floor() + side)
        inx = (grid >= pos[..., 1, None].floor()) & (grid < pos[..., 1, None].floor() + side)
        return iny[..., :, None] & inx[..., None, :]

    if n_classes == 1:
        frequency = 500.0 + 3000.0 * ys / hi  # [n, T]
    else:
        band = 3400.0 / n_classes
        frequency = 400.0 + band * (cls[:, None].float() + 0.1 + 0.8 * ys / hi)
    loudness = 0.4 + 0.6 * xs / hi
    hop = max(1, sample_rate // (n_frames * hop_ratio))
    n_samples = hop * n_frames * hop_ratio
    # per-sample frequency and amplitude by linear interpolation of the per-frame values,
    # frame t's value at the centre of its samples [t, t + 1) * n_samples / n_frames, so
    # audio chunk t (STFT frames t * hop_ratio ...) hears frame t (a linspace over
    # [0, n_frames - 1] ran ahead: the last chunk heard frames 6-7 of 8)
    idx = ((torch.arange(n_samples) + 0.5) * n_frames / n_samples - 0.5).clamp(0, n_frames - 1)
    i0 = idx.floor().long().clamp(max=n_frames - 1)
    i1 = (i0 + 1).clamp(max=n_frames - 1)
    w = (idx - i0.float())[None, :]
    f_s = frequency[:, i0] * (1 - w) + frequency[:, i1] * w
    a_s = loudness[:, i0] * (1 - w) + loudness[:, i1] * w
    phase0 = 2 * math.pi * torch.rand(n, 1, generator=g)
    phase = phase0 + 2 * math.pi * torch.cumsum(f_s, dim=1) / sample_rate
    wave = a_s * torch.sin(phase) + audio_noise * 0.1 * torch.randn(n, n_samples, generator=g)
    spec = torch.stft(
        wave,
        n_fft=n_fft,
        hop_length=hop,
        window=torch.hann_window(n_fft),
        center=True,
        return_complex=True,
    ).abs()  # [n, F, frames]
    spec = spec[..., : n_frames * hop_ratio]
    audio = torch.log1p(spec).transpose(1, 2).contiguous()
    return AudioVisualClips(
        video=video,
        audio=audio,
        source_mask=box(pos_s),
        distractor_mask=box(pos_d),
        frequency=frequency,
        source_class=cls,
        distractor_class=other,
    )


def pan_video(
    image: str = "astronaut",
    n_frames: int = 32,
    height: int = 72,
    width: int = 128,
    *,
    step: float = 3.0,
    scale: float = 0.5,
) -> Tensor:
    """A horizontal camera pan over one of scikit-image's bundled pictures.

    The picture is rescaled by ``scale`` and a ``height x width`` window slides right by
    ``step`` pixels per frame (bilinear sub-pixel shifts), starting from the left edge.
    scikit-image is imported here, not at ``import shared``.

    Returns:
        ``[n_frames, 3, height, width]`` float32 in ``[0, 1]``.
    """
    import skimage.data
    import skimage.transform

    img = getattr(skimage.data, image)()
    if img.ndim == 2:
        img = img[..., None].repeat(3, axis=-1)
    img = skimage.transform.rescale(img[..., :3], scale, channel_axis=-1, anti_aliasing=True)
    pic = torch.from_numpy(img).float().permute(2, 0, 1)  # [3, h, w] in [0, 1]
    h, w = pic.shape[1:]
    need = width + step * (n_frames - 1) + 1
    if h < height or w < need:
        raise ValueError(
            f"image {image!r} at scale {scale} is {h}x{w}; a {n_frames}-frame pan of "
            f"{height}x{width} windows at step {step} needs at least {height}x{math.ceil(need)}"
        )
    top = (h - height) // 2
    frames = []
    for i in range(n_frames):
        x = step * i
        x0 = int(math.floor(x))
        frac = x - x0
        a = pic[:, top : top + height, x0 : x0 + width]
        b = pic[:, top : top + height, x0 + 1 : x0 + 1 + width]
        frames.append((1 - frac) * a + frac * b)
    return torch.stack(frames).clamp(0, 1).contiguous()


@dataclass
class FeatureSequences:
    """Output of :func:`feature_sequences`.

    Attributes:
        visual: ``[N, T, D]`` continuous per-step features (smooth in time).
        text: ``[N, L, D]`` features of a second modality, aligned with ``visual`` only at the
            sequence level (through the shared topic), not step by step.
        topic: ``[N]`` topic label shared by the two modalities.
    """

    visual: Tensor
    text: Tensor
    topic: Tensor


def feature_sequences(
    n: int,
    length: int = 16,
    dim: int = 32,
    *,
    text_length: int = 6,
    n_topics: int = 16,
    latent: int = 8,
    noise: float = 0.1,
    seed: int = 0,
) -> FeatureSequences:
    """Continuous feature sequences (CBT-style "visual" features) and sequence-level text.

    A sequence follows a smooth latent path (a sum of random sinusoids, so a masked step is
    predictable from its neighbours) mixed with a topic embedding; "text" tokens are a
    different random projection of the topic plus per-token noise factors, so the two
    modalities agree only at the sequence level.

    Returns:
        :class:`FeatureSequences` with ``visual [n, length, dim]`` and
        ``text [n, text_length, dim]``.
    """
    g = torch.Generator().manual_seed(seed)
    topics = torch.randn(n_topics, latent, generator=g)
    topic = torch.randint(0, n_topics, (n,), generator=g)
    t = torch.linspace(0, 1, length)[None, :, None]
    freq = 0.5 + 2.0 * torch.rand(n, 1, latent, generator=g)
    phase = 2 * math.pi * torch.rand(n, 1, latent, generator=g)
    path = torch.sin(2 * math.pi * freq * t + phase)  # [n, T, latent]
    w_path = torch.randn(latent, dim, generator=g) / math.sqrt(latent)
    w_topic_v = torch.randn(latent, dim, generator=g) / math.sqrt(latent)
    own = 0.5 * torch.randn(n, latent, generator=g)  # per-sequence offset: sequences differ
    visual = path @ w_path + ((topics[topic] + own) @ w_topic_v)[:, None, :]
    visual = visual + noise * torch.randn(n, length, dim, generator=g)
    w_topic_t = torch.randn(latent, dim, generator=g) / math.sqrt(latent)
    w_tok = torch.randn(latent, dim, generator=g) / math.sqrt(latent)
    tokens = torch.randn(n, text_length, latent, generator=g)
    text = ((topics[topic] + own) @ w_topic_t)[:, None, :] + 0.5 * tokens @ w_tok
    text = text + noise * torch.randn(n, text_length, dim, generator=g)
    return FeatureSequences(visual=visual, text=text, topic=topic)


@dataclass
class PairedModalities:
    """Output of :func:`paired_modalities`.

    Attributes:
        x: ``[N, Dx]`` first modality.
        y: ``[N, Dy]`` second modality (``x[i]`` and ``y[i]`` describe the same sample).
        group: ``[N]`` near-duplicate group id (samples in a group share their latent).
    """

    x: Tensor
    y: Tensor
    group: Tensor


def paired_modalities(
    n_groups: int,
    group_size: int = 4,
    *,
    latent: int = 16,
    dim_x: int = 64,
    dim_y: int = 48,
    jitter: float = 0.15,
    noise: float = 0.3,
    seed: int = 0,
) -> PairedModalities:
    """Two nonlinear noisy views of shared latents, with groups of near-duplicate samples.

    Each group has one latent; its ``group_size`` members add a small ``jitter`` to it (the
    near-duplicates that plain InfoNCE treats as hard negatives). ``x = tanh(A s) + noise``,
    ``y = tanh(B s) + noise`` with fixed random ``A``, ``B``. Sample order is shuffled.

    Returns:
        :class:`PairedModalities` with ``n_groups * group_size`` rows.
    """
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(n_groups, latent, generator=g)
    group = torch.arange(n_groups).repeat_interleave(group_size)
    s = centres[group] + jitter * torch.randn(len(group), latent, generator=g)
    a = torch.randn(latent, dim_x, generator=g) / math.sqrt(latent) * 1.5
    b = torch.randn(latent, dim_y, generator=g) / math.sqrt(latent) * 1.5
    x = torch.tanh(s @ a) + noise * torch.randn(len(group), dim_x, generator=g)
    y = torch.tanh(s @ b) + noise * torch.randn(len(group), dim_y, generator=g)
    perm = torch.randperm(len(group), generator=g)
    return PairedModalities(x=x[perm], y=y[perm], group=group[perm])


@dataclass
class HierarchicalClasses:
    """Output of :func:`hierarchical_classes`.

    Attributes:
        x: ``[N, dim]`` observations.
        y: ``[N]`` fine class, ``0 .. n_super * n_sub - 1`` (classes ``k * n_sub`` to
            ``(k + 1) * n_sub - 1`` share superclass ``k``).
        superclass: ``[N]`` superclass of each row.
    """

    x: Tensor
    y: Tensor
    superclass: Tensor


def hierarchical_classes(
    n_per_class: int,
    *,
    n_super: int = 20,
    n_sub: int = 5,
    latent: int = 16,
    dim: int = 64,
    spread: float = 0.6,
    sigma: float = 0.6,
    noise: float = 0.05,
    world_seed: int = 1234,
    seed: int = 0,
) -> HierarchicalClasses:
    """Many fine classes grouped into superclasses, seen through a fixed nonlinear map.

    A CIFAR-100-like stand-in (100 classes in 20 superclasses by default): superclass centres
    ``c_k ~ N(0, I)`` in a ``latent``-d space, fine-class centres ``c_k + spread * N(0, I)``,
    samples ``z = centre + sigma * N(0, I)``, observed through a fixed random two-layer map
    ``x = tanh(relu(z W1) W2) + noise * N(0, I)``. Classes of one superclass overlap, so a
    classifier's soft outputs carry class-similarity structure the one-hot labels do not.

    ``world_seed`` fixes the centres and the map (the "world"); ``seed`` draws the samples, so
    training and test sets come from one world with different ``seed``.

    Returns:
        :class:`HierarchicalClasses` with ``n_super * n_sub * n_per_class`` rows, grouped by class.
    """
    g = torch.Generator().manual_seed(world_seed)
    sup = torch.randn(n_super, latent, generator=g)
    centres = (sup[:, None] + spread * torch.randn(n_super, n_sub, latent, generator=g))
    centres = centres.reshape(-1, latent)
    w1 = torch.randn(latent, 128, generator=g) / 4
    w2 = torch.randn(128, dim, generator=g) / 8
    gs = torch.Generator().manual_seed(seed)
    y = torch.arange(len(centres)).repeat_interleave(n_per_class)
    z = centres[y] + sigma * torch.randn(len(y), latent, generator=gs)
    x = torch.tanh(torch.relu(z @ w1) @ w2) + noise * torch.randn(len(y), dim, generator=gs)
    return HierarchicalClasses(x=x, y=y, superclass=y // n_sub)
