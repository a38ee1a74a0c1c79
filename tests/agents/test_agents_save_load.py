"""Checkpoints: save -> load gives the same actions, loads without an env and with weights_only, and learning
continues from where it stopped."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import envs
from agents import RSTDP

PATTERN = "spikerl/PatternAction-v0"


def observation_sequence(n: int, batch: int, seed: int = 5) -> list[np.ndarray]:
    space = envs.make(PATTERN).observation_space
    space.seed(seed)
    return [np.stack([space.sample() for _ in range(batch)]) for _ in range(n)]


def episode_starts(n: int, batch: int, seed: int = 6) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random(batch) < 0.3 for _ in range(n)]


@pytest.fixture
def trained(tmp_path, pattern_vec):
    """An agent trained 80 steps on 2 envs that also predicted a few steps (so it has a prediction state), and
    its checkpoint path."""
    agent = RSTDP("SpikingPolicy", pattern_vec(2, seed=0), seed=0, hidden_size=12)
    agent.learn(80)
    for obs in observation_sequence(3, batch=2, seed=11):
        agent.predict(obs)
    path = tmp_path / "agent.pt"
    agent.save(path)
    return agent, path


@pytest.mark.parametrize("deterministic", [False, True])
def test_save_load_gives_identical_actions(trained, deterministic):
    """Same observations and episode starts -> the same actions from the saved and the loaded agent, step for
    step, including exploration and tie-breaking draws (the generator state is saved)."""
    agent, path = trained
    loaded = RSTDP.load(path)
    obs_seq, starts = observation_sequence(25, batch=2), episode_starts(25, batch=2)
    original = [agent.predict(o, episode_start=s, deterministic=deterministic)[0] for o, s in zip(obs_seq, starts)]
    restored = [loaded.predict(o, episode_start=s, deterministic=deterministic)[0] for o, s in zip(obs_seq, starts)]
    np.testing.assert_array_equal(np.stack(original), np.stack(restored))
    assert len(np.unique(np.stack(original))) > 1  # not a constant sequence that would match by accident


def test_loaded_agent_has_the_same_tensors_and_hyperparameters(trained):
    agent, path = trained
    loaded = RSTDP.load(path)
    assert loaded.policy_config == agent.policy_config
    assert loaded.rule_config == agent.rule_config
    assert loaded.num_timesteps == agent.num_timesteps == 80
    saved, restored = agent.policy.state_dict(), loaded.policy.state_dict()
    assert saved.keys() == restored.keys()
    for key in saved:
        torch.testing.assert_close(restored[key], saved[key], rtol=0, atol=0, msg=key)
    # the calibrated learning rate and bound follow the restored weight scale
    plastic = loaded.policy.plastic
    assert loaded.policy.network.rules[plastic].lr == pytest.approx(
        agent.rule_config.learning_rate * float(agent.policy.weight_scale))
    assert loaded.policy.network.connections[plastic].wmax == pytest.approx(
        agent.policy_config.wmax_ratio * float(agent.policy.weight_scale))


def test_checkpoint_is_plain_tensors_and_json(trained):
    """``torch.load(weights_only=True)`` reads it (nothing unpickled); hyperparameters and spaces are JSON."""
    agent, path = trained
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == "spikerl.agent/1"
    hyper = json.loads(payload["hyperparameters"])
    assert hyper["hidden_size"] == 12 and hyper["learning_rate"] == agent.rule_config.learning_rate
    assert json.loads(payload["action_space"]) == {"type": "Discrete", "n": 3, "start": 0}
    assert json.loads(payload["observation_space"])["shape"] == [1, 8, 8]
    torch.testing.assert_close(payload["policy"]["network.connections.H->O.w"],
                               agent.policy.network.connections["H->O"].w, rtol=0, atol=0)
    assert {"train_state", "predict_state", "generator"} <= payload.keys()


def test_load_without_env_predicts_but_cannot_learn(trained):
    _, path = trained
    loaded = RSTDP.load(path)
    assert loaded.get_env() is None
    obs = observation_sequence(1, batch=1)[0][0]
    action, state = loaded.predict(obs)  # a single unbatched observation -> a single action
    assert np.shape(action) == () and 0 <= int(action) < 3 and state is None
    with pytest.raises(ValueError, match="needs an environment"):
        loaded.learn(10)


def test_load_overrides_and_rejects(trained, tmp_path, pattern_vec):
    _, path = trained
    assert RSTDP.load(path, epsilon=0.3).policy_config.epsilon == 0.3
    with pytest.raises(ValueError, match="differ from the saved agent"):
        RSTDP.load(path, env=envs.make_vec("spikerl/Catch-v0", n_envs=1, seed=0))
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ValueError, match="not a spikerl agent checkpoint"):
        RSTDP.load(other)


def test_load_with_env_continues_learning_exactly(trained, pattern_vec):
    """``load(path, env=...)`` then ``learn(..., reset_num_timesteps=False)`` continues the run: the step count
    goes on from the saved one, and the weights after 60 more steps equal those of the original agent doing
    the same 60 steps on an identically seeded env (weights, baseline, generator and state all restored)."""
    agent, path = trained
    loaded = RSTDP.load(path, env=pattern_vec(2, seed=0))
    assert loaded.get_env().num_envs == 2 and loaded.num_timesteps == 80
    agent.set_env(pattern_vec(2, seed=0))  # a fresh env seeded like the one load re-seeds with the agent's seed
    loaded.learn(60, reset_num_timesteps=False)
    agent.learn(60, reset_num_timesteps=False)
    assert loaded.num_timesteps == agent.num_timesteps == 140
    before = torch.load(path, weights_only=True)["policy"]["network.connections.H->O.w"]
    w_loaded, w_agent = (m.policy.network.connections["H->O"].w for m in (loaded, agent))
    assert not torch.equal(w_loaded, before)  # it did learn
    torch.testing.assert_close(w_loaded, w_agent, rtol=0, atol=0)
