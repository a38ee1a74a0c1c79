"""scripts/play.py with the deep agents (``--algo ppo|a2c|dqn``, ``--ann``, ``--convert``) on CartPole-v1 with
tiny budgets, the standard Atari envs they use, and the score columns shared with R-STDP."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest
import torch
from script_helpers import last_json, load_script, run_script, start_script, wait_for_line


def run(*args: str, cwd, check: bool = True) -> subprocess.CompletedProcess:
    return run_script("play", *args, cwd=cwd, check=check)


def test_spiking_ppo_trains_saves_and_load_reproduces_its_score(tmp_path):
    """A spiking PPO on CartPole: the JSON line names the algorithm, its settings (rl-zoo3's CartPole values,
    T = 2) and baselines; CartPole pays 1 per step, so the greedy agent's action histogram sums to its
    episodes' total return. ``--load`` (safe zip, nothing unpickled) then reproduces the score exactly."""
    model = tmp_path / "ppo.zip"
    common = ["CartPole-v1", "--algo", "ppo", "--eval-episodes", "3", "--tensorboard", ""]
    first = last_json(run(*common, "--timesteps", "512", "--save", str(model), "--no-progress", cwd=tmp_path))
    assert model.exists()
    assert first["algo"] == "ppo" and first["spiking"] and not first["ann"] and not first["converted"]
    assert first["timesteps"] == 512  # 8 envs x n_steps 32 x 2 rollouts
    settings = first["settings"]
    assert settings["policy"] == "SpikingMlpPolicy" and settings["time_steps"] == 2 and settings["n_envs"] == 8
    assert settings["learning_rate"] == "lin_0.001" and settings["n_steps"] == 32 and settings["gamma"] == 0.98
    assert sum(first["action_histogram"].values()) == round(first["agent_mean"] * 3)
    assert set(first["constant_means"]) == {"0", "1"}
    assert first["best_constant_mean"] == max(first["constant_means"].values())
    assert first["human_normalized"] is None
    assert settings["init_gain"] == 3.0 and settings["normalization"] == "none" and settings["input_gain"] == 3.0
    assert first["overridden_by_checkpoint"] == {}
    again = last_json(run(*common, "--load", str(model), "--sampled", "--init-gain", "7", "--separate-extractors",
                          cwd=tmp_path))
    # the MLP policy's actor and critic have their own extractors already: --separate-extractors agrees with it
    assert again["overridden_by_checkpoint"] == {"init_gain": {"requested": 7.0, "used": 3.0}}
    assert first["settings"]["separate_extractors"] is True
    assert again["agent_mean"] == first["agent_mean"] and again["action_histogram"] == first["action_histogram"]
    assert again["random_mean"] == first["random_mean"] and again["timesteps"] == 512
    assert "agent_sampled" not in first
    sampled = again["agent_sampled"]  # the policy sampling its actions: seeded, so reproducible
    assert sum(sampled["action_histogram"].values()) == round(sampled["mean"] * 3)
    assert last_json(run(*common, "--load", str(model), "--sampled", cwd=tmp_path))["agent_sampled"] == sampled


def test_ann_then_convert_scores_the_source_and_each_t_on_the_same_episodes(tmp_path):
    """``--ann`` trains SB3's own PPO (ReLU MLP, so it converts); ``--convert --load`` scores that source network
    again (the same score: same evaluation seeds) and its conversion at each ``--convert-time-steps``."""
    model = tmp_path / "ann.zip"
    ann = last_json(run("CartPole-v1", "--algo", "ppo", "--ann", "--timesteps", "512", "--save", str(model),
                        "--eval-episodes", "2", "--tensorboard", "", "--no-progress", cwd=tmp_path))
    assert ann["ann"] and not ann["spiking"] and ann["settings"]["policy"] == "MlpPolicy"
    converted = last_json(run("CartPole-v1", "--algo", "ppo", "--convert", "--load", str(model), "--eval-episodes",
                              "2", "--convert-time-steps", "4", "16", "--calibration-steps", "8", "--tensorboard", "",
                              "--sampled", cwd=tmp_path))
    assert set(converted["source_sampled"]) == {"mean", "std", "action_histogram"}
    assert all(set(row["sampled"]) == {"mean", "std", "action_histogram"} for row in converted["conversion"])
    assert converted["converted"] and converted["source_mean"] == ann["agent_mean"]
    assert [row["time_steps"] for row in converted["conversion"]] == [4, 16]
    assert converted["calibration_observations"] == 8 * 2  # 8 steps on min(8, 2 episodes) = 2 envs
    assert converted["agent_mean"] == converted["conversion"][-1]["mean"]
    for row in converted["conversion"]:
        assert row["vs_source"] == pytest.approx(row["mean"] / ann["agent_mean"])


def test_dqn_with_spiking_mlp_runs_with_its_zoo_settings(tmp_path):
    result = last_json(run("CartPole-v1", "--algo", "dqn", "--timesteps", "300", "--eval-episodes", "2",
                           "--time-steps", "3", "--init-gain", "5", "--input-gain", "9", "--normalization", "layer",
                           "--learning-rate", "0.0005", "--save",
                           str(tmp_path / "dqn.zip"), "--tensorboard", "", "--no-progress", cwd=tmp_path))
    assert result["algo"] == "dqn" and result["spiking"] and result["settings"]["time_steps"] == 3
    assert result["settings"]["init_gain"] == 5.0 and result["settings"]["normalization"] == "layer"
    assert result["settings"]["input_gain"] == 9.0
    from agents import SpikingDQN
    assert isinstance(SpikingDQN.load(tmp_path / "dqn.zip").policy.q_net.features_extractor.norms[0],
                      torch.nn.LayerNorm)
    assert result["settings"]["learning_rate"] == 0.0005  # the zoo's CartPole DQN rate (2.3e-3) replaced
    assert result["settings"]["policy_kwargs"]["net_arch"] == [256, 256]
    # rl-zoo3's CartPole DQN collects train_freq = 256 steps per rollout: 300 steps round up to 512
    assert result["settings"]["n_envs"] == 1 and result["timesteps"] == 512


def test_separate_extractors_give_the_critic_its_own_spiking_network(tmp_path):
    """``--separate-extractors``: SB3's ``share_features_extractor=False``, shown in the JSON settings; the saved
    model has two spiking extractors with different weights."""
    model = tmp_path / "a2c.zip"
    result = last_json(run("CartPole-v1", "--algo", "a2c", "--separate-extractors", "--timesteps", "64",
                           "--eval-episodes", "1", "--save", str(model), "--tensorboard", "", "--no-progress",
                           cwd=tmp_path))
    assert result["settings"]["policy_kwargs"]["share_features_extractor"] is False
    assert result["settings"]["separate_extractors"] is True
    resumed = last_json(run("CartPole-v1", "--algo", "a2c", "--separate-extractors", "--resume", str(model),
                            "--timesteps", "32", "--eval-episodes", "1", "--tensorboard", "", "--no-progress",
                            cwd=tmp_path))  # the run's own flags resume it
    assert resumed["timesteps"] == result["timesteps"] + 40 and resumed["overridden_by_checkpoint"] == {}
    assert resumed["settings"]["separate_extractors"] is True
    from agents import SpikingA2C
    policy = SpikingA2C.load(model).policy
    assert not policy.share_features_extractor
    assert policy.pi_features_extractor is not policy.vf_features_extractor
    first = next(policy.pi_features_extractor.parameters())
    assert first.shape == next(policy.vf_features_extractor.parameters()).shape
    assert not first.equal(next(policy.vf_features_extractor.parameters()))


def test_inner_lr_scale_reaches_the_policy_and_the_json_settings(tmp_path):
    """``--inner-lr-scale 0.5``: the saved policy's optimizer runs its inner layers at half the rate."""
    model = tmp_path / "ppo.zip"
    result = last_json(run("CartPole-v1", "--algo", "ppo", "--inner-lr-scale", "0.5", "--timesteps", "64",
                           "--eval-episodes", "1", "--save", str(model), "--tensorboard", "", "--no-progress",
                           cwd=tmp_path))
    assert result["settings"]["inner_lr_scale"] == 0.5
    assert result["settings"]["policy_kwargs"]["inner_lr_scale"] == 0.5
    from agents import SpikingPPO
    groups = SpikingPPO.load(model).policy.optimizer.param_groups
    assert [g["lr_scale"] for g in groups] == [0.5, 1.0]


@pytest.mark.parametrize("argv, message", [
    (["--ann"], "applies to the deep agents"),
    (["--sampled"], "applies to the deep agents"),
    (["--algo", "ppo", "--convert"], "--convert needs --load"),
    (["--algo", "ppo", "--ann", "--time-steps", "4"], "--time-steps applies to a spiking policy"),
    (["--algo", "ppo", "--ann", "--init-gain", "6"], "--init-gain applies to a spiking policy"),
    (["--algo", "ppo", "--convert", "--load", "x.zip", "--init-gain", "6"], "--init-gain applies to a spiking"),
    (["--init-gain", "6"], "applies to the deep agents"),
    (["--normalization", "layer"], "applies to the deep agents"),
    (["--algo", "ppo", "--ann", "--input-gain", "20"], "--input-gain applies to a spiking policy"),
    (["--algo", "dqn", "--ann", "--normalization", "layer"], "--normalization applies to a spiking policy"),
    (["--algo", "a2c", "--hidden-size", "10"], "R-STDP setting"),
    (["--algo", "ppo", "--entropy-rate", "0.01"], "--entropy-rate is an R-STDP setting"),
    (["--algo", "ppo", "--resume", "x.zip", "--learning-rate", "1e-3"], "keeps the schedule saved with it"),
    (["--algo", "dqn", "--load", "x.zip", "--learning-rate", "1e-3"], "keeps the schedule saved with it"),
    (["--algo", "sarsa"], "invalid choice"),
    (["--separate-extractors"], "applies to the deep agents"),
    (["--algo", "dqn", "--separate-extractors"], "DQN has no critic"),
    (["--algo", "ppo", "--convert", "--load", "x.zip", "--separate-extractors"], "keeps the source's"),
    (["--inner-lr-scale", "0.1"], "applies to the deep agents"),
    (["--algo", "dqn", "--inner-lr-scale", "0.1"], "not --algo dqn"),
    (["--algo", "ppo", "--ann", "--inner-lr-scale", "0.1"], "not --ann"),
    (["--algo", "a2c", "--convert", "--load", "x.zip", "--inner-lr-scale", "0.1"], "not --convert"),
    (["--algo", "ppo", "--inner-lr-scale", "0"], "must be a finite number > 0"),
])
def test_flags_that_do_not_apply_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_script("play").main(["CartPole-v1", *argv])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_human_normalized_scores_use_the_published_constants():
    """SpaceInvaders: random 148.0, human 1668.7, so 277 -> (277 - 148) / 1520.7 = 0.0848; Breakout: random 1.7,
    human 30.5, so 30.5 -> 1."""
    play = load_script("play")
    scores = play.human_normalized_scores({"game": "space_invaders"}, {"agent": 277.0, "best_constant": None})
    assert scores == {"agent": round(129 / 1520.7, 4), "best_constant": None, "published_random": 148.0,
                      "published_human": 1668.7}
    assert play.human_normalized_scores({"game": "breakout"}, {"agent": 30.5})["agent"] == 1.0
    assert play.human_normalized_scores({"id": "CartPole-v1"}, {"agent": 500.0}) is None


def wrapper_names(venv) -> list[str]:
    env, names = venv.venv.envs[0], []
    while hasattr(env, "env"):
        names.append(type(env).__name__)
        env = env.env
    return names


def test_standard_atari_skips_frames_once_and_changes_the_game_only_in_training():
    """Training envs end an episode at a lost life and clip rewards; evaluation envs play full games with the
    game's score, capped at 18000 frames. Frames are skipped once (ALE frameskip 1, max-pooled skip 4) and 4
    frames are stacked, channel last."""
    import envs
    from envs.standard_atari import make_standard_atari

    train = make_standard_atari("Breakout", 2, 0, training=True)
    evaluation = make_standard_atari("Breakout", 1, 0, training=False)
    assert train.observation_space.shape == (84, 84, 4) and train.num_envs == 2
    assert {"EpisodicLifeEnv", "ClipRewardEnv"} <= set(wrapper_names(train))
    assert not {"EpisodicLifeEnv", "ClipRewardEnv"} & set(wrapper_names(evaluation))
    protocol = envs.describe_protocol(evaluation)
    assert protocol["frameskip"] == 1 and protocol["frames_per_step"] == 4
    assert protocol["repeat_action_probability"] == 0.25 and protocol["max_num_frames_per_episode"] == 18000
    assert envs.describe_protocol(train)["max_num_frames_per_episode"] == 108000
    for venv in (train, evaluation):
        venv.close()
    with pytest.raises(ValueError, match="needs an ALE game"):
        make_standard_atari("CartPole-v1", 1, 0, training=False)


def test_convert_loads_only_the_weights_of_a_plain_sb3_atari_model(tmp_path):
    """A PPO trained elsewhere with SB3's standard wrappers (``make_atari_env`` + ``VecFrameStack(4)``) and saved
    by plain SB3 has pickled fields: ``--convert`` rebuilds the CnnPolicy and reads only ``policy.pth``, so a
    malicious pickle planted in the file's data is never executed, and the source scores as the model itself."""
    import base64
    import pickle
    import zipfile

    from stable_baselines3 import PPO
    from stable_baselines3.common.evaluation import evaluate_policy

    from envs.standard_atari import make_standard_atari

    model = PPO("CnnPolicy", make_standard_atari("SpaceInvaders", 1, 0, training=True), n_steps=64, seed=0)
    path, marker = tmp_path / "zoo_ppo.zip", tmp_path / "pwned"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    data = json.loads(files["data"])
    data["policy_kwargs"] = {":type:": "<class 'dict'>",
                             ":serialized:": base64.b64encode(pickle.dumps(Planted(str(marker)))).decode()}
    files["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    proc = run("SpaceInvaders", "--algo", "ppo", "--convert", "--load", str(path), "--eval-episodes", "1",
               "--convert-time-steps", "2", "--calibration-steps", "4", "--tensorboard", "", cwd=tmp_path)
    assert "loaded only its weights" in proc.stderr and not marker.exists()
    result = last_json(proc)
    expected, _ = evaluate_policy(model, make_standard_atari("SpaceInvaders", 1, 1000, training=False),
                                  n_eval_episodes=1, deterministic=True)
    assert result["source_mean"] == expected and result["conversion"][0]["time_steps"] == 2
    assert result["human_normalized"]["published_human"] == 1668.7


class Planted:
    """Unpickling this creates the file ``marker``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_curves_plots_the_runs_tensorboard_logs(tmp_path):
    """scripts/curves.py reads a scalar from TensorBoard run folders and reports each run's last point."""
    from torch.utils.tensorboard import SummaryWriter

    for name, slope in (("a", 1.0), ("b", 2.0)):
        with SummaryWriter(tmp_path / name) as writer:
            for step in range(0, 500, 100):
                writer.add_scalar("rollout/ep_rew_mean", slope * step, step)
    out = tmp_path / "curves.png"
    result = load_script("curves").main([f"spiking={tmp_path / 'a'}", str(tmp_path / "b"), "--hline",
                                         "random=3", "--out", str(out)])
    assert out.stat().st_size > 1000
    assert [(r["label"], r["last_step"], r["last_value"]) for r in result["runs"]] == [("spiking", 400, 400.0),
                                                                                     ("b", 400, 800.0)]
    with pytest.raises(SystemExit, match="no scalar 'x'"):
        load_script("curves").main([str(tmp_path / "a"), "--tag", "x", "--out", str(out)])
    # runs sharing a label (seeds of one setting): one colour, one legend entry
    seeds = load_script("curves").main([f"s={tmp_path / 'a'}", f"other={tmp_path / 'b'}", f"s={tmp_path / 'b'}",
                                        "--out", str(out)])
    assert seeds["legend"] == ["s", "other"]
    colour = [r["colour"] for r in seeds["runs"]]  # s (a), other (b), s (b)
    assert colour[0] == colour[2] != colour[1]


def test_sigterm_saves_a_deep_agent_that_resume_trains_on(tmp_path):
    """SIGTERM during a long spiking PPO run: exit status 143, the model saved as a safe zip with the steps done
    so far and the resume command printed (with ``--algo ppo``); ``--resume`` then trains the remaining steps
    and the step count adds up."""
    import re

    from agents import SpikingPPO

    model = tmp_path / "ppo.zip"
    proc = start_script("play", "CartPole-v1", "--algo", "ppo", "--timesteps", "10000000", "--save", str(model),
                        "--tensorboard", "", "--no-progress", "--eval-episodes", "1", cwd=tmp_path)
    wait_for_line(proc, "training spiking PPO")
    time.sleep(3.0)
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 143, rest[-2000:]
    done = SpikingPPO.load(model).num_timesteps
    assert 0 < done < 10_000_000
    command = re.search(r"python scripts/play.py CartPole-v1 --algo ppo --resume (\S+) --timesteps (\d+)", rest)
    assert command and command.group(1) == str(model) and int(command.group(2)) == 10_000_000 - done
    resumed = last_json(run("CartPole-v1", "--algo", "ppo", "--resume", str(model), "--timesteps", "256",
                            "--eval-episodes", "1", "--tensorboard", "", "--no-progress", cwd=tmp_path))
    assert resumed["timesteps"] == done + 256 and SpikingPPO.load(model).num_timesteps == done + 256


def test_a_stopped_dqn_saves_its_replay_buffer_and_resume_refills_it(tmp_path):
    """SIGTERM during an SB3 DQN run on CartPole: the model and its replay buffer (``dqn.replay.npz``, the filled
    rows) are saved; ``--resume`` refills the buffer (as many transitions as were collected, up to its size) and
    trains on. Without the file, ``--resume`` warns that the buffer starts empty."""
    import numpy as np

    from agents.deep.replay_io import replay_buffer_path

    model = tmp_path / "dqn.zip"
    proc = start_script("play", "CartPole-v1", "--algo", "dqn", "--ann", "--timesteps", "10000000", "--save",
                        str(model), "--tensorboard", "", "--no-progress", "--eval-episodes", "1", cwd=tmp_path)
    wait_for_line(proc, "training SB3 DQN")
    time.sleep(3.0)
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 143, rest[-2000:]
    buffer = replay_buffer_path(model)
    assert f"saved the replay buffer to {buffer}" in rest
    with np.load(buffer) as stored:
        rows = 100_000 if bool(stored["full"]) else int(stored["pos"])
        assert rows > 0 and stored["observations"].shape == (rows, 1, 4)
    common = ["CartPole-v1", "--algo", "dqn", "--resume", str(model), "--timesteps", "256", "--eval-episodes", "1",
              "--tensorboard", "", "--no-progress"]
    resumed = run(*common, cwd=tmp_path)
    assert f"restored {rows} transitions per env from {buffer}" in resumed.stderr
    buffer.unlink()
    assert "resumes with an empty buffer" in run(*common, cwd=tmp_path).stderr


def test_resume_continues_the_tensorboard_folder_of_its_own_run(tmp_path):
    """Each run logs to ``DIR/<checkpoint name>_N``; resuming ``a.zip`` after another run of the same game and
    algorithm (``b.zip``) continues ``a_1`` (its steps go on from 256 to 512), not the newest folder."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logs = tmp_path / "tb"
    common = ["CartPole-v1", "--algo", "ppo", "--eval-episodes", "1", "--tensorboard", str(logs), "--no-progress"]
    run(*common, "--timesteps", "256", "--save", str(tmp_path / "a.zip"), cwd=tmp_path)
    run(*common, "--timesteps", "256", "--save", str(tmp_path / "b.zip"), cwd=tmp_path)
    run(*common, "--timesteps", "256", "--resume", str(tmp_path / "a.zip"), cwd=tmp_path)
    assert sorted(p.name for p in logs.iterdir()) == ["a_1", "b_1"]

    def steps(folder: str) -> list[int]:
        events = EventAccumulator(str(logs / folder)).Reload()
        return sorted(e.step for e in events.Scalars("time/fps"))

    assert steps("a_1") == [256, 512] and steps("b_1") == [256]
