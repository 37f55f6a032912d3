"""A `racelab` command run as a user runs it, then signalled for real: a process group of its own, its output in
files the test polls, the processes it started, and a check that none of them outlives it.

    command = Command.start(["load", "race", "--out", tmp_path], cwd=ROOT, logs=tmp_path)
    wait_until(lambda: "users" in command.stdout(), what="locust running", timeout_s=60)
    children = command.descendants()
    command.signal(signal.SIGINT)
    assert command.wait(timeout_s=60) == 130
    assert still_running(children) == set()

Waits poll a condition against a deadline (never a fixed sleep); a command that outlives its deadline has its group
killed and the test fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

__all__ = ["Command", "still_running", "wait_until"]

T = TypeVar("T")

_POLL_S = 0.02


def wait_until(check: Callable[[], T | None], *, what: str, timeout_s: float) -> T:
    """Poll `check` until it returns something truthy, and return that; fail the test at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout_s:g} s for {what}")
        time.sleep(_POLL_S)


def _alive(pid: int) -> bool:
    """A process that runs (a zombie, waiting for whoever adopted it to reap it, does not)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status.rsplit(")", 1)[-1].split()[0] != "Z"


def still_running(pids: set[int], *, timeout_s: float = 10.0) -> set[int]:
    """Those of `pids` still running once `timeout_s` has passed (an empty set as soon as all are gone)."""
    deadline = time.monotonic() + timeout_s
    while (alive := {p for p in pids if _alive(p)}) and time.monotonic() < deadline:
        time.sleep(_POLL_S)
    return alive


@dataclass
class Command:
    """`python -m harness.cli ARGS` in a session of its own, stdout and stderr in files under `logs`."""

    proc: subprocess.Popen[bytes]
    out: Path
    err: Path

    @classmethod
    def start(cls, args: Sequence[str | Path], *, cwd: Path, logs: Path, env: dict[str, str] | None = None) -> Command:
        logs.mkdir(parents=True, exist_ok=True)
        out, err = logs / "stdout.txt", logs / "stderr.txt"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "harness.cli", *map(str, args)],
                cwd=cwd,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
                env={**os.environ, "COLUMNS": "200", **(env or {})},
            )
        return cls(proc, out, err)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def output(self) -> str:
        return self.stdout() + self.stderr()

    def signal(self, signum: signal.Signals) -> None:
        """Send `signum` to the command's process alone (as `kill PID` does; a terminal's Ctrl-C would signal its
        whole foreground group)."""
        os.kill(self.pid, signum)

    def descendants(self) -> set[int]:
        """Every process the command started that still runs, and theirs (from /proc's children lists)."""
        found: set[int] = set()
        todo = [self.pid]
        while todo:
            pid = todo.pop()
            for task in Path(f"/proc/{pid}/task").glob("*"):
                with contextlib.suppress(OSError):
                    for child in map(int, (task / "children").read_text().split()):
                        if child not in found:
                            found.add(child)
                            todo.append(child)
        return found

    def wait(self, *, timeout_s: float) -> int:
        """The exit code; at the deadline the command's group is killed and the test fails."""
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the command did not exit within {timeout_s:g} s:\n{self.output()[-3000:]}") from None

    def kill(self, children: Collection[int] = ()) -> None:
        """Make sure the command and `children` are gone (the test's clean-up, whatever happened)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        for pid in children:
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
