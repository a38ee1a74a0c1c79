"""Label clamping (spikerl.models.label_clamp): groups, the clamp, gated plasticity, thresholds, checkpoints."""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.models import DiehlAndCook2015
from spikerl.models.label_clamp import (
    LabelClampClassifier,
    LabelClampParams,
    class_groups,
    clamp_train,
    label_members,
)

N_IN, N, STEPS = 16, 10, 40


def small_model(seed: int = 0, **overrides) -> DiehlAndCook2015:
    settings = dict(n_inputs=N_IN, n_neurons=N, time_ms=float(STEPS), norm=N_IN * 0.1, max_boosts=2)
    settings.update(overrides)
    return DiehlAndCook2015(generator=torch.Generator().manual_seed(seed), **settings)


def blank(batch: int) -> torch.Tensor:
    return torch.zeros(batch, N_IN)


# --- class groups -----------------------------------------------------------------------------------------
def test_groups_are_contiguous_blocks_of_equal_size():
    groups = class_groups(100, 10)
    assert torch.equal(groups, torch.arange(100) // 10)
    assert torch.equal(torch.bincount(groups), torch.full((10,), 10))


@pytest.mark.parametrize("n", [10, 13, 25, 99])
def test_groups_follow_the_formula_and_differ_by_at_most_one(n):
    groups = class_groups(n, 10)
    assert groups.tolist() == [i * 10 // n for i in range(n)]
    sizes = torch.bincount(groups, minlength=10)
    assert int(sizes.min()) == n // 10 and int(sizes.max()) == math.ceil(n / 10)
    assert bool((groups[1:] >= groups[:-1]).all())  # non-decreasing: blocks


def test_fewer_neurons_than_classes_is_an_error():
    with pytest.raises(ValueError, match="at least one neuron per class"):
        class_groups(9, 10)
    with pytest.raises(ValueError, match="n_neurons"):
        class_groups(0, 10)


def test_label_members_marks_the_label_group():
    groups = class_groups(20, 10)
    members = label_members(torch.tensor([0, 7]), groups, 10)
    assert members.shape == (2, 20)
    assert members[0].nonzero().squeeze(1).tolist() == [0, 1]
    assert members[1].nonzero().squeeze(1).tolist() == [14, 15]
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        label_members(torch.tensor([10]), groups, 10)
    with pytest.raises(ValueError, match="integer tensor"):
        label_members(torch.tensor([1.0]), groups, 10)


# --- params and the clamp train -------------------------------------------------------------------------
def test_params_validate_and_convert_rate_to_probability():
    assert LabelClampParams(clamp_rate_hz=40.0).clamp_prob(0.5) == pytest.approx(40.0 * 0.5 / 1000)
    with pytest.warns(RuntimeWarning, match="clamp_rate_hz = 5000 Hz exceeds 1000 / dt = 1000 Hz"):
        assert LabelClampParams(clamp_rate_hz=5000.0).clamp_prob(1.0) == 1.0  # saturated
    with pytest.raises(ValueError, match="clamp_rate_hz"):
        LabelClampParams(clamp_rate_hz=-1.0)
    with pytest.raises(ValueError, match="n_classes"):
        LabelClampParams(n_classes=0)
    with pytest.raises(TypeError, match="gate_plasticity"):
        LabelClampParams(gate_plasticity=1)


def test_clamp_train_spikes_only_members_at_the_given_rate():
    members = torch.zeros(4, 50, dtype=torch.bool)
    members[:, :25] = True
    p, steps = 0.2, 400
    train = clamp_train(members, p, steps, torch.Generator().manual_seed(0))
    assert train.shape == (steps, 4, 50) and train.dtype == torch.bool
    assert not bool(train[:, ~members].any())
    trials = steps * int(members.sum())
    rate = train[:, members].float().mean().item()
    assert abs(rate - p) < 5 * math.sqrt(p * (1 - p) / trials)


# --- the clamp during training, and not at test ---------------------------------------------------------
def test_clamp_forces_every_label_neuron_to_spike_at_every_step():
    clf = LabelClampClassifier(small_model(), clamp_rate_hz=1000.0)  # probability 1 per 1 ms step
    labels = torch.tensor([2, 9, 2])
    out = clf.learn(blank(3), labels, torch.Generator().manual_seed(0))
    members = label_members(labels, clf.groups, 10)
    # blank images give no input current: every spike is forced, one per step per label neuron
    assert torch.equal(out.counts, members.float() * STEPS)
    assert torch.equal(out.forced, out.counts)
    assert float(out.natural.sum()) == 0.0


def test_clamp_spikes_drive_lateral_inhibition_that_quiets_the_other_neurons():
    # Strong input makes every neuron fire when nothing is clamped. A label neuron clamped from step 0 drives
    # its inhibitory partner (which fires at step 1), whose -120 mV inhibition then keeps the others quiet.
    labels = torch.tensor([4, 4])
    members = label_members(labels, class_groups(N, 10), 10)
    counts = {}
    for rate in (0.0, 1000.0):
        clf = LabelClampClassifier(small_model(intensity_hz=500.0), clamp_rate_hz=rate)
        counts[rate] = clf.learn(torch.ones(2, N_IN), labels, torch.Generator().manual_seed(1)).counts
    assert float(counts[0.0][~members].sum()) > 0
    assert torch.equal(counts[1000.0][members], torch.full((int(members.sum()),), float(STEPS)))
    assert float(counts[1000.0][~members].sum()) == 0.0


def test_silence_others_keeps_other_groups_quiet_even_when_driven():
    model = small_model(inh_to_exc_mv=0.0, exc_to_inh_mv=0.0, one_spike=False, theta_init_mv=0.0)
    clf = LabelClampClassifier(model, clamp_rate_hz=0.0, silence_others=True)
    out = clf.learn(torch.ones(2, N_IN), torch.tensor([1, 6]), torch.Generator().manual_seed(0))
    members = label_members(torch.tensor([1, 6]), clf.groups, 10)
    assert float(out.counts[~members].sum()) == 0.0
    assert bool((out.counts[members] > 0).all())       # the label neurons run free and fire
    free = LabelClampClassifier(small_model(inh_to_exc_mv=0.0, exc_to_inh_mv=0.0, one_spike=False,
                                            theta_init_mv=0.0), clamp_rate_hz=0.0)
    assert float(free.learn(torch.ones(2, N_IN), torch.tensor([1, 6]),
                            torch.Generator().manual_seed(0)).counts[~members].sum()) > 0


def test_test_time_runs_free_without_clamp():
    clf = LabelClampClassifier(small_model(), clamp_rate_hz=1000.0)
    clf.learn(blank(2), torch.tensor([3, 5]), torch.Generator().manual_seed(0))
    # no input, no clamp: nothing spikes, no class is predicted
    assert float(clf.responses(blank(4)).sum()) == 0.0
    assert clf.predict(blank(4)).tolist() == [-1] * 4
    # with input, the responses are exactly the plain (unclamped, frozen) Diehl & Cook presentation
    images = torch.rand(5, N_IN, generator=torch.Generator().manual_seed(2))
    expected = clf.model.present(images, learning=False, generator=torch.Generator().manual_seed(7)).counts
    assert torch.equal(clf.responses(images, generator=torch.Generator().manual_seed(7)), expected)


def test_prediction_is_the_group_with_the_highest_mean_count():
    clf = LabelClampClassifier(small_model())
    counts = torch.zeros(2, N)
    counts[0, 7] = 3.0           # neuron 7 is class 7
    counts[1, [2, 3]] = 1.0      # neurons 2 and 3 are classes 2 and 3: a tie goes to the lower class
    assert clf.classify_counts(counts).tolist() == [7, 2]


# --- what learns ----------------------------------------------------------------------------------------
def test_only_the_label_group_weights_change():
    clf = LabelClampClassifier(small_model(), clamp_rate_hz=200.0)
    before = clf.model.input_weights.clone()
    images = torch.rand(4, N_IN, generator=torch.Generator().manual_seed(3))
    clf.learn(images, torch.tensor([5, 5, 5, 5]), torch.Generator().manual_seed(0))
    after = clf.model.input_weights
    label = clf.groups == 5
    assert torch.allclose(after[:, ~label], before[:, ~label], rtol=1e-6, atol=1e-7)
    assert not torch.allclose(after[:, label], before[:, label])
    assert torch.allclose(after.sum(0), torch.full((N,), clf.model.params.norm), rtol=1e-6)


def test_without_gating_driven_neurons_of_other_classes_learn_too():
    model = small_model(inh_to_exc_mv=0.0, exc_to_inh_mv=0.0, one_spike=False, theta_init_mv=0.0)
    clf = LabelClampClassifier(model, clamp_rate_hz=0.0, gate_plasticity=False)
    before = model.input_weights.clone()
    clf.learn(torch.ones(2, N_IN) * torch.linspace(0, 1, N_IN), torch.tensor([0, 0]),
              torch.Generator().manual_seed(0))
    others = clf.groups != 0
    assert not torch.allclose(model.input_weights[:, others], before[:, others])


@pytest.mark.parametrize("from_clamped", [False, True])
def test_thresholds_decay_and_rise_with_natural_or_all_spikes(from_clamped):
    model = small_model()
    p = model.params
    clf = LabelClampClassifier(model, clamp_rate_hz=250.0, theta_from_clamped=from_clamped)
    theta0 = model.theta.clone()
    batch = 3
    out = clf.learn(blank(batch), torch.tensor([0, 4, 4]), torch.Generator().manual_seed(5))
    assert float(out.forced.sum()) > 0 and float(out.natural.sum()) == 0.0
    decayed = theta0 * math.exp(-batch * (p.steps * p.dt_ms + p.rest_ms) / p.tau_theta_ms)
    rise = p.theta_plus_mv * out.forced.sum(0) if from_clamped else torch.zeros(N)
    assert torch.allclose(model.theta, decayed + rise, rtol=1e-6, atol=0.0)


def test_learn_checks_its_inputs():
    clf = LabelClampClassifier(small_model())
    with pytest.raises(ValueError, match="one label per image"):
        clf.learn(blank(2), torch.tensor([1]))
    with pytest.raises(TypeError, match="DiehlAndCook2015"):
        LabelClampClassifier(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="at least one neuron per class"):
        LabelClampClassifier(small_model(n_neurons=5))


# --- checkpoints --------------------------------------------------------------------------------------------
def test_save_load_gives_identical_predictions(tmp_path):
    clf = LabelClampClassifier(small_model(seed=4, intensity_hz=300.0), clamp_rate_hz=30.0)
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(40, N_IN, generator=torch.Generator().manual_seed(9))
    labels = torch.arange(40) % 10
    for start in range(0, 40, 10):
        clf.learn(images[start:start + 10], labels[start:start + 10], gen)
    path = tmp_path / "clamp.pt"
    clf.save(path, extra={"note": "x"}, tensors={"generator": gen.get_state()})
    loaded, extra, tensors = LabelClampClassifier.load(path)
    assert loaded.params == clf.params and extra == {"note": "x"}
    assert torch.equal(tensors["generator"], gen.get_state())
    assert torch.equal(loaded.model.input_weights, clf.model.input_weights)
    assert torch.equal(loaded.model.theta, clf.model.theta)
    counts = clf.responses(images, generator=torch.Generator().manual_seed(1))
    assert float(counts.sum()) > 0
    assert torch.equal(loaded.responses(images, generator=torch.Generator().manual_seed(1)), counts)
    assert torch.equal(loaded.predict(images, generator=torch.Generator().manual_seed(1)),
                       clf.predict(images, generator=torch.Generator().manual_seed(1)))


def test_loading_a_plain_diehl_cook_checkpoint_is_an_error(tmp_path):
    path = tmp_path / "dc.pt"
    small_model().save(path)
    with pytest.raises(ValueError, match="without label-clamp settings"):
        LabelClampClassifier.load(path)


def test_weight_update_is_applied_chunk_by_chunk_as_in_diehl_cook():
    from spikerl.encoding import PackedSpikes
    from spikerl.plasticity import presentation_stdp_update

    model = small_model(stdp_chunk=2, intensity_hz=300.0)
    clf = LabelClampClassifier(model)
    gen = torch.Generator().manual_seed(4)
    images = torch.rand(5, N_IN, generator=gen)
    spikes = model.encode(images, generator=gen)
    post = torch.rand(STEPS, 5, N, generator=gen) < 0.05
    conn, rule = model.connections["X->Ae"], model.rules["X->Ae"]
    expected = model.input_weights.clone()
    for start in (0, 2, 4):  # chunks of 2, 2 and 1 samples
        part = PackedSpikes(spikes.index[start:start + 2], spikes.spikes[:, start:start + 2])
        dw = presentation_stdp_update(part, post[:, start:start + 2], rule, N_IN, model.dt_ms)
        expected = (expected + dw).clamp(conn.wmin, conn.wmax)
        expected = expected * (model.params.norm / expected.sum(0, keepdim=True))
    clf._apply_stdp(spikes, post)
    assert torch.allclose(model.input_weights, expected, rtol=1e-5, atol=1e-6)
