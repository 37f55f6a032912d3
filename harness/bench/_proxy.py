"""The proxy's own cost: `racelab proxy` in front of the simulator (`instant`: every delay zero) against the
simulator called directly, same client, alternating rounds.

Two figures, both as a user's integration would see them:

- added latency per exchange: one client sends `GET /api/oms/pvt/orders/ORD-1` back to back (one in flight), a
  round direct, then a round through the proxy, and so on; the added latency is each percentile through the proxy
  minus the same percentile direct (p50 and p99). For context, the proxy's time of its own per exchange, from its
  record (`answered - arrived - (upstream_answered - forwarded)`: everything but the upstream's part).
- throughput: `connections` clients in a closed loop for `seconds`, direct and through the proxy, alternating
  rounds; requests per second of each (median of the rounds) and their ratio.

The simulator and the proxy are child processes (`racelab serve`, `racelab proxy`) pinned to the servers' core(s),
the load client runs here. With no rule the proxy only forwards and records: this is its floor.

Imports: stdlib, aiohttp, `harness.bench._common`, `harness.errors`.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from harness.bench._common import Plan, Row, cores, open_process_server, pinned, quantiles, simulator_argv
from harness.errors import HarnessError

__all__ = ["PROXY_READY", "ROW_KEYS", "ProxySizes", "measure_proxy", "proxy_argv", "proxy_rows"]

ROW_KEYS = ("proxy.added_p50", "proxy.added_p99", "proxy.throughput")
SIM_READY = b"racelab simulator listening on "
PROXY_READY = b"racelab proxy listening on "
PATH = "/api/oms/pvt/orders/ORD-1"
ORDER = {
    "orderId": "ORD-1",
    "items": [{"id": "sku-1", "price": 4990, "quantity": 2}, {"id": "sku-2", "price": 1500, "quantity": 1}],
    "shipping": 1000,
}
Step = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ProxySizes:
    """How much the measure does, from the bench's plan (its throughput sizes: the quick plan is small)."""

    latency_requests: int
    """Requests per latency round (one in flight)."""
    rounds: int
    seconds: float
    """Seconds per throughput round."""
    connections: int

    @classmethod
    def of(cls, plan: Plan) -> ProxySizes:
        return cls(
            latency_requests=250 * plan.throughput_seconds,
            rounds=plan.throughput_rounds,
            seconds=float(plan.throughput_seconds),
            connections=min(plan.throughput_connections, 32),
        )


def proxy_argv(upstream: str, out: Path) -> list[str]:
    """`racelab proxy` in front of `upstream` on an ephemeral loopback port, recording into `out`."""
    return [
        sys.executable,
        "-m",
        "harness.cli",
        "proxy",
        "--upstream",
        upstream,
        "--listen",
        "127.0.0.1:0",
        "--out",
        str(out),
    ]


async def _latencies(session: aiohttp.ClientSession, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        async with session.get(url) as resp:
            await resp.read()
            if resp.status != 200:
                raise HarnessError(f"GET {url}: {resp.status}")
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


async def _rps(session: aiohttp.ClientSession, url: str, connections: int, seconds: float) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            async with session.get(url) as resp:
                await resp.read()
                if resp.status != 200:
                    raise HarnessError(f"GET {url}: {resp.status}")
            done += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return done / (time.perf_counter() - t0)


def _own_ms(record: Path) -> list[float]:
    """Per exchange of the proxy's record: its own time (all but the upstream's part), in ms."""
    own = []
    for line in record.read_text(encoding="utf-8").splitlines()[1:]:
        t = json.loads(line)["times"]
        if None not in t.values():
            own.append((t["answered"] - t["arrived"] - (t["upstream_answered"] - t["forwarded"])) * 1000.0)
    return own


async def measure_proxy(plan: Plan, *, on_step: Step | None = None, sizes: ProxySizes | None = None) -> dict[str, Any]:
    """Added latency (p50, p99) and throughput through the proxy against direct, on the `instant` simulator."""
    sizes = sizes or ProxySizes.of(plan)
    step = on_step or (lambda _: None)
    mine = cores()
    servers, client = ([mine[-1]], mine[:-1]) if len(mine) > 1 else (None, None)
    with tempfile.TemporaryDirectory(prefix="racelab-bench-proxy-") as folder:
        out = Path(folder) / "proxy"
        async with AsyncExitStack() as stack:
            step("proxy: starting the simulator and the proxy")
            base = await stack.enter_async_context(
                open_process_server(simulator_argv("instant"), ready=SIM_READY, cpus=servers, name="the simulator")
            )
            proxied = await stack.enter_async_context(
                open_process_server(proxy_argv(base, out), ready=PROXY_READY, cpus=servers, name="racelab proxy")
            )
            session = await stack.enter_async_context(
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=max(sizes.connections, 1)))
            )
            async with session.post(base + "/_sim/orders", json=ORDER) as resp:
                if resp.status != 201:
                    raise HarnessError(f"seeding {ORDER['orderId']} failed: {resp.status} {await resp.text()}")
            sides = {"direct": base + PATH, "proxy": proxied + PATH}
            with pinned(client):
                await _latencies(session, sides["proxy"], min(50, sizes.latency_requests))  # warm up both
                await _latencies(session, sides["direct"], min(50, sizes.latency_requests))
                latency: dict[str, list[float]] = {"direct": [], "proxy": []}
                rps: dict[str, list[float]] = {"direct": [], "proxy": []}
                for r in range(sizes.rounds):
                    for side, url in sides.items():
                        step(f"proxy: latency, {side}, round {r + 1}/{sizes.rounds}")
                        latency[side] += await _latencies(session, url, sizes.latency_requests)
                for r in range(sizes.rounds):
                    for side, url in sides.items():
                        step(f"proxy: throughput, {side}, round {r + 1}/{sizes.rounds}")
                        rps[side].append(await _rps(session, url, sizes.connections, sizes.seconds))
        own = _own_ms(out / "exchanges.jsonl")  # the proxy has stopped: every line is written
    direct, through = quantiles(latency["direct"]), quantiles(latency["proxy"])
    added = {q: _minus(through[q], direct[q]) for q in ("p50", "p99")}
    median = {side: statistics.median(values) for side, values in rps.items()}
    return {
        "sizes": {
            "latency_requests": sizes.latency_requests,
            "rounds": sizes.rounds,
            "seconds": sizes.seconds,
            "connections": sizes.connections,
        },
        "latency_ms": {"direct": direct, "proxy": through, "added": added, "own": quantiles(own)},
        "rps": {"direct": median["direct"], "proxy": median["proxy"], "rounds": rps},
        "ratio": median["proxy"] / median["direct"] if median["direct"] else None,
    }


def _minus(a: float | int | None, b: float | int | None) -> float | None:
    return None if a is None or b is None else float(a) - float(b)


def proxy_rows(found: Mapping[str, Any] | None, raw: Mapping[str, Any], plan: Plan) -> list[Row]:
    """The measure's rows: added latency p50 and p99, throughput through the proxy / direct (no targets: the issue
    sets none; they are the proxy's cost, for context)."""
    titles = (
        "proxy: added latency per exchange, p50 (through the proxy - direct, instant simulator)",
        "proxy: added latency per exchange, p99",
        "proxy: throughput through the proxy / direct",
    )
    if found is None:
        entry = raw.get("proxy", {})
        if "interrupted" in entry:
            how = "aborted by" if entry.get("aborted") else "interrupted by"
            note = f"not measured: {how} {entry['interrupted']}"
            return [Row(k, t, None, "", note=note, interrupted=True) for k, t in zip(ROW_KEYS, titles, strict=True)]
        note = f"could not measure: {entry.get('error', 'failed')}"
        return [Row(k, t, None, "", note=note, error=True) for k, t in zip(ROW_KEYS, titles, strict=True)]
    lat = found["latency_ms"]
    sizes = found["sizes"]
    own = lat["own"]
    context = (
        f"direct p50 {lat['direct']['p50']:.2f} / p99 {lat['direct']['p99']:.2f} ms, through the proxy p50 "
        f"{lat['proxy']['p50']:.2f} / p99 {lat['proxy']['p99']:.2f} ms over {sizes['rounds']} x "
        f"{sizes['latency_requests']} requests a side, one in flight; the proxy's own time (its record): p50 "
        f"{_shown(own['p50'])} / p99 {_shown(own['p99'])} ms"
    )
    rps = found["rps"]
    note_rps = (
        f"{rps['proxy']:,.0f}/s through the proxy vs {rps['direct']:,.0f}/s direct, median of {sizes['rounds']} "
        f"alternating rounds of {sizes['seconds']:g} s, {sizes['connections']} connections (aiohttp client)"
    )
    return [
        Row(ROW_KEYS[0], titles[0], lat["added"]["p50"], "ms", note=context, details=lat),
        Row(ROW_KEYS[1], titles[1], lat["added"]["p99"], "ms", note=context, details=lat),
        Row(ROW_KEYS[2], titles[2], found["ratio"], "ratio", note=note_rps, details=rps),
    ]


def _shown(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"
