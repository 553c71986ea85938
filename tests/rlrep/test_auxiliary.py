"""Auxiliary heads: the losses fall on a fixed batch; SB3 save/load keeps the heads."""

import numpy as np
import torch
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
        curl.update_key_encoder(encoder)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])


def test_augmentations_shapes():
    x = torch.arange(2 * 3 * 10 * 10, dtype=torch.float32).view(2, 3, 10, 10)
    assert random_crop(x, 8).shape == (2, 3, 8, 8)
    assert random_shift(x, 2).shape == x.shape
    assert torch.equal(center_crop(x, 8), x[..., 1:9, 1:9])
    crop = random_crop(x, 8)[0, 0]
    top, left = int(crop[0, 0] // 10), int(crop[0, 0] % 10)
    assert torch.equal(crop, x[0, 0, top : top + 8, left : left + 8])


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
