"""What report.html shows, as plain records: pure functions from judged runs to chart and table data.

Owns: the one-pass `Collector` (runs go in one at a time, so a 100 MB `runs.jsonl` is never held in memory; it keeps
counts, one table row per run, times to invoice, and the full record of only the few runs the timelines show) and
the functions that shape its tallies for the charts: `rate_curve` (violation rate against one swept parameter, per
integration, with Wilson 95% intervals), `binned_curve` (the same against an offset drawn from a distribution),
`heat_map` (rate over two swept parameters), `added_times` (the workaround's cost: added time to invoice on identical
schedules), `timeline` and `broke_at` (one failing run, normalised to milliseconds from the run's start) and
`table_row`.

Imports: stdlib, `harness.model`, `harness.stats` and `harness.gates` (pure). No matplotlib, no jinja2: drawing is
`harness.report.charts`, the page `harness.report.build`.

    collector = Collector(replay=lambda scenario, run_id: f"racelab replay DIR --run {scenario}/{run_id}")
    for record, results in read_runs(folder):
        collector.add(record, results)
    data = collector.finish()
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from harness.judge.gates import run_verdict
from harness.judge.stats import percentile, time_to_invoice, wilson
from harness.model.records import CheckResult, Operation, RunRecord, Verdict

__all__ = [
    "AddedTime",
    "Bar",
    "Broken",
    "CellCount",
    "Collector",
    "CostData",
    "DrawnSample",
    "Event",
    "Group",
    "HeatMap",
    "Lane",
    "Mark",
    "RateChart",
    "RatePoint",
    "RateSeries",
    "ReportData",
    "Row",
    "ScenarioData",
    "StatusChange",
    "Timeline",
    "added_times",
    "axis_label",
    "binned_curve",
    "broke_at",
    "cell_text",
    "focus_window",
    "heat_map",
    "pair_key",
    "rate_curve",
    "table_row",
    "timeline",
    "timeline_events",
]

DEFAULT_BASELINE = "naive"
"""The integration the others' time to invoice is compared with, when it ran (as `harness.stats.invoice_cost`)."""

PairKey = tuple[str, str, int]
"""(scenario, the cell as canonical JSON, repetition): runs with the same key had the same schedule and seed."""

_STEP_KEY = re.compile(r"^step(\d+)\.at_ms$")


# -- records -----------------------------------------------------------------------------------------------------------


class _Rated:
    """A violation rate with its 95% Wilson interval, for records that count `runs` and `invalid` runs."""

    __slots__ = ()
    runs: int
    invalid: int

    @property
    def rate(self) -> float:
        """Invalid runs over runs, as the gates count them (0.0 without runs)."""
        return self.invalid / self.runs if self.runs else 0.0

    @property
    def low(self) -> float:
        return wilson(self.invalid, self.runs)[0]

    @property
    def high(self) -> float:
        return wilson(self.invalid, self.runs)[1]


@dataclass(frozen=True, slots=True)
class RatePoint(_Rated):
    """The runs at one x of a rate curve: a swept value, or a bin of drawn offsets.

    point = RatePoint(x=350.0, label="350", runs=20, invalid=7, unknown=0)
    point.rate, point.low, point.high    # 0.35, 0.18..., 0.56...
    """

    x: float
    label: str
    runs: int
    invalid: int
    unknown: int


@dataclass(frozen=True, slots=True)
class Group(_Rated):
    """All the runs of one integration in a scenario."""

    integration: str
    runs: int
    invalid: int
    unknown: int


@dataclass(frozen=True, slots=True)
class RateSeries:
    """One integration's curve."""

    integration: str
    points: tuple[RatePoint, ...]


@dataclass(frozen=True, slots=True)
class RateChart:
    """Violation rate against one parameter of a scenario, per integration."""

    scenario: str
    axis: str | None
    """The cell key (`step1.at_ms`), or `None` when nothing varies: one point per integration."""
    label: str
    """The x axis, for a person: `step 1 (change) offset, ms`."""
    drawn: bool
    """The x values are bins of offsets drawn from a distribution, not swept values."""
    series: tuple[RateSeries, ...]


@dataclass(frozen=True, slots=True)
class HeatMap:
    """Violation rate over two swept parameters, one matrix per integration: `rates[integration][row][column]`."""

    scenario: str
    x_axis: str
    y_axis: str
    x_label: str
    y_label: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]
    integrations: tuple[str, ...]
    cells: Mapping[str, tuple[tuple[RatePoint | None, ...], ...]]
    """Per integration, rows (one per `ys` value) of columns (one per `xs` value); `None` where no run was."""
    aggregated: tuple[str, ...] = ()
    """Further swept parameters summed over in each cell."""


@dataclass(frozen=True, slots=True)
class CellCount:
    """How the runs of one (integration, cell) of a scenario were judged."""

    integration: str
    cell: Mapping[str, Any]
    runs: int
    invalid: int
    unknown: int


@dataclass(frozen=True, slots=True)
class DrawnSample:
    """One run whose step offset was drawn from a distribution: where it landed and how it was judged."""

    integration: str
    at_ms: float
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class AddedTime:
    """One integration's time to invoice minus the baseline's, pair by pair."""

    integration: str
    added_ms: tuple[float, ...]
    """Sorted."""
    unpaired: int
    """Runs without a baseline twin, or where either twin got no invoice accepted."""
    p50: float | None
    p99: float | None


@dataclass(frozen=True, slots=True)
class CostData:
    """The workaround's cost: every non-baseline integration against the baseline, on identical schedules."""

    baseline: str | None
    integrations: tuple[AddedTime, ...]


@dataclass(frozen=True, slots=True)
class Lane:
    """A row of a timeline: the client's requests of one kind, or one operation inside the simulator."""

    label: str
    side: str
    """`client` or `simulator`."""


@dataclass(frozen=True, slots=True)
class Bar:
    """A client request, from the moment it was sent to its answer (ms from the run's start)."""

    lane: int
    start_ms: float
    end_ms: float
    index: int
    f: str
    outcome: str
    status: int | None


@dataclass(frozen=True, slots=True)
class Mark:
    """A journal entry of the simulator: a phase of one of its operations (`read`, `commit`, `arrive`, ...)."""

    lane: int
    t_ms: float
    op: str
    phase: str
    op_id: str
    version: int | None
    detail: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StatusChange:
    """The order's status changed (a journal `status` entry)."""

    t_ms: float
    before: str
    after: str
    version: int | None


@dataclass(frozen=True, slots=True)
class Broken:
    """One invariant a timeline's run broke."""

    checker: str
    explanation: str
    at_ms: float | None
    """When it broke, when the run's data says; `None` for invariants judged on the final state only."""
    label: str
    """How, in a few words: `v3: invoiced 124.80 > total 109.80`."""


@dataclass(frozen=True, slots=True)
class Timeline:
    """One failing run, laid out for the timeline chart: every time in ms from the run's start."""

    scenario: str
    integration: str
    run_id: str
    order_id: str
    replay: str
    """The command that replays this run."""
    broken: tuple[Broken, ...]
    """The invariants this run is shown for (the first run each of them broke in the scenario)."""
    lanes: tuple[Lane, ...]
    bars: tuple[Bar, ...]
    marks: tuple[Mark, ...]
    status_changes: tuple[StatusChange, ...]
    focus_ms: tuple[float, float]
    """The window worth drawing: from the first event to the last request, commit, status change or breakage
    (plus a margin). Later journal entries (a superseded check firing, the harness's final read) stay in the event
    list."""

    @property
    def later(self) -> tuple[Mark, ...]:
        """The simulator's marks after the focus window."""
        return tuple(m for m in self.marks if m.t_ms > self.focus_ms[1])

    @property
    def earlier(self) -> tuple[Mark, ...]:
        """The simulator's marks before the focus window (the order's seeding, long before the run)."""
        return tuple(m for m in self.marks if m.t_ms < self.focus_ms[0])


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


# -- small helpers -----------------------------------------------------------------------------------------------------


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fmt(value: Any) -> str:
    if _number(value):
        return f"{float(value):g}"
    return str(value)


def cell_text(cell: Mapping[str, Any]) -> str:
    """A cell for a person: `step1.at_ms=350, step0.at_ms=0`; empty when nothing varies."""
    return ", ".join(f"{key}={_fmt(value)}" for key, value in cell.items())


def _cell_json(cell: Mapping[str, Any]) -> str:
    return json.dumps(dict(cell), sort_keys=True, default=str)


def axis_label(key: str, steps: Sequence[str] = ()) -> str:
    """The x axis of a parameter: `step1.at_ms` with steps `(invoice, change)` reads `step 1 (change) offset, ms`.

    Args:
        key: A cell key.
        steps: The `do` of each step of the scenario, in order.

    Returns:
        The label; any other key as it is.
    """
    match = _STEP_KEY.match(key)
    if match is None:
        return key
    index = int(match.group(1))
    do = f" ({steps[index]})" if index < len(steps) else ""
    return f"step {index}{do} offset, ms"


# -- rate curves and heat map ------------------------------------------------------------------------------------------


def _integrations(counts: Iterable[CellCount]) -> list[str]:
    return list(dict.fromkeys(c.integration for c in counts))


def rate_curve(counts: Sequence[CellCount], axis: str | None) -> tuple[RateSeries, ...]:
    """Violation rate against one swept parameter, per integration; other parameters are summed over.

    Args:
        counts: The scenario's tallies per (integration, cell).
        axis: The cell key on the x axis (its values must be numbers), or `None` for one point per integration
            with every cell together (x = 0).

    Returns:
        One series per integration (in order of first appearance), points sorted by x.

    Raises:
        ValueError: A cell lacks `axis` or has a value there that is not a number.
    """
    series = []
    for integration in _integrations(counts):
        sums: dict[float, list[int]] = {}
        for c in counts:
            if c.integration != integration:
                continue
            if axis is None:
                x = 0.0
            else:
                value = c.cell.get(axis)
                if not _number(value):
                    raise ValueError(f"cell {cell_text(c.cell)!r} has no number for {axis}")
                x = float(value)
            bucket = sums.setdefault(x, [0, 0, 0])
            bucket[0] += c.runs
            bucket[1] += c.invalid
            bucket[2] += c.unknown
        points = tuple(
            RatePoint(x=x, label=_fmt(x) if axis is not None else integration, runs=n, invalid=k, unknown=u)
            for x, (n, k, u) in sorted(sums.items())
        )
        series.append(RateSeries(integration, points))
    return tuple(series)


def binned_curve(samples: Sequence[DrawnSample], *, bins: int = 10) -> tuple[RateSeries, ...]:
    """Violation rate against an offset drawn per run from a distribution, in equal-width bins.

    Every integration shares the same bins (from the smallest to the largest offset drawn), so the curves compare
    like with like; empty bins are left out. With fewer distinct offsets than `bins`, each offset is its own point.

    Args:
        samples: One per run: integration, drawn offset, verdict.
        bins: How many bins at most.

    Returns:
        One series per integration; a point's x is its bin's centre, its label the bin's range in ms.

    Raises:
        ValueError: `bins` < 1.
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    if not samples:
        return ()
    distinct = sorted({s.at_ms for s in samples})
    low, high = distinct[0], distinct[-1]
    exact = len(distinct) <= bins
    width = (high - low) / bins

    def bin_of(at_ms: float) -> int:
        if exact:
            return distinct.index(at_ms)
        return min(bins - 1, int((at_ms - low) / width))

    def bounds(b: int) -> tuple[float, float, str]:
        if exact:
            return distinct[b], distinct[b], _fmt(distinct[b])
        start, end = low + b * width, low + (b + 1) * width
        return start, end, f"{start:.0f}\N{EN DASH}{end:.0f}"

    series = []
    for integration in dict.fromkeys(s.integration for s in samples):
        sums: dict[int, list[int]] = {}
        for s in samples:
            if s.integration != integration:
                continue
            bucket = sums.setdefault(bin_of(s.at_ms), [0, 0, 0])
            bucket[0] += 1
            bucket[1] += s.verdict is Verdict.INVALID
            bucket[2] += s.verdict is Verdict.UNKNOWN
        points = []
        for b, (n, k, u) in sorted(sums.items()):
            start, end, label = bounds(b)
            points.append(RatePoint(x=(start + end) / 2, label=label, runs=n, invalid=k, unknown=u))
        series.append(RateSeries(integration, tuple(points)))
    return tuple(series)


def heat_map(
    counts: Sequence[CellCount], x_axis: str, y_axis: str, *, scenario: str = "", steps: Sequence[str] = ()
) -> HeatMap:
    """Violation rate over two swept parameters, per integration; any further parameters are summed over.

    Args:
        counts: The scenario's tallies per (integration, cell); both axes must be numbers in every cell.
        x_axis: The cell key of the columns.
        y_axis: The cell key of the rows.
        scenario: The scenario's name, carried along.
        steps: The `do` of each step, for the axis labels.

    Returns:
        The matrices, rows and columns sorted by value.

    Raises:
        ValueError: A cell lacks a number for either axis, or both axes are the same key.
    """
    if x_axis == y_axis:
        raise ValueError(f"a heat map needs two different parameters, got {x_axis} twice")
    sums: dict[tuple[str, float, float], list[int]] = {}
    others: dict[str, None] = {}
    for c in counts:
        x, y = c.cell.get(x_axis), c.cell.get(y_axis)
        if not (_number(x) and _number(y)):
            raise ValueError(f"cell {cell_text(c.cell)!r} needs numbers for {x_axis} and {y_axis}")
        others.update(dict.fromkeys(k for k in c.cell if k not in (x_axis, y_axis)))
        bucket = sums.setdefault((c.integration, float(x), float(y)), [0, 0, 0])
        bucket[0] += c.runs
        bucket[1] += c.invalid
        bucket[2] += c.unknown
    xs = tuple(sorted({x for _, x, _ in sums}))
    ys = tuple(sorted({y for _, _, y in sums}))
    integrations = tuple(_integrations(counts))
    cells: dict[str, tuple[tuple[RatePoint | None, ...], ...]] = {}
    for integration in integrations:
        rows = []
        for y in ys:
            row: list[RatePoint | None] = []
            for x in xs:
                found = sums.get((integration, x, y))
                row.append(None if found is None else RatePoint(x, _fmt(x), *found))
            rows.append(tuple(row))
        cells[integration] = tuple(rows)
    return HeatMap(
        scenario=scenario,
        x_axis=x_axis,
        y_axis=y_axis,
        x_label=axis_label(x_axis, steps),
        y_label=axis_label(y_axis, steps),
        xs=xs,
        ys=ys,
        integrations=integrations,
        cells=cells,
        aggregated=tuple(others),
    )


# -- the workaround's cost ---------------------------------------------------------------------------------------------


def pair_key(record: RunRecord) -> PairKey:
    """The identity of a run's schedule: the same for every integration of an A/B comparison."""
    return (record.spec.scenario, _cell_json(record.spec.cell), record.spec.repetition)


def added_times(times: Mapping[str, Mapping[PairKey, float | None]], *, baseline: str | None = None) -> CostData:
    """Per integration, its time to invoice minus the baseline's on the identical schedule, pair by pair.

    The same pairing as `harness.stats.invoice_cost` (which gives only p50/p99): here the whole distribution.

    Args:
        times: Integration → schedule → time to invoice in ms (`None`: no invoice was accepted).
        baseline: The integration to compare against; by default `naive` when it ran, else the first one.

    Returns:
        The baseline (`None` without runs) and every other integration's added times, sorted.
    """
    if baseline is None:
        baseline = DEFAULT_BASELINE if DEFAULT_BASELINE in times else next(iter(times), None)
    base = times.get(baseline or "", {})
    result = []
    for integration, mine in times.items():
        if integration == baseline:
            continue
        added = []
        for key, t in mine.items():
            theirs = base.get(key)
            if t is not None and theirs is not None:
                added.append(t - theirs)
        added.sort()
        result.append(
            AddedTime(
                integration=integration,
                added_ms=tuple(added),
                unpaired=len(mine) - len(added),
                p50=percentile(added, 50),
                p99=percentile(added, 99),
            )
        )
    return CostData(baseline=baseline, integrations=tuple(result))


# -- timelines ---------------------------------------------------------------------------------------------------------


def _ms(t_s: Any, origin_s: float) -> float | None:
    return (float(t_s) - origin_s) * 1000 if _number(t_s) else None


def _version_times(record: RunRecord) -> list[tuple[Mapping[str, Any], float]]:
    """The order's kept versions that carry a time, oldest first, with that time in ms from the run's start."""
    found = []
    for v in record.final.versions:
        t = _ms(v.get("t"), record.origin_s)
        if t is not None and _number(v.get("version")):
            found.append((v, t))
    found.sort(key=lambda vt: int(vt[0]["version"]))
    return found


def _money(cents: Any) -> str:
    return f"{int(cents) / 100:.2f}" if _number(cents) else str(cents)


def broke_at(record: RunRecord, result: CheckResult) -> tuple[float | None, str]:
    """When the invariant `result` judged broke, in ms from the run's start, and a short label saying how.

    From the order's kept versions (the simulator's clock, shared with the run's origin):

    - a result that names a `version` in its details: when that version was committed;
    - `no-over-invoice`: the first version invoiced above its total;
    - `invoiced-when-fully-invoiced`: when the order entered the status it is stuck in;
    - `no-lost-invoice`: the first version with fewer invoices than the one before;
    - otherwise the last operation the result names, when it completed.

    Args:
        record: The run.
        result: One checker's (invalid) result for it.

    Returns:
        `(ms, label)`, or `(None, "")` when nothing in the run dates it (e.g. Accounting's final state).
    """
    versions = _version_times(record)
    by_number = {int(v["version"]): (v, t) for v, t in versions}
    named = result.details.get("version")
    if _number(named) and int(named) in by_number:
        v, t = by_number[int(named)]
        return t, f"v{int(named)} committed: total {_money(v.get('value'))}, invoiced {_money(v.get('invoiced'))}"
    if result.checker == "no-over-invoice":
        for v, t in versions:
            if _number(v.get("invoiced")) and _number(v.get("value")) and v["invoiced"] > v["value"]:
                return t, f"v{v['version']}: invoiced {_money(v['invoiced'])} > total {_money(v['value'])}"
    if result.checker == "invoiced-when-fully-invoiced":
        stuck = record.final.order.get("status")
        entered: tuple[Mapping[str, Any], float] | None = None
        previous = None
        for v, t in versions:
            if v.get("status") == stuck and previous != stuck:
                entered = (v, t)
            previous = v.get("status")
        if entered is not None:
            return entered[1], f"v{entered[0]['version']}: order moved to {stuck} and stays there"
    if result.checker == "no-lost-invoice":
        for (before, _), (v, t) in itertools.pairwise(versions):
            if _number(before.get("packages")) and _number(v.get("packages")) and v["packages"] < before["packages"]:
                return t, f"v{v['version']}: an accepted invoice was dropped"
    ops = {op.index: op for op in record.history}
    named_ops = [ops[i] for i in result.ops if i in ops]
    if named_ops:
        last = max(named_ops, key=lambda op: op.t_complete)
        return last.t_complete, f"request #{last.index} ({last.f}) answered"
    return None, ""


def _short(text: str, limit: int = 17) -> str:
    """At most `limit` characters, the middle elided: ids that share a prefix (`NF-<scenario>-…`) differ at the end."""
    if len(text) <= limit:
        return text
    tail = (limit - 1) // 2
    return text[: limit - 1 - tail] + "\N{HORIZONTAL ELLIPSIS}" + text[-tail:]


def _bar_start(op: Operation) -> float:
    return op.sent_ms if op.sent_ms is not None else op.t_invoke


def focus_window(
    bars: Sequence[Bar], marks: Sequence[Mark], changes: Sequence[StatusChange], broken: Sequence[float]
) -> tuple[float, float]:
    """The part of a run worth drawing: the race, not the set-up before it nor the settling after it.

    It ends at the last request answer, commit, status change or breakage, plus 10% of the span; what comes later
    is the simulator settling (a superseded check firing at its time, the harness reading the final state). It starts
    at the first event other than the order's seeding, which the harness does before the run's clock starts (under
    load, seconds before); the seed is drawn only when it is that close. Everything outside stays in the event list.
    """
    every = [b.start_ms for b in bars] + [m.t_ms for m in marks] + [c.t_ms for c in changes] + list(broken)
    if not every:
        return (0.0, 1.0)
    race = [b.start_ms for b in bars] + [m.t_ms for m in marks if m.op != "seed"] + [c.t_ms for c in changes]
    start = min(race + list(broken)) if race or broken else min(every)
    core = [b.end_ms for b in bars] + [m.t_ms for m in marks if m.phase == "commit"]
    core += [c.t_ms for c in changes] + list(broken)
    end = max(core) if core else max(every)
    margin = max(1.0, (end - start) * 0.1)
    seeded = [m.t_ms for m in marks if m.op == "seed" and start - m.t_ms <= (end - start) * 0.15]
    return (min([start, *seeded]), min(max(every), end + margin))


def timeline(record: RunRecord, results: Sequence[CheckResult], *, replay: str) -> Timeline:
    """One failing run laid out for its timeline: client requests, the simulator's phases, status changes.

    Client requests get one lane per kind (`f`) in order of first use (more when requests of a kind overlap), with a
    bar from send to answer. Journal entries get one lane per simulator operation (`op` and `op_id`: an invoice
    number, a Change's `requestId`, a workflow check), in order of first entry; the `change` phase of `status`
    entries becomes a status change instead. Journal times are on the simulator's monotonic clock, which the
    embedded runner shares: `(t - origin_s) * 1000`.

    Args:
        record: The run.
        results: The invalid results the timeline illustrates.
        replay: The command that replays the run.

    Returns:
        The timeline.
    """
    lanes: list[Lane] = []
    lane_of: dict[tuple[str, str], int] = {}

    def lane(side: str, key: str, label: str) -> int:
        if (side, key) not in lane_of:
            lane_of[(side, key)] = len(lanes)
            lanes.append(Lane(label, side))
        return lane_of[(side, key)]

    # Requests of one kind that overlap in time (a retry, a duplicate hook) get a row each: `invoice`, `invoice (2)`.
    rows: dict[str, list[float]] = {}
    bars = []
    for request in sorted(record.history, key=_bar_start):
        start, end = _bar_start(request), max(request.t_complete, _bar_start(request))
        f = request.f
        ends = rows.setdefault(f, [])
        row = next((i for i, free_at in enumerate(ends) if free_at <= start), len(ends))
        if row == len(ends):
            ends.append(end)
        ends[row] = end
        label = f if row == 0 else f"{f} ({row + 1})"
        bar_lane = lane("client", f"{f}|{row}", label)
        bars.append(Bar(bar_lane, start, end, request.index, f, request.outcome.value, request.status))
    marks: list[Mark] = []
    changes: list[StatusChange] = []
    for entry in sorted(record.journal, key=lambda e: (float(e.get("t", 0.0)), int(e.get("seq", 0)))):
        t = _ms(entry.get("t"), record.origin_s)
        if t is None:
            continue
        op, op_id = str(entry.get("op", "")), str(entry.get("op_id") or "")
        version = entry.get("version")
        detail = entry.get("detail") or {}
        if op == "status" and entry.get("phase") == "change":
            number = int(version) if _number(version) else None
            changes.append(StatusChange(t, str(detail.get("from", "")), str(detail.get("to", op_id)), number))
            continue
        label = f"{op} {_short(op_id)}" if op_id and op_id != record.spec.order_id else op
        marks.append(Mark(lane("simulator", f"{op}|{op_id}", label), t, op, str(entry.get("phase", "")), op_id,
                          int(version) if _number(version) else None, detail))  # fmt: skip
    broken = tuple(Broken(r.checker, r.explanation, *broke_at(record, r)) for r in results)
    return Timeline(
        scenario=record.spec.scenario,
        integration=record.spec.integration,
        run_id=record.spec.run_id,
        order_id=record.spec.order_id,
        replay=replay,
        broken=broken,
        lanes=tuple(lanes),
        bars=tuple(bars),
        marks=tuple(marks),
        status_changes=tuple(changes),
        focus_ms=focus_window(bars, marks, changes, [b.at_ms for b in broken if b.at_ms is not None]),
    )


# -- the table ---------------------------------------------------------------------------------------------------------


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


# -- the one pass ------------------------------------------------------------------------------------------------------


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
        _, counts = tally.cells.setdefault((spec.integration, _cell_json(spec.cell)), (dict(spec.cell), [0, 0, 0]))
        counts[0] += 1
        counts[1] += verdict is Verdict.INVALID
        counts[2] += verdict is Verdict.UNKNOWN
        for key, value in spec.cell.items():
            match = _STEP_KEY.match(key)
            if not _number(value) and match is not None and int(match.group(1)) < len(spec.steps):
                at_ms = spec.steps[int(match.group(1))].at_ms
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
        numeric = [k for k in keys if all(_number(c.cell.get(k)) for c in counts)]
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
            integrations=tuple(_integrations(counts)),
            groups=groups,
            rate_charts=tuple(charts),
            heat_map=heat,
            timelines=timelines,
            cost=added_times(tally.times),
        )


_SAME_MOMENT_MS = 0.05


@dataclass(frozen=True, slots=True)
class Event:
    """One line of a timeline's event list."""

    t_ms: float
    side: str
    """`client`, `simulator` or `status`."""
    what: str
    detail: str


def _compact(detail: Mapping[str, Any], limit: int = 140) -> str:
    text = ", ".join(f"{k}={v}" for k, v in detail.items())
    return _short(text, limit)


def timeline_events(tl: Timeline) -> tuple[Event, ...]:
    """Every bar, mark and status change of a timeline as one time-ordered list (what the chart draws, in words).

    A request gives two lines (sent, answered); the invariant breaking gives one, in place.
    """
    events = []
    for bar in tl.bars:
        answer = str(bar.status) if bar.status is not None else bar.outcome
        events.append(Event(bar.start_ms, "client", f"#{bar.index} {bar.f} sent", ""))
        events.append(Event(bar.end_ms, "client", f"#{bar.index} {bar.f} answered {answer}",
                            f"{bar.outcome}, {bar.end_ms - bar.start_ms:.1f} ms"))  # fmt: skip
    for mark in tl.marks:
        version = f" v{mark.version}" if mark.version is not None else ""
        who = f"{mark.op} {mark.op_id}" if mark.op_id and mark.op_id != tl.order_id else mark.op
        events.append(Event(mark.t_ms, "simulator", f"{who}: {mark.phase}{version}", _compact(mark.detail)))
    for change in tl.status_changes:
        version = f" (v{change.version})" if change.version is not None else ""
        events.append(Event(change.t_ms, "status", f"{change.before} \N{RIGHTWARDS ARROW} {change.after}{version}", ""))
    for b in tl.broken:
        if b.at_ms is not None:
            events.append(Event(b.at_ms, "broken", f"{b.checker} broke", b.label))
    # A version's time is read a few microseconds before its commit is journaled: a breakage dated by a version
    # goes after the entries of the same moment, so it reads as the consequence it is.
    events.sort(key=lambda e: e.t_ms + (_SAME_MOMENT_MS if e.side == "broken" else 0.0))
    return tuple(events)
