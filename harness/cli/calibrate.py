"""`racelab calibrate`: fit the simulator's timing profile to observations of the real platform.

Owns the parser and the handler. The handler reads the inputs, fits (`harness.calibrate.calibration.calibrate`),
writes the profile (checked by loading it as `racelab serve --profile` does) and, with `--report`, the page, and
prints one line per fitted field. Exit 0 when the profile is written; 2 for bad input (file, line and field named).

Imports: stdlib, `harness.errors`; inside the handler `harness.calibrate` (scipy), so that `racelab --help` stays
fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from harness.errors import UsageError

__all__ = ["add_command"]

_EPILOG = (
    "INPUT: a result folder of control-free runs (racelab run --mode external ...), the proxy's folder or its "
    "exchanges.jsonl, a HAR file (*.har), or a CSV with the header operation,started,finished. Which observation "
    "informs which profile field, and how a latency is split across phases: docs/calibrate.md. Exit codes: 0 the "
    "profile is written; 2 bad input (file, line and field named); 3 racelab's failure."
)


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cal = sub.add_parser(
        "calibrate",
        help="fit a timing profile to the real platform's latencies and race curve",
        description="Fit the timing model's distributions (lognormal, normal, exponential, pareto, empirical; by "
        "KS test and AIC) to every operation observed in the INPUTs, fit the hidden lags that decide the race to "
        "the naive integration's observed violation rate per offset (in virtual time), and write a profile based "
        "on --base that `racelab serve --profile` loads.",
        epilog=_EPILOG,
    )
    cal.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="what to fit to (see below)")
    cal.add_argument("--out", type=Path, required=True, metavar="PROFILE.yaml", help="the profile to write")
    cal.add_argument(
        "--base", default="default", metavar="PROFILE", help="the profile to start from, a name or a file (default)"
    )
    cal.add_argument("--report", type=Path, metavar="FILE.html", help="also write the calibration's report page")
    cal.add_argument("--seed", type=int, default=1, help="seeds the bootstrap and the virtual runs (default: 1)")
    cal.add_argument(
        "--lag",
        action="append",
        metavar="FIELD",
        help="a hidden lag to fit, dotted (repeatable; default: orders.change.read_lag.median_ms)",
    )
    cal.add_argument(
        "--race-scenario",
        default="over-invoice",
        metavar="NAME",
        help="the scenario whose naive race curve the lags are fitted to (default: over-invoice)",
    )
    cal.add_argument(
        "--runs-per-cell", type=int, default=30, metavar="N", help="virtual runs per cell and candidate (default: 30)"
    )
    cal.add_argument("--jobs", type=int, default=1, metavar="N", help="worker processes for the virtual runs")
    cal.set_defaults(handler=_handle, crash_folder=_crash_folder)


def _crash_folder(args: argparse.Namespace) -> Path:
    out: Path = args.out
    return out.parent


def _handle(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from rich.console import Console

    from harness.calibrate.calibration import calibrate
    from harness.calibrate.lags import DEFAULT_PARAMS
    from harness.calibrate.page import write_page
    from harness.calibrate.profile import write_profile

    if args.runs_per_cell < 3:
        raise UsageError(f"--runs-per-cell must be at least 3, got {args.runs_per_cell}")
    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    # The lag fit simulates batch after batch of virtual sweeps (tens of seconds): a status line says how far it is.
    with Console(stderr=True).status("reading the inputs and fitting the observed latencies") as status:

        def progress(batches: int) -> None:
            status.update(f"fitting the hidden lags in virtual time: {batches} candidate batches simulated")

        cal = calibrate(
            list(args.inputs),
            args.base,
            args.seed,
            lag_params=tuple(args.lag) if args.lag else DEFAULT_PARAMS,
            race_scenario=args.race_scenario,
            runs_per_cell=args.runs_per_cell,
            jobs=args.jobs,
            on_evaluation=progress,
        )
    write_profile(cal.profile, args.out, header=cal.header)
    for f in cal.fits:
        if f.fit is None:
            print(f"  {f.sentence}")
            continue
        print(
            f"  {f.observable:<20} n={f.n:<6} {f.fit.chosen.family:<11} p50 {f.observed[50.0]:.1f} -> "
            f"{f.fitted[50.0]:.1f} ms, p95 {f.observed[95.0]:.1f} -> {f.fitted[95.0]:.1f} ms  "
            f"({f.target.carrier if f.target else ''})"
        )
    if cal.lags is None:
        print(f"  {cal.lag_note}")
    else:
        for p in cal.lags.parameters:
            print(f"  {p.sentence}")
    print(f"racelab calibrate: wrote {args.out} (racelab serve --profile {args.out})")
    if args.report is not None:
        write_page(cal, args.report)
        print(f"racelab calibrate: report {args.report}")
    return 0
