"""The R-STDP policy's entropy term (``RuleConfig.entropy_rate``): the weight change of one env step against a
hand computation, and its direction (towards a more even policy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from gymnasium import spaces

from agents import RSTDP
from agents.policy import RuleConfig, SpikingPolicy, SpikingPolicyConfig


def policy(entropy_rate: float) -> SpikingPolicy:
    config = SpikingPolicyConfig(population_size=2, steps_per_action=2, input_spikes_per_step=2.0)
    p = SpikingPolicy(spaces.Box(0.0, 1.0, (3,)), spaces.Discrete(2), config,
                      RuleConfig(learning_rate=0.5, entropy_rate=entropy_rate), seed=0)
    assert p.calibrate(torch.full((1, 3), 0.5))
    p.network.connections[p.plastic].set_weights(torch.full((3, 4), 1.0))
    return p


def test_one_step_moves_the_weights_by_the_hand_computed_entropy_gradient():
    """Source spikes over the step: env 0 fires input 0 twice and input 2 once, env 1 fires input 1 once.
    Policies pi = (0.8, 0.2) and (0.5, 0.5). With H = -sum pi ln pi, g_k = -pi_k (ln pi_k + H):
    env 0: H = 0.5004, g = (-0.8 (ln 0.8 + H), -0.2 (ln 0.2 + H)) = (-0.2218, +0.2218); env 1: g = 0 (uniform:
    already at the maximum). dw_ik = rate * s * mean_b n_i(b) g_k(b), each action's column for both neurons of
    its population."""
    rate = 0.1
    p = policy(rate)
    s = p.network.rules[p.plastic].lr / 0.5
    assert s == pytest.approx(float(p.weight_scale))
    before = p.network.connections[p.plastic].w.clone()
    train = torch.zeros(2, 2, 3)
    train[0, 0, 0] = train[1, 0, 0] = train[1, 0, 2] = train[0, 1, 1] = 1.0
    pi = torch.tensor([[0.8, 0.2], [0.5, 0.5]])
    p.raise_entropy(train, pi)
    H0 = -(0.8 * math.log(0.8) + 0.2 * math.log(0.2))
    g0 = [-0.8 * (math.log(0.8) + H0), -0.2 * (math.log(0.2) + H0)]
    assert g0[0] == pytest.approx(-g0[1])  # the entropy gradient of a softmax sums to 0 over the actions
    counts0 = [2.0, 0.0, 1.0]
    expected = torch.tensor([[rate * s * counts0[i] * g0[k] / 2 for k in (0, 0, 1, 1)] for i in range(3)])
    torch.testing.assert_close(p.network.connections[p.plastic].w - before, expected, rtol=1e-5, atol=1e-7)


def test_the_term_makes_the_favoured_action_less_likely():
    """Weights that favour action 0 for a fixed input: repeated entropy steps lower action 0's weights and raise
    action 1's until the two are about even (within a step); without the term (rate 0) nothing changes."""
    for rate, moves in ((0.5, True), (0.0, False)):
        p = policy(rate)
        conn = p.network.connections[p.plastic]
        conn.set_weights(torch.tensor([[2.0, 2.0, 0.5, 0.5]] * 3))
        assert float(conn.w[0, 0] - conn.w[0, 2]) == 1.5
        train = torch.ones(2, 1, 3)
        for _ in range(20):
            w = conn.w
            scores = torch.stack([w[:, :2].sum(), w[:, 2:].sum()]).unsqueeze(0)
            pi = torch.softmax(scores / 4.0, dim=1)
            p.learn_from_step(train, torch.tensor([0]), pi, p.network.initial_state(1))
        gap = float(conn.w[0, 0] - conn.w[0, 2])
        assert abs(gap) < 0.05 if moves else gap == 1.5


def test_the_agent_takes_and_saves_the_rate(tmp_path):
    import envs  # noqa: F401  (registers the spikerl envs)

    agent = RSTDP("SpikingPolicy", "spikerl/PatternAction-v0", entropy_rate=0.02, seed=0)
    assert agent.policy.rule_config.entropy_rate == 0.02 and agent.hyperparameters()["entropy_rate"] == 0.02
    agent.save(tmp_path / "a.pt")
    assert RSTDP.load(tmp_path / "a.pt").policy.rule_config.entropy_rate == 0.02
    with pytest.raises(ValueError, match="entropy_rate"):
        RSTDP("SpikingPolicy", "spikerl/PatternAction-v0", entropy_rate=-1.0)
    assert np.isfinite(agent.policy.rule_config.entropy_rate)
