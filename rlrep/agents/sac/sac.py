"""SAC with CURL's encoder arrangement and RCRL / CURL auxiliary losses (DeepMind Control)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import torch as th
import torch.nn.functional as F
from stable_baselines3 import SAC
from stable_baselines3.common.utils import polyak_update

from rlrep.agents.auxiliary_mixin import AuxiliaryMixin
from rlrep.agents.sac.policies import EncoderSharingSACPolicy
from rlrep.auxiliary import AuxConfig
from rlrep.auxiliary.augment import random_crop
from rlrep.buffers import SegmentReplayBuffer


def _q_head_parameters(critic: th.nn.Module) -> list[th.nn.Parameter]:
    return [p for q_net in critic.q_networks for p in q_net.parameters()]  # type: ignore[attr-defined]


#: CURL's SAC settings for DMC (Srinivas et al. 2020, Table 3), batch 128 instead of 512.
CURL_SAC_DEFAULTS: dict[str, Any] = dict(
    learning_rate=1e-3,
    buffer_size=100_000,
    learning_starts=1000,
    batch_size=128,
    tau=0.01,
    gamma=0.99,
    train_freq=1,
    gradient_steps=1,
    ent_coef="auto_0.1",
    target_update_interval=2,
)
#: |summed reward| that closes an RCRL segment on DMC (half the largest reward of one agent
#: step at action repeat 8)
SEGMENT_REWARD_THRESHOLD = 4.0


class AuxSAC(AuxiliaryMixin, SAC):
    """SAC in CURL's arrangement with auxiliary losses on the critic's encoder.

    One update: sample (with RCRL, anchor/partner pairs) -> random crop (pixels) -> ONE critic
    encoder pass over every sampled row -> critic loss on the RL rows + weighted auxiliary losses
    on the same features -> critic step (encoder, Q heads, aux heads) -> every
    ``actor_update_interval`` updates: actor and temperature steps on the detached features ->
    every ``target_update_interval`` updates: Q heads soft-updated at ``tau``, encoder at
    ``encoder_tau`` -> CURL key-encoder EMA.

    :param aux: auxiliary-loss settings.
    :param encoder_tau: soft-update rate of the target encoder (CURL: 0.05; Q heads use ``tau``).
    :param actor_update_interval: actor/temperature step every this many updates (CURL: 2).
    :param crop_size: random-crop size for image observations (CURL: 84 from 100).
    :param segment_kwargs: ``segment_rule`` / ``reward_threshold`` / ``max_segment_length``.
    Other parameters: :class:`stable_baselines3.SAC`, defaulting to :data:`CURL_SAC_DEFAULTS`.
    """

    default_curl_momentum = 0.05

    def __init__(
        self,
        policy: str | type[EncoderSharingSACPolicy] = EncoderSharingSACPolicy,
        env: Any = None,
        *,
        aux: AuxConfig | None = None,
        encoder_tau: float = 0.05,
        actor_update_interval: int = 2,
        crop_size: int = 84,
        segment_kwargs: dict[str, Any] | None = None,
        frame_stack: int = 0,
        **kwargs: Any,
    ) -> None:
        self.aux_config = aux or AuxConfig()
        self.encoder_tau = encoder_tau
        self.actor_update_interval = actor_update_interval
        self.crop_size = crop_size
        settings = {**CURL_SAC_DEFAULTS, **kwargs}
        segments = {"segment_rule": "reward_threshold", "reward_threshold": SEGMENT_REWARD_THRESHOLD, **(segment_kwargs or {})}
        buffer_kwargs = dict(n_steps=1, gamma=settings["gamma"], frame_stack=frame_stack, **segments)
        super().__init__(policy, env, replay_buffer_class=SegmentReplayBuffer, replay_buffer_kwargs=buffer_kwargs, **settings)

    def _setup_model(self) -> None:
        super()._setup_model()
        if not isinstance(self.policy, EncoderSharingSACPolicy):  # e.g. "MlpPolicy"
            raise ValueError(f"AuxSAC trains one encoder shared by critic and actor: its policy "
                             f"must be EncoderSharingSACPolicy (the default) or a subclass, got "
                             f"{type(self.policy).__name__}")
        encoder = self.critic.features_extractor
        action_dim = int(np.prod(self.action_space.shape))
        self._setup_aux(encoder, encoder.features_dim, action_dim, self.critic.optimizer)

    def train(self, gradient_steps: int, batch_size: int = 128) -> None:
        self.policy.set_training_mode(True)
        optimizers = [self.actor.optimizer, self.critic.optimizer]
        if self.ent_coef_optimizer is not None:
            optimizers.append(self.ent_coef_optimizer)
        self._update_learning_rate(optimizers)
        policy: EncoderSharingSACPolicy = self.policy  # type: ignore[assignment]
        logs: dict[str, list[float]] = defaultdict(list)
        for _ in range(gradient_steps):
            data = self._sample_replay(batch_size)
            observations = self._augmented(data.observations)  # [R, ...], R >= batch_size
            rl = slice(0, batch_size)
            ent_coef = self._ent_coef()

            with th.no_grad():
                target_q = self._target_q(
                    self._augmented(data.next_observations[rl]), data.rewards[rl], data.dones[rl], data.discounts[rl], ent_coef
                )

            # One encoder pass over RL rows and RCRL partners alike; the critic and aux losses train it.
            features = policy.encode(observations)  # [R, D]
            current_q = policy.q_values(features[rl], data.actions[rl])  # [B, n_critics]
            critic_loss = 0.5 * F.mse_loss(current_q, target_q.expand_as(current_q), reduction="none").mean(0).sum()
            key_observations = self._augmented(data.observations[rl]) if self.aux_config.curl else None
            aux_loss, aux_logs = self._auxiliary_loss(features, data.actions, data.segment_ids, key_observations, batch_size)

            self.critic.optimizer.zero_grad()
            (critic_loss + aux_loss).backward()
            self.critic.optimizer.step()

            if self._n_updates % self.actor_update_interval == 0:
                actor_loss, ent_coef_loss = self._update_actor_and_temperature(features[rl].detach(), ent_coef)
                logs["train/actor_loss"].append(actor_loss)
                if ent_coef_loss is not None:
                    logs["train/ent_coef_loss"].append(ent_coef_loss)
            if self._n_updates % self.target_update_interval == 0:
                polyak_update(_q_head_parameters(self.critic), _q_head_parameters(self.critic_target), self.tau)
                polyak_update(
                    self.critic.features_extractor.parameters(),
                    self.critic_target.features_extractor.parameters(),
                    self.encoder_tau,
                )
                polyak_update(self.batch_norm_stats, self.batch_norm_stats_target, 1.0)
                # CURL's key encoder is the target critic's encoder: it moves with it
                self._update_key_encoder(self.critic.features_extractor)
            self._n_updates += 1

            logs["train/critic_loss"].append(critic_loss.item())
            logs["train/ent_coef"].append(ent_coef.item())
            for key, value in aux_logs.items():
                logs[key].append(value)

        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        for key, values in logs.items():
            self.logger.record(key, float(np.mean(values)))
        self._record_segment_statistics()

    def _ent_coef(self) -> th.Tensor:
        if self.log_ent_coef is not None:
            return th.exp(self.log_ent_coef.detach())
        return self.ent_coef_tensor

    def _target_q(
        self, next_observations: th.Tensor, rewards: th.Tensor, dones: th.Tensor, discounts: th.Tensor, ent_coef: th.Tensor
    ) -> th.Tensor:
        """Soft TD target ``[B, 1]``: next action from the actor (online encoder), value from the target critic."""
        policy: EncoderSharingSACPolicy = self.policy  # type: ignore[assignment]
        next_actions, next_log_prob = policy.actor_from_features(policy.encode(next_observations))
        next_q = th.cat(self.critic_target(next_observations, next_actions), dim=1).min(dim=1, keepdim=True).values
        return rewards + (1 - dones) * discounts * (next_q - ent_coef * next_log_prob)

    def _update_actor_and_temperature(self, features: th.Tensor, ent_coef: th.Tensor) -> tuple[float, float | None]:
        """Actor step on detached features ``[B, D]``, then the temperature step (SB3's loss)."""
        policy: EncoderSharingSACPolicy = self.policy  # type: ignore[assignment]
        actions_pi, log_prob = policy.actor_from_features(features)
        min_q_pi = policy.q_values(features, actions_pi).min(dim=1, keepdim=True).values
        actor_loss = (ent_coef * log_prob - min_q_pi).mean()
        self.actor.optimizer.zero_grad()
        actor_loss.backward()
        self.actor.optimizer.step()
        if self.ent_coef_optimizer is None or self.log_ent_coef is None:
            return actor_loss.item(), None
        ent_coef_loss = -(self.log_ent_coef * (log_prob.detach() + self.target_entropy)).mean()
        self.ent_coef_optimizer.zero_grad()
        ent_coef_loss.backward()
        self.ent_coef_optimizer.step()
        return actor_loss.item(), ent_coef_loss.item()

    def _augmented(self, observations: th.Tensor) -> th.Tensor:
        """Random crop for image observations ``[B, C, H, W]``; states pass through."""
        if observations.dim() == 4 and observations.shape[-1] > self.crop_size:
            return random_crop(observations, self.crop_size)
        return observations
