"""``tensorboard_log=``: the event files hold the promised scalars, histograms and images, with sane values."""

from __future__ import annotations

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents import RSTDP

EPISODE = 5  # steps per PatternAction episode in this test


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    """Train 2 envs x 30 steps with a hidden layer, logging after every episode, and read the events back."""
    import torch

    import envs

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    logdir = tmp_path_factory.mktemp("tb")
    vec = envs.make_vec("spikerl/PatternAction-v0", n_envs=2, seed=0, episode_length=EPISODE)
    agent = RSTDP("SpikingPolicy", vec, seed=0, hidden_size=16, tensorboard_log=str(logdir), log_weights_every=2)
    agent.learn(60, log_interval=1, tb_log_name="tbtest")
    torch.set_num_threads(threads)
    runs = [p for p in logdir.iterdir() if p.is_dir()]
    assert [p.name for p in runs] == ["tbtest_1"]
    accumulator = EventAccumulator(str(runs[0]), size_guidance={"scalars": 0, "histograms": 0, "images": 0})
    accumulator.Reload()
    accumulator.connections = [key.replace("->", "_to_") for key in agent.policy.network.connections]
    assert {"X_to_H", "H_to_O"} <= set(accumulator.connections)
    return accumulator


def test_scalar_tags(events):
    scalars = set(events.Tags()["scalars"])
    expected = {"rollout/ep_rew_mean", "rollout/ep_len_mean", "time/fps", "reward/baseline",
                "spikes/X_rate_hz", "spikes/H_rate_hz", "spikes/O_rate_hz"}
    expected |= {f"weights/{c}_{stat}" for c in events.connections for stat in ("mean", "std", "min", "max")}
    assert expected <= scalars, sorted(expected - scalars)


def test_histogram_and_image_tags(events):
    histograms, images = set(events.Tags()["histograms"]), set(events.Tags()["images"])
    expected = {"spikes/H_rate_hist", "spikes/O_rate_hist"} | {f"weights/{c}" for c in events.connections}
    assert expected <= histograms, sorted(expected - histograms)
    assert "weights/H_to_O_image" in images
    # images every 2nd log (log_weights_every=2), histograms at every log
    assert len(events.Images("weights/H_to_O_image")) == len(events.Histograms("weights/H_to_O")) // 2


def test_logged_values(events):
    """One log per finished batch of episodes (log_interval=1): 60 steps / (2 envs x 5 steps) = 6 logs, at the
    timesteps 10, 20, ..., 60; every episode lasts 5 steps and earns 0..5; rates lie in [0, 1000] Hz at dt=1 ms;
    the plastic weights respect their bounds [0, wmax]."""
    lengths = events.Scalars("rollout/ep_len_mean")
    assert [e.step for e in lengths] == [10, 20, 30, 40, 50, 60]
    assert all(e.value == EPISODE for e in lengths)
    assert all(0 <= e.value <= EPISODE for e in events.Scalars("rollout/ep_rew_mean"))
    assert all(e.value > 0 for e in events.Scalars("time/fps"))
    for layer in "XHO":
        assert all(0.0 <= e.value <= 1000.0 for e in events.Scalars(f"spikes/{layer}_rate_hz"))
    assert any(e.value > 0 for e in events.Scalars("spikes/X_rate_hz"))
    assert all(e.value >= 0.0 for e in events.Scalars("weights/H_to_O_min"))
    assert all(0.0 <= e.value <= 1.0 for e in events.Scalars("reward/baseline"))  # EMA of 0/1 rewards
