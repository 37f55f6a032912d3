"""The result folder (`harness.output.folder`, `.junit`, `.table`; the codec and the typed summary of
`harness.model`): safe paths, atomic files, runs.jsonl, summary.json, junit.xml, latest."""

# The reasons people read write ranges with an en dash ("95% CI 6.8 to 12.5%" with U+2013); tests spell them so.
# ruff: noqa: RUF001

from __future__ import annotations

import io
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness.errors import UnsafeResultPath
from harness.judge.summarize import build_summary
from harness.model.codec import read_runs, run_lines
from harness.model.records import CheckResult, FinalState, Operation, Outcome, RunRecord, RunSpec, Step, Verdict
from harness.model.summary import Summary
from harness.output import folder as folder_module
from harness.output.folder import LATEST, open_result_dir, slugify, write_results
from harness.output.table import render_table

NOW = datetime(2026, 11, 21, 4, 59, 17)
OVER = "no-over-invoice"
STUCK = "invoiced-when-fully-invoiced"

Judged = tuple[RunRecord, tuple[CheckResult, ...]]


@dataclass(frozen=True, slots=True)
class Gate:
    reproduces: bool | tuple[str, ...] | None = None
    violations: int | None = None
    max_rate: float | None = None


def judged_run(
    run_id: str,
    *,
    integration: str = "naive",
    scenario: str = "over-invoice",
    at_ms: int = 100,
    verdict: Verdict = Verdict.VALID,
    invoiced_ms: float = 120.5,
) -> Judged:
    spec = RunSpec(
        run_id=run_id,
        scenario=scenario,
        integration=integration,
        cell={"change.at_ms": at_ms},
        repetition=int(run_id.rsplit("-", 1)[-1]),
        seed=42,
        order_id=f"order-{run_id}",
        order={"items": [{"id": "sku-1", "price": 4990, "quantity": 2}], "shipping": 1000, "status": "handling"},
        steps=(
            Step(at_ms=0.0, do="invoice"),
            Step(at_ms=float(at_ms), do="change", args={"remove": [{"id": "sku-1"}]}),
        ),
        expect=(OVER, STUCK),
    )
    history = (
        Operation(0, integration, "get_order", Outcome.OK, 0.25, 3.5, step=0, scheduled_ms=0.0, sent_ms=0.125),
        Operation(
            1,
            integration,
            "invoice",
            Outcome.OK,
            3.75,
            invoiced_ms,
            request={"invoiceNumber": "NF-1", "invoiceValue": 10980},
            status=200,
            response={"receipt": "abc"},
            step=0,
        ),
        Operation(2, integration, "change", Outcome.INFO, at_ms, at_ms + 5000.0, error="timeout", step=1),
    )
    final = FinalState(
        order={"orderId": spec.order_id, "status": "invoiced", "value": 10980},
        versions=({"version": 1, "t_ms": 0.0, "status": "handling", "value": 10980, "invoiced": 0},),
        changes=({"requestId": "c-1", "finished": True},),
        accounting=None,
    )
    journal = ({"seq": 1, "t": 12.5, "order_id": spec.order_id, "op": "invoice", "phase": "commit"},)
    record = RunRecord(spec=spec, history=history, final=final, journal=journal, origin_s=12.25)
    checks = (
        CheckResult(
            OVER, verdict, "the invoice exceeds the final total" if verdict is Verdict.INVALID else "fine", ops=(1,)
        ),
        CheckResult(STUCK, Verdict.VALID, "the order is invoiced", details={"status": "invoiced"}),
    )
    return record, checks


@pytest.fixture
def judged() -> list[Judged]:
    return [
        judged_run("n-0", at_ms=50, verdict=Verdict.INVALID),
        judged_run("n-1", at_ms=100),
        judged_run("w-0", integration="workaround", at_ms=50, invoiced_ms=420.0),
        judged_run("w-1", integration="workaround", at_ms=100, verdict=Verdict.UNKNOWN),
        judged_run("s-0", scenario="stuck", at_ms=50),
    ]


GATES = {
    "over-invoice": {"naive": Gate(reproduces=True), "workaround": Gate(violations=0)},
    "stuck": {"naive": Gate(reproduces=(STUCK,))},
}


@pytest.fixture
def summary(judged: list[Judged]) -> Summary:
    return build_summary(judged, gates=GATES, seed=42, command=["racelab", "run", "--seed", "42"])


def no_temp_files(*folders: Path) -> bool:
    return not [p for folder in folders for p in folder.iterdir() if p.name.endswith(".tmp")]


class TestOpenResultDir:
    def test_timestamp_and_slug(self, tmp_path: Path) -> None:
        folder = open_result_dir(tmp_path / "results", "Over-Invoice: naive vs workaround!", now=NOW)
        assert folder == (tmp_path / "results" / "20261121-045917-over-invoice-naive-vs-workaround").resolve()
        assert folder.is_dir()

    def test_unique_within_one_second(self, tmp_path: Path) -> None:
        names = [open_result_dir(tmp_path, "suite", now=NOW).name for _ in range(3)]
        assert names == ["20261121-045917-suite", "20261121-045917-suite-2", "20261121-045917-suite-3"]

    @pytest.mark.parametrize("name", ["../x", "..", "/etc/x", "a/../../x", "a/b", "C:\\x", "..\\x", "x\x00"])
    def test_refuses_names_that_are_paths(self, tmp_path: Path, name: str) -> None:
        with pytest.raises(UnsafeResultPath):
            open_result_dir(tmp_path / "results", name, now=NOW)
        assert not (tmp_path / "results").exists() or not list((tmp_path / "results").iterdir())

    def test_refuses_a_folder_that_resolves_outside_root(self, tmp_path: Path) -> None:
        root, outside = tmp_path / "results", tmp_path / "elsewhere"
        root.mkdir()
        outside.mkdir()
        (root / "20261121-045917-suite").symlink_to(outside)
        with pytest.raises(UnsafeResultPath, match="outside"):
            open_result_dir(root, "suite", now=NOW)

    @pytest.mark.parametrize(
        ("name", "slug"),
        [
            ("over-invoice", "over-invoice"),
            ("  A  B  ", "a-b"),
            ("über_fall", "ber-fall"),
            ("!!!", "run"),
            ("x" * 99, "x" * 60),
        ],
    )
    def test_slugify(self, name: str, slug: str) -> None:
        assert slugify(name) == slug


class TestWriteResults:
    def test_writes_every_file_and_points_latest(self, tmp_path: Path, judged: list[Judged], summary: Summary) -> None:
        scenario_file = tmp_path / "over-invoice.yaml"
        scenario_file.write_bytes(b"name: over-invoice\r\nruns: 20\n\xc3\xa9\n")
        profile = tmp_path / "default.yaml"
        profile.write_text("seed: 1\n")
        root = tmp_path / "results"
        folder = open_result_dir(root, "suite", now=NOW)
        inputs = {"over-invoice.yaml": scenario_file, "profiles/default.yaml": profile}
        write_results(folder, records_with_results=judged, summary=summary, inputs=inputs)

        assert sorted(p.name for p in folder.iterdir()) == ["inputs", "junit.xml", "runs.jsonl", "summary.json"]
        assert (folder / "inputs" / "over-invoice.yaml").read_bytes() == scenario_file.read_bytes()
        assert (folder / "inputs" / "profiles" / "default.yaml").read_text() == "seed: 1\n"
        assert json.loads((folder / "summary.json").read_text()) == json.loads(json.dumps(summary.to_json()))
        link = root / LATEST
        assert link.is_symlink()
        assert os.readlink(link) == folder.name  # relative: the results folder can move
        assert link.resolve() == folder
        assert no_temp_files(root, folder)

    def test_runs_jsonl_round_trips(self, tmp_path: Path, judged: list[Judged], summary: Summary) -> None:
        folder = open_result_dir(tmp_path, "suite", now=NOW)
        write_results(folder, records_with_results=judged, summary=summary, inputs={})
        assert (folder / "inputs").is_dir()  # always there, even empty: replay looks for it
        lines = (folder / "runs.jsonl").read_text().splitlines()
        assert len(lines) == len(judged)
        first = json.loads(lines[0])
        assert first["run_id"] == "n-0"
        assert first["verdict"] == "invalid"
        assert first["results"][0] == judged[0][1][0].to_json()
        assert first["error"] is None
        assert [Operation.from_json(op) for op in first["history"]] == list(judged[0][0].history)
        assert json.loads(lines[3])["verdict"] == "unknown"
        assert list(read_runs(folder)) == judged

    def test_a_damaged_line_is_named_a_torn_last_one_skipped_and_blank_lines_too(
        self, tmp_path: Path, judged: list[Judged], summary: Summary
    ) -> None:
        folder = open_result_dir(tmp_path, "suite", now=NOW)
        write_results(folder, records_with_results=judged[:2], summary=summary, inputs={})
        runs = folder / "runs.jsonl"
        first, second = runs.read_text(encoding="utf-8").splitlines()
        runs.write_text(f"{first}\n\n{second}\n", encoding="utf-8")
        assert [line["run_id"] for line in run_lines(folder)] == ["n-0", "n-1"]
        runs.write_text(f"{first}\n{second[: len(second) // 2]}", encoding="utf-8")  # a writer killed mid-line
        assert list(read_runs(runs)) == judged[:1]
        runs.write_text(f"{first[: len(first) // 2]}\n{second}\n", encoding="utf-8")  # not the last line: damage
        with pytest.raises(ValueError, match=r"runs\.jsonl:1: not a JSON line; the file is damaged"):
            list(read_runs(runs))

    def test_summary_holds_aggregates_gates_and_statistics(self, summary: Summary) -> None:
        assert summary.passed is False
        assert (summary.runs, summary.invalid, summary.unknown) == (5, 1, 1)
        assert summary.seed == 42
        assert summary.command == ("racelab", "run", "--seed", "42")
        assert [(g.scenario, g.integration, g.passed) for g in summary.gates] == [
            ("over-invoice", "naive", True),
            ("over-invoice", "workaround", False),
            ("stuck", "naive", False),
        ]
        assert [(g.scenario, g.integration, g.runs) for g in summary.groups] == [
            ("over-invoice", "naive", 2),
            ("over-invoice", "workaround", 2),
            ("stuck", "naive", 1),
        ]
        assert len(summary.cells) == 5
        assert summary.skew_ms.count == 5
        assert summary.skew_ms.max == pytest.approx(0.125)
        assert summary.time_to_invoice_ms["naive"].p50 == pytest.approx(120.5)
        assert summary.invoice_cost_ms.baseline == "naive"
        cost = summary.invoice_cost_ms.integrations["workaround"]
        assert cost.pairs == 2
        assert cost.added_p50 == pytest.approx((299.5 + 0.0) / 2)

    def test_summary_json_keeps_its_keys_in_order_and_reads_back(self, summary: Summary) -> None:
        written = summary.to_json()
        assert list(written) == [
            "passed",
            "runs",
            "invalid",
            "unknown",
            "seed",
            "command",
            "gates",
            "groups",
            "cells",
            "skew_ms",
            "time_to_invoice_ms",
            "invoice_cost_ms",
        ]
        assert written["command"] == ["racelab", "run", "--seed", "42"]
        assert list(written["groups"][0]) == [
            "scenario",
            "integration",
            "runs",
            "valid",
            "invalid",
            "unknown",
            "rate",
            "ci95",
            "checkers",
            "examples",
            "unknown_example",
        ]
        assert "cell" in written["cells"][0]
        again = Summary.from_json(json.loads(json.dumps(written)))
        assert again.to_json() == written
        assert again.gates == summary.gates

    def test_how_the_runs_were_executed_is_written_last_and_only_when_known(self, judged: list[Judged]) -> None:
        summary = build_summary(judged, gates=GATES, mode="virtual", settle_timeout_s=30.0)
        written = summary.to_json()
        assert list(written)[-2:] == ["mode", "settle_timeout_s"]
        assert (written["mode"], written["settle_timeout_s"]) == ("virtual", 30.0)
        assert Summary.from_json(written).mode == "virtual"

    def test_junit_has_a_suite_per_scenario_and_the_gates_reasons(
        self, tmp_path: Path, judged: list[Judged], summary: Summary
    ) -> None:
        folder = open_result_dir(tmp_path, "suite", now=NOW)
        write_results(folder, records_with_results=judged, summary=summary, inputs={})
        root = ET.parse(folder / "junit.xml").getroot()
        assert root.tag == "testsuites"
        assert (root.get("tests"), root.get("failures")) == ("3", "2")
        suites = {s.get("name"): s for s in root.iter("testsuite")}
        assert list(suites) == ["over-invoice", "stuck"]
        over = suites["over-invoice"]
        assert (over.get("tests"), over.get("failures")) == ("2", "1")
        cases = {c.get("name"): c for c in over.iter("testcase")}
        assert list(cases) == ["naive: reproduces", "workaround: violations"]
        assert cases["naive: reproduces"].find("failure") is None
        failure = cases["workaround: violations"].find("failure")
        assert failure is not None
        workaround_gate = next(g for g in summary.gates if g.integration == "workaround")
        assert failure.get("message") == workaround_gate.reason
        assert "could not be judged" in workaround_gate.reason
        table = over.find("system-out")
        assert table is not None
        assert table.text is not None
        assert "workaround" in table.text
        assert "FAIL" in table.text
        assert "stuck" not in table.text

    def test_refuses_input_names_that_escape(self, tmp_path: Path, judged: list[Judged], summary: Summary) -> None:
        source = tmp_path / "s.yaml"
        source.write_text("x")
        folder = open_result_dir(tmp_path / "results", "suite", now=NOW)
        for name in ["../s.yaml", "/tmp/s.yaml", "inputs/../../s.yaml"]:
            with pytest.raises(UnsafeResultPath):
                write_results(folder, records_with_results=judged, summary=summary, inputs={name: source})
        assert not (tmp_path / "results" / LATEST).exists()
        assert not (folder / "summary.json").exists()

    def test_latest_is_replaced(self, tmp_path: Path, judged: list[Judged], summary: Summary) -> None:
        first = open_result_dir(tmp_path, "one", now=NOW)
        write_results(first, records_with_results=judged, summary=summary, inputs={})
        second = open_result_dir(tmp_path, "two", now=NOW)
        write_results(second, records_with_results=judged, summary=summary, inputs={})
        assert os.readlink(tmp_path / LATEST) == second.name
        assert (tmp_path / LATEST / "summary.json").is_file()
        assert no_temp_files(tmp_path)

    def test_a_crash_leaves_the_previous_file_whole(
        self, tmp_path: Path, judged: list[Judged], summary: Summary
    ) -> None:
        folder = open_result_dir(tmp_path, "suite", now=NOW)
        write_results(folder, records_with_results=judged, summary=summary, inputs={})
        before = (folder / "runs.jsonl").read_bytes()

        def crashing() -> Iterator[Judged]:
            yield judged[0]
            raise RuntimeError("the runner died")

        with pytest.raises(RuntimeError, match="the runner died"):
            write_results(folder, records_with_results=crashing(), summary=build_summary([], gates={}), inputs={})
        assert (folder / "runs.jsonl").read_bytes() == before
        assert json.loads((folder / "summary.json").read_text())["passed"] is False
        assert no_temp_files(folder)

    def test_a_failed_write_of_the_summary_leaves_no_half_file(
        self, tmp_path: Path, judged: list[Judged], summary: Summary, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        folder = open_result_dir(tmp_path, "suite", now=NOW)
        real_dumps = folder_module._dumps

        def half_then_crash(value: Any, **kwargs: Any) -> str:
            if kwargs.get("indent"):  # the summary
                raise OSError("disk full")
            return real_dumps(value, **kwargs)

        monkeypatch.setattr(folder_module, "_dumps", half_then_crash)
        with pytest.raises(OSError, match="disk full"):
            write_results(folder, records_with_results=judged, summary=summary, inputs={})
        assert not (folder / "summary.json").exists()
        assert not (tmp_path / LATEST).exists()
        assert no_temp_files(folder)


class TestRenderTable:
    def render(self, summary: Summary, **kwargs: Any) -> str:
        out = io.StringIO()
        Console(file=out, width=160, color_system=None).print(render_table(summary, **kwargs))
        return out.getvalue()

    def test_rows_and_verdicts(self, summary: Summary) -> None:
        table = render_table(summary)
        assert [c.header for c in table.columns] == [
            "scenario",
            "integration",
            "runs",
            "violations",
            "rate (95% CI)",
            "gate",
        ]
        assert table.row_count == 3
        lines = [line for line in self.render(summary).splitlines() if "over-invoice" in line or "stuck" in line]
        assert len(lines) == 3
        naive, workaround, stuck = lines
        assert "50.0% (9.5–90.5%)" in naive
        assert "pass" in naive
        assert "1 (+1 unknown)" not in workaround
        assert "0 (+1 unknown)" in workaround
        assert "FAIL (violations)" in workaround
        assert "FAIL (reproduces)" in stuck

    def test_a_gate_whose_integration_never_ran_has_a_row(self, judged: list[Judged]) -> None:
        summary = build_summary(judged, gates={"over-invoice": {"robust": Gate(violations=0)}})
        text = self.render(summary, scenario="over-invoice")
        robust = next(line for line in text.splitlines() if "robust" in line)
        assert "FAIL (violations)" in robust
        assert "stuck" not in text

    def test_no_gate_shows_a_dash(self, judged: list[Judged]) -> None:
        text = self.render(build_summary(judged, gates={}))
        assert "pass" not in text
        assert "FAIL" not in text

    def test_empty(self) -> None:
        assert render_table(build_summary([], gates={})).row_count == 0
