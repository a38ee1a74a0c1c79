"""The model tests run with one torch intra-op thread: their per-step tensors are small, and on a busy
2-core machine every multi-threaded small operation waits for a descheduled worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
