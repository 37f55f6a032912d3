"""The race profile's throughput under locust: against the simulator, and against a bare aiohttp handler, side by side.

The same locust setup runs twice per round: `scenarios/load/race.py` (its users seed an order, fire the invoice and
the Change at the scenario's offsets, settle, read the final state and judge it with the harness's checkers), once
against the simulator (`racelab serve --profile instant`) and once against a bare aiohttp handler that answers the
same request mix with fixed documents and no work at all. Rounds alternate (bare, simulator, bare, ...), so machine
noise hits both alike. Each server runs in its own process pinned to core 0; locust runs pinned to core 1 (taskset,
when there is one).

Reported per target: HTTP requests/s (locust's request count of every HTTP endpoint, not the RACE verdict rows, over
the run time), races/s, and harness errors (runs that could not be judged; the simulator's figure only counts when
this is 0). The ratio simulator / bare is what the simulator's work costs the load test on this machine.

    .venv/bin/python benchmarks/load_vs_bare.py [--seconds 10] [--rounds 3] [--users 100] [--out result.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

BARE_SERVER = r"""
import sys
from aiohttp import web

def order(order_id):
    return {"orderId": order_id, "status": "invoiced", "value": 12480, "version": 3,
            "items": [{"id": "sku-1", "price": 4990, "quantity": 2}, {"id": "sku-2", "price": 1500, "quantity": 1}],
            "packageAttachment": {"packages": [{"type": "Output", "invoiceNumber": "NF-" + order_id,
                                                "invoiceValue": 12480}]},
            "changesAttachment": {"changesData": [{"requestId": "bare-change"}]}}

def change(request_id, finished):
    return {"requestId": request_id, "status": "finished" if finished else "preparing", "inProgress": not finished,
            "finished": finished, "totalChangeValue": -1500}

async def seed(request):
    body = await request.json()
    return web.json_response({"orderId": body["orderId"], "value": 12480, "status": "handling"}, status=201)

async def get_order(request):
    return web.json_response(order(request.match_info["orderId"]))

async def invoice(request):
    await request.read()
    return web.json_response({"date": "2026-11-21T00:00:00Z", "orderId": request.match_info["orderId"],
                              "receipt": "0" * 32})

async def send_change(request):
    await request.read()
    return web.json_response(change("bare-change", False), status=202)

async def get_change(request):
    return web.json_response(change(request.match_info["requestId"], True))

async def quiesce(request):
    await request.read()
    return web.json_response({"idle": True, "pending": 0})

async def inspect(request):
    return web.json_response({"order": order(request.match_info["orderId"]), "versions": [], "changes": [],
                              "pending": 0})

async def journal(request):
    return web.json_response({"entries": [], "last_seq": 0})

async def health(request):
    return web.json_response({"status": "ok"})

app = web.Application()
app.router.add_post("/_sim/orders", seed)
app.router.add_get("/_sim/orders/{orderId}", inspect)
app.router.add_post("/_sim/quiesce", quiesce)
app.router.add_get("/_sim/journal", journal)
app.router.add_get("/_sim/health", health)
app.router.add_get("/api/oms/pvt/orders/{orderId}", get_order)
app.router.add_post("/api/orders/pvt/document/{orderId}/invoices", invoice)
app.router.add_patch("/api/order-system/orders/{orderId}/changes", send_change)
app.router.add_get("/api/order-system/orders/{orderId}/changes/{requestId}", get_change)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


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


def pinned(core: int, argv: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *argv] if shutil.which("taskset") else argv


def run_locust(url: str, args: argparse.Namespace, scratch: Path, label: str) -> dict[str, Any]:
    """One locust run against `url`; its HTTP and race figures."""
    prefix = scratch / label
    report = scratch / f"{label}.json"
    argv = pinned(
        1,
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(ROOT / "scenarios/load/race.py"),
            "--headless",
            "-u",
            str(args.users),
            "-r",
            str(args.users),
            "-t",
            f"{args.seconds}s",
            "--host",
            url,
            "--scenario",
            args.scenario,
            "--csv",
            str(prefix),
            "--racelab-report",
            str(report),
            "--max-fail-ratio",
            "1",
            "--max-violations",
            "*=inf",
            "--max-unknown",
            "1000000000",
            "--only-summary",
            *args.classes,
        ],
    )
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=args.seconds + 120)
    if not report.is_file():
        raise SystemExit(f"locust against {url} gave no verdict (exit {done.returncode}):\n{done.stderr[-3000:]}")
    verdict = json.loads(report.read_text())
    with (prefix.parent / f"{prefix.name}_stats.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["Type"] not in ("RACE", "") and r["Name"] != "Aggregated"]
    requests = sum(int(r["Request Count"]) for r in rows)
    failures = sum(int(r["Failure Count"]) for r in rows)
    tally = verdict["tally"]
    return {
        "rps": requests / args.seconds,
        "requests": requests,
        "failures": failures,
        "races_per_s": sum(tally["runs"].values()) / args.seconds,
        "harness_errors": sum(tally["unknown"].values()),
        "violations": tally["invalid"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="run time of each locust run (default: 10)")
    parser.add_argument("--rounds", type=int, default=3, help="bare/simulator pairs (default: 3)")
    parser.add_argument("--users", type=int, default=100, help="locust users (default: 100)")
    parser.add_argument("--scenario", default="scenarios/over-invoice.yaml", help="scenario the users run")
    parser.add_argument(
        "--classes",
        nargs="*",
        default=["NaiveUser", "WorkaroundUser", "RobustUser"],
        help="user classes (default: all three)",
    )
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()

    sim_port, bare_port = free_port(), free_port()
    sim = subprocess.Popen(
        pinned(0, [sys.executable, "-m", "harness.cli", "serve", "--profile", "instant", "--port", str(sim_port)]),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    bare = subprocess.Popen(pinned(0, [sys.executable, "-c", BARE_SERVER, str(bare_port)]), cwd=ROOT)
    sim_url, bare_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{bare_port}"
    runs: dict[str, list[dict[str, Any]]] = {"bare": [], "simulator": []}
    try:
        wait_up(f"{sim_url}/_sim/health")
        wait_up(f"{bare_url}/_sim/health")
        with tempfile.TemporaryDirectory(prefix="racelab-load-bench-") as scratch:
            for i in range(args.rounds):
                for label, url in (("bare", bare_url), ("simulator", sim_url)):
                    figures = run_locust(url, args, Path(scratch), f"{label}-{i}")
                    runs[label].append(figures)
                    print(
                        f"round {i + 1} {label:<10} {figures['rps']:>8.0f} req/s  {figures['races_per_s']:>7.1f} "
                        f"races/s  harness errors {figures['harness_errors']}  failures {figures['failures']}",
                        flush=True,
                    )
    finally:
        for proc in (sim, bare):
            proc.terminate()
            proc.wait(timeout=30)
    bare_rps = statistics.median(r["rps"] for r in runs["bare"])
    sim_rps = statistics.median(r["rps"] for r in runs["simulator"])
    errors = sum(r["harness_errors"] for r in runs["simulator"])
    report = {
        "bare_rps": bare_rps,
        "sim_rps": sim_rps,
        "ratio": sim_rps / bare_rps,
        "sim_harness_errors": errors,
        "runs": runs,
        "setup": {
            "seconds": args.seconds,
            "rounds": args.rounds,
            "users": args.users,
            "scenario": args.scenario,
            "classes": args.classes,
            "profile": "instant",
        },
    }
    print(f"\nrace profile under locust, {args.users} users, median of {args.rounds} rounds of {args.seconds} s:")
    print(f"  bare aiohttp handler {bare_rps:>8.0f} req/s")
    print(f"  simulator (instant)  {sim_rps:>8.0f} req/s   harness errors {errors}")
    print(f"  ratio simulator/bare {sim_rps / bare_rps:>8.2f}")
    if errors:
        print("  the simulator's figure does not count: some runs could not be judged (lower --users)")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
