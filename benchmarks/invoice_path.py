"""The domain's cost per POST invoice, in-process, without HTTP: what the simulator adds to a bare handler.

Seeds `--orders` orders on the `instant` profile, sends `--invoices` invoices round-robin (as the throughput
benchmark's wrk script does), lets every background check finish, and reports CPU microseconds per invoice (the
median of `--rounds`; CPU time, so that other processes on a shared machine disturb it less). `--profile-out FILE`
writes a cProfile of one more round, for `python -m pstats`.

    .venv/bin/python benchmarks/invoice_path.py [--orders 1000] [--invoices 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import statistics
import time
from pathlib import Path

from simulator import load_profile
from simulator.engine import Core
from simulator.orders.model import InvoiceInput, InvoiceItem
from simulator.orders.service import OrdersService, SeedItem


class _NoHooks:
    async def post_json(self, url: str, headers: object, payload: object, timeout_s: float) -> int:
        raise AssertionError("no hook is configured in this benchmark")


async def _round(orders: OrdersService, n_orders: int, invoices: int, prefix: str) -> float:
    """CPU microseconds per invoice (CPU time, not wall time: the machine may be shared)."""
    items = (InvoiceItem(item_index=0, quantity=1, price=1),)
    start = time.process_time()
    for i in range(invoices):
        inv = InvoiceInput(
            type="Output",
            invoice_number=f"{prefix}-{i}",
            invoice_value=1,
            issuance_date="2026-11-21",
            items=items,
            form="document",
        )
        await orders.invoice(f"B{i % n_orders}", inv)
        if i % 50 == 49:  # let the background checks run, as the event loop does between requests
            await asyncio.sleep(0)
    await orders.core.work.wait_idle()
    return (time.process_time() - start) / invoices * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--invoices", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile-out", type=Path)
    args = parser.parse_args()
    core = Core(load_profile("instant"))
    await core.start()
    orders = OrdersService(core, _NoHooks())
    for i in range(args.orders):
        await orders.seed_order(items=[SeedItem("x", 10**9, 1)], order_id=f"B{i}")
    figures = [await _round(orders, args.orders, args.invoices, f"r{r}") for r in range(args.rounds)]
    print(
        f"domain CPU cost per invoice: median {statistics.median(figures):.1f} us  (rounds: "
        f"{', '.join(f'{f:.1f}' for f in figures)})"
    )
    if args.profile_out:
        prof = cProfile.Profile()
        prof.enable()
        await _round(orders, args.orders, args.invoices, "profiled")
        prof.disable()
        prof.dump_stats(args.profile_out)
    await core.aclose()


if __name__ == "__main__":
    asyncio.run(main())
