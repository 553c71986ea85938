"""What both agents share to host auxiliary losses: head registration, pair sampling, the loss sum.

Mixed into SB3 algorithm subclasses (before the SB3 class in the MRO). The heads live in
``self.aux_heads`` (an ``nn.ModuleDict``), their trainable parameters are a param group of the
optimizer that trains the encoder, and they are saved and loaded with the model's state dicts.
"""

from __future__ import annotations

import torch as th
from stable_baselines3.common.preprocessing import preprocess_obs
from torch import nn

from rlrep.auxiliary import AuxConfig, CURLHead, RCRLHead, odd_batch_message
from rlrep.buffers import SegmentReplayBuffer, SegmentReplaySamples


class AuxiliaryMixin:
    """Adds ``aux_heads`` and :meth:`_auxiliary_loss` to an SB3 off-policy algorithm."""

    aux_config: AuxConfig
    aux_heads: nn.ModuleDict
    default_curl_momentum: float = 0.05

    def _setup_aux(self, encoder: nn.Module, features_dim: int, action_dim: int, optimizer: th.optim.Optimizer) -> None:
        """Build the enabled heads and add their parameters to ``optimizer`` (call in ``_setup_model``)."""
        cfg = self.aux_config
        heads: dict[str, nn.Module] = {}
        if cfg.rcrl:
            heads["rcrl"] = RCRLHead(features_dim, action_dim, cfg.rcrl_hidden_dim, cfg.rcrl_embed_dim)
        if cfg.curl:
            momentum = cfg.curl_momentum if cfg.curl_momentum is not None else self.default_curl_momentum
            heads["curl"] = CURLHead(encoder, features_dim, momentum)
        self.aux_heads = nn.ModuleDict(heads).to(self.device)  # type: ignore[attr-defined]
        trainable = [p for p in self.aux_heads.parameters() if p.requires_grad]
        if trainable:
            optimizer.add_param_group({"params": trainable})

    def _sample_replay(self, batch_size: int) -> SegmentReplaySamples:
        """RL rows are ``[0, batch_size)``; with RCRL the batch also carries anchor/partner pairs."""
        buffer = self.replay_buffer  # type: ignore[attr-defined]
        assert isinstance(buffer, SegmentReplayBuffer)
        if not self.aux_config.rcrl:
            return buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[attr-defined]
        if self.aux_config.rcrl_partners == "batch" and batch_size % 2:
            raise ValueError(odd_batch_message(batch_size))
        n_anchors = batch_size // 2 if self.aux_config.rcrl_partners == "batch" else batch_size
        return buffer.sample_pairs(n_anchors, env=self._vec_normalize_env)  # type: ignore[attr-defined]

    def _auxiliary_loss(
        self,
        features: th.Tensor,
        actions: th.Tensor,
        segment_ids: th.Tensor,
        key_observations: th.Tensor | None,
        batch_size: int,
    ) -> tuple[th.Tensor, dict[str, float]]:
        """Weighted sum of the enabled auxiliary losses, and their logs.

        :param features: ``[R, D]`` online-encoder features of every sampled row (``R >= batch_size``).
        :param actions: ``[R, A]`` encoded actions (one-hot for discrete spaces).
        :param segment_ids: ``[R]`` segment ids.
        :param key_observations: ``[batch_size, ...]`` raw observations under a second augmentation (CURL).
        """
        cfg, logs = self.aux_config, {}
        total = features.new_zeros(())
        if cfg.rcrl:
            loss, accuracy = self.aux_heads["rcrl"].loss(features, actions, segment_ids)
            total = total + cfg.rcrl_weight * loss
            logs.update({"aux/rcrl_loss": loss.item(), "aux/rcrl_accuracy": accuracy.item()})
        if cfg.curl:
            assert key_observations is not None
            curl: CURLHead = self.aux_heads["curl"]  # type: ignore[assignment]
            keys = curl.keys(self._preprocess(key_observations))
            exclude = None
            if cfg.rcrl:  # RCRL's positives (same segment) are not CURL's negatives
                seg = segment_ids[:batch_size]
                exclude = (seg[:, None] == seg[None, :]) & ~th.eye(len(seg), dtype=th.bool, device=seg.device)
            loss, accuracy = curl.loss(features[:batch_size], keys, exclude)
            total = total + cfg.curl_weight * loss
            logs.update({"aux/curl_loss": loss.item(), "aux/curl_accuracy": accuracy.item()})
        return total, logs

    def _record_segment_statistics(self) -> None:
        """With RCRL, log the buffer's :meth:`~rlrep.buffers.SegmentReplayBuffer.segment_statistics`
        as ``rcrl/<key>`` (``closed``, ``mean_length``, ``closed_by_*``, ``rows_closed_by_*``)."""
        if not self.aux_config.rcrl:
            return
        buffer = self.replay_buffer  # type: ignore[attr-defined]
        for key, value in buffer.segment_statistics().items():
            self.logger.record(f"rcrl/{key}", value)  # type: ignore[attr-defined]

    def _update_key_encoder(self, encoder: nn.Module) -> None:
        if self.aux_config.curl:
            self.aux_heads["curl"].update_key_encoder(encoder)  # type: ignore[operator]

    def _preprocess(self, observations: th.Tensor) -> th.Tensor:
        policy = self.policy  # type: ignore[attr-defined]
        return preprocess_obs(observations, policy.observation_space, normalize_images=policy.normalize_images)  # type: ignore[return-value]

    def _aux_trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.aux_heads.parameters() if p.requires_grad]

    # -- SB3 save/load: the heads travel as a state dict, like the policy ------------------------
    def _excluded_save_params(self) -> list[str]:
        return super()._excluded_save_params() + ["aux_heads"]  # type: ignore[misc]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        state_dicts, variables = super()._get_torch_save_params()  # type: ignore[misc]
        return [*state_dicts, "aux_heads"], variables
