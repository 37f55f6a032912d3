"""The journal: every phase of every operation, with monotonic timestamps, kept per order.

Owns: `JournalEntry` and `Journal`. A report draws client requests and the simulator's READ/COMMIT points on one
timeline from it; tests and checkers read it through `GET /_sim/journal`.

Imports: stdlib only.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["Journal", "JournalEntry"]


@dataclass(frozen=True, slots=True)
class JournalEntry:
    seq: int
    t: float
    """Seconds on the simulator's monotonic clock (the event loop's clock)."""
    order_id: str
    op: str
    phase: str
    op_id: str
    version: int | None
    detail: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "t": self.t,
            "order_id": self.order_id,
            "op": self.op,
            "phase": self.phase,
            "op_id": self.op_id,
            "version": self.version,
            "detail": self.detail,
        }


class Journal:
    """Append-only, bounded. Entries are grouped by order so one order's timeline is cheap to read.

    When more than `max_entries` are held, the entries of the orders journaled first are dropped whole.

        journal = Journal(max_entries=100_000)
        journal.record(0.25, "ORD-1", "invoice", "commit", "inv-1", version=3)
    """

    __slots__ = ("_by_order", "_count", "_seq", "max_entries")

    def __init__(self, *, max_entries: int) -> None:
        self.max_entries = max_entries
        self._by_order: dict[str, list[JournalEntry]] = {}
        self._seq = itertools.count(1)
        self._count = 0

    def record(
        self,
        t: float,
        order_id: str,
        op: str,
        phase: str,
        op_id: str = "",
        *,
        version: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        entries = self._by_order.get(order_id)
        if entries is None:
            entries = self._by_order[order_id] = []
        entries.append(JournalEntry(next(self._seq), t, order_id, op, phase, op_id, version, detail))
        self._count += 1
        if self._count > self.max_entries:
            self._evict()

    def _evict(self) -> None:
        while self._count > self.max_entries and self._by_order:
            oldest = next(iter(self._by_order))
            self._count -= len(self._by_order.pop(oldest))

    def for_order(self, order_id: str) -> list[JournalEntry]:
        return list(self._by_order.get(order_id, ()))

    def entries(self, *, order_id: str | None = None, since: int = 0, limit: int | None = None) -> list[JournalEntry]:
        """Entries in journal order, optionally for one order, after sequence number `since`."""
        if order_id is not None:
            source: Iterator[JournalEntry] = iter(self._by_order.get(order_id, ()))
        else:
            source = heapq.merge(*self._by_order.values(), key=lambda e: e.seq)
        picked = (e for e in source if e.seq > since)
        return list(itertools.islice(picked, limit)) if limit is not None else list(picked)

    def forget(self, order_id: str) -> None:
        self._count -= len(self._by_order.pop(order_id, ()))

    def clear(self) -> None:
        self._by_order.clear()
        self._count = 0

    def __len__(self) -> int:
        return self._count
