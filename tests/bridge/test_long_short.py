import pytest
import torch
import torch.nn.functional as F

from shared.bridge.long_short import (
    LongShortLoss,
    OrderAwareAggregator,
    nonstationary_loss,
    stationary_loss,
)


def test_stationary_invariant_to_short_order_nonstationary_not():
    torch.manual_seed(0)
    loss = LongShortLoss(32, 8, 8, num_short=4)
    long, short = torch.randn(6, 32), torch.randn(6, 4, 32)
    perm = torch.tensor([2, 0, 3, 1])
    a, b = loss(long, short), loss(long, short[:, perm])
    assert a["stationary"].item() == pytest.approx(b["stationary"].item(), rel=1e-5)
    assert abs(a["nonstationary"].item() - b["nonstationary"].item()) > 1e-4


@pytest.mark.parametrize("mode", ["concat", "gru"])
def test_aggregator_order_aware(mode):
    agg = OrderAwareAggregator(5, 3, mode)
    x = torch.randn(4, 3, 5)
    assert agg(x).shape == (4, 5)
    assert not torch.allclose(agg(x), agg(x[:, [1, 0, 2]]))
    with pytest.raises(ValueError, match=r"short_n must be \[B, 3, 5\]"):
        agg(torch.randn(4, 2, 5))


def test_terms_closed_forms_and_gradients():
    b = 5
    equal = stationary_loss(torch.ones(b, 8), torch.ones(b, 3, 8))
    assert equal.item() == pytest.approx(torch.log(torch.tensor(float(b))).item(), abs=1e-5)
    e = torch.eye(b, 8)
    assert nonstationary_loss(e, e).item() < 1e-3  # cosine 1 vs 0 at temperature 0.1
    long = torch.randn(b, 16, requires_grad=True)
    short = torch.randn(b, 3, 16, requires_grad=True)
    out = LongShortLoss(16, 4, 4, num_short=3, aggregator="gru")(long, short)
    out["loss"].backward()
    assert torch.isfinite(long.grad).all() and torch.isfinite(short.grad).all()


def _cos_ce(q, k, temperature=0.1):
    """CE of cosine(q_i, k_j) / temperature with the diagonal as targets, from scratch."""
    logits = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / temperature
    return -logits.log_softmax(dim=1).diagonal().mean()


def test_terms_equal_their_infonce_closed_forms():
    b, k = 5, 3
    g = torch.Generator().manual_seed(1)
    long, short = torch.randn(b, 8, generator=g), torch.randn(b, k, 8, generator=g)
    pred = torch.randn(b, 8, generator=g)
    # stationary: mean over the K short views of InfoNCE(short_k -> long views)
    per_view = [_cos_ce(short[:, i], long).item() for i in range(k)]
    assert max(per_view) - min(per_view) > 1e-3  # the views differ, so the mean matters
    assert stationary_loss(long, short).item() == pytest.approx(sum(per_view) / k, rel=1e-5)
    # K copies of one short view score exactly as that single view
    same = short[:, :1].expand(b, k, 8)
    assert stationary_loss(long, same).item() == pytest.approx(per_view[0], rel=1e-5)
    # non-stationary: the aggregate retrieves its own long view among the batch's long views
    expected = _cos_ce(pred, long)
    assert nonstationary_loss(long, pred).item() == pytest.approx(expected.item(), rel=1e-5)
    assert abs(_cos_ce(pred, long).item() - _cos_ce(long, pred).item()) > 1e-3  # direction matters


def test_module_feeds_each_term_its_parts_and_weights_them():
    torch.manual_seed(2)
    crit = LongShortLoss(16, 4, 4, 3, stationary_weight=0.3, nonstationary_weight=2.0)
    long, short, other = torch.randn(5, 16), torch.randn(5, 3, 16), torch.randn(5, 16)
    out = crit(long, short, other)
    ls, ln = crit.split(long)
    ss, sn = crit.split(short)
    os_, on = crit.split(other)
    st = stationary_loss(ls, ss, 0.1, os_)
    ns = nonstationary_loss(ln, crit.aggregator(sn), 0.1, on)
    torch.testing.assert_close(out["stationary"], st)
    torch.testing.assert_close(out["nonstationary"], ns)
    torch.testing.assert_close(out["loss"], 0.3 * st + 2.0 * ns)


def test_stationary_second_positive_written_out():
    """Each short view of row i scores against every long view plus row i's own other-window
    view (two positives); other rows' other-window views are not in its denominator."""
    g = torch.Generator().manual_seed(4)
    b, k, t = 4, 2, 0.5
    long, short, other = (torch.randn(b, 6, generator=g), torch.randn(b, k, 6, generator=g),
                          torch.randn(b, 6, generator=g))
    cos = lambda x, y: float(F.cosine_similarity(x, y, dim=0)) / t  # noqa: E731
    total = 0.0
    for j in range(k):
        for i in range(b):
            q = short[i, j]
            logits = [cos(q, long[m]) for m in range(b)] + [cos(q, other[i])]
            log_z = torch.logsumexp(torch.tensor(logits), 0).item()
            total += -((logits[i] - log_z) + (logits[-1] - log_z)) / 2
    got = stationary_loss(long, short, t, other_long_s=other)
    assert got.item() == pytest.approx(total / (b * k), rel=1e-5)


def test_bad_shapes():
    loss = LongShortLoss(16, 4, 4, num_short=3)
    with pytest.raises(ValueError, match=r"short_feat must be 3-D \[B, K, F\]"):
        loss(torch.randn(4, 16), torch.randn(4, 16))
    with pytest.raises(ValueError, match="batch size must agree"):
        loss(torch.randn(4, 16), torch.randn(5, 3, 16))
    with pytest.raises(ValueError, match="same shape"):
        nonstationary_loss(torch.randn(4, 8), torch.randn(4, 7))


def test_same_video_long_view_closed_forms():
    b = 6
    e = torch.eye(b, 8)
    log2 = torch.log(torch.tensor(2.0)).item()
    # non-stationary: a same-video long view equal to the own one ties the positive -> log 2
    assert nonstationary_loss(e, e, other_long_n=e).item() == pytest.approx(log2, abs=1e-3)
    # ... and only the own row counts: other rows' extra views are not negatives
    rolled = torch.roll(e, 1, dims=0)
    assert nonstationary_loss(e, e, other_long_n=rolled).item() == pytest.approx(
        nonstationary_loss(e, e).item(), abs=1e-3
    )
    # stationary: it is a second positive, so matching both gives log 2 (mean over two
    # positives of -log(1/2)) and matching neither other row changes nothing
    assert stationary_loss(e, e[:, None].expand(b, 3, 8), other_long_s=e).item() == pytest.approx(
        log2, abs=1e-3
    )
    with pytest.raises(ValueError, match="other_long_n must have the shape"):
        nonstationary_loss(e, e, other_long_n=e[:3])
    loss = LongShortLoss(16, 4, 4, num_short=3)
    long = torch.randn(4, 16, requires_grad=True)
    out = loss(long, torch.randn(4, 3, 16), torch.randn(4, 16))
    out["loss"].backward()
    assert torch.isfinite(long.grad).all()
    with pytest.raises(ValueError, match="other_long_feat must have the shape"):
        loss(long, torch.randn(4, 3, 16), torch.randn(3, 16))
