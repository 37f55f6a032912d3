"""Simulator throughput vs a bare aiohttp handler, side by side in one run (DESIGN §5, first row), optionally with
other checkouts of the simulator beside it, for before/after figures measured in the same rounds.

The measuring is `racelab bench`'s (`harness/bench/_throughput.py`): each server is a process pinned to one core,
wrk (or an aiohttp client when wrk is missing) runs on the other, and rounds alternate (bare, simulator[, before],
bare, ...) so a shared machine's noise falls on every side alike; each side's figure is the median of its rounds.

    .venv/bin/python benchmarks/throughput.py [--seconds 5] [--rounds 5] [--orders 20000] [--compare NAME=DIR ...]

`--compare before=DIR` adds the simulator of another checkout's root (e.g. made with
`git archive HEAD~3 simulator harness scenarios | tar -x -C /tmp/before`); it runs with `DIR` first on `PYTHONPATH`
and `DIR` as its working folder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import replace
from pathlib import Path

from harness.bench._common import Plan
from harness.bench._throughput import measure_throughput


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="seconds per load run (whole seconds: wrk)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--orders", type=int, default=20_000, help="orders the POST invoices spread over")
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="also measure the simulator of the checkout at DIR, named NAME (repeatable)",
    )
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    plan = replace(
        Plan.full(),
        throughput_seconds=args.seconds,
        throughput_rounds=args.rounds,
        throughput_connections=args.connections,
        throughput_orders=args.orders,
    )
    variants: dict[str, Path | None] = {"simulator": None}
    for spec in args.compare:
        name, sep, folder = spec.partition("=")
        if not sep or not name or not Path(folder).is_dir():
            parser.error(f"--compare {spec!r}: expected NAME=DIR with DIR a checkout's root")
        variants[name] = Path(folder).resolve()
    found = asyncio.run(measure_throughput(plan, variants=variants, on_step=lambda s: print(f"  {s}", flush=True)))
    sides = ["bare", "bare-bytes", *variants]
    print(f"\n{'route':<14}" + "".join(f"{s:>14}" for s in sides) + "".join(f"{s + '/bare':>18}" for s in variants))
    for name, key in (("GET order", "get_order"), ("POST invoice", "post_invoice")):
        r = found[key]
        line = f"{name:<14}" + "".join(f"{r['rps'][s]:>12,.0f}/s" if s in r["rps"] else f"{'':>14}" for s in sides)
        print(line + "".join(f"{r['ratio'][s]:>18.2f}" for s in variants))
    print(f"\nmedian of {args.rounds} alternating rounds of {args.seconds} s; {found['client']}; target >= 0.80")
    if args.out:
        args.out.write_text(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
