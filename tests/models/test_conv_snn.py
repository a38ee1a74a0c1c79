"""ConvSNN: shapes of the time-major signals, direct encoding computed once, gradients, config, errors."""

from __future__ import annotations

import pytest
import torch

from spikerl.models import ConvSNN, ConvSNNConfig, mnist_to_input
from spikerl.neurons import LIF, LIFParams, SurrogateSpike


@pytest.fixture
def images() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(5, 1, 28, 28)


def test_simulate_returns_time_major_binary_trains(images):
    model = ConvSNN(time_steps=3, channels=(4, 8))
    out = model.simulate(images)
    h1 = (28 - 5 + 1) // 2  # 12
    h2 = (h1 - 5 + 1) // 2  # 4
    assert model.cfg.pooled_size(1) == h1 and model.cfg.pooled_size(2) == h2
    assert out["spikes1"].shape == (3, 5, 4, h1, h1)
    assert out["spikes2"].shape == (3, 5, 8, h2, h2)
    assert out["features"].shape == (3, 5, 8 * h2 * h2) == (3, 5, model.cfg.n_features)
    assert torch.equal(out["features"], out["spikes2"].flatten(2))
    assert out["logits"].shape == (5, 10)
    for name in ("spikes1", "spikes2", "features"):
        assert set(out[name].unique().tolist()) <= {0.0, 1.0}, name
    assert 0 < out["spikes1"].mean() < 1 and 0 < out["spikes2"].mean() < 1


def test_logits_are_the_readout_of_the_mean_feature_rate(images):
    """Non-leaky integrator read at T and divided by T: logits = W mean_t(r_t) + b = mean_t(W r_t + b)."""
    model = ConvSNN(time_steps=4, channels=(4, 8))
    model.eval()
    with torch.no_grad():
        out = model.simulate(images)
        per_step = model.readout(out["features"])  # [T, B, 10]
        torch.testing.assert_close(out["logits"], per_step.mean(0))
        torch.testing.assert_close(model(images), out["logits"])


def test_first_conv_runs_once_and_second_conv_once_on_all_steps(images):
    model = ConvSNN(time_steps=6, channels=(4, 8))
    calls: dict[str, list[int]] = {"conv1": [], "conv2": []}
    model.conv1.register_forward_hook(lambda m, i, o: calls["conv1"].append(i[0].shape[0]))
    model.conv2.register_forward_hook(lambda m, i, o: calls["conv2"].append(i[0].shape[0]))
    model(images)
    assert calls == {"conv1": [5], "conv2": [6 * 5]}


def test_layer1_current_is_the_same_at_every_step(images):
    """Direct encoding: layer 1 integrates the constant current I = maxpool(conv1(x)), so without leak and
    with a soft reset its spike count over T steps is floor(T * I / theta) wherever I >= 0."""
    model = ConvSNN(time_steps=7, channels=(4, 8), tau_mem_ms=float("inf"), batch_norm=False)
    model.eval()
    with torch.no_grad():
        current = torch.nn.functional.max_pool2d(model.conv1(images), 2).double()
        counts = model.simulate(images)["spikes1"].sum(0).double()
    expected = torch.floor(7 * current.clamp_min(0) / 1.0)
    near_edge = ((7 * current) - torch.round(7 * current)).abs() < 1e-4  # float32 rounding at integer edges
    assert near_edge.float().mean() < 0.01
    assert torch.equal(counts[~near_edge], expected[~near_edge])
    assert counts.max() >= 2  # the check covers neurons that fire repeatedly


def test_gradients_reach_every_parameter(images):
    model = ConvSNN(time_steps=4, channels=(4, 8))
    loss = torch.nn.functional.cross_entropy(model(images), torch.tensor([0, 1, 2, 3, 4]))
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_batch_rows_are_independent_in_eval_mode(images):
    model = ConvSNN(time_steps=4, channels=(4, 8))
    model.eval()
    with torch.no_grad():
        together = model(images)
        alone = torch.cat([model(images[i:i + 1]) for i in range(len(images))])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-5)


def test_predict_chunks_and_restores_training_mode(images):
    model = ConvSNN(time_steps=3, channels=(4, 8))
    model.train()
    pred = model.predict(images, batch_size=2)
    assert model.training
    model.eval()
    with torch.no_grad():
        assert torch.equal(pred, model(images).argmax(1))
    assert pred.dtype == torch.int64 and pred.shape == (5,)


def test_config_round_trip_and_state_dict_reload(images):
    model = ConvSNN(time_steps=5, channels=(3, 6), surrogate="arctan", slope=1.5, tau_mem_ms=8.0)
    config = model.config()
    assert config["type"] == "ConvSNN" and config["channels"] == [3, 6]
    twin = ConvSNN.from_config(config)
    assert twin.cfg == model.cfg
    twin.load_state_dict(model.state_dict())
    model.eval(), twin.eval()
    with torch.no_grad():
        assert torch.equal(model(images), twin(images))
    with pytest.raises(ValueError, match="expected 'ConvSNN'"):
        ConvSNN.from_config({**config, "type": "Other"})


def test_neurons_are_the_engines_trainable_lif_and_hold_no_saved_state():
    """The LIF layers are LIF.trainable modules (no parameters, no persistent buffers), so the state_dict keys are
    those of the conv, norm and readout layers only: checkpoints written before the neurons became LIF load."""
    model = ConvSNN(channels=(3, 6), tau_mem_ms=8.0, v_thresh=0.5, surrogate="arctan", slope=1.5)
    for lif, shape in ((model.lif1, (3, 12, 12)), (model.lif2, (6, 4, 4))):
        assert isinstance(lif, LIF) and lif.shape == shape
        assert lif.params == LIFParams(v_rest_mv=0.0, v_reset_mv=0.0, v_thresh_mv=0.5, tau_mem_ms=8.0,
                                       refractory_ms=0.0, reset="subtract")
        assert lif.surrogate == SurrogateSpike("arctan", 1.5) and not lif.detach_reset
    norm = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert sorted(model.state_dict()) == sorted(["conv1.weight", "conv2.weight", "readout.weight", "readout.bias",
                                                 *[f"norm{i}.{k}" for i in (1, 2) for k in norm]])


def test_keyword_overrides_replace_config_fields():
    model = ConvSNN(ConvSNNConfig(time_steps=2), channels=(2, 3))
    assert model.cfg.time_steps == 2 and model.cfg.channels == (2, 3)
    assert model.lif1.params.v_thresh_mv == model.cfg.v_thresh
    assert ConvSNN(batch_norm=False).conv1.bias is not None


def test_mnist_to_input_scales_to_unit_interval():
    raw = torch.tensor([[[0, 51], [255, 102]]], dtype=torch.uint8)
    x = mnist_to_input(raw)
    assert x.shape == (1, 1, 2, 2) and x.dtype == torch.float32
    torch.testing.assert_close(x, raw.unsqueeze(1).float() / 255)
    with pytest.raises(ValueError, match=r"expected images of shape \[N, H, W\]"):
        mnist_to_input(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(TypeError, match="uint8"):
        mnist_to_input(torch.zeros(2, 28, 28, dtype=torch.int32))


def test_errors_are_clear():
    model = ConvSNN(channels=(2, 3))
    with pytest.raises(ValueError, match=r"expected images of shape \[B, 1, 28, 28\], got \[2, 28, 28\]"):
        model(torch.zeros(2, 28, 28))
    with pytest.raises(TypeError, match="floating point"):
        model(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match="time_steps must be a positive int"):
        ConvSNNConfig(time_steps=0)
    with pytest.raises(ValueError, match="channels must be two positive ints"):
        ConvSNNConfig(channels=(4,))
    with pytest.raises(ValueError, match="too small"):
        ConvSNNConfig(image_size=12)
    with pytest.raises(ValueError, match="unknown surrogate"):
        ConvSNNConfig(surrogate="step")
    with pytest.raises(ValueError, match="v_thresh must be a positive number, got 0.0"):
        ConvSNNConfig(v_thresh=0.0)
