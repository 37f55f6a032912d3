"""`racelab bench`: its code paths work and its judgements are right. Timing figures are never asserted.

- the bench recomputes the simulator's delay draws (the precision measure depends on it);
- rows built from measure results judge figures against targets the right way, the table renders every row, the
  JSON holds every row, and the exit code says miss / error / pass;
- with a tiny plan, every measure runs end to end against real simulators and `racelab run` children and yields
  a number for every row (slow: it starts a dozen processes);
- the command refuses bad input with exit code 2 before anything runs.
"""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness.bench import (
    MEASURES,
    BenchReport,
    Plan,
    _precision_rows,
    _repro_row,
    _sweep_rows,
    _throughput_rows,
    _virtual_rows,
    interpreter,
    render_table,
    run_bench,
    write_report,
)
from harness.bench import _output_path as output_path
from harness.bench._common import TIMES, Row, Target
from harness.bench._precision import delay_stream
from harness.cli import main
from simulator.contract import Uniform
from simulator.timing import RngStreams

TINY = replace(
    Plan.quick(),
    throughput_seconds=1,
    throughput_rounds=1,
    throughput_connections=4,
    throughput_orders=20,
    precision_requests=20,
    # Long enough that each worker sends a request inside the window even when its first one is slow: the test runs
    # the measures in three concurrent groups, whose `racelab run` children keep both cores busy (0.3 s was not).
    precision_seconds=1.5,
    precision_min_ms=5.0,
    precision_max_ms=50.0,
    sweep_runs_per_offset=1,
    virtual_runs_per_offset=1,
    virtual_profile="default",
    repro_rounds=1,
)


def _text(rows: list[Row]) -> str:
    console = Console(width=400, record=True, file=io.StringIO())
    console.print(render_table(rows))
    return console.export_text()


# -- the delay draws ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "key", "op"), [(1, "W0", "invoice"), (7, "W123", "get_order"), (0, "Z", "invoice")])
def test_the_bench_draws_the_delays_the_simulator_draws(seed: int, key: str, op: str) -> None:
    dist = Uniform(kind="uniform", min_ms=50, max_ms=1000)
    simulator = RngStreams(seed).get(key, op, "ingress")
    bench = delay_stream(seed, key, op, "ingress")
    assert [dist.draw_ms(simulator) for _ in range(5)] == [bench.uniform(50, 1000) for _ in range(5)]


# -- rows, table, JSON, exit code -----------------------------------------------------------------------------------


def _throughput(ratio_get: float, ratio_post: float) -> dict[str, Any]:
    def route(ratio: float) -> dict[str, Any]:
        return {"rps": {"bare": 10_000.0, "simulator": 10_000.0 * ratio}, "rounds": {}, "ratio": {"simulator": ratio}}

    return {"client": "wrk", "get_order": route(ratio_get), "post_invoice": route(ratio_post), "invoices_per_order": 3}


def _precision(p99: float) -> dict[str, Any]:
    errors = {"count": 10, "mean": 1.0, "p50": 1.0, "p99": p99, "max": p99 + 1}
    op = {
        "counted": 10,
        "in_flight": 990.0,
        "baseline_ms": 0.4,
        "client_error_ms": errors,
        "server_error_ms": errors,
        "signed_client_ms": {"mean": 1.0, "p50": 1.0},
    }
    return {"get_order": op, "invoice": op}


def test_rows_judge_each_figure_against_its_target() -> None:
    plan = Plan.full()
    throughput = _throughput_rows(_throughput(0.95, 0.5), {}, plan)
    assert [(r.key, r.figure, r.passed) for r in throughput] == [
        ("throughput.get_order", 0.95, True),
        ("throughput.post_invoice", 0.5, False),
    ]
    precision = _precision_rows(_precision(7.5), {}, plan)
    assert [r.passed for r in precision] == [False, False, None]  # the server-side row is a diagnosis: no target
    sweep = {
        "skew_ms": {"count": 9, "p50": 0.1, "p99": 1.5, "max": 3.0},
        "wall_s": 9.0,
        "longest_run_s": 4.0,
        "wall_over_longest": 2.25,
        "run_s": {"p50": 1.0, "max": 4.0},
        "command_s": 12.0,
    }
    assert [r.passed for r in _sweep_rows(sweep, {}, plan)] == [True, True]
    virtual = {
        "available": True,
        "runs": 1000,
        "real_s": 60.0,
        "virtual_s": [4.0, 5.0],
        "speedup": 13.3,
        "sweep_s": {"real": 40.0, "virtual": [3.0, 3.1], "virtual_one_job": 5.9},
        "speedup_commands": 13.3,
        "speedup_to_results": 20.0,
        "identical": False,
        "differing": ["run-7"],
        "violations": {},
    }
    rows = _virtual_rows(virtual, {}, plan)
    assert [(r.figure, r.passed) for r in rows] == [(13.3, True), (1.0, False)]
    assert "real 40.00 s, virtual 3.00, 3.10 s (one worker: 5.90 s)" in rows[0].note
    missing = _virtual_rows({"available": False, "reason": "no virtual mode"}, {}, plan)
    assert [(r.figure, r.passed, r.error) for r in missing] == [(None, None, False)] * 2
    rounds = [{"wall_s": 3.0, "reproduced": False, "first_violation_s": None, "sweep_s": 1.0}]
    unreproduced = _repro_row("A", {"seconds": 3.0, "reproduced": False, "rounds": rounds, "runs": 20}, {})
    assert (unreproduced.figure, unreproduced.passed) == (3.0, False)  # fast, but it never showed the failure
    failed = _throughput_rows(None, {"throughput": {"error": "HarnessError: wrk died"}}, plan)
    assert [(r.error, r.passed) for r in failed] == [(True, None)] * 2
    assert "wrk died" in failed[0].note


def test_target_text_and_bounds() -> None:
    at_least = Target(">=", 0.8, "ratio")
    assert (at_least.met(0.8), at_least.met(0.79)) == (True, False)
    at_most = Target("<=", 5.0, "ms")
    assert (at_most.met(5.0), at_most.met(5.01)) == (True, False)
    assert (str(at_least), str(at_most)) == (f"≥ 0.80{TIMES}", "≤ 5.00 ms")


def _report(rows: list[Row]) -> BenchReport:
    return BenchReport(
        plan=Plan.quick(), rows=tuple(rows), measures={"throughput": {"x": 1}}, started="now", seconds=1.0, machine={}
    )


def test_exit_code_table_and_json(tmp_path: Path) -> None:
    passing = Row("a", "measure a", 1.0, "ratio", Target(">=", 0.8, "ratio"), "how a")
    missing = Row("b", "measure b", 0.5, "ratio", Target(">=", 0.8, "ratio"), "how b")
    broken = Row("c", "measure c", None, "", note="could not measure: boom", error=True)
    absent = Row("d", "measure d", None, "", note="not available: later")
    assert _report([passing, absent]).exit_code == 0
    assert _report([passing, missing, absent]).exit_code == 1
    assert _report([passing, missing, broken]).exit_code == 3
    text = _text([passing, missing, broken, absent])
    shown = ("measure a", "pass", "MISS", "error", "n/a", "could not measure: boom", f"0.50{TIMES}", f"≥ 0.80{TIMES}")
    for expected in shown:
        assert expected in text
    out = tmp_path / "sub" / "bench.json"
    write_report(out, _report([passing, missing]))
    loaded = json.loads(out.read_text(encoding="utf-8"))
    assert [(r["key"], r["figure"], r["passed"]) for r in loaded["rows"]] == [("a", 1.0, True), ("b", 0.5, False)]
    assert loaded["plan"]["precision_requests"] == Plan.quick().precision_requests
    assert [p.name for p in out.parent.iterdir()] == ["bench.json"]  # no temporary file left behind


def test_default_output_is_a_new_file_under_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import datetime

    monkeypatch.chdir(tmp_path)
    now = datetime(2026, 11, 21, 6, 30, 0)
    first = output_path(None, now)
    assert first == Path("results/bench-20261121-063000.json")
    first.parent.mkdir()
    first.write_text("{}")
    assert output_path(None, now) == Path("results/bench-20261121-063000-2.json")
    assert output_path(tmp_path / "mine.json", now) == tmp_path / "mine.json"


# -- the command ----------------------------------------------------------------------------------------------------


def test_bench_refuses_a_folder_as_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--only", "sweep", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err
    assert err.count("\n") == 1  # one clear line


def test_bench_refuses_an_unknown_measure(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--only", "everything"])
    assert exc.value.code == 2
    assert "invalid choice: 'everything'" in capsys.readouterr().err


# -- end to end -----------------------------------------------------------------------------------------------------


async def _bench_in_groups() -> BenchReport:
    """The whole bench, its measures in three concurrent groups: the figures are not looked at, and the `racelab
    run` children it starts (seven) would take most of a minute one after the other."""
    groups = [["throughput", "precision", "sweep"], ["virtual"], ["repro"]]
    parts = await asyncio.gather(*(run_bench(TINY, measures=group) for group in groups))
    rows = [row for name in MEASURES for part in parts for row in part.rows if row.key.split(".")[0] in _KEYS[name]]
    measures = {k: v for part in parts for k, v in part.measures.items()}
    return replace(parts[0], rows=tuple(rows), measures=measures)


_KEYS = {
    "throughput": {"throughput"},
    "precision": {"delay_precision"},
    "sweep": {"send_skew", "sweep_wall"},
    "virtual": {"virtual_speedup", "virtual_identical"},
    "repro": {"first_repro"},
}


@pytest.mark.parametrize(
    ("maps", "linkage"),
    [
        ("7f0 r-xp 00000000 00:1f 42 /root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0\n", "shared"),
        ("7f0 r-xp 00000000 00:1f 42 /usr/lib/x86_64-linux-gnu/libpython3.11d.so\n", "shared"),
        ("55e r-xp 00000000 00:1f 7 /usr/bin/python3.11\n7f1 r-xp 00000000 00:1f 9 /usr/lib/libc.so.6\n", "static"),
    ],
)
def test_the_bench_says_how_its_python_was_built(tmp_path: Path, maps: str, linkage: str) -> None:
    (tmp_path / "maps").write_text(maps, encoding="utf-8")
    python = interpreter(tmp_path / "maps")
    assert python["libpython"] == linkage
    assert Path(python["executable"]).is_file()
    assert python["version"].startswith("3.")
    assert interpreter(tmp_path / "missing")["libpython"] == "unknown"


@pytest.mark.slow
def test_every_measure_runs_with_a_tiny_plan(tmp_path: Path) -> None:
    report = asyncio.run(_bench_in_groups())
    errors = {r.key: r.note for r in report.rows if r.error}
    assert errors == {}
    keys = [r.key for r in report.rows]
    assert keys == [
        "throughput.get_order",
        "throughput.post_invoice",
        "delay_precision.get_order",
        "delay_precision.invoice",
        "delay_precision.invoice_server",
        "send_skew",
        "sweep_wall",
        "virtual_speedup",
        "virtual_identical",
        "first_repro.A",
        "first_repro.B",
    ]
    unmeasured = [r.key for r in report.rows if not isinstance(r.figure, float | int)]
    assert unmeasured == []
    out = tmp_path / "bench.json"
    write_report(out, report)
    loaded = json.loads(out.read_text(encoding="utf-8"))
    assert [r["key"] for r in loaded["rows"]] == keys
    assert all(isinstance(r["figure"], float | int) for r in loaded["rows"])
    assert loaded["measures"]["precision"]["invoice"]["counted"] > 0
    assert loaded["measures"]["virtual"]["identical"] in (True, False)
    assert loaded["machine"]["interpreter"] == interpreter()
    text = _text(list(report.rows))
    assert all(r.measure.strip() in text for r in report.rows)
