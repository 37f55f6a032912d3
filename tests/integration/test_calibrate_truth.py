"""`racelab calibrate` against a hidden ground truth: a profile that is not the default (another replica lag, another
invoice latency) plays the platform (`racelab serve --no-control --orders`); a control-free naive sweep of the
over-invoice scenario against it (a real `racelab run` process) gives the observations; `racelab calibrate`'s
function must recover what the truth hid:

- the invoice's latency, median and p95 within 10% of the truth's (drawn from the truth's own phases);
- every other fitted observable's median and p95 within 10% of what was observed (its fit describes the data; the
  truth of a 2-6 ms read cannot be told apart from the client's own few milliseconds, so the truth is not the
  yardstick there);
- the Change's replica-lag median inside its reported 95% interval;
- under the fitted profile, a fresh virtual sweep (other seeds than the fit's) violates at a rate inside the observed
  Wilson interval at >= 80% of the offsets.

Imports: tests.support, harness (calibrate, judge.stats), simulator (timing), yaml.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.calibrate.calibration import calibrate
from harness.calibrate.observe import RaceCell, RaceObservations
from harness.calibrate.page import write_page
from harness.calibrate.profile import write_profile
from harness.calibrate.virtual_race import simulate_race
from harness.judge.stats import wilson
from simulator import load_profile
from simulator.contract.timing import DISTRIBUTIONS
from tests.support.cli import ROOT, only_result
from tests.support.standin import standin, standin_orders

pytestmark = pytest.mark.slow

TRUTH = {
    "seed": 11,
    "orders": {
        "invoice": {"process": {"kind": "lognormal", "median_ms": 120, "sigma": 0.5, "cap_ms": 2000}},
        "change": {"read_lag": {"kind": "lognormal", "median_ms": 500, "sigma": 1.0, "cap_ms": 4000}},
    },
}
"""The platform's hidden timing: the default profile but for these (default: invoice process uniform 20-60 ms,
replica lag median 250 ms)."""
RUNS_PER_OFFSET = 10
OFFSETS = 20
"""The over-invoice scenario sweeps the Change from 50 to 1000 ms after the invoice, in 20 steps."""


def _truth_profile() -> dict[str, Any]:
    return dict(load_profile("default", overrides=TRUTH).to_json())


def _truth_invoice_ms(samples: int = 20_000) -> list[float]:
    """The truth's invoice latency on the server: every phase of its synchronous path, drawn."""
    invoice = _truth_profile()["orders"]["invoice"]
    phases = [
        DISTRIBUTIONS[invoice[p]["kind"]].model_validate(invoice[p])
        for p in ("ingress", "read_lag", "process", "respond")
    ]
    rng = random.Random(5)
    return [sum(p.draw_ms(rng) for p in phases) for _ in range(samples)]


def _quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


async def _sweep(tmp: Path) -> Path:
    """A control-free naive sweep of the over-invoice scenario against the truth; its result folder."""
    total = OFFSETS * RUNS_PER_OFFSET
    orders = standin_orders(total, prefix="cal")
    ids = tmp / "ids.txt"
    ids.write_text("".join(f"{o['orderId']}\n" for o in orders))
    async with standin(orders, overrides=TRUTH) as url:
        argv = [
            sys.executable, "-m", "harness.cli", "run", str(ROOT / "scenarios" / "over-invoice.yaml"),
            "--mode", "external", "--orders-url", url, "--orders-from", str(ids), "--integration", "naive",
            "--runs", str(RUNS_PER_OFFSET), "--concurrency", "12", "--settle-quiet", "0.5", "--start-lead", "3",
            "--out", str(tmp / "results"),
        ]  # fmt: skip
        child = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await child.communicate()
    assert child.returncode == 0, out.decode()[-3000:]  # the naive canary reproduces against the truth
    return only_result(tmp / "results")


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The sweep (real processes), then `racelab calibrate`'s own function on its result folder, and the profile and
    page it writes, as the command does (the command's parsing, output and exit codes: tests/unit/
    test_calibrate_inputs.py). Synchronous, on this thread: the lag fit runs its own event loop."""
    tmp = tmp_path_factory.mktemp("calibrate-truth")
    folder = asyncio.run(_sweep(tmp))
    cal = calibrate([folder], "default", 1)
    profile, report = tmp / "fitted.yaml", tmp / "calibration.html"
    write_profile(cal.profile, profile, header=cal.header)
    write_page(cal, report)
    return {"folder": folder, "profile": profile, "report": report, "cal": cal, "tmp": tmp}


def test_the_invoice_latency_is_recovered_within_ten_percent(calibrated: dict[str, Any]) -> None:
    truth = _truth_invoice_ms()
    fitted = calibrated["cal"].fit_of("invoice").fitted
    for q in (50.0, 95.0):
        expected = _quantile(truth, q)
        assert fitted[q] == pytest.approx(expected, rel=0.10), (
            f"p{q:g}: fitted {fitted[q]:.1f} ms, truth {expected:.1f}"
        )


def test_every_fitted_observable_describes_its_observations(calibrated: dict[str, Any]) -> None:
    fits = [f for f in calibrated["cal"].fits if f.fit is not None]
    assert {"get-order", "invoice", "create-change"} <= {f.observable for f in fits}
    for f in fits:
        for q in (50.0, 95.0):
            assert f.fitted[q] == pytest.approx(f.observed[q], rel=0.10), (f.observable, q, f.fitted, f.observed)


def test_the_replica_lag_median_is_inside_its_interval(calibrated: dict[str, Any]) -> None:
    lag = calibrated["cal"].lags.parameter("orders.change.read_lag.median_ms")
    assert lag.identified, lag.sentence
    low, high = lag.interval
    assert low <= 500 <= high, lag.sentence
    assert not low <= 250 <= high, f"the default's 250 ms should be ruled out: {lag.sentence}"


def test_the_fitted_profile_plays_the_observed_race(calibrated: dict[str, Any]) -> None:
    cal = calibrated["cal"]
    config = dict(load_profile(calibrated["profile"]).to_json())  # the written profile loads as a simulator's
    fitted_lag = cal.lags.overrides["orders"]["change"]["read_lag"]
    assert config["orders"]["change"]["read_lag"]["median_ms"] == pytest.approx(fitted_lag["median_ms"])
    observed: RaceObservations = cal.race
    fresh = simulate_race(observed, config, seed=977, runs=40)  # other seeds than the fit's
    simulated = {c.cell: c for c in fresh.cells}
    inside = 0
    for cell in observed.cells:
        low, high = wilson(cell.violations, cell.trials)
        sim: RaceCell = simulated[cell.cell]
        inside += low <= sim.violations / sim.trials <= high
    assert len(observed.cells) == OFFSETS
    assert inside >= 0.8 * OFFSETS, f"{inside} of {OFFSETS} offsets inside the observed Wilson interval"


def test_the_page_and_the_profile_say_what_was_fitted(calibrated: dict[str, Any]) -> None:
    page = calibrated["report"].read_text()
    assert "orders.change.read_lag" in page
    assert "<script src=" not in page  # self-contained
    header = [line for line in calibrated["profile"].read_text().splitlines() if line.startswith("#")]
    assert any("orders.invoice.process <- invoice" in line for line in header)
    assert any("orders.change.read_lag.median_ms" in line and "95%" in line for line in header)
