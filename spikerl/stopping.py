"""Stop requests: SIGINT (Ctrl-C) and SIGTERM become a flag that a training loop checks at a safe point.

A signal that raised an exception in the middle of a training step could leave weights half-updated and the
step counters behind them; a checkpoint written then would not continue exactly. :class:`StopRequest` instead
records the first signal and lets the loop finish its current step (a loop passes it as ``should_stop`` and
checks it between steps), so the checkpoint written afterwards is a clean point to resume from. A second
signal of the same kind stops at once by raising ``KeyboardInterrupt`` (the caller still saves what it has).

Exit statuses follow the shell's convention ``128 + signal number``: 130 for SIGINT, 143 for SIGTERM.
:func:`run_guarded` puts it together for a training script: stop requests and exceptions both save.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any, TypeVar

T = TypeVar("T")


class StopRequest:
    """Context manager that installs SIGINT and SIGTERM handlers recording a stop request.

    ``bool(stop)`` / ``stop()`` tell whether a stop was requested; ``stop.signal_name`` and ``stop.exit_code``
    (``128 + signum``) describe it. Handlers are installed only in the main thread (elsewhere signals cannot be
    caught, and the object just never reports a request); the previous handlers are restored on exit.
    """

    def __init__(self, signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)) -> None:
        self.signals = signals
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in self.signals:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt(f"second {signal.Signals(signum).name}: stopping at once")
        self.signum = signum
        print(f"\n{self.signal_name} received: stopping after the current step and saving (send it again to stop "
              "at once)", file=sys.stderr, flush=True)

    def __call__(self) -> bool:
        return self.signum is not None

    def __bool__(self) -> bool:
        return self.signum is not None

    @property
    def signal_name(self) -> str | None:
        """``"SIGINT"``, ``"SIGTERM"``, or None when no stop was requested."""
        return None if self.signum is None else signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int | None:
        """``128 + signal number`` (130 for SIGINT, 143 for SIGTERM), or None when no stop was requested."""
        return None if self.signum is None else 128 + self.signum


def run_guarded(train: Callable[[StopRequest], T], on_stop: Callable[[str], None]) -> T:
    """Run ``train(stop)`` so that what it trained is never lost; returns its result when it ran to the end.

    ``train`` gets a :class:`StopRequest` to pass as its loop's ``should_stop``. ``on_stop(why)`` must save the
    checkpoint and print how to resume; it is called

    * after ``train`` returns early because SIGINT or SIGTERM arrived: then ``SystemExit(128 + signum)``
      (130 for Ctrl-C, 143 for SIGTERM);
    * when ``train`` raises: then the exception propagates (exit status 1), except after a stop request or a
      ``KeyboardInterrupt``, which exit with ``128 + signum`` (130 for a bare ``KeyboardInterrupt``).

    ``why`` reads "interrupted by SIGTERM" or "stopped by RuntimeError".
    """
    with StopRequest() as stop:
        try:
            result = train(stop)
        except BaseException as error:
            on_stop(f"stopped by {type(error).__name__}")
            if stop or isinstance(error, KeyboardInterrupt):
                raise SystemExit(stop.exit_code or 128 + signal.SIGINT) from error
            raise
    if stop:
        on_stop(f"interrupted by {stop.signal_name}")
        raise SystemExit(stop.exit_code)
    return result
