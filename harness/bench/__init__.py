"""`racelab bench`: the numbers of DESIGN §5, measured side by side in one run, as a table and as JSON.

Owns the command (its options, exit codes and progress bar), the order of the measures, the rows they become
(measure, figure, target, pass/miss) and the JSON file. The measuring lives beside it:

    _throughput.py   the simulator vs a bare aiohttp handler under wrk (same client, alternating rounds)
    _precision.py    configured vs actual delay with 1,000 requests in flight
    _proxy.py        `racelab proxy` in front of the simulator vs the simulator direct: added latency per exchange
                     (p50, p99) and throughput
    _sweeps.py       `racelab run` as a child: send skew, sweep wall time vs its longest run, virtual vs real
                     time, time to first reproduction of failures A and B
    _scale.py        sweeps at scale: send skew from 500 to 20,000 runs, peak RSS of `racelab run` small vs
                     large, an interrupted virtual sweep resumed
    _common.py       the plan (sizes), the row, child processes and cores, the interruption

Every simulator the bench measures is a child process (`racelab serve`), every sweep a `racelab run` child, so
this package never imports `simulator`, and a figure is what a user's process would see. Timing figures are never
asserted by tests; `tests/bench` checks the code paths with a tiny plan.

Interrupted (the first SIGINT or SIGTERM), the measure under way is aborted (its children stopped), none other
starts, the JSON and the table are written with the rows not measured marked so, and the command exits 130 (SIGINT)
or 143 (SIGTERM); a second signal exits at once.

Imports: stdlib, rich and aiohttp (inside the handler and the measures), `harness.bench.*`, `harness.errors`.

    report = asyncio.run(run_bench(Plan.quick(), console=Console()))
    write_report(Path("results/bench.json"), report)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import re
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.bench._common import TIMES, Aborted, Interrupt, Plan, Row, Target
from harness.errors import InvalidScenario, UnsafeResultPath

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

__all__ = [
    "MEASURES",
    "BenchReport",
    "Interrupt",
    "Plan",
    "Row",
    "add_command",
    "interpreter",
    "render_table",
    "run_bench",
    "write_report",
]

MEASURES = ("throughput", "precision", "proxy", "sweep", "scale", "virtual", "resume", "repro")
"""What `--only` may pick, in the order the bench runs them."""

_ROW_KEYS = {
    "throughput": ("throughput.get_order", "throughput.post_invoice"),
    "precision": ("delay_precision.get_order", "delay_precision.invoice", "delay_precision.invoice_server"),
    "proxy": ("proxy.added_p50", "proxy.added_p99", "proxy.throughput"),
    "sweep": ("send_skew", "sweep_wall"),
    "virtual": ("virtual_speedup", "virtual_identical"),
    "resume": ("resume_identical",),
    "repro": ("first_repro.A", "first_repro.B"),
}
_EPILOG = (
    "exit codes: 0 every target measured was met · 1 a target was missed · 2 bad input (an option) · "
    "3 a measure could not run (the table and the JSON say which and why) · 130 interrupted by SIGINT (Ctrl-C), "
    "143 by SIGTERM: the measure under way was aborted, the JSON and the table hold what was measured (a second "
    "signal quits at once). The machine should be quiet: the figures are ratios and percentiles of real time. "
    "Needs wrk for throughput (apt-get install wrk); without it an aiohttp client is used and the table says so."
)


@dataclass(frozen=True, slots=True)
class BenchReport:
    """What one bench produced: the rows in table order, each measure's raw figures, and where it ran."""

    plan: Plan
    rows: tuple[Row, ...]
    measures: dict[str, Any]
    started: str
    seconds: float
    machine: dict[str, Any]
    interrupted: str | None = None
    """The signal that interrupted the bench (`SIGINT`, `SIGTERM`): the rows it did not measure say so."""

    @property
    def exit_code(self) -> int:
        if self.interrupted is not None:
            return 128 + int(signal.Signals[self.interrupted])
        if any(r.error for r in self.rows):
            return 3
        return 1 if any(r.passed is False for r in self.rows) else 0

    def to_json(self) -> dict[str, Any]:
        found = {
            "started": self.started,
            "seconds": round(self.seconds, 1),
            "plan": self.plan.to_json(),
            "machine": self.machine,
            "rows": [r.to_json() for r in self.rows],
            "measures": self.measures,
        }
        if self.interrupted is not None:
            found["interrupted"] = self.interrupted
        return found


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "bench",
        help="measure the performance targets (DESIGN §5) and print them against their targets",
        description="Measure, side by side in one run: simulator throughput vs a bare aiohttp handler (same client, "
        "same machine), delay precision with 1,000 requests in flight, send skew and wall time of a 1,000-run "
        "real-time sweep, send skew and wall time of sweeps of 500 to 20,000 runs and the peak RSS of racelab run at "
        "1,000 vs 20,000 runs, virtual vs real time, an interrupted virtual sweep resumed, and the time to first "
        "reproduction of failures A and B. Prints a table (measure, figure, target, pass/miss) and writes JSON. The "
        "full bench takes about 8 minutes, --quick about 2.",
        epilog=_EPILOG,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the short version (~2 min): fewer and shorter rounds, a 100-run virtual-vs-real sweep on the "
        "default profile instead of 1,000 runs on default-x10, sweeps of 500 and 2,000 runs instead of 500 to "
        "20,000 (peak RSS: 2,000 vs 500 runs), and a 1,000-run resumed sweep instead of 2,000",
    )
    parser.add_argument(
        "--out", type=Path, metavar="FILE", help="where to write the JSON (default: results/bench-<timestamp>.json)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=MEASURES,
        metavar="MEASURE",
        help=f"run only this measure (repeatable): {', '.join(MEASURES)}",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed for the simulator and the sweeps (default: 1)")
    parser.set_defaults(handler=_handle, crash_folder=_crash_folder)


def _handle(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from rich.console import Console

    plan = replace(Plan.quick() if args.quick else Plan.full(), seed=args.seed)
    now = datetime.now()
    out = _output_path(args.out, now)  # refused before anything runs
    console = Console() if sys.stdout.isatty() else Console(width=160)
    console.print(
        f"racelab bench{' --quick' if args.quick else ''}: {', '.join(args.only or MEASURES)}", highlight=False
    )
    python = interpreter()
    console.print(
        f"python {python['version']} at {python['executable']} (libpython {python['libpython']})", highlight=False
    )
    load, cpus = _load(), os.cpu_count() or 1
    if load is not None and load[0] > 0.5 * cpus:
        console.print(
            f"[yellow]the machine is busy (load {load[0]:.1f} on {cpus} cores): percentiles of real time "
            "and ratios will be noisy; run the bench on a quiet machine for figures to keep[/]"
        )
    report = asyncio.run(_interruptible(plan, args.only or MEASURES, console))
    write_report(out, report)
    console.print(render_table(report.rows))
    if report.interrupted is not None:
        missing = sum(1 for r in report.rows if r.interrupted)
        console.print(
            f"racelab: interrupted by {report.interrupted}: {missing} of {len(report.rows)} rows not measured",
            highlight=False,
        )
    console.print(f"JSON: {out}  ·  again: {' '.join(['racelab', *argv])}", highlight=False)
    return report.exit_code


async def _interruptible(plan: Plan, measures: Sequence[str], console: Console) -> BenchReport:
    """The bench, with the first SIGINT or SIGTERM aborting the measure under way (and a second exiting at once)."""
    from harness.drive.embedded import on_signals

    interrupt = Interrupt()

    def on_signal(name: str) -> None:
        if interrupt.signal is None:
            console.print(
                f"racelab: {name}: aborting the measure under way; the JSON and the table will hold what was "
                "measured (again to quit at once)",
                highlight=False,
            )
        interrupt.request(name)

    with on_signals(on_signal):
        return await run_bench(plan, measures=measures, console=console, interrupt=interrupt)


def _output_path(out: Path | None, now: datetime) -> Path:
    """`out` as given, or `results/bench-<timestamp>.json` (never outside `results/`, never overwriting).

    Raises:
        InvalidScenario: `out` is a folder.
        UnsafeResultPath: the default file would resolve outside `results/` (a symlink).
    """
    if out is not None:
        if out.is_dir():
            raise InvalidScenario(f"--out {out}: is a folder; give a file name, e.g. {out / 'bench.json'}")
        return out
    root = Path("results")
    for attempt in range(1, 1000):
        name = f"bench-{now:%Y%m%d-%H%M%S}{'' if attempt == 1 else f'-{attempt}'}.json"
        path = root / name
        resolved = path.resolve()
        root_resolved = root.resolve()
        if not resolved.is_relative_to(root_resolved):
            raise UnsafeResultPath(f"{path} resolves to {resolved}, outside {root_resolved}")
        if not path.exists():
            return path
    raise FileExistsError(f"no free bench file name in {root}")


def write_report(path: Path, report: BenchReport) -> None:
    """Write the report's JSON to `path` atomically (a temporary file in the same folder, then a rename)."""
    import json
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)
        with open(fd, "w", encoding="utf-8") as f:
            json.dump(report.to_json(), f, indent=2, ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def render_table(rows: Sequence[Row]) -> Table:
    """measure · figure · target · result · how it was measured."""
    from rich.table import Table

    table = Table(title="racelab bench (DESIGN §5)", title_justify="left")
    for name, justify in (("measure", "left"), ("figure", "right"), ("target", "right"), ("result", "center")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_column("how", overflow="fold")
    for row in rows:
        if row.interrupted:
            result = "[yellow]not measured[/]"
        elif row.error:
            result = "[yellow]error[/]"
        elif row.passed is None:
            result = "n/a"
        else:
            result = "[green]pass[/]" if row.passed else "[red]MISS[/]"
        table.add_row(row.measure, row.shown, str(row.target) if row.target else "—", result, row.note)
    return table


# -- running the measures ------------------------------------------------------------------------------------------


async def run_bench(
    plan: Plan,
    *,
    measures: Sequence[str] = MEASURES,
    console: Console | None = None,
    interrupt: Interrupt | None = None,
) -> BenchReport:
    """Run the chosen measures in order (one at a time: they would disturb each other) and build the rows.

    A measure that fails becomes rows marked `error` with the reason; the others still run. Once `interrupt` is
    requested, the measure under way is aborted and the rest are not run: their rows are marked `interrupted`.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from harness.bench._precision import measure_precision
    from harness.bench._proxy import measure_proxy, proxy_rows
    from harness.bench._scale import measure_resume, measure_scale
    from harness.bench._sweeps import first_reproduction, measure_sweep, measure_virtual
    from harness.bench._throughput import measure_throughput

    chosen = [m for m in MEASURES if m in measures]
    started = datetime.now().astimezone().isoformat(timespec="seconds")
    t0 = time.perf_counter()
    load_before = _load()
    rows: list[Row] = []
    raw: dict[str, Any] = {}
    # No refresh thread: in the precision measure this process is the client whose timing is measured.
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        auto_refresh=False,
        transient=True,
        disable=console is None,
    )
    units = sum(2 if m == "repro" else 1 for m in chosen)
    with progress:
        task = progress.add_task("racelab bench", total=units)

        def step(text: str) -> None:
            progress.update(task, description=text)
            progress.refresh()

        async def unit(name: str, measure: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any] | None:
            try:
                found = await (measure() if interrupt is None else interrupt.run(measure()))
            except Aborted as exc:
                raw[name] = {"interrupted": exc.signal, "aborted": exc.started}
                return None
            except Exception as exc:  # one measure failing must not lose the others' figures
                raw[name] = {"error": f"{type(exc).__name__}: {exc}"}
                return None
            finally:
                progress.advance(task)
                progress.refresh()
            raw[name] = found
            return found

        for name in chosen:
            if name == "throughput":
                rows += _throughput_rows(await unit(name, lambda: measure_throughput(plan, on_step=step)), raw, plan)
            elif name == "precision":
                rows += _precision_rows(await unit(name, lambda: measure_precision(plan, on_step=step)), raw, plan)
            elif name == "proxy":
                rows += proxy_rows(await unit(name, lambda: measure_proxy(plan, on_step=step)), raw, plan)
            elif name == "sweep":
                rows += _sweep_rows(await unit(name, lambda: measure_sweep(plan, on_step=step)), raw, plan)
            elif name == "scale":
                rows += _scale_rows(await unit(name, lambda: measure_scale(plan, on_step=step)), raw, plan)
            elif name == "virtual":
                rows += _virtual_rows(await unit(name, lambda: measure_virtual(plan, on_step=step)), raw, plan)
            elif name == "resume":
                rows += _resume_rows(await unit(name, lambda: measure_resume(plan, on_step=step)), raw, plan)
            elif name == "repro":
                for kind in ("A", "B"):
                    key = f"repro.{kind}"
                    found = await unit(key, lambda kind=kind: first_reproduction(plan, kind, on_step=step))  # type: ignore[misc]
                    rows.append(_repro_row(kind, found, raw[key]))
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "interpreter": interpreter(),
        "platform": platform.platform(),
        "load_before": load_before,
        "load_after": _load(),
    }
    return BenchReport(
        plan=plan,
        rows=tuple(rows),
        measures=raw,
        started=started,
        seconds=time.perf_counter() - t0,
        machine=machine,
        interrupted=None if interrupt is None else interrupt.signal,
    )


def interpreter(maps: Path = Path("/proc/self/maps")) -> dict[str, str]:
    """The Python running the bench: its version, its executable (a venv's link resolved) and whether its libpython
    is a shared library (`shared`), linked into the executable (`static`) or not known (`unknown`: no `maps`).

    Two builds of the same version give different figures for everything that is CPU-bound: on this machine the
    virtual sweep is ~10% slower on pyenv's default build (libpython shared, not profile-guided) than on Debian's
    python3.11 (README, "Which Python").
    """
    try:
        text = maps.read_text(encoding="utf-8", errors="replace")
    except OSError:
        linkage = "unknown"
    else:
        linkage = "shared" if re.search(r"/libpython[\w.]*\.so", text) else "static"
    return {"version": platform.python_version(), "executable": os.path.realpath(sys.executable), "libpython": linkage}


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _failed(keys: Sequence[str], titles: Sequence[str], raw: dict[str, Any], name: str) -> list[Row]:
    if "interrupted" in raw.get(name, {}):
        note = _not_measured(raw[name])
        return [Row(key, title, None, "", note=note, interrupted=True) for key, title in zip(keys, titles, strict=True)]
    reason = str(raw.get(name, {}).get("error", "failed"))
    return [
        Row(key, title, None, "", note=f"could not measure: {reason}", error=True)
        for key, title in zip(keys, titles, strict=True)
    ]


def _not_measured(raw: dict[str, Any]) -> str:
    if raw.get("aborted"):
        return f"not measured: aborted by {raw['interrupted']}"
    return f"not measured: interrupted by {raw['interrupted']} before it began"


def _throughput_rows(found: dict[str, Any] | None, raw: dict[str, Any], plan: Plan) -> list[Row]:
    titles = ("throughput, GET order: simulator / bare aiohttp", "throughput, POST invoice: simulator / bare aiohttp")
    if found is None:
        return _failed(_ROW_KEYS["throughput"], titles, raw, "throughput")
    rows = []
    for key, title, route in zip(_ROW_KEYS["throughput"], titles, ("get_order", "post_invoice"), strict=True):
        r = found[route]
        note = (
            f"{r['rps']['simulator']:,.0f}/s vs {r['rps']['bare']:,.0f}/s, median of {plan.throughput_rounds} "
            f"alternating rounds of {plan.throughput_seconds} s; {found['client']}"
        )
        if route == "post_invoice":
            note += f"; ~{found['invoices_per_order']:g} invoices per order"
        elif "bare-bytes" in r["rps"]:
            floor = r["rps"]["simulator"] / r["rps"]["bare-bytes"]
            note += f"; against aiohttp answering pre-rendered bytes: {floor:.2f}{TIMES}"
        rows.append(Row(key, title, r["ratio"]["simulator"], "ratio", Target(">=", 0.8, "ratio"), note, r))
    return rows


def _precision_rows(found: dict[str, Any] | None, raw: dict[str, Any], plan: Plan) -> list[Row]:
    n = plan.precision_requests
    span = f"uniform {plan.precision_min_ms:g}-{plan.precision_max_ms:g} ms"
    titles = (
        f"delay precision, GET order, {n:,} in flight, {span}: p99 |actual - configured|",
        f"delay precision, POST invoice, {n:,} in flight, {span}: p99 |actual - configured|",
        "  POST invoice, server-side (journal: the ingress phase as lived)",
    )
    if found is None:
        return _failed(_ROW_KEYS["precision"], titles, raw, "precision")
    rows = []
    for key, title, op in zip(_ROW_KEYS["precision"][:2], titles[:2], ("get_order", "invoice"), strict=True):
        r = found[op]
        client = r["client_error_ms"]
        note = (
            f"client-observed; p50 {client['p50']:.2f} ms, max {client['max']:.1f} ms, bias "
            f"{r['signed_client_ms']['p50']:+.2f} ms over {r['counted']:,} requests ({r['in_flight']:,.0f} in "
            f"flight on average, closed loop), zero-delay baseline {r['baseline_ms']:.2f} ms"
        )
        rows.append(Row(key, title, client["p99"], "ms", Target("<=", 5.0, "ms"), note, r))
    server = found["invoice"]["server_error_ms"]
    note = f"p50 {server['p50']:.2f} ms, max {server['max']:.1f} ms: the simulator's timer and event loop"
    rows.append(Row(_ROW_KEYS["precision"][2], titles[2], server["p99"], "ms", note=note, details=server))
    return rows


def _sweep_rows(found: dict[str, Any] | None, raw: dict[str, Any], plan: Plan) -> list[Row]:
    runs = 20 * plan.sweep_runs_per_offset
    titles = (f"send skew p99, {runs:,} concurrent runs", f"real-time sweep of {runs:,} runs: wall / longest run")
    if found is None:
        return _failed(_ROW_KEYS["sweep"], titles, raw, "sweep")
    skew = found["skew_ms"] or {}
    return [
        Row(
            _ROW_KEYS["sweep"][0],
            titles[0],
            skew.get("p99"),
            "ms",
            Target("<=", 2.0, "ms"),
            f"p50 {skew.get('p50') or 0:.2f} ms, max {skew.get('max') or 0:.2f} ms over {skew.get('count', 0)} "
            "requests (racelab run, embedded, naive, over-invoice race, profile default)",
            skew,
        ),
        Row(
            _ROW_KEYS["sweep"][1],
            titles[1],
            found["wall_over_longest"],
            "ratio",
            Target("<=", 3.0, "ratio"),
            f"wall {found['wall_s']:.1f} s (first start to last end), longest run {found['longest_run_s']:.1f} s, "
            f"median run {found['run_s']['p50']:.1f} s; whole command {found['command_s']:.1f} s",
            {k: v for k, v in found.items() if k != "scenario"},
        ),
    ]


def _virtual_rows(found: dict[str, Any] | None, raw: dict[str, Any], plan: Plan) -> list[Row]:
    runs = 20 * plan.virtual_runs_per_offset
    titles = (
        f"virtual vs real time, {runs:,} runs, profile {plan.virtual_profile}: real sweep / virtual sweep",
        "virtual mode: runs that differ on rerun",
    )
    if found is None:
        return _failed(_ROW_KEYS["virtual"], titles, raw, "virtual")
    if not found["available"]:
        return [
            Row(key, title, None, "", note=f"not available: {found['reason']}")
            for key, title in zip(_ROW_KEYS["virtual"], titles, strict=True)
        ]
    sweeps = found["sweep_s"]
    virtual = ", ".join(f"{s:.2f}" for s in sweeps["virtual"] if s is not None)
    note = f"the runs (timing.json sweep_s): real {sweeps['real']:.2f} s, virtual {virtual} s"
    if sweeps.get("virtual_one_job") is not None:
        note += f" (one worker: {sweeps['virtual_one_job']:.2f} s)"
    commands = ", ".join(f"{s:.1f}" for s in found["virtual_s"])
    note += (
        f"; whole commands: real {found['real_s']:.1f} s, virtual {commands} s "
        f"({found['speedup_commands']:.2f}{TIMES}, startup and HTML report included)"
    )
    return [
        Row(
            _ROW_KEYS["virtual"][0],
            titles[0],
            found["speedup"],
            "ratio",
            Target(">=", 10.0, "ratio"),
            note,
            {k: v for k, v in found.items() if k != "scenario"},
        ),
        Row(
            _ROW_KEYS["virtual"][1],
            titles[1],
            float(len(found["differing"])),
            "runs",
            Target("<=", 0, "runs"),
            "identical" if found["identical"] else f"differ: {', '.join(found['differing'])}",
            {"identical": found["identical"], "violations": found["violations"]},
        ),
    ]


def _scale_keys(plan: Plan) -> tuple[list[str], list[str]]:
    """The scale measure's row keys and titles: skew and wall for each sweep size, then the peak RSS."""
    keys, titles = [], []
    for runs in plan.scale_runs:
        keys += [f"send_skew.{runs}", f"sweep_ideal.{runs}"]
        titles += [
            f"send skew p99, real-time sweep of {runs:,} runs",
            f"  sweep of {runs:,} runs: wall / ideal schedule",
        ]
    small, large = plan.rss_runs
    keys.append("peak_rss")
    titles.append(f"peak RSS of racelab run: {large:,} runs / {small:,} runs")
    return keys, titles


def _scale_rows(found: dict[str, Any] | None, raw: dict[str, Any], plan: Plan) -> list[Row]:
    keys, titles = _scale_keys(plan)
    if found is None:
        return _failed(keys, titles, raw, "scale")
    rows = []
    for i, runs in enumerate(plan.scale_runs):
        sweep = found["sweeps"][str(runs)]
        skew = sweep["skew_ms"] or {}
        rows.append(
            Row(
                keys[2 * i],
                titles[2 * i],
                skew.get("p99"),
                "ms",
                Target("<=", 2.0, "ms"),
                f"p50 {skew.get('p50') or 0:.2f} ms, max {skew.get('max') or 0:.2f} ms over {skew.get('count', 0):,} "
                "requests (racelab run, embedded, naive, over-invoice race, profile default)",
                skew,
            )
        )
        rows.append(
            Row(
                keys[2 * i + 1],
                titles[2 * i + 1],
                sweep["wall_over_ideal"],
                "ratio",
                Target("<=", 3.0, "ratio"),
                f"wall {sweep['wall_s']:.1f} s (first start to last end); ideal {sweep['ideal_s']:.1f} s (every run "
                f"in its paced slot, lasting as long as the longest, {sweep['longest_run_s']:.1f} s); whole command "
                f"{sweep['command_s']:.1f} s",
                {k: v for k, v in sweep.items() if k != "skew_ms"},
            )
        )
    rss = found["rss"]
    note = (
        f"{rss['large_mb']:.0f} MB at {rss['large']:,} runs, {rss['small_mb']:.0f} MB at {rss['small']:,} runs: "
        "the racelab run process's own peak (getrusage), its simulator child not counted"
    )
    rows.append(Row(keys[-1], titles[-1], rss["ratio"], "ratio", Target("<=", 1.5, "ratio"), note, rss))
    return rows


def _resume_rows(found: dict[str, Any] | None, raw: dict[str, Any], plan: Plan) -> list[Row]:
    runs = 20 * plan.resume_runs_per_offset
    titles = (f"virtual sweep of {runs:,} runs, SIGINT at half, then --resume: runs that differ from a whole sweep",)
    if found is None:
        return _failed(_ROW_KEYS["resume"], titles, raw, "resume")
    shown = "identical" if found["identical"] else f"differ: {', '.join(found['differing'])}"
    note = (
        f"{shown}; SIGINT once {found['cut_at']:,} runs were in runs.jsonl, {found['cut_runs']:,} at its exit "
        f"({found['cut_exit']}); racelab run --resume took {found['resumed_s']:.1f} s; summary.json "
        f"{'identical' if found['summary_identical'] else 'differs'}"
    )
    details = {k: v for k, v in found.items() if k != "scenario"}
    target = Target("<=", 0, "runs")
    return [Row(_ROW_KEYS["resume"][0], titles[0], float(found["differing_count"]), "runs", target, note, details)]


def _repro_row(kind: str, found: dict[str, Any] | None, raw: dict[str, Any]) -> Row:
    name = {"A": "over-invoice", "B": "stuck order"}[kind]
    key = f"first_repro.{kind}"
    if found is None:
        title = f"time to first reproduction, failure {kind} ({name})"
        if "interrupted" in raw:
            return Row(key, title, None, "s", note=_not_measured(raw), interrupted=True)
        return Row(key, title, None, "s", note=f"could not measure: {raw.get('error', 'failed')}", error=True)
    title = f"time to first reproduction, failure {kind} ({name}): racelab run, {found['runs']} runs"
    walls = ", ".join(f"{r['wall_s']:.1f} s{'' if r['reproduced'] else ' (not reproduced)'}" for r in found["rounds"])
    note = f"whole command, naive integration, profile default; round(s): {walls}"
    first = [r["first_violation_s"] for r in found["rounds"] if r["first_violation_s"] is not None]
    if first:
        note += (
            f"; the first violating run had ended {_median(first):.1f} s after the start, the runs took "
            f"{_median([r['sweep_s'] for r in found['rounds']]):.1f} s"
        )
    details = {k: v for k, v in found.items() if k != "scenario"}
    target = Target("<=", 5.0, "s")
    return Row(key, title, found["seconds"], "s", target, note, details, missed=not found["reproduced"])


def _median(values: Sequence[float]) -> float | None:
    import statistics

    return statistics.median(values) if values else None


def _crash_folder(args: argparse.Namespace) -> Path:
    """Where a crash of the bench leaves its log: beside the JSON it was to write."""
    return args.out.parent if args.out is not None else Path("results")
