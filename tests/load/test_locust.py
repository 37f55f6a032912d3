"""Locust itself, as users run it: `racelab load` end to end, plain `locust -f` distributed over one master and two
workers on loopback, and bad input. Every run is a subprocess bounded by `--iterations` and `-t` and by a timeout
here; its process group must be gone when it ends."""

from __future__ import annotations

import csv
import json
import socket
import sys
from pathlib import Path

import pytest

from .conftest import FAST_SCENARIO, ROOT, run_bounded, start

LOCUST = [sys.executable, "-m", "locust", "-f", str(ROOT / "scenarios/load/race.py")]
RACELAB = [sys.executable, "-m", "harness.cli"]
INVOICES = "POST /api/orders/pvt/document/[id]/invoices"


def stats_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_racelab_load_starts_the_simulator_runs_locust_and_fails_on_a_threshold(tmp_path: Path) -> None:
    done = run_bounded(
        [
            *RACELAB,
            "load",
            "race",
            "--scenario",
            str(FAST_SCENARIO),
            "-u",
            "2",
            "-r",
            "2",
            "-t",
            "60s",
            "--iterations",
            "2",
            "--max-violations",
            "naive=0",
            "--out",
            str(tmp_path),
            "NaiveUser",
            "WorkaroundUser",
        ],
        timeout=120,
    )
    assert done.code == 1, done.out + done.err  # naive broke an invariant, and naive=0
    [folder] = tmp_path.iterdir()
    assert folder.name.endswith("-load-race")
    assert {"report.html", "locust_stats.csv", "locust_failures.csv", "summary.json", "locust.log"} <= {
        p.name for p in folder.iterdir()
    }
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["passed"] is False
    assert summary["tally"]["runs"] == {"naive": 2, "workaround": 2}
    assert summary["tally"]["invalid"] == {"naive": 2}
    failed = {r["threshold"] for r in summary["thresholds"] if not r["passed"]}
    assert failed == {"violations naive"}
    assert summary["command"].startswith("racelab load race --scenario")
    failures = stats_rows(folder / "locust_failures.csv")
    assert any(
        f["Method"] == "RACE" and f["Name"] == "naive" and "over-invoiced by 15.00" in f["Error"] for f in failures
    )
    assert "FAIL violations naive: 2 of 2 runs violated an invariant" in done.out
    assert "/api/orders/pvt/document/[id]/invoices" in done.out  # the summary table, brackets and all
    assert "<html" in (folder / "report.html").read_text()[:2000].lower()


@pytest.mark.slow
def test_one_master_and_two_workers_on_loopback_judge_and_report_together(tmp_path: Path, simulator: str) -> None:
    port = free_port()
    report, prefix = tmp_path / "verdict.json", tmp_path / "dist"
    workers = [
        start(
            [*LOCUST, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
            log=tmp_path / f"worker{i}.log",
        )
        for i in (1, 2)
    ]
    try:
        done = run_bounded(
            [
                *LOCUST,
                "--master",
                "--headless",
                "--expect-workers",
                "2",
                "--expect-workers-max-wait",
                "60",
                "--master-bind-host",
                "127.0.0.1",
                "--master-bind-port",
                str(port),
                "-u",
                "4",
                "-r",
                "4",
                "-t",
                "60s",
                "--iterations",
                "2",
                "-H",
                simulator,
                "--scenario",
                str(FAST_SCENARIO),
                "--max-violations",
                "naive=inf,workaround=0",
                "--max-p95",
                f"{INVOICES}=5000",
                "--csv",
                str(prefix),
                "--racelab-report",
                str(report),
                "NaiveUser",
                "WorkaroundUser",
            ],
            timeout=120,
        )
        codes = [w.wait(timeout=30) for w in workers]  # the master tells them to quit
    finally:
        for w in workers:
            w.stop()
    assert done.code == 0, done.err[-4000:]
    assert codes == [0, 0]
    summary = json.loads(report.read_text())
    tally = summary["tally"]
    assert tally["runs"] == {"naive": 4, "workaround": 4}  # 4 users x 2 iterations, 2 users per class
    assert tally["invalid"] == {"naive": 4}  # violations are reported, and allowed (naive=inf)
    assert tally["unknown"] == {}
    sources = tally["sources"]
    assert len(sources) == 2, sources  # both workers judged runs
    assert all(s["runs"] > 0 and s["requests"] > 0 for s in sources.values())
    rows = stats_rows(tmp_path / "dist_stats.csv")
    http = [r for r in rows if r["Type"] not in ("RACE", "") and r["Name"] != "Aggregated"]
    assert sum(int(r["Request Count"]) for r in http) == sum(s["requests"] for s in sources.values())
    race_rows = {r["Name"]: r for r in rows if r["Type"] == "RACE"}
    assert (race_rows["naive"]["Request Count"], race_rows["naive"]["Failure Count"]) == ("4", "4")
    assert race_rows["workaround"]["Failure Count"] == "0"
    [p95] = [r for r in summary["thresholds"] if r["threshold"] == f"p95 {INVOICES}"]
    assert p95["passed"]
    assert "at most 5000 ms" in p95["reason"]
    assert "PASS violations workaround: 0 of 4 runs" in done.err


def test_racelab_load_refuses_bad_thresholds_before_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    code = main(["load", "race", "--max-violations", "naive=lots", "--out", str(tmp_path / "results")])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "racelab: --max-violations: naive: expected a count, inf or a percentage like 1% (got 'lots')"
    )
    assert not (tmp_path / "results").exists()  # no results folder, so no simulator and no locust either


def test_plain_locust_refuses_a_scenario_it_cannot_fire_with_exit_code_2() -> None:
    done = run_bounded(
        [
            *LOCUST,
            "--headless",
            "-u",
            "1",
            "-t",
            "5s",
            "-H",
            "http://127.0.0.1:9",
            "--scenario",
            str(ROOT / "scenarios/reconcile-over-invoice.yaml"),
        ],
        timeout=60,
    )
    assert done.code == 2, done.err[-2000:]
    assert "racelab: " in done.err
    assert "`do: register-invoice` is not fired by load profiles" in done.err
