"""scripts/play.py end to end in subprocesses on spikerl/Catch-v0 with tiny budgets, and its flag handling."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from script_helpers import last_json, load_script, run_script, start_script, wait_for_line

CATCH = "spikerl/Catch-v0"
#: Catch with its defaults: 10 balls, each landing rows - 1 = 7 steps after it appears.
CATCH_EPISODE_STEPS = 10 * 7


def run(*args: str, cwd: Path, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return run_script("play", *args, cwd=cwd, env=env, check=check)


def test_help_lists_every_flag(tmp_path):
    proc = run("--help", cwd=tmp_path)
    flags = [s for a in load_script("play").build_parser()._actions for s in a.option_strings if s.startswith("--")]
    for flag in ("--timesteps", "--n-envs", "--seed", "--device", "--load", "--eval-episodes", "--video",
                 "--render", "--tensorboard", "--no-train", "--hidden-size", "--steps-per-action",
                 "--learning-rate", "--tau-e-ms", "--temperature", "--epsilon", "--save", "--validate-every",
                 "--validate-episodes", "--input-spikes-per-step", "--resume"):
        assert flag in flags, flag
    for flag in flags:
        assert flag in proc.stdout, flag


def test_train_save_evaluate_then_load_and_play(tmp_path):
    """Train 300 steps, save, evaluate 2 episodes; then ``--load --no-train`` reproduces the evaluation exactly
    (same weights, same generator state, same evaluation seeds) without training."""
    model, logs = tmp_path / "model.pt", tmp_path / "tb"
    common = ["--n-envs", "2", "--eval-episodes", "2", "--seed", "3"]
    first = last_json(run(CATCH, "--timesteps", "300", "--save", str(model), "--tensorboard", str(logs),
                          "--no-progress", *common, cwd=tmp_path))
    assert set(first) == {"env", "algo", "ann", "agent_mean", "agent_std", "random_mean", "random_std",
                          "best_constant_mean", "best_constant", "constant_means", "human_normalized",
                          "action_histogram", "last", "episodes", "timesteps", "train_seconds", "selected",
                          "protocol",
                          "settings", "overridden_by_checkpoint"}
    assert first["algo"] == "rstdp" and first["human_normalized"] is None  # Catch has no published scores
    # Catch: 3 actions, 70 steps per episode, so the greedy agent's 2 episodes take 140 actions
    assert set(first["action_histogram"]) == {"LEFT", "STAY", "RIGHT"}
    assert sum(first["action_histogram"].values()) == 2 * CATCH_EPISODE_STEPS
    assert first["best_constant_mean"] == max(first["constant_means"].values())
    assert first["constant_means"][first["best_constant"]["name"]] == first["best_constant_mean"]
    assert first["selected"] is None  # the default validation interval (50k steps) lies beyond 300 steps
    assert first["last"] == {"mean": first["agent_mean"], "std": first["agent_std"],
                             "action_histogram": first["action_histogram"]}
    assert first["env"] == CATCH and first["episodes"] == 2 and first["timesteps"] == 300
    assert first["train_seconds"] > 0
    assert first["protocol"]["id"] == CATCH and first["protocol"]["optimal_return"] == 10.0
    for key in ("agent_mean", "random_mean"):  # 10 balls worth +1 or -1: even returns, so a 2-episode mean is whole
        assert -10.0 <= first[key] <= 10.0 and float(first[key]).is_integer()
    assert model.exists() and list(logs.glob("*/events.out.tfevents.*"))

    second = last_json(run(CATCH, "--load", str(model), "--no-train", *common, cwd=tmp_path))
    assert second["timesteps"] == 300 and second["train_seconds"] == 0
    assert {k: second[k] for k in ("agent_mean", "agent_std", "random_mean", "random_std", "protocol")} == \
           {k: first[k] for k in ("agent_mean", "agent_std", "random_mean", "random_std", "protocol")}


def test_validation_selects_a_checkpoint_that_load_reproduces(tmp_path):
    """With ``--validate-every 500`` over 2000 steps, EvalCallback validates 4 times; the best checkpoint is saved
    beside the model, scored, described in the JSON line, and ``--load`` of it reproduces the evaluation. With
    ``--validate-every 0`` nothing is validated and the last model is scored."""
    model = tmp_path / "model.pt"
    common = ["--n-envs", "2", "--eval-episodes", "2", "--seed", "1", "--tensorboard", "", "--no-progress"]
    first = last_json(run(CATCH, "--timesteps", "2000", "--validate-every", "500", "--validate-episodes", "2",
                          "--save", str(model), *common, cwd=tmp_path))
    best = tmp_path / "model_best.pt"
    assert model.exists() and best.exists()
    selected = first["selected"]
    assert selected["trained_timesteps"] == 2000 and selected["validation_episodes"] == 2
    assert selected["timesteps"] in (500, 1000, 1500, 2000) and first["timesteps"] == selected["timesteps"]
    assert -10.0 <= selected["validation_mean"] <= 10.0
    again = last_json(run(CATCH, "--load", str(best), "--no-train", *common, cwd=tmp_path))
    assert again["timesteps"] == selected["timesteps"]
    assert (again["agent_mean"], again["agent_std"]) == (first["agent_mean"], first["agent_std"])
    # the last checkpoint is scored too, on the same episodes: as --load of the saved model scores it
    last = last_json(run(CATCH, "--load", str(model), "--no-train", *common, cwd=tmp_path))
    assert (first["last"]["mean"], first["last"]["std"]) == (last["agent_mean"], last["agent_std"])
    assert first["last"]["action_histogram"] == last["action_histogram"]
    assert sum(last["action_histogram"].values()) == 2 * CATCH_EPISODE_STEPS

    best.unlink()
    plain = last_json(run(CATCH, "--timesteps", "1000", "--validate-every", "0", "--save", str(model), "--overwrite",
                          *common, cwd=tmp_path))
    assert plain["selected"] is None and plain["timesteps"] == 1000 and not best.exists()


def test_video_records_one_episode(tmp_path):
    """``--video`` writes every frame of one episode (reset frame + one per step) at the env's render size."""
    import cv2

    video = tmp_path / "clips" / "catch.mp4"
    proc = run(CATCH, "--no-train", "--eval-episodes", "1", "--n-envs", "1", "--tensorboard", "",
               "--video", str(video), cwd=tmp_path)
    assert str(video) in proc.stderr
    capture = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) == CATCH_EPISODE_STEPS + 1
    scale = 32  # CatchEnv's default render_scale: (rows * scale, columns * scale) = (256, 160)
    assert frames[0].shape == (8 * scale, 5 * scale, 3)
    assert max(int(f.max()) for f in frames) > 200  # the ball and the paddle are drawn, not a blank clip


def test_render_without_display_says_so(tmp_path):
    env = {"DISPLAY": "", "WAYLAND_DISPLAY": ""}
    proc = run(CATCH, "--no-train", "--eval-episodes", "1", "--n-envs", "1", "--tensorboard", "", "--render",
               cwd=tmp_path, env=env)
    assert "no display" in proc.stderr
    assert last_json(proc)["episodes"] == 1


def test_unknown_env_is_a_usage_error(tmp_path):
    proc = run("SpaceInvadrs", "--no-train", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert "unknown environment" in proc.stderr and "SpaceInvaders" in proc.stderr


@pytest.mark.parametrize("argv, message", [
    (["--load", "missing.pt"], "no such file"),
    (["--n-envs", "0"], "--n-envs must be >= 1"),
    (["--eval-episodes", "0"], "--eval-episodes must be >= 1"),
    (["--validate-episodes", "0"], "--validate-episodes must be >= 1"),
    (["--validate-every", "-5"], "--validate-every must be >= 0"),
    (["--resume", "missing.pt"], "no such file"),
    (["--hidden-learning-rate", "-1"], "argument --hidden-learning-rate: must be a finite number >= 0, got -1"),
    (["--hidden-learning-rate", "0.01"], "--hidden-learning-rate 0.01 trains the hidden layer: add --hidden-size N"),
    (["--value-feedback", "1"], "--value-feedback is a critic setting: it applies to --algo rstdp-ac"),
    (["--algo", "ppo", "--hidden-learning-rate", "0.01"], "--hidden-learning-rate is an R-STDP setting"),
    (["--learning-rate-end", "-0.1"], "argument --learning-rate-end: must be a finite number >= 0, got -0.1"),
    (["--algo", "a2c", "--learning-rate-end", "0.001"], "--learning-rate-end is an R-STDP setting"),
    (["--hidden-feedback", "transpose"], "argument --hidden-feedback: invalid choice: 'transpose'"),
    (["--terminal-on-life-loss"], "--terminal-on-life-loss needs an ALE game (one with lives), got spikerl/Catch-v0"),
    (["--algo", "ppo", "--terminal-on-life-loss"], "--terminal-on-life-loss applies to --algo rstdp and rstdp-ac"),
    (["--life-loss-penalty", "1"], "--life-loss-penalty needs an ALE game (one with lives), got spikerl/Catch-v0"),
    (["--life-loss-penalty", "-1"], "argument --life-loss-penalty: must be a finite number >= 0, got -1"),
    (["--algo", "dqn", "--life-loss-penalty", "1"], "--life-loss-penalty applies to --algo rstdp and rstdp-ac"),
    (["--frame-difference", "only"], "--frame-difference needs an ALE game, got spikerl/Catch-v0"),
    (["--algo", "ppo", "--frame-difference", "stack"], "--frame-difference applies to --algo rstdp and rstdp-ac"),
])
def test_bad_flags_are_usage_errors(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        load_script("play").main([CATCH, *[str(tmp_path / a) if a.endswith(".pt") else a for a in argv]])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_agent_flags_take_atari_defaults_only_for_ale_games():
    script = load_script("play")
    parse = script.build_parser().parse_args
    ale = script.agent_kwargs(parse(["SpaceInvaders"]), ale=True)
    assert ale == {k: v for k, v in script.ATARI_DEFAULTS.items() if v is not None}
    assert "entropy_rate" not in ale  # the actor-critic's ALE defaults add the entropy term, R-STDP's do not
    actor_critic = script.agent_kwargs(parse(["SpaceInvaders", "--algo", "rstdp-ac"]), ale=True)
    assert actor_critic["entropy_rate"] == 0.03 and actor_critic["tau_e_ms"] == 40.0
    assert script.agent_kwargs(parse([CATCH]), ale=False) == {}
    chosen = script.agent_kwargs(parse([CATCH, "--hidden-size", "7", "--epsilon", "0.2", "--learning-rate", "0.01",
                                        "--learning-rate-end", "0.001", "--steps-per-action", "3", "--entropy-rate",
                                        "0.02"]), ale=False)
    assert chosen == {"hidden_size": 7, "epsilon": 0.2, "learning_rate": 0.01, "learning_rate_end": 0.001,
                      "steps_per_action": 3, "entropy_rate": 0.02}
    with pytest.raises(SystemExit):
        parse([CATCH, "--vec-env", "threads"])


def test_resume_trains_on_from_a_saved_agent(tmp_path):
    """``--resume`` continues from the saved step count: 300 + 200 = 500 steps, and its weights differ from the
    saved ones (it did train)."""
    import torch

    model, more = tmp_path / "model.pt", tmp_path / "more.pt"
    common = ["--n-envs", "2", "--eval-episodes", "1", "--tensorboard", "", "--no-progress"]
    run(CATCH, "--timesteps", "300", "--save", str(model), *common, cwd=tmp_path)
    resumed = last_json(run(CATCH, "--resume", str(model), "--timesteps", "200", "--save", str(more), *common,
                            cwd=tmp_path))
    assert resumed["timesteps"] == 500
    before = torch.load(model, weights_only=True)["policy"]
    after = torch.load(more, weights_only=True)["policy"]
    assert torch.load(more, weights_only=True)["num_timesteps"] == 500
    plastic = [k for k in before if k.endswith(".w") and "X->O" in k]
    assert plastic and not torch.equal(before[plastic[0]], after[plastic[0]])


def test_ctrl_c_saves_the_agent_and_says_how_to_resume(tmp_path):
    """SIGINT during a long training run: exit status 130, the agent saved with the steps done so far."""
    import signal
    import time

    import torch

    model = tmp_path / "model.pt"
    proc = start_script("play", CATCH, "--timesteps", "10000000", "--n-envs", "1", "--save", str(model),
                        "--tensorboard", "", "--no-progress", cwd=tmp_path)
    wait_for_line(proc, "training R-STDP")
    time.sleep(3.0)
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == 130, rest[-2000:]
    assert f"--resume {model}" in rest
    steps = torch.load(model, weights_only=True)["num_timesteps"]
    assert 0 < steps < 10_000_000


def test_actor_critic_trains_saves_and_load_reproduces(tmp_path):
    """``--algo rstdp-ac``: the critic flags reach the agent (its settings in the JSON line), the checkpoint
    reloads with the same score, and R-STDP's loader refuses it (and the other way round)."""
    model = tmp_path / "ac.pt"
    common = ["--n-envs", "2", "--eval-episodes", "2", "--tensorboard", "", "--no-progress"]
    first = last_json(run(CATCH, "--algo", "rstdp-ac", "--timesteps", "400", "--gamma", "0.8",
                          "--critic-population-size", "8", "--save", str(model), *common, cwd=tmp_path))
    assert first["algo"] == "rstdp-ac" and first["timesteps"] == 400
    assert first["settings"]["gamma"] == 0.8 and first["settings"]["critic_population_size"] == 8
    assert sum(first["action_histogram"].values()) == 2 * CATCH_EPISODE_STEPS
    again = last_json(run(CATCH, "--algo", "rstdp-ac", "--load", str(model), *common, cwd=tmp_path))
    assert (again["agent_mean"], again["action_histogram"]) == (first["agent_mean"], first["action_histogram"])
    refused = run(CATCH, "--load", str(model), *common, cwd=tmp_path, check=False)
    assert refused.returncode == 2 and "RSTDPActorCritic" in refused.stderr
    critic_flag = run(CATCH, "--gamma", "0.9", cwd=tmp_path, check=False)
    assert critic_flag.returncode == 2 and "--gamma is a critic setting" in critic_flag.stderr
