"""Timelines for the report: one failing run laid out in milliseconds from its start, and in words.

Owns the timeline records (`Lane`, `Bar` for a client request, `ProxyTimes` for the four times of one that went
through `racelab proxy`, `Mark` for a journal entry of the simulator, `StatusChange`, `Broken` for an invariant that
broke, `Timeline`, `Event`) and the functions that build them: `timeline` (a run's requests, journal and status
changes), `broke_at` (when and how an invariant broke), `focus_window` (the part worth drawing), `proxy_times` (an
operation's proxy times, if it has them) and `timeline_events` (the same, as one time-ordered list).

Imports: stdlib, `harness.model` and `harness.output.report.cells` (pure).

    tl = timeline(record, invalid_results, replay="racelab replay results/latest --run over-invoice/0000-0000-naive")
    tl.focus_ms, [e.what for e in timeline_events(tl)]
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.model.records import CheckResult, Operation, RunRecord
from harness.output.report.cells import is_number

__all__ = [
    "Bar",
    "Broken",
    "Event",
    "Lane",
    "Mark",
    "ProxyTimes",
    "StatusChange",
    "Timeline",
    "broke_at",
    "focus_window",
    "proxy_times",
    "timeline",
    "timeline_events",
]


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
    proxy: ProxyTimes | None = None
    """The four times of an exchange `racelab proxy` recorded (its runs only: `proxy judge`)."""


@dataclass(frozen=True, slots=True)
class ProxyTimes:
    """An exchange through `racelab proxy`, in ms from the run's start: it arrived at the proxy, was forwarded to the
    upstream (later, when a rule held or delayed it), the upstream answered, the caller got its answer. A phase never
    reached is `None` (a fault before forwarding, a cut connection)."""

    arrived: float
    forwarded: float | None
    upstream_answered: float | None
    answered: float | None
    rule: str | None = None
    """The rule that shaped it, in words (`#0 delay 300 ms`)."""
    fault: str | None = None


def proxy_times(op: Operation) -> ProxyTimes | None:
    """The proxy's four times of an operation `proxy judge` made of an exchange; `None` for any other operation."""
    proxy = op.request.get("proxy")
    times = proxy.get("times") if isinstance(proxy, Mapping) else None
    if not isinstance(times, Mapping) or not is_number(times.get("arrived")):
        return None

    def at(phase: str) -> float | None:
        value = times.get(phase)
        return float(value) if is_number(value) else None

    rule = proxy.get("rule") if isinstance(proxy, Mapping) else None
    said = None
    if isinstance(rule, Mapping):
        said = " ".join(str(rule[k]) for k in ("action", "detail") if rule.get(k) is not None)
        if is_number(rule.get("index")):
            said = f"#{rule['index']} {said}"
    fault = proxy.get("fault") if isinstance(proxy, Mapping) else None
    return ProxyTimes(
        float(times["arrived"]),
        at("forwarded"),
        at("upstream_answered"),
        at("answered"),
        rule=said or None,
        fault=str(fault) if fault is not None else None,
    )


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


def _ms(t_s: Any, origin_s: float) -> float | None:
    return (float(t_s) - origin_s) * 1000 if is_number(t_s) else None


def _version_times(record: RunRecord) -> list[tuple[Mapping[str, Any], float]]:
    """The order's kept versions that carry a time, oldest first, with that time in ms from the run's start."""
    found = []
    for v in record.final.versions:
        t = _ms(v.get("t"), record.origin_s)
        if t is not None and is_number(v.get("version")):
            found.append((v, t))
    found.sort(key=lambda vt: int(vt[0]["version"]))
    return found


def _money(cents: Any) -> str:
    return f"{int(cents) / 100:.2f}" if is_number(cents) else str(cents)


_SEEN_IN_THE_END = frozenset({"no-over-invoice", "invoiced-when-fully-invoiced"})
"""The invariants whose breaking only the order's versions date; judged from its final state, they have no moment."""


def broke_at(record: RunRecord, result: CheckResult) -> tuple[float | None, str]:
    """When the invariant `result` judged broke, in ms from the run's start, and a short label saying how.

    From the order's kept versions (the simulator's clock, shared with the run's origin):

    - a result that names a `version` in its details: when that version was committed;
    - `no-over-invoice`: the first version invoiced above its total;
    - `invoiced-when-fully-invoiced`: when the order entered the status it is stuck in;
    - `no-lost-invoice`: the first version with fewer invoices than the one before;
    - otherwise the last operation the result names, when it completed; but for an order judged through
      `racelab proxy` (no versions), `no-over-invoice` and `invoiced-when-fully-invoiced` have no moment.

    Args:
        record: The run.
        result: One checker's (invalid) result for it.

    Returns:
        `(ms, label)`, or `(None, "")` when nothing in the run dates it (e.g. Accounting's final state).
    """
    versions = _version_times(record)
    by_number = {int(v["version"]): (v, t) for v, t in versions}
    named = result.details.get("version")
    if is_number(named) and int(named) in by_number:
        v, t = by_number[int(named)]
        return t, f"v{int(named)} committed: total {_money(v.get('value'))}, invoiced {_money(v.get('invoiced'))}"
    if result.checker == "no-over-invoice":
        for v, t in versions:
            if is_number(v.get("invoiced")) and is_number(v.get("value")) and v["invoiced"] > v["value"]:
                return t, f"v{v['version']}: invoiced {_money(v['invoiced'])} > total {_money(v['value'])}"
    if result.checker == "invoiced-when-fully-invoiced":
        stuck = record.final.status  # the checker found the order stuck in it, so the document has one
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
            if (
                is_number(before.get("packages"))
                and is_number(v.get("packages"))
                and v["packages"] < before["packages"]
            ):
                return t, f"v{v['version']}: an accepted invoice was dropped"
    if not versions and result.checker in _SEEN_IN_THE_END and any(proxy_times(op) for op in record.history):
        # An order judged through the proxy: the platform keeps no versions one can read, so when the final state
        # went wrong is unknown (the invoice's answer is not it: a Change applied later made it wrong).
        return None, ""
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
    every += [b.end_ms for b in bars if b.proxy is not None]  # a held exchange may end long after everything else
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
        shaped = proxy_times(request)
        bars.append(Bar(bar_lane, start, end, request.index, f, request.outcome.value, request.status, shaped))
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
            number = int(version) if is_number(version) else None
            changes.append(StatusChange(t, str(detail.get("from", "")), str(detail.get("to", op_id)), number))
            continue
        label = f"{op} {_short(op_id)}" if op_id and op_id != record.spec.order_id else op
        marks.append(
            Mark(
                lane("simulator", f"{op}|{op_id}", label),
                t,
                op,
                str(entry.get("phase", "")),
                op_id,
                int(version) if is_number(version) else None,
                detail,
            )
        )
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


_SAME_MOMENT_MS = 0.05


def _proxy_events(bar: Bar, answer: str) -> list[Event]:
    """An exchange through the proxy gives a line per time it reached: arrived, forwarded (held or delayed by a
    rule: how long), upstream answered, answered."""
    p = bar.proxy
    assert p is not None
    name = f"#{bar.index} {bar.f}"
    events = [Event(p.arrived, "client", f"{name} arrived at the proxy", p.rule or "")]
    if p.forwarded is not None:
        held = p.forwarded - p.arrived
        why = f"after {held:.1f} ms" + (f" ({p.rule})" if p.rule else "")
        events.append(Event(p.forwarded, "client", f"{name} forwarded upstream", why))
    elif p.fault is not None:
        events.append(Event(p.arrived, "client", f"{name} not forwarded", f"fault {p.fault}"))
    if p.upstream_answered is not None and p.forwarded is not None:
        took = f"{p.upstream_answered - p.forwarded:.1f} ms upstream"
        events.append(Event(p.upstream_answered, "client", f"{name} upstream answered", took))
    if p.answered is not None:
        how = f"{bar.outcome}, {p.answered - p.arrived:.1f} ms" + (f", fault {p.fault}" if p.fault else "")
        events.append(Event(p.answered, "client", f"{name} answered {answer}", how))
    return events


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
        if bar.proxy is not None:
            events.extend(_proxy_events(bar, answer))
            continue
        events.append(Event(bar.start_ms, "client", f"#{bar.index} {bar.f} sent", ""))
        events.append(
            Event(
                bar.end_ms,
                "client",
                f"#{bar.index} {bar.f} answered {answer}",
                f"{bar.outcome}, {bar.end_ms - bar.start_ms:.1f} ms",
            )
        )
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
