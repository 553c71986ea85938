"""CBT on synthetic feature sequences: masked-step retrieval and cross-modal alignment.

Data: :func:`shared.bridge.synthetic.feature_sequences` (smooth 16-step, 32-d "visual"
feature sequences and 6-token "text" sequences sharing only a sequence-level topic).

* Visual: :class:`shared.bridge.cbt.CBTVisual` trained with masked-feature NCE (15% of
  steps masked). Metric on held-out sequences: masked-step retrieval accuracy (the
  output at a masked step picks its true feature among all masked features of a batch of
  64 sequences by dot product, the NCE's score), against chance and against a non-learned
  baseline that predicts a masked step by the mean of its nearest unmasked neighbours,
  scored by L2 distance and by dot product (the dot product favours large-norm targets, so
  it is the harder rule: interpolation drops from about 0.77 to about 0.32 with it). Until
  session 16 the baseline read masked neighbours' true values (0.96 / 0.37) and the chance
  level assumed too few masked steps (0.0063 instead of 1/208).
* Cross-modal: :class:`shared.bridge.cbt.CBTCrossModal` trained with sequence-level NCE over
  batches of 16 (text, visual) pairs; metric: text->visual R@1 within held-out batches of
  16 (chance 1/16), against the untrained scorer.

Held-out sequences come from the same generator draw as the training ones (one call,
split). An earlier version drew the test set with another seed, which also redraws the
generator's random projections and topics: a different "world", so held-out accuracy sat
at chance (masked 0.022, cross-modal 0.074) while the training losses fell (4.13 -> 2.14,
1.34 -> 0.007).

Findings (full run): masked-step retrieval 0.216 (chance 0.0048, untrained 0.009) and
cross-modal R@1 1.000 (chance 0.062): both above chance, the claim checked here. The
learned masked-step predictor is still below plain neighbour interpolation under the same
dot-product rule (0.318), so the transformer has not learned all the smoothness there is.
"""

from __future__ import annotations

import math
import time

import torch

from shared.bridge.cbt import CBTCrossModal, CBTVisual
from shared.bridge.synthetic import FeatureSequences, feature_sequences


def _interpolate_masked(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``x`` ``[B, T, D]`` with each masked step (``mask`` ``[B, T]``) replaced by the mean of
    the nearest unmasked step on each side (one side at the ends); the baseline sees only
    what CBT sees, never a masked neighbour's value."""
    b, t, _ = x.shape
    seen = ~mask
    idx = torch.arange(t).expand(b, t)
    # index of the last unmasked step at or before i, and the first at or after i (-1 / t: none)
    left = torch.where(seen, idx, torch.full_like(idx, -1)).cummax(1).values
    right = torch.where(seen, idx, torch.full_like(idx, t)).flip(1).cummin(1).values.flip(1)
    has_l, has_r = left >= 0, right < t
    gather = lambda i: x.gather(1, i.clamp(0, t - 1)[..., None].expand_as(x))  # noqa: E731
    total = gather(left) * has_l[..., None] + gather(right) * has_r[..., None]
    count = (has_l.float() + has_r.float()).clamp(min=1)[..., None]
    return torch.where(mask[..., None], total / count, x)


def _masked_eval(model: CBTVisual | None, visual: torch.Tensor, seed: int, score: str = "l2") -> float:
    g = torch.Generator().manual_seed(seed)
    accs = []
    for i in range(0, len(visual) - 63, 64):
        x = visual[i : i + 64]
        mask = CBTVisual.random_mask(len(x), x.shape[1], 0.15, g)
        if model is None:  # neighbour-mean interpolation baseline
            pred = _interpolate_masked(x, mask)[mask]
            tgt = x[mask]
            # "l2": nearest target; "dot": largest dot product, the score CBT's NCE uses
            top = torch.cdist(pred, tgt).argmin(1) if score == "l2" else (pred @ tgt.T).argmax(1)
            accs.append(float((top == torch.arange(len(tgt))).float().mean()))
        else:
            model.eval()
            with torch.no_grad():
                accs.append(model(x, mask)["accuracy"])
            model.train()
    return sum(accs) / len(accs)


def _xmodal_eval(model: CBTCrossModal, data, batch: int = 16) -> float:
    model.eval()
    accs = []
    with torch.no_grad():
        for i in range(0, len(data.text) - batch + 1, batch):
            accs.append(model(data.text[i : i + batch], data.visual[i : i + batch])["accuracy"])
    model.train()
    return sum(accs) / len(accs)


def run(quick: bool = False, seed: int = 0) -> dict:
    n_train, n_test = (512, 128) if quick else (2048, 256)
    # the earlier quick run (5 and 3 epochs: 40 and 96 steps) stopped long before either
    # loss had fallen; see ``loss_first_last`` in the results
    epochs_v, epochs_x = (10, 4) if quick else (30, 15)
    # one draw, then split: the generator's projections (w_path, w_topic_*, topics) come from
    # its seed, so a test set drawn with another seed is another "world" (an earlier
    # version did that: training losses fell, held-out accuracy stayed at chance)
    full = feature_sequences(n_train + n_test, seed=seed)
    train = FeatureSequences(full.visual[:n_train], full.text[:n_train], full.topic[:n_train])
    test = FeatureSequences(full.visual[n_train:], full.text[n_train:], full.topic[n_train:])
    start = time.perf_counter()
    torch.manual_seed(seed)
    vis = CBTVisual(32, d_model=64, num_layers=2)
    untrained_acc = _masked_eval(vis, test.visual, seed)
    opt = torch.optim.Adam(vis.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    curve_v = []
    for _ in range(epochs_v):
        perm = torch.randperm(n_train, generator=g)
        ep = []
        for i in range(0, n_train - 63, 64):
            x = train.visual[perm[i : i + 64]]
            out = vis(x, CBTVisual.random_mask(len(x), x.shape[1], 0.15, g))
            opt.zero_grad()
            out["loss"].backward()
            opt.step()
            ep.append(out["loss"].item())
        curve_v.append(sum(ep) / len(ep))
    masked_acc = _masked_eval(vis, test.visual, seed)
    interp_acc = _masked_eval(None, test.visual, seed)
    interp_dot = _masked_eval(None, test.visual, seed, score="dot")
    n_masked = 64 * (1 + 15 * 0.15)  # expected masked steps per batch (random_mask)
    torch.manual_seed(seed)
    xm = CBTCrossModal(32, 32, d_model=32, num_layers=1)
    x_untrained = _xmodal_eval(xm, test)
    opt = torch.optim.Adam(xm.parameters(), lr=1e-3)
    curve_x = []
    for _ in range(epochs_x):
        perm = torch.randperm(n_train, generator=g)
        ep = []
        for i in range(0, n_train - 15, 16):
            idx = perm[i : i + 16]
            out = xm(train.text[idx], train.visual[idx])
            opt.zero_grad()
            out["loss"].backward()
            opt.step()
            ep.append(out["loss"].item())
        curve_x.append(sum(ep) / len(ep))
    x_trained = _xmodal_eval(xm, test)
    metrics = {
        "masked_step_retrieval": {"cbt": masked_acc, "untrained": untrained_acc,
                                  "neighbour_mean_baseline": interp_acc,
                                  "neighbour_mean_baseline_dot": interp_dot,
                                  "chance": 1 / n_masked},
        "cross_modal_r1": {"cbt": x_trained, "untrained": x_untrained, "chance": 1 / 16},
        "masked_loss_first_last": [curve_v[0], curve_v[-1]],
        "cross_modal_loss_first_last": [curve_x[0], curve_x[-1]],
        "cross_modal_chance_loss": math.log(16),
    }
    return {
        "n_train": n_train, "seconds": round(time.perf_counter() - start, 1), "metrics": metrics,
        "claim_holds": bool(masked_acc > 5 / n_masked and x_trained > 2 / 16),
        "summary": (
            f"masked-step retrieval {masked_acc:.3f} (untrained {untrained_acc:.3f}, neighbour-mean "
            f"{interp_acc:.3f} by L2 / {interp_dot:.3f} by dot product, chance {1 / n_masked:.4f}); "
            f"cross-modal R@1 {x_trained:.3f} "
            f"(untrained {x_untrained:.3f}, chance {1 / 16:.3f})"
        ),
    }
