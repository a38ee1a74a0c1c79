"""The spiking policy's state: carried across steps, reset per environment at episode starts (predict and learn)."""

from __future__ import annotations

import numpy as np
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

import envs
from agents import RSTDP
from spikerl.checkpoint import state_to_dict

PATTERN = "spikerl/PatternAction-v0"


def flat_state(state) -> dict[str, torch.Tensor]:
    """``NetworkState`` -> ``{"neurons/O/v": tensor, ...}`` (every batched tensor, for comparisons)."""
    data = state_to_dict(state)
    out = {}
    for group in ("neurons", "rules"):
        for owner, fields in data[group].items():
            out.update({f"{group}/{owner}/{f}": t for f, t in fields.items()})
    for group in ("spikes", "traces"):
        out.update({f"{group}/{owner}": t for owner, t in data[group].items()})
    return out


def rows(state, index: int) -> dict[str, torch.Tensor]:
    """Row ``index`` of every batched tensor of a state."""
    return {k: t[index] for k, t in flat_state(state).items() if t.dim() > 0 and t.shape[0] == state.batch_size}


def assert_rows_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


def rows_differ(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return any(not torch.equal(a[k], b[k]) for k in a)


def twins(tmp_path, pattern_vec) -> tuple[RSTDP, RSTDP]:
    """Two agents with identical weights and generator state (trained a little, saved, loaded twice)."""
    agent = RSTDP("SpikingPolicy", pattern_vec(2, seed=0), seed=0)
    agent.learn(60)
    agent.save(tmp_path / "agent.pt")
    return RSTDP.load(tmp_path / "agent.pt"), RSTDP.load(tmp_path / "agent.pt")


def observations(n: int, batch: int, seed: int = 1) -> list[np.ndarray]:
    space = envs.make(PATTERN).observation_space
    space.seed(seed)
    return [np.stack([space.sample() for _ in range(batch)]) for _ in range(n)]


def test_episode_start_resets_the_row_to_a_fresh_state(tmp_path, pattern_vec):
    """A row with ``episode_start=True`` behaves exactly as a fresh network; a row without it keeps its memory.

    ``fresh`` never predicted (its first call starts from ``Network.reset``); ``used`` ran 5 steps first. With the
    same generator state, row 0 (episode start) of ``used`` must end in the same state as in ``fresh``, bit for
    bit, and row 1 (no start) must not.
    """
    fresh, used = twins(tmp_path, pattern_vec)
    for obs in observations(5, batch=2):
        used.predict(obs, episode_start=np.zeros(2, bool))
    used.policy.generator.set_state(fresh.policy.generator.get_state())
    obs = observations(1, batch=2, seed=9)[0]
    fresh_actions, _ = fresh.predict(obs, episode_start=np.ones(2, bool))
    used_actions, _ = used.predict(obs, episode_start=np.array([True, False]))
    assert fresh.policy.predict_state is not None and used.policy.predict_state is not None
    assert_rows_equal(rows(used.policy.predict_state, 0), rows(fresh.policy.predict_state, 0))
    assert used_actions[0] == fresh_actions[0]
    assert rows_differ(rows(used.policy.predict_state, 1), rows(fresh.policy.predict_state, 1))


def test_without_episode_start_the_state_carries_over(tmp_path, pattern_vec):
    """Two calls on a fresh agent differ from one call: the membranes carry from one env step to the next."""
    a, b = twins(tmp_path, pattern_vec)
    obs = observations(2, batch=2, seed=3)
    a.predict(obs[0], episode_start=np.ones(2, bool))
    b.predict(obs[0], episode_start=np.ones(2, bool))
    g = a.policy.generator.get_state()
    a.predict(obs[1], episode_start=np.zeros(2, bool))  # continues from step 1
    b.policy.generator.set_state(g)
    b.predict(obs[1], episode_start=np.ones(2, bool))  # forgets step 1
    assert rows_differ(rows(a.policy.predict_state, 0), rows(b.policy.predict_state, 0))


def test_predict_never_changes_weights_or_the_training_state(pattern_vec):
    agent = RSTDP("SpikingPolicy", pattern_vec(2, seed=0), seed=0)
    agent.learn(40)
    weights = {k: v.clone() for k, v in agent.policy.state_dict().items()}
    train_state = flat_state(agent.policy.train_state)
    for obs in observations(6, batch=2):
        agent.predict(obs, deterministic=False)
    for key, value in agent.policy.state_dict().items():
        torch.testing.assert_close(value, weights[key], rtol=0, atol=0, msg=key)
    after = flat_state(agent.policy.train_state)
    for key in train_state:
        torch.testing.assert_close(after[key], train_state[key], rtol=0, atol=0, msg=key)


def test_learn_resets_each_environment_when_its_episode_ends():
    """Two envs with episodes of 3 and 6 steps: after 3 joint steps env 0 just ended (fresh row), env 1 did not.

    A fresh row equals ``Network.reset``'s: membranes at rest, no spikes, zero traces and eligibility.
    """
    vec = DummyVecEnv([lambda: envs.make(PATTERN, episode_length=3), lambda: envs.make(PATTERN, episode_length=6)])
    vec.seed(0)
    agent = RSTDP("SpikingPolicy", vec, seed=0, epsilon=0.0)
    agent.learn(6)  # 3 steps of the 2-env batch
    assert agent.num_timesteps == 6 and agent._episode_num == 1
    state = agent.policy.train_state
    reference = agent.policy.network.reset(2)
    assert_rows_equal(rows(state, 0), rows(reference, 0))
    assert rows_differ(rows(state, 1), rows(reference, 1))
