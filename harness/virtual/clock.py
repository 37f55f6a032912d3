"""A virtual clock for asyncio: `VirtualClockLoop`, asyncio's selector loop whose time moves only when nothing is
ready, straight to the next timer.

Virtual mode runs each universe on one. The clock counts whole microseconds and moves as looptime's does (the same
arithmetic, so the same instants: results recorded on looptime's clock replay exactly on this one); it differs in
cost, not in behaviour: each cycle skips looptime's bookkeeping for executors and real-time synchronisation, which a
universe does not use. A wake-up on a timer costs ~8 µs instead of ~15 µs (`benchmarks/virtual_cpu.py --parts`),
and a run of the `default-x10` sweep sets about twenty.

How the clock moves, each loop cycle (the loop asks its selector to wait `timeout` seconds):
- I/O is ready (a socket, the loop's self-pipe): no move; the loop handles it.
- `timeout` is 0 (callbacks are ready): no move.
- `timeout` is None (no timer at all): wait for real I/O, as a real loop would; the clock does not move.
- executor work is pending (`run_in_executor`): wait for it in real time, at most `timeout`, without moving the
  clock: virtual time stands still while a thread works.
- otherwise nothing is ready: the first such cycle arms a move, `idle_cycles` more cycles give input from outside
  the process (loopback TCP) that many chances to arrive, and the next one moves the clock by `timeout`, in whole
  microseconds (at least one). Ready callbacks between them restart the count; input from outside disarms it.

    loop = VirtualClockLoop(idle_cycles=0)
    loop.run_until_complete(asyncio.sleep(3600))  # returns at once; loop.time() == 3600.0

Imports: stdlib (asyncio) only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["VirtualClockLoop"]

_T = TypeVar("_T")

_TICKS_PER_S = 1_000_000
"""The clock's resolution: microseconds, kept as an integer so that moving it never accumulates rounding."""

_EXECUTOR_POLL_S = 0.05
"""Longest real wait, in one cycle, for executor work to finish."""


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """asyncio's selector loop on a virtual clock that starts at 0. See the module docstring."""

    def __init__(self, *, idle_cycles: int = 0) -> None:
        super().__init__()
        self._ticks = 0
        self._idle = 0
        self._armed = False
        self.idle_cycles = idle_cycles
        """Cycles with nothing ready before the clock moves (0: move at once). Takes effect at the next cycle."""
        self._executing = 0
        selector: Any = self._selector  # type: ignore[attr-defined]
        self._poll: Callable[[float | None], list[Any]] = selector.select
        self._registered = selector.get_map()
        selector.select = self._select

    def time(self) -> float:
        return self._ticks / _TICKS_PER_S

    def is_quiet(self) -> bool:
        """Nothing pending: no ready callback, no timer (cancelled ones are gone once the loop has cycled past
        them), no task."""
        return not self._ready and not self._scheduled and not asyncio.all_tasks(self)  # type: ignore[attr-defined]

    def rewind(self) -> None:
        """Put the clock back at 0. Only on a quiet loop (`is_quiet`), where no instant already promised to a timer
        can be misplaced.

        Raises:
            RuntimeError: the loop is not quiet.
        """
        if not self.is_quiet():
            raise RuntimeError("a virtual clock goes back to 0 only on a quiet loop")
        self._ticks = 0
        self._idle = 0
        self._armed = False

    def _due_now(self) -> bool:
        """The next timer falls due within the clock's resolution: this cycle runs it, without moving the clock."""
        scheduled = self._scheduled  # type: ignore[attr-defined]
        return bool(scheduled) and scheduled[0].when() < self.time() + self._clock_resolution  # type: ignore[attr-defined]

    def run_in_executor(  # type: ignore[override] # the same call, typed loosely
        self, executor: Any, func: Callable[..., _T], *args: Any
    ) -> asyncio.Future[_T]:
        future = super().run_in_executor(executor, func, *args)
        self._executing += 1
        future.add_done_callback(self._executed)
        return future

    def _executed(self, _: object) -> None:
        self._executing -= 1

    def _select(self, timeout: float | None = None) -> list[Any]:
        # The clock moves as looptime's does, cycle for cycle (`tests/unit/test_clock.py` checks the instants on
        # random timer workloads): the first idle cycle only arms the move, `idle_cycles` more wait, the next one
        # moves; input from outside disarms it, ready callbacks only restart the wait.
        # With nothing registered but the loop's own self-pipe, only another thread can make anything readable,
        # and only through `call_soon_threadsafe`, whose callback is in `_ready` already: a thread of our executor
        # is waited for below; nothing else in a universe uses one. No poll, no system call.
        events = self._poll(0) if len(self._registered) > 1 or self._executing else []
        if events:
            self._armed = False
            return events
        if timeout == 0:
            self._idle = 0
            return events
        if timeout is None:  # nothing scheduled: only input from outside can wake the loop
            events = self._poll(None)
            if events:
                self._armed = False
            return events
        if self._executing:  # time stands still while a thread works
            self._armed = False
            events = self._poll(min(timeout, _EXECUTOR_POLL_S))
            return events
        if not self._armed:
            self._armed, self._idle = True, 0
            if self.idle_cycles or self._due_now():
                return events
            # Without idle cycles, the cycle that only arms the move would run nothing (no timer falls due within
            # the clock's resolution, nothing is ready): the move happens now, as it would on the next cycle.
        if self._idle < self.idle_cycles:
            self._idle += 1
            return events
        self._armed = False
        step = round(timeout * _TICKS_PER_S)
        if timeout < 1 / _TICKS_PER_S:  # a timeout under one tick still moves the clock by one, or the loop spins
            step += 1
        self._ticks += step
        return events
