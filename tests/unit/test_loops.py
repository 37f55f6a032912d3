"""The event loop of real time (`harness.drive.loops`): which loop `RACELAB_LOOP` chooses, and that the uvloop one
keeps the standard loop's clock and timers (a `time()` finer than a millisecond, on `time.monotonic()`; no timer
fires before its time), which the runner's firing and its send-skew figures rest on."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import time
from collections.abc import Callable, Iterator

import pytest

from harness.drive import loops
from harness.errors import UsageError

HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None


async def _loop_kind() -> str:
    loop = asyncio.get_running_loop()
    return "uvloop" if any(c.__module__.startswith("uvloop") for c in type(loop).__mro__) else "asyncio"


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(loops.LOOP_ENV, raising=False)


@pytest.mark.usefixtures("no_env")
def test_unset_means_uvloop_where_installed() -> None:
    assert loops.loop_name() == ("uvloop" if HAS_UVLOOP else "asyncio")
    assert loops.run(_loop_kind()) == loops.loop_name()


@pytest.mark.parametrize(("value", "name"), [("asyncio", "asyncio"), ("ASYNCIO ", "asyncio"), ("", None)])
def test_the_variable_chooses(value: str, name: str | None) -> None:
    expected = name or ("uvloop" if HAS_UVLOOP else "asyncio")
    assert loops.loop_name({loops.LOOP_ENV: value}) == expected


def test_the_variable_is_read_when_running(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(loops.LOOP_ENV, "asyncio")
    assert loops.run(_loop_kind()) == "asyncio"


@pytest.mark.skipif(not HAS_UVLOOP, reason="uvloop is a dependency on CPython outside Windows; this one has none")
def test_uvloop_is_chosen_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(loops.LOOP_ENV, "uvloop")
    assert loops.run(_loop_kind()) == "uvloop"


@pytest.mark.usefixtures("no_env")
def test_virtual_time_keeps_the_standard_loop() -> None:
    assert loops.run(_loop_kind(), real_time=False) == "asyncio"
    loop = loops.new_event_loop(real_time=False)
    try:
        assert isinstance(loop, asyncio.BaseEventLoop)
    finally:
        loop.close()


def test_a_loop_that_is_not_one_is_a_usage_error_that_says_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(loops.LOOP_ENV, "trio")
    with pytest.raises(UsageError, match=r"RACELAB_LOOP='trio' is no event loop: set it to uvloop or asyncio"):
        loops.loop_name()
    coro = _loop_kind()
    with pytest.raises(UsageError):
        loops.run(coro)
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED  # closed, not left to warn "never awaited"


def test_uvloop_asked_for_but_missing_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loops, "_uvloop_class", lambda: None)
    assert loops.loop_name({}) == "asyncio"  # unset: the standard loop, quietly
    with pytest.raises(UsageError, match="pip install uvloop"):
        loops.loop_name({loops.LOOP_ENV: "uvloop"})


LOOPS = ["asyncio", pytest.param("uvloop", marks=pytest.mark.skipif(not HAS_UVLOOP, reason="uvloop not installed"))]


@pytest.fixture(params=LOOPS)
def loop(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[asyncio.AbstractEventLoop]:
    monkeypatch.setenv(loops.LOOP_ENV, request.param)
    made = loops.new_event_loop()
    try:
        yield made
    finally:
        made.close()


def test_the_clock_is_the_monotonic_clock_finer_than_a_millisecond(loop: asyncio.AbstractEventLoop) -> None:
    before = time.monotonic()
    seen = {loop.time()}
    deadline = before + 0.005
    while time.monotonic() < deadline:  # a busy spin of 5 ms: many readings, never a sleep
        seen.add(loop.time())
    after = time.monotonic()
    assert before <= min(seen) <= max(seen) <= after
    steps = [b - a for a, b in zip(sorted(seen), sorted(seen)[1:], strict=False)]
    assert steps, "the clock did not move in 5 ms"
    assert min(steps) < 0.0001, f"the loop's clock moves in steps of {min(steps) * 1000:.3f} ms"


DELAYS_S = [0.0002, 0.0007, 0.001, 0.0013, 0.0031, 0.0049]
"""Below, at and between libuv's whole milliseconds, where rounding would fire a timer early."""


@pytest.mark.parametrize("how", ["call_later", "call_at", "sleep"])
def test_no_timer_fires_before_its_time(loop: asyncio.AbstractEventLoop, how: str) -> None:
    async def early_by() -> list[float]:
        found = []
        for delay in DELAYS_S * 5:
            fired: asyncio.Future[float] = loop.create_future()
            stamp: Callable[[], None] = lambda f=fired: f.set_result(time.monotonic())  # noqa: E731
            start = time.monotonic()
            if how == "call_later":
                loop.call_later(delay, stamp)
                at = await fired
            elif how == "call_at":
                start = loop.time()
                loop.call_at(start + delay, stamp)
                at = await fired
            else:
                await asyncio.sleep(delay)  # the timer under test, not a wait for something
                at = time.monotonic()
            found.append(start + delay - at)
        return found

    early = [e for e in loop.run_until_complete(early_by()) if e > 0]
    assert not early, f"{len(early)} timers fired early, by up to {max(early) * 1000:.3f} ms"
