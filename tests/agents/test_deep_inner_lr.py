"""``inner_lr_scale``: the spiking actor-critic policies' inner synaptic layers learn at a scaled rate."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents import SpikingA2C, SpikingMlp, SpikingNatureCNN, SpikingPPO
from agents.deep.extractors import SpikingFeaturesExtractor


def cartpole_ppo(**policy_kwargs) -> SpikingPPO:
    return SpikingPPO("SpikingMlpPolicy", gym.make("CartPole-v1"), n_steps=32, batch_size=32, n_epochs=1,
                      learning_rate=1e-3, seed=0, policy_kwargs=policy_kwargs)


def test_the_inner_layers_are_all_synaptic_layers_but_the_last():
    cnn = SpikingNatureCNN(gym.spaces.Box(0, 255, (4, 84, 84), np.uint8), features_dim=32, time_steps=2)
    assert cnn.inner_layers() == [cnn.conv1, cnn.norm1, cnn.conv2, cnn.norm2, cnn.conv3, cnn.norm3]
    mlp = SpikingMlp(gym.spaces.Box(-1, 1, (4,)), hidden=(16, 8, 8), normalization="layer")
    assert mlp.inner_layers() == [mlp.linears[0], mlp.linears[1], mlp.norms[0], mlp.norms[1]]


def test_an_extractor_that_does_not_list_its_inner_layers_says_so():
    class NoInnerLayers(SpikingMlp):
        inner_layers = SpikingFeaturesExtractor.inner_layers  # the base class hook, not SpikingMlp's

    with pytest.raises(NotImplementedError, match="NoInnerLayers must define inner_layers"):
        NoInnerLayers(gym.spaces.Box(-1, 1, (4,))).inner_layers()


def test_one_adam_step_moves_inner_weights_by_the_scaled_rate_and_others_by_the_rate():
    """Adam's first step on a gradient g is ``lr * g / (|g| + eps)`` (bias corrections cancel), i.e. ``lr`` for
    ``g = 1`` up to SB3's ``eps`` of 1e-5: the inner layers (the first linear layer of each of the two MLP
    extractors) move by ``0.25 lr``, the last layers and the heads by ``lr``; the group's rate stays ``lr``."""
    policy = cartpole_ppo(inner_lr_scale=0.25).policy
    inner = {id(p) for extractor in (policy.pi_features_extractor, policy.vf_features_extractor)
             for p in extractor.linears[0].parameters()}
    before = {name: p.detach().clone() for name, p in policy.named_parameters()}
    for p in policy.parameters():
        p.grad = torch.ones_like(p)
    policy.optimizer.step()
    moved = {id(p): (before[name] - p.detach()) for name, p in policy.named_parameters()}
    step = 1e-3 / (1 + 1e-5)
    assert len(inner) == 4
    for key, delta in moved.items():
        expected = 0.25 * step if key in inner else step
        torch.testing.assert_close(delta, torch.full_like(delta, expected), rtol=1e-4, atol=0)
    assert [(g["lr"], g["lr_scale"]) for g in policy.optimizer.param_groups] == [(1e-3, 0.25), (1e-3, 1.0)]
    assert all("unscaled_lr" not in g for g in policy.optimizer.param_groups)


def test_the_default_keeps_sb3s_single_parameter_group():
    policy = cartpole_ppo().policy
    assert policy.inner_lr_scale == 1.0
    assert len(policy.optimizer.param_groups) == 1
    assert len(policy.optimizer.param_groups[0]["params"]) == len(list(policy.parameters()))


def test_the_scale_survives_training_and_a_safe_save_and_load(tmp_path):
    """After ``learn`` (SB3's schedule sets the rate of every group before each update) and a save/load, the
    groups still hold the scale and one learning rate; the loaded model trains on."""
    model = SpikingA2C("SpikingMlpPolicy", gym.make("CartPole-v1"), n_steps=8, seed=0,
                       policy_kwargs={"inner_lr_scale": 0.1})
    model.learn(32)
    model.save(tmp_path / "a2c.zip")
    loaded = SpikingA2C.load(tmp_path / "a2c.zip", env=gym.make("CartPole-v1"))
    assert loaded.policy.inner_lr_scale == 0.1
    groups = loaded.policy.optimizer.param_groups
    assert [g["lr_scale"] for g in groups] == [0.1, 1.0]
    assert groups[0]["lr"] == groups[1]["lr"] == model.policy.optimizer.param_groups[0]["lr"]
    loaded.learn(16, reset_num_timesteps=False)
    assert loaded.num_timesteps == 48


@pytest.mark.parametrize("scale, error", [(0.0, ValueError), (-0.5, ValueError), (math.nan, ValueError),
                                          (math.inf, ValueError), ("0.1", TypeError), (True, TypeError)])
def test_a_scale_that_is_not_a_positive_finite_number_is_refused(scale, error):
    with pytest.raises(error, match="inner_lr_scale"):
        cartpole_ppo(inner_lr_scale=scale)
