"""RSTDP with SB3's own tools, unchanged: evaluate_policy, EvalCallback, CheckpointCallback,
StopTrainingOnMaxEpisodes, the progress bar, set_env/get_env and the callback protocol."""

from __future__ import annotations

import numpy as np
import pytest
from stable_baselines3.common.callbacks import (BaseCallback, CheckpointCallback, EvalCallback,
                                                StopTrainingOnMaxEpisodes)
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv

import envs
from agents import RSTDP

PATTERN = "spikerl/PatternAction-v0"


def test_evaluate_policy_runs_whole_episodes(pattern_vec):
    """Episodes of PatternAction last exactly ``episode_length`` steps and pay 0/1 per step."""
    agent = RSTDP("SpikingPolicy", pattern_vec(2, seed=0), seed=0)
    agent.learn(40)
    returns, lengths = evaluate_policy(agent, pattern_vec(2, seed=7, episode_length=6), n_eval_episodes=4,
                                       deterministic=True, return_episode_rewards=True)
    assert lengths == [6] * 4
    assert all(float(r).is_integer() and 0 <= r <= 6 for r in returns)
    mean, std = evaluate_policy(agent, pattern_vec(1, seed=7, episode_length=6), n_eval_episodes=3)
    assert 0.0 <= mean <= 6.0 and std >= 0.0


def test_eval_callback_evaluates_on_schedule_and_saves_the_best_model(tmp_path, pattern_vec):
    """``eval_freq`` counts callback calls (one per batched step of 2 envs): 200 steps -> 100 calls -> 4
    evaluations at 25, 50, 75, 100 calls, i.e. at 50, 100, 150, 200 timesteps."""
    callback = EvalCallback(pattern_vec(1, seed=9, episode_length=5), eval_freq=25, n_eval_episodes=2,
                            best_model_save_path=str(tmp_path), log_path=str(tmp_path), deterministic=True)
    agent = RSTDP("SpikingPolicy", pattern_vec(2, seed=0, episode_length=5), seed=0)
    agent.learn(200, callback=callback)
    log = np.load(tmp_path / "evaluations.npz")
    np.testing.assert_array_equal(log["timesteps"], [50, 100, 150, 200])
    assert log["results"].shape == (4, 2) and (log["ep_lengths"] == 5).all()
    best = RSTDP.load(tmp_path / "best_model")
    assert best.num_timesteps in {50, 100, 150, 200}


def test_checkpoint_callback_writes_loadable_checkpoints(tmp_path, pattern_vec):
    callback = CheckpointCallback(save_freq=30, save_path=str(tmp_path), name_prefix="rstdp")
    agent = RSTDP("SpikingPolicy", pattern_vec(2, seed=0), seed=0)
    agent.learn(120, callback=callback)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["rstdp_120_steps.zip", "rstdp_60_steps.zip"]
    assert RSTDP.load(tmp_path / "rstdp_60_steps.zip").num_timesteps == 60


def test_stop_training_on_max_episodes(pattern_vec):
    """SB3 stops after ``max_episodes * n_envs`` episodes: 3 * 2 episodes of 5 steps = 15 batched steps."""
    agent = RSTDP("SpikingPolicy", pattern_vec(2, seed=0, episode_length=5), seed=0)
    agent.learn(10_000, callback=StopTrainingOnMaxEpisodes(max_episodes=3))
    assert agent.num_timesteps == 3 * 5 * 2
    assert agent._episode_num == 3 * 2


@pytest.mark.filterwarnings("ignore:rich is experimental")
def test_progress_bar(pattern_vec, capsys):
    agent = RSTDP("SpikingPolicy", pattern_vec(2, seed=0), seed=0)
    agent.learn(40, progress_bar=True)
    assert agent.num_timesteps == 40
    captured = capsys.readouterr()
    assert "40/40" in captured.out + captured.err


class Recorder(BaseCallback):
    """Counts the hooks SB3 calls and checks the locals it hands over."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = {"training_start": 0, "rollout_start": 0, "step": 0, "rollout_end": 0, "training_end": 0}
        self.done_counts: list[int] = []

    def _on_training_start(self) -> None:
        self.calls["training_start"] += 1
        assert self.locals["total_timesteps"] == 40

    def _on_rollout_start(self) -> None:
        self.calls["rollout_start"] += 1

    def _on_step(self) -> bool:
        self.calls["step"] += 1
        assert self.locals["dones"].shape == (self.training_env.num_envs,)
        assert np.shape(self.locals["rewards"]) == (self.training_env.num_envs,)
        self.done_counts.append(int(np.sum(self.locals["dones"])))
        return True

    def _on_rollout_end(self) -> None:
        self.calls["rollout_end"] += 1

    def _on_training_end(self) -> None:
        self.calls["training_end"] += 1


def test_callback_protocol(pattern_vec):
    """One ``on_step`` per batched env step with ``dones``/``rewards`` in locals; the other hooks once each.
    Episodes of 4 steps on 2 envs: both end on every 4th call."""
    recorder = Recorder()
    agent = RSTDP("SpikingPolicy", pattern_vec(2, seed=0, episode_length=4), seed=0)
    agent.learn(40, callback=recorder)
    assert recorder.calls == {"training_start": 1, "rollout_start": 1, "step": 20, "rollout_end": 1,
                              "training_end": 1}
    assert recorder.done_counts == [2 if (i + 1) % 4 == 0 else 0 for i in range(20)]
    assert recorder.num_timesteps == 40


def test_set_env_get_env_and_other_env_forms(tmp_path, pattern_vec):
    agent = RSTDP("SpikingPolicy", pattern_vec(2, seed=0), seed=0)
    agent.learn(20)
    other = pattern_vec(2, seed=1)
    agent.set_env(other)
    assert agent.get_env() is other
    agent.learn(30)
    assert agent.num_timesteps == 30
    with pytest.raises(ValueError):  # SB3's space check
        agent.set_env(envs.make_vec("spikerl/Catch-v0", n_envs=2, seed=0))
    # another number of envs: through load(path, env), as SB3 prescribes; the training state follows the batch
    agent.save(tmp_path / "agent.pt")
    three = RSTDP.load(tmp_path / "agent.pt", env=pattern_vec(3, seed=1))
    assert three.n_envs == 3
    three.learn(30, reset_num_timesteps=False)
    assert three.policy.train_state.batch_size == 3 and three.num_timesteps == 60
    # a plain Gymnasium env and a registered id are wrapped in a one-env DummyVecEnv, as in SB3
    for env in (envs.make(PATTERN), PATTERN):
        single = RSTDP("SpikingPolicy", env, seed=0)
        assert isinstance(single.get_env(), DummyVecEnv) and single.get_env().num_envs == 1
        single.learn(5)
        assert single.num_timesteps == 5
