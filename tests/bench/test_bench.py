"""`racelab bench`: its code paths work and its judgements are right. Timing figures are never asserted.

- the bench recomputes the simulator's delay draws (the precision measure depends on it);
- rows built from measure results judge figures against targets the right way, the table renders every row, the
  JSON holds every row, and the exit code says miss / error / pass;
- with a tiny plan, every measure runs end to end against real simulators and `racelab run` children and yields
  a number for every row (slow: it starts a dozen processes);
- the command refuses bad input with exit code 2 before anything runs;
- interrupted (a real SIGINT or SIGTERM to a real `racelab bench`), it aborts the measure under way and stops its
  children, writes the JSON and the table with the rows not measured marked so, and exits 130 or 143; a second
  signal exits at once. In process: a measure aborted by the interruption stops the child it started.
"""

from __future__ import annotations

import asyncio
import io
import json
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness.bench import (
    MEASURES,
    BenchReport,
    Interrupt,
    Plan,
    _precision_rows,
    _repro_row,
    _resume_rows,
    _scale_rows,
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
from harness.bench._scale import ideal_schedule_s
from harness.cli import main
from simulator.contract import Uniform
from simulator.timing import RngStreams
from tests.support.cli import ROOT
from tests.support.signals import Command, still_running, wait_until

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
    scale_runs=(20, 40),
    rss_runs=(20, 40),
    resume_runs_per_offset=10,
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


def _scale(p99: float, wall_over_ideal: float, rss_ratio: float) -> dict[str, Any]:
    sweep = {
        "runs": 500,
        "skew_ms": {"count": 1000, "p50": 0.2, "p99": p99, "max": 9.0},
        "wall_s": 4.0,
        "longest_run_s": 1.3,
        "ideal_s": 4.0 / wall_over_ideal,
        "wall_over_ideal": wall_over_ideal,
        "peak_rss_mb": 120.0,
        "command_s": 7.0,
    }
    rss = {"small": 1000, "large": 20_000, "small_mb": 120.0, "large_mb": 120.0 * rss_ratio, "ratio": rss_ratio}
    return {"sweeps": {str(n): sweep for n in (500, 1000, 5000, 20_000)}, "rss": rss}


def test_scale_and_resume_rows_judge_skew_wall_memory_and_identity() -> None:
    plan = Plan.full()
    rows = _scale_rows(_scale(1.5, 2.0, 1.2), {}, plan)
    assert [r.key for r in rows] == [
        "send_skew.500",
        "sweep_ideal.500",
        "send_skew.5000",
        "sweep_ideal.5000",
        "send_skew.20000",
        "sweep_ideal.20000",
        "peak_rss",
    ]
    assert all(r.passed for r in rows)
    missed = _scale_rows(_scale(2.5, 3.5, 1.6), {}, plan)
    assert [r.passed for r in missed] == [False] * 7
    assert "144 MB at 20,000 runs, 120 MB at 1,000 runs" in rows[-1].note
    resume = {
        "runs": 2000,
        "identical": True,
        "differing": [],
        "differing_count": 0,
        "cut_at": 1000,
        "cut_runs": 1025,
        "cut_exit": 130,
        "resumed_exit": 0,
        "summary_identical": True,
        "resumed_s": 3.0,
    }
    [same] = _resume_rows(resume, {}, plan)
    assert (same.key, same.figure, same.passed) == ("resume_identical", 0.0, True)
    assert same.note.startswith("identical; SIGINT once 1,000 runs were in runs.jsonl")
    [differ] = _resume_rows({**resume, "identical": False, "differing": ["r-3"], "differing_count": 1}, {}, plan)
    assert (differ.figure, differ.passed, differ.note.split(";")[0]) == (1.0, False, "differ: r-3")


def test_the_ideal_schedule_is_the_paced_slots_and_the_longest_run() -> None:
    # The naive integration: 1.5 requests per step, 2 steps, and its final-state read's 4 requests, at 1,500
    # requests/s: a run starts every 7/1500 s.
    assert ideal_schedule_s(1, 1.25) == pytest.approx(1.25)
    assert ideal_schedule_s(20_001, 1.25) == pytest.approx(20_000 * 7 / 1500 + 1.25)


def test_interrupted_rows_say_so_and_the_exit_code_is_the_signals() -> None:
    plan = Plan.quick()
    raw = {"scale": {"interrupted": "SIGINT", "aborted": True}, "repro.A": {"interrupted": "SIGINT", "aborted": False}}
    rows = [*_scale_rows(None, raw, plan), _repro_row("A", None, raw["repro.A"])]
    assert all(r.interrupted and not r.error and r.passed is None for r in rows)
    assert rows[0].note == "not measured: aborted by SIGINT"
    assert rows[-1].note == "not measured: interrupted by SIGINT before it began"
    assert rows[0].to_json()["interrupted"] is True
    assert "interrupted" not in Row("a", "measured", 1.0, "ms").to_json()  # rows of a whole bench are as before
    text = _text(rows)
    assert text.count("not measured") >= 2 * len(rows)  # in the result column and the note
    measured = Row("a", "measure a", 1.0, "ratio", Target(">=", 0.8, "ratio"), "how a")
    for name, code in (("SIGINT", 130), ("SIGTERM", 143)):
        report = replace(_report([measured, *rows]), interrupted=name)
        assert report.exit_code == code
        assert report.to_json()["interrupted"] == name
    assert "interrupted" not in _report([measured]).to_json()


def test_an_interruption_aborts_the_measure_under_way_stops_its_child_and_skips_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from harness.bench import _common, _precision
    from harness.bench import _throughput as throughput_module

    started: list[int] = []
    ran: list[str] = []
    child_up = asyncio.Event()

    async def first(plan: Plan, *, on_step: Any = None) -> dict[str, Any]:
        ran.append("throughput")
        return _throughput(0.9, 0.9)

    async def second(plan: Plan, *, on_step: Any = None) -> dict[str, Any]:
        ran.append("precision")
        proc = await _common.start_child([sys.executable, "-c", "import sys; sys.stdin.read()"])
        started.append(proc.pid)
        child_up.set()
        try:
            await proc.wait()  # until the interruption stops it: its stdin is never closed
        finally:
            await _common.stop_child(proc)
        raise AssertionError("not reached: the child runs until it is stopped")

    monkeypatch.setattr(throughput_module, "measure_throughput", first)
    monkeypatch.setattr(_precision, "measure_precision", second)

    async def bench() -> BenchReport:
        interrupt = Interrupt()
        running = asyncio.create_task(
            run_bench(TINY, measures=["throughput", "precision", "sweep"], interrupt=interrupt)
        )
        await child_up.wait()  # the second measure's child is up: interrupt it there
        interrupt.request("SIGINT")
        return await running

    report = asyncio.run(bench())
    assert ran == ["throughput", "precision"]
    assert [(r.key, r.figure is not None, r.interrupted) for r in report.rows] == [
        ("throughput.get_order", True, False),
        ("throughput.post_invoice", True, False),
        ("delay_precision.get_order", False, True),
        ("delay_precision.invoice", False, True),
        ("delay_precision.invoice_server", False, True),
        ("send_skew", False, True),
        ("sweep_wall", False, True),
    ]
    assert report.measures["precision"] == {"interrupted": "SIGINT", "aborted": True}
    assert report.measures["sweep"] == {"interrupted": "SIGINT", "aborted": False}
    assert (report.interrupted, report.exit_code) == ("SIGINT", 130)
    assert still_running(set(started), timeout_s=1) == set()
    assert not _common._CHILDREN


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
    groups = [["throughput", "precision", "sweep", "scale"], ["virtual", "resume"], ["repro", "proxy"]]
    parts = await asyncio.gather(*(run_bench(TINY, measures=group) for group in groups))
    rows = [row for name in MEASURES for part in parts for row in part.rows if _measure_of(row.key) == name]
    measures = {k: v for part in parts for k, v in part.measures.items()}
    return replace(parts[0], rows=tuple(rows), measures=measures)


def _measure_of(key: str) -> str:
    """The measure a row's key belongs to (`send_skew` is the 1,000-run sweep's, `send_skew.500` the scale's)."""
    head, _, size = key.partition(".")
    if (head in ("send_skew", "sweep_ideal") and size) or head == "peak_rss":
        return "scale"
    return {
        "throughput": "throughput",
        "delay_precision": "precision",
        "proxy": "proxy",
        "send_skew": "sweep",
        "sweep_wall": "sweep",
        "virtual_speedup": "virtual",
        "virtual_identical": "virtual",
        "resume_identical": "resume",
        "first_repro": "repro",
    }[head]


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
        "proxy.added_p50",
        "proxy.added_p99",
        "proxy.throughput",
        "send_skew",
        "sweep_wall",
        "send_skew.20",
        "sweep_ideal.20",
        "send_skew.40",
        "sweep_ideal.40",
        "peak_rss",
        "virtual_speedup",
        "virtual_identical",
        "resume_identical",
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
    assert loaded["measures"]["resume"]["cut_exit"] == 130
    assert loaded["measures"]["scale"]["rss"]["small_mb"] > 10  # a Python process with aiohttp loaded
    assert loaded["machine"]["interpreter"] == interpreter()
    text = _text(list(report.rows))
    assert all(r.measure.strip() in text for r in report.rows)


# -- interrupted, for real ------------------------------------------------------------------------------------------


def _start_bench(tmp_path: Path, *only: str) -> Command:
    """`racelab bench --quick --only ...`, its temporary folders (where its `racelab run` children write) in
    `tmp_path/tmp`."""
    (tmp_path / "tmp").mkdir()
    args = ["bench", "--quick", *(a for m in only for a in ("--only", m)), "--out", tmp_path / "bench.json"]
    return Command.start(args, cwd=ROOT, logs=tmp_path / "logs", env={"TMPDIR": str(tmp_path / "tmp")})


def _sweeping(command: Command, tmp_path: Path) -> set[int]:
    """Wait until a `racelab run` child of the bench has runs in its `runs.jsonl`; what the bench started, then."""

    def runs() -> bool:
        return any(p.stat().st_size > 0 for p in (tmp_path / "tmp").rglob("runs.jsonl"))

    wait_until(runs, what="a racelab run child with runs done", timeout_s=90)
    return command.descendants()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "code", "only", "keys"),
    [
        (signal.SIGINT, 130, ("sweep", "virtual"), ["send_skew", "sweep_wall", "virtual_speedup", "virtual_identical"]),
        (signal.SIGTERM, 143, ("resume",), ["resume_identical"]),
    ],
    ids=["SIGINT-sweep", "SIGTERM-resume"],
)
def test_a_signal_aborts_the_bench_writes_what_it_has_and_leaves_no_child(
    tmp_path: Path, signum: signal.Signals, code: int, only: tuple[str, ...], keys: list[str]
) -> None:
    command = _start_bench(tmp_path, *only)
    children: set[int] = set()
    try:
        children = _sweeping(command, tmp_path)
        assert children  # a racelab run, and its simulator in real time
        command.signal(signum)
        assert command.wait(timeout_s=60) == code, command.output()
        assert still_running(children) == set()
    finally:
        command.kill(children)
    report = json.loads((tmp_path / "bench.json").read_text(encoding="utf-8"))
    assert report["interrupted"] == signum.name
    assert [(r["key"], r["figure"], r["interrupted"]) for r in report["rows"]] == [(k, None, True) for k in keys]
    aborted = [r["key"] for r in report["rows"] if r["note"] == f"not measured: aborted by {signum.name}"]
    assert aborted == keys[:2]  # the measure under way; the next one never began
    said = " ".join(command.stdout().split())
    assert "not measured" in said
    assert f"racelab: interrupted by {signum.name}: {len(keys)} of {len(keys)} rows not measured" in said
    assert not [p for p in (tmp_path / "tmp").iterdir() if p.name.startswith("racelab-bench-")]  # cleaned up


@pytest.mark.slow
def test_a_second_sigint_quits_the_bench_at_once_and_leaves_no_child(tmp_path: Path) -> None:
    command = _start_bench(tmp_path, "sweep")
    children: set[int] = set()
    try:
        children = _sweeping(command, tmp_path)
        command.signal(signal.SIGINT)
        wait_until(lambda: "aborting the measure" in command.stdout(), what="the first SIGINT handled", timeout_s=30)
        command.signal(signal.SIGINT)  # the racelab run child has a second to stop before its second signal
        assert command.wait(timeout_s=10) == 130, command.output()
        assert still_running(children) == set()  # the run child quit at once on its second signal, and its simulator
    finally:
        command.kill(children)
    assert "second SIGINT: quitting at once" in command.stderr()
