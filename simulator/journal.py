"""The journal: every phase of every operation, with monotonic timestamps, kept per order.

Owns: `JournalEntry` and `Journal`. A report draws client requests and the simulator's READ/COMMIT points on one
timeline from it; tests and checkers read it through `GET /_sim/journal`.

Recording is on every request's path (an invoice journals about ten entries), reading is rare (a run's end, a
report), so an entry is kept as a plain tuple and becomes a `JournalEntry` only when read: a tuple of strings and
numbers costs a fraction of a frozen dataclass to build, and the garbage collector stops tracking it, which keeps
collections short in a server holding a million entries.

Imports: stdlib only.
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict
from collections.abc import Iterable, Iterator
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


_Row = tuple[int, float, str, str, str, str, int | None, dict[str, Any] | None]
"""A stored entry: the fields of `JournalEntry`, in order."""


def _entries(rows: Iterable[_Row]) -> list[JournalEntry]:
    return [JournalEntry(*row) for row in rows]


class Journal:
    """Append-only, bounded. Entries are grouped by order so one order's timeline is cheap to read.

    When more than `max_entries` are held, the entries of the orders journaled first are dropped whole.

        journal = Journal(max_entries=100_000)
        journal.record(0.25, "ORD-1", "invoice", "commit", "inv-1", version=3)
    """

    __slots__ = ("_by_order", "_count", "_seq", "max_entries")

    def __init__(self, *, max_entries: int) -> None:
        self.max_entries = max_entries
        # Ordered by first entry; OrderedDict because evicting the oldest order is `popitem(last=False)`, O(1),
        # where `next(iter(dict))` rescans the slots freed by earlier evictions every time.
        self._by_order: OrderedDict[str, list[_Row]] = OrderedDict()
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
        entries.append((next(self._seq), t, order_id, op, phase, op_id, version, detail))
        self._count += 1
        if self._count > self.max_entries:
            self._evict()

    def _evict(self) -> None:
        by_order = self._by_order
        while self._count > self.max_entries and by_order:
            self._count -= len(by_order.popitem(last=False)[1])

    def for_order(self, order_id: str) -> list[JournalEntry]:
        return _entries(self._by_order.get(order_id, ()))

    def entries(self, *, order_id: str | None = None, since: int = 0, limit: int | None = None) -> list[JournalEntry]:
        """Entries in journal order, optionally for one order, after sequence number `since`."""
        if order_id is not None:
            source: Iterator[_Row] = iter(self._by_order.get(order_id, ()))
        else:
            source = heapq.merge(*self._by_order.values(), key=lambda row: row[0])
        picked = (row for row in source if row[0] > since)
        return _entries(itertools.islice(picked, limit) if limit is not None else picked)

    def forget(self, order_id: str) -> None:
        self._count -= len(self._by_order.pop(order_id, ()))

    def clear(self) -> None:
        """Forget every entry; numbering restarts at 1, as on a new server."""
        self._by_order.clear()
        self._count = 0
        self._seq = itertools.count(1)

    def __len__(self) -> int:
        return self._count
