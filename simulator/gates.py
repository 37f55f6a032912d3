"""Gates: named checkpoints in an operation's pipeline that a test can hold and release.

A gate is `(order id or "*", point)` where a point is `<op>.<checkpoint>`, e.g. `change.after_read` or
`invoice.before_commit`. While a gate is held, every operation of that order reaching that point parks; releasing
the gate lets them all go on. `wait_parked()` returns once enough operations are parked, so a test forces an exact
interleaving by waiting on a condition, never by sleeping.

Imports: stdlib (asyncio) only.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

__all__ = ["CHECKPOINTS", "Gates"]

CHECKPOINTS = ("received", "before_read", "after_read", "before_commit", "after_commit", "before_respond")
"""Checkpoints every operation passes, in this order (reads pass only `received`, `after_read`, `before_respond`)."""

ANY_ORDER = "*"


@dataclass(slots=True)
class _Gate:
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    parked: int = 0
    passed: int = 0


class Gates:
    """Holds and releases checkpoints.

    gates.hold("ORD-1", "change.after_read")
    await gates.wait_parked("ORD-1", "change.after_read")   # the Change has read its snapshot
    gates.release("ORD-1", "change.after_read")
    """

    __slots__ = ("_changed", "_gates")

    def __init__(self) -> None:
        self._gates: dict[tuple[str, str], _Gate] = {}
        self._changed: asyncio.Event | None = None

    @property
    def active(self) -> bool:
        """False when no gate is held: the hot path checks this and skips the await entirely."""
        return bool(self._gates)

    def hold(self, order_id: str, point: str) -> None:
        self._gates.setdefault((order_id, point), _Gate())

    def release(self, order_id: str, point: str) -> bool:
        gate = self._gates.pop((order_id, point), None)
        if gate is None:
            return False
        gate.opened.set()
        self._notify()
        return True

    def release_all(self) -> int:
        gates, self._gates = self._gates, {}
        for gate in gates.values():
            gate.opened.set()
        self._notify()
        return len(gates)

    def held(self) -> list[dict[str, object]]:
        return [
            {"order_id": order_id, "point": point, "parked": g.parked}
            for (order_id, point), g in sorted(self._gates.items())
        ]

    async def checkpoint(self, order_id: str, point: str) -> bool:
        """Park here while a gate for (order, point) or ("*", point) is held. Returns True if it parked."""
        gate = self._gates.get((order_id, point)) or self._gates.get((ANY_ORDER, point))
        if gate is None:
            return False
        gate.parked += 1
        self._notify()
        try:
            await gate.opened.wait()
        finally:
            gate.parked -= 1
            gate.passed += 1
        return True

    async def wait_parked(self, order_id: str, point: str, *, count: int = 1) -> None:
        """Return once at least `count` operations are parked at a held gate (callers bound it with a timeout)."""
        while True:
            gate = self._gates.get((order_id, point))
            if gate is None:
                raise LookupError(f"no gate is held at {point} for order {order_id}")
            if gate.parked >= count:
                return
            if self._changed is None:
                self._changed = asyncio.Event()
            await self._changed.wait()

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None
