"""The thresholds that decide a load test's exit code, the tally merged from workers, and `racelab load`'s argument
handling: pure functions, tested on hand-built inputs."""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import InvalidScenario
from harness.load import (
    DEFAULT_SCENARIO,
    EndpointStats,
    LoadPlan,
    LoadTally,
    RaceOutcome,
    Thresholds,
    ViolationLimit,
    add_load_arguments,
    evaluate,
    load_argv,
    parse_max_p95,
    parse_max_violations,
    thresholds_from,
    verdict,
)
from harness.load.command import profile_scenario, split_load_argv
from harness.model.records import CheckResult, FinalState, Operation, Outcome, RunRecord, RunSpec, Step, Verdict

from .conftest import FAST_SCENARIO, ROOT

INVOICES = "/api/orders/pvt/document/[id]/invoices"


def options(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_load_arguments(parser)
    return parser.parse_args(list(argv))


def outcome(
    integration: str,
    verdict_: Verdict,
    *,
    checker: str = "no-over-invoice",
    order_id: str = "o-1",
    error: str | None = None,
    skew_ms: float | None = None,
    requests: int = 8,
) -> RaceOutcome:
    spec = RunSpec(
        run_id="r",
        scenario="s",
        integration=integration,
        cell={},
        repetition=0,
        seed=1,
        order_id=order_id,
        order={},
        steps=(Step(0.0, "invoice"),),
        expect=(checker,),
    )
    history: tuple[Operation, ...] = ()
    if skew_ms is not None:
        history = (
            Operation(
                index=0,
                actor=integration,
                f="invoice",
                outcome=Outcome.OK,
                t_invoke=skew_ms,
                t_complete=skew_ms + 1,
                scheduled_ms=0.0,
                sent_ms=skew_ms,
            ),
        )
    record = RunRecord(spec=spec, history=history, final=FinalState(order={"orderId": order_id}), error=error)
    text = {
        Verdict.INVALID: f"Order {order_id} is over-invoiced; Change 0f8fad5b-d9cb-469f-a165-70867728950e did it.",
        Verdict.UNKNOWN: "The simulator still had work pending.",
        Verdict.VALID: "fine",
    }[verdict_]
    return RaceOutcome(record, (CheckResult(checker, verdict_, text),), verdict_, requests)


# -- parsing ---------------------------------------------------------------------------------------------------------


def test_max_violations_takes_counts_infinity_and_percentages() -> None:
    limits = parse_max_violations("naive=inf, workaround=0,robust=2.5%,*=3")
    assert limits["naive"].count == math.inf
    assert limits["workaround"].count == 0
    assert limits["robust"].rate == pytest.approx(0.025)
    assert limits["*"].count == 3


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("naive", "expected integration=limit"),
        ("naive=", "expected integration=limit"),
        ("naive=lots", "expected a count, inf or a percentage"),
        ("naive=-1", "expected a count, inf or a percentage"),
        ("naive=-inf", "expected a count, inf or a percentage"),
        ("naive=1.5", "expected a count, inf or a percentage"),
        ("naive=150%", "expected a count, inf or a percentage"),
        ("naive=1,naive=2", "naive is given twice"),
        ("niave=0", "unknown integration 'niave'"),
    ],
)
def test_max_violations_refuses_what_it_cannot_read(spec: str, message: str) -> None:
    with pytest.raises(InvalidScenario, match=message):
        parse_max_violations(spec, known=("naive", "workaround"))


def test_max_p95_splits_on_the_last_equals_and_accepts_repeats_and_commas() -> None:
    limits = parse_max_p95([f"POST {INVOICES}=500", "GET /api/oms/pvt/orders/[id]=200ms, /_sim/quiesce=900"])
    assert limits == {f"POST {INVOICES}": 500.0, "GET /api/oms/pvt/orders/[id]": 200.0, "/_sim/quiesce": 900.0}


@pytest.mark.parametrize("spec", ["POST /x", "=500", "POST /x=0", "POST /x=fast", "POST /x=inf"])
def test_max_p95_refuses_a_spec_without_name_or_positive_limit(spec: str) -> None:
    with pytest.raises(InvalidScenario, match="--max-p95"):
        parse_max_p95([spec])


def test_thresholds_default_to_the_scenarios_gates_and_the_command_line_overrides_them() -> None:
    scenario = LoadPlan.load(FAST_SCENARIO, seed=1).scenario
    from_gates = thresholds_from(options(), scenario)
    assert from_gates.limit_for("workaround") == ViolationLimit(count=0, source="gate")
    assert from_gates.limit_for("naive").count == math.inf  # `reproduces` sets no limit
    overridden = thresholds_from(options("--max-violations", "workaround=2,*=0"), scenario)
    assert overridden.limit_for("workaround").count == 2
    assert overridden.limit_for("robust").count == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-fail-ratio", "1.5"], "--max-fail-ratio must be between 0 and 1"),
        (["--max-unknown", "-1"], "--max-unknown must not be negative"),
        (["--iterations", "-2"], "--iterations must not be negative"),
        (["--settle-timeout", "0"], "--settle-timeout must be positive"),
    ],
)
def test_thresholds_refuse_options_out_of_range(argv: list[str], message: str) -> None:
    with pytest.raises(InvalidScenario, match=message):
        thresholds_from(options(*argv))


# -- evaluating --------------------------------------------------------------------------------------------------


def tally_of(*outcomes: RaceOutcome) -> LoadTally:
    tally = LoadTally()
    for o in outcomes:
        tally.add(o, source="local")
    return tally


def results_by_name(thresholds: Thresholds, tally: LoadTally, endpoints: list[EndpointStats]) -> dict[str, bool]:
    return {r.threshold: r.passed for r in evaluate(thresholds, tally, endpoints)}


def test_violation_limits_per_integration_and_unknown_runs_count_as_possible_violations() -> None:
    tally = tally_of(
        outcome("naive", Verdict.INVALID),
        outcome("naive", Verdict.INVALID),
        outcome("workaround", Verdict.VALID),
        outcome("robust", Verdict.UNKNOWN),
    )
    limits = {
        "naive": ViolationLimit(count=math.inf),
        "workaround": ViolationLimit(count=0),
        "robust": ViolationLimit(count=0),
    }
    passed = results_by_name(Thresholds(violations=limits, max_unknown=5), tally, [])
    assert passed["violations naive"] is True
    assert passed["violations workaround"] is True
    assert passed["violations robust"] is False  # the run it could not judge might have been a violation
    assert passed["max unknown"] is True
    strict = results_by_name(Thresholds(violations={"naive": ViolationLimit(count=1)}), tally, [])
    assert strict["violations naive"] is False
    assert strict["max unknown"] is False


def test_a_rate_limit_is_a_share_of_the_integrations_runs() -> None:
    tally = tally_of(*(outcome("robust", Verdict.VALID) for _ in range(9)), outcome("robust", Verdict.INVALID))
    assert results_by_name(Thresholds(violations={"robust": ViolationLimit(rate=0.1)}), tally, [])["violations robust"]
    assert not results_by_name(Thresholds(violations={"robust": ViolationLimit(rate=0.05)}), tally, [])[
        "violations robust"
    ]


def test_a_named_limit_for_an_integration_that_did_not_run_fails_but_a_gate_does_not() -> None:
    tally = tally_of(outcome("naive", Verdict.VALID))
    named = Thresholds(violations={"workarund": ViolationLimit(count=0)})
    assert results_by_name(named, tally, [])["violations workarund"] is False
    gated = Thresholds(violations={"workaround": ViolationLimit(count=0, source="gate")})
    assert "violations workaround" not in results_by_name(gated, tally, [])


def test_fail_ratio_counts_http_rows_and_p95_limits_match_method_and_name() -> None:
    tally = tally_of(outcome("naive", Verdict.VALID))
    endpoints = [
        EndpointStats("POST", INVOICES, requests=90, failures=1, p95_ms=480.0),
        EndpointStats("GET", "/api/oms/pvt/orders/[id]", requests=10, failures=0, p95_ms=20.0),
    ]
    t = Thresholds(max_fail_ratio=0.02, max_p95_ms={f"POST {INVOICES}": 500.0, "/api/oms/pvt/orders/[id]": 10.0})
    passed = results_by_name(t, tally, endpoints)
    assert passed["max fail ratio"] is True  # 1 of 100
    assert passed[f"p95 POST {INVOICES}"] is True
    assert passed["p95 /api/oms/pvt/orders/[id]"] is False  # a bare name matches any method
    assert results_by_name(Thresholds(max_fail_ratio=0.0), tally, endpoints)["max fail ratio"] is False


def test_a_p95_limit_for_an_endpoint_nobody_requested_fails_and_says_what_was_seen() -> None:
    endpoints = [EndpointStats("POST", INVOICES, requests=3, failures=0, p95_ms=40.0)]
    [result] = [
        r
        for r in evaluate(Thresholds(max_p95_ms={"POST /invoice": 100.0}), LoadTally(), endpoints)
        if r.threshold.startswith("p95")
    ]
    assert not result.passed
    assert f"POST {INVOICES}" in result.reason


def test_min_runs_fails_a_test_that_judged_nothing() -> None:
    passed = results_by_name(Thresholds(min_runs=1), LoadTally(), [])
    assert passed["min runs"] is False


def test_verdict_passes_only_when_every_threshold_holds() -> None:
    tally = tally_of(outcome("naive", Verdict.INVALID))
    assert verdict(Thresholds(), tally, [], scenario="s")["passed"] is True  # no limit on naive
    failed = verdict(Thresholds(violations={"naive": ViolationLimit(count=0)}), tally, [], scenario="s")
    assert failed["passed"] is False
    assert failed["tally"]["violated"] == {"naive": {"no-over-invoice": 1}}


# -- the tally ------------------------------------------------------------------------------------------------------


def test_a_workers_drained_tally_merges_into_the_masters_and_resets() -> None:
    worker = tally_of(
        outcome("naive", Verdict.INVALID, order_id="w-1", skew_ms=0.25),
        outcome("workaround", Verdict.UNKNOWN, order_id="w-2"),
    )
    master = LoadTally()
    master.merge(worker.drain())
    master.merge(worker.drain())  # nothing new: merging it again adds nothing
    assert master.runs == {"naive": 1, "workaround": 1}
    assert master.invalid == {"naive": 1}
    assert master.unknown == {"workaround": 1}
    assert master.iterations == 2
    assert master.sources == {"local": {"runs": 2, "requests": 16}}
    assert master.examples["naive no-over-invoice"].startswith("Order w-1 is over-invoiced")
    assert master.unknown_example == "w-2: The simulator still had work pending."
    assert master.skew_ms(99) == pytest.approx(0.3)  # the 0.2-0.3 ms bucket's upper edge
    assert worker.runs == {}
    assert worker.iterations == 0


def test_skew_percentiles_come_from_the_histogram() -> None:
    tally = tally_of(*(outcome("naive", Verdict.VALID, skew_ms=ms) for ms in (0.05, 0.15, 0.15, 5.0)))
    assert tally.skew_ms(50) == pytest.approx(0.2)
    assert tally.skew_ms(99) == pytest.approx(5.1)
    assert LoadTally().skew_ms(50) is None


def test_a_failure_row_names_no_order_and_no_request_id_so_alike_runs_share_it() -> None:
    one = outcome("naive", Verdict.INVALID, order_id="race-naive-1").failure_text()
    two = outcome("naive", Verdict.INVALID, order_id="race-naive-2").failure_text()
    assert one == two == "no-over-invoice: Order <order> is over-invoiced; Change <requestId> did it."
    unknown = outcome("naive", Verdict.VALID, error="seeding order o-1 failed: 409").failure_text()
    assert unknown == "seeding order <order> failed: 409"


# -- racelab load's arguments -----------------------------------------------------------------------------------


def test_racelab_options_after_the_profile_are_racelabs_and_the_rest_is_locusts() -> None:
    from harness.cli import build_parser as _parser

    args = _parser().parse_args(
        [
            "load",
            "--seed",
            "3",
            "race",
            "-u",
            "5",
            "-t",
            "10s",
            "--max-violations",
            "naive=inf",
            "WorkaroundUser",
            "--iterations",
            "2",
            "--host",
            "http://x",
        ]
    )
    own, rest = split_load_argv(args)
    assert (own.profile, own.seed, own.iterations, own.max_violations) == ("race", 3, 2, "naive=inf")
    assert rest == ["-u", "5", "-t", "10s", "WorkaroundUser", "--host", "http://x"]
    again = load_argv(own)
    assert again[again.index("--max-violations") + 1] == "naive=inf"
    assert again[again.index("--iterations") + 1] == "2"


def test_a_profile_names_its_scenario_and_racelab_load_reads_it_without_importing_locust(tmp_path: Path) -> None:
    assert profile_scenario(ROOT / "scenarios/load/faults.py") == "scenarios/faults.yaml"
    assert profile_scenario(ROOT / "scenarios/load/race.py") is None
    assert DEFAULT_SCENARIO == "scenarios/over-invoice.yaml"


def test_importing_harness_load_loads_neither_locust_nor_an_event_loop() -> None:
    # Of the simulator, only its contract (header names, money) and the package face that holds it.
    probe = (
        "import sys, harness.load; "
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent', 'asyncio', "
        "'aiohttp', 'rich', 'pydantic') or (m.startswith('simulator.') and not m.startswith('simulator.contract')))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
