"""The load options: what a locust profile (`scenarios/load/`) and `racelab load` both accept, meaning the same.

Owns `add_load_arguments` (racelab's options, added both to locust's parser and to `racelab load`'s, so they mean the
same in `locust -f scenarios/load/race.py` and in `racelab load race`), `load_argv` (the options as arguments again,
for the locust child), the scenario a profile runs by default (`DEFAULT_SCENARIO`, `resolve_scenario`) and the
steps a profile fires (`STEP_ACTIONS`).

Imports: stdlib and `harness.resources` only: the locust process imports this module under gevent.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from harness.resources import builtin_root

__all__ = ["DEFAULT_SCENARIO", "STEP_ACTIONS", "add_load_arguments", "load_argv", "resolve_scenario"]

DEFAULT_SCENARIO = "scenarios/over-invoice.yaml"
"""The scenario a profile runs when neither `--scenario` nor `RACELAB_SCENARIO` names one."""

STEP_ACTIONS = ("invoice", "change", "change-v1", "cancel")
"""The `do:` actions a load profile fires. Accounting steps and a script's own steps are the harness's only."""

_ROOT = builtin_root()
"""Where racelab's own `scenarios/` is (the checkout, or the installed package's copy): the fallback of a relative
scenario path, after the working directory."""


def add_load_arguments(parser: Any, *, scenario: str | None = DEFAULT_SCENARIO, report: bool = True) -> None:
    """Add the load options to `parser`: locust's (configargparse) parser, or `racelab load`'s (argparse).

    Every option has a plain value, so `racelab load` can hand them on to locust as it received them.

    Args:
        parser: the parser.
        scenario: the default of `--scenario` when `RACELAB_SCENARIO` is not set (a profile may choose its own;
            `racelab load` leaves it unset and asks the profile).
        report: offer `--racelab-report` (`racelab load` writes the verdict into its results folder itself).
    """
    group = parser.add_argument_group("racelab", "The race under load (racelab's own options)")
    fallback = scenario or f"the profile's own, else {DEFAULT_SCENARIO}"
    group.add_argument(
        "--scenario",
        default=os.environ.get("RACELAB_SCENARIO", scenario),
        help="scenario YAML the users run: order, steps and their offsets, expected invariants, gates "
        f"(default: $RACELAB_SCENARIO, else {fallback})",
    )
    group.add_argument("--seed", type=int, default=1, help="seed for the scenario's schedules (default: 1)")
    group.add_argument(
        "-i",
        "--iterations",
        type=int,
        default=0,
        help="races per user; once every user has run them, the test ends (default: 0, no limit; "
        "bound the test with -t then)",
    )
    group.add_argument(
        "--settle-timeout",
        type=float,
        default=30.0,
        help="seconds to wait for the simulator to finish an order's work before the run is unknown (default: 30)",
    )
    group.add_argument(
        "--max-violations",
        default="",
        metavar="SPEC",
        help="violating runs allowed per integration, e.g. 'naive=inf,workaround=0,robust=1%%' "
        "(a count, inf, or a percentage of the runs; '*=' for the others). Default: the scenario's "
        "gate (violations: N, max_rate: R); no limit for an integration without one. Runs that could "
        "not be judged count as possible violations, as in a gate",
    )
    group.add_argument(
        "--max-fail-ratio",
        type=float,
        default=0.0,
        help="failed HTTP requests (5xx, timeouts, connection errors; a 4xx is an answer) over all "
        "HTTP requests (default: 0)",
    )
    group.add_argument(
        "--max-p95",
        action="append",
        default=[],
        metavar="'METHOD NAME=MS'",
        help="p95 response time allowed for one endpoint, as locust names it, e.g. "
        "'POST /api/orders/pvt/document/[id]/invoices=500' (repeatable; comma-separated too)",
    )
    group.add_argument(
        "--max-unknown",
        type=int,
        default=0,
        help="runs that could not be judged (harness errors, orders that did not settle) allowed in total (default: 0)",
    )
    group.add_argument("--min-runs", type=int, default=1, help="judged runs required in total (default: 1)")
    if report:
        group.add_argument(
            "--racelab-report",
            default="",
            metavar="PATH",
            help="write the verdict (thresholds, runs, violations per integration) as JSON here",
        )


_LOAD_OPTIONS = (
    "scenario",
    "seed",
    "iterations",
    "settle_timeout",
    "max_violations",
    "max_fail_ratio",
    "max_p95",
    "max_unknown",
    "min_runs",
    "racelab_report",
)


def load_argv(options: argparse.Namespace) -> list[str]:
    """The load options in `options` as command-line arguments again (for the locust process)."""
    argv: list[str] = []
    for dest in _LOAD_OPTIONS:
        value = getattr(options, dest, None)
        flag = "--" + dest.replace("_", "-")
        if isinstance(value, list):
            for item in value:
                argv += [flag, str(item)]
        elif value not in ("", None):
            argv += [flag, str(value)]
    return argv


def resolve_scenario(path: str | Path) -> Path:
    """`path` as given, or, when relative and missing, relative to the racelab checkout (so the default works from
    any working directory)."""
    given = Path(path)
    if given.is_absolute() or given.exists():
        return given
    fallback = _ROOT / given
    return fallback if fallback.exists() else given
