"""Delay precision: how far the delay a client sees is from the configured one, with 1,000 requests in flight.

The simulator runs `instant` with one phase overridden: `orders.invoice.ingress` drawn uniform in 50-1000 ms. The
bench runs 1,000 workers, each sending invoices for its own order back to back (closed loop: the next one as soon
as the previous answer is read), so 1,000 requests are in flight all the time; the workers' first requests are
spread over one longest delay (1 s), and only requests sent after a warm-up of 1.5 longest delays count (the
figure would otherwise measure how fast the simulator ingests 1,000 requests arriving in the same millisecond,
which is the throughput rows' business).

For each request the bench knows the configured delay exactly: the simulator draws the k-th invoice of an order
from the stream named (seed, order id, `invoice`, `ingress`) (README, "Seeded"), which `delay_stream`
recomputes. Two figures per request:

- **client-observed** (the target's figure): the response time (request written -> answer read, on the client's
  clock) - the configured delay - the zero-delay baseline (the median response time of sequential invoices once
  the delay is set back to 0). It includes everything a user sees: the simulator's timer, its event loop with
  1,000 pending requests, the answer's way back and the client's own event loop.
- **server-side** (a diagnosis): from the journal, the invoice's `read` minus its `arrive` (the ingress phase as
  the simulator lived it) - the configured delay.

Imports: stdlib, aiohttp, `harness.bench._common`, `harness.errors`.
"""

from __future__ import annotations

import asyncio
import gc
import random
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp

from harness.bench._common import Plan, cores, open_process_server, pinned, quantiles, simulator_argv
from harness.errors import HarnessError

__all__ = ["delay_stream", "measure_precision"]

SIM_READY = b"racelab simulator listening on "
BASELINE_REQUESTS = 100

_ORDER = {"items": [{"id": "x", "price": 10**9, "quantity": 1}], "status": "handling"}
Step = Callable[[str], None]


def delay_stream(seed: int, key: str, op: str, phase: str) -> random.Random:
    """The stream the simulator draws the (key, op, phase) delays from under `seed`: a uniform delay of the k-th
    operation is the k-th `.uniform(min_ms, max_ms)` on it.

    The simulator seeds one `random.Random` per (seed, key, operation, phase) with the string
    `"{seed}|{key}|{op}|{phase}"` (`simulator.timing.RngStreams`); `tests/bench` checks the two stay in step.
    """
    return random.Random(f"{seed}|{key}|{op}|{phase}")


def _invoice(number: str) -> dict[str, Any]:
    return {
        "type": "Output",
        "issuedDate": "2026-11-21",
        "invoiceNumber": number,
        "invoiceValue": 1,
        "items": [{"itemIndex": 0, "price": 1, "quantity": 1}],
    }


class _Sent:
    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at: float | None = None


async def _on_sent(session: Any, ctx: Any, params: Any) -> None:
    """Headers written, then (for a body) its last chunk: the request has left once the later of the two fired."""
    if isinstance(box := ctx.trace_request_ctx, _Sent):
        box.at = time.monotonic()


async def _timed(session: aiohttp.ClientSession, base: str, op: str, order_id: str, number: str) -> tuple[float, float]:
    """One request of `op` (`get_order` or `invoice`): (request written, answer read) on the monotonic clock."""
    sent = _Sent()
    if op == "invoice":
        request = session.post(
            f"{base}/api/orders/pvt/document/{order_id}/invoices", json=_invoice(number), trace_request_ctx=sent
        )
    else:
        request = session.get(
            f"{base}/api/oms/pvt/orders/{order_id}", headers={"X-Request-ID": number}, trace_request_ctx=sent
        )
    async with request as resp:
        await resp.read()
        done = time.monotonic()
        if resp.status != 200:
            raise HarnessError(f"{op} {number} on {order_id} answered {resp.status}: {await resp.text()}")
    assert sent.at is not None
    return sent.at, done


async def _call(session: aiohttp.ClientSession, method: str, url: str, body: Any = None) -> Any:
    async with session.request(method, url, json=body) as resp:
        if resp.status >= 300:
            raise HarnessError(f"{method} {url} answered {resp.status}: {await resp.text()}")
        return await resp.json()


Sample = tuple[int, int, float, float]
"""(worker, k-th request of that worker, written, answer read)."""


def warmup_s(plan: Plan) -> tuple[float, float]:
    """(stagger, warm-up): the workers' first requests are spread over the longest delay, so they do not all arrive
    in the same millisecond; requests sent before 1.5 longest delays do not count."""
    longest = plan.precision_max_ms / 1000.0
    return longest, 1.5 * longest


async def _closed_loop(
    session: aiohttp.ClientSession, base: str, op: str, n: int, plan: Plan
) -> tuple[list[Sample], float, float]:
    """`n` workers sending `op` back to back until `plan.precision_seconds` after the warm-up. Returns every sample,
    the time the counting starts and the time the workers stop sending."""
    loop = asyncio.get_running_loop()
    samples: list[Sample] = []
    stagger, warmup = warmup_s(plan)
    t0 = loop.time() + 0.05
    stop = t0 + warmup + plan.precision_seconds

    async def worker(i: int) -> None:
        await asyncio.sleep(max(0.0, t0 + i * stagger / n - loop.time()))
        k = 0
        while loop.time() < stop:
            sent, done = await _timed(session, base, op, f"W{i}", f"{op}-{i}-{k}")
            samples.append((i, k, sent, done))
            k += 1

    # The client's own collector must not pause it mid-measure (a full collection over 1,000 connections' objects
    # takes tens of ms and would land in the figure as the simulator's lateness); a few seconds without it is cheap.
    gc.collect()
    gc.disable()
    try:
        await asyncio.gather(*(worker(i) for i in range(n)))
    finally:
        gc.enable()
    return samples, t0 + warmup, stop


OPS = ("get_order", "invoice")
"""The two requests measured: a read (GET order) and a write (POST invoice, which does the full work of the model)."""


async def measure_precision(plan: Plan, *, on_step: Step | None = None) -> dict[str, Any]:
    """Configured vs actual delay with `plan.precision_requests` requests in flight for `plan.precision_seconds`,
    first GET order (its `ingress` drawn uniform), then POST invoice (the same), on one simulator.

    Returns:
        Per op (`get_order`, `invoice`): `client_error_ms` and, for the invoice, `server_error_ms` (quantiles of
        |actual - configured| over every counted request), `signed_client_ms` (mean and p50 of actual -
        configured), `baseline_ms`, `in_flight` (mean requests in flight while counting), `counted`. Plus the setup.

    Raises:
        HarnessError: the simulator did not start or refused a request, or the journal does not show the draws the
            bench expects (the simulator's stream naming changed: `delay_stream` must follow it).
    """
    available = cores()
    servers = available[-1:] if len(available) > 1 else None
    clients = available[:-1] if len(available) > 1 else None
    n, seed = plan.precision_requests, plan.seed
    uniform = {"kind": "uniform", "min_ms": plan.precision_min_ms, "max_ms": plan.precision_max_ms}
    overrides = {"seed": seed, "orders": {op: {"ingress": uniform} for op in OPS}}
    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(_on_sent)
    trace.on_request_chunk_sent.append(_on_sent)
    found: dict[str, Any] = {
        "requests_in_flight": n,
        "seconds": plan.precision_seconds,
        "warmup_s": warmup_s(plan)[1],
        "delay": {"phase": "ingress", "seed": seed, **uniform},
        "cpus": {"server": servers, "client": clients},
    }
    measured: dict[str, tuple[list[Sample], float, float, list[dict[str, Any]]]] = {}
    with pinned(clients):
        async with (
            open_process_server(simulator_argv("instant", overrides), ready=SIM_READY, cpus=servers) as base,
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=n + 16, limit_per_host=n + 16), trace_configs=[trace]
            ) as session,
        ):
            if on_step is not None:
                on_step("delay precision · seeding")
            for first in range(0, n + 1, 256):
                ids = [f"W{i}" for i in range(first, min(n, first + 256))] + (["Z"] if first + 256 > n else [])
                await asyncio.gather(
                    *(_call(session, "POST", f"{base}/_sim/orders", {**_ORDER, "orderId": o}) for o in ids)
                )
            since = int((await _call(session, "GET", f"{base}/_sim/journal?since=0&limit=1000000"))["last_seq"])
            for op in OPS:
                if on_step is not None:
                    on_step(f"delay precision · {op} · {n:,} in flight")
                samples, counted_from, stop = await _closed_loop(session, base, op, n, plan)
                await _call(session, "POST", f"{base}/_sim/quiesce", {"timeout_ms": 60_000})
                journal = await _call(session, "GET", f"{base}/_sim/journal?since={since}&limit=1000000")
                since = int(journal["last_seq"])
                measured[op] = (samples, counted_from, stop, journal["entries"])
            if on_step is not None:
                on_step("delay precision · zero-delay baselines")
            await _call(session, "PATCH", f"{base}/_sim/config", {"orders": {op: {"ingress": 0} for op in OPS}})
            baselines = {}
            for op in OPS:
                times = [await _timed(session, base, op, "Z", f"{op}-Z-{k}") for k in range(BASELINE_REQUESTS)]
                baselines[op] = statistics.median((done - sent) * 1000.0 for sent, done in times)
    for op, (samples, counted_from, stop, entries) in measured.items():
        found[op] = _judge(plan, op, samples, (counted_from, stop), entries, baselines[op])
    return found


def _judge(
    plan: Plan,
    op: str,
    samples: Sequence[Sample],
    window: tuple[float, float],
    entries: Sequence[dict[str, Any]],
    baseline_ms: float,
) -> dict[str, Any]:
    """Each request sent within `window` against its configured delay; the mean number in flight over `window`."""
    low, high = plan.precision_min_ms, plan.precision_max_ms
    phases = _phases(entries, op)
    streams: dict[int, tuple[random.Random, list[float]]] = {}

    def configured(worker: int, k: int) -> float:
        rng, drawn = streams.setdefault(worker, (delay_stream(plan.seed, f"W{worker}", op, "ingress"), []))
        while len(drawn) <= k:
            drawn.append(rng.uniform(low, high))
        return drawn[k]

    counted_from, window_end = window
    client, server, signed = [], [], []
    busy = 0.0
    for worker, k, sent, done in sorted(samples, key=lambda s: (s[0], s[1])):
        want = configured(worker, k)  # every draw, counted or not, keeps each stream in step
        busy += max(0.0, min(done, window_end) - max(sent, counted_from))
        if not counted_from <= sent < window_end:
            continue
        actual = (done - sent) * 1000.0 - baseline_ms
        signed.append(actual - want)
        client.append(abs(actual - want))
        lived = phases.get(f"{op}-{worker}-{k}")
        if lived is None:
            raise HarnessError(f"the journal does not show {op} {op}-{worker}-{k}")
        if "arrive" in lived:  # the invoice journals its arrival; a GET only its read (after the ingress)
            server.append(abs((lived["read"] - lived["arrive"]) * 1000.0 - want))
    if not client:
        raise HarnessError("no request was sent after the warm-up; give the measure more seconds")
    # A delay never ends early: many answers well before their configured delay mean the bench recomputes other
    # draws than the simulator makes (its stream naming changed), not that the simulator is fast.
    early = sum(1 for e in signed if e < -20.0) / len(signed)
    if early > 0.05:
        raise HarnessError(
            f"{op}: {early:.0%} of the answers came more than 20 ms before their configured delay: the bench does "
            "not recompute the simulator's draws (its stream naming changed); update delay_stream"
        )
    return {
        "counted": len(client),
        "in_flight": busy / max(1e-9, window_end - counted_from),
        "baseline_ms": baseline_ms,
        "client_error_ms": quantiles(client),
        "server_error_ms": quantiles(server) if server else None,
        "signed_client_ms": {"mean": statistics.fmean(signed), "p50": statistics.median(signed)},
    }


def _phases(entries: Sequence[dict[str, Any]], op: str) -> dict[str, dict[str, float]]:
    """Request id (invoice number, or a GET's X-Request-ID) → the monotonic time of its `arrive` and `read`."""
    found: dict[str, dict[str, float]] = {}
    for e in entries:
        if e["op"] == op and e["phase"] in ("arrive", "read"):
            found.setdefault(e["op_id"], {})[e["phase"]] = float(e["t"])
    return found
