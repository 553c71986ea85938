"""QR-DQN with n-step returns, DER settings and RCRL / CURL auxiliary losses (Atari)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import torch as th
import torch.nn.functional as F
from sb3_contrib import QRDQN
from sb3_contrib.common.utils import quantile_huber_loss

from rlrep.agents.auxiliary_mixin import AuxiliaryMixin
from rlrep.agents.qrdqn.policies import DERQRDQNPolicy
from rlrep.auxiliary import AuxConfig
from rlrep.auxiliary.augment import random_shift
from rlrep.buffers import SegmentReplayBuffer

#: Data-efficient Rainbow's settings (van Hasselt et al. 2019) as far as QR-DQN can take them.
DER_DEFAULTS: dict[str, Any] = dict(
    learning_rate=1e-4,
    buffer_size=100_000,
    learning_starts=1600,
    batch_size=32,
    gamma=0.99,
    train_freq=1,
    gradient_steps=1,
    target_update_interval=2000,
    max_grad_norm=10.0,
    exploration_initial_eps=1.0,
    exploration_final_eps=0.01,
    exploration_fraction=0.1,
)
DER_N_STEPS = 20
DER_ADAM_EPS = 1.5e-5


class AuxQRDQN(AuxiliaryMixin, QRDQN):
    """sb3-contrib QR-DQN + segment-labelled n-step replay + RCRL / CURL on the shared encoder.

    One update: sample (with RCRL, anchor/partner pairs) -> optional random shift -> ONE encoder
    pass over every sampled row -> quantile Huber loss on the RL rows + weighted auxiliary losses
    on the same features -> one Adam step (grad-norm clipped) -> CURL key-encoder EMA.

    :param aux: auxiliary-loss settings.
    :param n_steps: multi-step return horizon (DER: 20).
    :param augment: random-shift the RL batch (pad 4), whose features are also CURL's query;
        ``None``: on iff CURL is enabled. CURL's key is shifted either way.
    :param segment_kwargs: ``segment_rule`` / ``reward_threshold`` / ``max_segment_length``.
    Other parameters: :class:`sb3_contrib.QRDQN`, defaulting to :data:`DER_DEFAULTS`.
    """

    default_curl_momentum = 0.001

    def __init__(
        self,
        policy: str | type[DERQRDQNPolicy] = DERQRDQNPolicy,
        env: Any = None,
        *,
        aux: AuxConfig | None = None,
        n_steps: int = DER_N_STEPS,
        augment: bool | None = None,
        segment_kwargs: dict[str, Any] | None = None,
        frame_stack: int = 4,
        **kwargs: Any,
    ) -> None:
        self.aux_config = aux or AuxConfig()
        self.augment = self.aux_config.curl if augment is None else augment
        #: the budget epsilon anneals over (``exploration_fraction`` of it), fixed by the
        #: first ``learn()`` and saved with the model, so a resume with a raised budget
        #: keeps the schedule instead of re-stretching it over the new one
        self.exploration_budget: int | None = None
        settings = {**DER_DEFAULTS, **kwargs}
        policy_kwargs = dict(settings.pop("policy_kwargs", None) or {})
        policy_kwargs.setdefault("optimizer_class", th.optim.Adam)
        policy_kwargs.setdefault("optimizer_kwargs", dict(eps=DER_ADAM_EPS))
        buffer_kwargs = dict(n_steps=n_steps, gamma=settings["gamma"], frame_stack=frame_stack, **(segment_kwargs or {}))
        super().__init__(
            policy,
            env,
            replay_buffer_class=SegmentReplayBuffer,
            replay_buffer_kwargs=buffer_kwargs,
            policy_kwargs=policy_kwargs,
            **settings,
        )

    def _setup_model(self) -> None:
        shape = self.observation_space.shape or ()
        if (self.aux_config.curl or self.augment) and len(shape) != 3:
            raise ValueError(f"CURL and augment=True random-shift image observations [C, H, W]; "
                             f"these are {tuple(shape)}: use augment=False and no CURL here")
        super()._setup_model()
        encoder = self.quantile_net.features_extractor
        self._setup_aux(encoder, encoder.features_dim, int(self.action_space.n), self.policy.optimizer)

    def _setup_learn(self, total_timesteps: int, callback: Any = None,
                     reset_num_timesteps: bool = True, *args: Any, **kwargs: Any) -> Any:
        out = super()._setup_learn(total_timesteps, callback, reset_num_timesteps, *args, **kwargs)
        # a fresh count starts a fresh schedule; a checkpoint saved without the attribute
        # (before it existed) anneals over the budget it resumes with, as it did then
        if reset_num_timesteps or self.exploration_budget is None:
            self.exploration_budget = self._total_timesteps
        return out

    def _on_step(self) -> None:
        """QR-DQN's step hook, with epsilon read off the first budget's schedule.

        sb3 derives epsilon from the progress through the current ``learn()`` budget; a
        resumed run with a raised ``--steps`` would re-stretch the annealing over the new
        budget (and raise epsilon again if resumed inside the new window). Here the
        progress is measured against :attr:`exploration_budget`; equal to sb3's (the
        same expression) while the budget is the first one.
        """
        super()._on_step()
        progress_remaining = 1.0 - float(self.num_timesteps) / float(self.exploration_budget)
        self.exploration_rate = self.exploration_schedule(progress_remaining)
        self.logger.record("rollout/exploration_rate", self.exploration_rate)

    def train(self, gradient_steps: int, batch_size: int = 32) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        logs: dict[str, list[float]] = defaultdict(list)
        for _ in range(gradient_steps):
            data = self._sample_replay(batch_size)
            observations = self._augmented(data.observations)  # [R, 4, 84, 84], R >= batch_size
            rl = slice(0, batch_size)

            with th.no_grad():
                target_quantiles = self._target_quantiles(
                    self._augmented(data.next_observations[rl]), data.rewards[rl], data.dones[rl], data.discounts[rl]
                )

            # One encoder pass over RL rows and RCRL partners alike.
            features = self.quantile_net.extract_features(observations, self.quantile_net.features_extractor)
            quantiles = self.quantile_net.quantile_net(features[rl]).view(batch_size, self.n_quantiles, -1)
            actions = data.actions[rl].long()[..., None].expand(batch_size, self.n_quantiles, 1)
            current_quantiles = quantiles.gather(dim=2, index=actions).squeeze(dim=2)  # [B, n_quantiles]
            rl_loss = quantile_huber_loss(current_quantiles, target_quantiles, sum_over_quantiles=True)

            # the key is always a shifted copy: with augment off, query (RL features of the raw
            # frames) and key still differ by an augmentation, as in CURL
            key_observations = random_shift(data.observations[rl], pad=4) if self.aux_config.curl else None
            aux_loss, aux_logs = self._auxiliary_loss(
                features, self._one_hot(data.actions), data.segment_ids, key_observations, batch_size
            )

            self.policy.optimizer.zero_grad()
            (rl_loss + aux_loss).backward()
            if self.max_grad_norm is not None:
                params = [*self.quantile_net.parameters(), *self._aux_trainable_parameters()]
                th.nn.utils.clip_grad_norm_(params, self.max_grad_norm)
            self.policy.optimizer.step()
            self._update_key_encoder(self.quantile_net.features_extractor)

            logs["train/loss"].append(rl_loss.item())
            for key, value in aux_logs.items():
                logs[key].append(value)

        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        for key, values in logs.items():
            self.logger.record(key, float(np.mean(values)))
        self._record_segment_statistics()

    def _target_quantiles(
        self, next_observations: th.Tensor, rewards: th.Tensor, dones: th.Tensor, discounts: th.Tensor
    ) -> th.Tensor:
        """n-step target ``r + (1 - done) * gamma^k * Z_target(s', argmax_a mean Z_target(s', a))``: ``[B, n_quantiles]``."""
        next_quantiles = self.quantile_net_target(next_observations)  # [B, n_quantiles, n_actions]
        greedy = next_quantiles.mean(dim=1, keepdim=True).argmax(dim=2, keepdim=True)
        greedy = greedy.expand(-1, self.n_quantiles, 1)
        next_quantiles = next_quantiles.gather(dim=2, index=greedy).squeeze(dim=2)
        return rewards + (1 - dones) * discounts * next_quantiles

    def _augmented(self, observations: th.Tensor) -> th.Tensor:
        return random_shift(observations, pad=4) if self.augment else observations

    def _one_hot(self, actions: th.Tensor) -> th.Tensor:
        """Stored discrete actions ``[R, 1]`` -> one-hot ``[R, n_actions]``."""
        return F.one_hot(actions.long().view(-1), int(self.action_space.n)).float()
