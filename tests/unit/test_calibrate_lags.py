"""The hidden lags' fit (`harness.calibrate.lags`): a known lag is recovered from a race curve made in virtual time,
a lag that cannot move the race is reported not identified, one that the data bound on one side only is said so,
and bad observations are refused before anything runs.

The observations are made by virtual runs of a ground-truth profile (the Change's replica lag at a median of 500 ms,
twice the default's) with other seeds than the fit's own runs, so the fit never sees its own random numbers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from harness.calibrate.lags import CHI2_95, LagFit, fit_lags, simulate_race
from harness.calibrate.observe import RaceCell, RaceObservations
from harness.errors import UsageError
from simulator import load_profile

MEDIAN = "orders.change.read_lag.median_ms"
TRUE_MEDIAN = 500.0


def _cells(offsets: list[float], counts: list[tuple[int, int]] | None = None) -> RaceObservations:
    counts = counts or [(0, 0)] * len(offsets)
    return RaceObservations(
        cells=tuple(
            RaceCell("over-invoice", "naive", (("step1.at_ms", o),), o, trials=n, violations=k)
            for o, (k, n) in zip(offsets, counts, strict=True)
        )
    )


def _profile(median_ms: float) -> dict[str, Any]:
    lag = {"kind": "lognormal", "median_ms": median_ms, "sigma": 1.0, "cap_ms": 4000}
    return load_profile("default", overrides={"orders": {"change": {"read_lag": lag}}}).to_json()


@pytest.fixture(scope="module")
def base() -> Mapping[str, Any]:
    return load_profile("default").to_json()


@pytest.fixture(scope="module")
def observed() -> RaceObservations:
    """The platform: 10 offsets from 100 to 1000 ms, 20 runs each, under the ground truth (seed 7)."""
    return simulate_race(_cells([100.0 * i for i in range(1, 11)]), _profile(TRUE_MEDIAN), seed=7, runs=20)


@pytest.fixture(scope="module")
def fitted(observed: RaceObservations, base: Mapping[str, Any]) -> LagFit:
    return fit_lags(observed, base, seed=1, runs_per_cell=40)


def test_the_ground_truth_makes_a_falling_race_curve(observed: RaceObservations) -> None:
    rates = [c.rate for c in observed.cells]
    assert all(c.trials == 20 for c in observed.cells)
    assert rates[0] > 0.6 > 0.4 > rates[-1] > 0.0  # a race at every offset, fading as the Change comes later


@pytest.mark.slow
def test_the_replica_lag_median_is_recovered_inside_its_interval(fitted: LagFit, base: Mapping[str, Any]) -> None:
    """~15 s: about 4,400 virtual runs (a coarse grid of 9 candidates, a fine one of 7, the fitted profile)."""
    est = fitted.parameter(MEDIAN)
    assert est.identified, est.sentence
    assert est.interval is not None
    lo, hi = est.interval
    assert lo <= TRUE_MEDIAN <= hi, est.sentence
    assert abs(est.estimate - TRUE_MEDIAN) <= 0.2 * TRUE_MEDIAN, est.sentence
    assert not lo <= est.base <= hi  # the default's 250 ms is ruled out: the data say something
    assert "95% profile-likelihood interval" in est.sentence
    # The profile: ~0 at the estimate, the threshold at the interval's ends, above it at both ends of the region.
    devs = dict(est.profile)
    nearest = min(devs, key=lambda x: abs(x - est.estimate))
    assert devs[nearest] == pytest.approx(0.0, abs=0.05)
    assert devs[lo] == pytest.approx(CHI2_95, abs=0.01)
    assert devs[hi] == pytest.approx(CHI2_95, abs=0.01)
    assert est.profile[0][1] > CHI2_95 < est.profile[-1][1]
    # The profile patch sets the whole distribution, the rest of it as the base had it.
    lag = fitted.overrides["orders"]["change"]["read_lag"]
    assert lag == {**base["orders"]["change"]["read_lag"], "median_ms": pytest.approx(est.estimate, rel=1e-5)}
    # The race curve under the fitted profile: every observed cell, simulated with the fit's runs.
    assert [p.offset_ms for p in fitted.curve] == [100.0 * i for i in range(1, 11)]
    assert all(p.simulated_trials == 40 for p in fitted.curve)
    assert sum(p.simulated_violations for p in fitted.curve) / 400 == pytest.approx(
        sum(p.violations for p in fitted.curve) / 200, abs=0.05
    )
    assert fitted.seconds <= 60, f"{fitted.evaluations} candidates, {fitted.simulated_runs} runs"


def test_a_lag_that_does_not_move_the_race_is_not_identified(
    observed: RaceObservations, base: Mapping[str, Any]
) -> None:
    """The invoice view's lag decides failure B (a lost invoice), never the over-invoice: its profile is flat."""
    few = RaceObservations(cells=observed.cells[:4])
    fit = fit_lags(few, base, seed=1, runs_per_cell=8, params=("orders.workflow.invoice_view_lag",))
    (est,) = fit.parameters
    assert est.name == "orders.workflow.invoice_view_lag.median_ms"
    assert not est.identified
    assert est.interval is None
    assert "not identified" in est.sentence
    assert max(dev for _, dev in est.profile) < CHI2_95
    assert est.estimate == est.base == 400.0  # kept: the data have nothing to say about it
    assert fit.overrides == {}


def test_a_lag_bounded_on_one_side_only_is_not_identified(base: Mapping[str, Any]) -> None:
    """No race at all at late offsets: any small enough lag explains it; the data only bound it above."""
    none = _cells([600.0, 800.0, 1000.0], [(0, 20)] * 3)
    fit = fit_lags(none, base, seed=1, runs_per_cell=8)
    est = fit.parameter(MEDIAN)
    assert not est.identified
    assert est.interval is not None
    lo, hi = est.interval
    assert lo == pytest.approx(est.bounds[0])
    assert est.bounds[0] < hi < est.bounds[1]
    assert "only bound it above" in est.sentence
    # The base's 250 ms is kept when the data allow it; a value below the bound replaces it otherwise.
    assert (fit.overrides == {}) == (est.base <= hi)


@pytest.mark.parametrize(
    ("observations", "kwargs", "message"),
    [
        (RaceObservations(), {}, "no race cell"),
        (_cells([100.0, 200.0], [(3, 10), (0, 0)]), {}, r"cells\[1\].*no trials"),
        (_cells([100.0], [(11, 10)]), {}, r"11 violations out of 10 trials"),
        (_cells([100.0, 100.0], [(1, 10), (2, 10)]), {}, "the same cell twice"),
        (_cells([75.0], [(1, 10)]), {}, r"75.0\} is not a cell of scenario 'over-invoice'"),
        (_cells([100.0], [(1, 10)]), {"params": ("orders.change.read_lagg",)}, "not a field of the base profile"),
        (_cells([100.0], [(1, 10)]), {"params": ("orders.change.ingress",)}, "uniform distribution"),
        (_cells([100.0], [(1, 10)]), {"bounds": {MEDIAN: (300.0, 200.0)}}, "0 < low < high"),
        (_cells([100.0], [(1, 10)]), {"runs_per_cell": 2}, "runs_per_cell must be at least 3"),
        (
            RaceObservations(checker="no-lost-invoices", cells=_cells([100.0], [(1, 10)]).cells),
            {},
            "does not check 'no-lost-invoices'",
        ),
    ],
)
def test_bad_observations_and_options_are_usage_errors(
    observations: RaceObservations, kwargs: dict[str, Any], message: str, base: Mapping[str, Any]
) -> None:
    with pytest.raises(UsageError, match=message):
        fit_lags(observations, base, seed=1, **kwargs)


def test_an_unknown_scenario_is_a_usage_error(base: Mapping[str, Any]) -> None:
    cell = RaceCell("no-such-scenario", "naive", (("step1.at_ms", 100.0),), 100.0, trials=10, violations=1)
    with pytest.raises(UsageError, match="'no-such-scenario' has no file"):
        fit_lags(RaceObservations(cells=(cell,)), base, seed=1)


def test_the_fit_refuses_a_running_event_loop(base: Mapping[str, Any]) -> None:
    async def inside() -> None:
        fit_lags(_cells([100.0], [(1, 10)]), base, seed=1)

    with pytest.raises(RuntimeError, match=r"asyncio\.to_thread"):
        asyncio.run(inside())
