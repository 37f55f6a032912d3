"""Helpers for the load tests: the simulator and locust as real processes, bounded in time, leaving nothing behind.

Locust (gevent) is never imported here: it monkey-patches the process it runs in. Every locust run is a subprocess in
a process group of its own, killed as a group when a test ends or times out; `run_bounded` also checks that the group
is gone once its leader exited (no simulator or worker left behind).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
FAST_SCENARIO = HERE / "fast-race.yaml"
"""The `fixed` profile with the invoice verification shortened: a run settles in ~0.3 s, naive always
over-invoices (failure A), the workaround and robust never."""
FAST_OVERRIDES = {"orders": {"workflow": {"after_invoice": 150}}}
READY = "racelab simulator listening on "


@dataclass(frozen=True)
class Done:
    code: int
    out: str
    err: str


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a recycled id owned by someone else: not ours
        return False
    return True


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def run_bounded(argv: Sequence[str], *, timeout: float, cwd: Path = ROOT) -> Done:
    """Run `argv` in a process group of its own; kill the group if it outlives `timeout` (the test fails then).
    After the leader exits, its whole group must be gone within a few seconds."""
    proc = subprocess.Popen(
        list(argv), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(argv[:6])} ... did not end within {timeout} s\n{err[-3000:]}")
    finally:
        survivors = _wait_group_gone(proc.pid, seconds=5.0)
        _kill_group(proc.pid)
    assert not survivors, f"{' '.join(argv[:6])} ... left processes behind in its group"
    return Done(proc.returncode, out, err)


def _wait_group_gone(pgid: int, *, seconds: float) -> bool:
    """Poll until the group is empty (True: someone is still there at the deadline)."""
    deadline = time.monotonic() + seconds
    while _group_alive(pgid):
        if time.monotonic() > deadline:
            return True
        time.sleep(0.05)
    return False


@dataclass
class Background:
    """A process group started for a test (a simulator, a locust worker); `stop()` ends it for sure."""

    proc: subprocess.Popen[str]

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        _kill_group(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"{self.proc.args!r} did not end within {timeout} s")


def start(argv: Sequence[str], *, log: Path | None = None) -> Background:
    out = log.open("w") if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen(
        list(argv), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    if log is not None:
        out.close()  # type: ignore[union-attr]
    return Background(proc)


@pytest.fixture(scope="session")
def simulator() -> Iterator[str]:
    """`racelab serve` (fixed profile, short invoice verification) on a free loopback port; its base URL."""
    argv = [
        sys.executable,
        "-m",
        "harness.cli",
        "serve",
        "--port",
        "0",
        "--profile",
        "fixed",
        "--overrides",
        json.dumps(FAST_OVERRIDES),
    ]
    proc = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    background = Background(proc)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the server prints this line once it listens (or exits and closes stdout)
        assert line.startswith(READY), (
            f"the simulator did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        )
        yield line[len(READY) :].strip()
    finally:
        background.stop()
