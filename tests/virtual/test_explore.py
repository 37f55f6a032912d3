"""`racelab explore`: hypothesis searches a scenario's schedules in virtual time and shrinks a violation.

The naive integration's over-invoice (failure A) and stuck order (failure B) are found and shrunk to a minimal
schedule, written as a scenario that `racelab run` reproduces; the workaround yields nothing, and says how many
schedules it tried. Interrupted by a real signal, the command writes the smallest violation found so far (or says
it found none) and exits 130 or 143.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import yaml

from harness.scenarios import load_scenario
from harness.virtual.explore import Space, explore
from tests.support.cli import ROOT, only_result, racelab
from tests.support.signals import Command, wait_until

OVER_INVOICE = ROOT / "scenarios" / "over-invoice.yaml"
STUCK_ORDER = ROOT / "scenarios" / "stuck-order.yaml"


def test_failure_a_is_found_shrunk_and_written_as_a_scenario_that_reproduces(tmp_path: Path) -> None:
    out = tmp_path / "minimal.yaml"
    done = racelab("explore", OVER_INVOICE, "--integration", "naive", "--budget", "100", "--out", out)
    assert done.returncode == 1, done.stderr + done.stdout  # 1: a violation was found
    assert "violation: no-over-invoice" in done.stdout
    written = yaml.safe_load(out.read_text())
    assert written["integrations"] == ["naive"]
    # Shrunk: both steps are needed, the Change at the earliest offset of the window (50 ms), the invoice at 0.
    assert [(s["do"], s["at"]) for s in written["steps"]] == [("invoice", "0ms"), ("change", "50ms")]
    # Every latency pinned to a fixed value, and the Change's replica lag is what makes the race.
    change = written["simulator"]["orders"]["change"]
    assert {d["kind"] for d in change.values()} == {"fixed"}
    assert change["read_lag"]["ms"] > 0
    assert written["gate"] == {"naive": {"reproduces": ["no-over-invoice", "change-respects-invoices"]}}

    virtual = racelab("run", out, "--mode", "virtual", "--out", tmp_path / "virtual")
    assert virtual.returncode == 0, virtual.stdout  # the gate `reproduces` passes: the violation is there
    assert "naive reproduces: 1 of 1 runs" in virtual.stdout


@pytest.mark.slow
def test_the_minimal_scenario_also_reproduces_in_real_time(tmp_path: Path) -> None:
    out = tmp_path / "minimal.yaml"
    assert racelab("explore", OVER_INVOICE, "--integration", "naive", "--budget", "100", "--out", out).returncode == 1
    real = racelab("run", out, "--runs", "5", "--out", tmp_path / "real")
    assert real.returncode == 0, real.stdout
    assert "naive reproduces: 5 of 5 runs" in real.stdout
    assert only_result(tmp_path / "real").is_dir()


def test_failure_b_is_found_and_shrunk() -> None:
    space = Space.of(load_scenario(STUCK_ORDER), "naive", seed=1)
    found = explore(space, budget=100, seed=1)
    assert found.schedule is not None
    assert "invoiced-when-fully-invoiced" in found.checkers
    # Minimal: no step is dropped that the failure needs, every latency that does not matter is at its minimum.
    assert found.schedule.keep == (True, True)
    at_minimum = sum(ms == lat.low for lat, ms in zip(space.latencies, found.schedule.delays, strict=True))
    assert at_minimum >= len(space.latencies) - 3
    assert found.tried > found.violations >= 1


def test_the_workaround_yields_nothing_and_says_how_many_schedules_were_tried(tmp_path: Path) -> None:
    out = tmp_path / "minimal.yaml"
    done = racelab("explore", OVER_INVOICE, "--integration", "workaround", "--budget", "30", "--out", out)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "no violation in 30 schedules of over-invoice for workaround" in done.stdout
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budget", "0"], "--budget must be at least 1"),
        (["--integration", "nobody"], "nobody"),
    ],
)
def test_bad_input_exits_2(tmp_path: Path, args: list[str], message: str) -> None:
    done = racelab("explore", OVER_INVOICE, "--out", tmp_path / "x.yaml", *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


# -- interrupted --------------------------------------------------------------------------------------------------


def test_sigint_while_shrinking_writes_the_smallest_violation_so_far_and_exits_130(tmp_path: Path) -> None:
    out = tmp_path / "minimal.yaml"
    command = Command.start(
        ["explore", OVER_INVOICE, "--integration", "naive", "--budget", "100", "--out", out], cwd=ROOT, logs=tmp_path
    )
    try:
        wait_until(lambda: "found a violation" in command.stdout(), what="a first violation", timeout_s=60)
        command.signal(signal.SIGINT)
        assert command.wait(timeout_s=30) == 130, command.output()
    finally:
        command.kill()
    said = " ".join(command.stdout().split())  # as one line: rich wraps long ones
    assert "interrupted by SIGINT while shrinking" in said
    assert f"{out} holds the smallest violation found so far" in said
    assert "interrupted while it shrank this schedule" in out.read_text()
    assert not list(tmp_path.glob(".*.tmp"))  # written whole, through a temporary file
    written = yaml.safe_load(out.read_text())
    assert written["gate"]["naive"]["reproduces"]
    virtual = racelab("run", out, "--mode", "virtual", "--out", tmp_path / "virtual")
    assert virtual.returncode == 0, virtual.stdout  # what was written reproduces the violation, as a finished search's
    assert "naive reproduces: 1 of 1 runs" in virtual.stdout


def test_sigterm_before_a_violation_says_so_writes_nothing_and_exits_143(tmp_path: Path) -> None:
    out = tmp_path / "minimal.yaml"
    command = Command.start(
        ["explore", OVER_INVOICE, "--integration", "workaround", "--budget", "100000", "--out", out],
        cwd=ROOT,
        logs=tmp_path,
    )
    try:
        wait_until(lambda: "exploring over-invoice" in command.stdout(), what="the search to start", timeout_s=60)
        command.signal(signal.SIGTERM)
        assert command.wait(timeout_s=30) == 143, command.output()
    finally:
        command.kill()
    said = " ".join(command.stdout().split())
    assert "racelab: interrupted by SIGTERM after" in said
    assert f"no violation found yet; nothing written to {out}" in said
    assert not out.exists()
