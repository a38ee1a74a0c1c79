"""The R-STDP agent's training loop reads nothing back from the device per step except the actions.

On the CPU the engine's accelerator paths are forced (``read_backs`` fixture, see ``tests/conftest.py``) and
every read back is recorded: the only ones per environment step must be the copy of the actions handed to the
environments (``handed_to_env``, exactly one per step); calibration (once, on the first observations) and the
logger's writes (once per ``log_interval`` episodes) may read. On CUDA the same run executes under
``torch.cuda.set_sync_debug_mode("error")`` with only the action copy let through.
"""

from __future__ import annotations

import pytest
import torch

import envs
from agents import RSTDP, RSTDPActorCritic
from agents import policy as policy_module

CATCH = "spikerl/Catch-v0"
ALLOWED = ("handed_to_env", "SpikingPolicy.calibrate", "RSTDP.dump_logs")


@pytest.mark.parametrize("hidden_size", [0, 16])
def test_learning_reads_back_only_the_actions(read_backs, hidden_size: int) -> None:
    n_envs, steps = 2, 300
    model = RSTDP("SpikingPolicy", envs.make_vec(CATCH, n_envs=n_envs, seed=0), hidden_size=hidden_size,
                  epsilon=0.1, seed=0)
    with read_backs(ALLOWED) as recorder:
        model.learn(steps, log_interval=1)
    assert recorder.unexpected == []
    assert recorder.count("handed_to_env") == steps // n_envs       # one copy of [n_envs] actions per env step
    by = [allowed_by for *_, allowed_by in recorder.calls]
    assert "SpikingPolicy.calibrate" in by                          # calibration reads, on the first step only:
    assert max(i for i, b in enumerate(by) if b == "SpikingPolicy.calibrate") < by.index("handed_to_env")
    assert recorder.count("RSTDP.dump_logs") > 0                    # the logger ran, and read only there
    assert model._episode_num > 0 and torch.isfinite(model.policy.network.connections[model.policy.plastic].w).all()


@pytest.mark.parametrize("hidden", [{}, {"hidden_size": 16, "hidden_learning_rate": 1e-3}])
def test_actor_critic_learning_reads_back_only_the_actions(read_backs, hidden: dict) -> None:
    """The TD errors and values are summed for TensorBoard on the device and read back only when logged. With
    an e-prop hidden layer its rule (FactoredMSTDPET) reads only its host-side decay factor (``host_float``)."""
    n_envs, steps = 2, 300
    model = RSTDPActorCritic(env=envs.make_vec(CATCH, n_envs=n_envs, seed=0), seed=0, **hidden)
    allowed = ALLOWED + ("ActorCriticSpikingPolicy.calibrate", "RSTDPActorCritic.dump_logs", "host_float")
    with read_backs(allowed) as recorder:
        model.learn(steps, log_interval=1)
    assert recorder.unexpected == []
    assert recorder.count("handed_to_env") == steps // n_envs
    by = [allowed_by for *_, allowed_by in recorder.calls]
    calibration = [i for i, b in enumerate(by) if b.endswith("SpikingPolicy.calibrate")]
    assert calibration and max(calibration) < by.index("handed_to_env")  # the first step only, not every step
    assert recorder.count("RSTDPActorCritic.dump_logs") > 0


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; CPU-only machine")


def copy_actions(actions: torch.Tensor) -> torch.Tensor:
    """The one read back allowed: the actions for the environments, in whatever mode the caller runs."""
    before = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode(0)
    try:
        return actions.cpu()
    finally:
        torch.cuda.set_sync_debug_mode(before)


def learn_without_syncs(model, steps: int = 200) -> None:
    """20 steps (calibration reads back once), then ``steps`` more under sync-debug mode "error"."""
    model.learn(20, log_interval=0)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        model.learn(steps, log_interval=0, reset_num_timesteps=False)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert model.num_timesteps == 20 + steps


@needs_cuda
@pytest.mark.parametrize("hidden_size", [0, 16])
def test_cuda_learning_never_synchronises_but_for_the_actions(monkeypatch, hidden_size: int) -> None:
    monkeypatch.setattr(policy_module, "handed_to_env", copy_actions)
    model = RSTDP("SpikingPolicy", envs.make_vec(CATCH, n_envs=2, seed=0), hidden_size=hidden_size, seed=0,
                  device="cuda")
    learn_without_syncs(model)
    w = model.policy.network.connections[model.policy.plastic].w
    assert w.is_cuda and bool(torch.isfinite(w).all())
    assert model.policy.generator.device.type == "cuda"
    assert model._device_error_sums is not None and bool(torch.isfinite(model._device_error_sums).all())


@needs_cuda
@pytest.mark.parametrize("hidden", [{}, {"hidden_size": 16, "hidden_learning_rate": 1e-3}])
def test_cuda_actor_critic_never_synchronises_but_for_the_actions(monkeypatch, hidden: dict) -> None:
    monkeypatch.setattr(policy_module, "handed_to_env", copy_actions)
    model = RSTDPActorCritic(env=envs.make_vec(CATCH, n_envs=2, seed=0), seed=0, device="cuda", **hidden)
    learn_without_syncs(model)
    for connection in model.policy.network.connections.values():
        assert connection.w.is_cuda and bool(torch.isfinite(connection.w).all())
