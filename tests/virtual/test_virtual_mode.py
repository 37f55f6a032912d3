"""`racelab run --mode virtual`: every run from the same fresh state on a virtual clock, so results are exact.

Two runs of the same command must write identical `runs.jsonl` (no field of it is wall-clock in virtual mode: the
simulator's dates come from a fixed epoch plus virtual time) and identical `summary.json`, whatever the number of
worker processes (which changes which process runs which run, and in what order), and whatever the clock's idle
cycles (which change how the loop interleaves callbacks with input from outside).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.model.records import Verdict
from harness.scenarios import expand, load_scenario
from harness.virtual.universe import VIRTUAL_EPOCH, run_virtual, virtual_config
from tests.support.cli import ROOT, only_result, racelab

OVER_INVOICE = ROOT / "scenarios" / "over-invoice.yaml"


@pytest.mark.slow
def test_two_runs_write_identical_results_whatever_the_worker_processes(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    first = racelab("run", OVER_INVOICE, "--mode", "virtual", "--runs", "1", "--jobs", "2", "--out", one)
    second = racelab("run", OVER_INVOICE, "--mode", "virtual", "--runs", "1", "--jobs", "1", "--out", two)
    assert first.returncode == 0, first.stderr + first.stdout
    assert second.returncode == 0, second.stderr + second.stdout
    a, b = only_result(one), only_result(two)
    lines = (a / "runs.jsonl").read_text().splitlines()
    assert len(lines) == 40  # 20 offsets x 1 run x 2 integrations
    assert (a / "runs.jsonl").read_bytes() == (b / "runs.jsonl").read_bytes()
    summary_a = json.loads((a / "summary.json").read_text())
    summary_b = json.loads((b / "summary.json").read_text())
    # The command line is the one field that differs, because the two commands differ (--jobs, --out).
    assert summary_a.pop("command") != summary_b.pop("command")
    assert summary_a == summary_b
    assert summary_a["mode"] == "virtual"
    # The race is there, in virtual time as in real time: the naive integration over-invoices at some offsets.
    verdicts = {(r["integration"], r["verdict"]) for r in map(json.loads, lines)}
    assert ("naive", "invalid") in verdicts
    assert ("workaround", "invalid") not in verdicts


def test_the_exact_configuration_is_kept_with_a_fixed_epoch(tmp_path: Path) -> None:
    done = racelab("run", OVER_INVOICE, "--mode", "virtual", "--runs", "1", "--integration", "naive", "--out", tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    folder = only_result(tmp_path)
    config = json.loads((folder / "inputs" / "profiles" / "over-invoice.json").read_text())
    assert config["seed"] == 1
    assert config["epoch"].startswith(VIRTUAL_EPOCH[:19])
    first = json.loads((folder / "runs.jsonl").read_text().splitlines()[0])
    dates = [
        op["response"]["date"]
        for op in first["history"]
        if isinstance(op["response"], dict) and "date" in op["response"]
    ]
    assert dates, "the invoice and the change answer with a date"
    assert all(d.startswith("2026-01-01T00:00:0") for d in dates)  # virtual time from the epoch, not today


def test_a_run_does_not_depend_on_how_the_loop_interleaves_callbacks() -> None:
    scenario = load_scenario(OVER_INVOICE)
    spec = expand(scenario, seed=3, runs=1, integrations=["naive"])[5]
    config = virtual_config(scenario.profile, scenario.simulator, 3)
    default = run_virtual(spec, config)
    for cycles in (0, 2, 200):
        other = run_virtual(spec, config, idle_cycles=cycles)
        assert other.record == default.record, cycles
        assert other.results == default.results, cycles


def test_time_is_virtual_a_run_of_many_simulated_seconds_reports_them_exactly() -> None:
    scenario = load_scenario(OVER_INVOICE)
    spec = expand(scenario, seed=1, runs=1, integrations=["workaround"])[-1]  # the Change at 1000 ms
    config = virtual_config("default-x10", {}, 1)  # every delay ten times the default's
    outcome = run_virtual(spec, config)
    change = next(op for op in outcome.record.history if op.f == "change")
    # Sent exactly on schedule: no skew exists on a virtual clock.
    assert change.sent_ms == change.scheduled_ms == 1000.0
    # The workaround polls until the Change finishes; under this profile that takes seconds of virtual time.
    invoice = next(op for op in outcome.record.history if op.f == "invoice")
    assert invoice.t_invoke > 2000.0
    assert outcome.verdict is Verdict.VALID


def test_jobs_needs_virtual_mode(tmp_path: Path) -> None:
    done = racelab("run", OVER_INVOICE, "--jobs", "2", "--out", tmp_path)
    assert done.returncode == 2
    assert "--jobs needs --mode virtual" in done.stderr
