"""`racelab serve` as a user runs it: a real process, a real port, a clean stop; bad input exits 2."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def racelab(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli", *args]


def test_serve_prints_where_it_listens_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        racelab("serve", "--port", "0", "--profile", "fixed", "--seed", "7"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until the server is listening
        assert first.startswith("racelab simulator listening on http://127.0.0.1:"), first
        url = first.rsplit(" ", 1)[1].strip()
        with urllib.request.urlopen(f"{url}/_sim/config", timeout=10) as resp:
            config = json.load(resp)
        assert config["seed"] == 7
        assert config["orders"]["change"]["read_lag"]["ms"] == 600.0
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--profile", "no-such-profile"], "no profile named 'no-such-profile'; known profiles: default"),
        (["serve", "--profile", "tests/integration/test_cli_serve.py"], "not valid YAML"),
    ],
)
def test_serve_bad_profile_exits_2_with_a_message(args: list[str], message: str) -> None:
    done = subprocess.run(racelab(*args), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert message in done.stderr


def test_serve_invalid_profile_field_names_file_and_field(tmp_path: Path) -> None:
    profile = tmp_path / "bad.yaml"
    profile.write_text("orders:\n  change:\n    read_lag: {kind: lognormal, median_ms: 0, sigma: 1}\n")
    done = subprocess.run(
        racelab("serve", "--profile", str(profile)), cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert f"{profile}: orders.change.read_lag.median_ms" in done.stderr


def test_help_lists_serve() -> None:
    done = subprocess.run(racelab("--help"), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "serve" in done.stdout
