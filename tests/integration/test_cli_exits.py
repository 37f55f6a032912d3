"""`racelab`'s one table from exception to exit code, and the crash log of an unexpected exception.

Only the user's mistakes exit 2 (`UsageError`, the simulator's `ConfigError`); a bug, even one that raises
`ValueError`, exits 3 with one line on stderr and its traceback in a log file in the result folder (or the results
root) that the line names; Ctrl-C exits 130. The commands run in this process (`harness.cli.main`); where a bug is
needed, the function the command calls is replaced by one that raises it.
"""

from __future__ import annotations

import errno
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest

from harness import cli
from harness.errors import HarnessConnectionError, HarnessError, InvalidScenario, UnsafeResultPath, UsageError
from simulator import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = str(ROOT / "scenarios" / "over-invoice.yaml")


def raising(exc: BaseException) -> Callable[..., Any]:
    """A stand-in for a function the command calls (sync or async): raises `exc` when called or awaited."""

    def fail(*args: Any, **kwargs: Any) -> NoReturn:
        raise exc

    return fail


def crash_logs(folder: Path) -> list[Path]:
    return sorted(folder.glob("racelab-crash-*.log"))


@pytest.mark.parametrize(
    ("exc", "code", "message"),
    [
        (UsageError("--jobs must be at least 1"), 2, "racelab: --jobs must be at least 1"),
        (InvalidScenario("bad", path="s.yaml", line=3, field="steps"), 2, "racelab: s.yaml:3: steps: bad"),
        (UnsafeResultPath("../x is outside results"), 2, "racelab: ../x is outside results"),
        (ConfigError("orders.change.read_lag: bad"), 2, "racelab: orders.change.read_lag: bad"),
        (HarnessConnectionError("cannot reach http://x"), 3, "racelab: cannot reach http://x"),
        (HarnessError("locust ended without a verdict"), 3, "racelab: locust ended without a verdict"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), 3, "racelab: connection error: [Errno 111] refused"),
        (KeyboardInterrupt(), 130, "racelab: interrupted"),
        (ValueError("wilson() needs 0 <= k <= n"), 3, None),
        (KeyError("runs"), 3, None),
        (TypeError("unsupported operand"), 3, None),
    ],
)
def test_the_table_maps_each_exception_to_its_exit_code(exc: BaseException, code: int, message: str | None) -> None:
    assert cli.exit_for(exc) == (code, message)


def test_what_the_table_does_not_name_is_not_caught() -> None:
    with pytest.raises(SystemExit):
        cli.exit_for(SystemExit(4))


def test_a_bug_exits_3_with_one_line_and_its_traceback_in_the_results_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.drive import suite

    monkeypatch.setattr(suite, "run_suite", raising(ValueError("wilson() needs 0 <= k <= n, got k=3, n=2")))
    out = tmp_path / "results"
    assert cli.main(["run", SCENARIO, "--out", str(out)]) == cli.EXIT_ERROR
    [log] = crash_logs(out)
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("racelab: internal error, not a mistake of yours: ValueError: wilson() needs 0 <= k <= n")
    assert f"its traceback is in {log}" in err
    text = log.read_text(encoding="utf-8")
    assert f"command: racelab run {SCENARIO} --out {out}" in text
    assert "Traceback (most recent call last)" in text
    assert "ValueError: wilson() needs 0 <= k <= n, got k=3, n=2" in text


def test_a_bug_in_a_command_on_a_result_folder_logs_into_that_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.virtual import replay

    monkeypatch.setattr(replay, "find_run", raising(KeyError("scenario")))
    folder = tmp_path / "20250101-000000-over-invoice"
    folder.mkdir()
    assert cli.main(["replay", str(folder), "--run", "over-invoice/0000-0000-naive"]) == cli.EXIT_ERROR
    [log] = crash_logs(folder)
    assert "KeyError: 'scenario'" in log.read_text(encoding="utf-8")
    assert f"racelab: internal error, not a mistake of yours: KeyError: 'scenario' (its traceback is in {log})" in (
        capsys.readouterr().err
    )


def test_a_crash_log_that_cannot_go_to_its_folder_goes_to_the_temporary_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.drive import suite

    monkeypatch.setattr(suite, "run_suite", raising(RuntimeError("boom")))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    not_a_folder = tmp_path / "results"
    not_a_folder.write_text("a file where the results root should be\n")
    assert cli.main(["run", SCENARIO, "--out", str(not_a_folder)]) == cli.EXIT_ERROR
    [log] = crash_logs(tmp_path / "tmp")
    assert f"(its traceback is in {log})" in capsys.readouterr().err


def test_two_crashes_in_the_same_second_keep_both_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.drive import suite

    monkeypatch.setattr(suite, "run_suite", raising(RuntimeError("boom")))
    out = tmp_path / "results"
    out.mkdir()
    (out / "racelab-crash-20000101-000000.log").write_text("an older crash\n")
    for _ in range(2):
        assert cli.main(["run", SCENARIO, "--out", str(out)]) == cli.EXIT_ERROR
    assert len(crash_logs(out)) == 3


def test_a_usage_error_exits_2_and_leaves_no_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results"
    assert cli.main(["run", SCENARIO, "--runs", "0", "--out", str(out)]) == cli.EXIT_BAD_INPUT
    assert capsys.readouterr().err == "racelab: --runs must be at least 1, got 0\n"
    assert not out.exists()


def test_a_connection_error_exits_3_with_its_message_and_no_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.drive import suite

    monkeypatch.setattr(suite, "run_suite", raising(HarnessConnectionError("cannot reach the simulator at http://x")))
    out = tmp_path / "results"
    assert cli.main(["run", SCENARIO, "--out", str(out)]) == cli.EXIT_ERROR
    assert capsys.readouterr().err == "racelab: cannot reach the simulator at http://x\n"
    assert not out.exists()


def test_ctrl_c_exits_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.drive import suite

    monkeypatch.setattr(suite, "run_suite", raising(KeyboardInterrupt()))
    out = tmp_path / "results"
    assert cli.main(["run", SCENARIO, "--out", str(out)]) == cli.EXIT_INTERRUPTED == 130
    assert capsys.readouterr().err == "racelab: interrupted\n"
    assert not out.exists()


def test_no_command_prints_the_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == cli.EXIT_BAD_INPUT
    assert "COMMAND" in capsys.readouterr().out


def test_every_command_is_registered_in_the_order_of_the_help() -> None:
    parser = cli.build_parser()
    [commands] = [a for a in parser._actions if a.dest == "command"]
    assert list(commands.choices or ()) == [
        "run",
        "serve",
        "init",
        "replay",
        "explore",
        "proxy",
        "calibrate",
        "report",
        "load",
        "bench",
    ]
