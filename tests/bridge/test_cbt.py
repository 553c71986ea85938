import math

import pytest
import torch

from shared.bridge.cbt import CBTCrossModal, CBTVisual, cross_modal_nce, masked_feature_nce


@pytest.mark.parametrize("m,r", [(4, 0), (7, 5)])
def test_all_equal_is_log_one_plus_negatives(m, r):
    x = torch.ones(m, 6)
    extra = torch.ones(r, 6) if r else None
    assert masked_feature_nce(x, x, extra).item() == pytest.approx(math.log(1 + (m - 1) + r), abs=1e-5)


def test_orthogonal_scaled_goes_to_zero():
    y = torch.eye(5, 8)
    losses = [masked_feature_nce(s * y, s * y).item() for s in (1.0, 3.0, 10.0)]
    assert losses[0] > losses[1] > losses[2] and losses[2] < 1e-6


def test_cross_modal_nce():
    assert cross_modal_nce(torch.zeros(6, 6)).item() == pytest.approx(math.log(6), abs=1e-6)
    assert cross_modal_nce(50 * torch.eye(4), symmetric=True).item() < 1e-6
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
    assert all(torch.isfinite(p.grad).all() for p in vis.parameters() if p.grad is not None)
    xm = CBTCrossModal(6, 12, d_model=16, num_layers=1, num_heads=2)
    res = xm(torch.randn(4, 5, 6), x[:, :8].repeat(2, 1, 1)[:4])
    assert res["scores"].shape == (4, 4)
    res["loss"].backward()


def test_cbt_bad_inputs():
    vis = CBTVisual(12, d_model=16, num_layers=1, num_heads=2)
    with pytest.raises(ValueError, match="mask must be a bool tensor of shape"):
        vis(torch.randn(2, 5, 12), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="feature dim 12"):
        vis(torch.randn(2, 5, 11), torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="same shape"):
        masked_feature_nce(torch.randn(3, 4), torch.randn(2, 4))
