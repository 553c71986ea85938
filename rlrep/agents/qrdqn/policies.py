"""QR-DQN policy with data-efficient Rainbow's network."""

from __future__ import annotations

from typing import Any

from sb3_contrib.qrdqn.policies import QRDQNPolicy

from rlrep.agents.encoders import DERConvNet


class DERQRDQNPolicy(QRDQNPolicy):
    """:class:`QRDQNPolicy` defaulting to DER's encoder (:class:`DERConvNet`), one 256-unit
    hidden layer and 51 quantiles (DER has 51 atoms; QR-DQN's own default is 200)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("features_extractor_class", DERConvNet)
        kwargs.setdefault("net_arch", [256])
        kwargs.setdefault("n_quantiles", 51)
        super().__init__(*args, **kwargs)
