"""What `racelab calibrate` reads: its inputs turned into observations.

Owns: the observation records (`RaceCell`, `RaceObservations`, `Observations`), the observables (`OBSERVABLES`:
which operation or derived span is observed, from which operation names) and the readers of the four input kinds,
`read_inputs(paths)`: a result folder of control-free runs (`runs.jsonl`: each operation's `invoke`/`ok` times, the
Change's `finished` from its details polls, the order's `invoicedDate`, and per cell the checker's verdicts), the
proxy's `exchanges.jsonl` (the platform's own latency, `forwarded` -> `upstream_answered`), a HAR file
(`log.entries[].time`) and a CSV of `operation,started,finished`. A mistake in an input is a `UsageError` naming the
file, the line (or the JSON field) and what was expected.

    obs = read_inputs([Path("results/latest"), Path("proxy-out/exchanges.jsonl")])
    obs.samples["invoice"]            # end-to-end latencies (ms) of every invoice seen
    obs.race.cells                    # trials and violations per sweep cell

Imports: stdlib, `harness.errors`, `simulator.contract` (layer `harness/calibrate/`).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.errors import UsageError
from simulator.contract.operations import match_operation, operation_names

__all__ = [
    "CHANGE_FINISHED",
    "INVOICE_TO_INVOICED",
    "OBSERVABLES",
    "OVER_INVOICE",
    "Observable",
    "Observations",
    "RaceCell",
    "RaceObservations",
    "observable_for",
    "read_inputs",
]

OVER_INVOICE = "no-over-invoice"
"""The invariant whose violation rate per offset the hidden lags are fitted to."""


@dataclass(frozen=True, slots=True)
class RaceCell:
    """One cell of a control-free sweep: its runs and how many of them violated the invariant.

        RaceCell(scenario="over-invoice", integration="naive", cell=(("step1.at_ms", 300.0),), offset_ms=300.0,
                 trials=10, violations=4, unknown=0)

    Args:
        scenario: The scenario's name as the runs record it (`over-invoice`).
        integration: The integration that ran (`naive`).
        cell: The sweep's cell as the runs record it (`{"step1.at_ms": 300.0}`), as sorted `(key, value)` pairs so
            the record is hashable and two runs of the same cell compare equal.
        offset_ms: The Change's `at` minus the invoice's `at` in the runs' steps (the race's offset), or None when
            the runs have no invoice and change step to subtract.
        trials: Runs whose checker verdict is `valid` or `invalid` (an `unknown` is not a trial: it says nothing
            about the invariant).
        violations: Runs whose checker verdict is `invalid` (so `0 <= violations <= trials`).
        unknown: Runs of the cell whose verdict for the checker was `unknown` or missing (reported, not fitted).
    """

    scenario: str
    integration: str
    cell: tuple[tuple[str, float], ...]
    offset_ms: float | None
    trials: int
    violations: int
    unknown: int = 0

    @property
    def rate(self) -> float:
        """The observed violation rate, `violations / trials` (0.0 for a cell without trials)."""
        return self.violations / self.trials if self.trials else 0.0

    @property
    def cell_dict(self) -> dict[str, float]:
        """The cell as the runs record it, `{"step1.at_ms": 300.0}` (what a scenario's sweep expands to)."""
        return dict(self.cell)


@dataclass(frozen=True, slots=True)
class RaceObservations:
    """The naive over-invoice race as observed on the platform: trials and violations per (scenario, integration,
    cell), in a stable order (scenario, integration, then offset).

        obs = RaceObservations(checker="no-over-invoice", cells=(RaceCell(...), ...),
                               scenario_files={"over-invoice": Path(".../inputs/scenarios/over-invoice.yaml")})
        [(c.offset_ms, c.violations, c.trials) for c in obs.cells]

    Args:
        checker: The invariant counted (`no-over-invoice`).
        cells: One record per cell; never two with the same (scenario, integration, cell).
        scenario_files: Each scenario's file as the run kept it (`<result>/inputs/scenarios/<name>.yaml`), when the
            result folder has it, so a virtual replay sweeps the very steps and order the platform saw.
        sources: The result folders read, for the profile's header and the page.
    """

    checker: str = OVER_INVOICE
    cells: tuple[RaceCell, ...] = ()
    scenario_files: Mapping[str, str] = field(default_factory=dict)
    sources: tuple[str, ...] = ()

    @property
    def trials(self) -> int:
        """All trials over the cells."""
        return sum(c.trials for c in self.cells)

    @property
    def violations(self) -> int:
        """All violations over the cells."""
        return sum(c.violations for c in self.cells)

    def for_integration(self, integration: str) -> RaceObservations:
        """Only the cells of one integration (e.g. `naive`), keeping the rest of the record."""
        return RaceObservations(
            checker=self.checker,
            cells=tuple(c for c in self.cells if c.integration == integration),
            scenario_files=self.scenario_files,
            sources=self.sources,
        )


CHANGE_FINISHED = "change-finished"
"""A derived span: from a Change's `create-change` request to the moment it became `finished` (its details polls)."""
INVOICE_TO_INVOICED = "invoice-to-invoiced"
"""A derived span: from an invoice's answer (its `date`) to the order's `invoicedDate` (the workflow's check)."""


@dataclass(frozen=True, slots=True)
class Observable:
    """Something whose duration can be seen from outside, and which operations show it.

        observable_for("invoice-notification").name   # "invoice"

    Args:
        name: The observable's name (what the page, the CSV and `Observations.samples` call it).
        operations: The operation names (`simulator.contract.operations`, kebab case) whose latency it is; empty
            for a derived span (`change-finished`, `invoice-to-invoiced`).
        summary: One line for the page.
    """

    name: str
    operations: tuple[str, ...]
    summary: str


OBSERVABLES: tuple[Observable, ...] = (
    Observable("get-order", ("get-order",), "GET an order: request to answer"),
    Observable("invoice", ("invoice-notification", "invoice-document"), "an invoice notification: request to answer"),
    Observable("create-change", ("create-change",), "a Change v2 request: request to its 202"),
    Observable(CHANGE_FINISHED, (), "a Change v2: request to `finished` (from its details polls)"),
    Observable("register-change", ("register-change",), "a Change v1 (synchronous): request to answer"),
    Observable("get-change", ("get-change", "get-changes"), "a Change's details: request to answer"),
    Observable("start-handling", ("start-handling", "start-handling-document"), "start handling: request to answer"),
    Observable("cancel-order", ("cancel-order", "cancel-order-document"), "a seller's cancel: request to answer"),
    Observable(INVOICE_TO_INVOICED, (), "an invoice's answer to the order's `invoicedDate` (the workflow's check)"),
)
"""Every observable, in the order the page lists them."""

_BY_OPERATION = {op: o for o in OBSERVABLES for op in o.operations}
_BY_NAME = {o.name: o for o in OBSERVABLES}

_HISTORY_OPERATION = {
    "get_order": "get-order",
    "invoice": "invoice-document",
    "change": "create-change",
    "change_v1": "register-change",
    "get_change": "get-change",
    "cancel": "cancel-order",
}
"""A history's `f` (the effect a flow yields, `harness.integrations.api`) -> the operation it sends."""


def observable_for(name: str) -> Observable | None:
    """The observable an operation name (`invoice-document`) or an observable name (`invoice`) feeds; else None."""
    return _BY_NAME.get(name) or _BY_OPERATION.get(name)


@dataclass(frozen=True, slots=True)
class Observations:
    """Everything read from the inputs.

    Args:
        samples: Observable name -> durations in ms, in input order (only observables that had any).
        race: The race curve's cells (from result folders; empty without them).
        inputs: The inputs read, as given.
        notes: What was read and what was left out, one sentence each (for the profile's header and the page).
    """

    samples: Mapping[str, tuple[float, ...]]
    race: RaceObservations
    inputs: tuple[str, ...]
    notes: tuple[str, ...] = ()


class _Collector:
    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}
        self.cells: dict[tuple[str, str, tuple[tuple[str, float], ...]], list[int]] = {}
        self.offsets: dict[tuple[str, str, tuple[tuple[str, float], ...]], float | None] = {}
        self.scenario_files: dict[str, str] = {}
        self.race_sources: list[str] = []
        self.notes: list[str] = []
        self.unmapped: dict[str, int] = {}

    def add(self, observable: str, ms: float) -> None:
        if math.isfinite(ms) and ms >= 0.0:
            self.samples.setdefault(observable, []).append(ms)

    def add_operation(self, operation: str, ms: float) -> None:
        o = observable_for(operation)
        if o is None:
            self.unmapped[operation] = self.unmapped.get(operation, 0) + 1
        else:
            self.add(o.name, ms)


def read_inputs(paths: Sequence[Path]) -> Observations:
    """Read every input: a result folder, a proxy folder, `runs.jsonl`, `exchanges.jsonl`, `*.har`, `*.csv`.

    A folder with `exchanges.jsonl` gives its latencies from the proxy's record (the platform's own latency, without
    racelab's network and client) and only its race cells from `runs.jsonl`, when both are there.

    Raises:
        UsageError: an input that does not exist, is of no known kind, or has a malformed line or field (the
            message says file:line: field: what was expected).
    """
    if not paths:
        raise UsageError("calibrate needs at least one INPUT (a result folder, exchanges.jsonl, a HAR or a CSV file)")
    acc = _Collector()
    for path in paths:
        if path.is_dir():
            runs, exchanges = path / "runs.jsonl", path / "exchanges.jsonl"
            if not runs.is_file() and not exchanges.is_file():
                raise UsageError(f"{path}: a folder INPUT must hold runs.jsonl (a result) or exchanges.jsonl (proxy)")
            if exchanges.is_file():
                _read_exchanges(exchanges, acc)
            if runs.is_file():
                _read_runs(runs, acc, latencies=not exchanges.is_file())
        elif path.is_file():
            kind = _kind(path)
            if kind == "runs":
                _read_runs(path, acc, latencies=True)
            elif kind == "exchanges":
                _read_exchanges(path, acc)
            elif kind == "har":
                _read_har(path, acc)
            else:
                _read_csv(path, acc)
        else:
            raise UsageError(f"{path}: no such file or folder")
    for operation, count in sorted(acc.unmapped.items()):
        acc.notes.append(f"{count} sample(s) of {operation} left out: no profile field is timed by it")
    race = RaceObservations(
        cells=_cells(acc),
        scenario_files=dict(sorted(acc.scenario_files.items())),
        sources=tuple(dict.fromkeys(acc.race_sources)),
    )
    samples = {o.name: tuple(acc.samples[o.name]) for o in OBSERVABLES if acc.samples.get(o.name)}
    return Observations(samples=samples, race=race, inputs=tuple(str(p) for p in paths), notes=tuple(acc.notes))


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".har"):
        return "har"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".jsonl"):
        first = next(_json_lines(path), None)
        if first is not None and isinstance(first[1], dict) and "proxy" in first[1]:
            return "exchanges"
        return "runs"
    if name.endswith(".json"):
        return "har"
    raise UsageError(f"{path}: unknown kind of INPUT; expected a folder, runs.jsonl, exchanges.jsonl, *.har or *.csv")


def _json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, JSON value) of each non-blank line; a torn last line (no newline, not JSON) is skipped."""
    try:
        f = path.open("rb")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with f:
        for number, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                yield number, json.loads(raw)
            except ValueError:
                if not raw.endswith(b"\n"):  # only the last line can lack its newline: torn while written
                    return
                raise UsageError(f"{path}:{number}: not a JSON line") from None


def _bad(path: Path, line: int | None, field_name: str, message: str) -> UsageError:
    where = f"{path}:{line}" if line is not None else str(path)
    return UsageError(f"{where}: {field_name}: {message}")


def _number(value: object, path: Path, line: int | None, field_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(path, line, field_name, f"expected a number, got {value!r}")
    return float(value)


def _mapping(value: object, path: Path, line: int | None, field_name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _bad(path, line, field_name, f"expected an object, got {type(value).__name__}")
    return value


def _iso_s(value: object) -> float | None:
    """Epoch seconds of an ISO 8601 date (`...Z` or an offset; 7 fraction digits as .NET writes them), or None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    if "." in text:  # Python takes at most 6 fraction digits; the platform writes up to 7
        head, _, rest = text.partition(".")
        digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
        tail = rest[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{tail}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


# -- result folders (runs.jsonl) --------------------------------------------------------------------------------------
def _read_runs(path: Path, acc: _Collector, *, latencies: bool) -> None:
    folder = path.parent
    seen = 0
    for number, run in _json_lines(path):
        run = _mapping(run, path, number, "(line)")
        if "history" not in run and "run_id" not in run:
            raise _bad(path, number, "history", "missing: is this a racelab runs.jsonl?")
        history = run.get("history") or []  # a skipped run (its order in another status) has none
        if not isinstance(history, list):
            raise _bad(path, number, "history", f"expected a list, got {type(history).__name__}")
        seen += 1
        ops = [_mapping(h, path, number, f"history[{i}]") for i, h in enumerate(history)]
        if latencies:
            _run_latencies(ops, run, path, number, acc)
        _race_cell(run, path, number, acc)
        scenario = run.get("scenario")
        if isinstance(scenario, str) and scenario not in acc.scenario_files:
            kept = folder / "inputs" / "scenarios" / f"{scenario}.yaml"
            if kept.is_file():
                acc.scenario_files[scenario] = str(kept)
    acc.race_sources.append(str(path))
    acc.notes.append(f"{path}: {seen} run(s)" + ("" if latencies else " (race only: latencies from the proxy)"))


def _run_latencies(
    ops: list[Mapping[str, Any]], run: Mapping[str, Any], path: Path, line: int, acc: _Collector
) -> None:
    for i, h in enumerate(ops):
        f = h.get("f")
        if h.get("outcome") != "ok" or f not in _HISTORY_OPERATION:
            continue  # a `fail` or `info` is an error's or a timeout's latency, not the operation's
        t0 = _number(h.get("t_invoke"), path, line, f"history[{i}].t_invoke")
        t1 = _number(h.get("t_complete"), path, line, f"history[{i}].t_complete")
        if t1 < t0:
            raise _bad(path, line, f"history[{i}].t_complete", f"{t1:g} is before its t_invoke {t0:g}")
        acc.add_operation(_HISTORY_OPERATION[str(f)], t1 - t0)
    # A Change's time to `finished`: between the last answer that showed it unfinished and the first that showed it
    # finished (each answer's midpoint: the platform read it somewhere inside the request), from the request's invoke.
    for h in ops:
        if h.get("f") != "change" or h.get("outcome") != "ok":
            continue
        answer = h.get("response")
        request_id = answer.get("requestId") if isinstance(answer, Mapping) else None
        if not request_id:
            continue
        polls = [(h["t_invoke"], h["t_complete"], False)]
        for p in ops:
            body = p.get("response")
            if (
                p.get("f") == "get_change"
                and p.get("outcome") == "ok"
                and isinstance(body, Mapping)
                and body.get("requestId") == request_id
            ):
                polls.append((p["t_invoke"], p["t_complete"], bool(body.get("finished"))))
        span = _finished_span(polls)
        if span is not None:
            acc.add(CHANGE_FINISHED, span)
    # An invoice's answer to the order's `invoicedDate`, only when nothing the integration sent after the invoice
    # could have re-triggered the check (a Change, a cancel) and the order was invoiced by this invoice alone.
    invoices = [h for h in ops if h.get("f") == "invoice" and h.get("outcome") == "ok"]
    final = run.get("final")
    order = final.get("order") if isinstance(final, Mapping) else None
    if len(invoices) == 1 and isinstance(order, Mapping):
        inv = invoices[0]
        later = any(
            h.get("f") in ("change", "change_v1", "cancel") and h.get("t_invoke", 0.0) >= inv["t_invoke"] for h in ops
        )
        answer = inv.get("response")
        if not later and isinstance(answer, Mapping):
            _add_invoiced(acc, answer.get("date"), order.get("invoicedDate"))


def _finished_span(polls: list[tuple[float, float, bool]]) -> float | None:
    """`polls`: (invoke, complete, finished) of the create (first) and the detail reads, in any order after it."""
    start = polls[0][0]
    ordered = sorted(polls[1:], key=lambda p: p[1])
    previous = polls[0]
    for poll in ordered:
        if poll[2]:
            before, after = (previous[0] + previous[1]) / 2, (poll[0] + poll[1]) / 2
            return (before + after) / 2 - start
        previous = poll
    return None


def _add_invoiced(acc: _Collector, answered: object, invoiced: object) -> None:
    t_answer, t_invoiced = _iso_s(answered), _iso_s(invoiced)
    if t_answer is not None and t_invoiced is not None and t_invoiced >= t_answer:
        acc.add(INVOICE_TO_INVOICED, (t_invoiced - t_answer) * 1000.0)


def _race_cell(run: Mapping[str, Any], path: Path, line: int, acc: _Collector) -> None:
    expect = run.get("expect")
    error = run.get("error")
    if not isinstance(expect, list) or OVER_INVOICE not in expect or str(error or "").startswith("skipped"):
        return  # a skipped run was never raced: not even an unknown
    scenario, integration = run.get("scenario"), run.get("integration")
    if not isinstance(scenario, str) or not isinstance(integration, str):
        raise _bad(path, line, "scenario", "a judged run must name its scenario and integration")
    cell_raw = _mapping(run.get("cell", {}), path, line, "cell")
    cell = tuple(sorted((str(k), _number(v, path, line, f"cell.{k}")) for k, v in cell_raw.items()))
    key = (scenario, integration, cell)
    verdict = None
    for r in run.get("results") or ():
        if isinstance(r, Mapping) and r.get("checker") == OVER_INVOICE:
            verdict = r.get("verdict")
    counts = acc.cells.setdefault(key, [0, 0, 0])
    if verdict == "invalid":
        counts[0] += 1
        counts[1] += 1
    elif verdict == "valid":
        counts[0] += 1
    else:
        counts[2] += 1
    if key not in acc.offsets:
        acc.offsets[key] = _offset(run.get("steps"))


def _offset(steps: object) -> float | None:
    """The first change step's `at_ms` minus the first invoice step's (the race's offset), when both are there."""
    if not isinstance(steps, list):
        return None
    invoice = change = None
    for s in steps:
        if not isinstance(s, Mapping) or not isinstance(s.get("at_ms"), int | float):
            continue
        do = str(s.get("do", ""))
        if do == "invoice" and invoice is None:
            invoice = float(s["at_ms"])
        elif do.startswith("change") and change is None:
            change = float(s["at_ms"])
    return None if invoice is None or change is None else change - invoice


def _cells(acc: _Collector) -> tuple[RaceCell, ...]:
    cells = [
        RaceCell(
            scenario=key[0],
            integration=key[1],
            cell=key[2],
            offset_ms=acc.offsets.get(key),
            trials=counts[0],
            violations=counts[1],
            unknown=counts[2],
        )
        for key, counts in acc.cells.items()
    ]
    cells.sort(key=lambda c: (c.scenario, c.integration, math.inf if c.offset_ms is None else c.offset_ms, c.cell))
    return tuple(cells)


# -- the proxy's record (exchanges.jsonl) -----------------------------------------------------------------------------
def _read_exchanges(path: Path, acc: _Collector) -> None:
    lines = _json_lines(path)
    first = next(lines, None)
    if first is None or not isinstance(first[1], Mapping) or "proxy" not in first[1]:
        raise _bad(path, first[0] if first else 1, "proxy", 'the first line must be the proxy\'s header {"proxy": ...}')
    by_order: dict[str, list[tuple[str, float, float, Any, str]]] = {}
    count = 0
    for number, ex in lines:
        ex = _mapping(ex, path, number, "(line)")
        times = _mapping(ex.get("times"), path, number, "times")
        if ex.get("outcome") != "ok" or times.get("forwarded") is None or times.get("upstream_answered") is None:
            continue
        t0 = _number(times["forwarded"], path, number, "times.forwarded")
        t1 = _number(times["upstream_answered"], path, number, "times.upstream_answered")
        if t1 < t0:
            raise _bad(path, number, "times.upstream_answered", f"{t1:g} is before times.forwarded {t0:g}")
        route = ex.get("route")
        if not isinstance(route, str):
            continue  # a request no operation names (racelab's own, or an unknown route)
        count += 1
        acc.add_operation(route, (t1 - t0) * 1000.0)
        response = ex.get("response")
        body = response.get("body") if isinstance(response, Mapping) else None
        order_id = ex.get("order_id")
        if isinstance(order_id, str):
            by_order.setdefault(order_id, []).append((route, t0, t1, body, str(ex.get("path", ""))))
    for exchanges in by_order.values():
        _exchange_spans(exchanges, acc)
    acc.notes.append(f"{path}: {count} exchange(s) answered 2xx by the platform")


def _exchange_spans(exchanges: list[tuple[str, float, float, Any, str]], acc: _Collector) -> None:
    """The derived spans of one order's exchanges (seconds on the proxy's clock), as `_run_latencies` does."""
    exchanges.sort(key=lambda e: e[1])
    for route, t0, t1, body, _ in exchanges:
        if route != "create-change" or not isinstance(body, Mapping) or not body.get("requestId"):
            continue
        request_id = body["requestId"]
        polls = [(t0, t1, False)]
        polls += [
            (p0, p1, bool(b.get("finished")))
            for r, p0, p1, b, p in exchanges
            if r == "get-change" and isinstance(b, Mapping) and b.get("requestId") == request_id and p0 >= t0
        ]
        span = _finished_span(polls)
        if span is not None:
            acc.add(CHANGE_FINISHED, span * 1000.0)
    invoices = [e for e in exchanges if e[0] in ("invoice-notification", "invoice-document")]
    if len(invoices) != 1 or not isinstance(invoices[0][3], Mapping):
        return
    after = invoices[0][1]
    if any(e[0] in ("create-change", "register-change", "cancel-order") and e[1] >= after for e in exchanges):
        return
    reads = [e for e in exchanges if e[0] == "get-order" and isinstance(e[3], Mapping) and e[3].get("invoicedDate")]
    if reads:
        _add_invoiced(acc, invoices[0][3].get("date"), reads[-1][3].get("invoicedDate"))


# -- HAR ----------------------------------------------------------------------------------------------------------
def _read_har(path: Path, acc: _Collector) -> None:
    try:
        doc = json.loads(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    log = _mapping(_mapping(doc, path, None, "(document)").get("log"), path, None, "log")
    entries = log.get("entries")
    if not isinstance(entries, list):
        raise _bad(path, None, "log.entries", "expected a list of entries")
    count = 0
    for i, entry in enumerate(entries):
        where = f"log.entries[{i}]"
        entry = _mapping(entry, path, None, where)
        request = _mapping(entry.get("request"), path, None, f"{where}.request")
        method, url = request.get("method"), request.get("url")
        if not isinstance(method, str) or not isinstance(url, str):
            raise _bad(path, None, f"{where}.request", "needs a method and a url")
        if _iso_s(entry.get("startedDateTime")) is None:
            raise _bad(
                path,
                None,
                f"{where}.startedDateTime",
                f"expected an ISO 8601 date, got {entry.get('startedDateTime')!r}",
            )
        ms = _number(entry.get("time"), path, None, f"{where}.time")
        if ms < 0:
            raise _bad(path, None, f"{where}.time", f"must not be negative, got {ms:g}")
        response = entry.get("response")
        status = response.get("status") if isinstance(response, Mapping) else None
        if isinstance(status, int) and not 200 <= status < 300:
            continue  # an error's latency is not the operation's
        found = match_operation(method, urlsplit(url).path)
        if found is not None:
            count += 1
            acc.add_operation(found[0].name, ms)
    acc.notes.append(f"{path}: {count} of {len(entries)} HAR entries are operations racelab knows")


# -- CSV ----------------------------------------------------------------------------------------------------------
def _read_csv(path: Path, acc: _Collector) -> None:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or ()]
    missing = [c for c in ("operation", "started", "finished") if c not in header]
    if missing:
        raise _bad(path, 1, "header", f"needs the columns operation,started,finished; missing {', '.join(missing)}")
    known = set(operation_names()) | set(_BY_NAME)
    count = 0
    for row in reader:
        line = reader.line_num
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        operation = row["operation"]
        if operation not in known:
            raise _bad(
                path,
                line,
                "operation",
                f"unknown operation {operation!r}; expected one of the names in "
                "docs/calibrate.md (e.g. get-order, invoice-notification, change-finished)",
            )
        started = _csv_time(row["started"], path, line, "started")
        finished = _csv_time(row["finished"], path, line, "finished")
        if finished < started:
            raise _bad(path, line, "finished", f"is before started ({row['finished']} < {row['started']})")
        count += 1
        acc.add_operation(operation, (finished - started) * 1000.0)
    acc.notes.append(f"{path}: {count} row(s)")


def _csv_time(value: str, path: Path, line: int, column: str) -> float:
    """Seconds: a number (seconds on any clock, the same for the row's two columns) or an ISO 8601 date."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if math.isnan(seconds):
        iso = _iso_s(value)
        if iso is None:
            raise _bad(
                path, line, column, f"expected seconds (a number) or an ISO 8601 date with a zone, got {value!r}"
            )
        return iso
    if not math.isfinite(seconds):
        raise _bad(path, line, column, f"expected a finite number of seconds, got {value!r}")
    return seconds
