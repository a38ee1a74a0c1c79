"""Stop requests: SIGINT (Ctrl-C) and SIGTERM become a flag that a training loop checks at a safe point.

A signal that raised an exception in the middle of a training step could leave weights half-updated and the
step counters behind them; a checkpoint written then would not continue exactly. :class:`StopRequest` instead
records the first signal and lets the loop finish its current step (a loop passes it as ``should_stop`` and
checks it between steps), so the checkpoint written afterwards is a clean point to resume from. A second
signal of the same kind stops at once by raising ``KeyboardInterrupt`` (the caller still saves what it has).

Exit statuses follow the shell's convention ``128 + signal number``: 130 for SIGINT, 143 for SIGTERM.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any


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
