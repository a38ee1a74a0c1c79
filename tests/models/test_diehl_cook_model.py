"""Diehl & Cook (2015) model: wiring, the presentation protocol, and the batched/online equivalences."""

import math

import pytest
import torch

from spikerl import Dense, PostPre, TraceParams
from spikerl.models import DiehlAndCook2015, DiehlAndCookParams, PackedSpikes
from spikerl.models.diehl_cook.fused import batch_presentation, library, stdp_update
from spikerl.plasticity import presentation_stdp_update
from spikerl.neurons import LIF, AdaptiveLIF, Input


def fused_batch(model, **kwargs):
    """The fused batch kernel on the model's tensors and constants."""
    return batch_presentation(model.fused_weights(), model.fused_params(), model.params.steps, **kwargs)


def random_train(steps, batch, n, p, seed):
    return torch.rand(steps, batch, n, generator=torch.Generator().manual_seed(seed)) < p


def sparse_images(batch, seed, density=0.2):
    """Intensities in [0, 1] with about ``density`` of the pixels lit, like MNIST."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 784, generator=g) * (torch.rand(batch, 784, generator=g) < density)


def test_wiring_matches_the_paper():
    n = 7
    model = DiehlAndCook2015(n_neurons=n, generator=torch.Generator().manual_seed(0))
    p = model.params
    assert [type(model.layers[k]) for k in ("X", "Ae", "Ai")] == [Input, AdaptiveLIF, LIF]
    assert model.layers["X"].shape == (784,) and model.layers["Ae"].shape == (n,) == model.layers["Ai"].shape
    assert set(model.connections) == {"X->Ae", "Ae->Ai", "Ai->Ae"} and set(model.rules) == {"X->Ae"}
    assert all(isinstance(c, Dense) for c in model.connections.values())
    rule = model.rules["X->Ae"]
    assert isinstance(rule, PostPre) and (rule.nu_pre, rule.nu_post) == (1e-4, 1e-2)
    assert rule.pre_trace == rule.post_trace == TraceParams(20.0, "nearest")
    w = model.input_weights
    assert w.shape == (784, n) and w.min() >= 0 and w.max() <= 1
    torch.testing.assert_close(w.sum(0), torch.full((n,), 78.4))
    eye = torch.eye(n, dtype=torch.bool)
    exc_inh, inh_exc = model.connections["Ae->Ai"].w, model.connections["Ai->Ae"].w
    assert torch.equal(exc_inh, torch.where(eye, 22.5, 0.0))
    assert torch.equal(inh_exc.diagonal(), torch.zeros(n))            # no self-inhibition
    assert torch.equal(inh_exc[~eye], torch.full((n * n - n,), -120.0))
    ae = model.layers["Ae"].params
    # the paper code's threshold -52 mV with its 20 mV offset, and theta starting at 20 mV
    assert ae.v_thresh_mv + p.theta_init_mv == -52.0 and torch.equal(model.theta, torch.full((n,), 20.0))
    assert (ae.v_rest_mv, ae.v_reset_mv, ae.tau_mem_ms, ae.refractory_ms) == (-65.0, -65.0, 100.0, 5.0)
    ai = model.layers["Ai"].params
    assert (ai.v_rest_mv, ai.v_reset_mv, ai.v_thresh_mv, ai.tau_mem_ms, ai.refractory_ms) == (-60, -45, -40, 10, 2)
    assert p.steps == 350 and p.intensity_hz == 255 / 4 and p.intensity_step_hz == 255 / 8


@pytest.mark.parametrize("bad, match", [(dict(n_neurons=0), "n_neurons"), (dict(inh_to_exc_mv=5.0), "inh_to_exc"),
                                        (dict(time_ms=0.2), "time_ms"), (dict(trace_mode="x"), "trace_mode"),
                                        (dict(nu_post=-1.0), "nu_post")])
def test_bad_parameters_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        DiehlAndCookParams(**bad)


def test_input_current_is_the_delayed_dense_product():
    model = DiehlAndCook2015(n_neurons=5, generator=torch.Generator().manual_seed(0))
    train = random_train(20, 3, 784, 0.05, 2)
    current = model.input_current(PackedSpikes.from_dense(train))
    expected = torch.cat([torch.zeros(1, 3, 5), train[:-1].float() @ model.input_weights])
    torch.testing.assert_close(current, expected)


def test_frozen_batched_simulation_equals_the_step_by_step_network():
    torch.set_default_dtype(torch.float64)
    try:
        model = DiehlAndCook2015(n_neurons=10, generator=torch.Generator().manual_seed(0), time_ms=120.0)
        packed = model.encode(sparse_images(4, 5), 255.0, generator=torch.Generator().manual_seed(6))
        batched = model.simulate_frozen(packed)
        assert batched.sum() > 10
        dense = packed.to_dense(784)
        for b in range(4):  # one sample at a time through the full network, step by step
            model.reset(1)
            alone = model.run({"X": dense[:, b:b + 1]}, learning=False, fast=False, record=["Ae.spikes"])
            assert torch.equal(alone["Ae.spikes"][:, 0], batched[:, b])
    finally:
        torch.set_default_dtype(torch.float32)


def test_online_presentation_changes_weights_by_the_stdp_sum():
    model = DiehlAndCook2015(n_neurons=6, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # weights away from the bounds, so that no clamping happens
        model.input_weights.copy_(0.05 + 0.1 * torch.rand(784, 6, generator=torch.Generator().manual_seed(1)))
        model.connections["X->Ae"].normalize()
    before, theta0 = model.input_weights.clone(), model.theta.clone()
    x = torch.zeros(1, 784)
    x[0, 300:400] = 1.0
    packed = model.encode(x, 200.0, generator=torch.Generator().manual_seed(2))
    post = model.learn_online(packed)
    spiking = post[:, 0].any(0)
    assert spiking.any() and not spiking.all()
    dw = presentation_stdp_update(packed, post, model.rules["X->Ae"], 784)
    assert torch.equal(dw[:300], torch.zeros(300, 6)) and torch.equal(dw[400:], torch.zeros(384, 6))
    assert (dw[300:400, spiking].sum(0) > 0).all()       # potentiation from the active pixels wins
    raw = before + dw
    torch.testing.assert_close(model.input_weights, raw * (78.4 / raw.sum(0)), rtol=1e-5, atol=1e-7)
    # silent neurons keep their weights; inactive pixels are only rescaled by the normalisation
    torch.testing.assert_close(model.input_weights[:, ~spiking], before[:, ~spiking])
    # thresholds rose by theta_plus per spike (decay over 350 + 150 ms with tau 1e7 ms is below 1e-4)
    counts = post[:, 0].sum(0).float()
    torch.testing.assert_close(model.theta, theta0 + 0.05 * counts, rtol=1e-4, atol=1e-3)


def test_batched_learning_applies_the_summed_update_and_thresholds():
    model = DiehlAndCook2015(n_neurons=6, generator=torch.Generator().manual_seed(0))
    before, theta0 = model.input_weights.clone(), model.theta.clone()
    packed = model.encode(sparse_images(5, 1), 150.0, generator=torch.Generator().manual_seed(2))
    expected_post = model.simulate_frozen(packed)
    post = model.learn_batched(packed)
    assert torch.equal(post, expected_post)
    raw = (before + presentation_stdp_update(packed, post, model.rules["X->Ae"], 784)).clamp(0, 1)
    torch.testing.assert_close(model.input_weights, raw * (78.4 / raw.sum(0)))
    elapsed = 5 * (350 + 150)
    torch.testing.assert_close(model.theta, theta0 * math.exp(-elapsed / 1e7) + 0.05 * post.sum((0, 1)).float())


def test_silent_images_are_shown_again_with_more_intensity():
    model = DiehlAndCook2015(n_neurons=4, max_boosts=3, time_ms=20.0)
    blank = torch.zeros(2, 784, dtype=torch.uint8)
    out = model.present(blank, learning=False)
    assert torch.equal(out.shown, torch.tensor([4, 4]))
    torch.testing.assert_close(out.intensity_hz, torch.full((2,), 63.75 + 3 * 31.875))
    assert torch.equal(out.counts, torch.zeros(2, 4))
    once = DiehlAndCook2015(n_neurons=4, min_spikes=0, time_ms=20.0).present(blank)
    assert torch.equal(once.shown, torch.tensor([1, 1]))


def test_save_load_gives_identical_predictions(tmp_path):
    model = DiehlAndCook2015(n_neurons=8, generator=torch.Generator().manual_seed(0), time_ms=100.0)
    images = (torch.rand(6, 28, 28, generator=torch.Generator().manual_seed(1)) * 255).to(torch.uint8)
    model.present(images, learning=True, mode="batched", generator=torch.Generator().manual_seed(2))
    model.save(tmp_path / "dc.pt", extra={"epoch": 1}, tensors={"rng": torch.arange(3)})
    assert torch.load(tmp_path / "dc.pt", weights_only=True)["format"] == "spikerl.diehl_cook/1"
    loaded, extra, tensors = DiehlAndCook2015.load(tmp_path / "dc.pt")
    assert extra == {"epoch": 1} and torch.equal(tensors["rng"], torch.arange(3))
    assert loaded.params == model.params
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    a = model.present(images, generator=torch.Generator().manual_seed(3))
    b = loaded.present(images, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a.counts, b.counts) and a.counts.sum() > 0


def test_foreign_checkpoint_is_refused(tmp_path):
    torch.save({"x": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a Diehl & Cook checkpoint"):
        DiehlAndCook2015.load(tmp_path / "other.pt")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fused_online_presentation_equals_the_network_path(dtype):
    if library() is None:
        pytest.skip("no C compiler: the fused kernel is not used")
    fused = DiehlAndCook2015(n_neurons=12, generator=torch.Generator().manual_seed(0)).to(dtype)
    reference = DiehlAndCook2015(n_neurons=12, generator=torch.Generator().manual_seed(0)).to(dtype)
    images = sparse_images(3, 1).to(dtype)
    total = 0
    for b in range(3):
        packed = fused.encode(images[b:b + 1], 128.0, generator=torch.Generator().manual_seed(10 + b))
        a, r = fused.learn_online(packed, fused=True), reference.learn_online(packed, fused=False)
        assert torch.equal(a, r)
        total += int(a.sum())
    assert total > 10
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fused.input_weights, reference.input_weights, **tol)
    torch.testing.assert_close(fused.theta, reference.theta, **tol)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("threads", [1, 2])
def test_fused_frozen_batch_equals_the_network_path(dtype, threads):
    if library() is None:
        pytest.skip("no C compiler: the fused kernel is not used")
    model = DiehlAndCook2015(n_neurons=50, generator=torch.Generator().manual_seed(0), time_ms=200.0).to(dtype)
    with torch.no_grad():
        model.theta.copy_(20 + 4 * torch.rand(50, generator=torch.Generator().manual_seed(3)))
    packed = model.encode(sparse_images(90, 1).to(dtype), 150.0, generator=torch.Generator().manual_seed(2))
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        fused = model.simulate_frozen(packed, fused=True)
    finally:
        torch.set_num_threads(before)
    reference = model.simulate_frozen(packed, fused=False)
    assert fused.sum() > 90 and torch.equal(fused, reference)


@pytest.mark.parametrize("trace_mode", ["nearest", "additive"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fused_stdp_sum_equals_the_torch_formula(trace_mode, dtype):
    if library() is None:
        pytest.skip("no C compiler: the fused kernel is not used")
    model = DiehlAndCook2015(n_neurons=9, trace_mode=trace_mode, tau_pre_ms=7.0, tau_post_ms=13.0,
                             nu_pre=3e-3).to(dtype)
    packed = PackedSpikes.from_dense(random_train(80, 5, 784, 0.01, 7))
    post = random_train(80, 5, 9, 0.03, 8)
    fused = stdp_update(packed, post, model.fused_weights(), model.fused_params())
    reference = presentation_stdp_update(packed, post, model.rules["X->Ae"], 784, dtype=dtype)
    assert fused.dtype == dtype and (fused != 0).sum() > 100
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(fused, reference, **tol)


@pytest.mark.parametrize("fused", [True, False])
def test_batched_update_is_applied_chunk_by_chunk(fused):
    model = DiehlAndCook2015(n_neurons=6, stdp_chunk=2, generator=torch.Generator().manual_seed(0))
    w = model.input_weights.clone()
    packed = model.encode(sparse_images(5, 1), 150.0, generator=torch.Generator().manual_seed(2))
    post = model.learn_batched(packed, fused=fused)
    rule = model.rules["X->Ae"]
    for start in (0, 2, 4):  # chunks of samples [0, 1], [2, 3], [4]
        part = PackedSpikes(packed.index[start:start + 2], packed.spikes[:, start:start + 2])
        raw = (w + presentation_stdp_update(part, post[:, start:start + 2], rule, 784)).clamp(0, 1)
        w = raw * (78.4 / raw.sum(0))
    torch.testing.assert_close(model.input_weights, w)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fused_batch_with_given_trains_equals_the_torch_path(dtype):
    """batch_presentation on given trains: the same spikes as the network's path, and per-chunk STDP sums
    equal to presentation_stdp_update's."""
    if library() is None:
        pytest.skip("no C compiler: the fused kernel is not used")
    model = DiehlAndCook2015(n_neurons=30, time_ms=120.0, generator=torch.Generator().manual_seed(0)).to(dtype)
    packed = model.encode(sparse_images(7, 4).to(dtype), 200.0, generator=torch.Generator().manual_seed(5))
    out = fused_batch(model, spikes=packed, learning=True, chunk=3, record=True, count_inputs=True)
    reference = model.simulate_frozen(packed, fused=False)
    assert reference.sum() > 30 and torch.equal(out.spikes, reference)
    assert torch.equal(out.counts, reference.sum(0))
    dense = packed.to_dense(784)
    assert torch.equal(out.input_counts, dense.sum(0))
    assert out.dw.shape == (3, 784, 30)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-4, atol=1e-6)
    for c, start in enumerate((0, 3, 6)):
        part = PackedSpikes(packed.index[start:start + 3], packed.spikes[:, start:start + 3])
        expected = presentation_stdp_update(part, reference[:, start:start + 3], model.rules["X->Ae"], 784,
                                            dtype=dtype)
        assert (expected != 0).sum() > 100
        torch.testing.assert_close(out.dw[c], expected, **tol)


def test_fused_batch_draws_bernoulli_trains_of_the_given_probabilities():
    """Drawn trains: each input's count over T steps is Binomial(T, p) (mean and variance), p = 0 never
    spikes, p = 1 spikes at every step; results depend on the seed only, not on the number of threads."""
    if library() is None:
        pytest.skip("no C compiler: the fused kernel is not used")
    model = DiehlAndCook2015(n_neurons=10, time_ms=200.0)
    steps, samples = 200, 300
    p = torch.linspace(0, 1, 784).repeat(samples, 1)
    out = fused_batch(model, prob=p, generator=torch.Generator().manual_seed(0), count_inputs=True)
    counts = out.input_counts.double()
    q = p[0].double()
    assert torch.equal(counts[:, 0], torch.zeros(samples)) and torch.equal(counts[:, -1], torch.full((samples,), 200.0))
    mean_z = (counts.mean(0) - steps * q) / (steps * q * (1 - q) / samples).sqrt()
    assert mean_z[1:-1].abs().max() < 4.5 and mean_z[1:-1].abs().mean() < 1.0     # |z| of a standard normal: 0.8
    var_ratio = counts.var(0)[1:-1] / (steps * q * (1 - q))[1:-1]
    assert abs(var_ratio.mean() - 1) < 0.02                                       # a renewal process off Bernoulli fails
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        again = fused_batch(model, prob=p, generator=torch.Generator().manual_seed(0), count_inputs=True)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(again.input_counts, out.input_counts) and torch.equal(again.counts, out.counts)


def test_fused_batch_rejects_bad_input():
    if library() is None:
        pytest.skip("no C compiler: the fused kernel is not used")
    model = DiehlAndCook2015(n_neurons=4, time_ms=20.0)
    with pytest.raises(ValueError, match="exactly one"):
        fused_batch(model)
    with pytest.raises(ValueError, match=r"\[B, 784\]"):
        fused_batch(model, prob=torch.zeros(2, 10))
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        fused_batch(model, prob=torch.full((2, 784), float("nan")))
    packed = model.encode(sparse_images(2, 0), 100.0)
    with pytest.raises(ValueError, match="20 steps"):
        fused_batch(model, spikes=PackedSpikes(packed.index, packed.spikes[:5]))
