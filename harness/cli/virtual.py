"""`racelab replay` and `racelab explore`: the commands built on virtual time.

Owns their parsers and handlers only; the work is in `harness.replay` and `harness.explore`, imported when the
command runs (they load the simulator in-process).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["add_command"]

_EXIT_CODES = "exit codes: 0 {ok} · 1 {not_ok} · 2 bad input (folder, run, scenario, option) · 3 harness error."


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay = sub.add_parser(
        "replay",
        help="re-execute one run of a result in virtual time and show its timeline",
        description="Re-execute one run of a saved result in virtual time, from the result folder alone (its "
        "schedule, seed and exact simulator configuration), check that it reproduces the recorded verdict and "
        "history, and print its timeline: client requests and the simulator's READ and COMMIT points, in ms "
        "from the run's start. A run recorded with --mode virtual must replay bit for bit; one recorded in real "
        "time must reach the same verdicts with the same requests (its timing jitter was not recorded).",
        epilog=_EXIT_CODES.format(ok="reproduced", not_ok="not reproduced")
        + " Example: racelab replay results/latest --run over-invoice/0003-0001-naive",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    replay.add_argument("result", type=Path, metavar="RESULT_DIR", help="a result folder, e.g. results/latest")
    replay.add_argument(
        "--run",
        required=True,
        metavar="SCENARIO/RUN_ID",
        help="the run, as the report and `racelab run` name it (a bare RUN_ID if only one scenario has it)",
    )
    replay.add_argument("--no-timeline", action="store_true", help="only say whether it reproduced")
    replay.set_defaults(handler=_replay)

    explore = sub.add_parser(
        "explore",
        help="search schedules for a violation in virtual time and shrink it to a minimal scenario",
        description="Let hypothesis generate schedules of a scenario: which steps run, their offsets within the "
        "scenario's window, and a fixed delay for every latency of the profile drawn within the profile's ranges. "
        "Each runs in virtual time. On a violation hypothesis shrinks it to a minimal schedule, which is written "
        "as a scenario file that reproduces it with `racelab run FILE`. When nothing is found it says how many "
        "schedules it tried.",
        epilog=_EXIT_CODES.format(ok="nothing found within the budget", not_ok="a violation found and written")
        + " Example: racelab explore scenarios/over-invoice.yaml --integration naive --out minimal.yaml",
    )
    explore.add_argument("scenario", type=Path, metavar="SCENARIO", help="a scenario file")
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
    explore.set_defaults(handler=_explore)


def _replay(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from rich.console import Console

    from harness.virtual.replay import compare, find_run, replay_run, timeline

    console = Console() if sys.stdout.isatty() else Console(width=160)
    saved = find_run(args.result, args.run)
    recorded = "virtual time" if saved.mode == "virtual" else "real time"
    console.print(
        f"replaying {saved.name} · {saved.line['integration']} · seed {saved.line['seed']} · recorded in {recorded}",
        highlight=False,
    )
    outcome = replay_run(saved)
    result = compare(saved, outcome)
    if not args.no_timeline:
        from harness.output.results import run_to_json

        line = run_to_json(outcome.record, outcome.results)
        for ms, who, what in timeline(line):
            style = "cyan" if who == "client" else ("bold red" if "⚠" in what else "yellow")
            console.print(f"{ms:10.3f} ms  [{style}]{who:<6}  {what}[/]", highlight=False)
        for r in outcome.results:
            if r.verdict.value != "valid":
                console.print(f"[red]{r.checker}: {r.verdict.value}[/] {r.explanation}", highlight=False)
    verdict = outcome.verdict.value
    if result.exact:
        console.print(f"[green]reproduced exactly[/]: verdict {verdict}, every field of the run as recorded")
        return 0
    if result.reproduced:
        console.print(
            f"[green]reproduced[/]: verdict {verdict} with the same requests and outcomes; timing differs by up to "
            f"{result.max_time_shift_ms:.1f} ms (real-time jitter is not recorded)",
            highlight=False,
        )
        return 0
    console.print(f"[red]not reproduced[/] (recorded in {recorded}):", highlight=False)
    for difference in result.differences:
        console.print(f"  {difference}", highlight=False)
    return 1


def _explore(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from harness.virtual.explore import explore_main

    return explore_main(args)
