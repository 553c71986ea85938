"""Auxiliary heads: the losses fall on a fixed batch and train the agents' encoders; the
augmentations are exact crops; the TD targets match a hand computation; SB3 save/load keeps
the heads."""

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from stable_baselines3.common.callbacks import BaseCallback
from torch import nn

from rlrep.agents import AuxQRDQN, AuxSAC
from rlrep.agents.encoders import StateEncoder
from rlrep.auxiliary import AuxConfig, CURLHead, RCRLHead
from rlrep.auxiliary.augment import center_crop, random_crop, random_shift
from rlrep.envs import make_vec_env, parse_env_id


def test_rcrl_loss_falls_on_fixed_batch():
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 16))
    head = RCRLHead(16, 3, hidden_dim=32, embed_dim=16)
    segments = torch.randint(0, 6, (32,))
    centers = torch.randn(6, 8)
    obs = centers[segments] + 0.1 * torch.randn(32, 8)
    ids = torch.cat([segments[:16], segments[:16]])
    obs = torch.cat([obs[:16], centers[segments[:16]] + 0.1 * torch.randn(16, 8)])
    actions = torch.nn.functional.one_hot(torch.randint(0, 3, (32,)), 3).float()
    opt = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=1e-2)
    first = None
    for _ in range(100):
        loss, acc = head.loss(encoder(obs), actions, ids)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.3 * first and acc.item() > 0.9


def test_curl_loss_leaves_excluded_keys_out_of_the_negatives():
    torch.manual_seed(0)
    curl = CURLHead(nn.Identity(), 4, momentum_tau=0.1)
    q, k = torch.randn(4, 4), torch.randn(4, 4)
    logits = curl.score.score_matrix(q, k)
    exclude = torch.zeros(4, 4, dtype=torch.bool)
    exclude[0, 1] = exclude[1, 0] = True  # rows 0 and 1 share a segment
    loss, _ = curl.loss(q, k, exclude)
    expected = torch.stack([
        -torch.log_softmax(logits[i][~exclude[i]], 0)[int((~exclude[i])[:i].sum())] for i in range(4)
    ]).mean()
    torch.testing.assert_close(loss, expected)
    # a query whose duplicate sits among the keys: with it excluded the loss can reach 0
    dup = torch.cat([q[:2], q[:2]])
    both = torch.zeros(4, 4, dtype=torch.bool)
    both[[0, 1, 2, 3], [2, 3, 0, 1]] = True
    with torch.no_grad():
        curl.score.weight.copy_(torch.eye(4) * 50)  # scores q_i . k_j, sharp
    assert curl.loss(dup, dup)[0] > math.log(2) - 1e-4
    assert curl.loss(dup, dup, both)[0] < 0.05
    with pytest.raises(ValueError, match="diagonal"):
        curl.loss(q, k, torch.eye(4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"exclude must be \[N, N\] = \(4, 4\) bool"):
        curl.loss(q, k, exclude.long())  # masked_fill's raw dtype error before


def test_curl_loss_falls_on_fixed_batch():
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(2 * 14 * 14, 32))
    curl = CURLHead(encoder, 32, momentum_tau=0.2)
    images = torch.rand(16, 2, 16, 16)
    opt = torch.optim.Adam([*encoder.parameters(), *curl.score.parameters()], lr=3e-3)
    losses = []
    for _ in range(150):
        loss, _ = curl.loss(encoder(random_crop(images, 14)), curl.keys(random_crop(images, 14)))
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
        key0 = [p.detach().clone() for p in curl.key_encoder.parameters()]
        curl.update_key_encoder(encoder)
        # EMA towards the online encoder: key <- (1 - tau) * key + tau * online, every parameter
        for key, old, online in zip(curl.key_encoder.parameters(), key0, encoder.parameters(), strict=True):
            torch.testing.assert_close(key, 0.8 * old + 0.2 * online.detach(), rtol=1e-6, atol=1e-7)
            assert not key.requires_grad
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])


def test_augmentations_shapes():
    x = torch.arange(2 * 3 * 10 * 10, dtype=torch.float32).view(2, 3, 10, 10)
    assert random_crop(x, 8).shape == (2, 3, 8, 8)
    assert random_shift(x, 2).shape == x.shape
    assert torch.equal(center_crop(x, 8), x[..., 1:9, 1:9])
    crop = random_crop(x, 8)[0, 0]
    top, left = int(crop[0, 0] // 10), int(crop[0, 0] % 10)
    assert torch.equal(crop, x[0, 0, top : top + 8, left : left + 8])


def _ramp(b, c, h, w):
    """Every value distinct, so a window of it has exactly one position."""
    return torch.arange(b * c * h * w, dtype=torch.float32).view(b, c, h, w)


def _window(out, source, offsets):
    """The one (i, j) with ``out == source[:, i:i+h, j:j+w]`` (all channels), or fail."""
    h, w = out.shape[-2:]
    hits = [(i, j) for i in offsets for j in offsets if torch.equal(out, source[:, i : i + h, j : j + w])]
    assert len(hits) == 1, hits
    return hits[0]


def test_random_shift_is_a_replicate_padded_crop():
    torch.manual_seed(0)
    pad = 2
    const = torch.full((4, 3, 10, 10), 7, dtype=torch.uint8)
    shifted = random_shift(const, pad)
    assert shifted.dtype == torch.float32 and torch.equal(shifted, const.float())  # replicate, not zero padding
    x = _ramp(64, 3, 10, 10)
    out = random_shift(x, pad)
    assert out.shape == x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    offsets = [_window(out[b], padded[b], range(2 * pad + 1)) for b in range(64)]
    assert len(set(offsets)) >= 10  # 25 possible shifts, drawn per image
    assert len({i for i, _ in offsets}) > 1 and len({j for _, j in offsets}) > 1


def test_random_crop_windows_every_image_and_channel():
    torch.manual_seed(0)
    x = _ramp(64, 3, 10, 10)
    out = random_crop(x, 7)
    assert out.shape == (64, 3, 7, 7)
    offsets = [_window(out[b], x[b], range(4)) for b in range(64)]  # same window in every channel
    assert len(set(offsets)) >= 8  # 16 possible windows, drawn per image
    assert len({i for i, _ in offsets}) > 1 and len({j for _, j in offsets}) > 1
    with pytest.raises(ValueError, match="cannot crop"):
        random_crop(x, 11)


def _same_state(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_save_load_keeps_heads_qrdqn(tmp_path):
    env = make_vec_env(parse_env_id("PongNoFrameskip-v4"), seed=0)
    model = AuxQRDQN(env=env, aux=AuxConfig(names=("rcrl", "curl")), buffer_size=500, learning_starts=50, seed=0)
    model.learn(80)
    assert len(model.policy.optimizer.param_groups) == 2  # the heads are trained by the same Adam
    model.save(tmp_path / "m.zip")
    loaded = AuxQRDQN.load(tmp_path / "m.zip", env=env)
    assert set(loaded.aux_heads) == {"rcrl", "curl"}
    assert _same_state(model.aux_heads, loaded.aux_heads)
    opt_a, opt_b = model.policy.optimizer.state_dict(), loaded.policy.optimizer.state_dict()
    assert opt_a["param_groups"] == opt_b["param_groups"]


def test_save_load_keeps_heads_sac(tmp_path):
    env = make_vec_env(parse_env_id("dmc-state:cartpole-swingup"), seed=0)
    kwargs = dict(policy_kwargs=dict(features_extractor_class=StateEncoder, net_arch=[32, 32]))
    model = AuxSAC(env=env, aux=AuxConfig(names=("rcrl",)), buffer_size=500, learning_starts=30, batch_size=16, seed=0, **kwargs)
    model.learn(60)
    encoder_ids = {id(p) for p in model.critic.features_extractor.parameters()}
    assert encoder_ids <= {id(p) for g in model.critic.optimizer.param_groups for p in g["params"]}
    assert not encoder_ids & {id(p) for g in model.actor.optimizer.param_groups for p in g["params"]}
    model.save(tmp_path / "s.zip")
    loaded = AuxSAC.load(tmp_path / "s.zip", env=env)
    assert _same_state(model.aux_heads, loaded.aux_heads)


# -- the auxiliary losses train the agents' heads and encoders --------------------------------
AUX_BOTH = dict(names=("rcrl", "curl"), rcrl_hidden_dim=32, rcrl_embed_dim=16, curl_momentum=0.3)


def _filled_qrdqn():
    env = make_vec_env(parse_env_id("PongNoFrameskip-v4"), seed=0)
    model = AuxQRDQN(env=env, aux=AuxConfig(**AUX_BOTH), buffer_size=200, learning_starts=10_000, seed=0)
    model.learn(40)  # fills the buffer; no update yet
    return model, model.quantile_net.features_extractor


def _filled_sac():
    env = make_vec_env(parse_env_id("dmc-state:cartpole-swingup"), seed=0)
    kwargs = dict(policy_kwargs=dict(features_extractor_class=StateEncoder, net_arch=[32, 32]))
    model = AuxSAC(env=env, aux=AuxConfig(**AUX_BOTH), buffer_size=200, learning_starts=10_000, seed=0, **kwargs)
    model.learn(40)
    return model, model.critic.features_extractor


def _one_update(model, encoder, snapshot, rcrl_weight, curl_weight):
    """Restore ``snapshot``, run one ``train()`` with these weights under fixed seeds; report."""
    model.set_parameters(copy.deepcopy(snapshot["params"]), exact_match=True)
    if getattr(model, "log_ent_coef", None) is not None:
        model.log_ent_coef.data.copy_(snapshot["log_ent_coef"])
    model._n_updates = 0
    model.aux_config.rcrl_weight, model.aux_config.curl_weight = rcrl_weight, curl_weight
    key0 = [p.detach().clone() for p in model.aux_heads["curl"].key_encoder.parameters()]
    heads0 = {n: p.detach().clone() for n, p in model.aux_heads.named_parameters() if p.requires_grad}
    model.logger.name_to_value.clear()
    np.random.seed(1)
    torch.manual_seed(1)
    model.train(gradient_steps=1, batch_size=8)
    return dict(
        encoder=[p.detach().clone() for p in encoder.parameters()],
        encoder_grad=[p.grad.clone() for p in encoder.parameters()],
        heads0=heads0,
        heads=dict(model.aux_heads.named_parameters()),
        key0=key0,
        logs=dict(model.logger.name_to_value),
    )


def test_each_weight_scales_its_own_loss(monkeypatch):
    """total = rcrl_weight * L_rcrl + curl_weight * L_curl, each weight on its own loss (the
    test below turns one loss on at a time with weight 1, which a swap would pass)."""
    model, _ = _filled_qrdqn()
    rcrl, curl = model.aux_heads["rcrl"], model.aux_heads["curl"]
    monkeypatch.setattr(rcrl, "loss", lambda *a: (torch.tensor(3.0), torch.tensor(0.5)))
    monkeypatch.setattr(curl, "keys", lambda obs: None)
    monkeypatch.setattr(curl, "loss", lambda *a: (torch.tensor(5.0), torch.tensor(0.25)))
    obs = torch.zeros(8, *model.observation_space.shape, dtype=torch.uint8)
    for w_rcrl, w_curl in ((2.0, 0.5), (0.5, 2.0), (0.0, 1.0)):
        model.aux_config.rcrl_weight, model.aux_config.curl_weight = w_rcrl, w_curl
        total, logs = model._auxiliary_loss(torch.zeros(8, 4), torch.zeros(8, 6),
                                            torch.arange(8), obs, 8)
        assert total.item() == pytest.approx(3.0 * w_rcrl + 5.0 * w_curl)
        assert (logs["aux/rcrl_loss"], logs["aux/curl_loss"]) == (3.0, 5.0)


@pytest.mark.parametrize("make", [_filled_qrdqn, _filled_sac], ids=["qrdqn", "sac"])
def test_aux_losses_train_heads_and_encoder(make):
    model, encoder = make()
    snapshot = {"params": copy.deepcopy(model.get_parameters())}
    if getattr(model, "log_ent_coef", None) is not None:
        snapshot["log_ent_coef"] = model.log_ent_coef.detach().clone()
    none = _one_update(model, encoder, snapshot, 0.0, 0.0)
    again = _one_update(model, encoder, snapshot, 0.0, 0.0)
    # control: the comparison below is meaningful (the update is deterministic)
    assert all(torch.equal(a, b) for a, b in zip(none["encoder"], again["encoder"], strict=True))
    assert all(torch.equal(a, b) for a, b in zip(none["encoder_grad"], again["encoder_grad"], strict=True))
    for weights in ((1.0, 0.0), (0.0, 1.0)):  # each loss alone adds a gradient to every encoder tensor
        run = _one_update(model, encoder, snapshot, *weights)
        for name in ("encoder_grad", "encoder"):
            changed = [not torch.equal(x, y) for x, y in zip(run[name], none[name], strict=True)]
            assert all(changed), (weights, name, changed)
    both = _one_update(model, encoder, snapshot, 1.0, 1.0)
    assert set(both["heads0"]) == {n for n, p in both["heads"].items() if p.requires_grad} != set()
    for name, before in both["heads0"].items():  # one step moved every trainable head parameter
        assert not torch.equal(before, both["heads"][name]), name
    tau = model.aux_heads["curl"].momentum_tau
    keys = model.aux_heads["curl"].key_encoder.parameters()
    for key, old, online in zip(keys, both["key0"], encoder.parameters(), strict=True):  # key <- EMA
        torch.testing.assert_close(key, (1 - tau) * old + tau * online.detach(), rtol=1e-5, atol=1e-6)
    logs = both["logs"]
    for key in ("aux/rcrl_loss", "aux/rcrl_accuracy", "aux/curl_loss", "aux/curl_accuracy"):
        assert key in logs and np.isfinite(logs[key]), key
    assert logs["aux/rcrl_loss"] > 0 and logs["aux/curl_loss"] > 0
    assert 0 <= logs["aux/rcrl_accuracy"] <= 1 and 0 <= logs["aux/curl_accuracy"] <= 1
    # how the buffer's segments closed is logged beside the losses, as the buffer counts it
    stats = model.replay_buffer.segment_statistics()
    assert stats["closed"] > 0
    for key, value in stats.items():
        assert logs[f"rcrl/{key}"] == value, key
    for prefix in ("closed_by", "rows_closed_by"):
        assert sum(logs[f"rcrl/{prefix}_{r}"] for r in ("reward", "episode_end", "length_cap")) == pytest.approx(1)


@pytest.mark.parametrize("make", [_filled_qrdqn, _filled_sac], ids=["qrdqn", "sac"])
def test_odd_batch_with_rcrl_batch_partners_is_refused(make):
    """Anchors and partners split the RL batch: an odd one would crash QR-DQN's reshape
    and silently train SAC on one row fewer."""
    model, _ = make()
    with pytest.raises(ValueError, match="batch size must be even, got 7"):
        model.train(1, batch_size=7)


# -- TD targets against a hand computation --------------------------------------------------
REWARDS = torch.tensor([[1.0], [-1.0], [0.0], [2.5]])
DONES = torch.tensor([[0.0], [1.0], [0.0], [0.0]])
DISCOUNTS = torch.tensor([[0.99**20], [0.99**3], [0.99], [0.99**7]])  # gamma^k of k-step windows


def _perturb(module, scale=0.05):
    torch.manual_seed(123)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn_like(p))


def test_qrdqn_target_quantiles_by_hand():
    env = make_vec_env(parse_env_id("PongNoFrameskip-v4"), seed=0)
    model = AuxQRDQN(env=env, buffer_size=100, learning_starts=10, seed=0)
    _perturb(model.quantile_net_target)  # the target net differs from the online net
    next_obs = torch.randint(0, 256, (4, 4, 84, 84)).float()
    target = model._target_quantiles(next_obs, REWARDS, DONES, DISCOUNTS)
    with torch.no_grad():
        z = model.quantile_net_target(next_obs)  # [B, n_quantiles, n_actions]
        online = model.quantile_net(next_obs)
    assert target.shape == (4, model.n_quantiles)
    assert not torch.equal(z, online)
    for b in range(4):
        greedy = int(z[b].mean(dim=0).argmax())  # greedy in the mean of the target quantiles
        expected = REWARDS[b, 0] + (1 - DONES[b, 0]) * DISCOUNTS[b, 0] * z[b, :, greedy]
        torch.testing.assert_close(target[b], expected)
    torch.testing.assert_close(target[1], torch.full((model.n_quantiles,), -1.0))  # done: reward only


def test_sac_target_q_by_hand():
    env = make_vec_env(parse_env_id("dmc-state:cartpole-swingup"), seed=0)
    kwargs = dict(policy_kwargs=dict(features_extractor_class=StateEncoder, net_arch=[32, 32]))
    model = AuxSAC(env=env, buffer_size=100, learning_starts=10, seed=0, **kwargs)
    _perturb(model.critic_target)  # target Q heads and target encoder differ from the online ones
    next_obs = torch.randn(4, *model.observation_space.shape)
    alpha = torch.tensor(0.3)
    torch.manual_seed(7)
    target = model._target_q(next_obs, REWARDS, DONES, DISCOUNTS, alpha)
    torch.manual_seed(7)
    with torch.no_grad():  # next action from SB3's own actor (online encoder), value from the target critic
        actions, log_prob = model.actor.action_log_prob(next_obs)
        q1, q2 = model.critic_target(next_obs, actions)
    assert target.shape == (4, 1)
    for b in range(4):
        soft_v = min(q1[b, 0], q2[b, 0]) - alpha * log_prob[b]
        expected = REWARDS[b, 0] + (1 - DONES[b, 0]) * DISCOUNTS[b, 0] * soft_v
        torch.testing.assert_close(target[b, 0], expected)
    assert target[1, 0] == -1.0


@pytest.mark.parametrize("make", [_filled_qrdqn, _filled_sac], ids=["qrdqn", "sac"])
def test_rcrl_positives_are_not_curl_negatives(make, monkeypatch):
    """With both heads, the RL batch holds anchors and their same-segment partners: CURL
    leaves a query's segment mates out of its negatives (an identical transition among
    them would hold its loss above log 2)."""
    model, _ = make()
    seen = {}
    real_loss, real_sample = CURLHead.loss, model._sample_replay

    def spy_loss(self, queries, keys, exclude=None):
        seen["exclude"] = exclude
        return real_loss(self, queries, keys, exclude)

    def spy_sample(batch_size):
        seen["data"] = real_sample(batch_size)
        return seen["data"]

    monkeypatch.setattr(CURLHead, "loss", spy_loss)
    monkeypatch.setattr(model, "_sample_replay", spy_sample)
    model.train(gradient_steps=1, batch_size=8)
    seg = seen["data"].segment_ids[:8].flatten()
    expected = (seg[:, None] == seg[None, :]) & ~torch.eye(8, dtype=torch.bool)
    assert torch.equal(seen["exclude"], expected)
    assert expected[torch.arange(4), torch.arange(4) + 4].all()  # anchor i, partner 4 + i


def test_curl_query_and_key_take_separate_crops(monkeypatch):
    """CURL's two views of an observation are two independent random shifts: the key
    batch is augmented again from the same stored frames, not copied from the query. With
    --augment off the RL batch (the query) stays raw and the key is still shifted."""
    import rlrep.agents.qrdqn.qrdqn as qrdqn

    model, _ = _filled_qrdqn()
    calls = []

    def spy(observations, *args, **kwargs):
        out = random_shift(observations, *args, **kwargs)
        calls.append((observations, out))
        return out

    monkeypatch.setattr(qrdqn, "random_shift", spy)
    model.train(gradient_steps=1, batch_size=8)
    (query_in, query_out), _, (key_in, key_out) = calls  # observations, next obs, keys
    assert torch.equal(key_in, query_in[:8])
    assert not torch.equal(key_out, query_out[:8])
    calls.clear()
    model.augment = False  # --augment off
    model.train(gradient_steps=1, batch_size=8)
    ((key_in, key_out),) = calls  # the key only: RL batch and next observations stay raw
    assert not torch.equal(key_out, key_in)


def test_sac_key_encoder_moves_with_the_target_critic():
    """CURL's key encoder is the target critic's encoder: it takes its EMA step only on
    target-update steps (every ``target_update_interval`` = 2 updates)."""
    model, _ = _filled_sac()
    assert model.target_update_interval == 2
    key = model.aux_heads["curl"].key_encoder
    for n_updates, moves in ((1, False), (2, True)):
        model._n_updates = n_updates
        before = [p.detach().clone() for p in key.parameters()]
        model.train(gradient_steps=1, batch_size=8)
        changed = any(not torch.equal(a, b) for a, b in zip(before, key.parameters(), strict=True))
        assert changed == moves, n_updates


def test_agent_settings_follow_curl_per_domain_and_device():
    """CURL trains cheetah at lr 2e-4 (others 1e-3) unless --learning-rate is given; the
    default device is CUDA when present, else the CPU."""
    from rlrep.config import TrainConfig, _overrides, build_model

    assert _overrides(TrainConfig(env="dmc-state:cheetah-run"))["learning_rate"] == 2e-4
    assert _overrides(TrainConfig(env="dmc-state:cheetah-run", learning_rate=5e-4))["learning_rate"] == 5e-4
    assert "learning_rate" not in _overrides(TrainConfig(env="dmc-state:cartpole-swingup"))
    assert "learning_rate" not in _overrides(TrainConfig(env="PongNoFrameskip-v4"))
    config = TrainConfig(env="dmc-state:cheetah-run", buffer_size=100, tensorboard=False)
    env = make_vec_env(config.env_spec, seed=0)
    model = build_model(config, env)
    assert model.learning_rate == 2e-4
    assert model.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    old = {k: v for k, v in config.to_dict().items() if k != "device"}  # a config.json from before
    assert TrainConfig.from_dict(old).device == "auto"


@pytest.mark.parametrize("env, given", [
    ("PongNoFrameskip-v4", {}),
    ("PongNoFrameskip-v4", dict(n_steps=3, learning_rate=5e-4, adam_eps=1e-4, curl_momentum=0.5)),
    ("dmc-state:cheetah-run", {}),
    ("dmc-state:cartpole-swingup", dict(batch_size=8, segment_threshold=2.5, action_repeat=2)),
    ("dmc:cartpole-swingup", {}),
])
def test_resolved_options_are_what_the_agent_is_built_with(env, given):
    """resolved_options (what --resume compares) gives each option the agent's value: the
    one given, else the default build_model and the agent classes apply."""
    from rlrep.config import TrainConfig, build_model, resolved_options

    config = TrainConfig(env=env, aux="rcrl,curl", tensorboard=False, device="cpu",
                         buffer_size=100, learning_starts=10, **given)
    values = resolved_options(config)
    env = make_vec_env(config.env_spec, seed=0)
    model = build_model(config, env)
    buffer = model.replay_buffer
    # the env's own repeat: the DMC wrapper's, or the Atari frame skip
    repeat = env.get_attr("_skip" if config.env_spec.is_atari else "action_repeat")[0]
    built = {"batch_size": model.batch_size, "buffer_size": model.buffer_size,
             "learning_starts": model.learning_starts, "learning_rate": model.learning_rate,
             "curl_momentum": model.aux_heads["curl"].momentum_tau, "action_repeat": repeat}
    if config.env_spec.is_atari:
        built.update(n_steps=buffer.n_steps, adam_eps=model.policy.optimizer.defaults["eps"],
                     segment_threshold=None)
    else:
        built.update(n_steps=None, adam_eps=None, segment_threshold=buffer.reward_threshold)
    assert values == built
    for name, value in given.items():
        assert values[name] == value


def test_atari_augmentation_and_adam_eps_options_reach_the_agent():
    """--augment on gives every arm CURL's RL-batch shift (a comparison with CURL arms under
    one augmentation); --adam-eps sets the optimiser's epsilon (default: the committed runs'
    1.5e-5); both are refused on DMC, where they would do nothing."""
    from rlrep.agents.qrdqn.qrdqn import DER_ADAM_EPS
    from rlrep.config import TrainConfig, build_model

    def agent(**kw):
        config = TrainConfig(env="PongNoFrameskip-v4", buffer_size=100, tensorboard=False,
                             device="cpu", **kw)
        return build_model(config, make_vec_env(config.env_spec, seed=0))

    default = agent()
    assert default.augment is False and agent(aux="curl").augment is True
    assert agent(augment="on").augment is True and agent(aux="curl", augment="off").augment is False
    assert default.policy.optimizer.defaults["eps"] == DER_ADAM_EPS == 1.5e-5
    assert agent(adam_eps=1.5e-4).policy.optimizer.defaults["eps"] == 1.5e-4
    for kw, message in ((dict(augment="on"), "--augment sets the Atari agent.*drop it for"),
                        (dict(adam_eps=1e-4), "--adam-eps sets the Atari agent"),
                        (dict(augment="off", adam_eps=1e-4),
                         "--augment and --adam-eps set the Atari agent.*drop them")):
        with pytest.raises(ValueError, match=message):
            TrainConfig(env="dmc-state:cartpole-swingup", **kw)
    with pytest.raises(ValueError, match="--adam-eps must be a finite number > 0"):
        TrainConfig(env="PongNoFrameskip-v4", adam_eps=0.0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(names=("RCRL",)), "names must be a subset"),
    (dict(names="rcrl"), "names must be a subset"),
    (dict(names=("rcrl",), rcrl_weight=-1.0), "rcrl_weight must be a finite number >= 0"),
    (dict(names=("curl",), curl_momentum=5.0), "curl_momentum must be in"),
    (dict(rcrl_embed_dim=0), "rcrl_embed_dim must be >= 1"),
])
def test_aux_config_rejects_what_would_train_silently_without_it(kwargs, message):
    """Built from Python (not the CLI): an unknown name used to build no head at all."""
    with pytest.raises(ValueError, match=message):
        AuxConfig(**kwargs)


def test_shift_keeps_non_square_shapes_and_crops_refuse_larger_sizes():
    x = torch.arange(2 * 8 * 12, dtype=torch.float).reshape(2, 1, 8, 12)
    assert random_shift(x).shape == (2, 1, 8, 12)
    assert random_shift(x, pad=0).equal(x)  # no padding: the only window is the image
    assert center_crop(x, (4, 6)).equal(x[..., 2:6, 3:9])
    for crop in (center_crop, random_crop):
        with pytest.raises(ValueError, match="cannot .*crop 8x12 images to 12x12"):
            crop(x, 12)


@pytest.mark.parametrize("rows, ids, message", [
    (2, 2, "even number >= 4"), (7, 7, "even number >= 4"), (8, 6, "must share their rows"),
])
def test_rcrl_pairs_refuse_rows_that_cannot_pair(rows, ids, message):
    head = RCRLHead(features_dim=5, action_dim=3)
    with pytest.raises(ValueError, match=message):
        head.loss(torch.randn(rows, 5), torch.randn(rows, 3), torch.zeros(ids, dtype=torch.long))


def test_curl_keys_must_pair_with_queries():
    head = CURLHead(nn.Identity(), 8, momentum_tau=0.1)
    with pytest.raises(ValueError, match="queries and keys must pair row for row"):
        head.loss(torch.randn(4, 8), torch.randn(3, 8))


def test_qrdqn_refuses_random_shifts_of_vector_observations():
    # it built, then failed at the first update inside F.pad
    import gymnasium as gym

    env = gym.make("CartPole-v1")
    for kwargs in ({"aux": AuxConfig(names=("curl",))}, {"augment": True}):
        with pytest.raises(ValueError, match=r"image observations \[C, H, W\]; these are \(4,\)"):
            AuxQRDQN("MlpPolicy", env, frame_stack=0, device="cpu", **kwargs)
    AuxQRDQN("MlpPolicy", env, aux=AuxConfig(names=("rcrl",)), frame_stack=0, device="cpu")  # fine


def test_rcrl_head_names_actions_of_the_wrong_width():
    head = RCRLHead(8, 3)
    assert head(torch.randn(5, 8), torch.randn(5, 3)).shape == (5, 64)
    with pytest.raises(ValueError, match=r"actions must be \[N, 3\] \(this head's action_dim"):
        head(torch.randn(5, 8), torch.randn(5, 4))
    with pytest.raises(ValueError, match=r"actions must be \[N, 3\].*with N = 5, got \(4, 3\)"):
        head(torch.randn(5, 8), torch.randn(4, 3))


def test_sac_refuses_a_policy_without_the_shared_encoder():
    # "MlpPolicy" built, then failed at the first update (no actor_from_features)
    import gymnasium as gym

    with pytest.raises(ValueError, match="must be EncoderSharingSACPolicy .* got SACPolicy"):
        AuxSAC("MlpPolicy", gym.make("Pendulum-v1"), device="cpu")


class _EpsilonLog(BaseCallback):
    """epsilon used for each step's action (set by the previous step's ``_on_step``)."""

    def __init__(self) -> None:
        super().__init__()
        self.eps: dict[int, float] = {}

    def _on_step(self) -> bool:
        self.eps[self.num_timesteps] = self.model.exploration_rate
        return True


def test_qrdqn_resume_with_raised_budget_keeps_the_exploration_schedule(tmp_path):
    """epsilon anneals over exploration_fraction of the *first* budget: a resume with a
    raised budget (rlrep's --resume --steps) neither re-stretches the schedule nor raises
    epsilon again (sb3's own schedule gave 0.33 at step 101 of a 100 -> 1500 resume)."""
    env = make_vec_env(parse_env_id("PongNoFrameskip-v4"), seed=0)
    model = AuxQRDQN(env=env, buffer_size=2000, learning_starts=10_000, seed=0)
    first = _EpsilonLog()
    model.learn(100, callback=first)
    assert model.exploration_budget == 100
    assert first.eps[6] == pytest.approx(1.0 - 0.99 * 5 / 10)  # sb3's schedule, unchanged
    assert first.eps[11] == pytest.approx(0.01) and first.eps[100] == pytest.approx(0.01)
    model.save(tmp_path / "m.zip")
    resumed = AuxQRDQN.load(tmp_path / "m.zip", env=env)
    assert resumed.exploration_budget == 100
    log = _EpsilonLog()
    resumed.learn(1400, callback=log, reset_num_timesteps=False)
    assert resumed.num_timesteps == 1500 and resumed._total_timesteps == 1500
    assert len(log.eps) == 1400 and all(e == pytest.approx(0.01) for e in log.eps.values())
    # a fresh count (reset_num_timesteps) starts a fresh schedule over its own budget
    fresh = _EpsilonLog()
    resumed.learn(20, callback=fresh)
    assert resumed.exploration_budget == 20 and fresh.eps[2] == pytest.approx(1.0 - 0.99 / 2)


def test_readme_table_of_agent_defaults_matches_resolved_options():
    """rlrep/README.md's table (which `rlrep train --help` points to) states what
    resolved_options gives each env family."""
    from pathlib import Path

    from rlrep.config import TrainConfig, resolved_options

    text = (Path(__file__).resolve().parents[2] / "rlrep" / "README.md").read_text()
    rows = [line.strip("|").split("|") for line in text.splitlines()
            if line.startswith("| `--")]
    assert len(rows) == 8
    envs = ["PongNoFrameskip-v4", "dmc:cartpole-swingup", "dmc-state:cartpole-swingup"]
    resolved = [resolved_options(TrainConfig(env=env)) for env in envs]
    for flag, *cells in rows:
        key = flag.strip().strip("`").removeprefix("--").replace("-", "_")
        for cell, values in zip(cells, resolved, strict=True):
            expected = values[key]
            assert cell.strip() == ("-" if expected is None else repr(expected)), (key, cell)
