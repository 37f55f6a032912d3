"""The tally of a load test: judged runs counted per integration, merged from the workers in a distributed run.

Owns `LoadTally`: runs, violations (by checker, with a first explanation each), runs that could not be judged,
where runs were judged and how many HTTP requests each place sent, and a histogram of send skew. Thread-safe: the
profile's users add to it concurrently; a worker drains it into its reports, and the master merges them.

Imports: stdlib and `harness.model`; `harness.drive.blocking` for types only. The locust process imports this module
under gevent.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from harness.model.records import RunSpec, Verdict

if TYPE_CHECKING:
    from harness.drive.blocking import RaceOutcome

__all__ = ["LoadTally"]


class LoadTally:
    """Judged runs, counted per integration (mutable: runs are added as they end; workers' tallies are merged).

    tally.add(outcome, source="local")
    tally.merge(other.drain())          # a worker's report, on the master
    """

    __slots__ = (
        "examples",
        "invalid",
        "iterations",
        "lock",
        "requests",
        "runs",
        "skew",
        "sources",
        "unknown",
        "unknown_example",
        "violated",
    )

    SKEW_BUCKET_MS = 0.1

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs: dict[str, int] = {}
        self.invalid: dict[str, int] = {}
        self.unknown: dict[str, int] = {}
        self.violated: dict[str, dict[str, int]] = {}
        """integration → checker → runs it found invalid."""
        self.examples: dict[str, str] = {}
        """`integration checker` → the first explanation (with its order id, to inspect it in the simulator)."""
        self.unknown_example: str | None = None
        self.sources: dict[str, dict[str, int]] = {}
        """Where runs were judged (a worker's id, or `local`) → `runs` and `requests` (HTTP requests it sent)."""
        self.iterations = 0
        """Iterations that ended (judged, or cut short by an error, which makes them unknown)."""
        self.skew: dict[int, int] = {}
        """A histogram of send skew, in buckets of `SKEW_BUCKET_MS`."""

    def add(self, outcome: RaceOutcome, *, source: str) -> None:
        spec = outcome.record.spec
        name = spec.integration
        with self.lock:
            self.iterations += 1
            self.runs[name] = self.runs.get(name, 0) + 1
            where = self.sources.setdefault(source, {"runs": 0, "requests": 0})
            where["runs"] += 1
            where["requests"] += outcome.requests
            if outcome.verdict is Verdict.INVALID:
                self.invalid[name] = self.invalid.get(name, 0) + 1
                by = self.violated.setdefault(name, {})
                for r in outcome.results:
                    if r.verdict is Verdict.INVALID:
                        by[r.checker] = by.get(r.checker, 0) + 1
                        self.examples.setdefault(f"{name} {r.checker}", r.explanation)
            elif outcome.verdict is Verdict.UNKNOWN:
                self.unknown[name] = self.unknown.get(name, 0) + 1
                if self.unknown_example is None:
                    self.unknown_example = f"{spec.order_id}: {outcome.why_unknown()}"
            for op in outcome.record.history:
                if (skew := op.skew_ms) is not None:
                    bucket = max(0, int(skew / self.SKEW_BUCKET_MS))
                    self.skew[bucket] = self.skew.get(bucket, 0) + 1

    def add_error(self, spec: RunSpec, error: str, *, source: str) -> None:
        """A run that ended in an error of the harness itself: it counts as one that could not be judged."""
        with self.lock:
            self.iterations += 1
            self.runs[spec.integration] = self.runs.get(spec.integration, 0) + 1
            self.unknown[spec.integration] = self.unknown.get(spec.integration, 0) + 1
            self.sources.setdefault(source, {"runs": 0, "requests": 0})["runs"] += 1
            if self.unknown_example is None:
                self.unknown_example = f"{spec.order_id}: {error}"

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "runs": dict(self.runs),
                "invalid": dict(self.invalid),
                "unknown": dict(self.unknown),
                "violated": {k: dict(v) for k, v in self.violated.items()},
                "examples": dict(self.examples),
                "unknown_example": self.unknown_example,
                "sources": {k: dict(v) for k, v in self.sources.items()},
                "iterations": self.iterations,
                "skew": {str(k): v for k, v in self.skew.items()},
            }

    def drain(self) -> dict[str, Any]:
        """What was added since the last drain (for a worker's report to the master), and forget it."""
        with self.lock:
            data = {
                "runs": self.runs,
                "invalid": self.invalid,
                "unknown": self.unknown,
                "violated": self.violated,
                "examples": self.examples,
                "unknown_example": self.unknown_example,
                "sources": self.sources,
                "iterations": self.iterations,
                "skew": {str(k): v for k, v in self.skew.items()},
            }
            self.runs, self.invalid, self.unknown, self.violated, self.examples = {}, {}, {}, {}, {}
            self.unknown_example, self.sources, self.iterations, self.skew = None, {}, 0, {}
        return data

    def merge(self, data: Mapping[str, Any]) -> None:
        """Add what another tally drained (or its `to_json`)."""
        with self.lock:
            for mine, theirs in (
                (self.runs, data.get("runs")),
                (self.invalid, data.get("invalid")),
                (self.unknown, data.get("unknown")),
            ):
                for k, v in (theirs or {}).items():
                    mine[k] = mine.get(k, 0) + int(v)
            for integration, by in (data.get("violated") or {}).items():
                target = self.violated.setdefault(integration, {})
                for k, v in by.items():
                    target[k] = target.get(k, 0) + int(v)
            for k, v in (data.get("examples") or {}).items():
                self.examples.setdefault(k, v)
            if self.unknown_example is None:
                self.unknown_example = data.get("unknown_example")
            for source, counts in (data.get("sources") or {}).items():
                where = self.sources.setdefault(source, {"runs": 0, "requests": 0})
                for k, v in counts.items():
                    where[k] = where.get(k, 0) + int(v)
            self.iterations += int(data.get("iterations") or 0)
            for k, v in (data.get("skew") or {}).items():
                self.skew[int(k)] = self.skew.get(int(k), 0) + int(v)

    def skew_ms(self, q: float) -> float | None:
        """The `q`-th percentile (0-100) of send skew, to the bucket's upper edge; None without samples."""
        with self.lock:
            total = sum(self.skew.values())
            if not total:
                return None
            rank = max(1, math.ceil(total * q / 100))
            seen = 0
            for bucket in sorted(self.skew):
                seen += self.skew[bucket]
                if seen >= rank:
                    return (bucket + 1) * self.SKEW_BUCKET_MS
        return None  # pragma: no cover - the loop always reaches the rank
