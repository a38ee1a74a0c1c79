"""TensorBoard shows per-layer spike rates and membrane statistics of the spiking policies."""

from __future__ import annotations

import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents import SpikeStatsCallback, SpikingMlpPolicy, SpikingPPO
from agents.deep.spike_stats import layer_stats


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("tb")
    model = SpikingPPO("SpikingMlpPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), n_steps=16, batch_size=16,
                       n_epochs=1, seed=0, tensorboard_log=str(logdir),
                       policy_kwargs=dict(features_extractor_kwargs=dict(hidden=(16, 8), time_steps=3)))
    model.learn(64, tb_log_name="deep")
    accumulator = EventAccumulator(str(logdir / "deep_1"), size_guidance={"scalars": 0, "histograms": 0})
    accumulator.Reload()
    return accumulator


def test_spike_and_membrane_tags(events):
    scalars, histograms = set(events.Tags()["scalars"]), set(events.Tags()["histograms"])
    for net in ("pi_features_extractor", "vf_features_extractor"):
        for layer in ("lif1", "lif2"):
            assert {f"spikes/{net}/{layer}_rate", f"spikes/{net}/{layer}_silent_fraction",
                    f"membrane/{net}/{layer}_mean", f"membrane/{net}/{layer}_std",
                    f"membrane/{net}/{layer}_max"} <= scalars
            assert {f"spikes/{net}/{layer}_rates", f"membrane/{net}/{layer}_v"} <= histograms
    assert not any(tag.startswith("spikes/features_extractor/") for tag in scalars)  # the unused, unshared one
    rates = [e.value for e in events.Scalars("spikes/pi_features_extractor/lif1_rate")]
    assert len(rates) == 2 and all(0.0 < r < 1.0 for r in rates)  # one record per rollout; the layer is alive
    assert "train/value_loss" in scalars  # SB3's own logging is untouched


def test_layer_stats_by_hand():
    spikes = torch.tensor([[[1.0, 0.0, 0.0]], [[1.0, 1.0, 0.0]]])  # [T=2, B=1, 3]
    v = torch.tensor([[[0.5, 0.2, -0.1]], [[0.3, 0.1, 0.4]]])
    stats = layer_stats(spikes, v)
    assert stats["rate"] == pytest.approx(3 / 6)
    assert stats["silent_fraction"] == pytest.approx(1 / 3)
    assert stats["v_mean"] == pytest.approx(1.4 / 6) and stats["v_max"] == pytest.approx(0.5)
    assert torch.equal(stats["rates"], torch.tensor([1.0, 0.5, 0.0]))


def test_callback_works_with_plain_sb3_ppo(tmp_path):
    model = PPO(SpikingMlpPolicy, make_vec_env("CartPole-v1", n_envs=1, seed=0), n_steps=8, batch_size=8, seed=0)
    model.set_logger(configure(str(tmp_path), ["json"]))
    model.learn(8, callback=SpikeStatsCallback(histograms=False))
    text = (tmp_path / "progress.json").read_text()
    assert "spikes/pi_features_extractor/lif1_rate" in text and "membrane/vf_features_extractor/lif2_std" in text
