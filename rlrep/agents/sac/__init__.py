from rlrep.agents.sac.policies import EncoderSharingSACPolicy
from rlrep.agents.sac.sac import CURL_SAC_DEFAULTS, AuxSAC

__all__ = ["CURL_SAC_DEFAULTS", "AuxSAC", "EncoderSharingSACPolicy"]
