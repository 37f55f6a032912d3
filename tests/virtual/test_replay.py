"""`racelab replay RESULT_DIR --run SCENARIO/RUN_ID`: one saved run executed again from the result folder alone.

A virtual recording must replay bit for bit; a real-time one must reach the same verdicts with the same requests.
Tampering with the saved run must be caught. Bad input exits 2 with a sentence.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.cli import ROOT, only_result, racelab

OVER_INVOICE = ROOT / "scenarios" / "over-invoice.yaml"


@pytest.fixture(scope="module")
def virtual_result(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("virtual")
    done = racelab("run", OVER_INVOICE, "--mode", "virtual", "--runs", "1", "--out", out)
    assert done.returncode == 0, done.stderr + done.stdout
    return only_result(out)


def runs_of(folder: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in (folder / "runs.jsonl").read_text().splitlines()]


def test_a_virtual_run_replays_exactly_and_shows_its_timeline(virtual_result: Path) -> None:
    failing = next(r for r in runs_of(virtual_result) if r["verdict"] == "invalid")
    done = racelab("replay", virtual_result, "--run", f"over-invoice/{failing['run_id']}")
    assert done.returncode == 0, done.stderr + done.stdout
    out = done.stdout
    assert "reproduced exactly" in out
    # The timeline: client requests out and back, the simulator's READ and COMMIT points, in ms from the start.
    assert "→ invoice" in out
    assert "← invoice 200 ok" in out
    assert "change READ v" in out
    assert "invoice COMMIT v2" in out
    assert "change-respects-invoices broke here" in out
    assert "no-over-invoice: invalid" in out
    lines = [line for line in out.splitlines() if " ms  " in line]
    times = [float(line.split(" ms")[0]) for line in lines]
    assert times == sorted(times)


def test_a_bare_run_id_works_when_only_one_scenario_has_it(virtual_result: Path) -> None:
    first = runs_of(virtual_result)[0]
    done = racelab("replay", virtual_result, "--run", first["run_id"], "--no-timeline")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "reproduced exactly" in done.stdout
    assert " ms  " not in done.stdout


def test_a_tampered_run_is_not_reproduced(virtual_result: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(virtual_result, copy)
    runs = runs_of(copy)
    runs[0]["history"][-1]["t_complete"] += 1.0  # one millisecond moved in the saved history
    (copy / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in runs))
    done = racelab("replay", copy, "--run", f"over-invoice/{runs[0]['run_id']}", "--no-timeline")
    assert done.returncode == 1
    assert "not reproduced" in done.stdout
    assert "t_complete" in done.stdout


@pytest.mark.slow
def test_a_real_time_run_replays_with_the_same_verdicts(tmp_path: Path) -> None:
    scenario = tmp_path / "one-offset.yaml"
    scenario.write_text(
        OVER_INVOICE.read_text().replace("{from: 50ms, to: 1000ms, step: 50ms}", "100ms").replace("runs: 10", "runs: 2")
    )
    done = racelab("run", scenario, "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr + done.stdout
    folder = only_result(tmp_path / "out")
    run = runs_of(folder)[0]
    replayed = racelab("replay", folder, "--run", f"over-invoice/{run['run_id']}", "--no-timeline")
    assert replayed.returncode == 0, replayed.stderr + replayed.stdout
    assert "recorded in real time" in replayed.stdout
    assert f"reproduced: verdict {run['verdict']} with the same requests and outcomes" in replayed.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/no/such/folder", "--run", "x/0000-0000-naive"], "not a result folder"),
        (["{result}", "--run", "over-invoice/9999-0000-naive"], "no run 'over-invoice/9999-0000-naive'"),
        (["{result}", "--run", "stuck-order/0000-0000-naive"], "no run"),
    ],
)
def test_bad_input_exits_2_with_a_sentence(virtual_result: Path, args: list[str], message: str) -> None:
    done = racelab("replay", *[a.replace("{result}", str(virtual_result)) for a in args])
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_an_ambiguous_bare_id_names_the_candidates(virtual_result: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(virtual_result, copy)
    runs = runs_of(copy)
    twin = {**runs[0], "scenario": "other-scenario"}
    (copy / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [*runs, twin]))
    done = racelab("replay", copy, "--run", runs[0]["run_id"])
    assert done.returncode == 2
    assert f"over-invoice/{runs[0]['run_id']}" in done.stderr
    assert f"other-scenario/{runs[0]['run_id']}" in done.stderr


def test_an_external_result_cannot_be_replayed(virtual_result: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(virtual_result, copy)
    summary = json.loads((copy / "summary.json").read_text())
    (copy / "summary.json").write_text(json.dumps({**summary, "mode": "external"}))
    done = racelab("replay", copy, "--run", runs_of(copy)[0]["run_id"])
    assert done.returncode == 2
    assert "recorded against external services" in done.stderr
