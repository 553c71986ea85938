"""Tensors the bridge creates follow their inputs' device. With no GPU here, PyTorch's
``meta`` device stands in: a tensor left on the CPU meets a meta one and fails the same
way it would meet a CUDA one."""
import pytest
import torch

from shared.bridge.cbt import CBTVisual
from shared.bridge.nerv import NeRV, frame_times, reconstruct
from shared.bridge.stor import SpaceTimeCropSampler

META = torch.device("meta")


def test_nerv_decodes_on_the_models_device():
    m = NeRV(stem_dims=(32,), fc_dim=8, strides=(2, 2)).to(META)
    assert frame_times(4, META).device == META
    assert reconstruct(m, 3).device == META


def test_stor_pairs_live_on_the_videos_device():
    sampler = SpaceTimeCropSampler(16, 32, 32, 8, 20)
    pair = sampler.sample_pairs(torch.empty(2, 16, 3, 32, 32, device=META),
                                torch.Generator().manual_seed(0))
    for t in (pair.clip1, pair.clip2, pair.spatial_label, pair.temporal_label,
              pair.spatial_rate, pair.temporal_rate):
        assert t.device == META


def test_cbt_masks_follow_the_features():
    g = torch.Generator().manual_seed(0)
    cpu = CBTVisual.random_mask(3, 8, 0.15, torch.Generator().manual_seed(0))
    on_meta = CBTVisual.random_mask(3, 8, 0.15, g, device=META)
    assert on_meta.device == META and cpu.dtype == on_meta.dtype == torch.bool
    vis = CBTVisual(12, d_model=16, num_layers=1, num_heads=2).to(META)
    assert vis.encode(torch.empty(3, 8, 12, device=META), cpu).device == META  # a CPU mask moves


def test_cbt_random_mask_rate_and_empty_mask():
    mask = CBTVisual.random_mask(4000, 16, 0.15, torch.Generator().manual_seed(0))
    assert mask.any(1).all()
    assert mask.sum(1).float().mean().item() == pytest.approx(1 + 15 * 0.15, abs=0.05)
    vis = CBTVisual(12, d_model=16, num_layers=1, num_heads=2)
    with pytest.raises(ValueError, match="mask selects no step"):
        vis(torch.randn(2, 8, 12), torch.zeros(2, 8, dtype=torch.bool))
