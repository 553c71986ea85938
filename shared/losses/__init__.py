"""Contrastive losses: each a pure function plus an ``nn.Module`` wrapper.

>>> from shared.losses import nt_xent
>>> loss = nt_xent(z1, z2, temperature=0.5)  # doctest: +SKIP
"""

from shared.losses.crd import CRDLoss
from shared.losses.crossclr import CrossCLRLoss, connectivity, crossclr_loss
from shared.losses.discriminator import DiscriminatorBCELoss, discriminator_bce
from shared.losses.info_nce import (
    InfoNCELoss,
    info_nce,
    masked_log_softmax_loss,
    positive_mask_from_labels,
)
from shared.losses.mutual_information import LocalGlobalLoss, local_global_loss, mi_scores_loss
from shared.losses.nt_xent import NTXentLoss, nt_xent

__all__ = [
    "CRDLoss",
    "CrossCLRLoss",
    "DiscriminatorBCELoss",
    "InfoNCELoss",
    "LocalGlobalLoss",
    "NTXentLoss",
    "connectivity",
    "crossclr_loss",
    "discriminator_bce",
    "info_nce",
    "local_global_loss",
    "masked_log_softmax_loss",
    "mi_scores_loss",
    "nt_xent",
    "positive_mask_from_labels",
]
