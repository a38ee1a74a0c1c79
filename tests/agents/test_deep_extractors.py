"""Spiking features extractors: shapes, T handling, encodings, readouts, hand-computed dynamics, gradients."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents.deep import SpikingMlp, SpikingNatureCNN
from agents.deep.extractors import readout_weights

IMAGE = gym.spaces.Box(0, 255, (2, 44, 40), np.uint8)


def count_calls(module: torch.nn.Module) -> list[int]:
    """Batch sizes of every call of ``module`` (via a forward hook)."""
    calls: list[int] = []
    module.register_forward_hook(lambda _m, inputs, _out: calls.append(inputs[0].shape[0]))
    return calls


@pytest.mark.parametrize("steps", [1, 3, 6])
def test_nature_cnn_shapes_and_one_first_conv_per_env_step(steps):
    torch.manual_seed(0)
    cnn = SpikingNatureCNN(IMAGE, features_dim=32, time_steps=steps)
    conv1, conv2 = count_calls(cnn.conv1), count_calls(cnn.conv2)
    x = torch.rand(5, *IMAGE.shape)
    spikes = cnn.simulate(x)
    assert spikes.shape == (steps, 5, 32)
    assert conv1 == [5]  # direct encoding: the first convolution runs once, on the frame batch
    assert conv2 == [steps * 5]  # later layers: all T steps in one call
    features = cnn(x)
    assert features.shape == (5, 32)
    torch.testing.assert_close(features, torch.einsum("t,tbf->bf", readout_weights(steps, "membrane", 5.0, 1.0),
                                                      spikes))


def test_poisson_encoding_runs_first_layer_on_all_steps_and_samples_rates():
    torch.manual_seed(0)
    steps, batch = 4, 3
    cnn = SpikingNatureCNN(IMAGE, features_dim=16, time_steps=steps, encoding="poisson")
    conv1 = count_calls(cnn.conv1)
    assert cnn(torch.rand(batch, *IMAGE.shape)).shape == (batch, 16)
    assert conv1 == [steps * batch]
    # The encoded input: spikes of probability x per step (checked through an identity first layer).
    mlp = SpikingMlp(gym.spaces.Box(0, 1, (1000,)), hidden=(4,), time_steps=200, encoding="poisson")
    x = torch.linspace(0, 1, 1000).unsqueeze(0)
    train = mlp.encode(x, torch.nn.Identity())
    assert train.shape == (200, 1, 1000) and set(train.unique().tolist()) <= {0.0, 1.0}
    p = x[0].numpy()
    rate = train.mean(0)[0].numpy()
    # Binomial(200, p) / 200 lies within 5 standard deviations of p (plus slack for p = 0 or 1).
    assert np.all(np.abs(rate - p) <= 5 * np.sqrt(p * (1 - p) / 200) + 1e-6)


def test_direct_encoding_is_a_constant_current():
    mlp = SpikingMlp(gym.spaces.Box(-1, 1, (3,)), hidden=(4,), time_steps=5)
    x = torch.randn(2, 3)
    currents = mlp.encode(x, mlp.linears[0])
    assert currents.shape == (5, 2, 4)
    for t in range(5):
        torch.testing.assert_close(currents[t], mlp.linears[0](x))


@pytest.mark.parametrize("readout", ["membrane", "spike_rate"])
def test_mlp_matches_hand_computed_lif(readout):
    """One neuron, weight 1, bias 0, input x: v_t = beta v_{t-1} + x, spike if v_t >= 1, then v_t -= 1."""
    steps, tau, tau_out, x = 8, 5.0, 3.0, 0.45
    mlp = SpikingMlp(gym.spaces.Box(-1, 1, (1,)), hidden=(1,), time_steps=steps, tau_mem_ms=tau, readout=readout,
                     tau_out_ms=tau_out)
    with torch.no_grad():
        mlp.linears[0].weight.fill_(1.0)
        mlp.linears[0].bias.zero_()
    beta, v, expected = math.exp(-1.0 / tau), 0.0, []
    for _ in range(steps):
        v = beta * v + x
        expected.append(1.0 if v >= 1.0 else 0.0)
        v -= expected[-1]
    assert sum(expected) >= 2  # the check sees spikes and silences
    obs = torch.tensor([[x]])
    assert mlp.simulate(obs)[:, 0, 0].tolist() == expected
    if readout == "membrane":  # the normalised membrane of a leaky non-spiking integrator of the spikes
        beta_out = math.exp(-1.0 / tau_out)
        gain = sum(beta_out ** k for k in range(steps))
        want = sum(beta_out ** (steps - 1 - t) * s for t, s in enumerate(expected)) / gain
    else:
        want = sum(expected) / steps
    assert mlp(obs).item() == pytest.approx(want, rel=1e-6)


def test_layer_normalization_drives_each_lif_layer_with_the_normalised_current():
    """Each LIF layer's input is its synaptic layer's current normalised per sample and step over the layer:
    zero mean and unit variance (learned scale 1 and shift 0 at the start), checked by hand on the probed
    membranes of the first step (from rest, v_0 = current)."""
    torch.manual_seed(0)
    cnn = SpikingNatureCNN(IMAGE, features_dim=16, time_steps=3, normalization="layer")
    x = torch.rand(4, *IMAGE.shape)
    with cnn.probing() as probes:
        cnn(x)
    current = cnn.conv1(x)
    mean = current.mean(dim=(1, 2, 3), keepdim=True)
    std = current.var(dim=(1, 2, 3), unbiased=False, keepdim=True).add(1e-5).sqrt()
    torch.testing.assert_close(probes["lif1"]["v"][0] + probes["lif1"]["spikes"][0], (current - mean) / std,
                               atol=1e-5, rtol=1e-5)
    fed = cnn.linear(probes["lif3"]["spikes"][0].flatten(1))
    torch.testing.assert_close(probes["lif4"]["v"][0] + probes["lif4"]["spikes"][0],
                               torch.nn.functional.layer_norm(fed, (16,)), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("extractor", ["cnn", "mlp"])
def test_layer_normalization_makes_the_spikes_independent_of_the_weights_scale(extractor):
    torch.manual_seed(0)
    if extractor == "cnn":
        net, x = SpikingNatureCNN(IMAGE, features_dim=16, normalization="layer"), torch.rand(3, *IMAGE.shape)
        synaptic = [net.conv1, net.conv2, net.conv3, net.linear]
    else:
        net, x = SpikingMlp(gym.spaces.Box(-1, 1, (5,)), hidden=(32, 16), normalization="layer"), torch.randn(3, 5)
        synaptic = list(net.linears)
    spikes = net.simulate(x)
    assert 0 < spikes.mean() < 1
    with torch.no_grad():
        for layer in synaptic:  # a layer's scale (weights and bias together) cancels in its normalisation
            layer.weight.mul_(7.0)
            layer.bias.mul_(7.0)
    assert (net.simulate(x) != spikes).float().mean() < 0.01  # equal up to a spike at the threshold (eps)
    net.simulate(x).sum().backward()
    norms = [p for name, p in net.named_parameters() if "norm" in name]
    assert len(norms) == 2 * len(synaptic) and all(p.grad is not None for p in norms)


@pytest.mark.parametrize("input_gain", [None, 12.0])
def test_input_gain_sets_the_first_layers_initial_scale_only(input_gain):
    """Orthogonal rows (fewer rows than inputs) have norm ``gain``: the first layer's ``input_gain`` (default:
    ``init_gain``), every other layer's ``init_gain``; biases start at 0."""
    torch.manual_seed(0)
    cnn = SpikingNatureCNN(IMAGE, features_dim=16, init_gain=3.0, input_gain=input_gain)
    first = 3.0 if input_gain is None else input_gain
    assert cnn.input_gain == first and cnn.input_layer() is cnn.conv1
    for layer, gain in ((cnn.conv1, first), (cnn.conv2, 3.0), (cnn.conv3, 3.0)):
        rows = layer.weight.flatten(1)
        torch.testing.assert_close(rows @ rows.T, gain ** 2 * torch.eye(len(rows)), atol=1e-3, rtol=1e-4)
        assert not layer.bias.any()
    mlp = SpikingMlp(gym.spaces.Box(-1, 1, (40,)), hidden=(8, 4), init_gain=2.0, input_gain=input_gain)
    for layer, gain in ((mlp.linears[0], 2.0 if input_gain is None else input_gain), (mlp.linears[1], 2.0)):
        torch.testing.assert_close(layer.weight @ layer.weight.T, gain ** 2 * torch.eye(len(layer.weight)),
                                   atol=1e-3, rtol=1e-4)


def test_readout_weights_formulas():
    torch.testing.assert_close(readout_weights(4, "spike_rate", 5.0, 1.0), torch.full((4,), 0.25))
    torch.testing.assert_close(readout_weights(4, "membrane", math.inf, 1.0), torch.full((4,), 0.25))
    w = readout_weights(3, "membrane", 2.0, 1.0)
    b = math.exp(-0.5)
    torch.testing.assert_close(w, torch.tensor([b * b, b, 1.0]) / (1 + b + b * b))


def test_gradients_reach_every_synaptic_layer():
    torch.manual_seed(0)
    cnn = SpikingNatureCNN(IMAGE, features_dim=16, time_steps=4)
    cnn(torch.rand(4, *IMAGE.shape)).sum().backward()
    for name, p in cnn.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_probing_records_spikes_and_membranes_without_changing_the_output():
    torch.manual_seed(0)
    mlp = SpikingMlp(gym.spaces.Box(-1, 1, (3,)), hidden=(8, 6), time_steps=5)
    x = torch.randn(4, 3) * 3
    plain = mlp(x)
    with mlp.probing() as probes:
        probed = mlp(x)
    torch.testing.assert_close(probed, plain)
    assert set(probes) == {"lif1", "lif2"}
    assert probes["lif1"]["v"].shape == (5, 4, 8) and probes["lif2"]["spikes"].shape == (5, 4, 6)
    v, spikes = probes["lif1"]["v"], probes["lif1"]["spikes"]
    assert 0 < spikes.mean() < 1
    assert (v[spikes == 0] < 1.0).all()  # silent: below threshold
    assert (v[spikes == 1] >= 0.0).all()  # fired at v >= 1, then lowered by the threshold (soft reset)


@pytest.mark.parametrize("kwargs, message", [
    (dict(time_steps=0), "time_steps"), (dict(encoding="rate"), "encoding"), (dict(readout="max"), "readout"),
    (dict(surrogate="relu"), "surrogate"), (dict(tau_out_ms=0.0), "tau_out_ms"),
    (dict(normalization="batch"), "normalization"), (dict(input_gain=0.0), "input_gain"),
    (dict(init_gain=float("nan")), "init_gain")])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SpikingMlp(gym.spaces.Box(-1, 1, (3,)), **kwargs)


def test_nature_cnn_refuses_small_images():
    with pytest.raises(ValueError, match="too small"):
        SpikingNatureCNN(gym.spaces.Box(0, 255, (1, 20, 20), np.uint8))
