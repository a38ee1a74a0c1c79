"""Training helpers of the Diehl & Cook model: running accuracy, evaluation, linear readout, resuming."""

import dataclasses

import pytest
import torch

from spikerl.models import DiehlAndCook2015
from spikerl.models.diehl_cook.training import RunningAccuracy, collect_counts, evaluate_counts, train_unsupervised
from spikerl.training import progress_from_dict
from spikerl.models.linear_readout import LinearReadout


def test_running_accuracy_uses_the_previous_block_assignment():
    # 3 neurons, 3 classes. Block 1: neuron k fires for class k -> assignment [0, 1, 2].
    running = RunningAccuracy(update_interval=3, n_neurons=3, n_classes=3)
    assert running.update(torch.eye(3) * 4, torch.tensor([0, 1, 2])) == []        # first block: nothing to score
    assert torch.equal(running.assignments, torch.tensor([0, 1, 2]))
    # Block 2 arrives in two pieces: responses say 0, 1, 1 (neuron 1 fires for the third) while labels are 0, 1, 2
    counts = torch.tensor([[5.0, 0, 0], [0, 2, 0], [0, 3, 1]])
    assert running.update(counts[:2], torch.tensor([0, 1])) == []
    done = running.update(counts[2:], torch.tensor([2]))
    assert done == [{"all_activity": pytest.approx(2 / 3), "proportion_weighting": pytest.approx(2 / 3)}]
    # the new assignment comes from block 2: neuron 1 fired 2 spikes for class 1 and 3 for class 2
    assert running.assignments.tolist() == [0, 2, 2]
    torch.testing.assert_close(running.proportions[1], torch.tensor([0.0, 0.4, 0.6]))


def test_running_accuracy_state_round_trip():
    a = RunningAccuracy(4, 2, 2)
    a.update(torch.tensor([[1.0, 0], [0, 1], [2, 0], [0, 3], [1, 0]]), torch.tensor([0, 1, 0, 1, 0]))
    b = RunningAccuracy(4, 2, 2)
    b.load_state_dict(a.state_dict())
    more_counts, more_labels = torch.tensor([[0.0, 2], [3, 0], [0, 1]]), torch.tensor([1, 1, 1])
    assert a.update(more_counts, more_labels) == b.update(more_counts, more_labels) != []


def test_evaluation_of_perfectly_selective_neurons():
    labels = torch.arange(10).repeat(5)
    counts = torch.nn.functional.one_hot(labels, 10).float() * 3          # neuron k fires only for class k
    result = evaluate_counts(counts, labels, counts[:10], labels[:10])
    assert result["all_activity"] == result["proportion_weighting"] == result["linear"] == 1.0
    assert torch.equal(result["assignments"], torch.arange(10))
    # a test set whose responses point to the wrong class scores 0 with the assignment schemes
    wrong = evaluate_counts(counts, labels, counts[:10].roll(1, dims=1), labels[:10])
    assert wrong["all_activity"] == wrong["proportion_weighting"] == 0.0


def test_linear_readout_separates_blobs():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 3, (300,), generator=g)
    centres = torch.tensor([[5.0, 0, 0, 1], [0, 5, 0, 1], [0, 0, 5, 1]])
    counts = centres[labels] + torch.randn(300, 4, generator=g)
    readout = LinearReadout(4, 3).fit(counts[:200], labels[:200])
    assert (readout.predict(counts[200:]) == labels[200:]).float().mean() > 0.95
    with pytest.raises(ValueError, match=r"expected counts of shape \[N, 4\]"):
        readout.predict(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="labels"):
        LinearReadout(4, 3).fit(counts, labels[:10])


def small_data(n=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = (torch.rand(n, 28, 28, generator=g) * (torch.rand(n, 28, 28, generator=g) < 0.2) * 255).to(torch.uint8)
    return images, torch.randint(0, 10, (n,), generator=g)


@pytest.mark.parametrize("mode, batch_size", [("batched", 8), ("online", 1)])
def test_resumed_training_equals_uninterrupted_training(tmp_path, mode, batch_size):
    images, labels = small_data()
    kwargs = dict(batch_size=batch_size, mode=mode, update_interval=8, seed=3, show_progress=False)

    def fresh():
        return DiehlAndCook2015(n_neurons=6, time_ms=60.0, generator=torch.Generator().manual_seed(1))

    straight, g = fresh(), torch.Generator().manual_seed(5)
    full = train_unsupervised(straight, images, labels, epochs=2, generator=g, **kwargs)
    assert full.samples == 48 and full.epoch == 2 and len(full.history) == 5

    first, g = fresh(), torch.Generator().manual_seed(5)
    running_holder = {}

    def checkpoint(progress, running):
        first.save(tmp_path / "ck.pt", extra={"progress": dataclasses.asdict(progress)},
                   tensors={"generator": g.get_state(), **{f"running.{k}": v for k, v in running.state_dict().items()}})
        running_holder["running"] = running

    half = train_unsupervised(first, images, labels, epochs=1, generator=g, checkpoint=checkpoint, **kwargs)
    assert half.samples == 24
    model, extra, tensors = DiehlAndCook2015.load(tmp_path / "ck.pt")
    g2 = torch.Generator().manual_seed(999)
    g2.set_state(tensors["generator"])
    running = RunningAccuracy(8, 6)
    running.load_state_dict({k[len("running."):]: v for k, v in tensors.items() if k.startswith("running.")})
    resumed = train_unsupervised(model, images, labels, epochs=2, generator=g2,
                                 progress=progress_from_dict(extra["progress"]), running=running, **kwargs)
    assert resumed.samples == 48 and resumed.history == full.history
    assert torch.equal(model.input_weights, straight.input_weights)
    assert torch.equal(model.theta, straight.theta)


def test_collect_counts_does_not_learn():
    images, _ = small_data(10)
    model = DiehlAndCook2015(n_neurons=5, time_ms=50.0)
    w, theta = model.input_weights.clone(), model.theta.clone()
    counts = collect_counts(model, images, batch_size=4)
    assert counts.shape == (10, 5) and counts.sum() > 0
    assert torch.equal(model.input_weights, w) and torch.equal(model.theta, theta)
