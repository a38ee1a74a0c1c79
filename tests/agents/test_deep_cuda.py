"""Deep spiking agents on CUDA: a spiking PPO trains there, its checkpoint loads onto the CPU and back with the
same parameters, and the surrogate LIF's fused backward equals the CPU's. Skipped without a CUDA GPU (CI has
none; ``.ci/gpu`` runs them on a lent machine)."""

from __future__ import annotations

import pytest
import torch
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from agents import SpikingPPO
from spikerl.neurons import LIF, LIFParams

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; CPU-only machine")

TINY = dict(policy_kwargs=dict(features_extractor_kwargs=dict(time_steps=2)), n_steps=32, batch_size=32,
            n_epochs=1, seed=0)


def cpu_parameters(model: SpikingPPO) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.policy.state_dict().items()}


def test_spiking_ppo_trains_on_cuda_and_its_checkpoint_moves_to_cpu_and_back(tmp_path) -> None:
    model = SpikingPPO("SpikingMlpPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), device="cuda", **TINY)
    before = cpu_parameters(model)
    model.learn(128)
    trained = cpu_parameters(model)
    assert all(t.is_cuda for t in model.policy.state_dict().values())
    assert any(not torch.equal(before[k], trained[k]) for k in trained)  # it trained
    model.save(tmp_path / "cuda.zip")

    on_cpu = SpikingPPO.load(tmp_path / "cuda.zip", device="cpu", env=make_vec_env("CartPole-v1", n_envs=2, seed=1))
    assert all(not t.is_cuda for t in on_cpu.policy.state_dict().values())
    assert all(torch.equal(trained[k], v) for k, v in on_cpu.policy.state_dict().items())
    on_cpu.learn(64, reset_num_timesteps=False)  # the Adam state moved with it
    on_cpu.save(tmp_path / "cpu.zip")

    back = SpikingPPO.load(tmp_path / "cpu.zip", device="cuda")
    assert all(torch.equal(v.cpu(), on_cpu.policy.state_dict()[k]) for k, v in back.policy.state_dict().items())
    mean, _ = evaluate_policy(back, make_vec_env("CartPole-v1", n_envs=2, seed=2), n_eval_episodes=2)
    assert 1.0 <= mean <= 500.0


@pytest.mark.parametrize("reset", ["subtract", "value"])
def test_fused_surrogate_lif_on_cuda_equals_the_cpu(reset: str) -> None:
    """float64: the same spikes; gradients equal up to float rounding (the device may fuse a multiply-add)."""
    g = torch.Generator().manual_seed(0)
    currents = 1.4 * torch.rand(12, 4, 3, 5, generator=g, dtype=torch.float64) - 0.4
    weights = torch.rand(12, 4, 3, 5, generator=g, dtype=torch.float64) - 0.5
    params = LIFParams(v_rest_mv=0.0, v_reset_mv=0.2, v_thresh_mv=1.0, tau_mem_ms=2.0, refractory_ms=0.0,
                       reset=reset)
    out = {}
    for device in ("cpu", "cuda"):
        x = currents.to(device).requires_grad_()
        layer = LIF((3, 5), params, surrogate="fast_sigmoid", backend="fused").double().to(device)
        spikes = layer(x)
        grad, = torch.autograd.grad((spikes * weights.to(device)).sum(), x)
        out[device] = spikes.cpu(), grad.cpu()
    assert 0 < out["cpu"][0].mean() < 1
    assert torch.equal(out["cpu"][0], out["cuda"][0])
    torch.testing.assert_close(out["cuda"][1], out["cpu"][1], rtol=1e-10, atol=1e-12)
