"""The summary of a set of judged runs, typed: what `summary.json` holds, as frozen records.

Owns: `Summary` and its parts: `Tally` (the runs of one scenario and integration, or of one cell of its matrix) with
its `CheckerTally` per checker, `GateResult` (one gate condition, decided), `SkewSummary`, `TimeToInvoice`,
`IntegrationCost` and `CostSummary` (the statistics), and `Interruption` (a sweep stopped by a signal: what ran of
what was planned). `Summary.to_json()` gives `summary.json` exactly (its keys in their order); `Summary.from_json()`
reads it back, for readers such as `racelab report`. The numbers are computed elsewhere (`harness.judge`:
`SummaryBuilder`, `build_summary`, `aggregate`, `evaluate_gates`, the statistics); here they are only held.

What an interruption adds is written only when there is one (`"interrupted"`, each gate's `"partial"`), so the
`summary.json` of a sweep that ran to its end is the same, byte for byte, as before interruptions were recorded.

Imports: stdlib only (pure, as the rest of `harness.model`).

    summary = Summary.from_json(json.loads(Path("results/latest/summary.json").read_text()))
    summary.passed, summary.runs, [g.reason for g in summary.gates if not g.passed]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "INTERRUPTED",
    "CheckerTally",
    "CostSummary",
    "GateResult",
    "IntegrationCost",
    "Interruption",
    "SkewSummary",
    "Summary",
    "Tally",
    "TimeToInvoice",
]

Expected = bool | tuple[str, ...] | int | float
"""A gate condition's value in the scenario file: `reproduces` (a bool or checker names), `violations`, `max_rate`."""

INTERRUPTED = "interrupted: "
"""How the reason of a gate that held on the runs of an interrupted sweep, and failed only because the sweep was
cut, begins (`GateResult.held_back`)."""


@dataclass(frozen=True, slots=True)
class CheckerTally:
    """How many runs one checker found valid, invalid or could not judge."""

    valid: int = 0
    invalid: int = 0
    unknown: int = 0

    def to_json(self) -> dict[str, int]:
        return {"valid": self.valid, "invalid": self.invalid, "unknown": self.unknown}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CheckerTally:
        return cls(valid=d["valid"], invalid=d["invalid"], unknown=d["unknown"])


@dataclass(frozen=True, slots=True)
class Tally:
    """The runs of one (scenario, integration), or of one cell of its matrix.

    tally = aggregate(judged_runs).group("over-invoice", "naive")
    tally.invalid, tally.runs, tally.interval   # 37, 400, (0.068, 0.125)
    """

    scenario: str
    integration: str
    cell: Mapping[str, Any] | None
    """The matrix cell, or `None` for the tally of every cell together."""
    runs: int
    invalid: int
    unknown: int
    checkers: Mapping[str, CheckerTally]
    """Per checker, in order of first appearance."""
    examples: Mapping[str, str]
    """Per checker that found a violation: the `run_id` of the first run it found invalid."""
    unknown_example: str | None
    """The `run_id` of the first run that could not be judged."""
    interval: tuple[float, float]
    """The Wilson 95% interval of `rate` (`ci95` in `summary.json`)."""
    violated_by: Mapping[frozenset[str], int] = field(default_factory=dict, repr=False)
    """How many invalid runs each set of checkers found invalid together (to count runs invalid by any of some
    checkers; a handful of sets, however many runs). Not in `summary.json`: a tally read back from it has none."""

    @property
    def valid(self) -> int:
        return self.runs - self.invalid - self.unknown

    @property
    def rate(self) -> float:
        """Invalid runs over runs (0.0 when there are no runs)."""
        return self.invalid / self.runs if self.runs else 0.0

    def invalid_by(self, checkers: Iterable[str]) -> int:
        """How many runs at least one of `checkers` found invalid."""
        names = frozenset(checkers)
        return sum(count for found, count in self.violated_by.items() if found & names)

    def to_json(self) -> dict[str, Any]:
        low, high = self.interval
        return {
            "scenario": self.scenario,
            "integration": self.integration,
            **({} if self.cell is None else {"cell": dict(self.cell)}),
            "runs": self.runs,
            "valid": self.valid,
            "invalid": self.invalid,
            "unknown": self.unknown,
            "rate": self.rate,
            "ci95": [low, high],
            "checkers": {name: c.to_json() for name, c in self.checkers.items()},
            "examples": dict(self.examples),
            "unknown_example": self.unknown_example,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Tally:
        low, high = d["ci95"]
        return cls(
            scenario=d["scenario"],
            integration=d["integration"],
            cell=d.get("cell"),
            runs=d["runs"],
            invalid=d["invalid"],
            unknown=d["unknown"],
            checkers={name: CheckerTally.from_json(c) for name, c in d["checkers"].items()},
            examples=dict(d["examples"]),
            unknown_example=d["unknown_example"],
            interval=(low, high),
        )


@dataclass(frozen=True, slots=True)
class GateResult:
    """One condition of one integration's gate in one scenario, decided.

    GateResult("over-invoice", "naive", "reproduces", True, passed=True, reason="naive reproduces: ...",
               runs=400, invalid=37, unknown=0)
    """

    scenario: str
    integration: str
    condition: str
    """`reproduces`, `violations` or `max_rate`."""
    expected: Expected
    """The condition's value in the scenario file."""
    passed: bool
    reason: str
    """One sentence a person can read, with the numbers that decided it."""
    runs: int
    invalid: int
    unknown: int
    partial: bool = False
    """Decided on the runs of an interrupted sweep (`Summary.interrupted`): such a gate never passes. Written only
    when set."""

    @property
    def name(self) -> str:
        """`integration: condition`, as a test case is named."""
        return f"{self.integration}: {self.condition}"

    @property
    def held_back(self) -> bool:
        """It held on the runs that finished, and failed only because the sweep was interrupted."""
        return self.partial and not self.passed and self.reason.startswith(INTERRUPTED)

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "scenario": self.scenario,
            "integration": self.integration,
            "condition": self.condition,
            "expected": list(self.expected) if isinstance(self.expected, tuple) else self.expected,
            "passed": self.passed,
            "reason": self.reason,
            "runs": self.runs,
            "invalid": self.invalid,
            "unknown": self.unknown,
        }
        if self.partial:
            found["partial"] = True
        return found

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> GateResult:
        expected = d["expected"]
        return cls(
            scenario=d["scenario"],
            integration=d["integration"],
            condition=d["condition"],
            expected=tuple(expected) if isinstance(expected, list) else expected,
            passed=d["passed"],
            reason=d["reason"],
            runs=d["runs"],
            invalid=d["invalid"],
            unknown=d["unknown"],
            partial=d.get("partial", False),
        )


@dataclass(frozen=True, slots=True)
class Interruption:
    """A sweep stopped by a signal before its end: what finished of what was planned.

    Interruption(signal="SIGINT", planned=8000, finished=1234, cut=3)
    str(interruption)     # 'interrupted by SIGINT: 1234 of 8000 runs finished, 3 cut in flight'
    """

    signal: str
    """The signal's name: `SIGINT` (Ctrl-C) or `SIGTERM` (what CI sends a job it cancels)."""
    planned: int
    """Runs the sweep was to make."""
    finished: int
    """Runs that finished and were judged (those of an earlier, resumed part included)."""
    cut: int
    """Runs in flight that did not finish within the grace: cancelled, in no tally."""

    def __str__(self) -> str:
        cut = f", {self.cut} cut in flight" if self.cut else ""
        return f"interrupted by {self.signal}: {self.finished} of {self.planned} runs finished{cut}"

    def to_json(self) -> dict[str, Any]:
        return {"signal": self.signal, "planned": self.planned, "finished": self.finished, "cut": self.cut}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Interruption:
        return cls(signal=d["signal"], planned=d["planned"], finished=d["finished"], cut=d["cut"])


@dataclass(frozen=True, slots=True)
class SkewSummary:
    """How late requests left compared with their schedule, in ms (`None` when no request had a schedule)."""

    count: int
    """How many operations had a skew."""
    p50: float | None
    p99: float | None
    max: float | None

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "p50": self.p50, "p99": self.p99, "max": self.max}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> SkewSummary:
        return cls(count=d["count"], p50=d["p50"], p99=d["p99"], max=d["max"])


@dataclass(frozen=True, slots=True)
class TimeToInvoice:
    """One integration's ms from the invoicing step's schedule to the first accepted invoice."""

    runs: int
    """Runs of the integration."""
    count: int
    """Runs that have a time to invoice (some accepted invoice)."""
    p50: float | None
    p99: float | None

    def to_json(self) -> dict[str, Any]:
        return {"runs": self.runs, "count": self.count, "p50": self.p50, "p99": self.p99}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> TimeToInvoice:
        return cls(runs=d["runs"], count=d["count"], p50=d["p50"], p99=d["p99"])


@dataclass(frozen=True, slots=True)
class IntegrationCost:
    """One integration against the baseline, pair by pair (same scenario, cell and repetition)."""

    pairs: int
    """Pairs where both runs got an invoice accepted: the only ones that say something about latency."""
    unpaired: int
    """Runs of the integration with no baseline twin, or where either twin never got an invoice accepted."""
    added_p50: float | None
    """Median of (integration - baseline) time to invoice over the pairs, ms."""
    added_p99: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "pairs": self.pairs,
            "unpaired": self.unpaired,
            "added_p50": self.added_p50,
            "added_p99": self.added_p99,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> IntegrationCost:
        return cls(pairs=d["pairs"], unpaired=d["unpaired"], added_p50=d["added_p50"], added_p99=d["added_p99"])


@dataclass(frozen=True, slots=True)
class CostSummary:
    """What each integration adds to the time to invoice against a baseline, on identical schedules."""

    baseline: str | None
    """`None` when there were no runs."""
    integrations: Mapping[str, IntegrationCost]
    """Every integration but the baseline, in order of first appearance."""

    def to_json(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "integrations": {k: v.to_json() for k, v in self.integrations.items()}}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CostSummary:
        integrations = {k: IntegrationCost.from_json(v) for k, v in d["integrations"].items()}
        return cls(baseline=d["baseline"], integrations=integrations)


@dataclass(frozen=True, slots=True)
class Summary:
    """Everything `summary.json` holds: the verdict of the gates, the tallies and the statistics.

    summary = build_summary(judged, gates=gates, seed=1)      # harness.judge
    summary.passed, summary.invalid, summary.groups[0].rate
    json.dumps(summary.to_json(), indent=2)                   # summary.json
    """

    passed: bool
    """Every gate passed, and the sweep ran to its end."""
    runs: int
    invalid: int
    unknown: int
    seed: int | None
    """The suite's seed."""
    command: str | tuple[str, ...] | None
    """The command line that replays the suite, if known (a string, or its words)."""
    gates: tuple[GateResult, ...]
    groups: tuple[Tally, ...]
    """Per (scenario, integration)."""
    cells: tuple[Tally, ...]
    """Per (scenario, integration, cell)."""
    skew_ms: SkewSummary
    time_to_invoice_ms: Mapping[str, TimeToInvoice]
    """Per integration, in order of first appearance."""
    invoice_cost_ms: CostSummary
    mode: str | None = None
    """How the runs were executed (`embedded`, `external`, `virtual`): `racelab replay` reads it. Written only when
    set."""
    settle_timeout_s: float | None = None
    """The runner's settle timeout, which `racelab replay` reuses. Written only when set."""
    interrupted: Interruption | None = None
    """Set when a signal stopped the sweep before its end: then `passed` is false and every gate is `partial`.
    Written only when set (right after `passed`)."""

    def to_json(self) -> dict[str, Any]:
        """`summary.json`, key for key and in the same order."""
        found: dict[str, Any] = {"passed": self.passed}
        if self.interrupted is not None:
            found["interrupted"] = self.interrupted.to_json()
        found |= {
            "runs": self.runs,
            "invalid": self.invalid,
            "unknown": self.unknown,
            "seed": self.seed,
            "command": list(self.command) if isinstance(self.command, tuple) else self.command,
            "gates": [g.to_json() for g in self.gates],
            "groups": [t.to_json() for t in self.groups],
            "cells": [t.to_json() for t in self.cells],
            "skew_ms": self.skew_ms.to_json(),
            "time_to_invoice_ms": {name: t.to_json() for name, t in self.time_to_invoice_ms.items()},
            "invoice_cost_ms": self.invoice_cost_ms.to_json(),
        }
        if self.mode is not None:
            found["mode"] = self.mode
        if self.settle_timeout_s is not None:
            found["settle_timeout_s"] = self.settle_timeout_s
        return found

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Summary:
        """The inverse of `to_json`.

        Raises:
            KeyError: a field is missing.
            TypeError, ValueError: a field is not of its shape.
        """
        command = d["command"]
        return cls(
            passed=d["passed"],
            runs=d["runs"],
            invalid=d["invalid"],
            unknown=d["unknown"],
            seed=d["seed"],
            command=tuple(command) if isinstance(command, list) else command,
            gates=tuple(GateResult.from_json(g) for g in d["gates"]),
            groups=tuple(Tally.from_json(t) for t in d["groups"]),
            cells=tuple(Tally.from_json(t) for t in d["cells"]),
            skew_ms=SkewSummary.from_json(d["skew_ms"]),
            time_to_invoice_ms={name: TimeToInvoice.from_json(t) for name, t in d["time_to_invoice_ms"].items()},
            invoice_cost_ms=CostSummary.from_json(d["invoice_cost_ms"]),
            mode=d.get("mode"),
            settle_timeout_s=d.get("settle_timeout_s"),
            interrupted=None if d.get("interrupted") is None else Interruption.from_json(d["interrupted"]),
        )
