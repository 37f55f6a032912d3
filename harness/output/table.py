"""The end-of-run table: one row per (scenario, integration), for the console and for JUnit's `system-out`.

Owns `render_table` (a rich `Table` of a `Summary`) and `plain_table` (the same as plain text). The only output
module that imports rich. An interrupted sweep says so in the title, and a gate that held on the runs that finished
(failed only because the sweep was cut) reads `INTERRUPTED`, not `pass`.

Imports: stdlib, rich and `harness.model.summary`.

    console.print(render_table(summary))
"""

from __future__ import annotations

import io

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.model.summary import GateResult, Summary, Tally

__all__ = ["plain_table", "render_table", "scenario_names"]


def scenario_names(summary: Summary) -> list[str]:
    """The scenarios of a summary, in order of first appearance among its tallies, then its gates."""
    names = [t.scenario for t in summary.groups] + [g.scenario for g in summary.gates]
    return list(dict.fromkeys(names))


def render_table(summary: Summary, *, scenario: str | None = None) -> Table:
    """The end-of-run table: one row per (scenario, integration).

    Columns: scenario, integration, runs, violations (with the runs that could not be judged), rate with its 95%
    interval, and the gate's verdict (`pass`, `FAIL`, `INTERRUPTED` when it held on the runs of an interrupted sweep,
    or `-` without a gate).

    Args:
        summary: What `harness.judge.build_summary` returned (or `summary.json`, read with `Summary.from_json`).
        scenario: Only this scenario's rows.

    Returns:
        The table, for `rich.console.Console.print`.
    """
    title = "racelab results"
    if summary.interrupted is not None:
        cut = summary.interrupted
        title += (
            f" \N{MIDDLE DOT} [bold yellow]INTERRUPTED[/] by {escape(cut.signal)}: {cut.finished} of {cut.planned} runs"
        )
        title += f" finished, {cut.cut} cut in flight" if cut.cut else " finished"
    table = Table(title=title, title_justify="left")
    table.add_column("scenario")
    table.add_column("integration")
    table.add_column("runs", justify="right")
    table.add_column("violations", justify="right")
    table.add_column("rate (95% CI)", justify="right")
    table.add_column("gate")
    gates: dict[tuple[str, str], list[GateResult]] = {}
    for g in summary.gates:
        gates.setdefault((g.scenario, g.integration), []).append(g)
    rows: dict[tuple[str, str], Tally | None] = {(t.scenario, t.integration): t for t in summary.groups}
    for key in gates:
        rows.setdefault(key, None)  # a gate whose integration never ran still gets its (failing) row
    for name in scenario_names(summary):
        if scenario is not None and name != scenario:
            continue
        for (row_scenario, integration), tally in rows.items():
            if row_scenario != name:
                continue
            if tally is None:
                runs, violations, rate = "0", "0", "-"
            else:
                low, high = tally.interval
                runs = str(tally.runs)
                violations = str(tally.invalid) + (f" (+{tally.unknown} unknown)" if tally.unknown else "")
                rate = f"{tally.rate * 100:.1f}% ({low * 100:.1f}\N{EN DASH}{high * 100:.1f}%)" if tally.runs else "-"
            decided = gates.get((name, integration), [])
            if not decided:
                verdict = "-"
            elif all(g.passed for g in decided):
                verdict = "[green]pass[/]"
            elif all(g.passed or g.held_back for g in decided):
                verdict = "[bold yellow]INTERRUPTED[/]"
            else:
                failed = ", ".join(g.condition for g in decided if not g.passed and not g.held_back)
                verdict = f"[bold red]FAIL[/] ({failed})"
                if any(g.held_back for g in decided):
                    verdict += " \N{MIDDLE DOT} [bold yellow]INTERRUPTED[/]"
            table.add_row(name, integration, runs, violations, rate, verdict)
    return table


def plain_table(summary: Summary, *, scenario: str | None = None) -> str:
    """`render_table` as plain text, 160 columns wide, without colour (JUnit's `system-out`)."""
    out = io.StringIO()
    console = Console(file=out, width=160, color_system=None, force_terminal=False, legacy_windows=False)
    console.print(render_table(summary, scenario=scenario))
    return out.getvalue()
