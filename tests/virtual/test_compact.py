"""Compact result lines (`racelab run --compact`): about half the bytes a run, the same verdicts, summary and report,
and a run that still replays exactly."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import ROOT, only_result, racelab

SCENARIO = ROOT / "scenarios" / "over-invoice.yaml"


def sweep(root: Path, *extra: str) -> Path:
    done = racelab("run", SCENARIO, "--mode", "virtual", "--runs", "2", "--jobs", "1", "--out", root, *extra)
    assert done.returncode == 0, done.stdout + done.stderr
    return only_result(root)


def test_compact_lines_keep_what_verdicts_report_and_replay_read_in_half_the_bytes(tmp_path: Path) -> None:
    full, compact = sweep(tmp_path / "full"), sweep(tmp_path / "compact", "--compact")
    full_lines = (full / "runs.jsonl").read_text().splitlines()
    compact_lines = (compact / "runs.jsonl").read_text().splitlines()
    assert len(full_lines) == len(compact_lines) == 80
    assert sum(map(len, compact_lines)) < 0.6 * sum(map(len, full_lines))
    for a, b in zip(map(json.loads, full_lines), map(json.loads, compact_lines), strict=True):
        assert b.pop("compact") is True
        assert set(b["final"]["order"]) < set(a["final"]["order"])
        kept = {k: v for k, v in a["final"]["order"].items() if k in b["final"]["order"]}
        kept["items"] = [{k: item[k] for k in ("id", "quantity", "price", "sellingPrice")} for item in kept["items"]]
        a["final"]["order"] = kept
        assert a == b
    summary = json.loads((compact / "summary.json").read_text())
    expected = json.loads((full / "summary.json").read_text())
    assert summary.pop("command").endswith("--compact")
    expected.pop("command")
    assert summary == expected
    assert (compact / "report.html").stat().st_size > 0

    failing = next(json.loads(line) for line in compact_lines if json.loads(line)["verdict"] == "invalid")
    replayed = racelab("replay", compact, "--run", f"over-invoice/{failing['run_id']}", "--no-timeline")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "reproduced exactly" in replayed.stdout
