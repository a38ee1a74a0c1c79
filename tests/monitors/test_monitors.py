"""Monitor: preallocated buffers, capacity, overflow='error' and 'wrap', time order of get(), reset.

Records are built so that the value at global step ``s`` is ``s`` itself: any mistake in order shows.
"""

from __future__ import annotations

import pytest
import torch

from spikerl import Input, Network
from spikerl.monitors import Monitor


def steps(start: int, stop: int, batch: int = 2, n: int = 3) -> torch.Tensor:
    """Record ``[stop - start, batch, n]`` whose entries at row ``k`` all equal ``start + k``."""
    return torch.arange(start, stop, dtype=torch.float32)[:, None, None].expand(-1, batch, n).clone()


def values(mon: Monitor, var: str = "L.v") -> list[float]:
    out = mon.get(var)
    assert (out == out[:, :1, :1]).all()  # every entry of a row holds its step number
    return out[:, 0, 0].tolist()


def test_appends_in_order_up_to_capacity() -> None:
    mon = Monitor("L.v", capacity=10)
    mon.append({"L.v": steps(0, 4)})
    mon.append({"L.v": steps(4, 10)})
    assert values(mon) == list(range(10))
    assert mon.get("L.v").shape == (10, 2, 3)
    assert mon.length == 10


def test_buffer_is_allocated_once_with_capacity_dtype_and_device() -> None:
    mon = Monitor(["L.s", "L.v"], capacity=8)
    mon.append({"L.s": steps(0, 3).bool(), "L.v": steps(0, 3, n=1).double()})
    s_buf, v_buf = mon.buffers["L.s"], mon.buffers["L.v"]
    assert s_buf.shape == (8, 2, 3) and s_buf.dtype == torch.bool
    assert v_buf.shape == (8, 2, 1) and v_buf.dtype == torch.float64
    mon.append({"L.s": steps(3, 5).bool(), "L.v": steps(3, 5, n=1).double()})
    assert mon.buffers["L.s"] is s_buf and mon.buffers["L.v"] is v_buf  # no reallocation, no growth


def test_overflow_error_raises_and_keeps_what_was_recorded() -> None:
    mon = Monitor("L.v", capacity=5)
    mon.append({"L.v": steps(0, 4)})
    with pytest.raises(RuntimeError, match="monitor is full: 4 \\+ 2 steps > capacity 5"):
        mon.append({"L.v": steps(4, 6)})
    assert values(mon) == [0, 1, 2, 3]


def test_wrap_keeps_the_most_recent_steps_in_time_order() -> None:
    mon = Monitor("L.v", capacity=5, overflow="wrap")
    mon.append({"L.v": steps(0, 3)})
    mon.append({"L.v": steps(3, 7)})     # wraps inside this append
    assert values(mon) == [2, 3, 4, 5, 6]
    mon.append({"L.v": steps(7, 8)})
    assert values(mon) == [3, 4, 5, 6, 7]
    assert mon.length == 8


def test_wrap_with_a_run_of_exactly_capacity_steps() -> None:
    mon = Monitor("L.v", capacity=4, overflow="wrap")
    mon.append({"L.v": steps(0, 4)})
    assert values(mon) == [0, 1, 2, 3]
    mon.append({"L.v": steps(4, 8)})
    assert values(mon) == [4, 5, 6, 7]


@pytest.mark.parametrize("runs", [[(0, 5)], [(0, 2), (2, 7)]])
def test_wrap_with_a_run_longer_than_capacity(runs: list[tuple[int, int]]) -> None:
    mon = Monitor("L.v", capacity=3, overflow="wrap")
    for a, b in runs:
        mon.append({"L.v": steps(a, b)})
    last = runs[-1][1]
    assert values(mon) == list(range(last - 3, last))


def test_reset_forgets_everything_and_allows_a_new_batch_size() -> None:
    mon = Monitor("L.v", capacity=6)
    mon.append({"L.v": steps(0, 5)})
    with pytest.raises(ValueError, match="call reset\\(\\)"):
        mon.append({"L.v": steps(0, 1, batch=4)})
    mon.reset()
    assert mon.length == 0
    with pytest.raises(RuntimeError, match="nothing recorded"):
        mon.get("L.v")
    mon.append({"L.v": steps(10, 16, batch=4)})  # a full capacity is available again
    assert values(mon) == list(range(10, 16))
    assert mon.get("L.v").shape == (6, 4, 3)


def test_get_unknown_variable_and_bad_arguments() -> None:
    mon = Monitor("L.v", capacity=2)
    with pytest.raises(KeyError, match="not 'L.s'"):
        mon.get("L.s")
    with pytest.raises(ValueError, match="capacity"):
        Monitor("L.v", capacity=0)
    with pytest.raises(ValueError, match="overflow"):
        Monitor("L.v", capacity=2, overflow="grow")
    with pytest.raises(ValueError, match="at least one variable"):
        Monitor([], capacity=2)


def test_attached_to_a_network_it_records_runs_back_to_back() -> None:
    net = Network()
    net.add_layer("X", Input(4))
    mon = net.add_monitor("inp", Monitor("X.spikes", capacity=10))
    g = torch.Generator().manual_seed(0)
    first, second = torch.rand(3, 2, 4, generator=g) < 0.5, torch.rand(5, 2, 4, generator=g) < 0.5
    net.run({"X": first})
    net.run({"X": second})
    assert torch.equal(mon.get("X.spikes"), torch.cat([first, second]))
