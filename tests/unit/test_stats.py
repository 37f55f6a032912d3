"""Statistics over runs (`harness.judge.stats`): Wilson intervals, percentiles, skew, time to invoice, A/B cost."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.judge.stats import (
    invoice_cost,
    percentile,
    summarize_skew,
    summarize_time_to_invoice,
    time_to_invoice,
    wilson,
)
from harness.model.records import FinalState, Operation, Outcome, RunRecord, RunSpec, Step
from harness.model.summary import CostSummary, IntegrationCost, SkewSummary, TimeToInvoice

STEPS = (Step(at_ms=0.0, do="invoice"), Step(at_ms=100.0, do="change"))


def op(
    index: int,
    f: str = "invoice",
    outcome: Outcome = Outcome.OK,
    *,
    t_invoke: float = 0.0,
    t_complete: float = 10.0,
    step: int | None = None,
    scheduled_ms: float | None = None,
    sent_ms: float | None = None,
) -> Operation:
    return Operation(
        index=index,
        actor="naive",
        f=f,
        outcome=outcome,
        t_invoke=t_invoke,
        t_complete=t_complete,
        step=step,
        scheduled_ms=scheduled_ms,
        sent_ms=sent_ms,
    )


def run(
    history: Sequence[Operation] = (),
    *,
    integration: str = "naive",
    scenario: str = "over-invoice",
    cell: dict[str, Any] | None = None,
    repetition: int = 0,
    steps: tuple[Step, ...] = STEPS,
) -> RunRecord:
    cell = {"change.at_ms": 100} if cell is None else cell
    spec = RunSpec(
        run_id=f"{scenario}-{integration}-{repetition}",
        scenario=scenario,
        integration=integration,
        cell=cell,
        repetition=repetition,
        seed=1,
        order_id=f"o-{repetition}",
        order={},
        steps=steps,
        expect=(),
    )
    return RunRecord(spec=spec, history=tuple(history), final=FinalState(order={}))


def invoiced_at(t_complete: float, *, scheduled_ms: float = 0.0, **kwargs: Any) -> RunRecord:
    """A run whose invoicing step was due at `scheduled_ms` and whose invoice was accepted at `t_complete`."""
    history = [
        op(0, "get_order", step=0, scheduled_ms=scheduled_ms, t_invoke=scheduled_ms, t_complete=scheduled_ms + 1),
        op(1, "invoice", step=0, t_invoke=scheduled_ms + 1, t_complete=t_complete),
    ]
    return run(history, **kwargs)


class TestWilson:
    def test_zero_of_ten_still_allows_a_rate_up_to_28_percent(self) -> None:
        low, high = wilson(0, 10)
        assert low == 0.0
        assert high == pytest.approx(0.2775, abs=1e-4)

    def test_half(self) -> None:
        assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)

    def test_all(self) -> None:
        low, high = wilson(10, 10)
        assert low == pytest.approx(0.7225, abs=1e-4)
        assert high == 1.0

    def test_the_gate_example(self) -> None:
        assert wilson(37, 400) == pytest.approx((0.0679, 0.1249), abs=1e-4)

    def test_no_runs_say_nothing(self) -> None:
        assert wilson(0, 0) == (0.0, 1.0)

    def test_a_larger_z_widens_the_interval(self) -> None:
        narrow, wide = wilson(5, 10, z=1.0), wilson(5, 10, z=2.576)
        assert wide[0] < narrow[0] < 0.5 < narrow[1] < wide[1]

    @pytest.mark.parametrize(("k", "n"), [(-1, 10), (11, 10), (0, -1)])
    def test_out_of_range(self, k: int, n: int) -> None:
        with pytest.raises(ValueError, match="0 <= k <= n"):
            wilson(k, n)

    @given(st.integers(1, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
    def test_contains_the_observed_rate_and_stays_in_bounds(self, kn: tuple[int, int]) -> None:
        k, n = kn
        low, high = wilson(k, n)
        assert 0.0 <= low <= k / n <= high <= 1.0


class TestPercentile:
    # Reference values are numpy.percentile's default (method="linear").
    @pytest.mark.parametrize(
        ("values", "q", "expected"),
        [
            ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
            ([1.0, 2.0, 3.0, 4.0], 25, 1.75),
            ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
            ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
            ([4.0, 1.0, 3.0, 2.0], 50, 2.5),
            (list(range(1, 101)), 99, 99.01),
            (list(range(1, 101)), 50, 50.5),
            ([10.0, 20.0], 99, 19.9),
            ([7.0], 99, 7.0),
        ],
    )
    def test_linear_interpolation(self, values: list[float], q: float, expected: float) -> None:
        assert percentile(values, q) == pytest.approx(expected)

    def test_takes_any_iterable(self) -> None:
        assert percentile((x for x in [3.0, 1.0, 2.0]), 50) == 2.0

    def test_empty_is_none(self) -> None:
        assert percentile([], 50) is None

    @pytest.mark.parametrize("q", [-0.1, 100.1])
    def test_q_out_of_range(self, q: float) -> None:
        with pytest.raises(ValueError, match=r"\[0, 100\]"):
            percentile([1.0], q)


class TestSkew:
    def test_only_operations_with_a_schedule_and_a_send_time_count(self) -> None:
        records = [
            run([op(0, scheduled_ms=100.0, sent_ms=100.5), op(1, "get_order"), op(2, scheduled_ms=50.0)]),
            run([op(0, scheduled_ms=200.0, sent_ms=202.0), op(1, scheduled_ms=0.0, sent_ms=0.0)]),
        ]
        summary = summarize_skew(records)
        assert summary.count == 3
        assert summary.p50 == pytest.approx(0.5)
        assert summary.p99 == pytest.approx(0.5 + 0.98 * 1.5)
        assert summary.max == pytest.approx(2.0)

    def test_nothing_to_summarise(self) -> None:
        assert summarize_skew([run([op(0)])]) == SkewSummary(count=0, p50=None, p99=None, max=None)
        assert summarize_skew([]) == SkewSummary(count=0, p50=None, p99=None, max=None)


class TestTimeToInvoice:
    def test_from_the_invoice_steps_schedule_to_the_first_accepted_invoice(self) -> None:
        assert time_to_invoice(invoiced_at(380.0, scheduled_ms=30.0)) == pytest.approx(350.0)

    def test_the_earliest_accepted_invoice_wins_refusals_and_accounting_do_not_count(self) -> None:
        history = [
            op(0, "get_order", step=0, scheduled_ms=10.0),
            op(1, "invoice", Outcome.FAIL, t_complete=20.0),
            op(2, "accounting.invoice", t_complete=30.0),
            op(3, "invoice", Outcome.INFO, t_complete=40.0),
            op(4, "invoice", t_complete=500.0),
            op(5, "invoice", t_complete=300.0),
        ]
        assert time_to_invoice(run(history)) == pytest.approx(290.0)

    def test_without_an_invoice_step_the_clock_starts_at_the_runs_start(self) -> None:
        record = run([op(0, "invoice", step=None, t_complete=120.0)], steps=(Step(at_ms=0.0, do="change"),))
        assert time_to_invoice(record) == pytest.approx(120.0)

    def test_the_invoice_step_need_not_be_the_first_step(self) -> None:
        steps = (Step(at_ms=0.0, do="change"), Step(at_ms=200.0, do="invoice"))
        history = [
            op(0, "change", step=0, scheduled_ms=0.0, t_complete=5.0),
            op(1, "get_order", step=1, scheduled_ms=200.0, t_invoke=200.0),
            op(2, "invoice", step=1, t_invoke=0.0, t_complete=260.0),  # t_invoke alone does not make it first
        ]
        assert time_to_invoice(run(history, steps=steps)) == pytest.approx(60.0)

    def test_no_accepted_invoice_is_none(self) -> None:
        assert time_to_invoice(run([op(0, "invoice", Outcome.FAIL, step=0, scheduled_ms=0.0)])) is None
        assert time_to_invoice(run([])) is None

    def test_per_integration(self) -> None:
        records = [
            invoiced_at(100.0, integration="naive", repetition=0),
            invoiced_at(200.0, integration="naive", repetition=1),
            invoiced_at(900.0, integration="workaround", repetition=0),
            run([], integration="workaround", repetition=1),
        ]
        summary = summarize_time_to_invoice(records)
        assert list(summary) == ["naive", "workaround"]
        assert summary["naive"] == TimeToInvoice(runs=2, count=2, p50=150.0, p99=pytest.approx(199.0))
        assert summary["workaround"] == TimeToInvoice(runs=2, count=1, p50=900.0, p99=900.0)


class TestInvoiceCost:
    def test_pairs_runs_on_identical_schedules(self) -> None:
        records = []
        for rep, (naive_ms, workaround_ms) in enumerate([(100.0, 400.0), (150.0, 250.0), (120.0, 1120.0)]):
            records.append(invoiced_at(naive_ms, integration="naive", repetition=rep))
            records.append(invoiced_at(workaround_ms, integration="workaround", repetition=rep))
        cost = invoice_cost(records)
        assert cost.baseline == "naive"
        assert cost.integrations == {
            "workaround": IntegrationCost(pairs=3, unpaired=0, added_p50=300.0, added_p99=pytest.approx(986.0))
        }

    def test_a_run_pairs_only_with_its_own_scenario_cell_and_repetition(self) -> None:
        records = [
            invoiced_at(100.0, integration="naive", cell={"change.at_ms": 50}),
            invoiced_at(100.0, integration="naive", cell={"change.at_ms": 100}, scenario="stuck"),
            invoiced_at(100.0, integration="naive", cell={"change.at_ms": 100}, repetition=1),
            invoiced_at(700.0, integration="workaround", cell={"change.at_ms": 100}),
        ]
        cost = invoice_cost(records)
        assert cost.integrations["workaround"] == IntegrationCost(pairs=0, unpaired=1, added_p50=None, added_p99=None)

    def test_a_pair_without_an_accepted_invoice_says_nothing_about_latency(self) -> None:
        records = [
            run([], integration="naive"),
            invoiced_at(700.0, integration="workaround"),
            invoiced_at(100.0, integration="naive", repetition=1),
            invoiced_at(600.0, integration="workaround", repetition=1),
        ]
        cost = invoice_cost(records).integrations["workaround"]
        assert (cost.pairs, cost.unpaired, cost.added_p50) == (1, 1, 500.0)

    def test_baseline_defaults_to_the_first_integration_without_naive_and_can_be_chosen(self) -> None:
        records = [
            invoiced_at(400.0, integration="workaround"),
            invoiced_at(500.0, integration="robust"),
        ]
        assert invoice_cost(records).baseline == "workaround"
        assert invoice_cost(records).integrations["robust"].added_p50 == 100.0
        chosen = invoice_cost(records, baseline="robust")
        assert chosen.baseline == "robust"
        assert chosen.integrations["workaround"].added_p50 == -100.0

    def test_no_runs(self) -> None:
        assert invoice_cost([]) == CostSummary(baseline=None, integrations={})
