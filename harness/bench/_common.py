"""What every measure of `racelab bench` shares: the plan (how much each measure does), the result row, child
processes (a simulator, a bare server, a load client, `racelab run`) and which core each of them gets.

Imports: stdlib, `harness.judge.stats` (pure) and `harness.drive.embedded` (child processes, cores). Never
`simulator`: every simulator the bench talks to is a child process (`python -m harness.cli serve`), so the bench
measures what a user's process would see.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.drive.embedded import cores, open_process_server, pinned, set_affinity, simulator_argv
from harness.judge.stats import percentile

__all__ = [
    "OFFSETS_MS",
    "Plan",
    "Row",
    "Target",
    "child_env",
    "cores",
    "open_process_server",
    "pinned",
    "quantiles",
    "set_affinity",
    "simulator_argv",
]

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
        }


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
