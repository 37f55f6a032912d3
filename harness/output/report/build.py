"""Building `report.html` from a result folder: read, shape, draw, render, write.

Owns: `write_report` (the runs, streamed from `runs.jsonl` or handed over by `racelab run`, through the
`Collector`; `summary.json`; the scenarios' `summary:` texts from `inputs/`; then the page, written atomically) and
`render_report` (the page from the collected data). The page is self-contained: CSS, the few lines of JavaScript
that filter the table, and the charts as inline SVG; it fetches nothing.

Imports: stdlib, jinja2, yaml, `harness.errors`, `harness.model` (reading runs and the summary),
`harness.output.folder` (the replay command) and the report's modules (`data`, `timelines`, `charts`: matplotlib).
Loaded only when a report is built.

    path = write_report(Path("results/latest"))          # results/latest/report.html
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from harness.errors import InvalidScenario
from harness.model.codec import read_runs
from harness.model.records import CheckResult, RunRecord
from harness.model.summary import Summary
from harness.output.folder import replay_command
from harness.output.report import charts
from harness.output.report.data import Collector, ReportData, Row
from harness.output.report.timelines import timeline_events

__all__ = ["PROXY_MODE", "REPORT", "render_report", "write_report"]

REPORT = "report.html"
"""The report's name inside a result folder."""

PROXY_MODE = "proxy"
"""`summary.json`'s mode for the orders `racelab proxy judge` judged: their timelines show the proxy's four times, and
they are judged again, not replayed."""

Judged = tuple[RunRecord, Sequence[CheckResult]]


def _display_dir(folder: Path) -> Path:
    """The folder as the replay commands name it: relative to the current directory when inside it."""
    resolved = folder.resolve()
    with contextlib.suppress(ValueError):
        return resolved.relative_to(Path.cwd().resolve())
    return resolved


def _load_summary(folder: Path) -> Summary:
    path = folder / "summary.json"
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidScenario(f"{folder}: no summary.json; not a complete racelab result folder") from None
    except ValueError as exc:
        raise InvalidScenario(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(loaded, dict):
        raise InvalidScenario(f"{path}: expected a JSON object")
    try:
        return Summary.from_json(loaded)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise InvalidScenario(f"{path}: not a racelab summary ({detail})") from None


def _stream(folder: Path) -> Iterator[Judged]:
    """The runs of `runs.jsonl`, one at a time; a line that is not a run is reported with its number."""
    path = folder / "runs.jsonl"
    if not path.is_file():
        raise InvalidScenario(f"{folder}: no runs.jsonl; not a complete racelab result folder")
    runs = read_runs(path)
    number = 0
    while True:
        number += 1
        try:
            judged = next(runs)
        except StopIteration:
            return
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise InvalidScenario(f"{path}: run {number}: not a racelab run record ({detail})") from None
        yield judged


def _scenario_texts(folder: Path) -> dict[str, str]:
    """Scenario name → its `summary:` paragraph, from the copies under `inputs/scenarios/` (best effort)."""
    texts: dict[str, str] = {}
    for path in sorted((folder / "inputs" / "scenarios").glob("*.y*ml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("name"), str) and isinstance(doc.get("summary"), str):
            texts[doc["name"]] = doc["summary"].strip()
    return texts


def write_report(
    folder: Path,
    *,
    out: Path | None = None,
    runs: Iterable[Judged] | None = None,
    summary: Summary | None = None,
    on_run: Callable[[], None] | None = None,
) -> Path:
    """Build the report of a result folder and write it (atomically: the old report or the new, never half).

    Args:
        folder: The result folder (`summary.json`, `runs.jsonl`, `inputs/`).
        out: Where to write; default `folder/report.html`.
        runs: The judged runs, when the caller has them (`racelab run`); else streamed from `runs.jsonl`.
        summary: The summary, when the caller has it; else read from `summary.json`.
        on_run: Called after each run is taken in (a progress bar).

    Returns:
        The report's path.

    Raises:
        InvalidScenario: The folder is not a complete result folder, or a file in it is not what racelab writes.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidScenario(f"{folder}: no such result folder")
    summary = summary if summary is not None else _load_summary(folder)
    shown = _display_dir(folder)
    if summary.mode == PROXY_MODE:  # an order seen through `racelab proxy` cannot be replayed, only judged again
        again = _rejudge(summary)
        collector = Collector(replay=lambda scenario, run_id: again)
    else:
        collector = Collector(replay=lambda scenario, run_id: replay_command(shown, scenario, run_id))
    for record, results in runs if runs is not None else _stream(folder):
        collector.add(record, results)
        if on_run is not None:
            on_run()
    html = render_report(
        collector.finish(),
        summary=summary,
        folder=shown,
        scenario_texts=_scenario_texts(folder),
        generated=datetime.now(),
    )
    target = out if out is not None else folder / REPORT
    _write_atomic(target, html.encode("utf-8"))
    return target


def _rejudge(summary: Summary) -> str:
    """The command that judged a proxy's record (`summary.json`'s), which judges it again."""
    command = summary.command
    if command is None:
        return "racelab proxy judge DIR --upstream URL"
    return command if isinstance(command, str) else shlex.join(command)


def _write_atomic(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; a report is for colleagues and CI artifacts
        with open(fd, "wb") as f:
            f.write(content)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("harness.output.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_report(
    data: ReportData,
    *,
    summary: Summary,
    folder: Path,
    scenario_texts: Mapping[str, str],
    generated: datetime,
) -> str:
    """The page: header with the gates' verdicts (and a banner when the sweep was interrupted), a section per
    scenario, the workaround's cost, the table of runs.

    Args:
        data: What the `Collector` gathered.
        summary: The summary (gates, seed, command, statistics).
        folder: The result folder as the replay commands name it.
        scenario_texts: Scenario name → its `summary:` paragraph.
        generated: When the report is built.

    Returns:
        The HTML.
    """
    colors = charts.palette(i for s in data.scenarios for i in s.integrations)
    ids = iter(range(1, 1_000_000))

    def chart_id() -> str:
        return f"c{next(ids)}"

    scenarios = []
    index = {s.name: i for i, s in enumerate(data.scenarios)}
    for s in data.scenarios:
        figures = [
            {
                "kind": "rate",
                "title": f"Violation rate against {c.label}" if c.axis is not None else "Violation rate",
                "svg": Markup(charts.rate_chart(c, colors=colors, chart_id=chart_id())),
            }
            for c in s.rate_charts
        ]
        if s.heat_map is not None:
            aggregated = f" (summed over {', '.join(s.heat_map.aggregated)})" if s.heat_map.aggregated else ""
            figures.append(
                {
                    "kind": "heat-map",
                    "title": f"Violation rate over {s.heat_map.y_label} and {s.heat_map.x_label}{aggregated}",
                    "svg": Markup(charts.heat_map_chart(s.heat_map, chart_id=chart_id())),
                }
            )
        timelines = [
            {"data": tl, "svg": Markup(charts.timeline_chart(tl, chart_id=chart_id())), "events": timeline_events(tl)}
            for tl in s.timelines
        ]
        scenarios.append(
            {
                "index": index[s.name],
                "name": s.name,
                "text": scenario_texts.get(s.name, ""),
                "groups": s.groups,
                "gates": [g for g in summary.gates if g.scenario == s.name],
                "figures": figures,
                "timelines": timelines,
                "cost": s.cost,
            }
        )
    runs_json = htmlsafe_json_dumps(
        {"scenarios": [s.name for s in data.scenarios], "rows": [_row_json(row, index) for row in data.rows]},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    # The SVGs are trusted markup: matplotlib's SVG writer escapes every text it draws.
    cost_svg = charts.cost_chart(data.cost, colors=colors, chart_id=chart_id())
    proxy = summary.mode == PROXY_MODE
    template = _environment().get_template("report.html.j2")
    return template.render(
        summary=summary,
        gates=summary.gates,
        folder=str(folder),
        proxy=proxy,
        rejudge=_rejudge(summary) if proxy else "",
        replay_prefix="" if proxy else f"racelab replay {shlex.quote(str(folder))} --run ",
        resume=f"racelab run --resume {shlex.quote(str(folder))}",
        generated=f"{generated:%Y-%m-%d %H:%M:%S}",
        scenarios=scenarios,
        scenario_index=index,
        cost=data.cost,
        cost_svg=None if cost_svg is None else Markup(cost_svg),
        rows=data.rows,
        verdicts=data.verdicts,
        runs_json=runs_json,
        colors=colors,
    )


def _row_json(row: Row, scenario_index: Mapping[str, int]) -> list[Any]:
    """A table row as the page's script reads it (see the template): short, positional, for 10,000 of them."""
    time = None if row.time_to_invoice_ms is None else round(row.time_to_invoice_ms)
    return [
        scenario_index[row.scenario],
        row.integration,
        row.run_id,
        row.cell,
        row.repetition,
        row.verdict,
        ", ".join(row.failed),
        time,
        row.error or "",
    ]
