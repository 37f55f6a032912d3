"""A child process the test talks to (an example integration): started, read line by line, stopped by pid.

async with running_process([sys.executable, "service.py"], ready="listening on ", name="service") as proc:
    await proc.wait_for_line("invoiced")
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from harness.drive.embedded import stop_process

__all__ = ["Running", "running_process"]


@dataclass
class Running:
    """A running process: its ready line (stripped) and every line it printed so far."""

    ready: str
    lines: list[str] = field(default_factory=list)
    _printed: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for_line(self, text: str, *, timeout_s: float = 10.0) -> str:
        async def seen() -> str:
            while True:
                found = next((line for line in self.lines if text in line), None)
                if found is not None:
                    return found
                self._printed.clear()
                await self._printed.wait()

        return await asyncio.wait_for(seen(), timeout_s)


@asynccontextmanager
async def running_process(argv: Sequence[str], *, ready: str, name: str) -> AsyncIterator[Running]:
    """Start `argv`; yield once it printed a line starting with `ready`; stop it (by pid) on exit."""
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    assert proc.stdout is not None
    stdout = proc.stdout
    reader: asyncio.Task[None] | None = None
    try:
        before: list[str] = []
        while True:
            line = (await asyncio.wait_for(stdout.readline(), 30)).decode()
            if not line:
                raise AssertionError(f"{name} exited before it was ready: {''.join(before)}")
            before.append(line)
            if line.startswith(ready):
                break
        running = Running(ready=line.strip(), lines=before)

        async def drain() -> None:  # keep reading: a full pipe would block the process's logging
            while line := await stdout.readline():
                running.lines.append(line.decode())
                running._printed.set()

        reader = asyncio.create_task(drain())
        yield running
    finally:
        await stop_process(proc)
        if reader is not None:
            await asyncio.wait_for(reader, 10)  # EOF once the process is gone
