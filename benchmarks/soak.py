"""Soak: does the simulator's memory stay bounded over a long run? RSS of a real `racelab serve`, window by window.

The simulator runs as its own process (`racelab serve --profile instant`) with the limits given here; this script
drives orders through it over HTTP, as an integration would, and after every window (once the simulator is idle)
prints the server's resident memory (`VmRSS` from `/proc/<pid>/status`) beside what it keeps (orders, journal
entries). Bounded means the RSS column goes flat once the first windows have filled the limits.

Each order: seeded in both services, read, a Change on every other one (awaited), invoiced for its final value,
registered in Accounting (every position) and paid (with an X-Request-ID). Options add the traffic that found
unbounded growth (see docs/reliability.md): `--unknown` requests for orders that do not exist, `--stuck` orders
left partially invoiced (they never reach a final status), `--no-feed-consumer` nobody committing the feed.

    .venv/bin/python benchmarks/soak.py [--orders 20000] [--window 2000] [--max-orders 1000] [--journal 20000]
                                        [--concurrency 32] [--unknown] [--stuck] [--no-feed-consumer] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
ITEMS = [{"id": "sku-1", "price": 4990, "quantity": 2}, {"id": "sku-2", "price": 1500, "quantity": 1}]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


class Driver:
    """Sends one order's traffic at a time (several at once through `concurrency`)."""

    def __init__(self, session: aiohttp.ClientSession, url: str, args: argparse.Namespace) -> None:
        self.s = session
        self.url = url
        self.args = args
        self.requests = 0
        self.unexpected: list[str] = []

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> Any:
        async with self.s.request(method, self.url + path, json=body, headers=headers) as resp:
            self.requests += 1
            answer = await resp.json(content_type=None)
            if resp.status not in expect and len(self.unexpected) < 20:
                self.unexpected.append(f"{method} {path}: {resp.status} {answer}")
            return answer

    async def order(self, n: int) -> None:
        oid = f"SOAK{n:08d}"  # an Accounting orderReference: 1 to 16 letters or digits
        acc = f"/accounting/v1/businesses/1000/customers/C-1/orders/{oid}"
        await self.call(
            "POST",
            "/_sim/orders",
            {"orderId": oid, "items": ITEMS, "shipping": 1000, "accounting": {"customerNumber": "C-1"}},
            expect=(201,),
        )
        order = await self.call("GET", f"/api/oms/pvt/orders/{oid}")
        if n % 2:
            await self.call(
                "PATCH",
                f"/api/order-system/orders/{oid}/changes",
                {"reason": "soak", "remove": {"items": [{"id": "sku-2", "quantity": 1}]}},
                expect=(202,),
            )
            await self.call("POST", "/_sim/quiesce", {"orderId": oid})
            order = await self.call("GET", f"/api/oms/pvt/orders/{oid}")
        value = order["value"] if not (self.args.stuck and n % 3 == 0) else 1000  # a partial invoice: stuck
        await self.call(
            "POST",
            f"/api/orders/pvt/document/{oid}/invoices",
            {
                "type": "Output",
                "issuedDate": "2026-11-21",
                "invoiceNumber": f"NF-{n}",
                "invoiceValue": value,
                "items": [{"itemIndex": 0, "price": value, "quantity": 1}],
            },
        )
        await self.call(
            "POST",
            f"{acc}/invoices",
            {
                "invoiceReference": f"I-{n}",
                "invoiceDate": "2026-11-21",
                "dueDate": "2026-12-21",
                "dispatchDate": "2026-11-21",
                "shipmentReference": "S-1",
                "items": [{"orderItemReference": r} for r in (1, 2, 3)],
            },
        )
        await self.call("POST", f"{acc}/payments", {"authorizedAmount": 1.0}, headers={"X-Request-ID": f"pay-{n}"})
        if self.args.unknown:
            nope = f"NOPE-{n:08d}"
            await self.call("GET", f"/api/oms/pvt/orders/{nope}", expect=(404,))
            await self.call(
                "PATCH",
                f"/api/order-system/orders/{nope}/changes",
                {"reason": "soak", "remove": {"items": [{"id": "sku-2", "quantity": 1}]}},
                expect=(404,),
            )
            await self.call(
                "POST",
                f"/accounting/v1/businesses/1000/customers/C-1/orders/{nope}/payments",
                {"authorizedAmount": 1.0},
            )

    async def consume_feed(self) -> None:
        while True:
            events = await self.call("GET", "/api/orders/feed?maxlot=10")
            if not events:
                return
            await self.call("POST", "/api/orders/feed", {"handles": [e["handle"] for e in events]}, expect=(200,))


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen[str], str]:
    """`racelab serve --profile instant` with the soak's limits; the process and its URL."""
    limits = {"max_orders": args.max_orders, "journal_max_entries": args.journal, "history_horizon_ms": 1000}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "serve",
            "--port",
            "0",
            "--profile",
            "instant",
            "--overrides",
            json.dumps({"limits": limits}),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise SystemExit(f"racelab serve did not start: {line}{proc.stderr.read() if proc.stderr else ''}")
    return proc, line.rsplit(" ", 1)[1].strip()


async def soak(args: argparse.Namespace, pid: int, url: str) -> list[dict[str, Any]]:
    """Drive `args.orders` orders, a window at a time; one row of figures per window."""
    rows: list[dict[str, Any]] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency)) as session:
        driver = Driver(session, url, args)
        limit = asyncio.Semaphore(args.concurrency)

        async def one(n: int) -> None:
            async with limit:
                await driver.order(n)

        # Like a feed consumer, configure the feed first (without one, the platform keeps no queue): every status
        # change, visible again at once if not committed, kept as long as the platform allows.
        queue = {"visibilityTimeoutInSeconds": 0, "MessageRetentionPeriodInSeconds": 1_209_600}
        await driver.call("POST", "/api/orders/feed/config", {"queue": queue})
        print(f"{'orders':>8} {'seconds':>8} {'req/s':>7} {'RSS MiB':>8} {'kept':>6} {'journal':>8} {'feed':>5}")
        start = time.perf_counter()
        for first in range(0, args.orders, args.window):
            t0, sent0 = time.perf_counter(), driver.requests
            last = min(first + args.window, args.orders)
            await asyncio.gather(*(one(n) for n in range(first, last)))
            if not args.no_feed_consumer:
                await driver.consume_feed()
            await driver.call("POST", "/_sim/quiesce", {"timeout_ms": 60_000})
            metrics = await driver.call("GET", "/_sim/metrics")
            feed = await driver.call("GET", "/api/orders/feed?maxlot=10")
            row = {
                "orders": last,
                "seconds": round(time.perf_counter() - start, 1),
                "rps": round((driver.requests - sent0) / (time.perf_counter() - t0)),
                "rss_kib": rss_kib(pid),
                "kept": metrics["orders"],
                "journal": metrics["journal_entries"],
                "feed": len(feed),
            }
            rows.append(row)
            print(
                f"{row['orders']:>8} {row['seconds']:>8} {row['rps']:>7} {row['rss_kib'] / 1024:>8.1f} "
                f"{row['kept']:>6} {row['journal']:>8} {row['feed']:>5}",
                flush=True,
            )
        if driver.unexpected:
            print("unexpected answers (first ones):", *driver.unexpected[:5], sep="\n  ")
    return rows


def summarize(rows: list[dict[str, Any]]) -> str:
    if len(rows) < 3:
        return "run at least 3 windows to judge a plateau"
    second, last = rows[1], rows[-1]
    orders = last["orders"] - second["orders"]
    per_1k = (last["rss_kib"] - second["rss_kib"]) / orders * 1000
    return (
        f"RSS {second['rss_kib'] / 1024:.1f} MiB after {second['orders']:,} orders, {last['rss_kib'] / 1024:.1f} "
        f"MiB after {last['orders']:,}: {per_1k:+.0f} KiB per 1,000 more orders"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=2_000, help="orders between two measurements")
    parser.add_argument("--max-orders", type=int, default=1_000, help="limits.max_orders of the simulator")
    parser.add_argument("--journal", type=int, default=20_000, help="limits.journal_max_entries of the simulator")
    parser.add_argument("--concurrency", type=int, default=32, help="orders in flight at once")
    parser.add_argument("--unknown", action="store_true", help="also send requests for orders that do not exist")
    parser.add_argument("--stuck", action="store_true", help="leave every third order partially invoiced")
    parser.add_argument("--no-feed-consumer", action="store_true", help="never commit the order feed")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    proc, url = start_server(args)
    try:
        rows = asyncio.run(soak(args, proc.pid, url))
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    print("\n" + summarize(rows))
    if args.out:
        args.out.write_text(
            json.dumps({"options": {k: str(v) for k, v in vars(args).items()}, "windows": rows}, indent=2)
        )


if __name__ == "__main__":
    main()
