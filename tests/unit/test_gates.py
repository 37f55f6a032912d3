"""Aggregating judged runs and deciding gates (`harness.judge.gates`), on hand-built runs and check results; and the
one verdict of a run (`run_verdict`) they count by."""

# The reasons people read write ranges with an en dash ("95% CI 6.8 to 12.5%" with U+2013); tests spell them so.
# ruff: noqa: RUF001

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from harness.judge.gates import Aggregate, aggregate, evaluate_gates
from harness.model.records import CheckResult, FinalState, RunRecord, RunSpec, Step, Verdict, run_verdict
from harness.model.summary import GateResult

OVER = "no-over-invoice"
STUCK = "invoiced-when-fully-invoiced"
EXPECT = (OVER, STUCK)

Judged = tuple[RunRecord, tuple[CheckResult, ...]]


@dataclass(frozen=True, slots=True)
class Gate:
    """Shaped like `harness.scenarios.Gate`; gates.py only needs the three attributes."""

    reproduces: bool | tuple[str, ...] | None = None
    violations: int | None = None
    max_rate: float | None = None


def record(
    run_id: str,
    *,
    integration: str = "naive",
    scenario: str = "over-invoice",
    cell: dict[str, Any] | None = None,
    error: str | None = None,
    expect: tuple[str, ...] = EXPECT,
) -> RunRecord:
    spec = RunSpec(
        run_id=run_id,
        scenario=scenario,
        integration=integration,
        cell={"change.at_ms": 100} if cell is None else cell,
        repetition=0,
        seed=7,
        order_id=f"order-{run_id}",
        order={},
        steps=(Step(at_ms=0.0, do="invoice"),),
        expect=expect,
    )
    return RunRecord(spec=spec, history=(), final=FinalState(order={}), error=error)


def results(
    invalid: Sequence[str] = (), unknown: Sequence[str] = (), checkers: Sequence[str] = EXPECT
) -> tuple[CheckResult, ...]:
    """One result per checker: invalid for the names in `invalid`, unknown for `unknown`, valid otherwise."""

    def verdict(name: str) -> Verdict:
        if name in invalid:
            return Verdict.INVALID
        return Verdict.UNKNOWN if name in unknown else Verdict.VALID

    return tuple(CheckResult(checker=name, verdict=verdict(name), explanation=f"{name} says so") for name in checkers)


def runs(
    n: int,
    *,
    invalid: Sequence[str] = (),
    unknown: Sequence[str] = (),
    prefix: str = "r",
    **kwargs: Any,
) -> list[Judged]:
    return [(record(f"{prefix}-{i}", **kwargs), results(invalid, unknown)) for i in range(n)]


def decide(judged: list[Judged], gate: Gate, *, integration: str = "naive") -> GateResult:
    (result,) = evaluate_gates(aggregate(judged), {"over-invoice": {integration: gate}})
    return result


class TestRunVerdict:
    def test_invalid_beats_unknown_beats_valid(self) -> None:
        assert run_verdict(record("a"), results()) is Verdict.VALID
        assert run_verdict(record("a"), results(unknown=[STUCK])) is Verdict.UNKNOWN
        assert run_verdict(record("a"), results(invalid=[OVER], unknown=[STUCK])) is Verdict.INVALID

    def test_a_run_cut_short_is_never_valid(self) -> None:
        assert run_verdict(record("a", error="connection reset"), results()) is Verdict.UNKNOWN
        assert run_verdict(record("a", error="connection reset"), results(invalid=[OVER])) is Verdict.INVALID

    def test_an_expected_checker_without_a_result_makes_the_run_unknown(self) -> None:
        assert run_verdict(record("a"), results(checkers=[OVER])) is Verdict.UNKNOWN
        assert run_verdict(record("a", expect=()), ()) is Verdict.VALID


class TestAggregate:
    def test_counts_per_group_and_per_checker_with_examples(self) -> None:
        judged = [
            *runs(6, prefix="ok"),
            *runs(3, invalid=[OVER], prefix="over"),
            *runs(1, invalid=[OVER, STUCK], prefix="both"),
            *runs(2, unknown=[STUCK], prefix="unsure"),
            *runs(4, integration="workaround", prefix="w"),
        ]
        agg = aggregate(judged)
        naive = agg.group("over-invoice", "naive")
        assert naive is not None
        assert (naive.runs, naive.invalid, naive.unknown, naive.valid) == (12, 4, 2, 6)
        assert naive.rate == pytest.approx(4 / 12)
        assert naive.interval == pytest.approx((0.1381, 0.6093), abs=1e-4)
        assert naive.checkers[OVER].to_json() == {"valid": 8, "invalid": 4, "unknown": 0}
        assert naive.checkers[STUCK].to_json() == {"valid": 9, "invalid": 1, "unknown": 2}
        assert naive.examples == {OVER: "over-0", STUCK: "both-0"}
        assert naive.unknown_example == "unsure-0"
        assert naive.invalid_by([STUCK]) == 1
        assert naive.invalid_by([OVER, STUCK]) == 4
        workaround = agg.group("over-invoice", "workaround")
        assert workaround is not None
        assert (workaround.runs, workaround.invalid, workaround.examples) == (4, 0, {})
        assert agg.group("over-invoice", "robust") is None

    def test_cells_follow_their_group_sorted_by_value(self) -> None:
        judged = [
            *runs(1, cell={"change.at_ms": 1000}, invalid=[OVER], prefix="late"),
            *runs(2, cell={"change.at_ms": 50}, invalid=[OVER], prefix="early"),
            *runs(1, cell={"change.at_ms": 250}, prefix="mid"),
            *runs(1, cell={"change.at_ms": 50}, integration="workaround", prefix="w"),
            *runs(1, cell={"change.at_ms": 50}, scenario="stuck", prefix="s"),
        ]
        agg = aggregate(judged)
        assert [(t.scenario, t.integration, t.cell, t.runs, t.invalid) for t in agg.cells] == [
            ("over-invoice", "naive", {"change.at_ms": 50}, 2, 2),
            ("over-invoice", "naive", {"change.at_ms": 250}, 1, 0),
            ("over-invoice", "naive", {"change.at_ms": 1000}, 1, 1),
            ("over-invoice", "workaround", {"change.at_ms": 50}, 1, 0),
            ("stuck", "naive", {"change.at_ms": 50}, 1, 0),
        ]
        assert [(t.scenario, t.integration) for t in agg.groups] == [
            ("over-invoice", "naive"),
            ("over-invoice", "workaround"),
            ("stuck", "naive"),
        ]
        assert all(t.cell is None for t in agg.groups)

    def test_nothing_to_aggregate(self) -> None:
        assert aggregate([]) == Aggregate(groups=(), cells=())

    def test_to_json(self) -> None:
        agg = aggregate(runs(2, invalid=[OVER]) + runs(2, prefix="ok"))
        group = agg.to_json()["groups"][0]
        assert group["runs"] == 4
        assert group["invalid"] == 2
        assert group["rate"] == 0.5
        assert group["ci95"] == pytest.approx([0.1500, 0.8500], abs=1e-4)
        assert group["examples"] == {OVER: "r-0"}
        assert "cell" not in group
        assert agg.to_json()["cells"][0]["cell"] == {"change.at_ms": 100}


class TestReproduces:
    def test_passes_with_one_invalid_run_and_says_how_often(self) -> None:
        judged = runs(37, invalid=[OVER]) + runs(363, prefix="ok")
        result = decide(judged, Gate(reproduces=True))
        assert result.passed
        assert (
            result.reason
            == "naive reproduces: 37 of 400 runs violate no-over-invoice (9.3%, 95% CI 6.8–12.5%), e.g. run r-0"
        )
        assert (result.condition, result.expected, result.runs, result.invalid) == ("reproduces", True, 400, 37)

    def test_names_the_most_frequent_checker_when_several_find_violations(self) -> None:
        judged = runs(1, invalid=[STUCK], prefix="s") + runs(2, invalid=[OVER], prefix="o") + runs(7, prefix="ok")
        result = decide(judged, Gate(reproduces=True))
        assert result.passed
        assert "3 of 10 runs violate an invariant (30.0%" in result.reason
        assert "most often no-over-invoice (2 runs, e.g. run o-0)" in result.reason

    def test_fails_without_an_invalid_run_and_unknown_runs_do_not_count(self) -> None:
        judged = runs(8) + runs(2, unknown=[OVER], prefix="u")
        result = decide(judged, Gate(reproduces=True))
        assert not result.passed
        assert result.reason == (
            "naive does not reproduce: none of 10 runs violates an invariant (95% CI 0.0–27.8%); "
            "2 runs could not be judged (e.g. run u-0)"
        )

    def test_named_checkers_only(self) -> None:
        judged = runs(5, invalid=[STUCK]) + runs(5, prefix="ok")
        assert not decide(judged, Gate(reproduces=(OVER,))).passed
        result = decide(judged, Gate(reproduces=(OVER, STUCK)))
        assert result.passed
        assert result.reason == (
            "naive reproduces: 5 of 10 runs violate no-over-invoice or invoiced-when-fully-invoiced "
            "(50.0%, 95% CI 23.7–76.3%), e.g. run r-0"
        )

    def test_a_named_checker_that_never_ran_is_reported(self) -> None:
        result = decide(runs(3), Gate(reproduces=("no-lost-invoice",)))
        assert not result.passed
        assert result.reason == (
            "naive does not reproduce: none of 3 runs violates no-lost-invoice (95% CI 0.0–56.2%); "
            "no-lost-invoice judged no run"
        )

    def test_a_list_of_names_works_like_a_tuple(self) -> None:
        @dataclass
        class ListGate:
            reproduces: list[str]
            violations: int | None = None
            max_rate: float | None = None

        (result,) = evaluate_gates(aggregate(runs(1, invalid=[OVER])), {"over-invoice": {"naive": ListGate([OVER])}})
        assert result.passed
        assert result.expected == (OVER,)

    def test_no_names_fails(self) -> None:
        result = decide(runs(1, invalid=[OVER]), Gate(reproduces=()))
        assert not result.passed
        assert "names no checker" in result.reason

    def test_false_means_it_must_not_reproduce(self) -> None:
        assert decide(runs(3), Gate(reproduces=False)).passed
        bad = decide(runs(1, invalid=[OVER]) + runs(2, prefix="ok"), Gate(reproduces=False))
        assert not bad.passed
        assert bad.reason.startswith("naive reproduces but must not: 1 of 3 runs violate no-over-invoice")
        unsure = decide(runs(1, unknown=[OVER]) + runs(2, prefix="ok"), Gate(reproduces=False))
        assert not unsure.passed
        assert "1 run could not be judged (e.g. run r-0)" in unsure.reason


class TestViolations:
    def test_passes_at_or_under_the_limit(self) -> None:
        result = decide(runs(400, integration="workaround"), Gate(violations=0), integration="workaround")
        assert result.passed
        assert result.reason == (
            "workaround holds, at most 0 allowed: none of 400 runs violates an invariant (95% CI 0.0–1.0%)"
        )
        assert decide(runs(2, invalid=[OVER]) + runs(8, prefix="ok"), Gate(violations=2)).passed

    def test_fails_over_the_limit(self) -> None:
        result = decide(runs(3, invalid=[OVER]) + runs(397, prefix="ok"), Gate(violations=0))
        assert not result.passed
        assert result.reason == (
            "naive fails, more than 0 allowed: 3 of 400 runs violate no-over-invoice (0.8%, 95% CI 0.3–2.2%), "
            "e.g. run r-0"
        )

    def test_a_gate_that_cannot_see_does_not_pass(self) -> None:
        result = decide(runs(1, unknown=[STUCK], prefix="u") + runs(9), Gate(violations=0))
        assert not result.passed
        assert result.unknown == 1
        assert result.reason == (
            "naive fails: 1 run of 10 could not be judged (e.g. run u-0), "
            "so at most 0 violations cannot be confirmed (0 found)"
        )

    def test_a_run_cut_short_by_a_harness_error_cannot_be_judged(self) -> None:
        judged = [(record("cut", error="connection refused"), results()), *runs(9)]
        result = decide(judged, Gate(violations=0))
        assert not result.passed
        assert "1 run of 10 could not be judged (e.g. run cut)" in result.reason

    def test_unknown_runs_count_as_possible_violations(self) -> None:
        judged = runs(1, invalid=[OVER], prefix="bad") + runs(1, unknown=[OVER], prefix="u") + runs(8)
        assert not decide(judged, Gate(violations=1)).passed
        result = decide(judged, Gate(violations=2))
        assert result.passed
        assert result.reason == (
            "naive holds, at most 2 allowed: 1 of 10 runs violate no-over-invoice (10.0%, 95% CI 1.8–40.4%), "
            "e.g. run bad-0; 1 run could not be judged and counted as violations (e.g. run u-0)"
        )


class TestMaxRate:
    def test_passes_at_or_under_the_rate(self) -> None:
        result = decide(runs(1, invalid=[OVER]) + runs(9, prefix="ok"), Gate(max_rate=0.1))
        assert result.passed
        assert result.reason == (
            "naive holds, within the 10% allowed: 1 of 10 runs violate no-over-invoice (10.0%, 95% CI 1.8–40.4%), "
            "e.g. run r-0"
        )

    def test_fails_above_the_rate(self) -> None:
        result = decide(runs(2, invalid=[OVER]) + runs(8, prefix="ok"), Gate(max_rate=0.1))
        assert not result.passed
        assert result.reason.startswith("naive fails, above the 10% allowed: 2 of 10 runs violate no-over-invoice")

    def test_unknown_runs_count_as_possible_violations(self) -> None:
        judged = runs(1, unknown=[OVER], prefix="u") + runs(9)
        result = decide(judged, Gate(max_rate=0.05))
        assert not result.passed
        assert result.reason == (
            "naive fails: 1 run of 10 could not be judged (e.g. run u-0); "
            "counted as violations the rate could be 10.0%, above the 5% allowed"
        )
        assert decide(judged, Gate(max_rate=0.1)).passed


class TestEvaluateGates:
    def test_no_gate_no_result(self) -> None:
        agg = aggregate(runs(2) + runs(2, integration="workaround"))
        assert evaluate_gates(agg, {}) == ()
        assert evaluate_gates(agg, {"over-invoice": {"naive": None}}) == ()
        assert evaluate_gates(agg, {"over-invoice": {"naive": Gate()}}) == ()

    def test_one_result_per_condition_in_gate_order(self) -> None:
        agg = aggregate(runs(1, invalid=[OVER]) + runs(3, prefix="ok") + runs(4, integration="workaround"))
        decided = evaluate_gates(
            agg,
            {
                "over-invoice": {
                    "naive": Gate(reproduces=True, max_rate=0.5),
                    "workaround": Gate(violations=0),
                }
            },
        )
        assert [(g.integration, g.condition, g.passed) for g in decided] == [
            ("naive", "reproduces", True),
            ("naive", "max_rate", True),
            ("workaround", "violations", True),
        ]
        assert decided[0].name == "naive: reproduces"

    def test_a_gate_without_runs_fails(self) -> None:
        agg = aggregate(runs(2))
        decided = evaluate_gates(
            agg, {"over-invoice": {"robust": Gate(violations=0)}, "stuck": {"naive": Gate(reproduces=True)}}
        )
        assert [(g.scenario, g.integration, g.passed, g.runs) for g in decided] == [
            ("over-invoice", "robust", False, 0),
            ("stuck", "naive", False, 0),
        ]
        assert decided[0].reason == "robust has no runs in over-invoice, so its gate cannot pass"

    def test_to_json(self) -> None:
        result = decide(runs(1, invalid=[OVER]), Gate(reproduces=(OVER,)))
        assert result.to_json() == {
            "scenario": "over-invoice",
            "integration": "naive",
            "condition": "reproduces",
            "expected": [OVER],
            "passed": True,
            "reason": result.reason,
            "runs": 1,
            "invalid": 1,
            "unknown": 0,
        }


def test_stats_and_gates_stay_pure() -> None:
    """Checkers' neighbours are imported by locust profiles (gevent): no asyncio, aiohttp or simulator."""
    code = (
        "import sys, harness.judge.stats, harness.judge.gates; "
        "print(sorted(m for m in ('asyncio', 'aiohttp', 'simulator') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
