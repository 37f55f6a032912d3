"""Throughput: the simulator against a bare aiohttp handler, same client, same machine, alternating rounds.

The simulator runs `racelab serve --profile instant` (every delay zero); the bare server is the smallest aiohttp
application that answers the same two routes: `GET /api/oms/pvt/orders/{orderId}` with the document the simulator
serves for that order (`web.json_response(document)`, as a plain handler would), and
`POST /api/orders/pvt/document/{orderId}/invoices`, which parses the JSON body and answers a receipt. For context,
GET is also measured against a `bare-bytes` server that answers the simulator's bytes as they are (no
serialization per request: aiohttp's floor; the simulator itself keeps each version's rendered bytes). Every server
runs as a process pinned to the servers' core; the load client (wrk, or a small aiohttp client when wrk is
missing) runs on the other core(s). Rounds alternate (bare, simulator, bare, simulator, ...) so that noise from a
shared machine falls on every side alike; each side's figure is the median of its rounds.

POST invoice spreads its invoices over `throughput_orders` seeded orders, each worth far more than it will be
invoiced, so every invoice is accepted and does the full work of the model: READ, validate, COMMIT a package, the
status change, the feed event, the background invoiced-check (a second COMMIT) and its journal entries.

Imports: stdlib, aiohttp, `harness.bench._common`, `harness.errors`.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp

from harness.bench._common import Plan, child_env, cores, open_process_server, pinned, run_child, simulator_argv
from harness.errors import HarnessError

__all__ = ["BARE_SERVER", "measure_throughput"]

GET_PATH = "/api/oms/pvt/orders/ORD-1"
POST_PATH = "/api/orders/pvt/document/{order}/invoices"
SIM_READY = b"racelab simulator listening on "
BARE_READY = b"bare aiohttp listening on "

BARE_SERVER = r"""
import asyncio, json, socket, sys
from aiohttp import web
document, mode = json.loads(sys.argv[1]), sys.argv[2]
rendered = json.dumps(document).encode()
async def get_order(request):
    if mode == "bytes":
        return web.Response(body=rendered, content_type="application/json")
    return web.json_response(document)
async def post_invoice(request):
    data = await request.json()
    return web.json_response({"date": "2026-11-21T00:00:00.000000Z", "orderId": request.match_info["orderId"],
                              "receipt": "0" * 32, "invoiceNumber": data["invoiceNumber"]})
async def main():
    app = web.Application()
    app.router.add_get("/api/oms/pvt/orders/{orderId}", get_order)
    app.router.add_post("/api/orders/pvt/document/{orderId}/invoices", post_invoice)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    print(f"bare aiohttp listening on http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""
"""The bare side: aiohttp with nothing but the two handlers. Arguments: the order document (JSON), and `json` (GET
renders it per request) or `bytes` (GET answers it pre-rendered)."""

_WRK_POST = r"""
counter = 0
prefix = ""
init = function(args)
  prefix = args[1]  -- unique per run: an invoice number must never repeat on an order
end
request = function()
  counter = counter + 1
  local body = '{"type":"Output","issuedDate":"2026-11-21","invoiceNumber":"' .. prefix .. '-' .. counter ..
    '","invoiceValue":1,"items":[{"itemIndex":0,"price":1,"quantity":1}]}'
  return wrk.format("POST", "/api/orders/pvt/document/B" .. (counter % ORDERS) .. "/invoices",
                    {["Content-Type"]="application/json"}, body)
end
"""

_PY_CLIENT = r"""
import asyncio, json, sys, time
import aiohttp
base, route, seconds, connections, orders, prefix = sys.argv[1:7]
seconds, connections, orders = float(seconds), int(connections), int(orders)
async def main():
    counter = 0
    done = errors = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as session:
        deadline = time.monotonic() + seconds
        async def worker():
            nonlocal counter, done, errors
            while time.monotonic() < deadline:
                counter += 1
                if route == "get":
                    request = session.get(base + "/api/oms/pvt/orders/ORD-1")
                else:
                    body = ('{"type":"Output","issuedDate":"2026-11-21","invoiceNumber":"%s-%d","invoiceValue":1,'
                            '"items":[{"itemIndex":0,"price":1,"quantity":1}]}' % (prefix, counter))
                    request = session.post(f"{base}/api/orders/pvt/document/B{counter % orders}/invoices",
                                           data=body, headers={"Content-Type": "application/json"})
                async with request as response:
                    await response.read()
                    errors += response.status >= 300
                done += 1
        start = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(connections)))
        print(json.dumps({"rps": done / (time.monotonic() - start), "errors": errors}))
asyncio.run(main())
"""
"""The load client when wrk is missing: one process, `connections` workers sending back to back."""

ORDER = {
    "orderId": "ORD-1",
    "items": [{"id": "sku-1", "price": 4990, "quantity": 2}, {"id": "sku-2", "price": 1500, "quantity": 1}],
    "shipping": 1000,
}
_BIG_ORDER = {"items": [{"id": "x", "price": 10**9, "quantity": 1}], "status": "handling"}
Step = Callable[[str], None]


class _Client:
    """Runs one load burst against a URL and returns requests per second; wrk when present."""

    def __init__(self, plan: Plan, workdir: Path, threads: int) -> None:
        self.plan = plan
        self.wrk = shutil.which("wrk")
        self.threads = max(1, threads)
        self.script = workdir / "post.lua"
        self.script.write_text(_WRK_POST.replace("ORDERS", str(plan.throughput_orders)))
        self._runs = 0

    @property
    def name(self) -> str:
        if self.wrk:
            return f"wrk ({self.threads} thread(s), {self.plan.throughput_connections} connections)"
        return f"aiohttp client, wrk not found ({self.plan.throughput_connections} connections)"

    async def run(self, base: str, route: str) -> float:
        self._runs += 1
        prefix = f"run{self._runs}"
        plan = self.plan
        if self.wrk:
            argv = [self.wrk, f"-t{self.threads}", f"-c{plan.throughput_connections}", f"-d{plan.throughput_seconds}s"]
            argv += [base + GET_PATH] if route == "get" else ["-s", str(self.script), base, "--", prefix]
        else:
            argv = [
                sys.executable,
                "-c",
                _PY_CLIENT,
                base,
                route,
                str(plan.throughput_seconds),
                str(plan.throughput_connections),
                str(plan.throughput_orders),
                prefix,
            ]
        code, out, err = await run_child(argv)  # aborted (the bench interrupted), the client is stopped
        text = out.decode(errors="replace")
        if code != 0:
            raise HarnessError(f"the load client failed (exit {code}): {err.decode(errors='replace')}")
        return _parse_wrk(text, base) if self.wrk else _parse_py(text, base)


def _parse_wrk(text: str, base: str) -> float:
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if bad:
        raise HarnessError(f"wrk saw {bad.group(1)} error answers from {base}; the figure would be meaningless")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if rate is None:
        raise HarnessError(f"cannot read wrk's output:\n{text}")
    return float(rate.group(1))


def _parse_py(text: str, base: str) -> float:
    result = json.loads(text)
    if result["errors"]:
        raise HarnessError(f"the load client saw {result['errors']} error answers from {base}")
    return float(result["rps"])


async def _seed(base: str, plan: Plan) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as session:

        async def post(body: Mapping[str, Any]) -> None:
            async with session.post(base + "/_sim/orders", json=body) as resp:
                if resp.status != 201:
                    raise HarnessError(f"seeding {body['orderId']} failed: {resp.status} {await resp.text()}")

        await post(ORDER)
        batch = 256
        for start in range(0, plan.throughput_orders, batch):
            stop = min(start + batch, plan.throughput_orders)
            await asyncio.gather(*(post({**_BIG_ORDER, "orderId": f"B{i}"}) for i in range(start, stop)))


async def _document(base: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(base + GET_PATH) as resp:
        if resp.status != 200:
            raise HarnessError(f"the simulator does not serve {GET_PATH}: {resp.status}")
        return await resp.text()


async def measure_throughput(
    plan: Plan,
    *,
    variants: Mapping[str, Path | None] | None = None,
    on_step: Step | None = None,
) -> dict[str, Any]:
    """Requests per second of each side, per route, alternating rounds; the ratios against the bare handler.

    Args:
        plan: seconds, rounds, connections and orders.
        variants: simulator name → the checkout it runs from (None: this one). Default: `{"simulator": None}`.
            `benchmarks/throughput.py --before DIR` adds an older checkout, for before/after figures in one run.
        on_step: called with a short description before each load run (the progress bar).

    Returns:
        `client`, `cpus`, per route `rps` (median per side: `bare`, `bare-bytes` for GET, then each variant),
        `rounds` (every figure) and `ratio` (median variant / median bare), and `invoices_per_order` (about how
        many packages each order ended with).

    Raises:
        HarnessError: a server did not start, or answered errors under load.
    """
    variants = dict(variants or {"simulator": None})
    available = cores()
    servers = available[-1:] if len(available) > 1 else None
    clients = available[:-1] if len(available) > 1 else None
    rounds: dict[str, dict[str, list[float]]] = {"get_order": {}, "post_invoice": {}}
    with tempfile.TemporaryDirectory(prefix="racelab-bench-") as work, pinned(clients):
        client = _Client(plan, Path(work), threads=len(clients or available))
        async with AsyncExitStack() as stack:
            urls: dict[str, str] = {}
            for name, source in variants.items():
                if on_step is not None:
                    on_step(f"throughput · starting and seeding {name}")
                urls[name] = await stack.enter_async_context(
                    open_process_server(
                        simulator_argv("instant"), ready=SIM_READY, cpus=servers, env=child_env(source), cwd=source
                    )
                )
                await _seed(urls[name], plan)
            document = await _document(urls[next(iter(variants))])
            bare = {}
            for mode, side in (("json", "bare"), ("bytes", "bare-bytes")):
                argv = [sys.executable, "-c", BARE_SERVER, document, mode]
                bare[side] = await stack.enter_async_context(open_process_server(argv, ready=BARE_READY, cpus=servers))
            urls = {**bare, **urls}
            for r in range(plan.throughput_rounds):
                for route, key in (("get", "get_order"), ("post", "post_invoice")):
                    for side, url in urls.items():
                        if route == "post" and side == "bare-bytes":
                            continue  # the same POST handler as `bare`
                        if on_step is not None:
                            on_step(f"throughput · {route.upper()} · {side} · round {r + 1}/{plan.throughput_rounds}")
                        rounds[key].setdefault(side, []).append(await client.run(url, route))
    result: dict[str, Any] = {
        "client": client.name,
        "cpus": {"servers": servers, "client": clients},
        "seconds": plan.throughput_seconds,
        "rounds": plan.throughput_rounds,
        "orders": plan.throughput_orders,
    }
    for key, per_side in rounds.items():
        rps = {side: statistics.median(values) for side, values in per_side.items()}
        result[key] = {
            "rps": rps,
            "rounds": per_side,
            "ratio": {side: rps[side] / rps["bare"] for side in per_side if not side.startswith("bare")},
        }
    sent = max(sum(v) for side, v in rounds["post_invoice"].items() if not side.startswith("bare"))
    sent *= plan.throughput_seconds
    result["invoices_per_order"] = round(sent / max(1, plan.throughput_orders), 1)
    """About how many packages each order ended with (the POST load is spread evenly over the orders)."""
    return result
