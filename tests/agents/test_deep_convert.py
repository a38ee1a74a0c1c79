"""ANN-to-SNN conversion (:mod:`agents.deep.convert`): rates against ReLU activations, output against the
source network, SB3 PPO/DQN (MLP and NatureCNN) agreement, and clear errors for what it cannot convert."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from torch import nn

from agents import convert, rollout_observations
from envs.toy import CatchEnv

W1 = torch.tensor([[1.0, 0.5, 0.0, 0.0], [0.0, 0.0, 1.0, 0.5], [-1.0, -1.0, 0.0, 0.0]])
B1 = torch.tensor([0.1, 0.0, -0.5])          # neuron 3: -x0 - x1 - 0.5 < 0 for x >= 0, never active
W2 = torch.tensor([[0.5, 0.5, 1.0], [1.0, 0.25, 0.0]])   # non-negative: layer-2 membranes never go negative
B2 = torch.tensor([0.05, 0.1])
W3 = torch.tensor([[1.0, -1.0], [-1.0, 2.0]])
B3 = torch.tensor([0.2, 0.0])


def hand_built_dqn() -> DQN:
    """A DQN on CartPole's spaces whose Q-network is ``4 -> 3 -> 2 -> 2`` with the weights above, on the CPU (where
    the hand computations run, also on a machine with CUDA)."""
    model = DQN("MlpPolicy", "CartPole-v1", policy_kwargs=dict(net_arch=[3, 2]), learning_starts=0, seed=0,
                device="cpu")
    linears = [m for m in model.q_net.q_net if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for linear, (w, b) in zip(linears, ((W1, B1), (W2, B2), (W3, B3))):
            linear.weight.copy_(w)
            linear.bias.copy_(b)
    return model


def hand_activations(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """ReLU activations ``a1, a2`` and output ``q`` of the hand-built network."""
    a1 = torch.relu(x @ W1.T + B1)
    a2 = torch.relu(a1 @ W2.T + B2)
    return a1, a2, a2 @ W3.T + B3


def observations(n: int = 64) -> np.ndarray:
    return np.random.default_rng(0).uniform(0.0, 1.0, size=(n, 4)).astype(np.float32)


def test_rates_approach_normalised_relu_activations() -> None:
    """With percentile 100 (lambda = max activation, no saturation) the IF rates r = n_T / T approach a / lambda.

    Layer 1 has a constant input z = a1 / lambda1 in [0, 1]: from rest n_T = floor(T z), so |r1 - z| < 1/T.
    Layer 2's drive is I_t = W2' s1_t + b2' >= 0 with W2' = W2 lambda1 / lambda2 >= 0, so v never goes negative,
    n_T = sum_t I_t - v_T and |r2 - z2| <= sum_j W2'_ij |r1_j - z1_j| + v_T / T. The stated bound takes
    v_T < 1 + max_t I_t: |r2 - z2| <= C2 / T with C2 = max_i sum_j W2'_ij + 1 + max_i (sum_j W2'_ij + b2'_i)."""
    obs = observations()
    snn = convert(hand_built_dqn(), obs, time_steps=8, percentile=100.0)
    a1, a2, _ = hand_activations(torch.as_tensor(obs))
    lam1, lam2 = a1.max().item(), a2.max().item()
    assert snn.scales == pytest.approx([lam1, lam2])
    w2 = W2 * lam1 / lam2
    c2 = w2.sum(1).max().item() + 1.0 + (w2.sum(1) + B2 / lam2).max().item()
    errors = []
    for steps in (8, 32, 256):
        snn.time_steps = steps
        _, (s1, s2) = snn.simulate(torch.as_tensor(obs))
        err1 = (s1.mean(0) - a1 / lam1).abs().max().item()
        err2 = (s2.mean(0) - a2 / lam2).abs().max().item()
        assert err1 < 1.0 / steps + 1e-5
        assert err2 <= c2 / steps + 1e-5
        assert s1[:, :, 2].sum() == 0                     # the never-active ReLU never spikes
        errors.append(err2)
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.05


def test_output_membrane_approaches_ann_output() -> None:
    """u_T / T -> q (the output layer is scaled by lambda_2 and not thresholded, so on the ANN's own scale):
    |u_T/T - q| <= sum_j |W3_ij| lambda_2 |r2_j - a2_j / lambda_2| <= sum_j |W3_ij| lambda_2 C2 / T; argmax
    agrees on most observations at T = 256."""
    obs = observations(256)
    model = hand_built_dqn()
    snn = convert(model, obs, time_steps=256, percentile=100.0)
    assert torch.equal(model.q_net.q_net[0].weight, W1)              # the source network is left as it was
    a1, a2, q = hand_activations(torch.as_tensor(obs))
    lam1, lam2 = snn.scales
    w2 = W2 * lam1 / lam2
    c2 = w2.sum(1).max().item() + 1.0 + (w2.sum(1) + B2 / lam2).max().item()
    errors = []
    for steps in (8, 256):
        snn.time_steps = steps
        out = snn(torch.as_tensor(obs))
        errors.append((out - q).abs().max().item())
        assert errors[-1] <= W3.abs().sum(1).max().item() * lam2 * c2 / steps + 1e-4
    assert errors[1] < errors[0]
    actions, state = snn.predict(obs)
    assert state is None and actions.shape == (256,)
    assert np.mean(actions == q.argmax(1).numpy()) >= 0.9
    assert np.mean(actions == model.predict(obs, deterministic=True)[0]) >= 0.9


def train_cartpole_ppo(steps: int) -> PPO:
    """PPO with ReLU on CartPole-v1, rl-zoo3's hyperparameters, seed 0."""
    env = make_vec_env("CartPole-v1", n_envs=8, seed=0)
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
                ent_coef=0.0, learning_rate=1e-3, clip_range=0.2, policy_kwargs=dict(activation_fn=nn.ReLU),
                seed=0)
    return model.learn(steps)


def test_cartpole_ppo_converted_agrees_with_ann() -> None:
    """A briefly trained ReLU PPO: the converted SNN (T = 64, percentile 99.9) takes the ANN's action on >= 95 %
    of rollout observations, and runs through evaluate_policy (single and vectorised observations)."""
    model = train_cartpole_ppo(4096)
    obs = rollout_observations(model, make_vec_env("CartPole-v1", n_envs=8, seed=100), 64)
    assert obs.shape == (512, 4)
    snn = convert(model, obs, time_steps=64)
    held_out = rollout_observations(model, make_vec_env("CartPole-v1", n_envs=8, seed=200), 32)
    assert np.mean(snn.predict(held_out)[0] == model.predict(held_out, deterministic=True)[0]) >= 0.95
    single, _ = snn.predict(held_out[0])
    assert single.shape == () and single == snn.predict(held_out[:1])[0][0]
    rewards, lengths = evaluate_policy(snn, make_vec_env("CartPole-v1", n_envs=2, seed=300), n_eval_episodes=2,
                                       return_episode_rewards=True)
    assert len(rewards) == 2 and all(r > 0 for r in rewards)


@pytest.mark.slow
def test_cartpole_ppo_converted_scores_like_ann() -> None:
    """50k steps of ReLU PPO reach the CartPole-v1 cap; the converted SNN (T = 64, percentile 100: see
    :func:`agents.deep.convert.convert`) scores within 10 % of the ANN on the same 10 episodes (same seeds)."""
    model = train_cartpole_ppo(50_000)
    obs = rollout_observations(model, make_vec_env("CartPole-v1", n_envs=8, seed=100), 250)
    snn = convert(model, obs, time_steps=64, percentile=100.0)
    ann_score, _ = evaluate_policy(model, make_vec_env("CartPole-v1", n_envs=10, seed=400), n_eval_episodes=10)
    snn_score, _ = evaluate_policy(snn, make_vec_env("CartPole-v1", n_envs=10, seed=400), n_eval_episodes=10)
    assert ann_score >= 475
    assert snn_score >= 0.9 * ann_score


def test_nature_cnn_conversion_agrees_with_ann() -> None:
    """A randomly initialised SB3 PPO CnnPolicy (NatureCNN, ReLU) on 36 x 36 Catch frames: the input is scaled
    by 1/255 as SB3 does, the IF layers have the CNN's shapes, and the greedy actions (the ANN uses all three)
    agree with the ANN's on >= 90 % of frames at T = 128, more than at T = 16."""
    model = PPO("CnnPolicy", CatchEnv(rows=36, columns=36), n_steps=64, seed=0)
    frames = rollout_observations(model, model.get_env(), 64, seed=0)
    assert frames.shape == (64, 1, 36, 36) and frames.dtype == np.uint8 and frames.max() == 255
    ann_actions, _ = model.predict(frames, deterministic=True)
    assert len(np.unique(ann_actions)) == 3
    agreement = []
    for steps in (16, 128):
        snn = convert(model, frames, time_steps=steps)
        assert snn.preprocess(frames)[0].max().item() == 1.0
        assert [layer.shape for layer in snn.neurons] == [(32, 8, 8), (64, 3, 3), (64, 1, 1), (512,)]
        agreement.append(np.mean(snn.predict(frames)[0] == ann_actions))
    assert agreement[1] >= 0.9 and agreement[1] > agreement[0]


def test_tanh_policy_is_refused_with_the_layer_named() -> None:
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=64, seed=0)          # SB3's default activation: Tanh
    with pytest.raises(ValueError, match=r"policy\.mlp_extractor\.policy_net\.1 \(Tanh\).*activation_fn"):
        convert(model, observations())
    a2c = A2C("MlpPolicy", "CartPole-v1", seed=0)
    with pytest.raises(ValueError, match="Tanh"):
        convert(a2c, observations())


def test_unsupported_layer_action_space_and_arguments_are_refused() -> None:
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=64, policy_kwargs=dict(activation_fn=nn.LeakyReLU), seed=0)
    with pytest.raises(ValueError, match=r"policy_net\.1 \(LeakyReLU\): expected Linear, Conv2d, ReLU or Flatten"):
        convert(model, observations())
    continuous = PPO("MlpPolicy", "Pendulum-v1", n_steps=64, policy_kwargs=dict(activation_fn=nn.ReLU), seed=0)
    with pytest.raises(ValueError, match="Discrete action spaces"):
        convert(continuous, np.zeros((4, 3), dtype=np.float32))
    relu = PPO("MlpPolicy", "CartPole-v1", n_steps=64, policy_kwargs=dict(activation_fn=nn.ReLU), seed=0)
    with pytest.raises(ValueError, match="time_steps must be a positive int"):
        convert(relu, observations(), time_steps=0)
    with pytest.raises(ValueError, match=r"percentile must lie in \(0, 100\]"):
        convert(relu, observations(), percentile=0.0)


def test_channel_last_frames_are_transposed_like_sb3() -> None:
    """``make_atari_env`` + ``VecFrameStack`` give channel-last frames ``[B, H, W, C]`` while the policy's space
    is channel-first (SB3 transposes in ``predict``): the converted policy preprocesses both alike, so it acts on
    such an env and calibrates on its observations."""
    model = PPO("CnnPolicy", CatchEnv(rows=36, columns=36), n_steps=64, seed=0)
    frames = rollout_observations(model, model.get_env(), 16, seed=0)
    snn = convert(model, frames, time_steps=8)
    channel_last = frames.transpose(0, 2, 3, 1)
    assert torch.equal(snn.preprocess(channel_last)[0], snn.preprocess(frames)[0])
    assert np.array_equal(snn.predict(channel_last)[0], snn.predict(frames)[0])
    assert torch.equal(convert(model, channel_last, time_steps=8).synapses[1].weight, snn.synapses[1].weight)
