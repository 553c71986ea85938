import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from shared.losses import NTXentLoss, info_nce, nt_xent


def reference_nt_xent(z1, z2, t):
    """Per-anchor loss written out term by term (no cross_entropy), float64."""
    z = torch.nn.functional.normalize(torch.cat([z1, z2]).double(), dim=1)
    n2 = z.shape[0]
    n = n2 // 2
    out = []
    for i in range(n2):
        p = (i + n) % n2
        denom = sum(math.exp(float(z[i] @ z[k]) / t) for k in range(n2) if k != i)
        out.append(-math.log(math.exp(float(z[i] @ z[p]) / t) / denom))
    return torch.tensor(out, dtype=torch.float64)


def test_matches_term_by_term_reference():
    torch.manual_seed(0)
    z1, z2 = torch.randn(5, 7), torch.randn(5, 7)
    expected = reference_nt_xent(z1, z2, 0.3)
    got = nt_xent(z1, z2, 0.3, reduction="none")
    torch.testing.assert_close(got.double(), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(nt_xent(z1, z2, 0.3).double(), expected.mean(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("n", [2, 8])
def test_collapse_gives_log_2n_minus_1(n):
    z = torch.ones(n, 4)
    assert nt_xent(z, z.clone(), 0.5).item() == pytest.approx(math.log(2 * n - 1), abs=1e-5)


@pytest.mark.parametrize("t", [0.1, 0.5, 1.0])
def test_orthonormal_identical_views(t):
    n = 6
    z = torch.eye(8)[:n]
    expected = math.log(1 + (2 * n - 2) * math.exp(-1 / t))
    assert nt_xent(z.double(), z.double(), t).item() == pytest.approx(expected, rel=1e-9)


def test_simclr_sum_and_none_reductions():
    torch.manual_seed(1)
    z1, z2 = torch.randn(4, 3), torch.randn(4, 3)
    per = nt_xent(z1, z2, reduction="none")
    assert per.shape == (8,)
    torch.testing.assert_close(nt_xent(z1, z2, reduction="simclr"), 2 * per.mean())
    torch.testing.assert_close(nt_xent(z1, z2, reduction="sum"), per.sum())


def test_scale_and_view_swap_and_permutation_invariance():
    torch.manual_seed(2)
    z1, z2 = torch.randn(10, 16), torch.randn(10, 16)
    base = nt_xent(z1, z2, 0.2)
    torch.testing.assert_close(nt_xent(3.7 * z1, 0.01 * z2, 0.2), base)
    torch.testing.assert_close(nt_xent(z2, z1, 0.2), base)
    perm = torch.randperm(10)
    torch.testing.assert_close(nt_xent(z1[perm], z2[perm], 0.2), base)


def test_equals_info_nce_with_shifted_positive_mask():
    torch.manual_seed(3)
    z1, z2 = torch.randn(6, 5), torch.randn(6, 5)
    z = torch.cat([z1, z2])
    eye = torch.eye(12, dtype=torch.bool)
    pos = torch.roll(eye, 6, dims=1)
    torch.testing.assert_close(info_nce(z, z, pos, 0.4, exclude_mask=eye), nt_xent(z1, z2, 0.4))


@pytest.mark.parametrize("chunk", [1, 3, 7, 64])
def test_chunked_equals_dense_in_value_and_gradient(chunk):
    torch.manual_seed(4)
    a = torch.randn(13, 9, dtype=torch.float64, requires_grad=True)
    b = torch.randn(13, 9, dtype=torch.float64, requires_grad=True)
    dense = nt_xent(a, b, 0.1)
    ga, gb = torch.autograd.grad(dense, [a, b])
    chunked = nt_xent(a, b, 0.1, chunk_size=chunk)
    ca, cb = torch.autograd.grad(chunked, [a, b])
    torch.testing.assert_close(chunked.double(), dense.double(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ca, ga, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(cb, gb, atol=1e-5, rtol=1e-4)


def test_chunked_passes_gradcheck():
    torch.manual_seed(5)
    z = torch.randn(8, 4, dtype=torch.float64, requires_grad=True)
    from shared.losses.nt_xent import _ChunkedNTXent

    assert torch.autograd.gradcheck(lambda x: _ChunkedNTXent.apply(x, 4, 0.5, 3), (z,))


def test_chunked_refuses_a_second_backward():
    """Its recomputed gradient is no graph: differentiated again it was silently wrong (the
    normalisation's own backward still depended on the inputs, so nothing failed)."""
    torch.manual_seed(5)
    a, b = torch.randn(4, 8, requires_grad=True), torch.randn(4, 8)
    torch.autograd.grad(nt_xent(a, b, 0.3), a, create_graph=True)  # the dense form can
    with pytest.raises(RuntimeError, match="first-order gradients only.*leave chunk_size unset"):
        torch.autograd.grad(nt_xent(a, b, 0.3, chunk_size=2), a, create_graph=True)
    with pytest.raises(ValueError, match="chunk_size must be a positive integer, got 2.5"):
        nt_xent(a, b, 0.3, chunk_size=2.5)  # was cut to 2


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_finite_in_half_precision_at_small_temperature(dtype):
    torch.manual_seed(6)
    z1 = torch.randn(32, 64).to(dtype).requires_grad_()
    z2 = torch.randn(32, 64).to(dtype).requires_grad_()
    # close to the float32 value (half-precision inputs, float32 logits), dense and chunked
    ref = nt_xent(z1.float(), z2.float(), temperature=0.01)
    for chunk in (None, 8):
        loss = nt_xent(z1, z2, temperature=0.01, chunk_size=chunk)
        g1, g2 = torch.autograd.grad(loss, [z1, z2])
        assert torch.isfinite(loss) and torch.isfinite(g1).all() and torch.isfinite(g2).all()
        assert g1.dtype == dtype
        assert loss.item() == pytest.approx(ref.item(), rel=0.05)


finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False, width=32)


@settings(max_examples=60, deadline=None)
@given(
    arrays("float32", st.tuples(st.integers(2, 6), st.integers(1, 5)), elements=finite),
    st.floats(0.01, 10.0),
    st.sampled_from([None, 1, 2]),
)
def test_finite_loss_and_gradient_for_any_finite_input(x, t, chunk):
    z1 = torch.from_numpy(x).requires_grad_()
    z2 = torch.from_numpy(x[::-1].copy()).requires_grad_()
    loss = nt_xent(z1, z2, t, chunk_size=chunk)
    g1, g2 = torch.autograd.grad(loss, [z1, z2])
    assert torch.isfinite(loss)
    assert torch.isfinite(g1).all() and torch.isfinite(g2).all()


@pytest.mark.parametrize(
    "z1,z2,kwargs,match",
    [
        (torch.randn(4), torch.randn(4), {}, "2-D"),
        (torch.randn(4, 3), torch.randn(5, 3), {}, "same shape"),
        (torch.randn(4, 3), torch.randn(4, 2), {}, "same shape"),
        (torch.randn(4, 3), torch.randn(4, 3), {"temperature": 0.0}, "temperature"),
        (torch.randn(4, 3), torch.randn(4, 3), {"temperature": -1.0}, "temperature"),
        (torch.randn(4, 3), torch.randn(4, 3), {"temperature": float("nan")}, "temperature"),
        (torch.full((4, 3), float("nan")), torch.randn(4, 3), {}, "NaN"),
        (torch.randn(4, 3), torch.full((4, 3), float("inf")), {}, "inf"),
        (torch.randn(4, 3), torch.randn(4, 3), {"reduction": "avg"}, "reduction"),
        (torch.randn(4, 3), torch.randn(4, 3), {"chunk_size": 0}, "chunk_size"),
        (torch.zeros(4, 3, dtype=torch.long), torch.zeros(4, 3, dtype=torch.long), {}, "floating"),
        # one pair has no negatives: the loss would be log 1 = 0 for any input
        (torch.randn(1, 3), torch.randn(1, 3), {}, "at least 2 pairs.*loss is 0 whatever"),
        # ... also when asked to gather keys but no other process is there
        (torch.randn(1, 3), torch.randn(1, 3), {"gather_distributed": True}, "at least 2 pairs"),
    ],
)
def test_bad_input_raises_value_error_naming_the_problem(z1, z2, kwargs, match):
    with pytest.raises(ValueError, match=match):
        nt_xent(z1, z2, **kwargs)


def test_module_wrapper_matches_function_and_rejects_bad_temperature():
    z1, z2 = torch.randn(4, 3), torch.randn(4, 3)
    torch.testing.assert_close(NTXentLoss(0.3)(z1, z2), nt_xent(z1, z2, 0.3))
    with pytest.raises(ValueError, match="temperature"):
        NTXentLoss(temperature=0)


@pytest.mark.parametrize("normalize", [True, False])
def test_half_precision_inputs_with_large_norms_match_float32(normalize):
    """float16 rows whose norm passes 65504 (cosine), or whose products do (dot): the
    losses are computed in float32, so they match the float32 value, dense and chunked."""
    torch.manual_seed(0)
    z1 = torch.randn(8, 64)
    z2 = z1 + 0.1 * torch.randn(8, 64)
    scale, t = (1e4, 0.5) if normalize else (30.0, 0.5)  # dot: logits past 65504
    a, b = (z * scale for z in (z1, z2))
    ref = nt_xent(a, b, temperature=t, normalize=normalize)
    for chunk in (None, 4):
        h1, h2 = a.half().requires_grad_(), b.half().requires_grad_()
        loss = nt_xent(h1, h2, temperature=t, normalize=normalize, chunk_size=chunk)
        assert loss.item() == pytest.approx(ref.item(), rel=1e-2, abs=1e-3)
        g, = torch.autograd.grad(loss, [h1])
        assert torch.isfinite(g).all()


def test_chunked_path_refuses_a_learnable_temperature():
    """Its backward differentiates the embeddings only: a learnable temperature would get no
    gradient there while the dense path gives it one."""
    import warnings

    t = torch.tensor(0.5, requires_grad=True)
    z1, z2 = torch.randn(6, 4), torch.randn(6, 4)
    with warnings.catch_warnings():  # checking it did warn (requires_grad to scalar) per call
        warnings.simplefilter("error")
        nt_xent(z1, z2, t).backward()
    assert t.grad is not None
    with pytest.raises(ValueError, match="learnable temperature"):
        nt_xent(z1, z2, t, chunk_size=4)


def test_embeddings_without_features_are_refused():
    """D = 0 returned log(2N - 1) as if the views were unrelated."""
    with pytest.raises(ValueError, match=r"z1 has no features \(D = 0\)"):
        nt_xent(torch.randn(4, 0), torch.randn(4, 0))


@pytest.mark.parametrize("chunk", [None, 3])
@pytest.mark.parametrize("s, t", [(1.0, 0.5), (2.0, 1.0), (0.5, 0.1)])
def test_unnormalised_dot_products_closed_form(s, t, chunk):
    """normalize=False scores raw dot products: rows s * e_i in both views give
    log(1 + (2N - 2) exp(-s^2 / t)) per anchor; with normalisation s would cancel."""
    n = 5
    z = s * torch.eye(n, 8)
    expected = math.log1p((2 * n - 2) * math.exp(-s * s / t))
    loss = nt_xent(z, z, temperature=t, normalize=False, chunk_size=chunk)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    if s != 1.0:
        assert nt_xent(z, z, temperature=t, chunk_size=chunk).item() != pytest.approx(expected)


def test_chunks_and_gathered_keys_are_refused_together():
    z = torch.randn(4, 3)
    with pytest.raises(ValueError, match="chunk_size and gather_distributed cannot be combined"):
        nt_xent(z, z + 1, chunk_size=2, gather_distributed=True)
