"""scripts/eth_mnist.py and scripts/supervised_mnist.py never lose training.

A real SIGTERM is sent to this process from inside the k-th training step (the scripts run in-process, so the
signal arrives at a known step): the script finishes that step, saves, exits 143 and prints how to resume; the
resumed run then ends with exactly the weights of an uninterrupted run. An exception in a step saves the steps
before it and propagates. Unwritable and existing ``--save`` paths fail before training.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch
from script_helpers import load_script, needs_mnist

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def interrupt_at(monkeypatch, cls: type, method: str, step: int, counts, action: str) -> None:
    """Wrap ``cls.method`` so that its ``step``-th call counted by ``counts(args, kwargs)`` sends SIGTERM to this
    process right after the call (``action="sigterm"``) or raises instead of running (``action="raise"``)."""
    original = getattr(cls, method)
    seen = {"n": 0}

    def wrapper(self, *args, **kwargs):
        if counts(self, args, kwargs):
            seen["n"] += 1
            if seen["n"] == step and action == "raise":
                raise RuntimeError(f"simulated failure in training step {step}")
            out = original(self, *args, **kwargs)
            if seen["n"] == step:
                os.kill(os.getpid(), signal.SIGTERM)
            return out
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, method, wrapper)


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key


# --- eth_mnist.py -----------------------------------------------------------------------------------------------
ETH = ["--n_neurons", "10", "--n_train", "48", "--n_test", "10", "--n_assign", "10", "--time", "40",
       "--intensity", "128", "--batch_size", "8", "--update_interval", "16", "--seed", "1", "--threads", "1",
       "--no_progress"]


def learning_call(model, args, kwargs) -> bool:
    return bool(kwargs.get("learning"))


@needs_mnist
def test_eth_mnist_sigterm_saves_and_the_resumed_run_equals_the_uninterrupted_one(tmp_path, monkeypatch, capsys,
                                                                                one_thread):
    from spikerl.models import DiehlAndCook2015

    script = load_script("eth_mnist")
    whole, part = tmp_path / "whole.pt", tmp_path / "part.pt"
    script.main([*ETH, "--save", str(whole)])
    with monkeypatch.context() as patch:
        interrupt_at(patch, DiehlAndCook2015, "present", 3, learning_call, "sigterm")
        with pytest.raises(SystemExit) as exit_info:
            script.main([*ETH, "--save", str(part)])
    assert exit_info.value.code == 143
    err = capsys.readouterr().err
    assert "interrupted by SIGTERM after 24 training images" in err and f"--load {part}" in err
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is gone after training
    resumed = script.main([*ETH, "--save", str(part), "--load", str(part)])
    assert resumed["train_samples"] == 48 - 24
    assert_same_weights(whole, part)


@needs_mnist
def test_eth_mnist_exception_saves_the_steps_before_it_and_propagates(tmp_path, monkeypatch, capsys, one_thread):
    from spikerl.models import DiehlAndCook2015

    script = load_script("eth_mnist")
    part = tmp_path / "part.pt"
    interrupt_at(monkeypatch, DiehlAndCook2015, "present", 3, learning_call, "raise")
    with pytest.raises(RuntimeError, match="simulated failure"):
        script.main([*ETH, "--save", str(part)])
    assert "stopped by RuntimeError after 16 training images" in capsys.readouterr().err
    payload = torch.load(part, weights_only=True)
    assert '"samples": 16' in payload["extra"]


def test_eth_mnist_refuses_unwritable_and_existing_save_paths_before_training(tmp_path, capsys):
    script = load_script("eth_mnist")
    (tmp_path / "a_file").write_text("not a folder")
    with pytest.raises(SystemExit, match="cannot write checkpoints to .*a_file.*nothing trained"):
        script.main([*ETH, "--save", str(tmp_path / "a_file" / "dc.pt")])
    existing = tmp_path / "dc.pt"
    existing.write_bytes(b"an earlier run")
    with pytest.raises(SystemExit) as exit_info:
        script.main([*ETH, "--save", str(existing)])
    assert exit_info.value.code == 2 and "pass --overwrite" in capsys.readouterr().err
    assert existing.read_bytes() == b"an earlier run"


# --- supervised_mnist.py --method surrogate -----------------------------------------------------------------------
SURROGATE = ["--n_train", "192", "--n_test", "50", "--batch_size", "32", "--time", "2", "--channels", "4", "8",
             "--n_epochs", "2", "--threads", "1", "--no_progress", "--seed", "3"]


def training_forward(model, args, kwargs) -> bool:
    return model.training


@needs_mnist
def test_surrogate_sigterm_mid_epoch_then_resume_equals_the_uninterrupted_run(tmp_path, monkeypatch, capsys,
                                                                            one_thread):
    """SIGTERM in the 8th optimizer step (the 2nd of epoch 2, 6 steps per epoch): the checkpoint records 2
    batches of epoch 2 done, and the resumed run skips them."""
    from spikerl.models.conv_snn import ConvSNN

    script = load_script("supervised_mnist")
    whole, part = tmp_path / "whole.pt", tmp_path / "part.pt"
    script.main([*SURROGATE, "--save", str(whole)])
    with monkeypatch.context() as patch:
        interrupt_at(patch, ConvSNN, "forward", 8, training_forward, "sigterm")
        with pytest.raises(SystemExit) as exit_info:
            script.main([*SURROGATE, "--save", str(part)])
    assert exit_info.value.code == 143
    assert f"--load {part} --save {part}" in capsys.readouterr().err
    payload = torch.load(part, weights_only=True)
    assert (payload["epoch"], payload["step"], payload["batches_in_epoch"]) == (1, 8, 2)
    resumed = script.main([*SURROGATE, "--load", str(part), "--save", str(part)])
    assert "2 batches into epoch 2" in capsys.readouterr().err
    assert [h["epoch"] for h in resumed["history"]] == [2]
    assert torch.load(part, weights_only=True)["step"] == torch.load(whole, weights_only=True)["step"] == 12
    assert_same_weights(whole, part)


@needs_mnist
def test_surrogate_exception_saves_where_it_struck_and_propagates(tmp_path, monkeypatch, capsys, one_thread):
    from spikerl.models.conv_snn import ConvSNN

    script = load_script("supervised_mnist")
    part = tmp_path / "part.pt"
    interrupt_at(monkeypatch, ConvSNN, "forward", 4, training_forward, "raise")
    with pytest.raises(RuntimeError, match="simulated failure"):
        script.main([*SURROGATE, "--save", str(part)])
    assert f"stopped by RuntimeError: saved the checkpoint to {part}" in capsys.readouterr().err
    payload = torch.load(part, weights_only=True)
    assert (payload["epoch"], payload["step"], payload["batches_in_epoch"]) == (0, 3, 3)


# --- supervised_mnist.py --method clamp ---------------------------------------------------------------------------
CLAMP = ["--method", "clamp", "--n_train", "60", "--n_test", "20", "--batch_size", "20",
         "--time", "40", "--threads", "1", "--no_progress", "--seed", "2"]


@needs_mnist
def test_clamp_sigterm_then_resume_equals_the_uninterrupted_run(tmp_path, monkeypatch, capsys, one_thread):
    from spikerl.models.label_clamp import LabelClampClassifier

    script = load_script("supervised_mnist")
    whole, part = tmp_path / "whole.pt", tmp_path / "part.pt"
    script.main([*CLAMP, "--save", str(whole)])
    with monkeypatch.context() as patch:
        interrupt_at(patch, LabelClampClassifier, "learn", 2, lambda *a: True, "sigterm")
        with pytest.raises(SystemExit) as exit_info:
            script.main([*CLAMP, "--save", str(part)])
    assert exit_info.value.code == 143
    assert "interrupted by SIGTERM after 40 training images" in capsys.readouterr().err
    resumed = script.main([*CLAMP, "--load", str(part), "--save", str(part)])
    assert resumed["resumed_from_samples"] == 40 and resumed["samples_trained"] == 60
    assert_same_weights(whole, part)
