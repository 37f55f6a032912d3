"""The summary one run at a time (`harness.judge.SummaryBuilder`): the same `Summary` as over the list, on hand-built
sweeps and on a real virtual-time suite; the same whatever order the runs arrive in when each says its place; what
the console prints besides the table; and a retained size that does not grow with the runs' records.

The reference the builder is held to is `oracle_summary` below: issue 17's list-based computation (every run walked
once per statistic, "first" meaning first in the list), kept here verbatim in spirit so the incremental one cannot
drift from it unnoticed.
"""

from __future__ import annotations

import gc
import json
import random
import tracemalloc
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from harness.judge.gates import Aggregate, GateLike, evaluate_gates
from harness.judge.stats import percentile, time_to_invoice, wilson
from harness.judge.summarize import Example, RunError, SummaryBuilder, build_summary
from harness.model.codec import read_runs
from harness.model.records import CheckResult, FinalState, Operation, Outcome, RunRecord, RunSpec, Step, Verdict
from harness.model.records import run_verdict as verdict_of
from harness.model.summary import (
    CheckerTally,
    CostSummary,
    IntegrationCost,
    SkewSummary,
    Summary,
    Tally,
    TimeToInvoice,
)
from harness.scenarios import load_scenario
from tests.support.cli import only_result, racelab

OVER, STUCK, CHANGE = "no-over-invoice", "invoiced-when-fully-invoiced", "change-respects-invoices"
CHECKERS = (OVER, STUCK, CHANGE)
Judged = tuple[RunRecord, tuple[CheckResult, ...]]


# -- the reference ---------------------------------------------------------------------------------------------------


def _oracle_tallies(judged: Sequence[Judged]) -> Aggregate:
    scenarios: dict[str, int] = {}
    integrations: dict[str, int] = {}
    found: dict[tuple[str, str, str | None], dict[str, Any]] = {}
    for record, results in judged:
        spec, verdict = record.spec, verdict_of(record, results)
        scenarios.setdefault(spec.scenario, len(scenarios))
        integrations.setdefault(spec.integration, len(integrations))
        cell = json.dumps(dict(spec.cell), sort_keys=True, default=str)
        for key in ((spec.scenario, spec.integration, None), (spec.scenario, spec.integration, cell)):
            t = found.setdefault(key, {"cell": spec.cell, "runs": 0, "invalid": 0, "unknown": 0, "checkers": {}})
            t.setdefault("examples", {})
            t.setdefault("unknown_example", None)
            t.setdefault("violated_by", {})
            t["runs"] += 1
            for r in results:
                t["checkers"].setdefault(r.checker, {v: 0 for v in Verdict})[r.verdict] += 1
                if r.verdict is Verdict.INVALID:
                    t["examples"].setdefault(r.checker, spec.run_id)
            if verdict is Verdict.INVALID:
                t["invalid"] += 1
                by = frozenset(r.checker for r in results if r.verdict is Verdict.INVALID)
                t["violated_by"][by] = t["violated_by"].get(by, 0) + 1
            elif verdict is Verdict.UNKNOWN:
                t["unknown"] += 1
                t["unknown_example"] = t["unknown_example"] or spec.run_id

    def tally(key: tuple[str, str, str | None]) -> Tally:
        t = found[key]
        return Tally(
            scenario=key[0],
            integration=key[1],
            cell=None if key[2] is None else t["cell"],
            runs=t["runs"],
            invalid=t["invalid"],
            unknown=t["unknown"],
            checkers={n: CheckerTally(*(c[v] for v in Verdict)) for n, c in t["checkers"].items()},
            examples=t["examples"],
            unknown_example=t["unknown_example"],
            interval=wilson(t["invalid"], t["runs"]),
            violated_by=t["violated_by"],
        )

    def order(key: tuple[str, str, str | None]) -> tuple[int, int]:
        return scenarios[key[0]], integrations[key[1]]

    def by_value(key: tuple[str, str, str | None]) -> list[tuple[str, int, float, str]]:
        values = sorted(found[key]["cell"].items())
        return [
            (k, 0, float(v), "")
            if isinstance(v, int | float) and not isinstance(v, bool)
            else (k, 1, 0.0, json.dumps(v, sort_keys=True, default=str))
            for k, v in values
        ]

    groups = sorted((k for k in found if k[2] is None), key=order)
    cells = sorted((k for k in found if k[2] is not None), key=lambda k: (order(k), by_value(k)))
    return Aggregate(groups=tuple(map(tally, groups)), cells=tuple(map(tally, cells)))


def _oracle_cost(records: Sequence[RunRecord]) -> CostSummary:
    by: dict[str, dict[tuple[str, str, int], RunRecord]] = {}
    for r in records:
        key = (r.spec.scenario, json.dumps(dict(r.spec.cell), sort_keys=True, default=str), r.spec.repetition)
        by.setdefault(r.spec.integration, {}).setdefault(key, r)
    baseline = "naive" if "naive" in by else next(iter(by), None)
    base = {key: time_to_invoice(r) for key, r in by.get(baseline or "", {}).items()}
    costs = {}
    for name, runs in by.items():
        if name != baseline:
            added = [
                mine - theirs
                for key, r in runs.items()
                if (mine := time_to_invoice(r)) is not None and (theirs := base.get(key)) is not None
            ]
            costs[name] = IntegrationCost(
                len(added), len(runs) - len(added), percentile(added, 50), percentile(added, 99)
            )
    return CostSummary(baseline=baseline, integrations=costs)


def oracle_summary(judged: Sequence[Judged], gates: Mapping[str, Mapping[str, GateLike | None]]) -> Summary:
    agg = _oracle_tallies(judged)
    records = [r for r, _ in judged]
    skews = [s for r in records for op in r.history if (s := op.skew_ms) is not None]
    times: dict[str, list[float | None]] = {}
    for r in records:
        times.setdefault(r.spec.integration, []).append(time_to_invoice(r))
    decided = evaluate_gates(agg, gates)
    return Summary(
        passed=all(g.passed for g in decided),
        runs=len(judged),
        invalid=sum(t.invalid for t in agg.groups),
        unknown=sum(t.unknown for t in agg.groups),
        seed=None,
        command=None,
        gates=decided,
        groups=agg.groups,
        cells=agg.cells,
        skew_ms=SkewSummary(len(skews), percentile(skews, 50), percentile(skews, 99), max(skews, default=None)),
        time_to_invoice_ms={
            name: TimeToInvoice(
                len(ts), len(got := [t for t in ts if t is not None]), percentile(got, 50), percentile(got, 99)
            )
            for name, ts in times.items()
        },
        invoice_cost_ms=_oracle_cost(records),
    )


# -- hand-built sweeps -----------------------------------------------------------------------------------------------


class Gate:
    def __init__(self, reproduces: bool | tuple[str, ...] | None = None, violations: int | None = None) -> None:
        self.reproduces, self.violations, self.max_rate = reproduces, violations, None


GATES: dict[str, dict[str, GateLike | None]] = {
    "over-invoice": {"naive": Gate(reproduces=True), "workaround": Gate(violations=0)},
    "stuck": {"naive": Gate(reproduces=(STUCK,)), "robust": Gate(violations=0)},
}


def make_run(index: int, rng: random.Random) -> Judged:
    """A run of a sweep of 2 scenarios, 3 integrations and 5 offsets, with violations, unknown runs, runs cut
    short, skews and invoices drawn from `rng`."""
    scenario = ("over-invoice", "stuck")[index // 600 % 2]
    integration = ("naive", "workaround", "robust")[index % 3]
    offset = (50, 100, 250, 500, 1000)[index // 3 % 5]
    run_id = f"{index // 15:04d}-{offset}-{integration}"
    spec = RunSpec(
        run_id=run_id,
        scenario=scenario,
        integration=integration,
        cell={"change.at_ms": offset, "lag": "high" if index // 15 % 7 == 0 else "low"},
        repetition=index // 15,
        seed=7,
        order_id=f"o-{index}",
        order={"items": [{"id": "sku-1", "price": 4990, "quantity": 2}]},
        steps=(Step(0.0, "invoice"), Step(float(offset), "change")),
        expect=CHECKERS,
    )
    invoiced = rng.random() < 0.9
    history = (
        Operation(0, integration, "get_order", Outcome.OK, 0.0, 3.0, step=0, scheduled_ms=0.0, sent_ms=rng.random()),
        Operation(
            1,
            integration,
            "invoice",
            Outcome.OK if invoiced else Outcome.INFO,
            5.0,
            5.0 + rng.expovariate(1 / 40),
            request={"invoiceNumber": f"NF-{index}", "invoiceValue": 10980},
            step=0,
        ),
        Operation(
            2, integration, "change", Outcome.OK, offset, offset + 8, step=1, scheduled_ms=offset, sent_ms=offset
        ),
    )
    error = "connection reset" if index % 97 == 41 else None
    record = RunRecord(spec=spec, history=history, final=FinalState(order={"orderId": f"o-{index}"}), error=error)

    def verdict(rate: float) -> Verdict:
        draw = rng.random()
        return Verdict.INVALID if draw < rate else Verdict.UNKNOWN if draw < rate + 0.02 else Verdict.VALID

    rate = 0.3 if integration == "naive" else 0.0
    results = tuple(
        CheckResult(name, verdict(rate / (n + 1)), f"{name} on {run_id}") for n, name in enumerate(CHECKERS)
    )
    return record, results


def sweep(n: int, seed: int = 1) -> Iterator[Judged]:
    rng = random.Random(seed)
    for index in range(n):
        yield make_run(index, rng)


def test_the_builder_matches_the_list_based_reference_field_for_field() -> None:
    judged = list(sweep(1800))
    builder = SummaryBuilder()
    for record, results in judged:
        builder.add(record, results)
    summary = builder.build(gates=GATES)
    assert summary == oracle_summary(judged, GATES)
    assert summary == build_summary(judged, gates=GATES)
    assert summary.invalid > 100
    assert summary.unknown > 10
    assert summary.invoice_cost_ms.integrations["workaround"].pairs > 100
    assert [t.integration for t in summary.groups[:3]] == ["naive", "workaround", "robust"]


def test_a_sweep_completed_out_of_order_summarises_as_if_in_order_when_each_run_says_its_place() -> None:
    judged = list(sweep(900, seed=3))
    order = list(range(len(judged)))
    random.Random(5).shuffle(order)
    shuffled = SummaryBuilder()
    for index in order:
        shuffled.add(*judged[index], index=index)
    in_order = build_summary(judged, gates=GATES)
    assert shuffled.build(gates=GATES) == in_order
    assert shuffled.examples == examples_of(judged)
    assert shuffled.first_error == next(
        RunError(r.spec.scenario, r.spec.integration, r.spec.run_id, r.error) for r, _ in judged if r.error is not None
    )
    without_places = SummaryBuilder()
    for index in order:
        without_places.add(*judged[index])
    assert without_places.build(gates=GATES) != in_order  # first-to-arrive examples differ: the places matter


def examples_of(judged: Sequence[Judged]) -> tuple[Example, ...]:
    """What the suite printed before the builder: the first invalid run per (scenario, integration, checker)."""
    found: dict[tuple[str, str, str], Example] = {}
    for record, results in judged:
        for r in results:
            if r.verdict is Verdict.INVALID:
                key = (record.spec.scenario, record.spec.integration, r.checker)
                found.setdefault(key, Example(*key, record.spec.run_id, r.explanation))
    return tuple(found.values())


def test_what_the_console_prints_besides_the_table() -> None:
    judged = list(sweep(300, seed=11))
    builder = SummaryBuilder()
    verdicts = [builder.add(record, results) for record, results in judged]
    assert verdicts == [verdict_of(record, results) for record, results in judged]
    assert builder.runs == 300
    assert builder.examples == examples_of(judged)
    assert {e.integration for e in builder.examples} == {"naive"}  # the only one that breaks anything
    cut_short = [record for record, _ in judged if record.error is not None]
    assert builder.errors == len(cut_short) > 0
    first = cut_short[0].spec
    assert builder.first_error == RunError(first.scenario, first.integration, first.run_id, "connection reset")
    assert builder.ran("over-invoice", "robust")
    assert not builder.ran("stuck", "naive")


def test_an_empty_builder_builds_the_summary_of_no_runs() -> None:
    summary = SummaryBuilder().build(gates={"over-invoice": {"naive": Gate(reproduces=True)}})
    assert summary == build_summary([], gates={"over-invoice": {"naive": Gate(reproduces=True)}})
    assert (summary.passed, summary.runs, summary.gates[0].reason) == (
        False,
        0,
        "naive has no runs in over-invoice, so its gate cannot pass",
    )
    assert summary.skew_ms == SkewSummary(count=0, p50=None, p99=None, max=None)
    assert summary.invoice_cost_ms == CostSummary(baseline=None, integrations={})
    assert (SummaryBuilder().first_error, SummaryBuilder().examples) == (None, ())


def test_the_builder_can_build_again_after_more_runs() -> None:
    judged = list(sweep(120))
    builder = SummaryBuilder()
    for record, results in judged[:60]:
        builder.add(record, results)
    assert builder.build(gates=GATES) == build_summary(judged[:60], gates=GATES)
    for record, results in judged[60:]:
        builder.add(record, results)
    assert builder.build(gates=GATES) == build_summary(judged, gates=GATES)


# -- memory ----------------------------------------------------------------------------------------------------------


def traced(action: Callable[[], object]) -> tuple[object, int]:
    """What `action` returns, and the bytes it leaves allocated once garbage is collected."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = action()
        gc.collect()
        return kept, tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_twenty_thousand_runs_keep_the_builder_small() -> None:
    runs = 20_000
    rng = random.Random(2)
    _, one_run = traced(lambda: make_run(7, rng))
    # The check can fail: a builder that kept the runs would hold far more than the limit.
    assert one_run * runs > 40 * 2**20

    def feed() -> SummaryBuilder:
        builder = SummaryBuilder()
        for record, results in sweep(runs, seed=2):
            builder.add(record, results)
        return builder

    builder, retained = traced(feed)
    assert isinstance(builder, SummaryBuilder)
    assert retained < 10 * 2**20, f"{retained / 2**20:.1f} MB retained for {runs} runs"
    summary = builder.build(gates=GATES)
    assert summary.runs == runs
    assert summary.skew_ms.count == 2 * runs


# -- a real suite ----------------------------------------------------------------------------------------------------


def summary_bytes(summary: Summary) -> bytes:
    """`summary.json` as `harness.output.folder` writes it."""
    return (json.dumps(summary.to_json(), ensure_ascii=False, indent=2) + "\n").encode()


@pytest.mark.slow
def test_the_builder_over_a_real_virtual_suite_writes_its_summary_json_byte_for_byte(tmp_path: Path) -> None:
    done = racelab("run", "--mode", "virtual", "scenarios/", "--runs", "2", "--out", tmp_path)
    assert done.returncode in (0, 1), done.stderr
    folder = only_result(tmp_path)
    written = (folder / "summary.json").read_bytes()
    on_disk = Summary.from_json(json.loads(written))
    judged = list(read_runs(folder))
    assert len(judged) == on_disk.runs > 300
    scenarios = [load_scenario(p) for p in sorted((folder / "inputs" / "scenarios").iterdir())]
    builder = SummaryBuilder()
    for record, results in read_runs(folder):  # one at a time, as the suite streams them
        builder.add(record, results)
    gates = {s.name: {i: g for i, g in s.gates.items() if builder.ran(s.name, i)} for s in scenarios}
    options: dict[str, Any] = {
        "seed": on_disk.seed,
        "command": on_disk.command,
        "mode": on_disk.mode,
        "settle_timeout_s": on_disk.settle_timeout_s,
    }
    summary = builder.build(gates=gates, **options)
    assert summary == build_summary(judged, gates=gates, **options)
    reference = oracle_summary(judged, gates)
    for name in ("passed", "runs", "invalid", "unknown", "gates", "groups", "cells", "skew_ms", "time_to_invoice_ms"):
        assert getattr(summary, name) == getattr(reference, name), name
    assert summary.invoice_cost_ms == reference.invoice_cost_ms
    assert summary_bytes(summary) == written
    assert Summary.from_json(json.loads(summary_bytes(summary))) == on_disk
    assert summary.invalid > 0
    assert len(summary.cells) > len(summary.groups)
