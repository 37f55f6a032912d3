"""An interrupted sweep, as the summary, the gates, `junit.xml` and the console table say it: never a pass, every gate
marked partial, a gate that held on the runs that finished failed "interrupted: N of M runs", a gate that failed
still failed; and nothing of it written when the sweep ran to its end."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from rich.console import Console

from harness.judge.summarize import build_summary
from harness.model.records import CheckResult, FinalState, RunRecord, RunSpec, Step, Verdict
from harness.model.summary import GateResult, Interruption, Summary
from harness.output.junit import junit_xml
from harness.output.table import plain_table, render_table

OVER = "no-over-invoice"
Judged = tuple[RunRecord, tuple[CheckResult, ...]]
CUT = Interruption(signal="SIGINT", planned=40, finished=5, cut=2)


@dataclass(frozen=True, slots=True)
class Gate:
    reproduces: bool | tuple[str, ...] | None = None
    violations: int | None = None
    max_rate: float | None = None


def run(run_id: str, integration: str, *, invalid: bool = False) -> Judged:
    spec = RunSpec(
        run_id=run_id,
        scenario="over-invoice",
        integration=integration,
        cell={"change.at_ms": 100},
        repetition=0,
        seed=7,
        order_id=f"o-{run_id}",
        order={},
        steps=(Step(at_ms=0.0, do="invoice"),),
        expect=(OVER,),
    )
    verdict = Verdict.INVALID if invalid else Verdict.VALID
    return RunRecord(spec=spec, history=(), final=FinalState(order={})), (CheckResult(OVER, verdict, "so it is"),)


JUDGED = [run("n-0", "naive", invalid=True), run("n-1", "naive"), run("w-0", "workaround"), run("r-0", "robust")]
GATES = {
    "over-invoice": {
        "naive": Gate(reproduces=True),  # holds on the runs that finished
        "workaround": Gate(violations=0),  # holds
        "robust": Gate(reproduces=True),  # fails: robust reproduces nothing
        "hook-naive": Gate(violations=0),  # no runs at all
    }
}


def summaries(interrupted: Interruption | None = CUT) -> tuple[Summary, Summary]:
    """The summary of the runs as they are, and as the part of an interrupted sweep."""
    return build_summary(JUDGED, gates=GATES), build_summary(JUDGED, gates=GATES, interrupted=interrupted)


def by_integration(gates: Sequence[GateResult]) -> dict[str, GateResult]:
    return {g.integration: g for g in gates}


def test_no_gate_passes_and_every_decision_is_partial() -> None:
    whole, cut = summaries()
    assert [g.passed for g in whole.gates] == [True, True, False, False]
    assert cut.passed is False
    assert [(g.passed, g.partial) for g in cut.gates] == [(False, True)] * 4
    assert not any(g.partial for g in whole.gates)
    assert cut.interrupted == CUT
    assert (cut.runs, cut.groups, cut.cells) == (whole.runs, whole.groups, whole.cells)  # the tallies are the same


def test_a_gate_that_held_says_it_was_interrupted_with_the_counts() -> None:
    whole, cut = summaries()
    for name in ("naive", "workaround"):
        before, after = by_integration(whole.gates)[name], by_integration(cut.gates)[name]
        assert (
            after.reason
            == f"interrupted: 5 of 40 runs finished, so this gate cannot pass; on those runs {before.reason}"
        )
        assert after.held_back
        assert not before.held_back


def test_a_gate_that_failed_still_fails_and_says_the_sweep_was_cut() -> None:
    whole, cut = summaries()
    before, after = by_integration(whole.gates)["robust"], by_integration(cut.gates)["robust"]
    assert after.reason == f"{before.reason}; interrupted: 5 of 40 runs finished"
    assert not after.held_back


def test_a_gate_the_sweep_stopped_before_is_held_back_not_failed() -> None:
    whole, cut = summaries()
    assert by_integration(whole.gates)["hook-naive"].reason.endswith(
        "has no runs in over-invoice, so its gate cannot pass"
    )
    never = by_integration(cut.gates)["hook-naive"]
    assert never.reason == (
        "interrupted: 5 of 40 runs finished, none of them of hook-naive in over-invoice, so this gate cannot pass"
    )
    assert (never.passed, never.held_back, never.runs) == (False, True, 0)


def test_an_interrupted_sweep_without_gates_does_not_pass_either() -> None:
    assert build_summary(JUDGED, gates={}).passed
    assert not build_summary(JUDGED, gates={}, interrupted=CUT).passed
    (gate,) = build_summary(
        JUDGED[:1],
        gates={"over-invoice": {"naive": Gate(reproduces=True)}},
        interrupted=Interruption("SIGTERM", 1, 1, 0),
    ).gates
    assert gate.reason.startswith("interrupted: 1 of 1 run finished, so this gate cannot pass; on those runs naive ")


def test_summary_json_says_it_only_when_interrupted_and_reads_back() -> None:
    whole, cut = summaries()
    plain = whole.to_json()
    assert "interrupted" not in plain
    assert not any("partial" in g for g in plain["gates"])
    written = json.loads(json.dumps(cut.to_json()))
    assert list(written)[:3] == ["passed", "interrupted", "runs"]
    assert written["interrupted"] == {"signal": "SIGINT", "planned": 40, "finished": 5, "cut": 2}
    assert all(g["partial"] is True for g in written["gates"])
    again = Summary.from_json(written)
    assert again.interrupted == CUT
    assert again.gates == cut.gates
    assert again.to_json() == cut.to_json()
    assert Summary.from_json(plain).interrupted is None


def test_the_interruption_in_words() -> None:
    assert str(CUT) == "interrupted by SIGINT: 5 of 40 runs finished, 2 cut in flight"
    assert str(Interruption("SIGTERM", 10, 3, 0)) == "interrupted by SIGTERM: 3 of 10 runs finished"


def test_junit_has_an_error_first_and_the_held_back_gates_fail_as_interrupted() -> None:
    _, cut = summaries()
    root = junit_xml(cut).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "4", "1")
    first, scenario = root.findall("testsuite")
    assert (first.get("name"), first.get("errors"), first.get("tests")) == ("racelab", "1", "1")
    (case,) = first.findall("testcase")
    assert case.get("name") == "interrupted"
    error = case.find("error")
    assert error is not None
    assert error.get("type") == "Interrupted"
    assert error.get("message") == "interrupted by SIGINT: 5 of 40 runs finished, 2 cut in flight; no gate can pass"
    kinds = {c.get("name"): c.find("failure") for c in scenario.findall("testcase")}
    assert {name: f.get("type") for name, f in kinds.items() if f is not None} == {
        "naive: reproduces": "Interrupted",
        "workaround: violations": "Interrupted",
        "robust: reproduces": "GateFailed",
        "hook-naive: violations": "Interrupted",
    }


def test_junit_of_a_whole_sweep_has_no_error() -> None:
    whole, _ = summaries()
    root = junit_xml(whole).getroot()
    assert root.get("errors") == "0"
    assert [s.get("name") for s in root.findall("testsuite")] == ["over-invoice"]
    assert ET.tostring(root).count(b"<error") == 0


def rendered(summary: Summary) -> str:
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(render_table(summary))
    return out.getvalue()


def test_the_table_says_interrupted_in_its_title_and_for_the_gates_that_held() -> None:
    whole, cut = summaries()
    text = rendered(cut)
    assert "racelab results · INTERRUPTED by SIGINT: 5 of 40 runs finished, 2 cut in flight" in text
    lines = {line.split("│")[2].strip(): line for line in text.splitlines() if line.count("│") > 3}
    assert lines["naive"].rstrip(" │").endswith("INTERRUPTED")
    assert lines["workaround"].rstrip(" │").endswith("INTERRUPTED")
    assert lines["robust"].rstrip(" │").endswith("FAIL (reproduces)")
    assert lines["hook-naive"].rstrip(" │").endswith("INTERRUPTED")
    assert "INTERRUPTED" not in rendered(whole)
    assert "INTERRUPTED by SIGINT" in plain_table(cut)


@pytest.mark.parametrize("failed_too", [True, False])
def test_a_row_with_a_real_failure_and_a_held_back_gate_says_both(failed_too: bool) -> None:
    gates = {"over-invoice": {"naive": Gate(reproduces=True, violations=0 if failed_too else 1)}}
    text = rendered(build_summary(JUDGED, gates=gates, interrupted=CUT))
    (row,) = [line for line in text.splitlines() if "naive" in line]
    expected = "FAIL (violations) · INTERRUPTED" if failed_too else "INTERRUPTED"
    assert row.rstrip(" │").endswith(f"│ {expected}")
