"""Servers in child processes: the embedded simulator (`racelab serve` on an ephemeral loopback port) and, for the
bench, any server that announces itself with a line on stdout; and which core each process runs on.

Why the embedded simulator is a child process and not in the harness's own event loop: the simulator's work then
runs on the other core instead of delaying the firing loop. Measured on a 1,000-run sweep (2 cores): send skew p99
0.55 ms with the simulator in a child process, 12-13 ms with it in-process. Virtual mode (a virtual clock) needs one
process and is the exception (`harness.virtual`).

Owns `open_process_server()` (start, wait until ready, stop; the one mechanism), `stop_process()` (how a child is
stopped, here and wherever racelab starts one), `open_embedded()` (the simulator on it, on a core of its own),
`simulator_argv()`, the affinity helpers `cores()`, `set_affinity()`, `pinned()`, and `on_signals()` (what every
long command does on SIGINT and SIGTERM while it runs).
Imports: stdlib and `harness.errors` (no `simulator`: the child imports it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, InvalidScenario

__all__ = [
    "cores",
    "kill_children",
    "on_signals",
    "open_embedded",
    "open_process_server",
    "pinned",
    "set_affinity",
    "simulator_argv",
    "stop_process",
]

_READY = b"racelab simulator listening on "


def cores() -> list[int]:
    """The cores this process may run on (one entry per core; `[0]` where the platform cannot say)."""
    getter = getattr(os, "sched_getaffinity", None)
    return sorted(getter(0)) if getter is not None else [0]


def set_affinity(pid: int, cpus: Iterable[int]) -> bool:
    """Pin `pid` (0: this process) to `cpus`; False where the platform cannot pin."""
    setter = getattr(os, "sched_setaffinity", None)
    if setter is None:
        return False
    try:
        setter(pid, set(cpus))
    except OSError:
        return False
    return True


@contextlib.contextmanager
def pinned(cpus: Sequence[int] | None) -> Any:
    """Run this process on `cpus` for the block (nothing when None), then restore its affinity."""
    before = cores()
    if cpus:
        set_affinity(0, cpus)
    try:
        yield
    finally:
        if cpus:
            set_affinity(0, before)


def simulator_argv(profile: str, overrides: Mapping[str, Any] | None = None, *, no_gc: bool = False) -> list[str]:
    """`racelab serve` on an ephemeral loopback port, as a command line for this interpreter (`no_gc`: the server
    never pauses for the garbage collector; for a simulator that lives as long as one sweep)."""
    argv = [sys.executable, "-m", "harness.cli", "serve", "--host", "127.0.0.1", "--port", "0", "--profile", profile]
    if no_gc:
        argv.append("--no-gc")
    if overrides:
        argv += ["--overrides", json.dumps(overrides)]
    return argv


@asynccontextmanager
async def open_process_server(
    argv: Sequence[str],
    *,
    ready: bytes,
    cpus: Sequence[int] | None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    name: str | None = None,
) -> AsyncIterator[str]:
    """Start a server process, pin it to `cpus`, wait for the line that starts with `ready` and yield what follows
    on that line (its URL). The process is terminated on exit.

    Raises:
        InvalidScenario: the child exited 2 (it refused its configuration, e.g. an unknown profile).
        HarnessError: the child exited or said something else before it was ready.
    """
    # stderr goes to a file, not a pipe: a server that logs a lot must never block on a pipe nobody reads.
    with tempfile.TemporaryFile() as errors:
        # A session of its own: Ctrl-C in a terminal signals racelab, which lets the runs in flight finish against
        # the child before it stops it (the child would otherwise get the SIGINT too and die under them).
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
        _LIVE.add(proc)
        try:
            yield await _ready(proc, ready, errors, name or " ".join(argv[2:4]) or argv[0], cpus)
        finally:
            try:
                await stop_process(proc)
            finally:
                _LIVE.discard(proc)


_LIVE: set[asyncio.subprocess.Process] = set()
"""The children started here that still run: what `kill_children` kills when racelab must exit at once."""


def kill_children() -> None:
    """SIGKILL every child started here that still runs (a second Ctrl-C: racelab exits at once, and must not leave a
    simulator behind)."""
    for proc in list(_LIVE):
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()


async def stop_process(proc: asyncio.subprocess.Process, *, grace_s: float = 10.0) -> None:
    """Stop a child that may still run: SIGTERM, `grace_s` seconds to exit (a server finishing its answers, locust
    writing its reports), then SIGKILL. Returns once it is gone; at once if it has exited already."""
    if proc.returncode is not None:
        return
    proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), grace_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()


async def _ready(
    proc: asyncio.subprocess.Process, ready: bytes, errors: Any, name: str, cpus: Sequence[int] | None
) -> str:
    assert proc.stdout is not None
    if cpus:
        set_affinity(proc.pid, cpus)
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    if not line.startswith(ready):
        await proc.wait()
        errors.seek(0)
        err = errors.read().decode(errors="replace").strip().removeprefix("racelab: ")
        if proc.returncode == 2:
            raise InvalidScenario(err)
        raise HarnessError(f"{name} did not start (exit {proc.returncode}): {err or line.decode(errors='replace')}")
    return line[len(ready) :].decode().strip()


@asynccontextmanager
async def open_embedded(
    profile: str, *, overrides: Mapping[str, Any] | None = None, no_gc: bool = False
) -> AsyncIterator[str]:
    """Start the simulator with `profile` and `overrides`; yield its base URL; stop it on exit. `no_gc` for a
    bounded sweep: the simulator never pauses to collect (not for a load test's soak, whose memory must not grow).

    The simulator gets the last core and the harness the others, so neither steals the other's time slices
    (measured on the 1,000-run sweep: skew p99 3.6-9.7 ms floating, 0.5-0.9 ms pinned); with one core, nothing is
    pinned.

    Raises:
        InvalidScenario: the profile or the overrides do not validate (the child exits 2 and says why).
        HarnessError: the child could not start.
    """
    mine = cores()
    simulator, harness = ([mine[-1]], mine[:-1]) if len(mine) > 1 else (None, None)
    async with open_process_server(
        simulator_argv(profile, overrides, no_gc=no_gc), ready=_READY, cpus=simulator, name="the embedded simulator"
    ) as url:
        with pinned(harness):
            yield url


@contextmanager
def on_signals(on_signal: Callable[[str], None]) -> Iterator[None]:
    """`on_signal(name)` on SIGINT and SIGTERM while the block runs (in the running event loop; where a handler
    cannot be installed, off the main thread or on another platform, the default stays)."""
    loop = asyncio.get_running_loop()
    installed = []
    for name in ("SIGINT", "SIGTERM"):
        signum = getattr(signal, name)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, on_signal, name)
            installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
