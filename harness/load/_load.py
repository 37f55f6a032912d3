"""Load testing: `racelab load`, and everything the locust profiles (`scenarios/load/`) share with it.

Owns four things, each a section below:

- **Options** (`add_load_arguments`): the custom command-line options of the locust profiles (`--scenario`,
  `--iterations`, the thresholds, ...), added both to locust's parser and to `racelab load`'s, so they mean the same
  in `locust -f scenarios/load/race.py` and in `racelab load race`.
- **Thresholds** (`Thresholds`, `evaluate`): what decides a load test's exit code: violations allowed per
  integration (default: the scenario's `gate:`), the ratio of failed HTTP requests, the p95 of named endpoints,
  runs that could not be judged, and a minimum of judged runs. `LoadTally` counts judged runs; it is merged from
  the workers on the master in a distributed run.
- **The race in blocking code** (`LoadPlan`, `run_race`, `Naive`, `NaiveRetry`, `Workaround`, `Robust`): one run
  of a scenario exactly as the harness's runner does it (seed the order, fire each step at its offset, let the
  integration react, wait for the simulator to settle, read the final state, judge it with the shared checkers),
  written with blocking calls. The integrations are the strategies of `harness.integrations` (same requests, same
  polling backoff, same retries; `tests/load/test_parity.py` holds them to it), rewritten for blocking I/O. Under
  locust, gevent makes the blocking calls cooperative: the locust profile supplies a `Transport` on
  `FastHttpSession` and spawns steps as greenlets; in tests, plain threads and `urllib` do the same.
- **The command** (`add_command`): `racelab load PROFILE [options] [locust options]` starts the embedded simulator
  when no `--host` is given, runs locust headless as a separate process with its CSV and HTML reports in
  `results/<timestamp>-load-<profile>/`, shows progress, and summarises the outcome.

Imports: stdlib, `harness.model`, `harness.checkers`, `harness.gates`, `harness.errors`, `harness.resources` at module
level (all pure or stdlib only: the locust process imports this module under gevent); `harness.scenario` (pydantic,
yaml) when a plan is loaded;
`harness.embedded`, `harness.results` and rich only inside the command's handler. Never `locust`, `gevent`,
`asyncio` at module level, nor `simulator`.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import math
import os
import re
import shlex
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError, InvalidScenario
from harness.integrations.bodies import (
    change_body,
    change_v1_body,
    invoice_items,
)
from harness.load._race import (
    CONTROL_HEADER,
    STRATEGIES,
    Answer,
    LoadPlan,
    Naive,
    NaiveRetry,
    Race,
    RaceOutcome,
    Robust,
    StepApi,
    Task,
    Transport,
    Workaround,
    accounting_ref,
    credential_headers,
    decode,
    run_race,
    spawn_thread,
)
from harness.model.records import RunSpec, Verdict
from harness.resources import builtin_root

if TYPE_CHECKING:
    from harness.scenarios import Gate, Scenario

__all__ = [
    "CONTROL_HEADER",
    "DEFAULT_SCENARIO",
    "RACE_TYPE",
    "STEP_ACTIONS",
    "STRATEGIES",
    "Answer",
    "EndpointStats",
    "LoadPlan",
    "LoadTally",
    "Naive",
    "NaiveRetry",
    "Race",
    "RaceOutcome",
    "Robust",
    "StepApi",
    "Task",
    "ThresholdResult",
    "Thresholds",
    "Transport",
    "ViolationLimit",
    "Workaround",
    "accounting_ref",
    "add_command",
    "add_load_arguments",
    "change_body",
    "change_v1_body",
    "credential_headers",
    "decode",
    "evaluate",
    "invoice_items",
    "load_argv",
    "parse_max_p95",
    "parse_max_violations",
    "profile_scenario",
    "read_stats_csv",
    "resolve_scenario",
    "run_race",
    "spawn_thread",
    "split_load_argv",
    "thresholds_from",
    "verdict",
]

DEFAULT_SCENARIO = "scenarios/over-invoice.yaml"
"""The scenario a profile runs when neither `--scenario` nor `RACELAB_SCENARIO` names one."""

RACE_TYPE = "RACE"
"""The request type under which each judged run is reported to locust (name: the integration), so a violation
shows as a locust failure with its explanation. These entries are not HTTP requests: the failure ratio and the
request rates leave them out."""

STEP_ACTIONS = ("invoice", "change", "change-v1", "cancel")
"""The `do:` actions a load profile fires. Accounting steps and a script's own steps are the harness's only."""

_ROOT = builtin_root()
"""Where racelab's own `scenarios/` is (the checkout, or the installed package's copy): the fallback of every relative
path here, after the working directory."""


# =====================================================================================================================
# Options
# =====================================================================================================================


def add_load_arguments(parser: Any, *, scenario: str | None = DEFAULT_SCENARIO, report: bool = True) -> None:
    """Add the load options to `parser`: locust's (configargparse) parser, or `racelab load`'s (argparse).

    Every option has a plain value, so `racelab load` can hand them on to locust as it received them.

    Args:
        parser: the parser.
        scenario: the default of `--scenario` when `RACELAB_SCENARIO` is not set (a profile may choose its own;
            `racelab load` leaves it unset and asks the profile).
        report: offer `--racelab-report` (`racelab load` writes the verdict into its results folder itself).
    """
    group = parser.add_argument_group("racelab", "The race under load (racelab's own options)")
    fallback = scenario or f"the profile's own, else {DEFAULT_SCENARIO}"
    group.add_argument(
        "--scenario",
        default=os.environ.get("RACELAB_SCENARIO", scenario),
        help="scenario YAML the users run: order, steps and their offsets, expected invariants, gates "
        f"(default: $RACELAB_SCENARIO, else {fallback})",
    )
    group.add_argument("--seed", type=int, default=1, help="seed for the scenario's schedules (default: 1)")
    group.add_argument(
        "-i",
        "--iterations",
        type=int,
        default=0,
        help="races per user; once every user has run them, the test ends (default: 0, no limit; "
        "bound the test with -t then)",
    )
    group.add_argument(
        "--settle-timeout",
        type=float,
        default=30.0,
        help="seconds to wait for the simulator to finish an order's work before the run is unknown (default: 30)",
    )
    group.add_argument(
        "--max-violations",
        default="",
        metavar="SPEC",
        help="violating runs allowed per integration, e.g. 'naive=inf,workaround=0,robust=1%%' "
        "(a count, inf, or a percentage of the runs; '*=' for the others). Default: the scenario's "
        "gate (violations: N, max_rate: R); no limit for an integration without one. Runs that could "
        "not be judged count as possible violations, as in a gate",
    )
    group.add_argument(
        "--max-fail-ratio",
        type=float,
        default=0.0,
        help="failed HTTP requests (5xx, timeouts, connection errors; a 4xx is an answer) over all "
        "HTTP requests (default: 0)",
    )
    group.add_argument(
        "--max-p95",
        action="append",
        default=[],
        metavar="'METHOD NAME=MS'",
        help="p95 response time allowed for one endpoint, as locust names it, e.g. "
        "'POST /api/orders/pvt/document/[id]/invoices=500' (repeatable; comma-separated too)",
    )
    group.add_argument(
        "--max-unknown",
        type=int,
        default=0,
        help="runs that could not be judged (harness errors, orders that did not settle) allowed in total (default: 0)",
    )
    group.add_argument("--min-runs", type=int, default=1, help="judged runs required in total (default: 1)")
    if report:
        group.add_argument(
            "--racelab-report",
            default="",
            metavar="PATH",
            help="write the verdict (thresholds, runs, violations per integration) as JSON here",
        )


_LOAD_OPTIONS = (
    "scenario",
    "seed",
    "iterations",
    "settle_timeout",
    "max_violations",
    "max_fail_ratio",
    "max_p95",
    "max_unknown",
    "min_runs",
    "racelab_report",
)


def load_argv(options: argparse.Namespace) -> list[str]:
    """The load options in `options` as command-line arguments again (for the locust process)."""
    argv: list[str] = []
    for dest in _LOAD_OPTIONS:
        value = getattr(options, dest, None)
        flag = "--" + dest.replace("_", "-")
        if isinstance(value, list):
            for item in value:
                argv += [flag, str(item)]
        elif value not in ("", None):
            argv += [flag, str(value)]
    return argv


def resolve_scenario(path: str | Path) -> Path:
    """`path` as given, or, when relative and missing, relative to the racelab checkout (so the default works from
    any working directory)."""
    given = Path(path)
    if given.is_absolute() or given.exists():
        return given
    fallback = _ROOT / given
    return fallback if fallback.exists() else given


# =====================================================================================================================
# Thresholds
# =====================================================================================================================


@dataclass(frozen=True, slots=True)
class ViolationLimit:
    """How many of an integration's runs may violate an expected invariant: a count, or a share of the runs.

    ViolationLimit(count=0)          # none
    ViolationLimit(rate=0.01)        # at most 1 %
    """

    count: float | None = None
    """At most this many runs (`math.inf`: no limit)."""
    rate: float | None = None
    """At most this share (0..1) of the runs."""
    source: str = "--max-violations"

    def describe(self) -> str:
        if self.rate is not None:
            return f"≤ {self.rate * 100:g}% of runs"
        if self.count is None or math.isinf(self.count):
            return "no limit"
        return f"≤ {self.count:g}"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """What a load test must stay within; `evaluate` decides it. Build it with `thresholds_from`."""

    violations: Mapping[str, ViolationLimit] = field(default_factory=dict)
    """Per integration; the key `*` applies to integrations not named."""
    max_fail_ratio: float = 0.0
    max_p95_ms: Mapping[str, float] = field(default_factory=dict)
    """`METHOD NAME` (or a bare `NAME`, any method) → milliseconds."""
    max_unknown: int = 0
    min_runs: int = 1

    def limit_for(self, integration: str) -> ViolationLimit:
        return self.violations.get(integration) or self.violations.get("*") or ViolationLimit(count=math.inf)

    def to_json(self) -> dict[str, Any]:
        return {
            "violations": {
                k: {"count": _finite(v.count), "rate": v.rate, "source": v.source} for k, v in self.violations.items()
            },
            "max_fail_ratio": self.max_fail_ratio,
            "max_p95_ms": dict(self.max_p95_ms),
            "max_unknown": self.max_unknown,
            "min_runs": self.min_runs,
        }


def _finite(x: float | None) -> float | str | None:
    return "inf" if x is not None and math.isinf(x) else x


_NAME = re.compile(r"^(\*|[A-Za-z0-9][A-Za-z0-9_.:/-]*)$")


def parse_max_violations(spec: str, *, known: Iterable[str] = ()) -> dict[str, ViolationLimit]:
    """`naive=inf,workaround=0,robust=1%` → limits per integration.

    Args:
        spec: comma-separated `integration=limit`; a limit is a count (`0`, `3`), `inf`, or a percentage (`0.5%`).
        known: integration names that may be given (besides `*`); empty: any name.

    Raises:
        InvalidScenario: a part that does not parse, a repeated or unknown integration, a negative limit.
    """
    limits: dict[str, ViolationLimit] = {}
    known = tuple(known)
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not name or not value or not _NAME.match(name):
            raise InvalidScenario(f"--max-violations: expected integration=limit, e.g. workaround=0 (got {part!r})")
        if known and name != "*" and name not in known:
            raise InvalidScenario(
                f"--max-violations: unknown integration {name!r}; expected one of {', '.join(known)} or *"
            )
        if name in limits:
            raise InvalidScenario(f"--max-violations: {name} is given twice")
        limits[name] = _violation_limit(name, value)
    return limits


def _violation_limit(name: str, value: str) -> ViolationLimit:
    percent = value.endswith("%")
    number = value[:-1] if percent else value
    try:
        x = math.inf if number.lower() in ("inf", "infinity") else float(number)
    except ValueError:
        x = math.nan
    if percent and 0 <= x <= 100:
        return ViolationLimit(rate=x / 100)
    if not percent and x >= 0 and (math.isinf(x) or x == int(x)):
        return ViolationLimit(count=x)
    raise InvalidScenario(f"--max-violations: {name}: expected a count, inf or a percentage like 1% (got {value!r})")


def parse_max_p95(specs: Iterable[str]) -> dict[str, float]:
    """`['POST /api/orders/pvt/document/[id]/invoices=500', ...]` → `{'POST /api/...': 500.0}`.

    Raises:
        InvalidScenario: a spec without `=`, without a name, or with a limit that is not a positive number.
    """
    limits: dict[str, float] = {}
    for spec in specs:
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            name, sep, value = part.rpartition("=")
            name = " ".join(name.split())
            if not sep or not name:
                raise InvalidScenario(
                    f"--max-p95: expected 'METHOD NAME=MS', e.g. 'GET /api/oms/pvt/orders/[id]=200' (got {part!r})"
                )
            try:
                ms = float(value.strip().removesuffix("ms"))
            except ValueError:
                ms = -1.0
            if not ms > 0 or math.isinf(ms):
                raise InvalidScenario(f"--max-p95: {name}: expected a positive number of milliseconds (got {value!r})")
            limits[name] = ms
    return limits


def thresholds_from(options: Any, scenario: Scenario | None = None, *, integrations: Iterable[str] = ()) -> Thresholds:
    """The thresholds the options ask for; violation limits not given default to the scenario's gates.

    Args:
        options: parsed options carrying the attributes `add_load_arguments` adds.
        scenario: the loaded scenario (its `gate:` gives the defaults), if any.
        integrations: names `--max-violations` may use.

    Raises:
        InvalidScenario: an option out of range or that does not parse.
    """
    violations: dict[str, ViolationLimit] = {}
    if scenario is not None:
        for name, gate in scenario.gates.items():
            limit = _gate_limit(gate)
            if limit is not None:
                violations[name] = limit
    violations.update(parse_max_violations(options.max_violations or "", known=integrations))
    ratio = float(options.max_fail_ratio)
    if not 0 <= ratio <= 1:
        raise InvalidScenario(f"--max-fail-ratio must be between 0 and 1 (got {ratio:g})")
    for flag, value in (
        ("--max-unknown", options.max_unknown),
        ("--min-runs", options.min_runs),
        ("--iterations", options.iterations),
    ):
        if value < 0:
            raise InvalidScenario(f"{flag} must not be negative (got {value})")
    if not options.settle_timeout > 0:
        raise InvalidScenario(f"--settle-timeout must be positive (got {options.settle_timeout:g})")
    return Thresholds(
        violations=violations,
        max_fail_ratio=ratio,
        max_p95_ms=parse_max_p95(options.max_p95 or ()),
        max_unknown=int(options.max_unknown),
        min_runs=int(options.min_runs),
    )


def _gate_limit(gate: Gate) -> ViolationLimit | None:
    if gate.violations is not None:
        return ViolationLimit(count=float(gate.violations), source="gate")
    if gate.max_rate is not None:
        return ViolationLimit(rate=float(gate.max_rate), source="gate")
    return None


@dataclass(frozen=True, slots=True)
class EndpointStats:
    """One row of locust's statistics (an HTTP endpoint, by method and name)."""

    method: str
    name: str
    requests: int
    failures: int
    p95_ms: float | None

    @property
    def key(self) -> str:
        return f"{self.method} {self.name}"


@dataclass(frozen=True, slots=True)
class ThresholdResult:
    """One threshold's verdict, with a sentence a person can read."""

    threshold: str
    passed: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "passed": self.passed, "reason": self.reason}


def evaluate(
    thresholds: Thresholds, tally: LoadTally, endpoints: Sequence[EndpointStats]
) -> tuple[ThresholdResult, ...]:
    """Every threshold against what the test did. `endpoints` are the HTTP rows only (no `RACE` rows).

    A p95 limit for an endpoint nobody requested fails (a misspelt name must not pass silently); so does an
    integration limit when that integration judged no run.
    """
    results: list[ThresholdResult] = []
    judged = sum(tally.runs.values())
    results.append(
        ThresholdResult(
            "min runs", judged >= thresholds.min_runs, f"{judged} runs judged (at least {thresholds.min_runs} required)"
        )
    )
    unknown = sum(tally.unknown.values())
    results.append(
        ThresholdResult(
            "max unknown",
            unknown <= thresholds.max_unknown,
            f"{unknown} runs could not be judged (at most {thresholds.max_unknown})"
            + (f", e.g. {tally.unknown_example}" if tally.unknown_example else ""),
        )
    )
    # A gate applies to the integrations that ran (a test may run some of the scenario's integrations only); a limit
    # given on the command line for an integration that judged no run fails, so a misspelt name cannot pass.
    named = {k for k, v in thresholds.violations.items() if k != "*" and v.source != "gate"}
    for integration in sorted(set(tally.runs) | named):
        limit = thresholds.limit_for(integration)
        runs = tally.runs.get(integration, 0)
        invalid = tally.invalid.get(integration, 0)
        possible = invalid + tally.unknown.get(integration, 0)  # unknown runs may have been violations, as in a gate
        label = f"violations {integration}"
        if limit.rate is None and (limit.count is None or math.isinf(limit.count)):
            results.append(ThresholdResult(label, True, f"{invalid} of {runs} runs violated an invariant (no limit)"))
            continue
        if runs == 0:
            results.append(
                ThresholdResult(
                    label, False, f"no run of {integration} was judged ({limit.describe()} from {limit.source})"
                )
            )
            continue
        passed = possible / runs <= limit.rate if limit.rate is not None else possible <= (limit.count or 0)
        reason = f"{invalid} of {runs} runs violated an invariant ({limit.describe()} from {limit.source})"
        if possible != invalid:
            reason += f"; {possible - invalid} more could not be judged"
        results.append(ThresholdResult(label, passed, reason))
    http_requests = sum(e.requests for e in endpoints)
    http_failures = sum(e.failures for e in endpoints)
    ratio = http_failures / http_requests if http_requests else 0.0
    results.append(
        ThresholdResult(
            "max fail ratio",
            ratio <= thresholds.max_fail_ratio,
            f"{http_failures} of {http_requests} HTTP requests failed ({ratio:.2%}; at most "
            f"{thresholds.max_fail_ratio:.2%})",
        )
    )
    for key, limit_ms in thresholds.max_p95_ms.items():
        rows = [e for e in endpoints if e.key == key or (e.name == key and e.requests)]
        rows = [e for e in rows if e.requests]
        if not rows:
            seen = ", ".join(sorted({e.key for e in endpoints if e.requests})) or "none"
            results.append(ThresholdResult(f"p95 {key}", False, f"no request named {key!r}; seen: {seen}"))
            continue
        worst = max((e.p95_ms or 0.0) for e in rows)
        results.append(
            ThresholdResult(f"p95 {key}", worst <= limit_ms, f"p95 {worst:.0f} ms (at most {limit_ms:g} ms)")
        )
    return tuple(results)


def verdict(
    thresholds: Thresholds, tally: LoadTally, endpoints: Sequence[EndpointStats], *, scenario: str
) -> dict[str, Any]:
    """The load test's verdict as `summary.json` holds it: every threshold's result, the limits, the runs."""
    results = evaluate(thresholds, tally, endpoints)
    return {
        "passed": all(r.passed for r in results),
        "scenario": scenario,
        "thresholds": [r.to_json() for r in results],
        "limits": thresholds.to_json(),
        "tally": tally.to_json(),
        "skew_ms": {"p50": tally.skew_ms(50), "p99": tally.skew_ms(99)},
        "http": {"requests": sum(e.requests for e in endpoints), "failures": sum(e.failures for e in endpoints)},
        "endpoints": [
            {"method": e.method, "name": e.name, "requests": e.requests, "failures": e.failures, "p95_ms": e.p95_ms}
            for e in endpoints
        ],
    }


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


# =====================================================================================================================
# The command
# =====================================================================================================================


_PROFILES = Path("scenarios/load")


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "load",
        help="run a locust load profile against the race (scenarios/load/), with thresholds",
        description="Run a locust profile headless as a separate process: its users seed orders, fire the invoice "
        "and the Change at the scenario's offsets, wait for each order to settle and judge it with the harness's "
        "checkers; a violation is a locust failure with its explanation. Without --host (-H), the simulator is "
        "started with the scenario's profile and stopped after. CSV and HTML reports go to "
        "results/<timestamp>-load-<profile>/. Whatever follows PROFILE and is not racelab's is locust's and is "
        "passed on (-u, -r, -t, --master, --expect-workers, user class names such as WorkaroundUser, ...). "
        "Defaults added when not given: --headless -u 10 -r 10, and -t 30s without --iterations.",
        epilog="exit codes: 0 every threshold held · 1 a threshold failed · 2 bad input (profile, scenario, option) "
        "· 3 harness or locust error. Example: racelab load race -u 50 -t 1m --max-violations "
        "'naive=inf,workaround=0' --max-p95 'POST /api/orders/pvt/document/[id]/invoices=500'",
    )
    _own_arguments(parser)
    parser.add_argument("profile", metavar="PROFILE", help="a locustfile: a name in scenarios/load/ (race) or a path")
    parser.add_argument(
        "locust_args",
        nargs=argparse.REMAINDER,
        metavar="...",
        help="racelab's options above, and locust's options and user classes",
    )
    parser.set_defaults(handler=_handle)


def _own_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("results"), help="results root (default: results/)")
    parser.add_argument(
        "--sim-profile", metavar="NAME|FILE", help="embedded simulator profile instead of the scenario's (e.g. instant)"
    )
    add_load_arguments(parser, scenario=None, report=False)


def split_load_argv(args: argparse.Namespace) -> tuple[argparse.Namespace, list[str]]:
    """racelab's options among what followed PROFILE (they override the same options given before it), and the
    rest, which is locust's, in its order."""
    own = argparse.ArgumentParser(add_help=False, allow_abbrev=False)  # a prefix of a locust option stays locust's
    _own_arguments(own)
    namespace, rest = own.parse_known_args(list(args.locust_args or ()), namespace=argparse.Namespace(**vars(args)))
    return namespace, rest


def _locust_profile(name: str) -> Path:
    given = Path(name)
    candidates = [given] if given.suffix == ".py" else [given.with_suffix(".py"), _PROFILES / f"{name}.py"]
    candidates += [_ROOT / c for c in candidates if not c.is_absolute()]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    folders = (_PROFILES, _ROOT / _PROFILES)  # the project's own, then racelab's
    available = ", ".join(sorted({p.stem for folder in folders for p in folder.glob("[!_]*.py")})) or "none"
    raise InvalidScenario(f"no locust profile {name!r}: give a path or one of {available}")


def profile_scenario(profile: Path) -> str | None:
    """The scenario a profile chooses with `default_scenario("...")`, read from its source (importing a locustfile
    would monkey-patch this process with gevent)."""
    try:
        tree = ast.parse(profile.read_text(encoding="utf-8"), filename=str(profile))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr) == "default_scenario"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            return node.args[0].value
    return None


_RESERVED = {
    "--csv": "racelab load writes the CSV reports into its results folder itself (--csv); use --out to move it",
    "--html": "racelab load writes the HTML report into its results folder itself (--html); use --out to move it",
    "--racelab-report": "racelab load writes the verdict into its results folder itself (--racelab-report)",
    "--worker": "racelab load runs locust alone or as the master; start workers with plain locust: "
    "locust -f scenarios/load/race.py --worker --master-host HOST",
}


def _flag_given(argv: Sequence[str], *flags: str) -> bool:
    """Whether any of `flags` is in `argv`: `--name`, `--name=value`, `-x` or `-xvalue`."""
    return _option_value(argv, *flags) is not None or any(a in flags for a in argv)


def _run_seconds(value: str) -> float | None:
    """Locust's `-t` (`90`, `30s`, `1m30s`, `1h`) in seconds; None when it does not parse."""
    if re.fullmatch(r"\d+", value):
        return float(value)
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", value)
    if not match or not any(match.groups()):
        return None
    h, m, s = (int(g or 0) for g in match.groups())
    return float(h * 3600 + m * 60 + s)


def _option_value(argv: Sequence[str], *flags: str) -> str | None:
    for i, a in enumerate(argv):
        for f in flags:
            if a == f and i + 1 < len(argv):
                return argv[i + 1]
            if f.startswith("--") and a.startswith(f + "="):
                return a.split("=", 1)[1]
            if not f.startswith("--") and a.startswith(f) and len(a) > len(f):
                return a[len(f) :]
    return None


def _handle(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import asyncio

    options, extra = split_load_argv(args)
    return asyncio.run(_load(options, extra, list(argv)))


async def _load(args: argparse.Namespace, extra: list[str], argv: list[str]) -> int:
    from rich.console import Console
    from rich.markup import escape

    from harness.drive.embedded import open_embedded
    from harness.output.results import open_result_dir

    for flag, message in _RESERVED.items():
        if _flag_given(extra, flag):
            raise InvalidScenario(message)
    profile = _locust_profile(args.profile)
    args.scenario = args.scenario or profile_scenario(profile) or DEFAULT_SCENARIO
    plan = LoadPlan.load(args.scenario, seed=args.seed)  # bad input is reported before anything starts
    thresholds_from(args, plan.scenario, integrations=STRATEGIES)
    console = Console() if sys.stdout.isatty() else Console(width=160)
    folder = open_result_dir(args.out, f"load-{profile.stem}", now=datetime.now())
    report = folder / "summary.json"
    args.racelab_report = str(report)
    locust_args = [
        "-f",
        str(profile),
        *extra,
        *load_argv(args),
        "--csv",
        str(folder / "locust"),
        "--html",
        str(folder / "report.html"),
    ]
    if not _flag_given(extra, "--headless", "--autostart"):
        locust_args.append("--headless")
    if not _flag_given(extra, "-u", "--users"):
        locust_args += ["--users", "10"]
    if not _flag_given(extra, "-r", "--spawn-rate"):
        locust_args += ["--spawn-rate", _option_value(extra, "-u", "--users") or "10"]
    if not _flag_given(extra, "-t", "--run-time") and not args.iterations:
        locust_args += ["--run-time", "30s"]
    run_s = _run_seconds(_option_value(locust_args, "-t", "--run-time") or "")
    command = ["racelab", *argv]
    console.print(
        escape(f"racelab load: {profile} · scenario {plan.scenario.name} · results {folder}"), highlight=False
    )
    if _flag_given(extra, "-H", "--host"):
        code = await _run_locust(locust_args, folder, console, run_s)
    else:
        sim_profile = args.sim_profile or plan.scenario.profile
        overrides = {**plan.scenario.simulator, "seed": args.seed}
        async with open_embedded(sim_profile, overrides=overrides) as url:
            console.print(f"embedded simulator {url} · profile {sim_profile}", highlight=False)
            code = await _run_locust([*locust_args, "--host", url], folder, console, run_s)
    return _summarise(console, folder, report, code, command)


async def _run_locust(locust_args: list[str], folder: Path, console: Any, run_s: float | None) -> int:
    import asyncio

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from harness.drive.embedded import stop_process

    log = folder / "locust.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "locust", *locust_args, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
        progress = Progress(
            TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console, transient=True
        )
        try:
            with progress:
                task = progress.add_task("locust starting", total=run_s)
                started = time.monotonic()
                while True:
                    try:
                        return await asyncio.wait_for(proc.wait(), 0.5)
                    except TimeoutError:
                        pass
                    progress.update(
                        task,
                        completed=time.monotonic() - started,
                        description=_progress_line(folder / "locust_stats_history.csv"),
                    )
        finally:
            await stop_process(proc, grace_s=30)  # interrupted: let locust write its reports, then make sure it is gone


def _progress_line(history: Path) -> str:
    try:
        with history.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return "locust starting"
    if not rows:
        return "locust starting"
    last = rows[-1]
    return (
        f"users {last.get('User Count', '?')} · {float(last.get('Requests/s') or 0):.0f} req/s · "
        f"{last.get('Total Request Count', '?')} requests · {last.get('Total Failure Count', '?')} failed"
    )


def read_stats_csv(path: Path) -> list[dict[str, str]]:
    """The rows of locust's `<prefix>_stats.csv` (the `Aggregated` row included)."""
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _summarise(console: Any, folder: Path, report: Path, locust_code: int, command: Sequence[str]) -> int:
    from rich.markup import escape
    from rich.table import Table

    if not report.is_file():
        log = (folder / "locust.log").read_text(errors="replace").strip().splitlines()[-15:]
        console.print("\n".join(log), highlight=False, markup=False)
        console.print(f"[red]locust ended (exit {locust_code}) without a verdict[/]; log: {folder / 'locust.log'}")
        if locust_code == 2:
            return 2
        raise HarnessError(f"locust ended (exit {locust_code}) without a verdict; see {folder / 'locust.log'}")
    verdict = json.loads(report.read_text())
    verdict["command"] = shlex.join(command)
    report.write_text(json.dumps(verdict, indent=2) + "\n")
    stats_path = folder / "locust_stats.csv"
    if stats_path.is_file():
        table = Table(title="requests", title_justify="left")
        for col in ("type", "name", "requests", "failures", "p50 ms", "p95 ms", "req/s"):
            table.add_column(col, justify="left" if col in ("type", "name") else "right")
        for row in read_stats_csv(stats_path):
            table.add_row(
                row["Type"],
                escape(row["Name"]),  # `[id]` is not markup
                row["Request Count"],
                row["Failure Count"],
                row["50%"],
                row["95%"],
                f"{float(row['Requests/s'] or 0):.1f}",
            )
        console.print(table)
    tally = verdict.get("tally") or {}
    races = Table(title=f"races · scenario {verdict.get('scenario')}", title_justify="left")
    for col in ("integration", "runs", "violations", "unknown", "by checker"):
        races.add_column(col, justify="left" if col in ("integration", "by checker") else "right")
    for name, runs in sorted((tally.get("runs") or {}).items()):
        by = ", ".join(f"{k} {v}" for k, v in sorted(((tally.get("violated") or {}).get(name) or {}).items()))
        races.add_row(
            name,
            str(runs),
            str((tally.get("invalid") or {}).get(name, 0)),
            str((tally.get("unknown") or {}).get(name, 0)),
            by,
        )
    console.print(races)
    for key, text in list((tally.get("examples") or {}).items())[:6]:
        console.print(f"  e.g. {key}: {escape(text)}", highlight=False)
    if (skew := verdict.get("skew_ms")) and skew.get("p99") is not None:
        console.print(
            f"send skew: p50 {skew['p50']:.1f} ms · p99 {skew['p99']:.1f} ms (how late the load generator "
            "fired the steps)",
            highlight=False,
        )
    for result in verdict.get("thresholds") or ():
        mark = "[green]PASS[/]" if result["passed"] else "[red]FAIL[/]"
        console.print(f"{mark} {escape(result['threshold'])}: {escape(result['reason'])}", highlight=False)
    console.print(
        escape(f"results: {folder} (report.html, locust_stats.csv, summary.json)  ·  again: {shlex.join(command)}"),
        highlight=False,
    )
    return 0 if verdict.get("passed") else 1
