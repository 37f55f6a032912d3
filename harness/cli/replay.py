"""`racelab replay`: re-execute one run of a result folder in virtual time and show its timeline.

Owns the command's parser and handler; the work is in `harness.virtual.replay`, imported when the command runs (it
loads the simulator in-process). Imports: stdlib; inside the handler, rich and `harness.*`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.cli import EXIT_GATE_FAILED, EXIT_OK

__all__ = ["EXIT_CODES", "add_command"]

EXIT_CODES = "exit codes: 0 {ok} · 1 {not_ok} · 2 bad input (folder, run, scenario, option) · 3 harness error."
"""The epilog of the commands built on virtual time (replay, explore), filled in with what 0 and 1 mean."""


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay = sub.add_parser(
        "replay",
        help="re-execute one run of a result in virtual time and show its timeline",
        description="Re-execute one run of a saved result in virtual time, from the result folder alone (its "
        "schedule, seed and exact simulator configuration), check that it reproduces the recorded verdict and "
        "history, and print its timeline: client requests and the simulator's READ and COMMIT points, in ms "
        "from the run's start. A run recorded with --mode virtual must replay bit for bit; one recorded in real "
        "time must reach the same verdicts with the same requests (its timing jitter was not recorded).",
        epilog=EXIT_CODES.format(ok="reproduced", not_ok="not reproduced")
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
    replay.set_defaults(handler=_handle, crash_folder=_result_folder)


def _result_folder(args: argparse.Namespace) -> Path:
    result: Path = args.result
    return result


def _handle(args: argparse.Namespace, argv: Sequence[str]) -> int:
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
        from harness.model import run_to_json

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
        return EXIT_OK
    if result.reproduced:
        console.print(
            f"[green]reproduced[/]: verdict {verdict} with the same requests and outcomes; timing differs by up to "
            f"{result.max_time_shift_ms:.1f} ms (real-time jitter is not recorded)",
            highlight=False,
        )
        return EXIT_OK
    console.print(f"[red]not reproduced[/] (recorded in {recorded}):", highlight=False)
    for difference in result.differences:
        console.print(f"  {difference}", highlight=False)
    return EXIT_GATE_FAILED
