"""`racelab explore`: search a scenario's schedules for a violation in virtual time and shrink it.

Owns the command's parser and handler; the work is `harness.virtual.explore.explore_main`, imported when the command
runs (it needs hypothesis, the `explore` extra, and loads the simulator in-process). Imports: stdlib,
`harness.cli.replay` (the epilog); inside the handler, `harness.resources` and `harness.virtual.explore`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from harness.cli.replay import EXIT_CODES

__all__ = ["add_command"]


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    explore = sub.add_parser(
        "explore",
        help="search schedules for a violation in virtual time and shrink it to a minimal scenario",
        description="Let hypothesis generate schedules of a scenario: which steps run, their offsets within the "
        "scenario's window, and a fixed delay for every latency of the profile drawn within the profile's ranges. "
        "Each runs in virtual time. On a violation hypothesis shrinks it to a minimal schedule, which is written "
        "as a scenario file that reproduces it with `racelab run FILE`. When nothing is found it says how many "
        "schedules it tried. Ctrl-C stops the search and writes the smallest violation found so far.",
        epilog=EXIT_CODES.format(ok="nothing found within the budget", not_ok="a violation found and written")
        + " Interrupted: 130 (SIGINT, Ctrl-C) or 143 (SIGTERM), the smallest violation found so far, if any, "
        "written to --out (a second signal quits at once)."
        + " Example: racelab explore scenarios/over-invoice.yaml --integration naive --out minimal.yaml",
    )
    explore.add_argument(
        "scenario", type=Path, metavar="SCENARIO", help="a scenario file, or builtin:NAME for one of racelab's own"
    )
    explore.add_argument("--out", type=Path, required=True, metavar="FILE", help="where to write the minimal scenario")
    explore.add_argument("--budget", type=int, default=200, help="schedules to try before giving up (default: 200)")
    explore.add_argument(
        "--integration", default=None, help="the integration to explore (default: the scenario's first)"
    )
    explore.add_argument("--seed", type=int, default=1, help="seed for the search and the simulator (default: 1)")
    explore.add_argument(
        "--margin",
        type=int,
        default=10,
        metavar="MS",
        help="a schedule counts only if it still violates with any one step moved MS earlier or later, so the "
        "written schedule reproduces in real time despite jitter (default: 10; 0 for the exact edge)",
    )
    explore.add_argument(
        "--settle-timeout", type=float, default=30.0, help="virtual seconds to let an order settle (default: 30)"
    )
    explore.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from harness.resources import resolve_scenario_ref
    from harness.virtual.explore import explore_main

    args.scenario = resolve_scenario_ref(args.scenario)
    return explore_main(args)
