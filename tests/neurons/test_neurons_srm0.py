"""SRM0 with escape noise: the spike probability, empirical rates, reproducibility, absolute refractoriness."""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.neurons import SRM0, SRM0Params, escape_probability


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_defaults_follow_bindsnet_srm0_nodes() -> None:
    p = SRM0Params()
    assert (p.v_rest_mv, p.v_reset_mv, p.v_thresh_mv, p.tau_mem_ms) == (-70.0, -70.0, -50.0, 10.0)
    assert (p.refractory_ms, p.rho0_per_ms, p.delta_u_mv) == (5.0, 1.0, 5.0)


@pytest.mark.parametrize("dt_ms", [1.0, 0.25])
def test_escape_probability_formula(dt_ms: float) -> None:
    p = SRM0Params(rho0_per_ms=0.3, delta_u_mv=2.0, v_thresh_mv=-50.0)
    vs = [-90.0, -60.0, -52.0, -50.0, -47.5, -40.0]
    got = escape_probability(torch.tensor(vs, dtype=torch.float64), p, dt_ms)
    for v, prob in zip(vs, got.tolist()):
        rho = 0.3 * math.exp((v + 50.0) / 2.0)
        expected = -math.expm1(-rho * dt_ms)  # = 1 - exp(-rho dt), without cancellation for small rho
        assert prob == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert got[3].item() == pytest.approx(1 - math.exp(-0.3 * dt_ms), rel=1e-12)  # at threshold: rho = rho0
    assert (got.diff() > 0).all()


def test_escape_probability_limits_are_finite() -> None:
    p = SRM0Params()
    got = escape_probability(torch.tensor([-1e4, 1e4, 1e30]), p)
    assert got.tolist() == [0.0, 1.0, 1.0]


@pytest.mark.parametrize("offset_mv, rho0, dt_ms", [(0.0, 0.1, 1.0), (-3.0, 0.5, 1.0), (2.0, 0.2, 0.5)])
def test_empirical_rate_at_a_clamped_potential_matches_the_probability(offset_mv: float, rho0: float,
                                                                      dt_ms: float) -> None:
    # reset == rest, no refractoriness, no input: v stays at v_rest, so every step is an independent trial
    v = -50.0 + offset_mv
    layer = SRM0(100, dt_ms=dt_ms, v_rest_mv=v, v_reset_mv=v, refractory_ms=0.0, rho0_per_ms=rho0,
                 generator=seeded(7))
    steps, batch = 40, 50
    spikes, _, rec = layer.scan(torch.zeros(steps, batch, 100), layer.initial_state(batch), record=("v",))
    assert (rec["v"] == v).all()
    p = 1 - math.exp(-rho0 * math.exp(offset_mv / layer.params.delta_u_mv) * dt_ms)
    trials = spikes.numel()
    sigma = math.sqrt(p * (1 - p) / trials)
    assert abs(spikes.float().mean().item() - p) < 5 * sigma


def test_seeded_generator_gives_reproducible_spikes() -> None:
    cur = torch.rand(100, 3, 20, generator=seeded(0)) * 6

    def run(seed: int) -> torch.Tensor:
        layer = SRM0(20, generator=seeded(seed))
        return layer.scan(cur, layer.initial_state(3))[0]

    a, b, c = run(1), run(1), run(2)
    assert a.any() and torch.equal(a, b) and not torch.equal(a, c)


def test_absolute_refractoriness_and_reset() -> None:
    R = 5
    layer = SRM0(1, refractory_ms=float(R), generator=seeded(0)).to(torch.float64)
    p = layer.params
    # 100 mV per step drives v far above threshold (p = 1) whenever the input is let through
    spikes, _, rec = layer.scan(torch.full((60, 1, 1), 100.0, dtype=torch.float64), layer.initial_state(1),
                                record=("v",))
    times = torch.nonzero(spikes[:, 0, 0]).flatten().tolist()
    assert times == list(range(0, 60, R + 1))
    assert (rec["v"] == p.v_reset_mv).all()  # reset at spikes; reset == rest keeps it there while refractory


def test_rate_is_bounded_by_the_refractory_period_even_at_threshold() -> None:
    R = 4
    layer = SRM0(50, v_rest_mv=-30.0, refractory_ms=float(R), generator=seeded(3))
    spikes, _, _ = layer.scan(torch.zeros(200, 2, 50), layer.initial_state(2))
    times = [torch.nonzero(spikes[:, b, n]).flatten() for b in range(2) for n in range(50)]
    assert all((t.diff() > R).all() for t in times)
    assert sum(len(t) for t in times) > 0


def test_generator_checks() -> None:
    with pytest.raises(TypeError, match="generator must be a torch.Generator or None, got int"):
        SRM0(3, generator=0)
    with pytest.raises(ValueError, match="delta_u_mv must be a positive number"):
        SRM0(3, delta_u_mv=0.0)
    with pytest.raises(ValueError, match="rho0_per_ms must be a positive number"):
        SRM0(3, rho0_per_ms=-1.0)
