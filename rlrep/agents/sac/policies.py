"""SAC policy with CURL's encoder arrangement.

One encoder (``critic.features_extractor``, shared by reference with the actor) is trained by the
critic loss and the auxiliary losses only: it sits in the critic's optimizer, not in the actor's,
and the actor reads its features detached. (Stock SB3 with ``share_features_extractor=True`` does
the opposite: the actor loss trains the shared encoder and the critic sees it under ``no_grad``.)
The target critic has its own encoder copy, soft-updated at its own rate by the algorithm.
"""

from __future__ import annotations

from typing import Any

import torch as th
from stable_baselines3.common.type_aliases import Schedule
from stable_baselines3.sac.policies import LOG_STD_MAX, LOG_STD_MIN, SACPolicy


class EncoderSharingSACPolicy(SACPolicy):
    """:class:`SACPolicy` whose single encoder belongs to the critic (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["share_features_extractor"] = True
        super().__init__(*args, **kwargs)

    def _build(self, lr_schedule: Schedule) -> None:
        super()._build(lr_schedule)
        actor_params = [p for name, p in self.actor.named_parameters() if not name.startswith("features_extractor.")]
        self.actor.optimizer = self.optimizer_class(actor_params, lr=lr_schedule(1), **self.optimizer_kwargs)  # type: ignore[call-arg]
        self.critic.optimizer = self.optimizer_class(self.critic.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)  # type: ignore[call-arg]

    def encode(self, observations: th.Tensor) -> th.Tensor:
        """Observations ``[B, ...]`` -> critic-encoder features ``[B, D]`` (with gradient)."""
        return self.critic.extract_features(observations, self.critic.features_extractor)

    def actor_from_features(self, features: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """Sampled squashed actions ``[B, A]`` and their log-probabilities ``[B, 1]`` given features ``[B, D]``."""
        latent = self.actor.latent_pi(features)
        mean_actions = self.actor.mu(latent)
        log_std = th.clamp(self.actor.log_std(latent), LOG_STD_MIN, LOG_STD_MAX)  # type: ignore[operator]
        actions, log_prob = self.actor.action_dist.log_prob_from_params(mean_actions, log_std)
        return actions, log_prob.reshape(-1, 1)

    def q_values(self, features: th.Tensor, actions: th.Tensor) -> th.Tensor:
        """Every critic head's Q-value: features ``[B, D]``, actions ``[B, A]`` -> ``[B, n_critics]``."""
        inputs = th.cat([features, actions], dim=1)
        return th.cat([q_net(inputs) for q_net in self.critic.q_networks], dim=1)
