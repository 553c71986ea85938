"""One update of each agent against a hand computation (the RL losses on the sampled batch,
the optimiser steps they drive, the target networks' moves), and both agents learning a
small task."""

import copy

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from rlrep.agents import AuxQRDQN, AuxSAC
from rlrep.agents.encoders import StateEncoder
from rlrep.envs import make_vec_env, parse_env_id


def _spy_on_samples(model, monkeypatch) -> dict:
    """Record the replay batch ``train()`` draws."""
    seen, real = {}, model._sample_replay

    def spy(batch_size):
        seen["data"] = real(batch_size)
        return seen["data"]

    monkeypatch.setattr(model, "_sample_replay", spy)
    return seen


def _quantile_huber(current: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """QR-DQN's loss (Dabney et al. 2018, eq. 10) for ``current [B, N]`` and ``target [B, N']``:
    for every pair, the Huber loss (kappa 1) of ``u = target_j - current_i`` weighted by
    ``|tau_i - 1{u < 0}|`` with ``tau_i = (2i + 1) / 2N``; summed over i, averaged over j and B."""
    b, n = current.shape
    tau = (torch.arange(n, dtype=current.dtype) + 0.5) / n
    total = current.new_zeros(())
    for row in range(b):
        for i in range(n):
            u = target[row] - current[row, i]
            huber = torch.where(u.abs() <= 1, 0.5 * u**2, u.abs() - 0.5)
            total = total + ((tau[i] - (u < 0).to(u.dtype)).abs() * huber).mean()
    return total / b


def test_qrdqn_update_by_hand(monkeypatch):
    """The quantile Huber loss on the quantiles of the actions taken, against the n-step
    target, then one clipped Adam step on it (the online net only; the target net stays)."""
    env = make_vec_env(parse_env_id("PongNoFrameskip-v4"), seed=0)
    model = AuxQRDQN(env=env, buffer_size=200, learning_starts=10_000, augment=False, seed=0)
    model.learn(60)  # fills the buffer; no update yet
    with torch.no_grad():  # the target net differs from the online one
        for p in model.quantile_net_target.parameters():
            p.add_(0.05 * torch.randn_like(p))
    online, target_net = copy.deepcopy(model.quantile_net), copy.deepcopy(model.quantile_net_target)
    seen = _spy_on_samples(model, monkeypatch)
    np.random.seed(0)
    model.train(gradient_steps=1, batch_size=8)
    data = seen["data"]
    assert len(data.actions.unique()) > 1  # the batch tells the taken action from action 0

    with torch.no_grad():
        z_next = target_net(data.next_observations)  # [B, N, A]
        greedy = z_next.mean(dim=1).argmax(dim=1)
        target = data.rewards + (1 - data.dones) * data.discounts * z_next[torch.arange(8), :, greedy]
    quantiles = online(data.observations)  # [B, N, A]
    taken = quantiles[torch.arange(8), :, data.actions.long().flatten()]  # [B, N]
    loss = _quantile_huber(taken, target)
    assert model.logger.name_to_value["train/loss"] == pytest.approx(loss.item(), rel=1e-5)

    # the step followed the gradient of that loss, clipped to max_grad_norm (the gradients
    # are compared: Adam's first step, about lr x sign(grad), would magnify rounding where a
    # gradient is near 0)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(online.parameters(), model.max_grad_norm)
    for (name, mine), theirs in zip(online.named_parameters(), model.quantile_net.parameters(), strict=True):
        torch.testing.assert_close(theirs.grad, mine.grad, rtol=1e-4, atol=1e-7)
        assert not torch.equal(theirs, mine), name  # and it was taken
    for mine, theirs in zip(target_net.parameters(), model.quantile_net_target.parameters(), strict=True):
        assert torch.equal(mine, theirs)


def _sac(**kwargs):
    env = make_vec_env(parse_env_id("dmc-state:cartpole-swingup"), seed=0)
    kwargs = dict(policy_kwargs=dict(features_extractor_class=StateEncoder, net_arch=[32, 32]), **kwargs)
    model = AuxSAC(env=env, buffer_size=200, learning_starts=10_000, seed=0, **kwargs)
    model.learn(60)
    return model


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_sac_update_by_hand(monkeypatch):
    """Critic: 0.5 x the summed per-head MSE to the soft target; actor: mean of
    alpha log pi - min Q on the batch's (pre-step) features, with the stepped Q heads;
    temperature: -log alpha x (log pi + target entropy); then the target Q heads move by tau and
    the target encoder by encoder_tau (two different rates)."""
    model = _sac()
    assert model.tau != model.encoder_tau
    with torch.no_grad():  # targets differ from the online nets, alpha from 1
        for p in model.critic_target.parameters():
            p.add_(0.05 * torch.randn_like(p))
        model.log_ent_coef.fill_(-0.7)
    params = copy.deepcopy(model.get_parameters())  # policy and optimiser states
    log_alpha0 = model.log_ent_coef.detach().clone()
    target0, actor0 = _state(model.critic_target), _state(model.actor)
    seen = _spy_on_samples(model, monkeypatch)
    model._n_updates = 0  # an update that steps the actor and the targets
    np.random.seed(0)
    torch.manual_seed(5)
    model.train(gradient_steps=1, batch_size=8)
    logs = dict(model.logger.name_to_value)
    critic1, target1, actor1 = _state(model.critic), _state(model.critic_target), _state(model.actor)
    critic_grads = {n: p.grad.clone() for n, p in model.critic.named_parameters()}
    actor_params = {id(p) for g in model.actor.optimizer.param_groups for p in g["params"]}
    actor_grads = {n: p.grad.clone() for n, p in model.actor.named_parameters()
                   if id(p) in actor_params}
    assert actor_grads and not any(n.startswith("features_extractor.") for n in actor_grads)
    log_alpha1 = model.log_ent_coef.detach().clone()
    assert not any(torch.equal(actor0[k], actor1[k]) for k in actor0 if k.startswith("mu."))

    # the same update by hand, from the restored model and the same draws
    model.set_parameters(params, exact_match=True)
    model.log_ent_coef.data.copy_(log_alpha0)
    data, policy = seen["data"], model.policy
    alpha = log_alpha0.exp()
    torch.manual_seed(5)
    with torch.no_grad():
        target = model._target_q(data.next_observations, data.rewards, data.dones, data.discounts, alpha)
    features = policy.encode(data.observations)
    # (the critic's own forward reads a shared encoder without gradient, as SB3 does)
    q1, q2 = [q(torch.cat([features, data.actions], dim=1)) for q in model.critic.q_networks]
    critic_loss = 0.5 * (((q1 - target) ** 2).mean() + ((q2 - target) ** 2).mean())
    assert logs["train/critic_loss"] == pytest.approx(critic_loss.item(), rel=1e-5)
    model.critic.optimizer.zero_grad()
    critic_loss.backward()
    model.critic.optimizer.step()

    actions_pi, log_prob = policy.actor_from_features(features.detach())
    min_q = torch.min(*[q(torch.cat([features.detach(), actions_pi], dim=1))
                        for q in model.critic.q_networks])
    actor_loss = (alpha * log_prob.reshape(-1, 1) - min_q).mean()
    assert logs["train/actor_loss"] == pytest.approx(actor_loss.item(), rel=1e-5)
    # the gradients train() left on the critic: the critic loss's, plus on the Q heads the
    # actor loss's (taken through the stepped heads; Adam's own steps are not redone: its
    # first step, about lr x sign(grad), would magnify rounding where a gradient is near 0)
    model.actor.optimizer.zero_grad()
    actor_loss.backward()
    for name, p in model.critic.named_parameters():
        torch.testing.assert_close(critic_grads[name], p.grad, rtol=1e-4, atol=1e-7)
    # ... and on the actor's own parameters (not the shared encoder) the actor loss's
    for name, p in model.actor.named_parameters():
        if name in actor_grads:
            torch.testing.assert_close(actor_grads[name], p.grad, rtol=1e-4, atol=1e-7)
    ent_loss = -(log_alpha0 * (log_prob.detach() + model.target_entropy)).mean()
    assert logs["train/ent_coef_loss"] == pytest.approx(ent_loss.item(), rel=1e-5)
    # Adam's first step moves log alpha by lr against the sign of its gradient
    lr = model.ent_coef_optimizer.param_groups[0]["lr"]
    grad = -(log_prob.detach() + model.target_entropy).mean()
    torch.testing.assert_close(log_alpha1, log_alpha0 - lr * torch.sign(grad), rtol=0, atol=1e-6)

    for k in target0:
        rate = model.encoder_tau if k.startswith("features_extractor.") else model.tau
        if not target0[k].is_floating_point():
            continue
        torch.testing.assert_close(target1[k], (1 - rate) * target0[k] + rate * critic1[k],
                                   rtol=1e-5, atol=1e-7, msg=k)


def test_sac_steps_actor_and_targets_every_second_update():
    model = _sac()
    actor0, target0 = _state(model.actor), _state(model.critic_target)
    model._n_updates = 1  # odd: critic only
    model.train(gradient_steps=1, batch_size=8)
    assert all(torch.equal(actor0[k], v) for k, v in _state(model.actor).items() if k.startswith("mu."))
    assert all(torch.equal(target0[k], v) for k, v in _state(model.critic_target).items())
    model.train(gradient_steps=1, batch_size=8)  # now even
    assert not all(torch.equal(target0[k], v) for k, v in _state(model.critic_target).items())


# -- learning: a task each agent should solve in a few hundred updates ------------------------
class _MatchTheCue(gym.Env):
    """One-step episodes: the observation is a one-hot cue of ``n`` (discrete: reward 1 for
    the cued action, else 0) or a cue in [-1, 1] (continuous: reward 1 - (action - cue)^2)."""

    def __init__(self, continuous: bool, n: int = 3):
        self.continuous, self.n = continuous, n
        if continuous:
            self.observation_space = gym.spaces.Box(-1, 1, (1,), np.float32)
            self.action_space = gym.spaces.Box(-1, 1, (1,), np.float32)
        else:
            self.observation_space = gym.spaces.Box(0, 1, (n,), np.float32)
            self.action_space = gym.spaces.Discrete(n)

    def _cue(self):
        if self.continuous:
            self.target = float(self.np_random.uniform(-0.8, 0.8))
            return np.array([self.target], np.float32)
        self.target = int(self.np_random.integers(self.n))
        return np.eye(self.n, dtype=np.float32)[self.target]

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._cue(), {}

    def step(self, action):
        if self.continuous:
            reward = 1.0 - float(np.asarray(action).reshape(-1)[0] - self.target) ** 2
        else:
            reward = float(int(action) == self.target)
        return self._cue(), reward, True, False, {}


def _mean_reward(model, env: gym.Env, episodes: int = 200) -> float:
    total = 0.0
    obs, _ = env.reset(seed=123)
    for _ in range(episodes):
        action, _ = model.predict(obs, deterministic=True)
        obs, reward, *_ = env.step(action)
        total += reward
    return total / episodes


def test_qrdqn_learns_to_match_the_cue():
    """Random or untrained play scores about 1/3; after 1000 steps the greedy policy picks
    the cued action."""
    env = DummyVecEnv([lambda: _MatchTheCue(continuous=False)])
    model = AuxQRDQN("MlpPolicy", env, augment=False, frame_stack=0, n_steps=1, buffer_size=2000,
                     learning_starts=200, learning_rate=1e-3, target_update_interval=100,
                     exploration_fraction=0.3, batch_size=32, seed=0,
                     policy_kwargs=dict(net_arch=[32], n_quantiles=25))
    model.learn(1000)
    assert _mean_reward(model, _MatchTheCue(continuous=False)) >= 0.95


def test_sac_learns_to_match_the_cue():
    """An untrained policy (mean action about 0) scores about 1 - E[cue^2] = 0.79; after 1000
    steps the mean action lies within about 0.1 of the cue."""
    env = DummyVecEnv([lambda: _MatchTheCue(continuous=True)])
    model = AuxSAC(env=env, buffer_size=2000, learning_starts=200, batch_size=64, seed=0,
                   policy_kwargs=dict(features_extractor_class=StateEncoder, net_arch=[32, 32]))
    model.learn(1000)
    assert _mean_reward(model, _MatchTheCue(continuous=True)) >= 0.99


@pytest.mark.parametrize("agent", ["qrdqn", "sac"])
def test_extra_partners_pair_the_whole_rl_batch(agent, monkeypatch):
    """``rcrl_partners="extra"``: every RL row is an anchor and its partner comes on top
    (2B rows sampled); the RL loss reads the first B, RCRL all 2B with row i paired to row
    B + i."""
    from rlrep.auxiliary import AuxConfig, RCRLHead

    aux = AuxConfig(names=("rcrl",), rcrl_partners="extra", rcrl_hidden_dim=16, rcrl_embed_dim=8)
    if agent == "qrdqn":
        env = make_vec_env(parse_env_id("PongNoFrameskip-v4"), seed=0)
        model = AuxQRDQN(env=env, aux=aux, buffer_size=200, learning_starts=10_000, seed=0)
        model.learn(60)
    else:
        model = _sac(aux=aux)
    seen = _spy_on_samples(model, monkeypatch)
    real_loss = RCRLHead.loss

    def spy_loss(self, features, actions, segment_ids):
        seen["rcrl_rows"] = (len(features), len(actions), len(segment_ids))
        return real_loss(self, features, actions, segment_ids)

    monkeypatch.setattr(RCRLHead, "loss", spy_loss)
    rl_rows = []  # the batch size of every RL loss term: the first B rows only
    if agent == "qrdqn":
        import rlrep.agents.qrdqn.qrdqn as qrdqn_module

        real_huber = qrdqn_module.quantile_huber_loss

        def spy_huber(current, target, **kwargs):
            rl_rows.extend([len(current), len(target)])
            return real_huber(current, target, **kwargs)

        monkeypatch.setattr(qrdqn_module, "quantile_huber_loss", spy_huber)
    else:
        real_actor, real_q = model._update_actor_and_temperature, model.policy.q_values

        def spy_actor(features, ent_coef):
            rl_rows.append(len(features))
            return real_actor(features, ent_coef)

        def spy_q(features, actions):
            rl_rows.extend([len(features), len(actions)])
            return real_q(features, actions)

        monkeypatch.setattr(model, "_update_actor_and_temperature", spy_actor)
        monkeypatch.setattr(model.policy, "q_values", spy_q)
    model.train(gradient_steps=1, batch_size=7)  # odd is fine: the RL batch is not split
    ids = seen["data"].segment_ids.flatten()
    assert len(ids) == 14 and torch.equal(ids[:7], ids[7:])
    assert seen["rcrl_rows"] == (14, 14, 14)
    assert rl_rows and set(rl_rows) == {7}
