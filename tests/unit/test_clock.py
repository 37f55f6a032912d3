"""`harness.clock.VirtualClockLoop`: asyncio on a virtual clock that moves only when nothing is ready.

Its instants must be looptime's (virtual mode ran on looptime before; recorded results must replay), so a property
test runs the same timer workload on both clocks and compares what happened when."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Coroutine
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.virtual.clock import VirtualClockLoop


def _run(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any]) -> Any:
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def test_time_starts_at_zero_and_a_long_sleep_costs_no_real_time() -> None:
    loop = VirtualClockLoop()
    assert loop.time() == 0.0
    started = time.perf_counter()
    _ = loop.run_until_complete(asyncio.sleep(3600))
    assert loop.time() == 3600.0
    assert time.perf_counter() - started < 5  # an hour of virtual time; a generous bound for a busy machine
    loop.close()


def test_timers_fire_in_order_at_their_instants() -> None:
    fired: list[tuple[str, float]] = []

    async def after(name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        fired.append((name, asyncio.get_running_loop().time()))

    async def main() -> None:
        await asyncio.gather(after("c", 0.3), after("a", 0.1), after("b", 0.2), after("a2", 0.1))

    _run(VirtualClockLoop(), main())
    assert fired == [("a", 0.1), ("a2", 0.1), ("b", 0.2), ("c", 0.3)]


def test_a_timeout_fires_at_its_virtual_instant() -> None:
    async def main() -> float:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), timeout=2.5)
        return asyncio.get_running_loop().time()

    assert _run(VirtualClockLoop(), main()) == 2.5


def test_time_stands_still_while_a_thread_works() -> None:
    async def main() -> tuple[str, float]:
        loop = asyncio.get_running_loop()
        result = await asyncio.wait_for(loop.run_in_executor(None, _slow, "done"), timeout=1.0)
        return result, loop.time()

    result, now = _run(VirtualClockLoop(), main())
    assert result == "done"  # the 1 s virtual timeout did not fire during 0.05 s of real work
    assert now < 1.0


def _slow(value: str) -> str:
    time.sleep(0.05)
    return value


def test_idle_cycles_give_input_from_outside_that_many_chances_before_the_clock_moves() -> None:
    cycles = {idle: _cycles(idle) for idle in (0, 3)}
    # With idle cycles, one cycle arms the move, `idle_cycles` more wait for input, the next one moves; without,
    # the clock moves on the first cycle with nothing to do.
    assert cycles[3] - cycles[0] == 3 + 1


def _cycles(idle_cycles: int) -> int:
    """How many times a loop with `idle_cycles` asks its selector for events to sleep 1 s."""
    loop = VirtualClockLoop(idle_cycles=idle_cycles)
    timeouts: list[float | None] = []
    select = loop._selector.select  # type: ignore[attr-defined]

    def counting(timeout: float | None = None) -> list[Any]:
        timeouts.append(timeout)
        return select(timeout)  # type: ignore[no-any-return]

    loop._selector.select = counting  # type: ignore[attr-defined]
    _run(loop, _one_sleep())
    assert loop.time() == 1.0
    return len(timeouts)


def test_no_system_call_while_only_the_loops_own_pipe_is_registered() -> None:
    loop = VirtualClockLoop(idle_cycles=2)
    polls: list[float | None] = []
    poll = loop._poll

    def counting(timeout: float | None) -> list[Any]:
        polls.append(timeout)
        return poll(timeout)

    loop._poll = counting
    reader, writer = socket.socketpair()
    try:
        loop.run_until_complete(_one_sleep())
        assert polls == []
        # Once a socket is registered, every cycle polls: its input may come from outside the process.
        loop.add_reader(reader.fileno(), lambda: None)
        loop.run_until_complete(_one_sleep())
        loop.remove_reader(reader.fileno())
    finally:
        loop.close()
        reader.close()
        writer.close()
    assert polls
    assert all(timeout == 0 for timeout in polls)
    assert loop.time() == 2.0


async def _one_sleep() -> None:
    await asyncio.sleep(1.0)


def test_rewind_only_on_a_quiet_loop() -> None:
    loop = VirtualClockLoop()
    loop.run_until_complete(asyncio.sleep(5))
    loop.rewind()
    assert loop.time() == 0.0
    handle = loop.call_later(1, lambda: None)
    with pytest.raises(RuntimeError, match="quiet"):
        loop.rewind()
    handle.cancel()
    loop.run_until_complete(asyncio.sleep(0))  # the loop cycles past the cancelled timer
    loop.rewind()
    loop.close()


# Delays as virtual mode meets them: whole milliseconds (explore pins them), fractions with float residue (drawn
# from distributions), zeros, and sums that land on the same instant from different paths.
_DELAYS = st.one_of(
    st.integers(0, 2000).map(lambda ms: ms / 1000),
    st.floats(0, 3, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.1, 0.2, 0.3, 0.05, 1e-7, 1e-9, 0.0]),
)


@pytest.mark.parametrize("idle_cycles", [0, 5])
@settings(max_examples=150, deadline=None)
@given(chains=st.lists(st.lists(_DELAYS, min_size=1, max_size=6), min_size=1, max_size=8))
def test_the_instants_are_looptimes(idle_cycles: int, chains: list[list[float]]) -> None:
    """Tasks each sleep through a chain of delays and note when they woke, in what order: both clocks agree
    (hypothesis found, before the clock armed its moves as looptime does, a chain of two sleeps of 9e-62 s that
    woke 1 µs apart on looptime's clock and at the same instant on this one)."""
    import looptime

    def trace(loop: asyncio.AbstractEventLoop) -> list[tuple[int, int, float]]:
        woke: list[tuple[int, int, float]] = []

        async def chain(i: int, delays: list[float]) -> None:
            for j, delay in enumerate(delays):
                await asyncio.sleep(delay)
                woke.append((i, j, asyncio.get_running_loop().time()))

        async def main() -> None:
            await asyncio.gather(*(chain(i, c) for i, c in enumerate(chains)))

        _run(loop, main())
        return woke

    theirs = looptime.make_event_loop_class(asyncio.SelectorEventLoop)(start=0.0, noop_cycles=idle_cycles)
    assert trace(VirtualClockLoop(idle_cycles=idle_cycles)) == trace(theirs)
