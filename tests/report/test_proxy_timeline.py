"""The report's timeline of an order judged through `racelab proxy`: each exchange keeps the proxy's four times
(arrived, forwarded, upstream answered, answered), drawn as a bar in three parts and listed as four events; a run of
`racelab run` draws and lists exactly as before.

The runs are made the way `racelab proxy judge` makes them: exchanges as `exchanges.jsonl` holds them, read and
turned into a history by `harness.proxy.judge`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.model.records import CheckResult, FinalState, Operation, Outcome, RunRecord, RunSpec, Verdict
from harness.output.report.charts import timeline_chart
from harness.output.report.timelines import ProxyTimes, broke_at, proxy_times, timeline, timeline_events
from harness.proxy.judge import order_history, read_exchanges

HEADER = {"proxy": {"version": 1, "upstream": "http://127.0.0.1:9", "listen": "http://127.0.0.1:8", "seed": 1}}


def exchange(
    ident: int,
    route: str,
    arrived: float,
    forwarded: float | None,
    back: float | None,
    answered: float | None,
    status: int | None,
    outcome: str,
    **more: Any,
) -> dict[str, Any]:
    return {
        "id": ident,
        "order_id": "o-1",
        "route": route,
        "method": "GET" if route == "get-order" else "POST",
        "path": "/api/oms/pvt/orders/o-1" + ("" if route == "get-order" else "/invoice"),
        "query": "",
        "times": {"arrived": arrived, "forwarded": forwarded, "upstream_answered": back, "answered": answered},
        "status": status,
        "outcome": outcome,
        "rule": more.get("rule"),
        "fault": more.get("fault"),
        "error": None,
        "request": {"headers": {}, "body": more.get("body")},
        "response": {"headers": {}, "body": more.get("response")} if status is not None else None,
    }


@pytest.fixture
def record(tmp_path: Path) -> RunRecord:
    """An order: a read, an invoice delayed 300 ms by rule #0, and a second invoice faulted before forwarding."""
    lines = [
        HEADER,
        exchange(
            1, "get-order", 10.0, 10.001, 10.003, 10.004, 200, "ok", response={"value": 100, "status": "handling"}
        ),
        exchange(
            2,
            "invoice-notification",
            10.010,
            10.310,
            10.350,
            10.351,
            200,
            "ok",
            rule={"index": 0, "action": "delay", "detail": "300 ms"},
            body={"invoiceNumber": "NF-1", "invoiceValue": 200, "type": "Output"},
        ),
        exchange(
            3,
            "invoice-notification",
            10.400,
            None,
            None,
            10.401,
            503,
            "fail",
            fault="503",
            body={"invoiceNumber": "NF-2", "invoiceValue": 1},
        ),
    ]
    path = tmp_path / "exchanges.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    (exchanges,) = read_exchanges(path).orders().values()
    history, origin = order_history(exchanges)
    spec = RunSpec("o-1", "proxy", "through-proxy", {}, 0, 1, "o-1", {}, (), ("no-over-invoice",))
    final = FinalState(order={"orderId": "o-1", "status": "handling", "value": 100, "packageAttachment": {}})
    return RunRecord(spec=spec, history=history, final=final, origin_s=origin)


def test_the_history_keeps_the_four_times_in_ms_from_the_first_arrival(record: RunRecord) -> None:
    read, invoice, faulted = record.history
    assert [op.f for op in record.history] == ["get_order", "invoice", "invoice"]
    assert (invoice.t_invoke, invoice.t_complete) == (10.0, 351.0)
    assert invoice.request["invoiceNumber"] == "NF-1"  # what no-lost-invoice reads
    assert proxy_times(invoice) == ProxyTimes(
        10.0,
        310.0,
        350.0,
        351.0,
        rule="#0 delay 300 ms",
    )
    shaped = proxy_times(faulted)
    assert shaped is not None
    assert (faulted.outcome, faulted.error, shaped.forwarded) == (Outcome.FAIL, "fault 503", None)
    assert read.response == {"value": 100, "status": "handling", "version": None, "invoiced": 0, "changes": []}


def test_a_proxy_exchange_is_four_events_and_a_bar_in_parts(record: RunRecord) -> None:
    tl = timeline(record, [], replay="racelab proxy judge DIR --upstream URL")
    assert all(bar.proxy is not None for bar in tl.bars)
    what = [e.what for e in timeline_events(tl)]
    assert what[:4] == [
        "#0 get_order arrived at the proxy",
        "#0 get_order forwarded upstream",
        "#0 get_order upstream answered",
        "#0 get_order answered 200",
    ]
    delayed = [e for e in timeline_events(tl) if e.what == "#1 invoice forwarded upstream"]
    assert [e.detail for e in delayed] == ["after 300.0 ms (#0 delay 300 ms)"]
    assert "#2 invoice not forwarded" in what  # a fault before forwarding: it never reached the upstream
    assert tl.focus_ms[1] >= 401.0  # the last answer is drawn, however long the exchange was held
    svg = timeline_chart(tl, chart_id="t1")
    assert "held at the proxy" in svg
    assert "first exchange at the proxy" in svg


def test_an_over_invoice_seen_from_outside_has_no_moment(record: RunRecord) -> None:
    """No versions: when the order went wrong is unknown (a Change applied after the invoice's answer did it)."""
    result = CheckResult("no-over-invoice", Verdict.INVALID, "over-invoiced", ops=(1,))
    assert broke_at(record, result) == (None, "")
    lost = CheckResult("no-lost-invoice", Verdict.INVALID, "lost", ops=(1,))
    assert broke_at(record, lost)[1] == "request #1 (invoice) answered"


def test_a_run_of_racelab_run_is_drawn_and_listed_as_before() -> None:
    op = Operation(0, "naive", "invoice", Outcome.OK, 5.0, 37.0, {"invoiceNumber": "NF-1"}, 200, sent_ms=5.2)
    spec = RunSpec("r", "s", "naive", {}, 0, 1, "o-1", {}, (), ())
    tl = timeline(RunRecord(spec=spec, history=(op,), final=FinalState(order={})), [], replay="racelab replay x")
    (bar,) = tl.bars
    assert bar.proxy is None
    assert [e.what for e in timeline_events(tl)] == ["#0 invoice sent", "#0 invoice answered 200"]
    svg = timeline_chart(tl, chart_id="t2")
    assert "held at the proxy" not in svg
    assert "ms from the run" in svg
