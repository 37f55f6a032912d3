"""What every measure of `racelab bench` shares: the plan (how much each measure does), the result row, child
processes (a simulator, a bare server, a load client, `racelab run`), which core each of them gets, and the
interruption (the first SIGINT or SIGTERM aborts the measure under way; a second one exits at once).

Imports: stdlib, `harness.judge.stats` (pure) and `harness.drive.embedded` (child processes, cores). Never
`simulator`: every simulator the bench talks to is a child process (`python -m harness.cli serve`), so the bench
measures what a user's process would see.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

from harness.drive.embedded import cores, kill_children, open_process_server, pinned, set_affinity, simulator_argv
from harness.judge.stats import percentile

__all__ = [
    "OFFSETS_MS",
    "Aborted",
    "Interrupt",
    "Plan",
    "Row",
    "Target",
    "child_env",
    "cores",
    "open_process_server",
    "pinned",
    "quantiles",
    "run_child",
    "set_affinity",
    "simulator_argv",
    "start_child",
    "stop_child",
]

T = TypeVar("T")

TIMES = "\u00d7"
OFFSETS_MS = (50, 1000, 50)
"""The sweep of DESIGN §5: Change offsets from 50 to 1000 ms in steps of 50 ms (20 points)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """How much each measure does. `Plan.full()` and `Plan.quick()` are what the command offers; a test shrinks it.

    plan = Plan.quick()
    plan = dataclasses.replace(Plan.quick(), precision_requests=50)
    """

    throughput_seconds: int
    """Seconds per load-client run (wrk takes whole seconds)."""
    throughput_rounds: int
    """Rounds of (bare, simulator) per route; the figure is the median of each side."""
    throughput_connections: int
    throughput_orders: int
    """Orders the POST invoice load spreads over (each invoice adds a package to its order)."""
    precision_requests: int
    """Requests in flight together (closed loop: each worker sends its next request once it has an answer)."""
    precision_seconds: float
    """How long the requests after the warm-up are counted."""
    sweep_runs_per_offset: int
    """Runs per offset of the 20-point sweep (50 gives the 1,000-run sweep of DESIGN §5)."""
    virtual_runs_per_offset: int
    virtual_profile: str
    """The profile of the virtual-vs-real sweep (`default-x10`; the quick plan uses `default` to stay short)."""
    repro_rounds: int
    """How many times each time-to-first-reproduction command is timed (the median is reported)."""
    scale_runs: tuple[int, ...] = (500, 5000, 20_000)
    """The real-time sweeps whose send skew and wall time are measured (multiples of 20: the sweep's offsets)."""
    rss_runs: tuple[int, int] = (1000, 20_000)
    """The two sweeps whose peak RSS (of the `racelab run` process) are compared, small then large."""
    resume_runs_per_offset: int = 100
    """Runs per offset of the virtual sweep that is interrupted and resumed (100: 2,000 runs)."""
    precision_min_ms: float = 50.0
    precision_max_ms: float = 1000.0
    seed: int = 1

    @classmethod
    def full(cls) -> Plan:
        return cls(
            throughput_seconds=5,
            throughput_rounds=5,
            throughput_connections=50,
            throughput_orders=20_000,
            precision_requests=1000,
            precision_seconds=8.0,
            sweep_runs_per_offset=50,
            virtual_runs_per_offset=50,
            virtual_profile="default-x10",
            repro_rounds=3,
        )

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            throughput_seconds=2,
            throughput_rounds=2,
            throughput_connections=50,
            throughput_orders=4000,
            precision_requests=1000,
            precision_seconds=3.0,
            sweep_runs_per_offset=50,
            virtual_runs_per_offset=5,
            virtual_profile="default",
            repro_rounds=1,
            scale_runs=(500, 2000),
            rss_runs=(500, 2000),
            resume_runs_per_offset=50,
        )

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class Target:
    """A bound a figure must meet: `Target(">=", 0.8, "ratio")` reads "≥ 0.80x" (with a multiplication sign)."""

    op: Literal[">=", "<="]
    value: float
    unit: str

    def met(self, figure: float) -> bool:
        return figure >= self.value if self.op == ">=" else figure <= self.value

    def __str__(self) -> str:
        sign = "≥" if self.op == ">=" else "≤"
        return f"{sign} {_number(self.value, self.unit)}"


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: a measure, its figure against its target, and what it was measured on.

    `passed` is None when the figure could not be measured (`note` says why); a row without a target is context.
    """

    key: str
    measure: str
    figure: float | None
    unit: str
    target: Target | None = None
    note: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    error: bool = False
    """True when the measure itself failed (as opposed to a feature that is not available)."""
    missed: bool = False
    """True when the target is missed whatever the figure says (e.g. a failure that did not reproduce)."""
    interrupted: bool = False
    """True when the bench was interrupted before this row was measured."""

    @property
    def passed(self) -> bool | None:
        if self.missed:
            return False
        if self.figure is None or self.target is None:
            return None
        return self.target.met(self.figure)

    @property
    def shown(self) -> str:
        return "—" if self.figure is None else _number(self.figure, self.unit)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "measure": self.measure,
            "figure": self.figure,
            "unit": self.unit,
            "target": None
            if self.target is None
            else {"op": self.target.op, "value": self.target.value, "unit": self.target.unit, "text": str(self.target)},
            "passed": self.passed,
            "note": self.note,
            "error": self.error,
            "details": dict(self.details),
        } | ({"interrupted": True} if self.interrupted else {})


def _number(value: float, unit: str) -> str:
    if unit == "ratio":
        return f"{value:.2f}{TIMES}"
    if unit == "ms":
        return f"{value:.2f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "runs":
        return f"{value:.0f} runs"
    return f"{value:g}{unit}"


def quantiles(values: Iterable[float]) -> dict[str, float | int | None]:
    """count, mean, p50, p99 and max of a sample (None for an empty one)."""
    sample = list(values)
    return {
        "count": len(sample),
        "mean": sum(sample) / len(sample) if sample else None,
        "p50": percentile(sample, 50),
        "p99": percentile(sample, 99),
        "max": max(sample, default=None),
    }


# -- child processes -----------------------------------------------------------------------------------------------


def child_env(source: Path | None = None) -> dict[str, str]:
    """The environment of a child: ours, with `source` (another checkout's root) first on the import path."""
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(source), env.get("PYTHONPATH", "")) if p)
    return env


# -- interruption ---------------------------------------------------------------------------------------------------


class Aborted(Exception):
    """A measure was aborted by the first SIGINT or SIGTERM (`signal`), under way (`started`) or before it began."""

    def __init__(self, signal: str, *, started: bool) -> None:
        super().__init__(signal)
        self.signal = signal
        self.started = started


class Interrupt:
    """The bench's SIGINT and SIGTERM: the first aborts the measure under way (its task is cancelled, and its
    children stopped) and no other starts; a second one exits at once, after one more signal to every child (a
    `racelab run` child quits at once on its second, killing its simulator) and SIGKILL to the servers.

        interrupt = Interrupt()
        loop.add_signal_handler(signal.SIGINT, interrupt.request, "SIGINT")
        figures = await interrupt.run(measure_sweep(plan))   # raises Aborted once interrupted
    """

    __slots__ = ("_current", "signal")

    def __init__(self) -> None:
        self.signal: str | None = None
        """`SIGINT` or `SIGTERM` once interrupted; None until then."""
        self._current: asyncio.Task[Any] | None = None

    @property
    def exit_code(self) -> int:
        """128 + the signal's number: 130 for SIGINT, 143 for SIGTERM (as a shell reports them)."""
        assert self.signal is not None
        return 128 + int(signal.Signals[self.signal])

    def request(self, name: str) -> None:
        if self.signal is not None:
            for proc in list(_CHILDREN):
                _signal(proc, signal.SIGTERM)
            kill_children()
            print(f"racelab: second {name}: quitting at once", file=sys.stderr, flush=True)
            sys.stdout.flush()
            os._exit(128 + int(signal.Signals[name]))
        self.signal = name
        if self._current is not None:
            self._current.cancel()

    async def run(self, measure: Awaitable[T]) -> T:
        """Await `measure` as a task the first signal cancels.

        Raises:
            Aborted: the bench was interrupted, before or during the measure.
        """
        if self.signal is not None:
            if asyncio.iscoroutine(measure):
                measure.close()  # never started: no "never awaited" warning
            raise Aborted(self.signal, started=False)
        task = asyncio.ensure_future(measure)
        self._current = task
        try:
            return await task
        except (Exception, asyncio.CancelledError):
            if self.signal is not None:  # cancelled, or failing as it was cancelled: aborted either way
                raise Aborted(self.signal, started=True) from None
            raise
        finally:
            self._current = None


# -- child processes that are not servers ---------------------------------------------------------------------------

_CHILDREN: set[asyncio.subprocess.Process] = set()
"""The children started by `start_child` that still run: what a second signal stops at once."""

ABORT_GRACE_S = (1.0, 5.0)
"""An aborted child gets SIGTERM and the first figure in seconds to exit, then another SIGTERM (a `racelab run` quits
at once on its second signal, stopping its simulator) and the second figure; then its process group is killed."""


def _signal(proc: asyncio.subprocess.Process, signum: int) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)


async def start_child(
    argv: Sequence[str],
    *,
    stdout: int | IO[Any] | None = asyncio.subprocess.PIPE,
    stderr: int | IO[Any] | None = asyncio.subprocess.PIPE,
    env: Mapping[str, str] | None = None,
) -> asyncio.subprocess.Process:
    """Start a child in a session of its own (a terminal's Ctrl-C reaches the bench alone, which stops the child
    itself), remembered until `stop_child` or its exit is seen by `run_child`."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=stdout, stderr=stderr, env=dict(env) if env is not None else None, start_new_session=True
    )
    _CHILDREN.add(proc)
    return proc


async def stop_child(proc: asyncio.subprocess.Process, *, grace_s: Sequence[float] = ABORT_GRACE_S) -> None:
    """Stop a child that may still run (see `ABORT_GRACE_S`); returns once it is gone."""
    try:
        for wait_s in grace_s:
            _signal(proc, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), wait_s)
            if proc.returncode is not None:
                return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
    finally:
        _CHILDREN.discard(proc)


async def run_child(argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> tuple[int, bytes, bytes]:
    """Run a child to its end: its exit code, stdout and stderr. Cancelled, it stops the child (`stop_child`)."""
    proc = await start_child(argv, env=env)
    try:
        out, err = await proc.communicate()
    except BaseException:
        await asyncio.shield(stop_child(proc))
        raise
    _CHILDREN.discard(proc)
    return (proc.returncode if proc.returncode is not None else -1), out, err
