"""``SpikingPolicy.use_backend("compiled")``: the agent's time loop fused by ``torch.compile`` (for GPUs).

The compiled paths compile the Python loops themselves, so with the compilers replaced by those loops an agent
must learn exactly as with the default backend; this shows that the switch reaches every LIF layer and the
network's step loop (the recurrent group of lateral inhibition) and that the chunked runs are exact. The real
compiler is checked by the slow tests of the LIF backend and the group backend.
"""

from __future__ import annotations

import importlib

import pytest
import torch

import envs
from agents import RSTDP, RSTDPActorCritic
from spikerl.neurons import LIF


@pytest.fixture
def loops_as_compilers(monkeypatch) -> list[str]:
    """Both compilers replaced by the function they get; returns the names of the functions they were given."""
    given: list[str] = []

    def passing(fn, device):
        given.append(fn.__name__)
        return fn

    monkeypatch.setattr(importlib.import_module("spikerl.kernels.compiled"), "compiled", passing)
    monkeypatch.setattr("spikerl.network.compiled", passing)
    return given


@pytest.mark.parametrize("cls, kwargs", [(RSTDP, dict(hidden_size=16, inhibition_mv=2.0)),
                                         (RSTDPActorCritic, dict(hidden_size=16))])
def test_compiled_agent_learns_as_the_default(loops_as_compilers: list[str], cls, kwargs) -> None:
    agents = []
    for backend in ("auto", "compiled"):
        agent = cls(cls.policy_name, envs.make_vec("spikerl/Catch-v0", n_envs=2, seed=5), seed=5, **kwargs)
        agent.policy.use_backend(backend)
        agents.append(agent.learn(300))
    default, compiled = agents
    assert {"lif_scan_loop"} <= set(loops_as_compilers)
    if kwargs.get("inhibition_mv"):
        assert "_step_loop" in loops_as_compilers
    for name, conn in default.policy.network.connections.items():
        assert torch.equal(conn.weight, compiled.policy.network.connections[name].weight), name
    plastic = default.policy.plastic
    assert not torch.equal(default.policy.network.connections[plastic].weight,
                           cls(cls.policy_name, envs.make_vec("spikerl/Catch-v0", n_envs=2, seed=5), seed=5,
                               **kwargs).policy.network.connections[plastic].weight)


def test_use_backend_sets_the_lif_layers_and_the_step_loop_and_refuses_others() -> None:
    agent = RSTDP("SpikingPolicy", envs.make_vec("spikerl/Catch-v0", n_envs=1, seed=0), seed=0, hidden_size=4)
    policy = agent.policy
    policy.use_backend("compiled")
    lifs = [layer for layer in policy.network.layers.values() if type(layer) is LIF]
    assert len(lifs) == 2 and all(layer.backend == "compiled" for layer in lifs)
    assert policy.network.group_backend == "compiled"
    policy.use_backend("auto")
    assert all(layer.backend == "auto" for layer in lifs) and policy.network.group_backend == "torch"
    with pytest.raises(ValueError, match="backend must be 'auto' or 'compiled', got 'c'"):
        policy.use_backend("c")
