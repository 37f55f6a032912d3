"""Simulator throughput vs a bare aiohttp handler, side by side in one run (DESIGN §5, first row).

Each server runs in its own process pinned to core 0; wrk runs pinned to core 1. Runs alternate (bare, simulator,
bare, simulator, ...) so machine noise hits both alike; the report gives the median of each and their ratio.

    .venv/bin/python benchmarks/throughput.py [--seconds 5] [--rounds 3] [--connections 50]

Needs wrk (`apt-get install wrk`) and taskset. Prints a table and writes JSON to --out if given.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDERS = 1000

BARE_SERVER = r'''
import json, sys
from aiohttp import web
doc = json.loads(sys.argv[2])
body = json.dumps(doc)
async def get_order(request):
    return web.json_response(doc)
async def post_invoice(request):
    data = await request.json()
    return web.json_response({"date": "2026-01-01T00:00:00Z", "orderId": request.match_info["orderId"],
                              "receipt": "0" * 32, "n": data["invoiceNumber"]})
app = web.Application()
app.router.add_get("/api/oms/pvt/orders/{orderId}", get_order)
app.router.add_post("/api/orders/pvt/document/{orderId}/invoices", post_invoice)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
'''

POST_LUA = r'''
counter = 0
prefix = ""
init = function(args)
  prefix = args[1]  -- unique per run: invoice numbers must never repeat (a repeat is refused as a duplicate)
end
request = function()
  counter = counter + 1
  local order = "B" .. (counter % %d)
  local body = '{"type":"Output","issuedDate":"2026-11-21","invoiceNumber":"' .. prefix .. '-' .. counter ..
    '","invoiceValue":1,"items":[{"itemIndex":0,"price":1,"quantity":1}]}'
  return wrk.format("POST", "/api/orders/pvt/document/" .. order .. "/invoices",
                    {["Content-Type"]="application/json"}, body)
end
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server at {url} did not come up")


_runs = iter(range(1_000_000))


def wrk(url: str, seconds: int, connections: int, script: str | None = None) -> float:
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    if script:
        cmd += ["-s", script, url, "--", f"run{next(_runs)}"]
    else:
        cmd.append(url)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"wrk saw {errors.group(1)} error answers from {url}:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def post_json(url: str, body: object) -> object:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("taskset"):
        raise SystemExit("needs wrk and taskset (apt-get install wrk util-linux)")

    sim_port, bare_port = free_port(), free_port()
    sim = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-m", "harness.cli", "serve", "--profile", "instant",
                            "--port", str(sim_port)], cwd=ROOT, stdout=subprocess.DEVNULL)  # fmt: skip
    sim_url = f"http://127.0.0.1:{sim_port}"
    try:
        wait_up(f"{sim_url}/_sim/health")
        items = [{"id": "sku-1", "price": 4990, "quantity": 2}, {"id": "sku-2", "price": 1500, "quantity": 1}]
        post_json(f"{sim_url}/_sim/orders", {"orderId": "ORD-1", "items": items, "shipping": 1000})
        for i in range(ORDERS):
            post_json(f"{sim_url}/_sim/orders", {"orderId": f"B{i}", "items": [{"id": "x", "price": 10**9, "quantity": 1}]})
        with urllib.request.urlopen(f"{sim_url}/api/oms/pvt/orders/ORD-1") as resp:
            doc = resp.read().decode()
        bare = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", BARE_SERVER, str(bare_port), doc])
        bare_url = f"http://127.0.0.1:{bare_port}"
        try:
            wait_up(f"{bare_url}/api/oms/pvt/orders/ORD-1")
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
                f.write(POST_LUA.replace("%d", str(ORDERS)))
            results: dict[str, list[float]] = {k: [] for k in ("bare GET", "sim GET", "bare POST", "sim POST")}
            for _ in range(args.rounds):
                path = "/api/oms/pvt/orders/ORD-1"
                results["bare GET"].append(wrk(bare_url + path, args.seconds, args.connections))
                results["sim GET"].append(wrk(sim_url + path, args.seconds, args.connections))
                results["bare POST"].append(wrk(bare_url, args.seconds, args.connections, f.name))
                results["sim POST"].append(wrk(sim_url, args.seconds, args.connections, f.name))
            os.unlink(f.name)
        finally:
            bare.terminate()
            bare.wait()
    finally:
        sim.terminate()
        sim.wait()
    med = {k: statistics.median(v) for k, v in results.items()}
    report = {
        "get_order": {"bare_rps": med["bare GET"], "sim_rps": med["sim GET"], "ratio": med["sim GET"] / med["bare GET"]},
        "post_invoice": {"bare_rps": med["bare POST"], "sim_rps": med["sim POST"],
                         "ratio": med["sim POST"] / med["bare POST"]},  # fmt: skip
        "runs": results,
        "setup": {"seconds": args.seconds, "rounds": args.rounds, "connections": args.connections, "profile": "instant"},
    }
    print(f"{'route':<14}{'bare aiohttp':>14}{'simulator':>12}{'ratio':>8}   (median of {args.rounds} rounds, target >= 0.80)")
    for name, key in (("GET order", "get_order"), ("POST invoice", "post_invoice")):
        r = report[key]
        print(f"{name:<14}{r['bare_rps']:>12.0f}/s{r['sim_rps']:>10.0f}/s{r['ratio']:>8.2f}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
