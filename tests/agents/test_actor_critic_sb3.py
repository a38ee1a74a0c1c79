"""RSTDPActorCritic as an SB3-style agent: save/load round trip, exact resume, evaluate_policy, TensorBoard tags,
clear errors for bad hyperparameters; and RSTDP's checkpoints still load as RSTDP only."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv

import envs
from agents import RSTDP, RSTDPActorCritic
from spikerl.checkpoint import CheckpointError

PATTERN = "spikerl/PatternAction-v0"
CATCH = "spikerl/Catch-v0"


def make_env(name: str = CATCH, seed: int = 3, n_envs: int = 2):
    return envs.make_vec(name, n_envs=n_envs, seed=seed, vec_env_cls=DummyVecEnv)


def observation_sequence(n: int, batch: int, seed: int = 5) -> list[np.ndarray]:
    space = envs.make(PATTERN).observation_space
    space.seed(seed)
    return [np.stack([space.sample() for _ in range(batch)]) for _ in range(n)]


@pytest.fixture
def trained(tmp_path):
    agent = RSTDPActorCritic(env=make_env(PATTERN, seed=0), seed=0, hidden_size=12, gamma=0.7,
                             critic_population_size=8)
    agent.learn(80)
    agent.predict(observation_sequence(1, batch=2)[0])
    path = tmp_path / "ac.pt"
    agent.save(path)
    return agent, path


@pytest.mark.parametrize("deterministic", [False, True])
def test_save_load_gives_identical_actions_and_values(trained, deterministic):
    """Same observations and episode starts -> the same actions (exploration draws included) and the same
    critic values, step for step."""
    agent, path = trained
    loaded = RSTDPActorCritic.load(path)
    rng = np.random.default_rng(6)
    obs_seq, starts = observation_sequence(20, batch=2), [rng.random(2) < 0.3 for _ in range(20)]
    original = [agent.predict(o, episode_start=s, deterministic=deterministic)[0] for o, s in zip(obs_seq, starts)]
    restored = [loaded.predict(o, episode_start=s, deterministic=deterministic)[0] for o, s in zip(obs_seq, starts)]
    np.testing.assert_array_equal(np.stack(original), np.stack(restored))
    assert len(np.unique(np.stack(original))) > 1
    state = agent.policy.network.initial_state(2)
    obs = agent.policy.check_observation(obs_seq[0])
    torch.testing.assert_close(loaded.policy.values(obs, state), agent.policy.values(obs, state), rtol=0, atol=0)


def test_loaded_agent_has_the_same_hyperparameters_tensors_and_pending_td_error(trained):
    agent, path = trained
    loaded = RSTDPActorCritic.load(path)
    assert loaded.hyperparameters() == agent.hyperparameters()
    assert loaded.gamma == 0.7 and loaded.critic_config.population_size == 8
    for key, value in agent.policy.state_dict().items():
        assert torch.equal(loaded.policy.state_dict()[key], value), key
    assert float(loaded.policy.critic_count0) >= 1.0 and bool(loaded.policy.calibrated)
    for mine, theirs in zip(agent._pending, loaded._pending):
        assert torch.equal(mine, theirs)


def test_checkpoints_load_only_as_their_own_class(trained, tmp_path):
    """An actor-critic checkpoint is not an RSTDP one and vice versa (different networks): a clear error."""
    _, path = trained
    with pytest.raises(CheckpointError, match="holds a RSTDPActorCritic agent, not a RSTDP"):
        RSTDP.load(path)
    RSTDP("SpikingPolicy", make_env(PATTERN), seed=0).learn(8).save(tmp_path / "rstdp.pt")
    with pytest.raises(CheckpointError, match="holds a RSTDP agent, not a RSTDPActorCritic"):
        RSTDPActorCritic.load(tmp_path / "rstdp.pt")


def test_interrupted_and_resumed_run_equals_the_uninterrupted_one(tmp_path):
    """600 + 600 steps on Catch with save / load / replay_env in between == 1200 steps in one go (actor and
    critic weights, eligibility); the TD error of the step before the save is delivered after the load."""
    whole = RSTDPActorCritic(env=make_env(), seed=3).learn(1200)
    RSTDPActorCritic(env=make_env(), seed=3).learn(600).save(tmp_path / "first.pt")
    second = RSTDPActorCritic.load(tmp_path / "first.pt", env=make_env())
    assert second.replay_env() * 2 == second.num_timesteps == 600
    second.learn(600, reset_num_timesteps=False)
    policy = whole.policy
    for key in (policy.plastic, policy.critic):
        assert torch.equal(second.policy.network.connections[key].w, policy.network.connections[key].w), key
        assert torch.equal(second.policy.train_state.rules[key].eligibility, policy.train_state.rules[key].eligibility)


def test_evaluate_policy_runs_whole_episodes():
    agent = RSTDPActorCritic(env=make_env(PATTERN, seed=0), seed=0)
    agent.learn(40)
    mean, std = evaluate_policy(agent, envs.make_vec(PATTERN, n_envs=2, seed=100, episode_length=6),
                                n_eval_episodes=4, deterministic=True)
    assert 0.0 <= mean <= 6.0 and std >= 0.0


def test_tensorboard_shows_value_td_error_and_critic_rate(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    vec = envs.make_vec(PATTERN, n_envs=2, seed=0, episode_length=5)
    agent = RSTDPActorCritic(env=vec, seed=0, tensorboard_log=str(tmp_path))
    agent.learn(40, log_interval=1, tb_log_name="ac")
    events = EventAccumulator(str(tmp_path / "ac_1"))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"value/V_mean", "value/td_error", "value/td_error_abs", "spikes/C_rate_hz",
            "weights/X_to_C_mean", "rollout/ep_rew_mean"} <= scalars, sorted(scalars)
    rates = [e.value for e in events.Scalars("spikes/C_rate_hz")]
    assert len(rates) == 4 and all(0.0 <= r <= 1000.0 for r in rates)  # 40 steps / (2 envs x 5): 4 logs
    assert all(e.value >= 0 for e in events.Scalars("value/td_error_abs"))


@pytest.mark.parametrize("kwargs, match", [
    (dict(gamma=-0.1), "gamma"), (dict(gamma=1.5), "gamma"), (dict(gamma=float("nan")), "gamma"),
    (dict(baseline_window=20), "baseline_window must be None"),
    (dict(critic_population_size=0), "critic population_size"), (dict(value_scale=0.0), "value_scale"),
    (dict(critic_learning_rate=-1.0), "learning_rate"), (dict(critic_tau_e_ms=0.0), "tau_e_ms"),
    (dict(policy="SpikingPolicy"), "one policy, 'ActorCriticSpikingPolicy'"),
])
def test_bad_hyperparameters_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RSTDPActorCritic(env=make_env(PATTERN), **kwargs)
