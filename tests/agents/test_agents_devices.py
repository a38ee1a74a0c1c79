"""Checkpoints move between devices: a CPU checkpoint resumes on CUDA and back (CUDA skipped without one), the
generator lives on the model's device, and a generator state from another device type seeds a fresh stream."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

import envs
from agents import RSTDP
from agents.rstdp import restore_generator

PATTERN = "spikerl/PatternAction-v0"
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; CPU-only machine")


def tensors(agent: RSTDP) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in agent.policy.state_dict().items()}


def test_cpu_checkpoint_loads_with_an_explicit_cpu_device_and_continues_exactly(tmp_path, pattern_vec):
    """``load(path, device="cpu")`` + ``replay_env`` continues the saved run bit for bit (generator included)."""
    straight = RSTDP("SpikingPolicy", pattern_vec(2, seed=0), seed=0, hidden_size=8)
    straight.learn(120)
    first = RSTDP("SpikingPolicy", pattern_vec(2, seed=0), seed=0, hidden_size=8)
    first.learn(60)
    first.save(tmp_path / "a.pt")
    resumed = RSTDP.load(tmp_path / "a.pt", env=pattern_vec(2, seed=0), device="cpu")
    assert resumed.device == torch.device("cpu") and resumed.policy.generator.device.type == "cpu"
    resumed.replay_env()
    resumed.learn(60, reset_num_timesteps=False)
    for key, value in tensors(straight).items():
        assert torch.equal(value, tensors(resumed)[key]), key


def test_generator_state_of_the_same_device_type_continues_the_stream() -> None:
    source = torch.Generator().manual_seed(3)
    torch.rand(5, generator=source)
    target = torch.Generator()
    restore_generator(target, source.get_state(), "cpu")
    assert torch.equal(torch.rand(4, generator=source), torch.rand(4, generator=target))


def test_generator_state_of_another_device_type_seeds_from_its_digest() -> None:
    """A state saved from a CUDA generator cannot continue on the CPU (other format): the CPU generator is seeded
    with the first 8 bytes (little-endian, mod 2**63) of the state's SHA-256, the same on every load."""
    state = torch.Generator().manual_seed(4).get_state()
    a, b = torch.Generator(), torch.Generator()
    restore_generator(a, state, "cuda")
    restore_generator(b, state, "cuda")
    seed = int.from_bytes(hashlib.sha256(state.numpy().tobytes()).digest()[:8], "little") % 2**63
    assert a.initial_seed() == seed
    assert torch.equal(torch.rand(4, generator=a), torch.rand(4, generator=b))


@needs_cuda
def test_cpu_checkpoint_resumes_on_cuda_and_back(tmp_path, pattern_vec):
    cpu_agent = RSTDP("SpikingPolicy", pattern_vec(2, seed=0), seed=0, hidden_size=8)
    cpu_agent.learn(60)
    cpu_agent.save(tmp_path / "cpu.pt")
    on_gpu = RSTDP.load(tmp_path / "cpu.pt", env=pattern_vec(2, seed=0), device="cuda")
    assert on_gpu.policy.generator.device.type == "cuda"
    for key, value in tensors(cpu_agent).items():
        assert torch.equal(value, tensors(on_gpu)[key]), key
    assert all(t.is_cuda for t in on_gpu.policy.train_state.neurons["O"])
    on_gpu.replay_env()
    on_gpu.learn(60, reset_num_timesteps=False)
    on_gpu.save(tmp_path / "gpu.pt")
    back = RSTDP.load(tmp_path / "gpu.pt", env=pattern_vec(2, seed=0), device="cpu")
    assert back.policy.generator.device.type == "cpu" and back.num_timesteps == 120
    for key, value in tensors(on_gpu).items():
        assert torch.equal(value, tensors(back)[key]), key
    back.replay_env()
    back.learn(40, reset_num_timesteps=False)
    obs = np.stack([envs.make(PATTERN).observation_space.sample() for _ in range(2)])
    assert back.predict(obs)[0].shape == (2,)
