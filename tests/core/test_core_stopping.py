"""spikerl.stopping: signals become a stop request honoured between steps; run_guarded saves on stops and errors."""

from __future__ import annotations

import os
import signal

import pytest

from spikerl.stopping import StopRequest, run_guarded


def test_first_signal_requests_a_stop_second_stops_at_once_and_handlers_are_restored(capsys):
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with StopRequest() as stop:
        assert not stop and stop.exit_code is None and stop.signal_name is None
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop() and stop.signal_name == "SIGTERM" and stop.exit_code == 128 + signal.SIGTERM == 143
        with pytest.raises(KeyboardInterrupt, match="second SIGTERM"):
            os.kill(os.getpid(), signal.SIGTERM)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    assert "SIGTERM received: stopping after the current step" in capsys.readouterr().err


def test_sigint_exit_code_is_130():
    with StopRequest() as stop:
        os.kill(os.getpid(), signal.SIGINT)
    assert stop.exit_code == 130


def steps_until_stopped(stop: StopRequest, signal_at: int, log: list[int]) -> str:
    for step in range(100):
        log.append(step)
        if step == signal_at:
            os.kill(os.getpid(), signal.SIGTERM)
        if stop():
            return "stopped"
    return "finished"


def test_run_guarded_finishes_the_step_saves_and_exits_143():
    steps, saved = [], []
    with pytest.raises(SystemExit) as exit_info:
        run_guarded(lambda stop: steps_until_stopped(stop, 5, steps), saved.append)
    assert exit_info.value.code == 143
    assert steps == list(range(6)) and saved == ["interrupted by SIGTERM"]


def test_run_guarded_returns_the_result_without_saving_when_nothing_happens():
    saved = []
    assert run_guarded(lambda stop: steps_until_stopped(stop, -1, []), saved.append) == "finished"
    assert saved == []


def test_run_guarded_saves_on_an_exception_and_reraises_it():
    saved = []

    def failing(stop):
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_guarded(failing, saved.append)
    assert saved == ["stopped by ValueError"]


def test_run_guarded_turns_a_keyboard_interrupt_into_exit_130_after_saving():
    saved = []

    def interrupted(stop):
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as exit_info:
        run_guarded(interrupted, saved.append)
    assert exit_info.value.code == 130 and saved == ["stopped by KeyboardInterrupt"]
