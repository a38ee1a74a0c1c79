"""The TD error: the formula by hand, and the agent delivers exactly that error for every step (continuing,
terminated and truncated), computed from the values its critic reported."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.wrappers import TimeLimit
from stable_baselines3.common.vec_env import DummyVecEnv

from agents import RSTDPActorCritic, td_error

GAMMA = 0.8


def test_td_error_matches_the_formula_by_hand():
    """delta = r + gamma V' (1 - terminated) - V: continuing 1 + 0.9 * 0.4 - 0.5 = 0.86, terminated 0 - 0.2 =
    -0.2 (V' ignored), truncated (not terminated: bootstraps) -1 + 0.9 * 0.6 - 0.3 = -0.76."""
    delta = td_error(torch.tensor([1.0, 0.0, -1.0]), torch.tensor([0.5, 0.2, 0.3]), torch.tensor([0.4, 0.8, 0.6]),
                     torch.tensor([False, True, False]), gamma=0.9)
    torch.testing.assert_close(delta, torch.tensor([0.86, -0.2, -0.76]))
    assert td_error(torch.tensor([2.0]), torch.tensor([1.0]), torch.tensor([5.0]), torch.tensor([False]),
                    gamma=0.0).item() == 1.0  # gamma = 0: the reward prediction error r - V
    for gamma in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="gamma must be in"):
            td_error(torch.zeros(1), torch.zeros(1), torch.zeros(1), torch.zeros(1, dtype=torch.bool), gamma)


class ScriptedRewards(gym.Env):
    """Shows a random 4 x 4 frame each step and pays ``rewards[t]`` at step ``t``; terminates after the last one
    (unless a time limit truncates the episode first)."""

    def __init__(self, rewards: list[float]) -> None:
        self.rewards = rewards
        self.observation_space = spaces.Box(0, 255, (1, 4, 4), np.uint8)
        self.action_space = spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return self._frame(), {}

    def _frame(self) -> np.ndarray:
        return self.np_random.integers(0, 256, (1, 4, 4), dtype=np.uint8)

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        reward = self.rewards[self.t]
        self.t += 1
        return self._frame(), reward, self.t == len(self.rewards), False, {}


def record_td(agent: RSTDPActorCritic) -> dict[str, list]:
    """Spy on the agent: the values its critic reports per step, the values of final observations it asks for,
    and the TD errors it delivers (only the delivered rows)."""
    seen: dict[str, list] = {"values": [], "final": [], "delta": []}
    policy, deliver = agent.policy, agent._deliver
    act, values = policy.act, policy.values

    def spy_act(*args, **kwargs):
        out = act(*args, **kwargs)
        seen["values"].append(out[1]["value"].clone())
        return out

    def spy_values(*args, **kwargs):
        out = values(*args, **kwargs)
        seen["final"].append(out.clone())
        return out

    def spy_deliver(delta, rows, state):
        seen["delta"].append(delta[rows].clone())
        return deliver(delta, rows, state)

    policy.act, policy.values, agent._deliver = spy_act, spy_values, spy_deliver
    return seen


@pytest.mark.parametrize("limit", [None, 3])
def test_agent_delivers_the_td_error_of_every_step(limit):
    """Rewards 0.5, -0.25, 1, two episodes on one env. Without a time limit the episode terminates after the
    3rd reward: delta_t = r_t + gamma V_t+1 - V_t inside the episode, r_t - V_t at its terminal step. With a
    4-step script and a time limit of 3 the 3rd step is truncated instead: delta = r + gamma V(s_final) - V,
    with V(s_final) the value the critic gave the final observation."""
    rewards = [0.5, -0.25, 1.0] if limit is None else [0.5, -0.25, 1.0, 0.0]
    env = ScriptedRewards(rewards)
    vec = DummyVecEnv([lambda: TimeLimit(env, limit) if limit else env])
    vec.seed(0)
    agent = RSTDPActorCritic(env=vec, seed=0, gamma=GAMMA)
    seen = record_td(agent)
    agent.learn(6)  # 2 episodes of 3 steps
    values = torch.cat(seen["values"])  # V(s_0), V(s_1), V(s_2), V(s'_0), V(s'_1), V(s'_2)
    assert len(values) == 6
    r = torch.tensor([0.5, -0.25, 1.0])
    if limit is None:
        final = torch.zeros(2)
        assert seen["final"] == []  # terminal states are never valued
    else:
        final = torch.cat(seen["final"])
        assert len(final) == 2  # one run on the final observation of each truncated episode
    expected = []
    for episode in range(2):
        v = values[3 * episode: 3 * episode + 3]
        expected += [r[0] + GAMMA * v[1] - v[0], r[1] + GAMMA * v[2] - v[1], r[2] + GAMMA * final[episode] - v[2]]
    # one delivery per step, in step order (a continuing step's with the next step's values)
    torch.testing.assert_close(torch.cat(seen["delta"]), torch.stack(expected))
    assert agent._pending is not None and not bool(agent._pending[2].any())  # the last step ended: nothing waits


def test_every_delivery_moves_the_weights_by_lr_delta_eligibility():
    """The delivered delta is the factor of both MSTDPET rules: the weight change of a delivery equals
    ``lr * delta * e`` on the actor (per population) and on the critic (within the weight bounds)."""
    vec = DummyVecEnv([lambda: ScriptedRewards([1.0, 0.0, 0.0, 0.0, 0.0, 0.0])])
    vec.seed(1)
    agent = RSTDPActorCritic(env=vec, seed=1)
    agent.learn(2)  # calibrated, with eligibility
    policy, net = agent.policy, agent.policy.network
    state = policy.train_state
    before = {key: net.connections[key].w.clone() for key in (policy.plastic, policy.critic)}
    delta = torch.tensor([0.3])
    agent._deliver(delta, torch.tensor([True]), state)
    critic_rule = net.rules[policy.critic]
    e_critic = state.rules[policy.critic].eligibility[0]
    expected = (before[policy.critic] + critic_rule.lr * 0.3 * e_critic).clamp(0, net.connections[policy.critic].wmax)
    torch.testing.assert_close(net.connections[policy.critic].w, expected)
    e_actor = state.rules[policy.plastic].eligibility[0].repeat_interleave(policy.config.population_size, dim=-1)
    expected = (before[policy.plastic] + net.rules[policy.plastic].lr * 0.3 * e_actor).clamp(
        0, net.connections[policy.plastic].wmax)
    torch.testing.assert_close(net.connections[policy.plastic].w, expected)
    assert e_critic.abs().sum() > 0 and e_actor.abs().sum() > 0
