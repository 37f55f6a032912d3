#!/usr/bin/env python3
"""hook_invoicer: an example order-hook integration, the kind of middleware racelab's external mode tests.

It stands for your own service, so it imports nothing from racelab: only the standard library and aiohttp. It
serves `POST /hook`; the Orders service posts an order-status hook there whenever an order enters a status the hook
is configured for. On `handling` it reads the order and invoices its value (the document form, integer cents).

    python scenarios/examples/hook_invoicer.py --orders-url http://127.0.0.1:8080 --port 8091 --mode naive

Modes:
    naive       read the order and invoice at once: exposed to the race with a Change sent 50-1000 ms later.
    workaround  the known issue's workaround: before invoicing, poll the order's Changes until every Change listed
                is finished (or canceled), then re-read the order and invoice. A Change that does not exist yet
                cannot be waited for, so the poll lasts at least `--grace-ms` after the hook (default 1000 ms, the
                known issue's window); it gives up after `--max-wait-s` and invoices anyway.

Hooks are delivered at least once, so a hook seen before (same OrderId, State and LastChange) is acknowledged and
ignored. The hook is answered 200 at once and the work runs after it (a slow answer makes the sender retry).
Every action is logged as one line on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import signal
import sys
import time
from collections import OrderedDict
from typing import Any

import aiohttp
from aiohttp import web

SEEN_MAX = 100_000
"""Hook keys remembered for de-duplication (oldest forgotten first)."""


def log(message: str) -> None:
    stamp = datetime.datetime.now().strftime("%H:%M:%S.%f")[:-3]
    print(f"{stamp} {message}", flush=True)


class Invoicer:
    """Reacts to order hooks: de-duplicates them, and invoices orders that enter `handling`."""

    def __init__(
        self, orders_url: str, *, mode: str, headers: dict[str, str], grace_ms: float, max_wait_s: float, poll_ms: float
    ) -> None:
        self.orders_url = orders_url.rstrip("/")
        self.mode = mode
        self.headers = headers
        self.grace_s = grace_ms / 1000.0
        self.max_wait_s = max_wait_s
        self.poll_s = poll_ms / 1000.0
        self.seen: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self.work: set[asyncio.Task[None]] = set()
        self.session: aiohttp.ClientSession | None = None

    async def hook(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "expected a JSON body"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "expected a JSON object"}, status=400)
        if body.get("hookConfig") == "ping":
            log("ping: answered 200")
            return web.json_response({"ok": True})
        order_id, state = body.get("OrderId"), body.get("State")
        if not isinstance(order_id, str) or not isinstance(state, str):
            return web.json_response({"error": "expected OrderId and State"}, status=400)
        key = (order_id, state, str(body.get("LastChange")))
        if key in self.seen:
            log(f"hook {order_id} {state}: duplicate delivery, ignored")
            return web.json_response({"ok": True})
        self.seen[key] = None
        if len(self.seen) > SEEN_MAX:
            self.seen.popitem(last=False)
        if state != "handling":
            log(f"hook {order_id} {state}: nothing to do")
            return web.json_response({"ok": True})
        log(f"hook {order_id} {state}: invoicing ({self.mode})")
        task = asyncio.create_task(self.invoice(order_id))
        self.work.add(task)  # keep a reference until done, or the task may be collected mid-flight
        task.add_done_callback(self.work.discard)
        return web.json_response({"ok": True})

    async def invoice(self, order_id: str) -> None:
        try:
            if self.mode == "workaround":
                await self.wait_for_changes(order_id)
            order = await self.read_order(order_id)
            if order is not None:
                await self.send_invoice(order_id, order)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log(f"order {order_id}: gave up: {type(exc).__name__}: {exc}")

    async def read_order(self, order_id: str) -> dict[str, Any] | None:
        status, order = await self.call("GET", f"/api/oms/pvt/orders/{order_id}")
        if status != 200 or not isinstance(order, dict):
            log(f"GET order {order_id}: {status}, not invoicing")
            return None
        log(f"GET order {order_id}: 200, value {order['value']}, status {order['status']}")
        return order

    async def send_invoice(self, order_id: str, order: dict[str, Any]) -> None:
        items = [
            {"itemIndex": i, "price": int(item["price"]) * int(item["quantity"]), "quantity": int(item["quantity"])}
            for i, item in enumerate(order.get("items") or [])
            if int(item["quantity"]) > 0
        ]
        body = {
            "type": "Output",
            "issuedDate": datetime.date.today().isoformat(),
            "invoiceNumber": f"NF-{order_id}",
            "invoiceValue": int(order["value"]),
            "items": items,
        }
        status, answer = await self.call("POST", f"/api/orders/pvt/document/{order_id}/invoices", json=body)
        log(f"POST invoice {order_id} {body['invoiceNumber']} value {body['invoiceValue']}: {status} {answer}")

    async def wait_for_changes(self, order_id: str) -> None:
        """Poll the order's Changes until every one listed is finished or canceled, for at least the grace period
        after the hook and at most `max_wait_s`."""
        start = time.monotonic()
        while True:
            status, history = await self.call("GET", f"/api/order-system/orders/{order_id}/changes")
            requests = (history.get("requests") or []) if status == 200 and isinstance(history, dict) else []
            pending = [r for r in requests if not (r.get("finished") is True or r.get("status") == "canceled")]
            elapsed = time.monotonic() - start
            if status == 200 and not pending and elapsed >= self.grace_s:
                log(f"Changes of {order_id}: {len(requests)} listed, none pending after {elapsed * 1000:.0f} ms")
                return
            if elapsed >= self.max_wait_s:
                log(
                    f"Changes of {order_id}: still {len(pending)} pending (GET {status}) after {elapsed:.1f} s, "
                    "invoicing anyway"
                )
                return
            await asyncio.sleep(self.poll_s)

    async def call(self, method: str, path: str, *, json: Any = None) -> tuple[int, Any]:
        assert self.session is not None
        async with self.session.request(method, self.orders_url + path, json=json, headers=self.headers) as resp:
            text = await resp.text()
            try:
                return resp.status, await resp.json(content_type=None) if text else None
            except ValueError:
                return resp.status, text

    async def open(self) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def close(self) -> None:
        for task in list(self.work):
            task.cancel()
        await asyncio.gather(*self.work, return_exceptions=True)
        if self.session is not None:
            await self.session.close()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Example order-hook integration: invoices orders entering handling.")
    parser.add_argument("--orders-url", required=True, help="base URL of the Orders API, e.g. http://127.0.0.1:8080")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8091, help="port to serve /hook on (default: 8091; 0: any)")
    parser.add_argument("--mode", choices=["naive", "workaround"], default="naive", help="default: naive")
    parser.add_argument(
        "--grace-ms",
        type=float,
        default=1000.0,
        help="workaround: poll Changes at least this long after the hook (default: 1000)",
    )
    parser.add_argument(
        "--max-wait-s", type=float, default=15.0, help="workaround: invoice anyway after this long (default: 15)"
    )
    parser.add_argument("--poll-ms", type=float, default=50.0, help="workaround: polling interval (default: 50)")
    parser.add_argument("--app-key", default=os.environ.get("VTEX_APP_KEY"), help="X-VTEX-API-AppKey, if needed")
    parser.add_argument("--app-token", default=os.environ.get("VTEX_APP_TOKEN"), help="X-VTEX-API-AppToken")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    headers = {}
    if args.app_key or args.app_token:
        headers = {"X-VTEX-API-AppKey": args.app_key or "", "X-VTEX-API-AppToken": args.app_token or ""}
    invoicer = Invoicer(
        args.orders_url,
        mode=args.mode,
        headers=headers,
        grace_ms=args.grace_ms,
        max_wait_s=args.max_wait_s,
        poll_ms=args.poll_ms,
    )
    app = web.Application()
    app.router.add_post("/hook", invoicer.hook)
    runner = web.AppRunner(app, access_log=None)
    await invoicer.open()
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        site = web.TCPSite(runner, args.host, args.port)
        await site.start()
        port = runner.addresses[0][1]
        log(f"mode {args.mode}, Orders API {invoicer.orders_url}")
        print(f"listening on http://{args.host}:{port}/hook", flush=True)
        await stop.wait()
    finally:
        await invoicer.close()
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        asyncio.run(serve(args))
    except OSError as exc:
        print(f"hook_invoicer: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
