"""spikerl.sync: which reads are free, and the host-side number reader refuses accelerator data."""

from __future__ import annotations

import pytest
import torch

from spikerl import sync


def test_reads_are_free_only_on_the_cpu() -> None:
    assert sync.reads_are_free("cpu") and sync.reads_are_free(torch.device("cpu"))
    assert not sync.reads_are_free("cuda") and not sync.reads_are_free("meta")


def test_host_float_reads_host_numbers_and_refuses_device_data() -> None:
    assert sync.host_float(torch.tensor(0.25, dtype=torch.float64)) == 0.25
    with pytest.raises(ValueError, match="host_float reads host data; this tensor is on meta"):
        sync.host_float(torch.tensor(1.0, device="meta"))
