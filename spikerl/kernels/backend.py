"""The error a named backend raises when it cannot serve a call it was asked for explicitly.

Backends are chosen by name (``"torch"``, ``"c"``, ``"fused"``, ``"auto"``; see
:class:`spikerl.neurons.base.NeuronLayer`). ``"auto"`` takes the fastest one that can serve a call and falls
back silently; a backend asked for by name either serves the call or raises :class:`BackendUnavailable` with
the reason.
"""

from __future__ import annotations


class BackendUnavailable(RuntimeError):
    """``the '<backend>' backend cannot serve this <call|layer>: <reason>``.

    Attributes:
        backend: the backend's name, e.g. ``"c"``.
        reason: why it cannot serve (no compiler, a CUDA tensor, autograd, ...).
    """

    def __init__(self, backend: str, reason: str, what: str = "call") -> None:
        super().__init__(f"the {backend!r} backend cannot serve this {what}: {reason}")
        self.backend = backend
        self.reason = reason
