"""Locust itself, as users run it: `racelab load` end to end, plain `locust -f` distributed over one master and two
workers on loopback, bad input, and `racelab load` interrupted by real signals (locust stopped with its reports
kept, exit 130 or 143; a second signal kills everything at once). Every run is a subprocess bounded by
`--iterations` and `-t` and by a timeout here; its process group must be gone when it ends, and so must every
process it started."""

from __future__ import annotations

import csv
import json
import signal
import socket
import sys
from pathlib import Path

import pytest

from tests.support.signals import Command, still_running, wait_until

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


# -- interrupted ----------------------------------------------------------------------------------------------------


def _start_load(tmp_path: Path) -> Command:
    """`racelab load` for two minutes (it is interrupted long before)."""
    args = ["load", "race", "--scenario", FAST_SCENARIO, "-u", "2", "-r", "2", "-t", "120s"]
    return Command.start(
        [*args, "--out", tmp_path / "results", "NaiveUser", "WorkaroundUser"], cwd=ROOT, logs=tmp_path / "logs"
    )


def _racing(command: Command, results: Path) -> tuple[Path, set[int]]:
    """Wait until locust has judged races (its CSV history counts requests); the result folder and the processes
    the command started (locust and the simulator)."""

    def history() -> Path | None:
        for path in results.glob("*/locust_stats_history.csv"):
            if any(int(row["Total Request Count"] or 0) > 0 for row in stats_rows(path)):
                return path.parent
        return None

    folder = wait_until(history, what="locust to send requests", timeout_s=90)
    return folder, command.descendants()


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_locust_keeps_its_reports_and_marks_the_summary(
    tmp_path: Path, signum: signal.Signals, code: int
) -> None:
    command = _start_load(tmp_path)
    children: set[int] = set()
    try:
        folder, children = _racing(command, tmp_path / "results")
        assert len(children) >= 2  # locust and the embedded simulator
        command.signal(signum)
        assert command.wait(timeout_s=60) == code, command.output()
        assert still_running(children) == set()  # locust (a session of its own) and the simulator are gone
    finally:
        command.kill(children)
    assert {"report.html", "locust_stats.csv", "locust_failures.csv", "summary.json"} <= {
        p.name for p in folder.iterdir()
    }
    assert "<html" in (folder / "report.html").read_text()[:2000].lower()  # locust wrote it on its way out
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["passed"] is False  # an interrupted load test never passes
    assert summary["interrupted"]["signal"] == signum.name
    assert summary["interrupted"]["locust_exit"] is not None
    assert summary["tally"]["runs"]  # the races judged before the signal
    held = [t for t in summary["thresholds"] if t["passed"]]
    assert held
    assert all(t["partial"] for t in held)  # held so far, which decides nothing
    assert summary["command"].startswith("racelab load race --scenario")
    said = " ".join(command.stdout().split())
    assert f"INTERRUPTED by {signum.name}" in said
    assert f"results: {folder}" in said


@pytest.mark.slow
def test_a_second_sigint_kills_locust_and_the_simulator_and_exits_at_once(tmp_path: Path) -> None:
    command = _start_load(tmp_path)
    children: set[int] = set()
    try:
        folder, children = _racing(command, tmp_path / "results")
        command.signal(signal.SIGINT)
        wait_until(lambda: "stopping locust" in command.stdout(), what="the first SIGINT handled", timeout_s=30)
        command.signal(signal.SIGINT)  # locust needs more than a second to write its reports: it is still at it
        assert command.wait(timeout_s=10) == 130, command.output()
        assert still_running(children, timeout_s=5) == set()
    finally:
        command.kill(children)
    assert "second SIGINT: locust and the simulator killed" in command.stderr()
    assert (folder / "locust_stats_history.csv").is_file()  # what locust had written stays
