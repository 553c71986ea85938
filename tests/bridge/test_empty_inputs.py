"""Empty inputs to the bridge's losses are refused by name (they returned NaN, or failed
deep inside a reshape or a stack)."""
import pytest
import torch

from shared.bridge.byol import byol_loss
from shared.bridge.cbt import cross_modal_nce, masked_feature_nce
from shared.bridge.global_local import global_audio_visual_loss
from shared.bridge.long_short import stationary_loss


@pytest.mark.parametrize("call, message", [
    (lambda: byol_loss(torch.zeros(0, 4), torch.zeros(0, 4)), r"online_pred is empty: shape \(0, 4\)"),
    (lambda: cross_modal_nce(torch.zeros(0, 0)), "scores is empty"),
    (lambda: global_audio_visual_loss(torch.randn(2, 4), torch.randn(2, 0, 4)), "video_map is empty"),
    (lambda: global_audio_visual_loss(torch.randn(0, 4), torch.randn(0, 3, 4)), "audio is empty"),
    (lambda: stationary_loss(torch.randn(2, 4), torch.randn(2, 0, 4)), "short_s is empty"),
])
def test_empty_inputs_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_extra_negatives_may_be_empty():
    """No extra negatives is a valid input: the loss equals the one without them."""
    out, tgt = torch.randn(4, 8), torch.randn(4, 8)
    assert torch.equal(masked_feature_nce(out, tgt, extra_negatives=torch.zeros(0, 8)),
                       masked_feature_nce(out, tgt))


def test_byol_loss_of_half_inputs_stays_in_its_range():
    """fp16 cosines of identical rows came out above 1 (loss -0.0002 < 0)."""
    torch.manual_seed(0)
    x = torch.randn(64, 256)
    for dtype in (torch.float16, torch.bfloat16):
        loss = byol_loss(x.to(dtype), x.to(dtype))
        assert loss.dtype == torch.float32 and abs(loss.item()) < 1e-6
