"""The thresholds that decide a load test's exit code, and the verdict `summary.json` holds.

Owns the limits (`ViolationLimit`, `Thresholds`, built from the options by `thresholds_from`, parsed by
`parse_max_violations` and `parse_max_p95`): violations allowed per integration (default: the scenario's `gate:`),
the ratio of failed HTTP requests, the p95 of named endpoints, runs that could not be judged, and a minimum of judged
runs. `evaluate` holds a `LoadTally` and locust's statistics (`EndpointStats`) against them, one `ThresholdResult`
per threshold; `verdict` is all of it as JSON. Pure functions of their inputs.

Imports: stdlib, `harness.errors`, `harness.load.tally`; `harness.scenarios` for types only. The locust process
imports this module under gevent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.errors import InvalidScenario
from harness.load.tally import LoadTally

if TYPE_CHECKING:
    from harness.scenarios import Gate, Scenario

__all__ = [
    "RACE_TYPE",
    "EndpointStats",
    "ThresholdResult",
    "Thresholds",
    "ViolationLimit",
    "evaluate",
    "parse_max_p95",
    "parse_max_violations",
    "thresholds_from",
    "verdict",
]

RACE_TYPE = "RACE"
"""The request type under which each judged run is reported to locust (name: the integration), so a violation
shows as a locust failure with its explanation. These entries are not HTTP requests: the failure ratio and the
request rates leave them out."""


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
