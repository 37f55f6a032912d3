"""`racelab run` as CI runs it: a process, scenario files, a results folder, and the exit code that gates the build.

0 every gate passed · 1 a gate failed · 2 bad input (scenario, option) · 3 harness or connection error.

The scenarios are small and use the `fixed` profile, under which every run unfolds the same way (invoice at 0 ms,
Change at 100 ms: the naive integration over-invoices, the workaround does not); each embedded call takes ~4 s.
Results go to `tmp_path`, never to the repository's `results/`.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = """\
name: {name}
summary: the over-invoice race, one offset, fixed delays
profile: fixed
order:
  items: [{{id: sku-1, price: 4990, quantity: 2}}, {{id: sku-2, price: 1500, quantity: 1}}]
  shipping: 1000
  status: handling
integrations: [naive, workaround]
steps:
  - {{at: 0ms, do: invoice}}
  - {{at: 100ms, do: change, remove: [{{id: sku-2, quantity: 1}}]}}
runs: 2
expect: [no-over-invoice, no-lost-invoice]
gate:
  naive: {naive_gate}
  workaround: {{violations: 0}}
"""
CANARY = "{reproduces: [no-over-invoice]}"
"""The naive integration must still show the bug: holds under the fixed profile."""
NEVER = "{violations: 0}"
"""The naive integration must never over-invoice: cannot hold."""


def racelab(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def scenario(folder: Path, name: str, naive_gate: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(SCENARIO.format(name=name, naive_gate=naive_gate))
    return path


def flat(text: str) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(text.split())


def summary_of(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "latest" / "summary.json").read_text())
    return data


def group(summary: dict[str, Any], integration: str) -> dict[str, Any]:
    return next(g for g in summary["groups"] if g["integration"] == integration)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port held bound but not listening: connections to it are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def test_exit_0_when_every_gate_passes_with_a_complete_results_folder(tmp_path: Path) -> None:
    path = scenario(tmp_path, "race-canary", CANARY)
    out = tmp_path / "results"
    done = racelab(path, "--out", out)
    assert done.returncode == 0, done.stdout + done.stderr
    latest = out / "latest"
    assert latest.is_symlink()
    folder = latest.resolve()
    assert folder.parent == out.resolve()
    assert folder.name.endswith("-race-canary")
    assert {p.name for p in folder.iterdir()} >= {"summary.json", "runs.jsonl", "junit.xml", "inputs"}
    # The exact inputs: the scenario file byte for byte, and the configuration the simulator ran with.
    assert (folder / "inputs" / "scenarios" / "race-canary.yaml").read_bytes() == path.read_bytes()
    profile = json.loads((folder / "inputs" / "profiles" / "race-canary.json").read_text())
    assert profile["orders"]["change"]["read_lag"]["ms"] == 600.0
    summary = summary_of(out)
    assert summary["passed"] is True
    assert summary["runs"] == 4
    assert (group(summary, "naive")["invalid"], group(summary, "workaround")["invalid"]) == (2, 0)
    assert [(g["integration"], g["condition"], g["passed"]) for g in summary["gates"]] == [
        ("naive", "reproduces", True),
        ("workaround", "violations", True),
    ]
    runs = [json.loads(line) for line in (folder / "runs.jsonl").read_text().splitlines()]
    assert sorted(r["integration"] for r in runs) == ["naive", "naive", "workaround", "workaround"]
    assert all(r["history"] for r in runs)
    suites = ET.parse(folder / "junit.xml").getroot()
    assert (suites.get("tests"), suites.get("failures")) == ("2", "0")
    # Wall-clock durations are kept apart from summary.json (which a virtual rerun must reproduce byte for byte).
    timing = json.loads((folder / "timing.json").read_text())
    assert (timing["mode"], timing["runs"], timing["scenarios"]["race-canary"]["runs"]) == ("embedded", 4, 4)
    assert 0 < timing["scenarios"]["race-canary"]["seconds"] <= timing["sweep_s"] <= timing["results_s"]
    assert timing["report_s"] > 0
    printed = flat(done.stdout)
    assert "PASS race-canary · naive" in printed
    assert "PASS race-canary · workaround" in printed
    assert "4 runs in " in printed
    assert "(real time; timing.json has the phases)" in printed
    assert not list((ROOT / "results").glob("*-race-canary")), "wrote into the repository's results/"


def test_exit_1_when_a_gate_fails_and_the_output_names_it(tmp_path: Path) -> None:
    path = scenario(tmp_path, "race-strict", NEVER)
    out = tmp_path / "results"
    done = racelab(path, "--out", out)
    assert done.returncode == 1, done.stdout + done.stderr
    printed = flat(done.stdout)
    assert "FAIL race-strict · naive: naive fails, more than 0 allowed: 2 of 2 runs violate no-over-invoice" in printed
    assert "PASS race-strict · workaround" in printed
    assert "invoiced 124.80 but its final total is 109.80" in printed  # an example a person can read
    summary = summary_of(out)
    assert summary["passed"] is False
    assert [g["integration"] for g in summary["gates"] if not g["passed"]] == ["naive"]
    suites = ET.parse(out / "latest" / "junit.xml").getroot()
    assert suites.get("failures") == "1"


def test_integration_option_overrides_the_scenarios_integrations(tmp_path: Path) -> None:
    # The same file that fails on its naive gate passes when only the workaround runs.
    path = scenario(tmp_path, "race-strict", NEVER)
    out = tmp_path / "results"
    done = racelab(path, "--integration", "workaround", "--out", out)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = summary_of(out)
    assert [g["integration"] for g in summary["groups"]] == ["workaround"]
    assert summary["runs"] == 2
    assert [(g["integration"], g["passed"]) for g in summary["gates"]] == [("workaround", True)]
    runs = (out / "latest" / "runs.jsonl").read_text().splitlines()
    assert {json.loads(line)["integration"] for line in runs} == {"workaround"}


def test_exit_2_for_a_malformed_scenario_naming_file_and_line(tmp_path: Path) -> None:
    path = scenario(tmp_path, "race-bad", CANARY)
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if "do: change" in line)
    lines[at] = lines[at].replace("at: 100ms", "at: -5ms")
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "results"
    done = racelab(path, "--out", out)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{path}:{at + 1}: steps[1].at" in done.stderr
    assert not out.exists(), "nothing may run, nor be written, for bad input"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{scenario}", "--runs", "0"], "--runs must be at least 1, got 0"),
        (["{scenario}", "--concurrency", "0"], "--concurrency must be at least 1, got 0"),
        (["{scenario}", "--settle-timeout", "0"], "--max-rate and --settle-timeout must be positive"),
        (["{scenario}", "--mode", "external"], "--mode external needs --orders-url"),
        (
            ["{scenario}", "--mode", "external", "--orders-url", "https://key:s3cret@staging.example"],
            "--orders-url: a URL with a user or password in it is written to the result folder",
        ),
        (["{scenario}", "--mode", "external", "--orders-url", "staging.example"], "expected an http:// or https://"),
        (["{scenario}", "--integration", "nosuch"], "integrations[0]: unknown integration nosuch"),
        (["{tmp}/no-such.yaml"], "no such file or folder: {tmp}/no-such.yaml"),
        (["{tmp}/empty"], "no scenario files"),
    ],
    ids=[
        "runs-0",
        "concurrency-0",
        "settle-timeout-0",
        "external-without-url",
        "url-with-credentials",
        "url-without-scheme",
        "unknown-integration",
        "unknown-path",
        "empty-folder",
    ],
)
def test_exit_2_for_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "empty").mkdir()
    path = scenario(tmp_path, "fine", CANARY)
    fill = {"{scenario}": str(path), "{tmp}": str(tmp_path)}
    for key, value in fill.items():
        args = [a.replace(key, value) for a in args]
        message = message.replace(key, value)
    out = tmp_path / "results"
    done = racelab(*args, "--out", out, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert not out.exists()


def test_exit_3_when_the_external_services_cannot_be_reached(tmp_path: Path, closed_port: int) -> None:
    path = scenario(tmp_path, "race-external", CANARY)
    out = tmp_path / "results"
    done = racelab(path, "--mode", "external", "--orders-url", f"http://127.0.0.1:{closed_port}", "--out", out)
    assert done.returncode == 3, done.stdout + done.stderr
    printed = flat(done.stdout)
    assert "4 runs were cut short" in printed
    assert f"Cannot connect to host 127.0.0.1:{closed_port}" in printed
    summary = summary_of(out)  # what could not be judged is still written down
    assert (summary["runs"], summary["unknown"], summary["passed"]) == (4, 4, False)


def test_the_printed_command_repeats_the_run(tmp_path: Path, closed_port: int) -> None:
    path = scenario(tmp_path, "race-again", CANARY)
    url = f"http://127.0.0.1:{closed_port}"
    done = racelab(
        path,
        "--mode",
        "external",
        "--orders-url",
        url,
        "--runs",
        "1",
        "--integration",
        "naive",
        "--out",
        tmp_path / "results",
    )
    assert done.returncode == 3
    again = flat(done.stdout).split("again: ", 1)[1]
    for option in ("--mode external", f"--orders-url {url}", "--runs 1", "--integration naive"):
        assert option in again


def test_help_lists_the_options_and_the_exit_codes() -> None:
    done = racelab("--help", timeout=60)
    assert done.returncode == 0
    text = flat(done.stdout)
    options = (
        "--mode {embedded,external,virtual}",
        "--seed",
        "--runs",
        "--integration NAME",
        "--out",
        "--orders-url",
        "--accounting-url",
        "--control-url",
        "--concurrency",
        "--max-rate",
        "--settle-timeout",
        "--jobs",
        "--resume",
        "--grace",
    )
    for option in options:
        assert option in text
    codes = "exit codes: 0 every gate passed on a complete sweep · 1 a gate failed · 2 bad input (scenario, option)"
    assert f"{codes} · 3 harness or connection error" in text
    assert "130 interrupted by SIGINT (Ctrl-C), 143 by SIGTERM" in text


def test_the_over_invoice_scenario_reproduces_with_naive_and_never_with_the_workaround(tmp_path: Path) -> None:
    out = tmp_path / "results"
    done = racelab("scenarios/over-invoice.yaml", "--runs", "1", "--out", out)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = summary_of(out)
    naive, workaround = group(summary, "naive"), group(summary, "workaround")
    assert naive["runs"] == workaround["runs"] == 20  # 50 to 1000 ms by 50 ms, once each
    assert naive["invalid"] > 0
    assert naive["checkers"]["no-over-invoice"]["invalid"] > 0
    assert (workaround["invalid"], workaround["unknown"]) == (0, 0)


@pytest.mark.parametrize("mode", ["virtual", "embedded"])
def test_exit_2_for_a_service_of_yours_outside_external_mode(tmp_path: Path, mode: str) -> None:
    # Such a run could only wait for a service that calls another simulator, and judged an order nobody invoiced
    # as valid: node-poll.yaml passed its gate in virtual mode with no service running.
    out = tmp_path / "results"
    done = racelab("scenarios/examples/node-poll.yaml", "--mode", mode, "--runs", "1", "--out", out, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "is a service of yours" in done.stderr
    assert "--mode external" in done.stderr
    assert not out.exists()
