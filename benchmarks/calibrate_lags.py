"""What the hidden lags' fit costs, and how well it finds a known lag: `harness.calibrate.lags.fit_lags` on race
curves made in virtual time by a ground-truth profile (the Change's replica lag at another median than the
default's), one fit per observation seed.

For each seed: the observations (10 offsets from 100 to 1000 ms, `--trials` runs each, under the truth), then the
fit (`--runs-per-cell`, fit seed `--fit-seed`, the parameters of `--params`); prints per parameter the estimate,
its 95% profile-likelihood interval and whether the truth lies in it, and the fit's wall time, candidates and
virtual runs. The brief's budget: a fit over ~10 cells within ~60 s on this machine.

    .venv/bin/python benchmarks/calibrate_lags.py [--median 500] [--seeds 7 11 12] [--trials 20] [--runs-per-cell 40]
    .venv/bin/python benchmarks/calibrate_lags.py --params orders.change.read_lag.median_ms orders.change.read_lag.sigma
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.calibrate.lags import fit_lags, simulate_race  # noqa: E402
from harness.calibrate.observe import RaceCell, RaceObservations  # noqa: E402
from simulator import load_profile  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--median", type=float, default=500.0, help="the truth's read-lag median, ms")
    parser.add_argument("--sigma", type=float, default=1.0, help="the truth's read-lag sigma")
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 12], help="observation seeds")
    parser.add_argument("--fit-seed", type=int, default=1)
    parser.add_argument("--trials", type=int, default=20, help="observed runs per offset")
    parser.add_argument("--runs-per-cell", type=int, default=40)
    parser.add_argument("--params", nargs="+", default=["orders.change.read_lag.median_ms"])
    args = parser.parse_args()

    offsets = [100.0 * i for i in range(1, 11)]
    cells = RaceObservations(
        cells=tuple(RaceCell("over-invoice", "naive", (("step1.at_ms", o),), o, 0, 0) for o in offsets)
    )
    lag = {"kind": "lognormal", "median_ms": args.median, "sigma": args.sigma, "cap_ms": 4000}
    truth = load_profile("default", overrides={"orders": {"change": {"read_lag": lag}}}).to_json()
    true_values = {"orders.change.read_lag.median_ms": args.median, "orders.change.read_lag.sigma": args.sigma}
    base = load_profile("default").to_json()
    for seed in args.seeds:
        observed = simulate_race(cells, truth, seed=seed, runs=args.trials)
        fit = fit_lags(observed, base, seed=args.fit_seed, runs_per_cell=args.runs_per_cell, params=args.params)
        print(
            f"seed {seed}: {fit.seconds:.1f} s, {fit.evaluations} candidates, {fit.simulated_runs} virtual runs, "
            f"observed {observed.violations}/{observed.trials}"
        )
        for est in fit.parameters:
            true = true_values.get(est.name)
            inside = "" if true is None or est.interval is None else f" truth inside: {_inside(true, est.interval)}"
            error = "" if true is None else f" error {100 * (est.estimate - true) / true:+.0f}%"
            print(f"  {est.sentence}{error}{inside}")


def _inside(x: float, interval: tuple[float, float]) -> bool:
    return interval[0] <= x <= interval[1]


if __name__ == "__main__":
    main()
