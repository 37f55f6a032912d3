"""`report.html`: a result folder as one self-contained page, and the `racelab report` command.

Layout (imports point down this list):

    __init__.py     `racelab report RESULT_DIR [--out FILE]` and `write_report` (loads the rest on first use)
    build.py        read the folder (streaming `runs.jsonl`), render templates/report.html.j2, write atomically
    charts.py       matplotlib → inline SVG: rate vs offset, heat map, the workaround's cost, timelines
    data.py         pure: the one-pass `Collector`, the table of runs, the report's records
    rates.py        pure: violation rates against a swept or drawn parameter, the heat map
    cost.py         pure: the workaround's cost, pair by pair
    timelines.py    pure: one failing run laid out in time, and in words
    cells.py        pure: a matrix cell's keys and values as text and axes

`racelab run` writes `report.html` into every result folder; `racelab report` rebuilds it (after an upgrade, or into
another file). The page of an interrupted sweep opens with a banner that says so (and how to resume it); the command
says it too, in one line. Importing this package loads neither matplotlib nor jinja2: `racelab --help` stays fast.

Imports: stdlib, `harness.errors` and `harness.model` here (rich in the command's handler); the modules above import
`harness.model`, `harness.judge` and `harness.output.folder`. Never `simulator`.

    write_report(Path("results/latest"))                  # results/latest/report.html
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from harness.model.records import CheckResult, RunRecord
    from harness.model.summary import Summary

__all__ = ["add_command", "write_report"]


def write_report(
    folder: Path,
    *,
    out: Path | None = None,
    runs: Iterable[tuple[RunRecord, Sequence[CheckResult]]] | None = None,
    summary: Summary | None = None,
    on_run: Callable[[], None] | None = None,
) -> Path:
    """Build the report of a result folder and write it; see `harness.output.report.build.write_report`.

    Args:
        folder: The result folder.
        out: Where to write; default `folder/report.html`.
        runs: The judged runs when the caller holds them (`racelab run`); else streamed from `runs.jsonl`.
        summary: The summary when the caller holds it; else read from `summary.json`.
        on_run: Called after each run is taken in (a progress bar).

    Returns:
        The report's path.

    Raises:
        InvalidScenario: Not a complete result folder, or a file in it is not what racelab writes.
    """
    from harness.output.report.build import write_report as build

    return build(folder, out=out, runs=runs, summary=summary, on_run=on_run)


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `racelab report` to the CLI."""
    parser = sub.add_parser(
        "report",
        help="rebuild report.html of a result folder",
        description="Build the HTML report of a result folder (what `racelab run` writes into it): gate verdicts, "
        "violation rate against each swept offset with 95% intervals, a heat map for two swept parameters, the "
        "workaround's cost, a timeline of one failing run per scenario and invariant with the command that replays "
        "it, and every run in a table filtered by verdict. One self-contained file; it works offline.",
        epilog="exit codes: 0 report written · 2 not a result folder, or a file in it is not what racelab writes · "
        "3 the report could not be written",
    )
    parser.add_argument("folder", type=Path, metavar="RESULT_DIR", help="a result folder, e.g. results/latest")
    parser.add_argument("--out", type=Path, metavar="FILE", help="where to write (default: RESULT_DIR/report.html)")
    parser.set_defaults(handler=_report, crash_folder=lambda args: Path(args.folder))


def _report(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import json
    import shlex

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from harness.errors import HarnessError, InvalidScenario
    from harness.model.summary import Summary
    from harness.output.report.build import write_report as build

    folder: Path = args.folder
    if not folder.is_dir():
        raise InvalidScenario(f"{folder}: no such result folder")
    try:
        summary: Summary | None = Summary.from_json(json.loads((folder / "summary.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        summary = None  # the build says precisely what is wrong with the folder
    total = None if summary is None else summary.runs
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("reading runs"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task("runs", total=total)
        try:
            path = build(folder, out=args.out, on_run=lambda: progress.advance(task))
        except OSError as exc:
            raise HarnessError(f"cannot build the report: {exc}") from None
    if summary is not None and summary.interrupted is not None:  # the page says it too, in a banner
        print(f"INTERRUPTED: {summary.interrupted}; resume: racelab run --resume {shlex.quote(str(folder))}")
    print(f"report: {path} ({path.stat().st_size / 1024:.0f} KiB)")
    sys.stdout.flush()
    return 0
