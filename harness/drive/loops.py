"""The event loop of real time: uvloop where it is installed, the standard library's otherwise.

Owns `run()`, what `racelab run` (real time) and `racelab serve` run their main coroutine with, and
`new_event_loop()`, `loop_name()`, `LOOP_ENV`. Virtual mode keeps its own loop (`harness.virtual`'s virtual clock):
`run(main, real_time=False)` is `asyncio.run(main)`.

uvloop keeps two things coarser than the standard loop, and the loop made here puts them back as the standard loop
has them, because the runner's firing and its figures rest on them:

- `loop.time()`: libuv's clock counts whole milliseconds, and the runner fires steps and measures send skew on the
  loop's clock to hundredths of a millisecond; the simulator stamps its journal with it. Here it is
  `time.monotonic()`, the standard loop's clock (the one the harness and the simulator share).
- timers: libuv rounds a delay to whole milliseconds counted from its last whole millisecond, so a timer could fire
  up to 1.5 ms before it was due, and a delay under half a millisecond at once. Here a timer never fires before
  `time.monotonic()` reaches its time (the delay is rounded up to libuv's next millisecond), as on the standard loop.

`RACELAB_LOOP` chooses: `uvloop`, `asyncio`, or unset (empty) for uvloop where it is installed. It is for measuring
one against the other (`benchmarks/uvloop.py`); the embedded simulator, a child process, inherits it.

Imports: stdlib, `uvloop` (optional), `harness.errors`.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import math
import os
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Literal, TypeVar, TypeVarTuple

from harness.errors import UsageError

__all__ = ["LOOP_ENV", "LoopName", "loop_name", "new_event_loop", "run"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")
LoopName = Literal["uvloop", "asyncio"]

LOOP_ENV = "RACELAB_LOOP"
"""The environment variable that chooses the loop of real time: `uvloop`, `asyncio`, or unset (uvloop if installed)."""


def loop_name(environ: Mapping[str, str] | None = None) -> LoopName:
    """Which loop real time runs on, as `RACELAB_LOOP` in `environ` (default: this process's) says.

    Raises:
        UsageError: `RACELAB_LOOP` names no loop, or names uvloop where it is not installed.
    """
    env = os.environ if environ is None else environ
    wanted = env.get(LOOP_ENV, "").strip().lower()
    if wanted == "asyncio":
        return "asyncio"
    if wanted not in ("", "uvloop"):
        raise UsageError(
            f"{LOOP_ENV}={env[LOOP_ENV]!r} is no event loop: set it to uvloop or asyncio, or unset it (uvloop "
            "where it is installed)"
        )
    if _uvloop_class() is None:
        if wanted == "uvloop":
            raise UsageError(
                f"{LOOP_ENV}=uvloop, but uvloop is not installed here: pip install uvloop (or unset {LOOP_ENV})"
            )
        return "asyncio"
    return "uvloop"


def new_event_loop(*, real_time: bool = True) -> asyncio.AbstractEventLoop:
    """A new event loop: the one `loop_name()` says for real time, the standard one otherwise.

        loop = new_event_loop()
        loop.run_until_complete(main())

    Raises:
        UsageError: as `loop_name()`.
    """
    if real_time and loop_name() == "uvloop":
        cls = _uvloop_class()
        assert cls is not None  # loop_name() said uvloop
        return cls()
    return asyncio.new_event_loop()


def run(main: Coroutine[Any, Any, T], *, real_time: bool = True, debug: bool | None = None) -> T:
    """Run `main` to its end on a new loop, as `asyncio.run` does (Ctrl-C cancels it), and close the loop.

        exit_code = run(serve(args))

    `real_time=False` (virtual mode, whose clock is its own) and `RACELAB_LOOP=asyncio` are `asyncio.run(main)`.

    Raises:
        UsageError: as `loop_name()` (then `main` is closed, never started).
    """
    try:
        name = loop_name() if real_time else "asyncio"
    except UsageError:
        main.close()  # never awaited: closed, so that it does not warn
        raise
    if name == "asyncio":
        return asyncio.run(main, debug=debug)
    with asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
        return runner.run(main)


@functools.cache
def _uvloop_class() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop with the standard loop's clock and timers (module doc); None where uvloop is not installed."""
    try:
        import uvloop
    except ImportError:
        return None

    class MonotonicLoop(uvloop.Loop):
        """uvloop, whose `time()` is `time.monotonic()` and whose timers never fire before it reaches their time."""

        def time(self) -> float:
            return time.monotonic()

        def call_later(
            self,
            delay: float,
            callback: Callable[[*Ts], object],
            *args: *Ts,
            context: contextvars.Context | None = None,
        ) -> asyncio.TimerHandle:
            # `call_at` (and so asyncio.sleep, wait_for, timeouts) comes here with `when - self.time()`.
            if delay > 0:
                # libuv makes the timer due at its clock (whole ms, never ahead of the monotonic clock) plus the
                # delay in whole ms: ask for enough whole ms that it is due no earlier than now + delay.
                libuv_now = super().time()  # brings libuv's clock up to date, as starting the timer does again
                due = time.monotonic() + delay
                delay = math.ceil((due - libuv_now) * 1000.0 - 1e-6) / 1000.0
            return super().call_later(delay, callback, *args, context=context)

    return MonotonicLoop
