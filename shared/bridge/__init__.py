"""Video, audio and text contrastive objectives built on the shared core.

One module per paper:

- :mod:`shared.bridge.global_local`: global + local audio-visual losses (Ma et al., 2021).
- :mod:`shared.bridge.stor`: space-time overlap-rate prediction + contrastive (STOR/CSTP).
- :mod:`shared.bridge.nerv`, :mod:`shared.bridge.nerv_compression`: NeRV and its compression.
- :mod:`shared.bridge.long_short`: stationary / non-stationary decomposition (Behrmann et al.).
- :mod:`shared.bridge.cbt`: contrastive bidirectional transformer (Sun et al., 2019).
- :mod:`shared.bridge.byol`: the BYOL arm used by the STOR release.

Supporting modules: :mod:`shared.bridge.synthetic` (data generators),
:mod:`shared.bridge.encoders` (small demo encoders), :mod:`shared.bridge.augment`
(digit augmentations), :mod:`shared.bridge.h264` (ffmpeg baseline) and
:mod:`shared.bridge.demos` (the demonstrations, one file each). scikit-image,
scikit-learn and constriction are imported only inside the functions that use them.
"""

from shared.bridge.byol import byol_loss, ema_update_
from shared.bridge.cbt import CBTCrossModal, CBTVisual, cross_modal_nce, masked_feature_nce
from shared.bridge.global_local import (
    GlobalLocalLoss,
    global_audio_visual_loss,
    local_audio_visual_loss,
    multiple_instance_nce,
)
from shared.bridge.long_short import LongShortLoss, nonstationary_loss, stationary_loss
from shared.bridge.nerv import NeRV, fit_nerv, nerv_loss, positional_encoding, ssim
from shared.bridge.stor import RATES, OverlapHead, SpaceTimeCropSampler, STORLoss

__all__ = [
    "RATES",
    "CBTCrossModal",
    "CBTVisual",
    "GlobalLocalLoss",
    "LongShortLoss",
    "NeRV",
    "OverlapHead",
    "STORLoss",
    "SpaceTimeCropSampler",
    "byol_loss",
    "cross_modal_nce",
    "ema_update_",
    "fit_nerv",
    "global_audio_visual_loss",
    "local_audio_visual_loss",
    "masked_feature_nce",
    "multiple_instance_nce",
    "nerv_loss",
    "nonstationary_loss",
    "positional_encoding",
    "ssim",
    "stationary_loss",
]
