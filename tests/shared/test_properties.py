"""Property tests: every loss is finite, with finite gradients, for any finite input."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from shared.losses import crossclr_loss, discriminator_bce, info_nce, local_global_loss

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32)
matrices = arrays("float32", st.tuples(st.integers(2, 6), st.integers(1, 4)), elements=finite)


def _grads_finite(loss, *xs):
    grads = torch.autograd.grad(loss, xs)
    return bool(torch.isfinite(loss)) and all(torch.isfinite(g).all() for g in grads)


@settings(max_examples=40, deadline=None)
@given(matrices, st.floats(0.01, 5.0))
def test_info_nce_finite(x, t):
    q = torch.from_numpy(x).requires_grad_()
    k = torch.from_numpy(x[::-1].copy()).requires_grad_()
    assert _grads_finite(info_nce(q, k, temperature=t), q, k)


@settings(max_examples=40, deadline=None)
@given(matrices, st.floats(0.01, 5.0), st.sampled_from([0.0, 0.3, float("inf")]))
def test_crossclr_finite(x, t, thr):
    a = torch.from_numpy(x).requires_grad_()
    b = torch.from_numpy(x[::-1].copy()).requires_grad_()
    assert _grads_finite(crossclr_loss(a, b, t, prune_threshold=thr), a, b)


@settings(max_examples=40, deadline=None)
@given(matrices, st.sampled_from(["jsd", "dv", "infonce"]))
def test_local_global_finite(x, estimator):
    h = torch.from_numpy(x).requires_grad_()
    g = torch.from_numpy(x[:2].copy()).requires_grad_()
    batch = torch.arange(x.shape[0]) % 2
    assert _grads_finite(local_global_loss(h, g, batch, estimator), h, g)


@settings(max_examples=40, deadline=None)
@given(arrays("float32", st.integers(1, 8), elements=finite))
def test_discriminator_bce_finite(x):
    s = torch.from_numpy(x).requires_grad_()
    assert _grads_finite(discriminator_bce(s, -s) + discriminator_bce(s, s, "pooled"), s)
