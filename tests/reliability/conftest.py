"""Fixtures shared by the reliability tests: a trap for what must never happen quietly.

`trap` gathers, during one test, every log record at WARNING or above (the simulator logs a failed background
task at ERROR; aiohttp logs a handler that crashed) and every exception that reached the event loop's handler (a
task that died with nobody awaiting it). A reliability test ends by asserting the trap stayed empty.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class Trap:
    """What went wrong behind the test's back."""

    caplog: pytest.LogCaptureFixture
    loop_errors: list[dict[str, Any]] = field(default_factory=list)

    def problems(self) -> list[str]:
        """One line per WARNING+ log record and per unhandled loop exception; empty when all was quiet."""
        logged = [
            f"{r.levelname} {r.name}: {r.getMessage()}" for r in self.caplog.records if r.levelno >= logging.WARNING
        ]
        unhandled = [f"{c.get('message')}: {c.get('exception')!r}" for c in self.loop_errors]
        return logged + unhandled


@pytest.fixture
async def trap(caplog: pytest.LogCaptureFixture) -> AsyncIterator[Trap]:
    """Capture WARNING+ logs from every logger, and the test's event loop's unhandled exceptions."""
    caplog.set_level(logging.WARNING)
    found = Trap(caplog)
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: found.loop_errors.append(context))
    try:
        yield found
    finally:
        loop.set_exception_handler(previous)
