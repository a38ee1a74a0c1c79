"""Where the engine may read tensor values back to Python: the host-side shortcuts and the accelerator paths.

Reading a tensor's values into Python (``bool(t)``, ``t.item()``, ``t.nonzero()``, a boolean-mask index, a
blocking copy to the host) costs nothing on the CPU, but on an accelerator it waits for every queued kernel: a
stall. The engine therefore keeps such reads out of the per-step and per-environment-step loops on an
accelerator. Where a read only saves work on the CPU (drawing random numbers only for lit inputs,
event-driven propagation of sparse trains, skipping a reset when no row ends its episode), the code asks
:func:`reads_are_free` for the tensor's device and takes a path without reads elsewhere; both paths give the
same distribution (random draws) or the same values (everything else).

Checks of data that comes from the host (observations, rewards, ``done`` flags as NumPy arrays) are made on
the host, before the data is copied to the device (``non_blocking=True``, which does not wait).

Tests force the accelerator paths on the CPU by patching :func:`reads_are_free` (see
``tests/core/test_core_no_sync.py``), so the no-stall property is checked on every machine.
"""

from __future__ import annotations

import torch


def reads_are_free(device: torch.device | str) -> bool:
    """True where reading tensor values back to Python costs no synchronisation: on the CPU."""
    return torch.device(device).type == "cpu"


def host_float(value: torch.Tensor) -> float:
    """The number in a tensor that lives on the host by construction (a CPU tensor of one element, e.g. a
    rule's shared decay factor kept beside device state): reading it waits for no device. Raises if it is on
    an accelerator, where reading it would be a stall."""
    if value.device.type != "cpu":
        raise ValueError(f"host_float reads host data; this tensor is on {value.device}")
    return float(value)
