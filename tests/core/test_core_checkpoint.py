"""Checkpoints: save -> load gives an identical network, loaded with weights_only=True."""

import pytest
import torch

from spikerl import AdaptiveLIF, Dense, Input, LIF, Network, PostPre, TraceParams
from spikerl.checkpoint import load_network, save_network


def build() -> Network:
    net = Network()
    net.add_layer("X", Input(20))
    net.add_layer("Y", AdaptiveLIF(10, trace=TraceParams(tau_ms=5.0), theta_plus_mv=0.5))
    net.add_layer("Z", LIF(3, tau_mem_ms=30.0))
    net.add_connection("X", "Y", Dense(20, 10, wmin=0.0, wmax=1.0, norm=4.0),
                       rule=PostPre(pre_trace=TraceParams(10.0, "nearest"), reduction="mean"))
    net.add_connection("Y", "Z", Dense(10, 3, bias=True))
    net.connections["X->Y"].set_mask(torch.rand(20, 10, generator=torch.Generator().manual_seed(0)) > 0.3)
    return net


@pytest.mark.parametrize("include_state", [False, True])
def test_save_load_gives_identical_runs(tmp_path, include_state):
    x = torch.rand(60, 2, 20, generator=torch.Generator().manual_seed(4)) < 0.3
    net = build()
    net.run({"X": x}, learning=True)
    save_network(net, tmp_path / "net.pt", include_state=include_state, extra={"epoch": 3})
    loaded, extra = load_network(tmp_path / "net.pt")
    assert extra == {"epoch": 3}
    if not include_state:
        net.reset(2)
    a = net.run({"X": x}, learning=True, record=["Y.v", "Z.spikes"])
    b = loaded.run({"X": x}, learning=True, record=["Y.v", "Z.spikes"])
    for key in a:
        assert torch.equal(a[key], b[key])
    assert torch.equal(net.connections["X->Y"].w, loaded.connections["X->Y"].w)
    assert torch.equal(net.layers["Y"].theta, loaded.layers["Y"].theta)
    assert loaded.rules["X->Y"].pre_trace == TraceParams(10.0, "nearest")


def test_checkpoint_is_plain_data(tmp_path):
    save_network(build(), tmp_path / "net.pt")
    payload = torch.load(tmp_path / "net.pt", weights_only=True)
    assert payload["format"] == "spikerl.network/1"


def test_foreign_file_is_rejected(tmp_path):
    torch.save({"hello": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a spikerl network checkpoint"):
        load_network(tmp_path / "other.pt")
