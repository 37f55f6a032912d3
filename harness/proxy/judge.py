"""`racelab proxy judge DIR --upstream URL`: the proxy's record judged order by order, against the upstream.

Owns: reading `DIR/exchanges.jsonl` (`read_exchanges`: the proxy's first line and one `Exchange` per line, every
mistake a `UsageError` naming the file, the line and the field; a torn last line is skipped), turning one order's
exchanges into a run's history (`order_history`: invoke at `arrived`, `ok`/`fail`/`info` at `answered`, the four
times kept in each operation's `request["proxy"]`), reading each order's final state from the upstream's public API
(`harness.drive.public`, never `/_sim/`), judging every order with the checkers a run is judged with, and writing
`summary.json`, `runs.jsonl`, `junit.xml` and `report.html` (`judge_folder`; `judge_command` is the command's handler,
whose parser is `harness.cli.proxy`'s).

One order is one run: scenario `proxy`, integration `through-proxy` (whatever called the proxy), run id the order
id, gate `violations: 0`. It is judged on the invariants that can be seen from outside (`OUTSIDE_CHECKERS`);
`change-respects-invoices`, which needs the platform's journal and kept versions, says `unknown` and why without
deciding the order's verdict (`harness.model.records.run_verdict`), and the Accounting ones are not run (the command
says so). Exit codes: 0 no order violated an invariant and every order was judged, 1 a violation (or an order that could
not be judged: racelab never passes what it could not see), 2 bad input, 3 the upstream cannot be reached.

    outcome = await judge_folder(Path("proxy-out"), upstream="https://staging.example", out=None, settle_s=30.0)
    outcome.summary.invalid, outcome.folder / "report.html"

Imports: stdlib, aiohttp, rich (the progress bar), `harness.drive` (the public reader, the runner's flow driver),
`harness.integrations`, `harness.judge`, `harness.model`, `harness.output`, `harness.scenarios` (the gate),
`harness.errors`; the heavy ones (the drivers, the checkers, the report) inside the functions that use them.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.errors import HarnessConnectionError, UsageError
from harness.integrations import control
from harness.integrations.bodies import summary_change, summary_order
from harness.model.records import NOT_OBSERVABLE, CheckResult, FinalState, Operation, Outcome, RunRecord, RunSpec
from harness.model.summary import Summary
from harness.proxy.record import EXCHANGES, REDACTED

__all__ = [
    "EXCHANGES",
    "INTEGRATION",
    "NOT_JUDGED_OUTSIDE",
    "OUTSIDE_CHECKERS",
    "SCENARIO",
    "Exchange",
    "JudgeOutcome",
    "ProxyRecord",
    "judge_command",
    "judge_folder",
    "order_history",
    "read_exchanges",
]


SCENARIO = "proxy"
"""The scenario name every judged order is reported under."""

INTEGRATION = "through-proxy"
"""The integration name: whatever called the proxy."""

OUTSIDE_CHECKERS = (
    "no-over-invoice",
    "invoiced-when-fully-invoiced",
    "no-lost-invoice",
    "finished-means-applied",
    "change-respects-invoices",
)
"""The invariants run on every order. The first four read the final order, the invoices the platform accepted and
the reads the integration made, all of which the public API and the record show; `change-respects-invoices` needs
the platform's journal and kept versions, so from outside it says `unknown` and why, and decides nothing
(`harness.model.records.run_verdict`)."""

NOT_JUDGED_OUTSIDE = {
    "accounting-matches-orders": "needs the Accounting state, which the Orders API does not show",
    "update-invoice-rules": "needs the Accounting state, which the Orders API does not show",
}
"""The invariants `proxy judge` does not run, and why."""

PHASES = ("arrived", "forwarded", "upstream_answered", "answered")
"""The four times of an exchange, in order."""

_READERS = 4
"""Orders whose final state is read at the same time."""

DEFAULT_MAX_RATE = 10.0
"""Requests per second `proxy judge` sends to the upstream at most (it reads, polls and never writes)."""

DEFAULT_SETTLE_S = 30.0
"""How long an order may take to settle (no Change in progress, nothing changing for a second), at most."""

_F = {
    "get-order": "get_order",
    "invoice-notification": "invoice",
    "invoice-document": "invoice",
    "create-change": "change",
    "register-change": "change_v1",
    "get-change": "get_change",
    "cancel-order": "cancel",
    "cancel-order-document": "cancel",
}
"""An operation's name → the history's `f` for it (the vocabulary the checkers read); others: the name in snake case."""

_SUMMARIZE = {"get_order": summary_order, "change": summary_change, "get_change": summary_change}
_OUTCOMES = {o.value: o for o in Outcome}


# -- the record ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Exchange:
    """One line of `exchanges.jsonl` (as `harness.proxy.record` writes it): a request the proxy took in and what
    became of it.

    Times are seconds on the proxy's monotonic clock since it started; `None` for a phase never reached.
    """

    id: int
    order_id: str | None
    route: str | None
    method: str
    path: str
    query: str
    times: Mapping[str, float | None]
    status: int | None
    outcome: Outcome
    rule: Mapping[str, Any] | None
    fault: str | None
    error: str | None
    request_body: Any
    response_body: Any

    @property
    def arrived(self) -> float:
        return float(self.times["arrived"])  # type: ignore[arg-type]  # validated: always a number

    @property
    def ended(self) -> float:
        """When the caller got its answer, or the last phase reached (a connection cut before any answer)."""
        return max(float(t) for t in self.times.values() if t is not None)


@dataclass(frozen=True, slots=True)
class ProxyRecord:
    """`exchanges.jsonl` read: the proxy's first line (`version`, `upstream`, `listen`, `started_wall`, `rules`,
    `seed`) and every exchange, in file order."""

    path: Path
    header: Mapping[str, Any]
    exchanges: tuple[Exchange, ...]
    torn: bool = False
    """The last line was torn (the proxy was killed while writing it) and skipped."""

    def orders(self) -> dict[str, list[Exchange]]:
        """Each order seen (in order of first appearance) → its exchanges, by arrival."""
        found: dict[str, list[Exchange]] = {}
        for exchange in self.exchanges:
            if exchange.order_id is not None:
                found.setdefault(exchange.order_id, []).append(exchange)
        for exchanges in found.values():
            exchanges.sort(key=lambda e: (e.arrived, e.id))
        return found


def _field(path: Path, number: int, name: str, problem: str) -> UsageError:
    return UsageError(f"{path}:{number}: {name}: {problem}")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _exchange(path: Path, number: int, line: Any) -> Exchange:
    if not isinstance(line, dict):
        raise _field(path, number, "(line)", "expected a JSON object (an exchange)")

    def need(name: str, kinds: type | tuple[type, ...], *, optional: bool = False) -> Any:
        if name not in line:
            if optional:
                return None
            raise _field(path, number, name, "missing")
        value = line[name]
        if value is None and optional:
            return None
        if not isinstance(value, kinds) or isinstance(value, bool):
            expected = kinds.__name__ if isinstance(kinds, type) else " or ".join(k.__name__ for k in kinds)
            raise _field(path, number, name, f"expected {expected}, got {json.dumps(value)[:80]}")
        return value

    ident = need("id", int)
    order_id = need("order_id", str, optional=True)
    route = need("route", str, optional=True)
    method, exchange_path = need("method", str), need("path", str)
    query = need("query", str, optional=True) or ""
    times = need("times", dict)
    clean: dict[str, float | None] = {}
    for phase in PHASES:
        value = times.get(phase)
        if value is None and phase != "arrived":
            clean[phase] = None
        elif not _number(value):
            raise _field(path, number, f"times.{phase}", f"expected seconds (a number), got {json.dumps(value)[:80]}")
        else:
            clean[phase] = float(value)
    status = line.get("status")
    if status is not None and (not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599):
        raise _field(path, number, "status", f"expected an HTTP status or null, got {json.dumps(status)[:80]}")
    outcome = _OUTCOMES.get(line.get("outcome"))  # type: ignore[arg-type]
    if outcome is None:
        got = json.dumps(line.get("outcome"))[:80]
        raise _field(path, number, "outcome", f"expected one of ok, fail, info, got {got}")
    rule = need("rule", dict, optional=True)
    fault, error = need("fault", str, optional=True), need("error", str, optional=True)
    request = need("request", dict, optional=True) or {}
    response = need("response", dict, optional=True) or {}
    return Exchange(
        id=ident,
        order_id=order_id,
        route=route,
        method=method.upper(),
        path=exchange_path,
        query=query,
        times=clean,
        status=status,
        outcome=outcome,
        rule=rule,
        fault=fault,
        error=error,
        request_body=request.get("body"),
        response_body=None if not line.get("response") else response.get("body"),
    )


def read_exchanges(path: Path) -> ProxyRecord:
    """Read a proxy's record (`DIR/exchanges.jsonl`, or the folder that holds it).

    Raises:
        UsageError: no such file; its first line is not the proxy's; a line is not JSON (but a torn last one, which
            is skipped) or not an exchange; the message names the file, the line and the field.
    """
    if not path.exists() and path.name != EXCHANGES:
        raise UsageError(f"{path}: no such folder; give the proxy's --out folder (it holds {EXCHANGES})")
    path = path / EXCHANGES if path.is_dir() else path
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file; `racelab proxy --out DIR` writes DIR/{EXCHANGES}") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    lines = raw.split(b"\n")
    header: Mapping[str, Any] | None = None
    exchanges: list[Exchange] = []
    torn = False
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except ValueError:
            if number == len(lines):  # no newline after it: the proxy was killed while writing it
                torn = True
                break
            raise UsageError(f"{path}:{number}: not a JSON line; the file is damaged") from None
        if header is None:
            proxy = line.get("proxy") if isinstance(line, dict) else None
            if not isinstance(proxy, dict):
                raise _field(path, number, "proxy", "missing: the first line of a proxy's record says `proxy`")
            if proxy.get("version") != 1:
                raise _field(path, number, "proxy.version", f"expected 1, got {json.dumps(proxy.get('version'))}")
            header = proxy
            continue
        exchanges.append(_exchange(path, number, line))
    if header is None:
        raise UsageError(f"{path}: empty; not a proxy's record (its first line says `proxy`)")
    return ProxyRecord(path=path, header=header, exchanges=tuple(exchanges), torn=torn)


# -- one order's history ---------------------------------------------------------------------------------------------


def _f(exchange: Exchange) -> str:
    if exchange.route is None:
        return "request"
    return _F.get(exchange.route, exchange.route.replace("-", "_"))


def _request(exchange: Exchange, f: str, times_ms: Mapping[str, float | None]) -> dict[str, Any]:
    """What the history keeps of the request: what the harness's own calls keep (the checkers read it), and the
    exchange as the proxy saw it under `proxy`."""
    body = exchange.request_body
    kept: dict[str, Any] = {}
    if f == "invoice" and isinstance(body, Mapping):
        kept = {k: body[k] for k in ("invoiceNumber", "invoiceValue") if k in body}
    elif f in ("change", "change_v1") and isinstance(body, Mapping):
        kept = dict(body)
    elif f == "get_change":
        kept = {"requestId": exchange.path.rstrip("/").rsplit("/", 1)[-1]}
    kept["proxy"] = {
        "exchange": exchange.id,
        "route": exchange.route,
        "method": exchange.method,
        "path": exchange.path,
        "query": exchange.query,
        "times": dict(times_ms),
        "rule": None if exchange.rule is None else dict(exchange.rule),
        "fault": exchange.fault,
    }
    return kept


def order_history(exchanges: Sequence[Exchange]) -> tuple[tuple[Operation, ...], float]:
    """One order's exchanges as a run's history, and the run's origin (its first arrival, proxy seconds).

    Each exchange is one operation: invoked when it arrived, completed when it was answered (or when its last phase
    was reached, if the caller never got an answer), its outcome the proxy's; times in ms from the first arrival.
    `request["proxy"]["times"]` keeps the four times (ms; `None` for a phase never reached), `rule` and `fault`.
    """
    ordered = sorted(exchanges, key=lambda e: (e.arrived, e.id))
    if not ordered:
        return (), 0.0
    origin = ordered[0].arrived

    def ms(t: float | None) -> float | None:
        return None if t is None else round((t - origin) * 1000.0, 3)

    ops = []
    for index, exchange in enumerate(ordered):
        f = _f(exchange)
        times = {phase: ms(exchange.times[phase]) for phase in PHASES}
        summarize = _SUMMARIZE.get(f)
        body = exchange.response_body
        response = summarize(body) if summarize is not None and exchange.outcome is Outcome.OK and body else body
        error = exchange.error
        if exchange.fault is not None:
            error = f"fault {exchange.fault}" + (f": {error}" if error else "")
        ops.append(
            Operation(
                index=index,
                actor=INTEGRATION,
                f=f,
                outcome=exchange.outcome,
                t_invoke=times["arrived"] or 0.0,
                t_complete=ms(exchange.ended) or 0.0,
                request=_request(exchange, f, times),
                status=exchange.status,
                response=response,
                error=error,
            )
        )
    return tuple(ops), origin


# -- judging ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JudgeOutcome:
    """What `judge_folder` found and wrote."""

    folder: Path
    summary: Summary
    judged: tuple[tuple[RunRecord, tuple[CheckResult, ...]], ...]
    unattributed: int
    """Exchanges about no one order (hook or feed configuration, order lists): recorded, not judged."""
    report: Path | None
    report_error: str | None = None
    upstream_recorded: str | None = None
    """The upstream the proxy forwarded to, as its record says."""

    @property
    def exit_code(self) -> int:
        """0 when the gate passed (no violation, every order judged), else 1."""
        return 0 if self.summary.passed else 1


def _credential_headers(app_key: str | None, app_token: str | None) -> dict[str, str]:
    if not (app_key or app_token):
        return {}
    return {"X-VTEX-API-AppKey": app_key or "", "X-VTEX-API-AppToken": app_token or ""}


def _scrub(value: Any, secrets: Sequence[str]) -> Any:
    """`value` with every string that contains one of `secrets` replaced: the judge's own credentials never reach a
    file, even when an upstream echoed them (the proxy's record is redacted already)."""
    if not secrets:
        return value
    if isinstance(value, str):
        return REDACTED if any(s in value for s in secrets) else value
    if isinstance(value, Mapping):
        return {_scrub(k, secrets): _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v, secrets) for v in value]
    return value


def _spec(order_id: str, repetition: int, seed: int) -> RunSpec:
    from harness.drive.public import public_spec

    spec = public_spec(order_id, scenario=SCENARIO, integration=INTEGRATION, expect=OUTSIDE_CHECKERS)
    return dataclasses.replace(spec, repetition=repetition, seed=seed)


async def _read_finals(
    order_ids: Sequence[str], *, upstream: str, headers: Mapping[str, str], settle_s: float, max_rate: float
) -> dict[str, tuple[FinalState, tuple[Mapping[str, Any], ...]]]:
    """Each order's final state, read from the upstream's public API once it settled (`_READERS` orders at a
    time, every request drawing from one rate limiter), in the order given."""
    from harness.drive.public import PublicControl, RateLimiter, public_spec
    from harness.drive.runner import drive_control
    from harness.drive.transport import Endpoints

    endpoints = Endpoints(
        orders=upstream,
        accounting=upstream,
        control=upstream,
        orders_headers=dict(headers),
        accounting_headers=dict(headers),
        control_headers=dict(headers),
    )
    finals = {}
    async with aiohttp.ClientSession() as session:
        reader = PublicControl(session, endpoints, limiter=RateLimiter(max_rate))
        try:  # one read first: an upstream that cannot be reached is exit 3, not a list of unknown orders
            await reader.perform(control.get_order(order_ids[0]))
        except HarnessConnectionError as exc:
            raise HarnessConnectionError(f"cannot reach the upstream {upstream}: {exc}") from None
        # A few at a time (the rate limiter bounds what the upstream gets); a bar, since each order takes its quiet
        # period at least and a record may hold hundreds.
        few = asyncio.Semaphore(_READERS)
        with Progress(
            TextColumn("reading final states"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task("orders", total=len(order_ids))

            async def read(order_id: str) -> None:
                async with few:
                    finals[order_id] = await drive_control(
                        control.final_state(public_spec(order_id), settle_s=settle_s), reader
                    )
                bar.advance(task)

            await asyncio.gather(*(read(order_id) for order_id in order_ids))
    return {order_id: finals[order_id] for order_id in order_ids}


def _record(
    spec: RunSpec,
    exchanges: Sequence[Exchange],
    final: FinalState,
    journal: tuple[Mapping[str, Any], ...],
    secrets: Sequence[str],
) -> RunRecord:
    history, origin = order_history(exchanges)
    error = None
    if not final.read and final.accounting and "error" in final.accounting:
        error = f"cannot read the order's final state: {final.accounting['error']}"
        final = dataclasses.replace(final, accounting=None)
    if secrets:
        history = tuple(Operation.from_json(_scrub(op.to_json(), secrets)) for op in history)
        final = dataclasses.replace(final, order=_scrub(dict(final.order), secrets))
        error = _scrub(error, secrets)
    return RunRecord(spec=spec, history=history, final=final, journal=journal, error=error, origin_s=origin)


def _judge(record: RunRecord) -> tuple[RunRecord, tuple[CheckResult, ...]]:
    from harness.judge.checkers import check_all

    results, _ = check_all(record, record.spec.expect)
    return record, results


def _write(
    folder: Path, judged: Sequence[tuple[RunRecord, tuple[CheckResult, ...]]], summary: Summary
) -> tuple[Path | None, str | None]:
    from harness.output.folder import write_runs, write_verdicts

    folder.mkdir(parents=True, exist_ok=True)
    write_runs(folder, judged)
    write_verdicts(folder, summary, latest=False)  # the proxy's folder is not one of a results root's
    try:
        from harness.output.report import write_report

        return write_report(folder, runs=judged, summary=summary), None
    except Exception as exc:  # the report is a view of the results, never a condition of them
        return None, f"{type(exc).__name__}: {exc}"


async def judge_folder(
    folder: Path,
    *,
    upstream: str,
    out: Path | None = None,
    settle_s: float = DEFAULT_SETTLE_S,
    app_key: str | None = None,
    app_token: str | None = None,
    max_rate: float = DEFAULT_MAX_RATE,
    command: Sequence[str] | None = None,
) -> JudgeOutcome:
    """Judge every order of a proxy's record against the upstream, and write the results.

    Args:
        folder: The proxy's `--out` folder (or its `exchanges.jsonl`).
        upstream: The upstream's base URL (its public API is read, never written).
        out: Where to write `summary.json`, `runs.jsonl`, `junit.xml`, `report.html`; default `folder`.
        settle_s: How long each order may take to settle (no Change in progress, its status stable).
        app_key, app_token: The upstream's credentials (sent, never written).
        max_rate: Requests per second to the upstream, at most.
        command: The command line, for `summary.json`.

    Returns:
        What was judged and written.

    Raises:
        UsageError: the record is missing or damaged, or holds no order to judge.
        HarnessConnectionError: the upstream cannot be reached.
    """
    from harness.judge.summarize import build_summary
    from harness.scenarios import Gate

    record = read_exchanges(folder)
    target = out if out is not None else record.path.parent
    orders = record.orders()
    unattributed = sum(1 for e in record.exchanges if e.order_id is None)
    if not orders:
        raise UsageError(
            f"{record.path}: no exchange names an order ({len(record.exchanges)} exchanges); nothing to judge"
        )
    secrets = [s for s in (app_key, app_token) if s]
    finals = await _read_finals(
        list(orders),
        upstream=upstream.rstrip("/"),
        headers=_credential_headers(app_key, app_token),
        settle_s=settle_s,
        max_rate=max_rate,
    )
    seed = record.header.get("seed")
    seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else 0
    judged = tuple(
        _judge(_record(_spec(order_id, n, seed), exchanges, *finals[order_id], secrets))
        for n, (order_id, exchanges) in enumerate(orders.items())
    )
    summary = build_summary(
        judged,
        gates={SCENARIO: {INTEGRATION: Gate(violations=0)}},
        seed=seed,
        command=None if command is None else tuple(_scrub(list(command), secrets)),
        mode="proxy",
        settle_timeout_s=settle_s,
    )
    report, report_error = _write(target, judged, summary)
    return JudgeOutcome(
        folder=target.resolve(),
        summary=summary,
        judged=judged,
        unattributed=unattributed,
        report=report,
        report_error=report_error,
        upstream_recorded=str(record.header.get("upstream") or "") or None,
    )


# -- the command -----------------------------------------------------------------------------------------------------


def _command(
    folder: Path, upstream: str, out: Path | None, settle_s: float | None, max_rate: float | None
) -> list[str]:
    """The command line that judges the record again (`summary.json`, the report): never its credentials, which
    come from the environment."""
    words = ["racelab", "proxy", "judge", str(folder), "--upstream", upstream]
    if out is not None:
        words += ["--out", str(out)]
    if settle_s is not None:
        words += ["--settle-timeout", f"{settle_s:g}"]
    if max_rate is not None:
        words += ["--max-rate", f"{max_rate:g}"]
    return words


def judge_command(args: argparse.Namespace) -> int:
    """`racelab proxy judge DIR --upstream URL [--out DIR] [--settle-timeout S] [--max-rate N]` (credentials from
    `--app-key`, `--app-token`, else `RACELAB_APP_KEY`, `RACELAB_APP_TOKEN`): judge, write, say what was found.

    Returns:
        0 no violation, 1 a violation or an order that could not be judged (2 and 3 are raised: `UsageError`,
        `HarnessConnectionError`, which `harness.cli` maps).
    """
    import asyncio
    from urllib.parse import urlsplit

    folder = Path(args.dir)
    upstream = str(args.upstream)
    parts = urlsplit(upstream)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--upstream {upstream}: expected an http:// or https:// URL, e.g. https://staging.example")
    if parts.username is not None or parts.password is not None:  # it would be written into summary.json
        raise UsageError(
            "--upstream: give no credentials in the URL; use --app-key and --app-token (or the environment)"
        )
    out = None if getattr(args, "out", None) is None else Path(args.out)
    settle = getattr(args, "settle_timeout", None)
    if settle is not None and not settle > 0:
        raise UsageError(f"--settle-timeout {settle:g}: expected a positive number of seconds")
    max_rate = getattr(args, "max_rate", None)
    if max_rate is not None and not max_rate > 0:
        raise UsageError(f"--max-rate {max_rate:g}: expected a positive number of requests a second")
    app_key = getattr(args, "app_key", None) or os.environ.get("RACELAB_APP_KEY")
    app_token = getattr(args, "app_token", None) or os.environ.get("RACELAB_APP_TOKEN")
    started = time.monotonic()
    outcome = asyncio.run(
        judge_folder(
            folder,
            upstream=upstream,
            out=out,
            settle_s=DEFAULT_SETTLE_S if settle is None else float(settle),
            app_key=app_key,
            app_token=app_token,
            max_rate=DEFAULT_MAX_RATE if max_rate is None else float(max_rate),
            command=_command(folder, upstream, out, settle, max_rate),
        )
    )
    summary = outcome.summary
    recorded = outcome.upstream_recorded
    if recorded and recorded.rstrip("/") != upstream.rstrip("/"):
        print(f"note: the proxy forwarded to {recorded}; the final states were read from {upstream}")
    print(
        f"judged {summary.runs} orders through the proxy against {upstream} in {time.monotonic() - started:.1f} s: "
        f"{summary.invalid} invalid, {summary.unknown} could not be judged"
        + (f" ({outcome.unattributed} exchanges about no one order, not judged)" if outcome.unattributed else "")
    )
    for record, results in outcome.judged:
        for r in results:
            if r.verdict.value != "valid" and not r.details.get(NOT_OBSERVABLE):
                print(f"  {record.spec.order_id}: {r.checker} {r.verdict.value}: {r.explanation}")
    skipped = ", ".join(f"{name} ({why})" for name, why in NOT_JUDGED_OUTSIDE.items())
    print(f"not run from outside: {skipped}")
    if outcome.report_error is not None:
        print(f"warning: report.html could not be built: {outcome.report_error}", file=sys.stderr)
    print(f"results: {outcome.folder}")
    sys.stdout.flush()
    return outcome.exit_code
