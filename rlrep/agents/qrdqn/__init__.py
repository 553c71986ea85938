from rlrep.agents.qrdqn.policies import DERQRDQNPolicy
from rlrep.agents.qrdqn.qrdqn import DER_DEFAULTS, AuxQRDQN

__all__ = ["DER_DEFAULTS", "AuxQRDQN", "DERQRDQNPolicy"]
