"""A run's resolved settings (written to ``config.json``) and the agent they build."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecEnv

from rlrep.auxiliary import AuxConfig, check_aux_settings, odd_batch_message, parse_aux
from rlrep.envs import EnvSpec, parse_env_id


def check_device(device: str) -> None:
    """Raise ``ValueError`` unless ``device`` is ``auto``, ``cpu``, ``cuda`` or ``cuda:<i>``
    (mps, meta, ...: the agents are not run there)."""
    if device == "auto":
        return
    import torch as th

    try:
        kind = th.device(device).type
    except RuntimeError as error:
        raise ValueError(f"--device must be auto, cpu, cuda or cuda:<i>, got {device!r}") from error
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"--device must be auto, cpu, cuda or cuda:<i>, got {device!r}")


@dataclass
class TrainConfig:
    """Every option of ``rlrep train``; ``None`` means the agent's default (DER for Atari, CURL for DMC)."""

    env: str
    aux: str = "none"
    steps: int = 100_000
    seed: int = 0
    run_dir: str | None = None
    checkpoint_freq: int = 10_000
    keep_checkpoints: int = 2
    eval_freq: int = 10_000
    eval_episodes: int = 5
    final_eval_episodes: int = 10
    eval_epsilon: float = 0.001
    threads: int = 1
    progress: bool = True
    tensorboard: bool = True
    batch_size: int | None = None
    buffer_size: int | None = None
    learning_starts: int | None = None
    learning_rate: float | None = None
    n_steps: int | None = None
    action_repeat: int | None = None
    rcrl_weight: float = 1.0
    rcrl_partners: str = "batch"
    rcrl_embed_dim: int = 64
    curl_weight: float = 1.0
    curl_momentum: float | None = None
    segment_max_length: int = 32
    segment_threshold: float | None = None
    #: Atari: random-shift the RL batch: "auto" (on iff CURL is on: its query is the RL
    #: batch's features), "on" (every arm, so arms with and without CURL compare under one
    #: augmentation), "off"
    augment: str = "auto"
    #: Atari: Adam's epsilon (None: DER_ADAM_EPS, 1.5e-5, which the committed runs used;
    #: DER and CURL's Rainbow code use 1.5e-4)
    adam_eps: float | None = None
    #: "auto" (CUDA when present), "cpu", "cuda" or "cuda:<i>"; not a training option: a
    #: resumed run may continue on another device
    device: str = "auto"

    def __post_init__(self) -> None:
        check_device(self.device)
        for name in ("steps", "checkpoint_freq", "eval_freq", "threads", "keep_checkpoints"):
            if getattr(self, name) <= 0:
                raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        if self.eval_episodes < 0 or self.final_eval_episodes < 0:
            raise ValueError("episode counts must be >= 0")
        for name in ("batch_size", "buffer_size", "n_steps", "action_repeat"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"--{name.replace('_', '-')} must be positive, got {value}")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"--seed must be in [0, 2**32), got {self.seed}")
        if self.learning_rate is not None and not 0 < self.learning_rate < math.inf:
            raise ValueError(f"--learning-rate must be a finite number > 0, got {self.learning_rate}")
        if self.learning_starts is not None and self.learning_starts < 0:
            raise ValueError(f"--learning-starts must be >= 0, got {self.learning_starts}")
        check_aux_settings(vars(self), spell=lambda name: f"--{name.replace('_', '-')}")
        if self.segment_threshold is not None and not 0 < self.segment_threshold < math.inf:
            # 0 or less closes every segment at once; inf or nan never by reward (and is not
            # JSON: config.json would store null, the default)
            raise ValueError(f"--segment-threshold must be a finite number > 0, got "
                             f"{self.segment_threshold}")
        if not 0 <= self.eval_epsilon <= 1:
            raise ValueError(f"--eval-epsilon must be a probability in [0, 1], got {self.eval_epsilon}")
        if self.n_steps is not None and not self.env_spec.is_atari:
            raise ValueError(f"--n-steps sets the Atari agent's n-step return (SAC on DMC learns "
                             f"from one-step targets): drop it for {self.env}")
        if self.segment_threshold is not None and self.env_spec.is_atari:
            raise ValueError(f"--segment-threshold sets the DMC segment rule (Atari segments close "
                             f"at a non-zero reward): drop it for {self.env}")
        if self.segment_max_length < 1:
            raise ValueError(f"--segment-max-length must be >= 1, got {self.segment_max_length}")
        buffer_size = resolved_options(self)["buffer_size"]
        if self.segment_max_length >= buffer_size:
            named = ("--buffer-size" if self.buffer_size is not None
                     else "the agent's default buffer size")
            raise ValueError(f"--segment-max-length ({self.segment_max_length}) must be smaller than "
                             f"{named} ({buffer_size}): a segment must fit in the buffer; lower "
                             f"--segment-max-length or raise --buffer-size")
        if buffer_size < self.env_spec.frame_stack:
            raise ValueError(f"--buffer-size ({buffer_size}) must be at least the "
                             f"{self.env_spec.frame_stack} frames {self.env} stacks per observation")
        parse_aux(self.aux)  # raises on an unknown --aux
        if self.augment not in ("auto", "on", "off"):
            raise ValueError(f"--augment must be auto, on or off, got {self.augment!r}")
        if self.adam_eps is not None and not 0 < self.adam_eps < math.inf:
            raise ValueError(f"--adam-eps must be a finite number > 0, got {self.adam_eps}")
        atari_only = [flag for flag, given in (("--augment", self.augment != "auto"),
                                               ("--adam-eps", self.adam_eps is not None)) if given]
        if atari_only and not self.env_spec.is_atari:
            raise ValueError(f"{' and '.join(atari_only)} set{'s' if len(atari_only) == 1 else ''} "
                             f"the Atari agent (DMC pixels are always cropped, as in CURL, and SAC "
                             f"keeps Adam's default epsilon): drop "
                             f"{'it' if len(atari_only) == 1 else 'them'} for {self.env}")
        if ("rcrl" in self.aux_names and self.rcrl_partners == "batch"
                and self.batch_size is not None and self.batch_size % 2):
            raise ValueError(odd_batch_message(self.batch_size))
        # RCRL pairs need 2 anchors at least (a negative is another anchor's partner)
        least = {"batch": 4, "extra": 2}[self.rcrl_partners]
        if "curl" in self.aux_names and self.batch_size is not None and self.batch_size < 2:
            raise ValueError(f"CURL needs --batch-size >= 2 (the other samples of the batch are "
                             f"its negatives: with one the loss is 0), got {self.batch_size}")
        if "rcrl" in self.aux_names and self.batch_size is not None and self.batch_size < least:
            raise ValueError(f"RCRL with rcrl_partners={self.rcrl_partners!r} needs --batch-size >= "
                             f"{least} (two anchors and their partners), got {self.batch_size}")

    @property
    def aux_names(self) -> tuple[str, ...]:
        return parse_aux(self.aux)

    @property
    def env_spec(self) -> EnvSpec:
        return parse_env_id(self.env, self.action_repeat)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})


def atari_options(config: dict[str, Any]) -> tuple[bool, float]:
    """What ``--augment`` and ``--adam-eps`` amount to in an Atari run's options (a
    ``config.json`` dict; a run written before them ran with their defaults): (whether the
    RL batch is random-shifted, Adam's epsilon). Two runs with equal values train alike
    whatever was typed."""
    from rlrep.agents.qrdqn.qrdqn import DER_ADAM_EPS

    augment = config.get("augment", "auto")
    shifted = "curl" in parse_aux(config.get("aux", "none")) if augment == "auto" else augment == "on"
    eps = config.get("adam_eps")
    return shifted, DER_ADAM_EPS if eps is None else float(eps)


def aux_config(config: TrainConfig) -> AuxConfig:
    return AuxConfig(
        names=config.aux_names,
        rcrl_weight=config.rcrl_weight,
        rcrl_embed_dim=config.rcrl_embed_dim,
        rcrl_partners=config.rcrl_partners,  # type: ignore[arg-type]
        curl_weight=config.curl_weight,
        curl_momentum=config.curl_momentum,
    )


#: CURL's learning rate per DMC domain where it is not the agent's default (1e-3)
CURL_DOMAIN_LEARNING_RATE = {"cheetah": 2e-4}
#: SAC's batch on DMC state observations (pixels: CURL's 128)
STATE_BATCH_SIZE = 256
#: the options whose ``None`` leaves the value to the agent
AGENT_DEFAULTED = ("batch_size", "buffer_size", "learning_starts", "learning_rate", "n_steps",
                   "action_repeat", "curl_momentum", "segment_threshold", "adam_eps")


def resolved_options(config: TrainConfig) -> dict[str, Any]:
    """The value each option of :data:`AGENT_DEFAULTED` takes in ``config``'s run: the one
    given, else the agent's default (``None`` where the option does not apply: ``n_steps``
    and ``adam_eps`` on DMC, ``segment_threshold`` on Atari). Two configs with equal values
    train alike whatever was typed (``--batch-size 32`` on Atari = no ``--batch-size``)."""
    from rlrep.agents import AuxQRDQN, AuxSAC
    from rlrep.agents.qrdqn.qrdqn import DER_ADAM_EPS, DER_DEFAULTS, DER_N_STEPS
    from rlrep.agents.sac.sac import CURL_SAC_DEFAULTS, SEGMENT_REWARD_THRESHOLD

    spec = config.env_spec
    if spec.is_atari:
        defaults = {**DER_DEFAULTS, "n_steps": DER_N_STEPS, "adam_eps": DER_ADAM_EPS,
                    "curl_momentum": AuxQRDQN.default_curl_momentum}
    else:
        defaults = {**CURL_SAC_DEFAULTS, "segment_threshold": SEGMENT_REWARD_THRESHOLD,
                    "curl_momentum": AuxSAC.default_curl_momentum}
        if spec.kind == "dmc-state":
            defaults["batch_size"] = STATE_BATCH_SIZE
        defaults["learning_rate"] = CURL_DOMAIN_LEARNING_RATE.get(spec.domain,
                                                                  defaults["learning_rate"])
    defaults["action_repeat"] = spec.action_repeat
    values = {name: getattr(config, name) for name in AGENT_DEFAULTED}
    return {name: defaults.get(name) if value is None else value
            for name, value in values.items()}


def _overrides(config: TrainConfig) -> dict[str, Any]:
    names = ("batch_size", "buffer_size", "learning_starts", "learning_rate")
    out = {n: getattr(config, n) for n in names if getattr(config, n) is not None}
    spec = config.env_spec
    if not spec.is_atari and config.learning_rate is None and spec.domain in CURL_DOMAIN_LEARNING_RATE:
        out["learning_rate"] = CURL_DOMAIN_LEARNING_RATE[spec.domain]
    return out


def build_model(config: TrainConfig, env: VecEnv, tensorboard_log: str | None = None) -> BaseAlgorithm:
    """The agent for ``config.env``: :class:`AuxQRDQN` (Atari) or :class:`AuxSAC` (DMC)."""
    from rlrep.agents import AuxQRDQN, AuxSAC
    from rlrep.agents.encoders import CURLPixelEncoder, StateEncoder

    spec = config.env_spec
    segments: dict[str, Any] = {"max_segment_length": config.segment_max_length}
    if config.segment_threshold is not None:
        segments["reward_threshold"] = config.segment_threshold
    common = dict(aux=aux_config(config), seed=config.seed, device=config.device, tensorboard_log=tensorboard_log, segment_kwargs=segments)
    if spec.is_atari:
        extra: dict[str, Any] = {"n_steps": config.n_steps} if config.n_steps is not None else {}
        shifted, eps = atari_options(config.to_dict())
        if config.adam_eps is not None:
            extra["policy_kwargs"] = dict(optimizer_kwargs=dict(eps=eps))
        return AuxQRDQN(env=env, augment=shifted, frame_stack=spec.frame_stack, **common, **extra,
                        **_overrides(config))
    if spec.kind == "dmc-pixels":
        policy_kwargs = dict(features_extractor_class=CURLPixelEncoder, net_arch=[1024, 1024])
        return AuxSAC(env=env, frame_stack=spec.frame_stack, policy_kwargs=policy_kwargs, **common,
                      **_overrides(config))
    policy_kwargs = dict(features_extractor_class=StateEncoder, net_arch=[256, 256])
    overrides = {"batch_size": STATE_BATCH_SIZE, **_overrides(config)}
    return AuxSAC(env=env, policy_kwargs=policy_kwargs, **common, **overrides)


def model_class(config: TrainConfig) -> type[BaseAlgorithm]:
    from rlrep.agents import AuxQRDQN, AuxSAC

    return AuxQRDQN if config.env_spec.is_atari else AuxSAC
