"""Building report.html (`harness.output.report`): from a result folder the real writer wrote, through `racelab report`,
and inside `racelab run`, where a report that cannot be built must not cost the results."""

from __future__ import annotations

import json
import re
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import harness.output.report.build
from harness.cli import main
from harness.judge.summarize import build_summary
from harness.model.records import CheckResult, RunRecord
from harness.model.summary import Interruption, Summary
from harness.output.folder import open_result_dir, replay_command, write_results
from harness.output.report import write_report
from tests.support.runs import sweep

Judged = tuple[RunRecord, tuple[CheckResult, ...]]
ROOT = Path(__file__).resolve().parents[2]

SCENARIO_FILE = """\
name: over-invoice
summary: >
  The over-invoice race <in short>, as a person reads it.
profile: fixed
order:
  items: [{id: sku-1, price: 4990, quantity: 2}, {id: sku-2, price: 1500, quantity: 1}]
  shipping: 1000
  status: handling
integrations: [naive, workaround]
steps:
  - {at: 0ms, do: invoice}
  - {at: 100ms, do: change, remove: [{id: sku-2, quantity: 1}]}
runs: 1
expect: [no-over-invoice]
gate:
  naive: {reproduces: [no-over-invoice]}
  workaround: {violations: 0}
"""


@dataclass(frozen=True, slots=True)
class Gate:
    reproduces: bool | tuple[str, ...] | None = None
    violations: int | None = None
    max_rate: float | None = None


@dataclass(frozen=True, slots=True)
class Result:
    folder: Path
    judged: list[Judged]
    summary: Summary


def write_result(tmp_path: Path) -> Result:
    """A result folder as `racelab run` writes it, of two scenarios of hand-built runs."""
    judged = sweep("over-invoice") + sweep("stuck-order")
    gates = {
        "over-invoice": {"naive": Gate(reproduces=True), "workaround": Gate(violations=0)},
        "stuck-order": {"naive": Gate(violations=0)},
    }
    summary = build_summary(judged, gates=gates, seed=7, command="racelab run scenarios --seed 7")
    source = tmp_path / "over-invoice.yaml"
    source.write_text(SCENARIO_FILE)
    folder = open_result_dir(tmp_path / "results", "suite", now=datetime(2026, 11, 21, 6, 0, 0))
    write_results(folder, records_with_results=judged, summary=summary, inputs={"scenarios/over-invoice.yaml": source})
    return Result(folder, judged, summary)


@pytest.fixture
def result(tmp_path: Path) -> Result:
    return write_result(tmp_path)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    """A result folder and its report, built once for the tests that only read them."""
    result = write_result(tmp_path_factory.mktemp("built"))
    return result, write_report(result.folder)


def table(html: str) -> dict[str, Any]:
    """The data the page's table is drawn from."""
    found = re.search(r'<script type="application/json" id="runs-data">(.*?)</script>', html, flags=re.S)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def rows(html: str) -> list[str]:
    return [row[2] for row in table(html)["rows"]]


def without_build_time(html: str) -> str:
    return re.sub(r"built \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "built -", html)


def test_report_of_a_result_folder(built: tuple[Result, Path]) -> None:
    result, path = built
    assert path == result.folder / "report.html"
    html = path.read_text(encoding="utf-8")
    assert 'id="verdict">FAIL · 1 of 3 gates failed' in html
    for gate in result.summary.gates:
        assert gate.reason in html
    assert "The over-invoice race &lt;in short&gt;, as a person reads it." in html  # from inputs/, escaped
    assert rows(html) == [record.spec.run_id for record, _ in result.judged]
    data = table(html)
    assert data["scenarios"] == ["over-invoice", "stuck-order"]
    first, last = data["rows"][0], data["rows"][-1]
    failed = "no-over-invoice, invoiced-when-fully-invoiced, change-respects-invoices"
    assert first == [0, "naive", "0000-0000-naive", "step1.at_ms=50", 0, "invalid", failed, 37, ""]
    assert last[:3] == [1, "workaround", "0001-0001-workaround"]
    kinds = re.findall(r'<figure class="chart" data-chart="([^"]+)">', html)
    # Per scenario a rate chart and the timeline of its one failing run; then the cost.
    assert kinds == ["rate", "timeline", "rate", "timeline", "cost"]
    assert html.count("<svg ") == len(kinds)


def test_report_is_self_contained(built: tuple[Result, Path]) -> None:
    html = built[1].read_text(encoding="utf-8")
    assert html.count("<script") == 2  # the table's data and its few lines of script, both inline
    assert not re.search(r'\b(?:src|href)\s*=\s*["\']?(?:https?:)?//', html)
    assert "<link" not in html
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert not re.search(r"@import|url\(\s*['\"]?(?:https?:)?//", html)


def test_streaming_the_folder_and_handing_runs_over_build_the_same_page(
    built: tuple[Result, Path], tmp_path: Path
) -> None:
    result, streamed = built
    handed = write_report(result.folder, out=tmp_path / "handed.html", runs=result.judged, summary=result.summary)
    assert without_build_time(streamed.read_text()) == without_build_time(handed.read_text())


def test_replay_commands_name_the_folder_as_seen_from_here(
    result: Result, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    html = write_report(result.folder).read_text()
    relative = result.folder.relative_to(tmp_path)
    expected = replay_command(relative, "stuck-order", "0000-0000-naive")
    assert expected.startswith("racelab replay results/20261121-060000-suite --run ")
    assert f'<code class="replay-command">{expected}</code>' in html
    assert json.dumps(f"racelab replay {relative} --run ") in html  # the table's replay prefix, for the JS


def test_the_report_is_written_whole_and_readable_by_others(built: tuple[Result, Path]) -> None:
    result, path = built
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert not [p for p in result.folder.iterdir() if p.name.endswith(".tmp")]


# -- racelab report ----------------------------------------------------------------------------------------------------


def test_racelab_report_writes_where_it_is_told_else_into_the_folder(
    result: Result, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "elsewhere" / "r.html"
    assert main(["report", str(result.folder), "--out", str(out)]) == 0
    assert rows(out.read_text()) == [record.spec.run_id for record, _ in result.judged]
    assert not (result.folder / "report.html").exists()
    assert main(["report", str(result.folder)]) == 0
    assert (result.folder / "report.html").read_bytes() != b""
    assert f"report: {result.folder / 'report.html'}" in capsys.readouterr().out


def test_racelab_report_of_an_interrupted_sweep_shows_a_banner_and_says_so(
    result: Result, capsys: pytest.CaptureFixture[str]
) -> None:
    gates = {"over-invoice": {"naive": Gate(reproduces=True), "workaround": Gate(violations=0)}}
    cut = Interruption(signal="SIGTERM", planned=64, finished=len(result.judged), cut=1)
    summary = build_summary(result.judged, gates=gates, seed=7, interrupted=cut)
    (result.folder / "summary.json").write_text(json.dumps(summary.to_json(), indent=2), encoding="utf-8")
    assert main(["report", str(result.folder)]) == 0
    html = (result.folder / "report.html").read_text(encoding="utf-8")
    banner = re.search(r'<div class="interrupted" id="interrupted">(.*?)</div>', html)
    assert banner is not None
    words = re.sub(r"<[^>]+>", "", banner.group(1))
    assert words.startswith("INTERRUPTED by SIGTERM: 16 of 64 runs finished, 1 cut in flight.")
    assert f"racelab run --resume {result.folder}" in words
    assert 'id="verdict">FAIL · 2 of 2 gates failed' in html
    assert html.count('<span class="tag interrupted">INTERRUPTED</span>') == 2 * 2  # the gates table, the groups
    out = capsys.readouterr().out
    assert f"INTERRUPTED: {cut}; resume: racelab run --resume {result.folder}" in out
    assert 'id="interrupted"' not in write_report(result.folder, summary=result.summary).read_text(encoding="utf-8")


def test_racelab_report_refuses_what_is_not_a_result_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "nothing: no such result folder" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "no summary.json; not a complete racelab result folder" in capsys.readouterr().err


def test_racelab_report_names_the_run_it_cannot_read(result: Result, capsys: pytest.CaptureFixture[str]) -> None:
    runs = result.folder / "runs.jsonl"
    lines = runs.read_text().splitlines()
    lines[1] = json.dumps({"run_id": "broken"})
    runs.write_text("\n".join(lines) + "\n")
    assert main(["report", str(result.folder)]) == 2
    assert "runs.jsonl: run 2: not a racelab run record (missing field 'scenario')" in capsys.readouterr().err
    assert not (result.folder / "report.html").exists()


def test_racelab_report_refuses_a_summary_that_is_not_json(result: Result, capsys: pytest.CaptureFixture[str]) -> None:
    (result.folder / "summary.json").write_text("{not json")
    assert main(["report", str(result.folder)]) == 2
    assert "summary.json: not valid JSON" in capsys.readouterr().err


def test_racelab_report_refuses_a_summary_that_is_not_racelabs(
    result: Result, capsys: pytest.CaptureFixture[str]
) -> None:
    written = result.summary.to_json()
    del written["gates"]
    (result.folder / "summary.json").write_text(json.dumps(written))
    assert main(["report", str(result.folder)]) == 2
    assert "summary.json: not a racelab summary (missing field 'gates')" in capsys.readouterr().err
    assert not (result.folder / "report.html").exists()


# -- inside racelab run ------------------------------------------------------------------------------------------------


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port held bound but not listening: connections to it are refused (every run is cut short)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def run_unreachable(tmp_path: Path, port: int) -> tuple[int, Path]:
    scenario = tmp_path / "over-invoice.yaml"
    scenario.write_text(SCENARIO_FILE)
    out = tmp_path / "results"
    url = f"http://127.0.0.1:{port}"
    code = main(["run", str(scenario), "--mode", "external", "--orders-url", url, "--out", str(out)])
    return code, (out / "latest").resolve()


def test_racelab_run_writes_the_report_even_when_no_run_could_be_judged(tmp_path: Path, closed_port: int) -> None:
    code, folder = run_unreachable(tmp_path, closed_port)
    assert code == 3
    html = (folder / "report.html").read_text()
    assert rows(html) == ["0000-0000-naive", "0000-0000-workaround"]
    assert "unknown (2)" in html


def test_racelab_run_keeps_its_results_and_exit_code_when_the_report_fails(
    tmp_path: Path, closed_port: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Path:
        raise RuntimeError("the disk [is] full")

    monkeypatch.setattr(harness.output.report.build, "write_report", broken)
    code, folder = run_unreachable(tmp_path, closed_port)
    assert code == 3  # as without the failure: every run was cut short
    written = {p.name for p in folder.iterdir()}
    assert written == {"inputs", "junit.xml", "plan.json", "runs.jsonl", "summary.json", "timing.json"}
    out = " ".join(capsys.readouterr().out.split())
    assert "racelab: warning: report.html not written: RuntimeError: the disk [is] full" in out
    assert f"results: {folder}" in out


def test_the_cli_loads_no_plotting_or_templates_until_a_report_is_built() -> None:
    probe = (
        "import sys, harness.cli; harness.cli.build_parser(); "
        "heavy = ('matplotlib', 'jinja2', 'harness.output.report.build'); "
        "print(','.join(sorted(m for m in heavy if m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
