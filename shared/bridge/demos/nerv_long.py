"""NeRV vs H.264 on a 300-frame pan: NeRV's bits spread over about ten times more frames.

The 32-frame demo (:mod:`shared.bridge.demos.nerv`) puts every NeRV point at 0.46-4.8 bpp,
because a model's bits are its parameters and the clip is small. Here the same two model
sizes fit a 300-frame pan over the same picture (``astronaut`` at half scale, 72x128
windows, 0.4 px per frame so that the pan stays inside the picture), so a model costs about ten
times fewer bits per pixel; the H.264 sweep runs on the same frames. Fitting epochs are cut
(S 60, M 50; fine-tune 10) so that each model sees about four times the gradient steps of
the short demo, not forty. Same claim as the short demo.
"""

from __future__ import annotations

from shared.bridge.demos import nerv

N_FRAMES, STEP = 300, 0.4


def run(quick: bool = False, seed: int = 0) -> dict:
    if quick:  # the tests: a short clip, one small model
        return nerv.run(quick=True, seed=seed, n_frames=40, step=STEP,
                        epochs={"S": 5}, finetune=2)
    return nerv.run(seed=seed, n_frames=N_FRAMES, step=STEP, epochs={"S": 60, "M": 50},
                    finetune=10)
