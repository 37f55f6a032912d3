"""`harness.embedded.stop_process`: how racelab stops a child it started (servers, locust, the tests' examples).

Real child processes; each says `ready` once its signal handling is set, and the test waits for that line (a
condition), never for time to pass.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from harness.drive.embedded import stop_process

_CHILD = """
import signal, sys, time
if sys.argv[1] == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(120)
"""


async def _started(mode: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", _CHILD, mode, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"ready\n"
    return proc


async def test_a_child_that_exits_on_sigterm_is_terminated() -> None:
    proc = await _started("obey")
    await stop_process(proc)
    assert proc.returncode == -signal.SIGTERM


async def test_a_child_that_ignores_sigterm_is_killed_after_its_grace() -> None:
    proc = await _started("ignore")
    await stop_process(proc, grace_s=0.2)
    assert proc.returncode == -signal.SIGKILL


async def test_a_child_that_has_exited_is_left_alone() -> None:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "raise SystemExit(3)")
    await proc.wait()
    await stop_process(proc)
    assert proc.returncode == 3
