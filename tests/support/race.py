"""Readings and waits on a simulator's state that the race tests share (tests/quality)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import VALUE, Sim

__all__ = ["REDUCED", "invoiced", "wait_journal"]

REDUCED = VALUE - 1500  # sku-2 removed by the Change


def invoiced(order: dict[str, Any]) -> int:
    return sum(p["invoiceValue"] for p in order["packageAttachment"]["packages"] if p["type"] == "Output")


async def wait_journal(sim: Sim, order_id: str, op: str, phase: str) -> None:
    """Wait (virtual time) until the journal shows `op`/`phase` for the order."""
    for _ in range(10_000):
        if any(e["op"] == op and e["phase"] == phase for e in await sim.journal(order_id)):
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"{op} never reached {phase}")
