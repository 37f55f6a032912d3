"""`racelab calibrate`'s inputs: each kind (a result folder's runs.jsonl, the proxy's exchanges.jsonl, HAR, CSV)
parsed from small files written here; a bad input exits 2 naming file, line (or JSON field) and field; the profile
written loads as `racelab serve --profile` loads it, with the fitted fields replaced and the rest the base's."""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from harness.calibrate.calibration import calibrate
from harness.calibrate.observe import CHANGE_FINISHED, INVOICE_TO_INVOICED, read_inputs
from harness.calibrate.page import render_page
from harness.calibrate.profile import write_profile
from harness.cli import exit_for
from harness.cli.calibrate import add_command
from harness.errors import UsageError
from simulator import load_profile

ORDER = "o-1"


def _cli(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`racelab calibrate ARGV` through its own parser and the CLI's one exit-code table."""
    parser = argparse.ArgumentParser(prog="racelab")
    add_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["calibrate", *argv])
    try:
        code = args.handler(args, argv)
    except Exception as exc:  # what `racelab`'s main does with it
        code, message = exit_for(exc)
        print(message, file=__import__("sys").stderr)
    out = capsys.readouterr()
    return code, out.out, out.err


def _op(f: str, t0: float, t1: float, response: Any = None, **extra: Any) -> dict[str, Any]:
    return {"f": f, "outcome": "ok", "t_invoke": t0, "t_complete": t1, "response": response, **extra}


def _run(offset: float, verdict: str, *, scenario: str = "over-invoice", integration: str = "naive") -> dict[str, Any]:
    history = [
        _op("get_order", 0.0, 4.0, {"status": "handling"}),
        _op("invoice", 4.0, 54.0, {"date": "2026-01-01T00:00:00.054Z"}),
        _op("change", offset, offset + 7.0, {"requestId": "c-1", "finished": False}),
        _op("get_change", offset + 7.0, offset + 11.0, {"requestId": "c-1", "finished": False}),
        _op("get_change", offset + 111.0, offset + 115.0, {"requestId": "c-1", "finished": True}),
        {"f": "get_order", "outcome": "info", "t_invoke": 300.0, "t_complete": 5300.0},  # a timeout: left out
    ]
    return {
        "run_id": f"{offset}-{verdict}",
        "scenario": scenario,
        "integration": integration,
        "cell": {"step1.at_ms": offset},
        "steps": [{"at_ms": 0.0, "do": "invoice"}, {"at_ms": offset, "do": "change"}],
        "expect": ["no-over-invoice"],
        "verdict": verdict,
        "results": [{"checker": "no-over-invoice", "verdict": verdict}],
        "history": history,
        "final": {"order": {"status": "invoiced", "invoicedDate": "2026-01-01T00:00:01.554Z"}},
    }


def _write_runs(folder: Path, runs: Sequence[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in runs))
    return folder


def test_a_result_folder_gives_latencies_derived_spans_and_the_race_cells(tmp_path: Path) -> None:
    runs = [_run(50.0, "invalid"), _run(50.0, "valid"), _run(50.0, "unknown"), _run(100.0, "valid")]
    runs.append(_run(50.0, "invalid", integration="workaround"))
    skipped = {**_run(100.0, "unknown"), "error": "skipped: order o-9 is in status handling, not ready-for-handling"}
    runs.append({k: v for k, v in skipped.items() if k not in ("history", "final", "results")})
    folder = _write_runs(tmp_path / "result", runs)
    obs = read_inputs([folder])
    assert obs.samples["get-order"] == (4.0,) * 5  # the `info` read (a timeout) is not a latency
    assert obs.samples["invoice"] == (50.0,) * 5
    assert obs.samples["create-change"] == (7.0,) * 5
    # finished between the poll at +7..+11 (mid +9) and the one at +111..+115 (mid +113): +61 from the request
    assert obs.samples[CHANGE_FINISHED] == pytest.approx((61.0,) * 5)
    # the Change came after the invoice: the invoiced check may be the Change's, so no invoice-to-invoiced span
    assert INVOICE_TO_INVOICED not in obs.samples
    naive = obs.race.for_integration("naive").cells
    assert [(c.offset_ms, c.violations, c.trials, c.unknown) for c in naive] == [(50.0, 1, 2, 1), (100.0, 0, 1, 0)]
    assert naive[0].cell_dict == {"step1.at_ms": 50.0}
    assert obs.race.trials == 4
    assert obs.race.violations == 2


def test_invoice_to_invoiced_is_taken_when_nothing_was_sent_after_the_invoice(tmp_path: Path) -> None:
    run = _run(50.0, "valid")
    run["history"] = [h for h in run["history"] if h["f"] in ("get_order", "invoice")]
    obs = read_inputs([_write_runs(tmp_path / "r", [run])])
    assert obs.samples[INVOICE_TO_INVOICED] == pytest.approx((1500.0,))


def _exchange(i: int, route: str | None, times: tuple[float, float], body: Any, *, outcome: str = "ok") -> str:
    t0, t1 = times
    return json.dumps(
        {
            "id": i,
            "order_id": ORDER,
            "route": route,
            "method": "GET",
            "path": "/x",
            "query": "",
            "times": {"arrived": t0 - 0.001, "forwarded": t0, "upstream_answered": t1, "answered": t1 + 0.001},
            "status": 200 if outcome == "ok" else 503,
            "outcome": outcome,
            "request": {"headers": {}, "body": None},
            "response": {"headers": {}, "body": body},
        }
    )


def test_the_proxy_record_gives_the_platform_own_latency(tmp_path: Path) -> None:
    lines = [
        json.dumps({"proxy": {"version": 1, "upstream": "http://u", "listen": "http://l", "started_wall": 0}}),
        _exchange(1, "get-order", (1.000, 1.004), {"status": "handling"}),
        _exchange(2, "invoice-notification", (1.010, 1.060), {"date": "2026-01-01T00:00:00.100Z"}),
        _exchange(3, "get-order", (1.100, 1.103), {"status": "handling"}, outcome="info"),  # a 5xx: left out
        _exchange(4, "get-order", (3.000, 3.002), {"status": "invoiced", "invoicedDate": "2026-01-01T00:00:01.3Z"}),
        _exchange(5, None, (3.1, 3.2), None),  # a route no operation names
    ]
    path = tmp_path / "exchanges.jsonl"
    path.write_text("\n".join(lines) + "\n" + '{"id": 6, "torn')  # a torn last line is ignored
    obs = read_inputs([path])
    assert obs.samples["get-order"] == pytest.approx((4.0, 2.0))
    assert obs.samples["invoice"] == pytest.approx((50.0,))
    assert obs.samples[INVOICE_TO_INVOICED] == pytest.approx((1200.0,))
    assert not obs.race.cells


def test_a_proxy_folder_with_runs_takes_latencies_from_the_proxy_and_cells_from_the_runs(tmp_path: Path) -> None:
    folder = _write_runs(tmp_path / "p", [_run(50.0, "invalid")])
    header = json.dumps({"proxy": {"version": 1}})
    (folder / "exchanges.jsonl").write_text(header + "\n" + _exchange(1, "get-order", (1.0, 1.009), {}) + "\n")
    obs = read_inputs([folder])
    assert obs.samples["get-order"] == pytest.approx((9.0,))
    assert "invoice" not in obs.samples
    assert obs.race.cells[0].violations == 1


def test_a_har_file_gives_each_entry_time(tmp_path: Path) -> None:
    def entry(method: str, url: str, ms: float, status: int = 200) -> dict[str, Any]:
        return {
            "startedDateTime": "2026-01-01T00:00:00.000Z",
            "time": ms,
            "request": {"method": method, "url": url},
            "response": {"status": status},
        }

    har = {
        "log": {
            "entries": [
                entry("GET", "https://acme.example/api/oms/pvt/orders/o-1?x=1", 12.5),
                entry("POST", "https://acme.example/api/oms/pvt/orders/o-1/invoice", 80.0),
                entry("PATCH", "https://acme.example/api/order-system/orders/o-1/changes", 9.0),
                entry("GET", "https://acme.example/api/oms/pvt/orders/o-1", 700.0, status=500),  # an error
                entry("GET", "https://acme.example/static/app.js", 3.0),  # not an operation
            ]
        }
    }
    path = tmp_path / "session.har"
    path.write_text(json.dumps(har))
    obs = read_inputs([path])
    assert obs.samples == {"get-order": (12.5,), "invoice": (80.0,), "create-change": (9.0,)}


def test_a_csv_gives_each_row_span_in_seconds_or_dates(tmp_path: Path) -> None:
    path = tmp_path / "spans.csv"
    path.write_text(
        "operation,started,finished,note\n"
        "get-order,10.000,10.0125,\n"
        "invoice-notification,2026-01-01T00:00:00Z,2026-01-01T00:00:00.080Z,ISO dates\n"
        "change-finished,1.0,1.25,a derived span by its name\n"
    )
    obs = read_inputs([path])
    assert obs.samples["get-order"] == pytest.approx((12.5,))
    assert obs.samples["invoice"] == pytest.approx((80.0,))
    assert obs.samples[CHANGE_FINISHED] == pytest.approx((250.0,))


BAD = [
    pytest.param("spans.csv", "operation,started\nget-order,1\n", "spans.csv:1: header", id="csv-header"),
    pytest.param(
        "spans.csv",
        "operation,started,finished\nget-order,1,2\nteleport,1,2\n",
        "spans.csv:3: operation: unknown operation 'teleport'",
        id="csv-operation",
    ),
    pytest.param(
        "spans.csv",
        "operation,started,finished\nget-order,2,1\n",
        "spans.csv:2: finished: is before started",
        id="csv-order",
    ),
    pytest.param(
        "spans.csv", "operation,started,finished\nget-order,soon,2\n", "spans.csv:2: started: expected", id="csv-time"
    ),
    pytest.param(
        "runs.jsonl", '{"history": []}\nnot json\n{"history": []}\n', "runs.jsonl:2: not a JSON", id="runs-json"
    ),
    pytest.param(
        "runs.jsonl",
        '{"history": [{"f": "get_order", "outcome": "ok", "t_invoke": "x", "t_complete": 1}]}\n',
        "runs.jsonl:1: history[0].t_invoke: expected a number",
        id="runs-field",
    ),
    pytest.param("runs.jsonl", '{"id": 1}\n', "runs.jsonl:1: history: missing", id="runs-kind"),
    pytest.param(
        "exchanges.jsonl",
        '{"proxy": {}}\n{"route": "get-order", "outcome": "ok", "times": {"forwarded": 2, "upstream_answered": 1}}\n',
        "exchanges.jsonl:2: times.upstream_answered",
        id="exchanges-times",
    ),
    pytest.param(
        "x.har",
        '{"log": {"entries": [{"request": {"method": "GET", "url": "http://h/"}}]}}',
        "x.har: log.entries[0].startedDateTime",
        id="har-field",
    ),
    pytest.param("x.har", '{"log":\n  {"entries": [,]}}', "x.har:2: not JSON", id="har-json"),
    pytest.param("notes.txt", "hello", "notes.txt: unknown kind of INPUT", id="kind"),
]


@pytest.mark.parametrize(("name", "text", "expected"), BAD)
def test_a_bad_input_exits_2_naming_file_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    code, _, err = _cli([str(path), "--out", str(tmp_path / "p.yaml")], capsys)
    assert code == 2, err
    assert expected in err.replace(str(tmp_path) + "/", "")
    assert not (tmp_path / "p.yaml").exists()


def test_a_missing_input_or_an_unknown_base_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli([str(tmp_path / "nowhere"), "--out", str(tmp_path / "p.yaml")], capsys)
    assert code == 2
    assert "no such file or folder" in err
    path = tmp_path / "s.csv"
    path.write_text("operation,started,finished\nget-order,1,2\n")
    code, _, err = _cli([str(path), "--out", str(tmp_path / "p.yaml"), "--base", "no-such-profile"], capsys)
    assert code == 2
    assert "no profile named 'no-such-profile'" in err


def _spans(path: Path, seed: int) -> Path:
    """A CSV of generated invoice latencies (lognormal, median 120 ms) and invoice-to-invoiced spans (900 ms)."""
    rng = random.Random(seed)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["operation", "started", "finished"])
        for i in range(400):
            t = i * 10.0
            writer.writerow(["invoice-document", t, t + rng.lognormvariate(0, 0.4) * 0.120])
            writer.writerow(["invoice-to-invoiced", t, t + rng.lognormvariate(0, 0.3) * 0.900])
            writer.writerow(["get-order", t, t + 0.010])  # 0 ms... 10 ms, all alike
        writer.writerow(["get-change", 0, 0.004])  # one sample: reported, not fitted
    return path


def test_the_profile_written_loads_with_the_fitted_fields_and_the_base_elsewhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spans = _spans(tmp_path / "spans.csv", seed=4)
    out, report = tmp_path / "fitted" / "platform.yaml", tmp_path / "calibration.html"
    code, stdout, err = _cli([str(spans), "--out", str(out), "--report", str(report), "--seed", "3"], capsys)
    assert code == 0, err
    assert f"wrote {out}" in stdout
    text = out.read_text()
    assert text.startswith("# Written by `racelab calibrate` (seed 3)")
    assert "orders.invoice.process <- invoice (n=400)" in text
    config = load_profile(out)  # what `racelab serve --profile FILE` does with it
    base = load_profile("default")
    invoice = config.orders.invoice
    assert invoice.process.kind == "lognormal"
    assert invoice.ingress == base.orders.invoice.ingress  # the other phases keep the base's
    assert config.orders.workflow.after_invoice.kind == "lognormal"
    assert config.orders.workflow.after_invoice.median_ms == pytest.approx(900, rel=0.06)
    assert config.orders.change == base.orders.change  # nothing observed: the base's, lags included
    assert config.orders.reads == base.orders.reads  # one sample is too few
    page = report.read_text()
    assert page.startswith("<!doctype html>")
    assert page.count("<svg") == 4  # one CDF per operation observed (get-change: observed only)
    for reference in ("src=", "href=", "<script", "@import", "url("):  # self-contained: nothing to fetch
        assert reference not in page


def test_calibrate_recovers_end_to_end_percentiles_through_the_split(tmp_path: Path) -> None:
    cal = calibrate([_spans(tmp_path / "spans.csv", seed=8)], "default", 1)
    invoice = cal.fit_of("invoice")
    assert invoice.target is not None
    assert invoice.target.carrier == "orders.invoice.process"
    assert invoice.shift_ms == pytest.approx(5.5, abs=0.2)  # the default's ingress + respond means (queue 0)
    for q in (50.0, 95.0):
        assert invoice.fitted[q] == pytest.approx(invoice.observed[q], rel=0.05)
    # get-order: the base's ingress (1-3 ms) fits inside 10 ms, so it stays and respond takes the rest
    assert cal.fit_of("get-order").zeroed == ()
    assert cal.fit_of("get-change").fit is None
    assert "fewer than" in cal.fit_of("get-change").sentence
    assert cal.lags is None
    assert "no race cells" in cal.lag_note
    write_profile(cal.profile, tmp_path / "p.yaml", header=cal.header)
    assert load_profile(tmp_path / "p.yaml").orders.invoice.process.kind == cal.fit_of("invoice").delay["kind"]  # type: ignore[index]
    assert "The hidden lags" in render_page(cal)


def test_a_base_larger_than_the_observations_is_zeroed_not_subtracted(tmp_path: Path) -> None:
    base = tmp_path / "slow.yaml"
    base.write_text("orders:\n  get_order:\n    ingress: 50ms\n    respond: 1ms\n")
    spans = tmp_path / "s.csv"
    rng = random.Random(2)
    spans.write_text(
        "operation,started,finished\n" + "".join(f"get-order,0,{rng.uniform(0.008, 0.012)}\n" for _ in range(100))
    )
    cal = calibrate([spans], base, 1)
    fit = cal.fit_of("get-order")
    assert fit.zeroed == ("orders.get_order.ingress",)
    assert fit.shift_ms == 0.0
    assert cal.profile["orders"]["get_order"]["ingress"] == {"kind": "fixed", "ms": 0}


def test_no_input_and_nothing_to_fit_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="at least one INPUT"):
        read_inputs([])
    spans = tmp_path / "s.csv"
    spans.write_text("operation,started,finished\nget-order,1,2\n")
    with pytest.raises(UsageError, match="nothing to fit"):
        calibrate([spans], "default", 1)


def test_race_cells_are_fitted_in_virtual_time_and_shown_against_the_simulated_curve(tmp_path: Path) -> None:
    # The wiring only (the lag fit's accuracy is tests/unit/test_calibrate_lags.py's): the naive over-invoice cells
    # go to the lag fit, the fitted lag into the profile, the curve onto the page; other integrations stay out.
    runs = []
    for offset, violations in ((50.0, 8), (300.0, 4), (800.0, 1)):
        runs += [_run(offset, "invalid") for _ in range(violations)]
        runs += [_run(offset, "valid") for _ in range(10 - violations)]
    runs += [_run(50.0, "valid", integration="workaround")] * 5
    cal = calibrate([_write_runs(tmp_path / "r", runs)], "default", 1, runs_per_cell=6)
    assert cal.lags is not None
    assert [(c.offset_ms, c.violations, c.trials) for c in cal.race.cells] == [
        (50.0, 8, 10),
        (300.0, 4, 10),
        (800.0, 1, 10),
    ]
    estimate = cal.lags.parameter("orders.change.read_lag.median_ms")
    assert cal.profile["orders"]["change"]["read_lag"]["median_ms"] == pytest.approx(estimate.estimate)
    assert any("orders.change.read_lag.median_ms" in line for line in cal.header)
    write_profile(cal.profile, tmp_path / "p.yaml", header=cal.header)
    assert load_profile(tmp_path / "p.yaml").orders.change.read_lag.median_ms == pytest.approx(estimate.estimate)  # type: ignore[union-attr]
    page = render_page(cal)
    assert "simulated, fitted profile" in page
    assert "offsets.</p>" in page
