"""scripts/fit_teacher.py: the fit measures what it says (hand-computed KL, a student that can copy the teacher
does), and bad flags are named."""

from __future__ import annotations

import math

import pytest
import torch
from script_helpers import last_json, load_script, run_script
from stable_baselines3 import PPO

import envs
from agents.deep.safe_zip import safe_save

fit = load_script("fit_teacher")


def test_kl_divergence_by_hand():
    # teacher p = (1/4, 3/4), student q = (1/2, 1/2): KL = 1/4 ln(1/2) + 3/4 ln(3/2)
    teacher = torch.tensor([[0.0, math.log(3.0)]])
    student = torch.zeros(1, 2)
    expected = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    assert fit.kl_divergence(teacher, student).item() == pytest.approx(expected, rel=1e-6)
    assert fit.kl_divergence(teacher, teacher).item() == pytest.approx(0.0, abs=1e-7)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory) -> str:
    """An SB3 PPO (ReLU MLP) on CartPole with sharpened heads, so its values and action choice vary with the state."""
    model = PPO("MlpPolicy", envs.make_vec("CartPole-v1", n_envs=2, seed=0), seed=1,
                policy_kwargs=dict(activation_fn=torch.nn.ReLU))
    with torch.no_grad():
        model.policy.action_net.weight.mul_(300.0)
        model.policy.value_net.weight.mul_(5.0)
    path = tmp_path_factory.mktemp("teacher") / "teacher.zip"
    safe_save(model, path)
    return str(path)


def test_an_ann_student_learns_to_copy_an_ann_teacher(teacher):
    result = last_json(run_script("fit_teacher", "CartPole-v1", "--teacher", teacher, "--student", "ann",
                                  "--observations", "2048", "--holdout", "512", "--steps", "300",
                                  "--eval-every", "100", "--learning-rate", "1e-3", "--threads", "1"))
    assert result["student"] == "ann" and result["holdout"] == 512 and result["steps"] == 300
    first, last = result["curve"][0], result["curve"][-1]
    assert [point["step"] for point in result["curve"]] == [100, 200, 300]
    assert last["explained_variance"] > 0.9
    assert last["kl"] < first["kl"]
    assert last["agreement"] > 0.9


def test_a_spiking_student_reports_its_settings_and_a_finite_fit(teacher):
    result = last_json(run_script("fit_teacher", "CartPole-v1", "--teacher", teacher, "--observations", "1024",
                                  "--holdout", "256", "--steps", "20", "--eval-every", "10", "--time-steps", "3",
                                  "--surrogate", "fast_sigmoid", "--slope", "5", "--threads", "1"))
    assert result["student"] == "spiking"
    assert result["settings"] == {"time_steps": 3, "surrogate": "fast_sigmoid", "slope": 5.0}
    for point in result["curve"]:
        assert math.isfinite(point["explained_variance"]) and point["kl"] >= 0.0
        assert 0.0 <= point["agreement"] <= 1.0


@pytest.mark.parametrize(("flags", "message"), [
    (["--observations", "100", "--holdout", "100"], "--holdout 100 must be smaller"),
    (["--student", "ann", "--slope", "5"], "--student ann takes no spiking settings (got --slope)"),
])
def test_bad_flags_are_named(teacher, flags, message):
    completed = run_script("fit_teacher", "CartPole-v1", "--teacher", teacher, *flags, check=False)
    assert completed.returncode == 2 and message in completed.stderr


def test_a_missing_teacher_is_named(tmp_path):
    completed = run_script("fit_teacher", "CartPole-v1", "--teacher", str(tmp_path / "none.zip"), check=False)
    assert completed.returncode == 2 and "not a PPO model this script can load" in completed.stderr
