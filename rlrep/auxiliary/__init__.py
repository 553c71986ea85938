"""Auxiliary representation losses: RCRL (:mod:`.rcrl`) and CURL (:mod:`.curl`)."""

from rlrep.auxiliary.config import (
    AUX_CHOICES,
    AuxConfig,
    check_aux_settings,
    odd_batch_message,
    parse_aux,
)
from rlrep.auxiliary.curl import CURLHead
from rlrep.auxiliary.rcrl import RCRLHead

__all__ = ["AUX_CHOICES", "AuxConfig", "CURLHead", "RCRLHead", "check_aux_settings", "odd_batch_message",
           "parse_aux"]
