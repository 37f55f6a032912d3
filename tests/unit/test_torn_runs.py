"""A `runs.jsonl` cut by a killed process (`harness.model.codec`): a torn last line is skipped by the readers and cut
off by `truncate_torn_tail` so that appending resumes on a line of its own; any other damage is still an error; and
`completed_run_ids` names what a resumed sweep need not run again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.model.codec import completed_run_ids, read_runs, run_lines, run_to_json, truncate_torn_tail
from harness.model.records import CheckResult, FinalState, RunRecord, RunSpec, Step, Verdict


def judged(run_id: str, scenario: str = "over-invoice", *, note: str = "") -> tuple[RunRecord, tuple[CheckResult, ...]]:
    spec = RunSpec(
        run_id=run_id,
        scenario=scenario,
        integration="naive",
        cell={"change.at_ms": 100},
        repetition=0,
        seed=7,
        order_id=f"o-{run_id}",
        order={"note": note},
        steps=(Step(at_ms=0.0, do="invoice"),),
        expect=("no-over-invoice",),
    )
    record = RunRecord(spec=spec, history=(), final=FinalState(order={"orderId": f"o-{run_id}"}))
    return record, (CheckResult("no-over-invoice", Verdict.VALID, "fine"),)


def line(run_id: str, scenario: str = "over-invoice", *, note: str = "") -> bytes:
    return json.dumps(run_to_json(*judged(run_id, scenario, note=note)), ensure_ascii=False).encode() + b"\n"


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    path = tmp_path / "runs.jsonl"
    path.write_bytes(line("0000-0000-naive") + line("0000-0000-naive", "stuck-order") + line("0001-0000-naive"))
    return path


def ids(path: Path) -> list[str]:
    return [record.spec.run_id for record, _ in read_runs(path)]


@pytest.mark.parametrize("keep", [1, 40, -1], ids=["first-byte", "mid-line", "all-but-the-brace"])
def test_a_torn_last_line_is_skipped(runs: Path, keep: int) -> None:
    torn = line("0002-0000-naive")[:-1][:keep]
    runs.write_bytes(runs.read_bytes() + torn)
    assert ids(runs) == ["0000-0000-naive", "0000-0000-naive", "0001-0000-naive"]
    assert len(list(run_lines(runs.parent))) == 3  # a result folder reads the same


def test_a_last_line_torn_inside_a_character_is_skipped(runs: Path) -> None:
    whole = line("0002-0000-naive", note="naïve façade ☃")
    cut = whole.index("☃".encode()) + 1  # one byte of the three of the snowman
    runs.write_bytes(runs.read_bytes() + whole[:cut])
    assert len(ids(runs)) == 3
    assert truncate_torn_tail(runs)
    assert len(ids(runs)) == 3


def test_a_last_line_missing_only_its_newline_is_whole_and_read(runs: Path) -> None:
    runs.write_bytes(runs.read_bytes() + line("0002-0000-naive")[:-1])
    assert ids(runs)[-1] == "0002-0000-naive"


@pytest.mark.parametrize("where", [0, 1])
def test_damage_anywhere_but_a_torn_tail_is_a_usage_error(runs: Path, where: int) -> None:
    lines = runs.read_bytes().splitlines(keepends=True)
    lines[where] = lines[where][:30] + b"\n"
    runs.write_bytes(b"".join(lines))
    with pytest.raises(UsageError, match=rf"runs\.jsonl:{where + 1}: not a JSON line; the file is damaged"):
        ids(runs)


def test_a_damaged_last_line_that_ends_with_its_newline_is_damage_not_a_tear(runs: Path) -> None:
    runs.write_bytes(runs.read_bytes() + b'{"run_id": "0002-\n')
    with pytest.raises(UsageError, match=r"runs\.jsonl:4:"):
        ids(runs)


def test_truncate_cuts_a_torn_tail_so_that_appending_resumes_cleanly(runs: Path) -> None:
    whole = runs.read_bytes()
    runs.write_bytes(whole + line("0002-0000-naive")[:57])
    assert truncate_torn_tail(runs.parent) is True
    assert runs.read_bytes() == whole
    with runs.open("ab") as f:
        f.write(line("0002-0000-naive"))
    assert ids(runs)[-1] == "0002-0000-naive"
    assert len(ids(runs)) == 4


def test_truncate_leaves_a_whole_file_alone(runs: Path) -> None:
    whole = runs.read_bytes()
    assert truncate_torn_tail(runs) is False
    assert runs.read_bytes() == whole


def test_truncate_gives_a_whole_last_line_back_its_newline_and_cuts_nothing(runs: Path) -> None:
    whole = runs.read_bytes()
    runs.write_bytes(whole[:-1])
    assert truncate_torn_tail(runs) is False
    assert runs.read_bytes() == whole


def test_truncate_finds_the_last_newline_behind_a_torn_line_longer_than_its_chunk(runs: Path) -> None:
    whole = runs.read_bytes()
    long = line("0002-0000-naive", note="x" * 200_000)
    runs.write_bytes(whole + long[:150_000])
    assert truncate_torn_tail(runs) is True
    assert runs.read_bytes() == whole


def test_truncate_of_a_file_that_is_only_a_torn_line_empties_it(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    path.write_bytes(line("0000-0000-naive")[:20])
    assert truncate_torn_tail(path) is True
    assert path.read_bytes() == b""
    assert ids(path) == []


def test_truncate_of_nothing(tmp_path: Path) -> None:
    assert truncate_torn_tail(tmp_path / "runs.jsonl") is False
    (tmp_path / "runs.jsonl").write_bytes(b"")
    assert truncate_torn_tail(tmp_path) is False


def test_completed_run_ids_name_each_run_with_its_scenario(runs: Path) -> None:
    runs.write_bytes(runs.read_bytes() + line("0002-0000-naive")[:33])
    assert completed_run_ids(runs.parent) == {
        "over-invoice/0000-0000-naive",
        "stuck-order/0000-0000-naive",  # the same run id in another scenario is another run
        "over-invoice/0001-0000-naive",
    }


def test_completed_run_ids_refuse_a_line_that_is_no_run(runs: Path) -> None:
    runs.write_bytes(runs.read_bytes() + b'{"verdict": "valid"}\n')
    with pytest.raises(UsageError, match="line 4 is not a racelab run"):
        completed_run_ids(runs)
