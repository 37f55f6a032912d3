"""The data the report's charts and table are built from (`harness.output.report`'s pure modules: `cells`, `rates`,
`cost`, `timelines`, `data`), on hand-built runs."""

# Bin labels read as a person writes ranges, with an en dash (U+2013); tests spell them so.
# ruff: noqa: RUF001

from __future__ import annotations

import dataclasses

import pytest

from harness.judge.gates import aggregate
from harness.judge.stats import invoice_cost, pair_key, wilson
from harness.model.records import CheckResult, FinalState, Operation, Outcome, Step, Verdict
from harness.output.report.cells import axis_label, cell_text
from harness.output.report.cost import added_times
from harness.output.report.data import Collector, table_row
from harness.output.report.rates import CellCount, DrawnSample, binned_curve, heat_map, rate_curve
from harness.output.report.timelines import Bar, Mark, StatusChange, broke_at, focus_window, timeline, timeline_events
from tests.support.runs import (
    CHANGE,
    EXPECT,
    FAILURE_A_VERSIONS,
    LOST,
    ORIGIN,
    OVER,
    STUCK,
    at,
    clean,
    entry,
    failure_a,
    final_order,
    history,
    judge,
    result,
    spec,
    sweep,
)

INVALID, VALID, UNKNOWN = Verdict.INVALID, Verdict.VALID, Verdict.UNKNOWN


def replay(scenario: str, run_id: str) -> str:
    return f"racelab replay R --run {scenario}/{run_id}"


# -- labels ------------------------------------------------------------------------------------------------------------


def test_axis_label_names_the_step_and_what_it_does() -> None:
    assert axis_label("step1.at_ms", ["invoice", "change"]) == "step 1 (change) offset, ms"
    assert axis_label("step3.at_ms", ["invoice"]) == "step 3 offset, ms"
    assert axis_label("cooldown") == "cooldown"


def test_cell_text_writes_numbers_without_trailing_zeros() -> None:
    assert cell_text({"step0.at_ms": 0.0, "step1.at_ms": 350.0}) == "step0.at_ms=0, step1.at_ms=350"
    drawn = "uniform(min_ms=50, max_ms=1000)"
    assert cell_text({"step1.at_ms": drawn}) == f"step1.at_ms={drawn}"
    assert cell_text({}) == ""


# -- rate against one parameter ----------------------------------------------------------------------------------------


COUNTS = [
    CellCount("naive", {"step0.at_ms": 0.0, "step1.at_ms": 100.0}, runs=10, invalid=9, unknown=0),
    CellCount("naive", {"step0.at_ms": 0.0, "step1.at_ms": 500.0}, runs=10, invalid=2, unknown=1),
    CellCount("naive", {"step0.at_ms": 200.0, "step1.at_ms": 100.0}, runs=10, invalid=5, unknown=0),
    CellCount("workaround", {"step0.at_ms": 0.0, "step1.at_ms": 100.0}, runs=10, invalid=0, unknown=0),
    CellCount("workaround", {"step0.at_ms": 0.0, "step1.at_ms": 500.0}, runs=10, invalid=0, unknown=2),
]


def test_rate_curve_sums_the_other_parameters_and_gives_wilson_intervals() -> None:
    naive, workaround = rate_curve(COUNTS, "step1.at_ms")
    assert naive.integration == "naive"
    assert workaround.integration == "workaround"
    assert [(p.x, p.runs, p.invalid, p.unknown) for p in naive.points] == [(100.0, 20, 14, 0), (500.0, 10, 2, 1)]
    first = naive.points[0]
    assert first.rate == pytest.approx(0.7)
    assert (first.low, first.high) == wilson(14, 20)
    assert [p.label for p in naive.points] == ["100", "500"]


def test_rate_curve_sorts_points_by_the_parameter() -> None:
    shuffled = [COUNTS[1], COUNTS[0]]
    [naive] = rate_curve(shuffled, "step1.at_ms")
    assert [p.x for p in naive.points] == [100.0, 500.0]


def test_rate_curve_without_a_parameter_is_one_point_per_integration() -> None:
    naive, workaround = rate_curve(COUNTS, None)
    assert (naive.points[0].runs, naive.points[0].invalid, naive.points[0].unknown) == (30, 16, 1)
    assert (workaround.points[0].runs, workaround.points[0].invalid) == (20, 0)
    assert workaround.points[0].high == wilson(0, 20)[1]


def test_rate_curve_refuses_a_parameter_that_is_not_a_number() -> None:
    drawn = [CellCount("naive", {"step1.at_ms": "uniform(min_ms=50, max_ms=1000)"}, 1, 0, 0)]
    with pytest.raises(ValueError, match=r"no number for step1\.at_ms"):
        rate_curve(drawn, "step1.at_ms")


# -- rate against a drawn offset ---------------------------------------------------------------------------------------


def test_binned_curve_keeps_each_offset_when_there_are_few() -> None:
    samples = [DrawnSample("naive", 50.0, INVALID), DrawnSample("naive", 50.0, VALID)]
    samples.append(DrawnSample("naive", 80.0, VALID))
    [naive] = binned_curve(samples, bins=10)
    assert [(p.x, p.label, p.runs, p.invalid) for p in naive.points] == [(50.0, "50", 2, 1), (80.0, "80", 1, 0)]


def test_binned_curve_shares_equal_width_bins_across_integrations() -> None:
    samples = [DrawnSample("naive", float(ms), INVALID if ms < 500 else VALID) for ms in range(0, 1001, 100)]
    samples.append(DrawnSample("workaround", 950.0, UNKNOWN))
    naive, workaround = binned_curve(samples, bins=2)
    # Bins [0, 500) and [500, 1000]: the largest offset falls in the last bin, not past it.
    assert [(p.label, p.runs, p.invalid) for p in naive.points] == [("0–500", 5, 5), ("500–1000", 6, 0)]
    assert [(p.x, p.runs, p.unknown) for p in workaround.points] == [(750.0, 1, 1)]


def test_binned_curve_of_nothing_is_empty_and_refuses_zero_bins() -> None:
    assert binned_curve([]) == ()
    with pytest.raises(ValueError, match="at least 1"):
        binned_curve([DrawnSample("naive", 1.0, VALID)], bins=0)


# -- heat map ----------------------------------------------------------------------------------------------------------


def test_heat_map_is_a_matrix_per_integration_with_holes_where_no_run_was() -> None:
    heat = heat_map(COUNTS, "step1.at_ms", "step0.at_ms", scenario="s", steps=["invoice", "change"])
    assert heat.xs == (100.0, 500.0)
    assert heat.ys == (0.0, 200.0)
    assert heat.integrations == ("naive", "workaround")
    assert (heat.x_label, heat.y_label) == ("step 1 (change) offset, ms", "step 0 (invoice) offset, ms")
    naive = heat.cells["naive"]
    assert [[None if p is None else (p.runs, p.invalid) for p in row] for row in naive] == [
        [(10, 9), (10, 2)],
        [(10, 5), None],
    ]
    assert heat.cells["workaround"][1] == (None, None)
    assert heat.aggregated == ()


def test_heat_map_sums_a_third_parameter_and_says_so() -> None:
    counts = [
        CellCount("naive", {"a": 1, "b": 1, "c": 1}, 4, 1, 0),
        CellCount("naive", {"a": 1, "b": 1, "c": 2}, 4, 3, 0),
    ]
    heat = heat_map(counts, "a", "b")
    cell = heat.cells["naive"][0][0]
    assert cell is not None
    assert (cell.runs, cell.invalid) == (8, 4)
    assert heat.aggregated == ("c",)


def test_heat_map_needs_two_numeric_parameters() -> None:
    with pytest.raises(ValueError, match="two different"):
        heat_map(COUNTS, "step1.at_ms", "step1.at_ms")
    with pytest.raises(ValueError, match="needs numbers"):
        heat_map([CellCount("naive", {"a": 1, "b": "x"}, 1, 0, 0)], "a", "b")


# -- the workaround's cost ---------------------------------------------------------------------------------------------


def test_added_times_pair_runs_on_the_same_schedule() -> None:
    k1, k2, k3 = ("s", "{}", 0), ("s", "{}", 1), ("s", "{}", 2)
    cost = added_times({"naive": {k1: 40.0, k2: 50.0, k3: None}, "workaround": {k1: 840.0, k2: 450.0, k3: 900.0}})
    assert cost.baseline == "naive"
    [workaround] = cost.integrations
    assert workaround.added_ms == (400.0, 800.0)  # sorted; the third pair has no baseline invoice
    assert workaround.unpaired == 1
    assert workaround.p50 == pytest.approx(600.0)


def test_added_times_baseline_is_naive_else_the_first_integration() -> None:
    assert added_times({"robust": {}, "workaround": {}}).baseline == "robust"
    assert added_times({"workaround": {}, "naive": {}}).baseline == "naive"
    assert added_times({"workaround": {}, "naive": {}}, baseline="workaround").baseline == "workaround"
    assert added_times({}).baseline is None


def test_added_times_agree_with_the_summary_statistics() -> None:
    records = []
    for rep, (naive_ms, workaround_ms) in enumerate([(37.0, 400.0), (45.0, 900.0), (60.0, 1300.0)]):
        records.append(clean(spec(f"r{rep}-naive", repetition=rep), invoiced_ms=naive_ms))
        records.append(clean(spec(f"r{rep}-wa", integration="workaround", repetition=rep), invoiced_ms=workaround_ms))
    collector = Collector(replay=replay)
    for record in records:
        collector.add(*judge(record))
    [workaround] = collector.finish().cost.integrations
    expected = invoice_cost(records).integrations["workaround"]
    assert len(workaround.added_ms) == expected.pairs == 3
    assert workaround.p50 == pytest.approx(expected.added_p50)
    assert workaround.p99 == pytest.approx(expected.added_p99)


def test_pair_key_ignores_the_integration() -> None:
    assert pair_key(clean(spec("a"))) == pair_key(clean(spec("b", integration="workaround")))
    assert pair_key(clean(spec("a"))) != pair_key(clean(spec("a", repetition=1)))


# -- when an invariant broke -------------------------------------------------------------------------------------------


def test_broke_at_uses_the_version_a_result_names() -> None:
    t, label = broke_at(failure_a(), result(CHANGE, version=3))
    assert t == pytest.approx(200.0)
    assert label == "v3 committed: total 109.80, invoiced 124.80"


def test_broke_at_over_invoice_is_the_first_version_invoiced_above_its_total() -> None:
    t, label = broke_at(failure_a(), result(OVER))
    assert t == pytest.approx(200.0)
    assert label == "v3: invoiced 124.80 > total 109.80"


def test_broke_at_stuck_order_is_when_it_entered_the_status_it_stays_in() -> None:
    t, label = broke_at(failure_a(), result(STUCK))
    assert t == pytest.approx(240.0)
    assert "v4" in label
    assert "payment-approved" in label


def test_broke_at_lost_invoice_is_the_version_that_dropped_it() -> None:
    versions = (
        {"version": 1, "t": at(0), "packages": 0, "value": 1, "invoiced": 0},
        {"version": 2, "t": at(30), "packages": 1, "value": 1, "invoiced": 1},
        {"version": 3, "t": at(80), "packages": 0, "value": 1, "invoiced": 0},
    )
    record = dataclasses.replace(failure_a(), final=FinalState(order=final_order(), versions=versions))
    t, label = broke_at(record, result(LOST))
    assert t == pytest.approx(80.0)
    assert label == "v3: an accepted invoice was dropped"


def test_broke_at_falls_back_to_the_last_operation_the_result_names() -> None:
    t, label = broke_at(failure_a(), result("finished-means-applied", ops=[0, 2]))
    assert t == pytest.approx(58.0)
    assert label == "request #2 (change) answered"


def test_broke_at_has_no_moment_for_a_final_state_judgement() -> None:
    assert broke_at(failure_a(), result("accounting-matches-orders")) == (None, "")


# -- timelines ---------------------------------------------------------------------------------------------------------


def test_timeline_lays_out_client_requests_and_simulator_phases_in_ms_from_the_start() -> None:
    tl = timeline(failure_a(), [result(OVER)], replay="racelab replay R --run over-invoice/0000-0000-naive")
    assert [(lane.side, lane.label) for lane in tl.lanes] == [
        ("client", "get_order"),
        ("client", "invoice"),
        ("client", "change"),
        ("simulator", "seed"),  # op_id is the order id: the label is the op alone
        ("simulator", "get_order"),
        ("simulator", "invoice NF-1"),
        ("simulator", "workflow check-1"),
        ("simulator", "change req-1"),
        ("simulator", "workflow check-2"),
    ]
    # A bar runs from the moment the request was sent (not invoked) to its answer.
    assert tl.bars[1] == Bar(lane=1, start_ms=5.2, end_ms=37.0, index=1, f="invoice", outcome="ok", status=200)
    change_read = next(m for m in tl.marks if m.op == "change" and m.phase == "read")
    assert change_read.t_ms == pytest.approx(90.0)
    assert change_read.lane == 7
    assert change_read.version == 1
    assert [(c.before, c.after, c.version) for c in tl.status_changes] == [
        ("handling", "invoice", 2),
        ("invoice", "payment-approved", 4),
    ]
    assert tl.status_changes[1].t_ms == pytest.approx(240.0)
    assert [(b.checker, b.at_ms) for b in tl.broken] == [(OVER, pytest.approx(200.0))]
    assert tl.replay.endswith("over-invoice/0000-0000-naive")


def test_timeline_moving_the_status_is_an_operation_and_its_change_a_status_change() -> None:
    moves = (
        entry(20, 11, "status", "read", "handling", 1),
        entry(21, 11, "status", "commit", "handling", 2),
        entry(22, 11, "status", "change", "handling", 2, **{"from": "ready-for-handling", "to": "handling"}),
    )
    record = dataclasses.replace(failure_a(), journal=moves)
    tl = timeline(record, [result(OVER)], replay="")
    assert [(m.op, m.phase) for m in tl.marks] == [("status", "read"), ("status", "commit")]
    assert [lane.label for lane in tl.lanes if lane.side == "simulator"] == ["status handling"]
    assert [(c.before, c.after) for c in tl.status_changes] == [("ready-for-handling", "handling")]


def test_timeline_gives_overlapping_requests_of_one_kind_a_row_each() -> None:
    first, invoice, change = history()
    retry = dataclasses.replace(invoice, index=3, t_invoke=20.0, sent_ms=20.0, t_complete=60.0)
    later = dataclasses.replace(invoice, index=4, t_invoke=80.0, sent_ms=80.0, t_complete=90.0)
    record = dataclasses.replace(failure_a(), history=(first, invoice, change, retry, later), journal=())
    tl = timeline(record, [result(OVER)], replay="")
    assert [lane.label for lane in tl.lanes] == ["get_order", "invoice", "invoice (2)", "change"]
    assert [(bar.index, tl.lanes[bar.lane].label) for bar in tl.bars if bar.f == "invoice"] == [
        (1, "invoice"),
        (3, "invoice (2)"),  # sent while #1 was in flight
        (4, "invoice"),  # #1 had answered by then
    ]


def test_timeline_focus_leaves_out_the_set_up_before_and_the_settling_after() -> None:
    tl = timeline(failure_a(), [result(OVER)], replay="")
    start, end = tl.focus_ms
    assert start == pytest.approx(0.5)  # the first request sent; the seed, 60 ms before, is not the race
    assert 240.0 < end < 300.0  # the last status change, plus a margin; not the superseded check at 1950 ms
    assert [(m.op, m.phase) for m in tl.earlier] == [("seed", "commit")]
    assert [(m.op_id, m.phase) for m in tl.later] == [("check-1", "superseded")]


def test_focus_window_keeps_a_seed_that_is_close() -> None:
    bars = [Bar(0, 0.0, 100.0, 0, "invoice", "ok", 200)]
    seed = Mark(1, -10.0, "seed", "commit", "o-1", 1, {})
    assert focus_window(bars, [seed], [], [])[0] == -10.0
    far = dataclasses.replace(seed, t_ms=-5000.0)
    assert focus_window(bars, [far], [], [])[0] == 0.0


def test_focus_window_of_an_empty_timeline() -> None:
    assert focus_window([], [], [], []) == (0.0, 1.0)
    bars = [Bar(0, 10.0, 20.0, 0, "invoice", "ok", 200)]
    marks = [Mark(1, 500.0, "workflow", "superseded", "check-1", None, {})]
    assert focus_window(bars, marks, [StatusChange(15.0, "a", "b", 2)], []) == (10.0, 21.0)


def test_timeline_events_tell_the_same_story_in_time_order() -> None:
    tl = timeline(failure_a(), [result(OVER)], replay="")
    events = timeline_events(tl)
    times = [e.t_ms for e in events]
    assert times == sorted(times)
    broken = [e for e in events if e.side == "broken"]
    assert [(e.what, e.t_ms) for e in broken] == [(f"{OVER} broke", pytest.approx(200.0))]
    # The breakage is listed right after the commit that caused it.
    commit = next(i for i, e in enumerate(events) if e.what == "change req-1: commit v3")
    assert events[commit + 1].side == "broken"
    assert any(e.what == "#2 change answered 202" for e in events)
    assert any(e.side == "status" and e.what.startswith("invoice → payment-approved") for e in events)


def test_timeline_events_list_a_breakage_after_the_commit_that_caused_it_even_when_dated_microseconds_before() -> None:
    versions = tuple(dict(v, t=v["t"] - 0.000003) if v["version"] == 3 else v for v in FAILURE_A_VERSIONS)
    record = dataclasses.replace(failure_a(), final=FinalState(order=final_order(), versions=versions))
    events = timeline_events(timeline(record, [result(OVER)], replay=""))
    whats = [e.what for e in events]
    assert whats.index(f"{OVER} broke") == whats.index("change req-1: commit v3") + 1


# -- the table ---------------------------------------------------------------------------------------------------------


def test_table_row_of_a_failing_run() -> None:
    record, results = judge(failure_a())
    row = table_row(record, results)
    assert (row.scenario, row.integration, row.run_id, row.cell) == (
        "over-invoice",
        "naive",
        "0000-0000-naive",
        "step1.at_ms=50",
    )
    assert row.verdict == "invalid"
    assert row.failed == (OVER, STUCK, CHANGE)
    assert row.time_to_invoice_ms == pytest.approx(37.0)


def test_table_row_of_a_run_missing_an_expected_checker_is_unknown() -> None:
    record = clean(spec())
    row = table_row(record, [CheckResult(OVER, VALID, "fine")])
    assert row.verdict == "unknown"  # as the gates count it: nobody looked at the other invariants
    assert row.failed == ()


def test_table_row_of_a_run_without_an_accepted_invoice() -> None:
    refused = (Operation(0, "naive", "invoice", Outcome.FAIL, 0.0, 5.0, status=400),)
    record = dataclasses.replace(clean(spec()), history=refused, error="ConnectionError: boom")
    row = table_row(record, [])
    assert row.time_to_invoice_ms is None
    assert row.error == "ConnectionError: boom"


# -- the one pass ------------------------------------------------------------------------------------------------------


def test_collector_tallies_agree_with_the_gates_aggregate() -> None:
    runs = sweep()
    collector = Collector(replay=replay)
    for record, results in runs:
        collector.add(record, results)
    [scenario] = collector.finish().scenarios
    agg = aggregate(runs)
    for group in scenario.groups:
        tally = agg.group("over-invoice", group.integration)
        assert tally is not None
        assert (group.runs, group.invalid, group.unknown) == (tally.runs, tally.invalid, tally.unknown)
        assert (group.low, group.high) == tally.interval
    [chart] = scenario.rate_charts
    assert chart.axis == "step1.at_ms"
    assert chart.label == "step 1 (change) offset, ms"
    naive = chart.series[0]
    assert [(p.x, p.invalid, p.runs) for p in naive.points] == [(50.0, 2, 2), (600.0, 0, 2)]
    assert scenario.heat_map is None


def test_collector_shows_one_run_per_invariant_and_each_run_once() -> None:
    runs = sweep()
    # A later run is the first to break `no-lost-invoice`: it gets a timeline of its own.
    lost_spec = spec("0001-0001-naive", cell={"step1.at_ms": 600.0}, repetition=1)
    lost = failure_a(spec=lost_spec)
    runs.append((lost, (result(LOST, ops=[1]),)))
    collector = Collector(replay=replay)
    for record, results in runs:
        collector.add(record, results)
    [scenario] = collector.finish().scenarios
    assert [(tl.run_id, [b.checker for b in tl.broken]) for tl in scenario.timelines] == [
        ("0000-0000-naive", [OVER, STUCK, CHANGE]),
        ("0001-0001-naive", [LOST]),
    ]
    assert scenario.timelines[0].replay == "racelab replay R --run over-invoice/0000-0000-naive"


def test_collector_keeps_a_row_per_run_and_counts_verdicts() -> None:
    runs = sweep()
    runs.append((clean(spec("x-unknown", expect=(*EXPECT, LOST))), ()))
    collector = Collector(replay=replay)
    for record, results in runs:
        collector.add(record, results)
    data = collector.finish()
    assert [row.run_id for row in data.rows] == [record.spec.run_id for record, _ in runs]
    assert data.verdicts == {"valid": 6, "invalid": 2, "unknown": 1}


def test_collector_draws_a_heat_map_for_two_swept_parameters() -> None:
    collector = Collector(replay=replay)
    for invoice_ms in (0.0, 200.0):
        for change_ms in (50.0, 300.0, 550.0):
            run_spec = spec(f"{invoice_ms:g}-{change_ms:g}", cell={"step0.at_ms": invoice_ms, "step1.at_ms": change_ms})
            collector.add(*judge(failure_a(spec=run_spec) if change_ms - invoice_ms < 300 else clean(run_spec)))
    [scenario] = collector.finish().scenarios
    assert [c.axis for c in scenario.rate_charts] == ["step0.at_ms", "step1.at_ms"]
    heat = scenario.heat_map
    assert heat is not None
    assert (heat.y_axis, heat.x_axis) == ("step0.at_ms", "step1.at_ms")
    rates = [[None if p is None else p.rate for p in row] for row in heat.cells["naive"]]
    assert rates == [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]  # fails while the Change comes < 300 ms after the invoice


def test_collector_bins_an_offset_drawn_from_a_distribution() -> None:
    collector = Collector(replay=replay)
    for rep, drawn in enumerate((120.0, 480.0, 910.0)):
        run_spec = spec(
            f"0000-{rep:04d}-naive",
            cell={"step1.at_ms": "uniform(min_ms=50, max_ms=1000)"},
            repetition=rep,
            steps=(Step(0.0, "invoice"), Step(drawn, "change")),
        )
        collector.add(*judge(failure_a(spec=run_spec) if drawn < 500 else clean(run_spec)))
    [scenario] = collector.finish().scenarios
    [chart] = scenario.rate_charts
    assert chart.drawn
    assert [(p.x, p.invalid) for p in chart.series[0].points] == [(120.0, 1), (480.0, 1), (910.0, 0)]


def test_collector_without_any_varying_parameter_compares_integrations() -> None:
    collector = Collector(replay=replay)
    collector.add(*judge(failure_a(spec=spec("a", cell={}))))
    collector.add(*judge(clean(spec("b", integration="workaround", cell={}))))
    [scenario] = collector.finish().scenarios
    [chart] = scenario.rate_charts
    assert chart.axis is None
    assert [(s.integration, s.points[0].invalid) for s in chart.series] == [("naive", 1), ("workaround", 0)]


def test_collector_keeps_scenarios_apart() -> None:
    collector = Collector(replay=replay)
    for record, results in sweep("over-invoice") + sweep("stuck-order"):
        collector.add(record, results)
    data = collector.finish()
    assert [s.name for s in data.scenarios] == ["over-invoice", "stuck-order"]
    assert data.scenarios[1].timelines[0].replay == "racelab replay R --run stuck-order/0000-0000-naive"
    # The overall cost pairs runs within their scenario only: 8 workaround runs, 8 pairs.
    [workaround] = data.cost.integrations
    assert len(workaround.added_ms) == 8


def test_origin_places_the_journal_on_the_run_timeline() -> None:
    shifted = dataclasses.replace(failure_a(), origin_s=ORIGIN + 0.1)  # the run started 100 ms later
    tl = timeline(shifted, [result(OVER)], replay="")
    assert tl.broken[0].at_ms == pytest.approx(100.0)
