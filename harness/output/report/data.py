"""What report.html shows, collected in one pass over the judged runs.

Owns: the one-pass `Collector` (runs go in one at a time, so a 100 MB `runs.jsonl` is never held in memory; it keeps
counts, one table row per run, times to invoice, and the full record of only the few runs the timelines show),
`table_row` (one run in the table of all runs) and the report's records (`Row`, `ScenarioData`, `ReportData`). The
shaping is done by `rates` (rate curves, heat map), `cost` (the workaround's cost) and `timelines`.

Imports: stdlib, `harness.model`, `harness.judge.stats` and the report's pure modules (`cells`, `rates`, `cost`,
`timelines`). No matplotlib, no jinja2: drawing is `harness.output.report.charts`, the page
`harness.output.report.build`.

    collector = Collector(replay=lambda scenario, run_id: f"racelab replay DIR --run {scenario}/{run_id}")
    for record, results in read_runs(folder):
        collector.add(record, results)
    data = collector.finish()
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.judge.stats import PairKey, pair_key, time_to_invoice
from harness.model.records import CheckResult, RunRecord, Verdict, run_verdict
from harness.output.report.cells import axis_label, cell_json, cell_text, is_number, step_of
from harness.output.report.cost import CostData, added_times
from harness.output.report.rates import (
    CellCount,
    DrawnSample,
    Group,
    HeatMap,
    RateChart,
    binned_curve,
    heat_map,
    integrations_of,
    rate_curve,
)
from harness.output.report.timelines import Timeline, timeline

__all__ = ["Collector", "ReportData", "Row", "ScenarioData", "table_row"]


@dataclass(frozen=True, slots=True)
class Row:
    """One run in the table of all runs."""

    scenario: str
    integration: str
    run_id: str
    cell: str
    repetition: int
    verdict: str
    failed: tuple[str, ...]
    """The checkers that found the run invalid."""
    time_to_invoice_ms: float | None
    error: str | None


@dataclass(frozen=True, slots=True)
class ScenarioData:
    """Everything the report shows about one scenario."""

    name: str
    integrations: tuple[str, ...]
    groups: tuple[Group, ...]
    """Per integration, all cells together."""
    rate_charts: tuple[RateChart, ...]
    heat_map: HeatMap | None
    timelines: tuple[Timeline, ...]
    cost: CostData


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything the report shows."""

    scenarios: tuple[ScenarioData, ...]
    cost: CostData
    """Every scenario together (as `summary.json`'s `invoice_cost_ms`)."""
    rows: tuple[Row, ...]
    verdicts: Mapping[str, int] = field(default_factory=dict)
    """How many runs got each verdict."""


def table_row(record: RunRecord, results: Sequence[CheckResult]) -> Row:
    """One run as the table of all runs shows it; its verdict as the gates count it (`run_verdict`)."""
    spec = record.spec
    return Row(
        scenario=spec.scenario,
        integration=spec.integration,
        run_id=spec.run_id,
        cell=cell_text(spec.cell),
        repetition=spec.repetition,
        verdict=run_verdict(record, results).value,
        failed=tuple(r.checker for r in results if r.verdict is Verdict.INVALID),
        time_to_invoice_ms=time_to_invoice(record),
        error=record.error,
    )


class _ScenarioTally:
    """The mutable state of one scenario while its runs are added."""

    __slots__ = ("cells", "covered", "drawn", "failures", "steps", "times")

    def __init__(self, steps: tuple[str, ...]) -> None:
        self.steps = steps
        self.cells: dict[tuple[str, str], tuple[Mapping[str, Any], list[int]]] = {}
        self.drawn: dict[str, list[DrawnSample]] = {}
        self.times: dict[str, dict[PairKey, float | None]] = {}
        self.failures: list[tuple[RunRecord, list[CheckResult]]] = []
        """The first run each checker found invalid, with the checkers it is shown for."""
        self.covered: set[str] = set()


class Collector:
    """Takes judged runs one at a time and keeps only what the report shows (see the module docstring).

    Of each run it keeps a table row, its time to invoice and its verdict in its cell's tally; the full record only
    of the first run each checker found invalid in each scenario (the timelines; a run that is the first for several
    checkers is shown once, for all of them), so memory grows with the number of
    runs by a few hundred bytes each, never by their histories.

    Args:
        replay: `(scenario, run_id)` → the command that replays that run.
    """

    def __init__(self, *, replay: Callable[[str, str], str]) -> None:
        self._replay = replay
        self._scenarios: dict[str, _ScenarioTally] = {}
        self._rows: list[Row] = []

    def add(self, record: RunRecord, results: Sequence[CheckResult]) -> Row:
        """Count one run in.

        Returns:
            Its table row.
        """
        spec = record.spec
        tally = self._scenarios.get(spec.scenario)
        if tally is None:
            tally = self._scenarios[spec.scenario] = _ScenarioTally(tuple(s.do for s in spec.steps))
        row = table_row(record, results)
        self._rows.append(row)
        verdict = Verdict(row.verdict)
        _, counts = tally.cells.setdefault((spec.integration, cell_json(spec.cell)), (dict(spec.cell), [0, 0, 0]))
        counts[0] += 1
        counts[1] += verdict is Verdict.INVALID
        counts[2] += verdict is Verdict.UNKNOWN
        for key, value in spec.cell.items():
            step = step_of(key)
            if not is_number(value) and step is not None and step < len(spec.steps):
                at_ms = spec.steps[step].at_ms
                tally.drawn.setdefault(key, []).append(DrawnSample(spec.integration, at_ms, verdict))
        tally.times.setdefault(spec.integration, {}).setdefault(pair_key(record), row.time_to_invoice_ms)
        new = [r for r in results if r.verdict is Verdict.INVALID and r.checker not in tally.covered]
        if new:  # one timeline per run, showing every invariant it is the first to break
            tally.failures.append((record, new))
            tally.covered.update(r.checker for r in new)
        return row

    def finish(self) -> ReportData:
        """Shape everything counted so far into the report's data."""
        scenarios = []
        every_time: dict[str, dict[PairKey, float | None]] = {}
        for name, tally in self._scenarios.items():
            scenarios.append(self._scenario(name, tally))
            for integration, times in tally.times.items():
                every_time.setdefault(integration, {}).update(times)
        verdicts: dict[str, int] = dict.fromkeys((v.value for v in Verdict), 0)
        for row in self._rows:
            verdicts[row.verdict] += 1
        return ReportData(
            scenarios=tuple(scenarios), cost=added_times(every_time), rows=tuple(self._rows), verdicts=verdicts
        )

    def _scenario(self, name: str, tally: _ScenarioTally) -> ScenarioData:
        counts = [CellCount(integration, cell, *c) for (integration, _), (cell, c) in tally.cells.items()]
        keys = list(dict.fromkeys(k for c in counts for k in c.cell))
        numeric = [k for k in keys if all(is_number(c.cell.get(k)) for c in counts)]
        charts = [RateChart(name, k, axis_label(k, tally.steps), False, rate_curve(counts, k)) for k in numeric]
        for key, samples in tally.drawn.items():
            charts.append(RateChart(name, key, axis_label(key, tally.steps), True, binned_curve(samples)))
        if not charts:
            charts.append(RateChart(name, None, "integration", False, rate_curve(counts, None)))
        heat = None
        if len(numeric) >= 2:
            heat = heat_map(counts, numeric[1], numeric[0], scenario=name, steps=tally.steps)
        groups = tuple(
            Group(s.integration, p.runs, p.invalid, p.unknown) for s in rate_curve(counts, None) for p in s.points
        )
        timelines = tuple(
            timeline(record, results, replay=self._replay(name, record.spec.run_id))
            for record, results in tally.failures
        )
        return ScenarioData(
            name=name,
            integrations=tuple(integrations_of(counts)),
            groups=groups,
            rate_charts=tuple(charts),
            heat_map=heat,
            timelines=timelines,
            cost=added_times(tally.times),
        )
