import math

import pytest
import torch
import torch.nn.functional as F

from shared.bridge.cbt import CBTCrossModal, CBTVisual, cross_modal_nce, masked_feature_nce


@pytest.mark.parametrize("m,r", [(4, 0), (7, 5)])
def test_all_equal_is_log_one_plus_negatives(m, r):
    x = torch.ones(m, 6)
    extra = torch.ones(r, 6) if r else None
    assert masked_feature_nce(x, x, extra).item() == pytest.approx(math.log(1 + (m - 1) + r), abs=1e-5)


def test_masked_feature_nce_is_infonce_of_dot_products_over_targets_and_extras():
    g = torch.Generator().manual_seed(7)
    e, y, n = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g), torch.randn(3, 4, generator=g)
    logits = e @ torch.cat([y, n]).T  # no temperature: row i's positive is column i
    expected = -logits.log_softmax(dim=1).diagonal().mean()
    torch.testing.assert_close(masked_feature_nce(e, y, n), expected)
    torch.testing.assert_close(masked_feature_nce(e, y), -(e @ y.T).log_softmax(1).diagonal().mean())


def test_orthogonal_scaled_goes_to_zero():
    y = torch.eye(5, 8)
    losses = [masked_feature_nce(s * y, s * y).item() for s in (1.0, 3.0, 10.0)]
    assert losses[0] > losses[1] > losses[2] and losses[2] < 1e-6


def test_cross_modal_nce():
    assert cross_modal_nce(torch.zeros(6, 6)).item() == pytest.approx(math.log(6), abs=1e-6)
    assert cross_modal_nce(50 * torch.eye(4), symmetric=True).item() < 1e-6
    # a random, non-symmetric score matrix: rows are text -> visual (positive on the diagonal),
    # symmetric=True also averages in the columns (visual -> text)
    s = torch.randn(5, 5, generator=torch.Generator().manual_seed(3))
    rows = -s.log_softmax(dim=1).diagonal().mean()
    cols = -s.log_softmax(dim=0).diagonal().mean()
    assert abs(rows.item() - cols.item()) > 1e-3  # the two directions really differ here
    target = torch.arange(5)
    assert cross_modal_nce(s).item() == pytest.approx(rows.item(), abs=1e-6)
    assert cross_modal_nce(s).item() == pytest.approx(F.cross_entropy(s, target).item(), abs=1e-6)
    assert cross_modal_nce(s, symmetric=True).item() == pytest.approx(
        0.5 * (rows + cols).item(), abs=1e-6
    )
    assert cross_modal_nce(s, symmetric=True).item() == pytest.approx(
        0.5 * (F.cross_entropy(s, target) + F.cross_entropy(s.T, target)).item(), abs=1e-6
    )
    with pytest.raises(ValueError, match=r"square \[B, B\]"):
        cross_modal_nce(torch.zeros(3, 4))


def test_models_forward_backward():
    torch.manual_seed(0)
    vis = CBTVisual(12, d_model=16, num_layers=1, num_heads=2)
    x = torch.randn(3, 10, 12)
    mask = CBTVisual.random_mask(3, 10, 0.2, torch.Generator().manual_seed(0))
    out = vis(x, mask)
    out["loss"].backward()
    assert out["outputs"].shape == (int(mask.sum()), 12)
    grads = [p.grad for p in vis.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    vis.eval()  # dropout is 0 anyway; eval makes the comparison below exact
    with torch.no_grad():
        enc = vis.encode(x, mask)
        # the masked steps' features are hidden: replacing them by anything changes no output,
        # at the masked steps (what the loss scores) or anywhere else
        x2 = x.clone()
        x2[mask] = 10 * torch.randn(int(mask.sum()), 12)
        enc2 = vis.encode(x2, mask)
        assert torch.allclose(enc2[mask], enc[mask], atol=1e-5)
        assert torch.allclose(enc2, enc, atol=1e-5)
        # ... while the unmasked steps' features are read (context for the masked steps)
        x3 = x.clone()
        x3[~mask] = 10 * torch.randn(int((~mask).sum()), 12)
        assert not torch.allclose(vis.encode(x3, mask)[mask], enc[mask], atol=1e-3)
        # forward scores the encoder outputs at the masked steps against the true features
        out = vis(x, mask)
        assert torch.equal(out["targets"], x[mask])
        assert torch.allclose(out["outputs"], enc[mask], atol=1e-6)
        expected = masked_feature_nce(enc[mask], x[mask])
        assert out["loss"].item() == pytest.approx(expected.item(), abs=1e-5)
    xm = CBTCrossModal(6, 12, d_model=16, num_layers=1, num_heads=2)
    text, visual = torch.randn(4, 5, 6), x[:, :8].repeat(2, 1, 1)[:4]
    res = xm(text, visual)
    assert res["scores"].shape == (4, 4)
    res["loss"].backward()
    expected = cross_modal_nce(res["scores"].detach())
    assert res["loss"].item() == pytest.approx(expected.item(), abs=1e-6)
    xm.eval()
    with torch.no_grad():
        s = xm.score_matrix(text, visual)
        # entry [i, j] scores text i with visual j, one pair at a time
        for i in range(4):
            for j in range(4):
                one = xm.pair_scores(text[i : i + 1], visual[j : j + 1])
                assert one.shape == (1,)
                assert s[i, j].item() == pytest.approx(one.item(), abs=1e-5)
        assert not torch.allclose(s, s.T, atol=1e-4)  # so a transposed matrix would be caught


def test_cbt_bad_inputs():
    vis = CBTVisual(12, d_model=16, num_layers=1, num_heads=2)
    with pytest.raises(ValueError, match="mask must be a bool tensor of shape"):
        vis(torch.randn(2, 5, 12), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="feature dim 12"):
        vis(torch.randn(2, 5, 11), torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="same shape"):
        masked_feature_nce(torch.randn(3, 4), torch.randn(2, 4))


def test_interpolation_baseline_reads_only_unmasked_steps():
    from shared.bridge.demos.cbt import _interpolate_masked

    x = torch.arange(6.0).view(1, 6, 1)
    mask = torch.tensor([[True, False, True, True, False, True]])
    # ends: the one unmasked side; steps 2-3: the mean of steps 1 and 4 (not each other)
    assert _interpolate_masked(x, mask).flatten().tolist() == [1.0, 1.0, 2.5, 2.5, 4.0, 4.0]
