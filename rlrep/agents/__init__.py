"""SB3 agents with auxiliary representation losses: one algorithm per sub-package."""

from rlrep.agents.qrdqn import DER_DEFAULTS, AuxQRDQN, DERQRDQNPolicy
from rlrep.agents.sac import CURL_SAC_DEFAULTS, AuxSAC, EncoderSharingSACPolicy

__all__ = ["CURL_SAC_DEFAULTS", "DER_DEFAULTS", "AuxQRDQN", "AuxSAC", "DERQRDQNPolicy", "EncoderSharingSACPolicy"]
