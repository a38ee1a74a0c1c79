"""Exact resume: N steps, save, load with fresh identically seeded envs, ``replay_env``, M more steps gives the
weights of one uninterrupted N + M run (same code path, same ops: compared with ``torch.equal``)."""

from __future__ import annotations

import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

import envs
from agents import RSTDP

N_ENVS = 4


def make_env(name: str, seed: int = 3, n_envs: int = N_ENVS, vec_env_cls=DummyVecEnv):
    return envs.make_vec(name, n_envs=n_envs, seed=seed, vec_env_cls=vec_env_cls)


def plastic_weights(agent: RSTDP) -> torch.Tensor:
    return agent.policy.network.connections[agent.policy.plastic].w


def uninterrupted(name: str, steps: int, vec_env_cls=DummyVecEnv) -> RSTDP:
    agent = RSTDP("SpikingPolicy", make_env(name, vec_env_cls=vec_env_cls), seed=3)
    return agent.learn(steps)


def resumed(path, name: str, steps: int, vec_env_cls=DummyVecEnv) -> RSTDP:
    agent = RSTDP.load(path, env=make_env(name, vec_env_cls=vec_env_cls))
    assert agent.replay_env() * N_ENVS == agent.num_timesteps
    return agent.learn(steps, reset_num_timesteps=False)


@pytest.mark.parametrize("name", ["spikerl/Catch-v0", "spikerl/PatternAction-v0"])
def test_interrupted_and_resumed_run_equals_the_uninterrupted_one(tmp_path, name):
    """1200 + 1200 steps with a save/load/replay in between == 2400 steps in one go; without the replay (fresh
    episodes, as before this feature) the weights differ, so the comparison can tell."""
    whole = uninterrupted(name, 2400)
    first = RSTDP("SpikingPolicy", make_env(name), seed=3).learn(1200)
    first.save(tmp_path / "first.pt")
    second = resumed(tmp_path / "first.pt", name, 1200)
    assert second.num_timesteps == whole.num_timesteps == 2400
    assert second._episode_num == whole._episode_num
    assert torch.equal(plastic_weights(second), plastic_weights(whole))
    for key, value in whole.policy.train_state.rules[whole.policy.plastic]._asdict().items():
        assert torch.equal(second.policy.train_state.rules[second.policy.plastic]._asdict()[key], value), key
    fresh = RSTDP.load(tmp_path / "first.pt", env=make_env(name)).learn(1200, reset_num_timesteps=False)
    assert not torch.equal(plastic_weights(fresh), plastic_weights(whole))


def test_resume_of_a_resumed_run_is_still_exact(tmp_path):
    """The action log goes on across resumes: 600 + 600 + 600 steps == 1800 steps."""
    name = "spikerl/Catch-v0"
    whole = uninterrupted(name, 1800)
    RSTDP("SpikingPolicy", make_env(name), seed=3).learn(600).save(tmp_path / "a.pt")
    resumed(tmp_path / "a.pt", name, 600).save(tmp_path / "b.pt")
    third = resumed(tmp_path / "b.pt", name, 600)
    assert third.num_timesteps == 1800
    assert torch.equal(plastic_weights(third), plastic_weights(whole))


def test_replay_refuses_envs_that_cannot_stand_where_the_saved_ones_stood(tmp_path):
    name = "spikerl/Catch-v0"
    RSTDP("SpikingPolicy", make_env(name), seed=3).learn(200).save(tmp_path / "a.pt")
    with pytest.raises(ValueError, match="trained 4 envs, these are 2"):
        RSTDP.load(tmp_path / "a.pt", env=make_env(name, n_envs=2)).replay_env()
    other = make_env(name)
    loaded = RSTDP.load(tmp_path / "a.pt", env=other)
    other.seed(99)  # as if built with another seed after load re-seeded it
    with pytest.raises(ValueError, match=r"seeds \[99, 100, 101, 102\] differ from the saved run's \[3, 4, 5, 6\]"):
        loaded.replay_env()
    with pytest.raises(ValueError, match="needs the training envs"):
        RSTDP.load(tmp_path / "a.pt").replay_env()
    RSTDP("SpikingPolicy", make_env(name), seed=3).save(tmp_path / "untrained.pt")
    with pytest.raises(ValueError, match="no action log"):
        RSTDP.load(tmp_path / "untrained.pt", env=make_env(name)).replay_env()


@pytest.mark.slow
def test_exact_resume_with_subprocess_envs(tmp_path):
    """Each worker runs the same env code on the same seed and actions, so the replay is exact there too."""
    name = "spikerl/Catch-v0"
    whole = uninterrupted(name, 800, SubprocVecEnv)
    first = RSTDP("SpikingPolicy", make_env(name, vec_env_cls=SubprocVecEnv), seed=3).learn(400)
    first.save(tmp_path / "first.pt")
    first.get_env().close()
    second = resumed(tmp_path / "first.pt", name, 400, SubprocVecEnv)
    assert torch.equal(plastic_weights(second), plastic_weights(whole))
    for agent in (whole, second):
        agent.get_env().close()
