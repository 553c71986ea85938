"""Long/short view decomposition on synthetic videos: which part knows colour, which motion.

Data: :func:`shared.bridge.synthetic.moving_shapes` with ``segments=8`` and ``restart=True``:
a square of one colour (static attribute, 4 classes) moves in a new random direction
(dynamic attribute, 4 classes per segment) in each of 8 four-frame segments, starting every
segment from the clip's start position, so motion is the only thing that changes over time.
A clip holds two long views of 16 frames (segments 0-3 and 4-7); the 4 short views are the
first long view's 4-frame segments, in order. One :class:`ClipEncoder3d` backbone encodes
everything; :class:`LongShortLoss` splits features into a stationary and a non-stationary
part.

Arms: ``long_short`` is the paper's objective as described (negatives = the other videos of
the batch); ``long_short_same_video`` adds the clip's second long view as a second positive
of the stationary term and a hard negative of the non-stationary term (our addition, see
:mod:`shared.bridge.long_short`); ``random_init`` is an untrained network.

Held-out probes (logistic regression) on each part of the *short* views' embeddings: the
clip's colour and that segment's motion direction (chance 0.25 for both), and colour from
the long views' parts. The paper's claim: the stationary part keeps what is stable over
time (colour) and the non-stationary part what varies (motion). Checked as: stationary
colour >= non-stationary colour - 0.05, non-stationary motion >= stationary motion + 0.05,
and non-stationary motion >= 0.30 (0.05 is about 3 binomial standard errors on 1024 short
views); the check is decided on ``long_short``, the variant is reported beside it.

Findings (full run, 512 clips, 60 epochs = 480 steps per arm): with the paper's objective
both parts learn colour (stationary 0.87, non-stationary 0.93; random network 0.56 / 0.59)
and *neither* keeps motion (0.27 / 0.27, below the random network's 0.32 / 0.33), although
both training losses fall far (stationary 1.67 -> 0.03, non-stationary 3.87 -> 0.08): the
other videos of a batch are told apart by colour, size and position, so nothing rewards
motion. The claim does not hold. With the same-video long view the non-stationary loss
falls to 0.10 (it cannot go below log 2 = 0.69 without telling the two windows apart), the
non-stationary part predicts motion at 0.38 against 0.28 for the stationary part, and the
stationary part keeps colour best (0.93 vs 0.87): the claim holds for this variant, with
motion only moderately above chance. Earlier versions (one long view of 16 frames, the
square drifting on a torus, 15 epochs; then a shuffled-order hard negative) left motion at
chance for every arm; a supervised probe shows the encoder can learn direction (0.99 after
5 epochs), so the limit was the objective, not the network.
"""

from __future__ import annotations

import math
import time

import torch

from shared.bridge.encoders import ClipEncoder3d
from shared.bridge.long_short import LongShortLoss
from shared.bridge.synthetic import moving_shapes

K = 4
#: frames of one long view; each clip holds two long views (disjoint time windows)
LONG = 16
#: trained arms: the paper's objective (negatives = other videos) and the same with the
#: clip's other time window as a same-video long view; then a random network
ARMS = ("long_short", "long_short_same_video", "random_init")
#: margin (fraction) by which a probe must beat another to count, about 3 binomial standard
#: errors on the 1024 held-out short views at accuracy 0.3
MARGIN = 0.05
#: probe regularisation grid (C chosen by 5-fold CV on the training rows); the large-C fits
#: of the default grid are slow to converge and add nothing on 32-d features
CS = (0.01, 0.1, 1.0)


def _views(video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """video [B, T, C, H, W] -> long [B, C, T, H, W], short [B*K, C, T/K, H, W]."""
    b, t = video.shape[:2]
    long = video.permute(0, 2, 1, 3, 4)
    short = video.reshape(b * K, t // K, *video.shape[2:]).permute(0, 2, 1, 3, 4)
    return long, short


def _embed(enc, crit, video, which: str = "short"):
    """Stationary and non-stationary parts of the long views ``[B, D]`` or short views
    ``[B * K, D]`` (video-major, segment-minor)."""
    enc.eval()
    crit.eval()
    with torch.no_grad():
        long, short = _views(video)
        x = long if which == "long" else short
        f = torch.cat([enc(x[i : i + 256]) for i in range(0, len(x), 256)])
        s, n = crit.split(f)
    enc.train()
    crit.train()
    return s, n


def _train(enc, crit, video, epochs: int, seed: int, same_video: bool) -> dict:
    """Train on the first long window of every clip (and, with ``same_video``, use the
    second window as the same-video long view)."""
    opt = torch.optim.Adam([*enc.parameters(), *crit.parameters()], lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    n = len(video)
    curve = []
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        ep = []
        for i in range(0, n - 63, 64):
            v = video[perm[i : i + 64]]
            long, short = _views(v[:, :LONG])
            other = enc(v[:, LONG:].permute(0, 2, 1, 3, 4)) if same_video else None
            out = crit(enc(long), enc(short).view(len(v), K, -1), other)
            opt.zero_grad()
            out["loss"].backward()
            opt.step()
            ep.append((out["stationary"].item(), out["nonstationary"].item()))
        curve.append([sum(c) / len(ep) for c in zip(*ep, strict=True)])
    return {"train_seconds": round(time.perf_counter() - t0, 1),
            "stationary_loss_first_last": [curve[0][0], curve[-1][0]],
            "nonstationary_loss_first_last": [curve[0][1], curve[-1][1]],
            "chance_loss": math.log(64)}


def _claim(m: dict) -> bool:
    return bool(m["stationary_colour"] >= m["nonstationary_colour"] - MARGIN
                and m["nonstationary_motion"] >= m["stationary_motion"] + MARGIN
                and m["nonstationary_motion"] >= 0.25 + MARGIN)


def run(quick: bool = False, seed: int = 0, epochs: int | None = None,
        n_train: int | None = None) -> dict:
    from shared.probes import logistic_regression_probe

    n_train = n_train or (256 if quick else 512)
    n_test = 128 if quick else 256
    epochs = epochs or (4 if quick else 60)
    # two long windows of 4 segments; the square restarts from the clip's start position in
    # every segment, so only the motion direction changes over time
    kw = {"segments": 2 * K, "side": (5, 7), "speed": (1.5, 2.5), "restart": True}
    train = moving_shapes(n_train, 2 * LONG, 24, seed=seed, **kw)
    test = moving_shapes(n_test, 2 * LONG, 24, seed=seed + 1000, **kw)
    metrics: dict[str, dict[str, float]] = {}
    start = time.perf_counter()
    video_all = torch.cat([train.video, test.video])[:, :LONG]
    colour = torch.cat([train.colour, test.colour])
    direction = torch.cat([train.direction, test.direction])[:, :K]
    tr = torch.zeros(len(video_all), dtype=torch.bool)
    tr[:n_train] = True
    tr_short = tr.repeat_interleave(K)
    for arm in ARMS:
        torch.manual_seed(seed)
        enc = ClipEncoder3d(3, 16, 64)
        crit = LongShortLoss(64, 32, 32, num_short=K, temperature=0.1)
        info = None
        if arm != "random_init":
            info = _train(enc, crit, train.video, epochs, seed, arm == "long_short_same_video")
        m = {}
        s_short, n_short = _embed(enc, crit, video_all, "short")
        for part, feats in (("stationary", s_short), ("nonstationary", n_short)):
            m[f"{part}_colour"] = logistic_regression_probe(
                feats, colour.repeat_interleave(K), tr_short, ~tr_short, seed=seed, c_grid=CS).test_accuracy
            m[f"{part}_motion"] = logistic_regression_probe(
                feats, direction.flatten(), tr_short, ~tr_short, seed=seed, c_grid=CS).test_accuracy
        s_long, n_long = _embed(enc, crit, video_all, "long")
        for part, feats in (("stationary", s_long), ("nonstationary", n_long)):
            m[f"long_{part}_colour"] = logistic_regression_probe(
                feats, colour, tr, ~tr, seed=seed, c_grid=CS).test_accuracy
        if info is not None:
            m.update(info)
            m["claim_holds"] = _claim(m)
        metrics[arm] = m
    return {
        "n_train": n_train, "epochs": epochs, "seconds": round(time.perf_counter() - start, 1),
        "metrics": metrics, "chance": 0.25, "margin": MARGIN,
        # the paper's objective as described decides the claim; the same-video variant is
        # reported beside it
        "claim_holds": metrics["long_short"]["claim_holds"],
        "claim_holds_same_video": metrics["long_short_same_video"]["claim_holds"],
        "summary": "; ".join(
            f"{a}: " + ", ".join(f"{k} {v:.3f}" for k, v in m.items()
                                 if isinstance(v, float) and "loss" not in k and "seconds" not in k)
            for a, m in metrics.items()
        ),
    }
