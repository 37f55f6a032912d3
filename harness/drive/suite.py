"""Running a suite of scenarios end to end: what `racelab run` does.

Owns `SuiteOptions`, `VirtualTime` and `run_suite()`: find and validate the scenario files (every problem reported
before anything runs), expand them, run each scenario against its own embedded simulator (or the external services,
or in virtual time), show progress, judge, write the result folder, and print the summary table and the gate
verdicts.

Control-free external runs (`SuiteOptions.orders`, `racelab run --orders-from`): the runs race existing orders of a
platform with no control API. Each run gets the next order id in plan order (too few is a usage error before any
request); an order not in `ready-for-handling` makes its run skipped (written as a run cut short, `unknown`, error
`skipped: ...`, never judged); the others run with `harness.drive.public.PublicControl` for the harness's own
requests, every request drawing from one rate limiter. The plan keeps every order id handed out, so `--resume`
never reuses one (it needs fresh ids for the missing runs).

Imports: stdlib, aiohttp, rich, `harness.drive`, `harness.integrations`, `harness.judge`, `harness.model`,
`harness.output`, `harness.scenarios`, `harness.errors` and `harness.resources`. Not `simulator`: the embedded
simulator is a child process (`harness.drive.embedded`). Not `harness.virtual` either, which is built on the
drivers: virtual mode is handed in by the caller (`SuiteOptions.virtual`, e.g. the module
`harness.virtual.universe`).

    from harness.virtual import universe
    result = await run_suite(SuiteOptions([Path("scenarios")], mode="virtual", virtual=universe), Console())
    result.passed, result.summary.invalid, result.folder
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import json
import os
import shlex
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.drive.embedded import kill_children, on_signals, open_embedded
from harness.drive.public import READY, PublicControl, RateLimiter, limited_connector
from harness.drive.runner import RunnerOptions, RunOutcome, Stop, run_specs
from harness.drive.transport import ControlClient, Endpoints
from harness.errors import HarnessConnectionError, InvalidScenario, UsageError
from harness.integrations import control
from harness.integrations.registry import load_integration
from harness.judge.checkers import check_all
from harness.judge.summarize import SummaryBuilder
from harness.model.codec import read_runs, run_lines, truncate_torn_tail
from harness.model.records import CheckResult, FinalState, RunRecord, RunSpec
from harness.model.summary import Interruption, Summary
from harness.output.folder import RunStream, open_result_dir, write_inputs, write_json, write_timing, write_verdicts
from harness.output.table import render_table
from harness.resources import resolve_scenario_ref
from harness.scenarios import Scenario, expand, find_scenarios, load_scenario

__all__ = ["SuiteOptions", "SuiteResult", "VirtualTime", "run_suite"]

OnRun = Callable[[RunOutcome], None]
"""Called once per finished run (the progress bar)."""


class VirtualTime(Protocol):
    """Virtual mode as the suite runs it: the module `harness.virtual.universe` is one.

    The suite cannot import virtual time, which is built on the drivers (it runs the runner on a virtual clock), so
    the caller hands it in:

        from harness.virtual import universe
        SuiteOptions(paths, mode="virtual", virtual=universe)
    """

    def virtual_config(self, profile: str, overrides: Mapping[str, Any], seed: int) -> dict[str, Any]:
        """The simulator's configuration for a scenario's profile and overrides, in virtual time."""
        ...

    async def run_virtual_specs(
        self,
        specs: Sequence[RunSpec],
        config: Mapping[str, Any],
        *,
        scenario_path: Path | None = None,
        options: RunnerOptions | None = None,
        jobs: int = 1,
        on_progress: OnRun | None = None,
        keep: bool = True,
        stop: Stop | None = None,
    ) -> list[RunOutcome]:
        """Every spec run against that configuration, judged; in the order of `specs` (none kept with `keep=False`;
        with `stop`, an interruption starts no more)."""
        ...


@dataclass(frozen=True, slots=True)
class SuiteOptions:
    """What `racelab run` was asked to do.

    SuiteOptions([Path("scenarios/over-invoice.yaml")], mode="embedded", seed=7, out=Path("results"))
    """

    paths: Sequence[Path]
    """Scenario files, folders of them, or `builtin:NAME`."""
    mode: str = "embedded"
    """`embedded` (a simulator child process per scenario), `external` (`endpoints`) or `virtual` (`virtual`)."""
    seed: int = 1
    runs: int | None = None
    """Runs per matrix cell and integration, instead of each scenario's own `runs:`."""
    integrations: Sequence[str] | None = None
    """Only these integrations, instead of each scenario's own."""
    out: Path = Path("results")
    """The results root."""
    endpoints: Endpoints | None = None
    """The services, in external mode."""
    runner: RunnerOptions = field(default_factory=RunnerOptions)
    command: Sequence[str] = ()
    """The command line as typed, for the summary and the replay hint."""
    jobs: int = 1
    """Virtual mode: worker processes (results do not depend on it)."""
    virtual: VirtualTime | None = None
    """Virtual mode itself (`harness.virtual.universe`); required when `mode` is `virtual`."""
    grace_s: float = 5.0
    """After the first SIGINT or SIGTERM: how long the runs in flight may take to finish before they are cut."""
    resume: Path | None = None
    """A result folder whose sweep was interrupted: run only the runs missing from its `runs.jsonl`, in it."""
    compact: bool = False
    """Write compact lines: the final order cut to what verdicts, the report and replay read (`harness.model.codec
    .compact_order`)."""
    orders: Sequence[str] | None = None
    """Control-free external mode (`--orders-from`): ids of test orders that exist on the platform in
    `ready-for-handling`, one per run in plan order. Nothing is sent to `/_sim/`: the harness's own requests go
    through the public API (`harness.drive.public`), and every request racelab sends is rate-limited by
    `runner.max_rate`."""
    orders_from: Path | None = None
    """The file `orders` came from, for messages and the plan."""
    quiet_s: float = 1.0
    """Control-free: how long an order must stay unchanged, with no Change in progress, to count as settled."""


@dataclass(frozen=True, slots=True)
class SuiteResult:
    """What a suite wrote and decided."""

    folder: Path
    """The result folder."""
    summary: Summary
    passed: bool
    """Every gate passed."""
    errors: int
    """Runs cut short by a harness or connection error."""
    interrupted: str | None = None
    """The signal that interrupted the sweep (`SIGINT`, `SIGTERM`), or None when it ran to its end."""


def load_all(paths: Sequence[Path]) -> list[Scenario]:
    """Every scenario under `paths` (files, folders, `builtin:NAME`), validated; all problems of all files reported
    together.

    Raises:
        InvalidScenario: no scenario files, or one or more files that do not validate.
    """
    paths = [resolve_scenario_ref(p) for p in paths]
    for p in paths:
        if not p.exists():
            raise InvalidScenario(f"no such file or folder: {p}")
    files = find_scenarios(list(paths))
    if not files:
        raise InvalidScenario(f"no scenario files (*.yaml, *.yml, *.py) under {', '.join(map(str, paths))}")
    scenarios, problems = [], []
    for f in files:
        try:
            scenarios.append(load_scenario(f))
        except InvalidScenario as exc:
            problems.append(str(exc))
    if problems:
        raise InvalidScenario("\n".join(problems))
    names = [s.name for s in scenarios]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidScenario(f"two scenario files share the name {', '.join(duplicates)}; names must be unique")
    return scenarios


async def run_suite(options: SuiteOptions, console: Console) -> SuiteResult:
    """Run every scenario under `options.paths` (or complete the interrupted sweep of `options.resume`); stream the
    result folder; print the table. See module doc.

    Raises:
        InvalidScenario: A scenario file does not validate, or names a service of yours outside external mode; a
            folder to resume is not one.
        TypeError: Virtual mode without `options.virtual` (a caller's bug, not the user's).
    """
    if options.mode == "virtual" and options.virtual is None:
        raise TypeError("SuiteOptions.virtual is required in virtual mode: pass harness.virtual.universe")
    scenarios = load_all([options.resume / "inputs" / "scenarios"] if options.resume else options.paths)
    plans: list[tuple[Scenario, Sequence[RunSpec]]] = []
    for scenario in scenarios:
        chosen = options.integrations or scenario.integrations
        yours = [name for name in chosen if name.startswith("external")]
        if yours and options.mode != "external":
            raise InvalidScenario(
                f"{scenario.path}: {', '.join(yours)} is a service of yours, which racelab cannot start and which "
                f"calls the simulator it was given: run with --mode external --orders-url <that simulator's URL> "
                f"(not --mode {options.mode})"
            )
        plans.append((scenario, expand(scenario, seed=options.seed, runs=options.runs, integrations=chosen)))
    total = sum(len(specs) for _, specs in plans)
    done: set[tuple[str, str]] = set()
    used: list[str] = []
    if options.resume is not None:
        folder = options.resume.resolve()
        used = _used_orders(folder, options)
        truncate_torn_tail(folder / "runs.jsonl")
        done = {(line["scenario"], line["run_id"]) for line in run_lines(folder)}
    if options.orders is not None:  # before any request, and before a result folder exists
        _check_hooks(plans, options)
        plans, assigned = _assign_orders(plans, done, options, used)
        used += assigned
    if options.resume is not None:
        if options.orders is not None:
            _write_used(folder, used)  # before the orders are touched: a later resume never reuses one
        console.print(
            f"racelab: resuming {folder}: {len(done)} of {total} runs done, {total - len(done)} to run",
            highlight=False,
        )
    else:
        name = scenarios[0].name if len(scenarios) == 1 else "suite"
        folder = open_result_dir(options.out, name, now=datetime.now())
        write_inputs(folder, {f"scenarios/{s.path.name}": s.path for s in scenarios})
        _write_plan(folder, options, used)
    console.print(
        f"racelab: {len(plans)} scenario(s), {total} runs, seed {options.seed}, mode {options.mode}", highlight=False
    )
    with tempfile.TemporaryDirectory(prefix="racelab-") as scratch:  # the effective profiles, until copied
        return await _run_plans(scenarios, plans, done, total, folder, options, console, Path(scratch))


PLAN = "plan.json"
"""What `racelab run --resume` needs to expand the same runs again: written when the sweep starts. Never a
credential (they come from the options or the environment again)."""


def _write_plan(folder: Path, options: SuiteOptions, used: Sequence[str] = ()) -> None:
    runner = options.runner
    endpoints = options.endpoints
    plan: dict[str, Any] = {
        "seed": options.seed,
        "runs": options.runs,
        "integrations": list(options.integrations) if options.integrations else None,
        "mode": options.mode,
        "jobs": options.jobs,
        "grace_s": options.grace_s,
        "compact": options.compact,
        "runner": {
            "concurrency": runner.concurrency,
            "max_rate": runner.max_rate,
            "settle_timeout_s": runner.settle_timeout_s,
        },
        "urls": None
        if endpoints is None
        else {"orders": endpoints.orders, "accounting": endpoints.accounting, "control": endpoints.control},
        "command": list(options.command),
    }
    if options.orders is not None:  # only then: the plans of other sweeps stay as they were
        plan["control_free"] = {
            "orders_from": str(options.orders_from or ""),
            "quiet_s": options.quiet_s,
            "start_lead_s": options.runner.start_lead_s,
            "used": list(used),
        }
    write_json(folder / PLAN, plan)  # whole or not at all: --resume reads it


def _used_orders(folder: Path, options: SuiteOptions) -> list[str]:
    """The order ids a control-free sweep being resumed handed out already (every one, finished or not).

    Raises:
        UsageError: a control-free sweep resumed without fresh orders, or `--orders-from` for one that was not.
    """
    plan = read_plan(folder)
    free = plan.get("control_free")
    if free is None:
        if options.orders is not None:
            raise UsageError(f"--orders-from: {folder} is not a control-free sweep; resume it without --orders-from")
        return []
    if options.orders is None:
        raise UsageError(
            f"{folder} is a control-free sweep: a run that did not finish may have used its order already (moved it "
            "to handling, invoiced or changed it), so resuming never reuses an order; give --orders-from FILE with "
            "fresh test orders in ready-for-handling, one per missing run"
        )
    return [str(order_id) for order_id in free.get("used") or ()]


def _write_used(folder: Path, used: Sequence[str]) -> None:
    plan = read_plan(folder)
    plan["control_free"] = {**plan["control_free"], "used": list(used)}
    write_json(folder / PLAN, plan)  # whole or not at all: --resume reads it


def _check_hooks(plans: Sequence[tuple[Scenario, Sequence[RunSpec]]], options: SuiteOptions) -> None:
    """A hook-driven integration racelab hosts points the account's order hook at a loopback receiver: only a
    platform on this machine (the stand-in) can call it, and on a real account it would replace the hook
    configuration for nothing.

    Raises:
        UsageError: such an integration against a platform that is not on loopback.
    """
    assert options.endpoints is not None
    host = urlsplit(options.endpoints.orders).hostname or ""
    if host == "localhost" or _loopback_ip(host):
        return
    for name in sorted({s.integration for _, specs in plans for s in specs}):
        integration = load_integration(name)
        if integration.hook_driven and integration.hook_url is None:
            raise UsageError(
                f"--orders-from: integration {name} receives the order hook on this machine's loopback, which "
                f"{host} cannot call (and configuring it would replace the account's hook): run it against the "
                "stand-in (racelab serve --no-control), or run your own subscriber as external:<hook URL>"
            )


def _loopback_ip(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _assign_orders(
    plans: Sequence[tuple[Scenario, Sequence[RunSpec]]],
    done: set[tuple[str, str]],
    options: SuiteOptions,
    used: Sequence[str],
) -> tuple[list[tuple[Scenario, Sequence[RunSpec]]], list[str]]:
    """Give every run still to run the next order id of `options.orders`, in plan order.

    Raises:
        UsageError: too few ids for the runs (before any request), or an id this sweep used already.
    """
    assert options.orders is not None
    source = options.orders_from or "--orders-from"
    taken = set(used)
    for order_id in options.orders:
        if order_id in taken:
            raise UsageError(
                f"{source}: order {order_id} was used by this sweep already; a control-free run never reuses an "
                "order (its state is no longer the scenario's): give a fresh test order"
            )
    todo = sum(1 for _, specs in plans for s in specs if (s.scenario, s.run_id) not in done)
    if len(options.orders) < todo:
        raise UsageError(
            f"{source} lists {len(options.orders)} order ids, but {todo} runs are planned: a control-free sweep "
            f"needs one test order in {READY} per run; add {todo - len(options.orders)} more (or plan fewer runs "
            "with --runs or --integration)"
        )
    ids = iter(options.orders)
    out: list[tuple[Scenario, Sequence[RunSpec]]] = []
    assigned: list[str] = []
    for scenario, specs in plans:
        mine = []
        for spec in specs:
            if (spec.scenario, spec.run_id) not in done:
                spec = dataclasses.replace(spec, order_id=next(ids))
                assigned.append(spec.order_id)
            mine.append(spec)
        out.append((scenario, mine))
    return out, assigned


def read_plan(folder: Path) -> dict[str, Any]:
    """The plan of a result folder to resume (see `PLAN`).

    Raises:
        InvalidScenario: not a result folder of `racelab run`, or one written before sweeps could be resumed.
    """
    path = folder / PLAN
    if not (folder / "runs.jsonl").is_file() or not path.is_file():
        raise InvalidScenario(f"{folder}: not a result folder of racelab run that can be resumed (no {PLAN})")
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InvalidScenario(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(plan, dict):
        raise InvalidScenario(f"{path}: expected a JSON object")
    return plan


async def _run_plans(
    scenarios: Sequence[Scenario],
    plans: Sequence[tuple[Scenario, Sequence[RunSpec]]],
    done: set[tuple[str, str]],
    total: int,
    folder: Path,
    options: SuiteOptions,
    console: Console,
    scratch: Path,
) -> SuiteResult:
    sweeps: dict[str, dict[str, Any]] = {}
    builder = SummaryBuilder()
    # Each run's place in the plan: what comes "first" in the summary is the plan's first, in whatever order the
    # runs finished (a resumed sweep: the runs of before the interruption, then the rest).
    place = {(s.scenario, s.run_id): i for i, s in enumerate(s for _, specs in plans for s in specs)}
    if done:  # a resumed sweep: what finished before counts as if it had just finished
        for record, results in read_runs(folder):
            builder.add(record, results, index=place.get((record.spec.scenario, record.spec.run_id)))
    stop = Stop(grace_s=options.grace_s)
    began = time.perf_counter()
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        auto_refresh=False,  # no refresh thread competing with the firing loop for the interpreter
        transient=True,
    )

    def judged(record: RunRecord, results: Sequence[CheckResult]) -> None:
        builder.add(record, results, index=place[(record.spec.scenario, record.spec.run_id)])

    with (
        _signals(stop, console),
        progress,
        RunStream(folder, on_line=judged, compact=options.compact, ordered=options.mode == "virtual") as stream,
    ):
        task = progress.add_task("runs", total=total, completed=len(done))
        last = [0.0]
        offset = 0
        for scenario, specs in plans:
            todo = [s for s in specs if (s.scenario, s.run_id) not in done]
            if stop.requested or not todo:
                continue
            progress.update(task, description=scenario.name)
            progress.refresh()
            places = {spec.run_id: offset + i for i, spec in enumerate(todo)}
            offset += len(todo)

            def advance(outcome: RunOutcome, places: Mapping[str, int] = places) -> None:
                stream.add(places[outcome.record.spec.run_id], outcome.record, outcome.results)
                progress.advance(task)
                now = time.monotonic()
                if now - last[0] > 0.25:
                    last[0] = now
                    progress.refresh()

            started = time.perf_counter()
            await _run_scenario(scenario, todo, options, advance, scratch, folder, stop, console)
            sweeps[scenario.name] = {"runs": len(todo), "seconds": round(time.perf_counter() - started, 4)}
    sweep_s = time.perf_counter() - began
    ran = {(s.scenario, s.integration) for _, specs in plans for s in specs}
    gates = {s.name: {i: g for i, g in s.gates.items() if (s.name, i) in ran} for s in scenarios}
    interrupted = None
    if stop.requested:
        assert stop.signal is not None
        interrupted = Interruption(signal=stop.signal, planned=total, finished=builder.runs, cut=stop.cut)
    summary = builder.build(
        gates=gates,
        seed=options.seed,
        command=shlex.join(options.command) or None,
        # What `racelab replay` needs besides the inputs: how the runs were executed.
        mode=options.mode,
        settle_timeout_s=options.runner.settle_timeout_s,
        interrupted=interrupted,
    )
    write_verdicts(folder, summary)
    results_s = time.perf_counter() - began
    _report(console, summary, builder, folder, options, sweep_s)  # the verdicts first: the report takes seconds more
    try:  # report.html is a view of the results: failing to build it must not cost them, nor change the exit code
        from harness.output.report import write_report

        write_report(folder, summary=summary)
    except Exception as exc:
        console.print(
            f"racelab: warning: report.html not written: {type(exc).__name__}: {exc}",
            style="yellow",
            markup=False,
            highlight=False,
        )
    report_s = time.perf_counter() - began - results_s
    timing = {
        "mode": options.mode,
        "runs": total,
        "sweep_s": round(sweep_s, 4),
        "results_s": round(results_s, 4),
        "report_s": round(report_s, 4),
        "scenarios": sweeps,
    }
    write_timing(folder, timing)
    if interrupted is not None:
        console.print(
            f"racelab: interrupted by {interrupted.signal}: {builder.runs} of {total} runs finished; results so far in "
            f"{folder}\n  resume: racelab run --resume {shlex.quote(str(folder))}",
            highlight=False,
        )
    return SuiteResult(
        folder=folder,
        summary=summary,
        passed=summary.passed and interrupted is None,
        errors=builder.errors,
        interrupted=stop.signal,
    )


@contextlib.contextmanager
def _signals(stop: Stop, console: Console) -> Iterator[None]:
    """The first SIGINT or SIGTERM asks the sweep to stop (`Stop`); a second one exits at once: every finished run
    is in `runs.jsonl` already, flushed line by line."""
    codes = {"SIGINT": 130, "SIGTERM": 143}

    def on_signal(name: str) -> None:
        if stop.requested:
            kill_children()
            os._exit(codes[name])
        console.print(
            f"racelab: {name}: starting no more runs; the runs in flight have {stop.grace_s:g} s to finish "
            f"(again to quit at once)",
            highlight=False,
        )
        stop.request(name)

    with on_signals(on_signal):
        yield


async def _run_scenario(
    scenario: Scenario,
    specs: Sequence[RunSpec],
    options: SuiteOptions,
    advance: OnRun,
    scratch: Path,
    folder: Path,
    stop: Stop,
    console: Console,
) -> None:
    run = {"options": options.runner, "handlers": scenario.handlers, "on_progress": advance, "keep": False}
    if options.orders is not None:
        await _run_control_free(specs, options, advance, stop, run, console)
        return
    if options.mode == "external":
        assert options.endpoints is not None
        await run_specs(specs, options.endpoints, stop=stop, **run)  # type: ignore[arg-type]
        return
    if options.mode == "virtual":
        virtual = options.virtual
        assert virtual is not None  # run_suite checked it
        config = virtual.virtual_config(scenario.profile, scenario.simulator, options.seed)
        _write_profile(folder, scratch, scenario.name, config)  # the exact configuration: replay starts from it
        await virtual.run_virtual_specs(
            specs,
            config,
            scenario_path=scenario.path,
            options=options.runner,
            jobs=options.jobs,
            on_progress=advance,
            keep=False,
            stop=stop,
        )
        return
    overrides = {**scenario.simulator, "seed": options.seed}
    async with open_embedded(scenario.profile, overrides=overrides, no_gc=True) as url:
        endpoints = Endpoints(orders=url, accounting=url, control=url)
        _write_profile(folder, scratch, scenario.name, await _config(url))  # the exact configuration the runs met
        await run_specs(specs, endpoints, stop=stop, **run)  # type: ignore[arg-type]


async def _run_control_free(
    specs: Sequence[RunSpec],
    options: SuiteOptions,
    advance: OnRun,
    stop: Stop,
    run: Mapping[str, Any],
    console: Console,
) -> None:
    """The runs of one scenario against a platform with no control API: each run's order is checked through the
    public API first (a run whose order is not `ready-for-handling` is reported as skipped, never judged), then the
    runner runs the others with `PublicControl` for the harness's own requests, every request drawing from one rate
    limiter."""
    endpoints = options.endpoints
    assert endpoints is not None  # the CLI and run_suite's callers give it in external mode
    limiter = RateLimiter(options.runner.max_rate)
    async with aiohttp.ClientSession() as session:
        client = PublicControl(session, endpoints, limiter=limiter, quiet_s=options.quiet_s)
        few = asyncio.Semaphore(8)

        async def check(order_id: str) -> str | None:
            async with few:
                return await _unusable(client, order_id)

        found = await asyncio.gather(*(check(spec.order_id) for spec in specs))
    ready = [spec for spec, why in zip(specs, found, strict=True) if why is None]
    for spec, why in zip(specs, found, strict=True):
        if why is not None:
            console.print(f"racelab: skipped run {spec.run_id}: {why} (never judged)", highlight=False, markup=False)
            advance(_skipped(spec, why))
    if not ready or stop.requested:
        return

    def make_control(session: aiohttp.ClientSession, endpoints: Endpoints) -> ControlClient:
        return PublicControl(session, endpoints, limiter=limiter, quiet_s=options.quiet_s)

    await run_specs(ready, endpoints, stop=stop, control=make_control, connector=limited_connector(limiter), **run)


async def _unusable(client: PublicControl, order_id: str) -> str | None:
    """Why the order cannot be raced (its status, or that it cannot be read), or None when it is ready."""
    answer = await client.perform(control.get_order(order_id))
    if answer.status != 200 or not isinstance(answer.body, Mapping):
        return f"order {order_id} could not be read: GET answered {answer.status}"
    status = answer.body.get("status")
    return None if status == READY else f"order {order_id} is in status {status}, not {READY}"


def _skipped(spec: RunSpec, why: str) -> RunOutcome:
    """A run not run: its order was not usable. It is written like a run cut short (verdict `unknown`, every
    checker `unknown` with the reason, no history, no final state), so it is never judged and a gate never passes on
    it."""
    record = RunRecord(spec=spec, history=(), final=FinalState(order={}, settled=False), error=f"skipped: {why}")
    results, verdict = check_all(record, spec.expect)
    return RunOutcome(record, results, verdict)


def _write_profile(folder: Path, scratch: Path, name: str, config: Any) -> None:
    profile = scratch / f"{name}.json"
    profile.write_text(json.dumps(config, indent=2))
    write_inputs(folder, {f"profiles/{name}.json": profile})


async def _config(url: str) -> Any:
    try:
        async with aiohttp.ClientSession() as session, session.get(f"{url}/_sim/config") as resp:
            return await resp.json()
    except aiohttp.ClientError as exc:
        raise HarnessConnectionError(f"cannot read the simulator's configuration at {url}: {exc}") from None


def _report(
    console: Console,
    summary: Summary,
    notes: SummaryBuilder,
    folder: Path,
    options: SuiteOptions,
    sweep_s: float,
) -> None:
    console.print(render_table(summary))
    for gate in summary.gates:
        mark = "[green]PASS[/]" if gate.passed else "[yellow]INTERRUPTED[/]" if gate.held_back else "[red]FAIL[/]"
        console.print(f"{mark} {gate.scenario} · {gate.integration}: {gate.reason}")
    for e in notes.examples[:8]:
        console.print(
            f"  e.g. {e.scenario} · {e.integration} · {e.checker} · run {e.run_id}: {e.explanation}", highlight=False
        )
    if notes.first_error is not None:
        first = notes.first_error
        console.print(f"[yellow]{notes.errors} runs were cut short, e.g. {first.run_id}: {first.error}[/]")
    cost = summary.invoice_cost_ms
    for integration, t in summary.time_to_invoice_ms.items():
        if not t.count:
            continue
        line = f"time to invoice · {integration}: p50 {t.p50:.0f} ms · p99 {t.p99:.0f} ms"
        added = cost.integrations.get(integration)
        if added is not None and added.pairs:
            line += (
                f" · +{added.added_p50:.0f} ms p50, +{added.added_p99:.0f} ms p99 over {cost.baseline} "
                f"on {added.pairs} identical schedules"
            )
        console.print(line, highlight=False)
    skew = summary.skew_ms
    if skew.count:
        console.print(
            f"send skew: p50 {skew.p50:.2f} ms · p99 {skew.p99:.2f} ms · max {skew.max:.2f} ms over {skew.count} "
            "requests",
            highlight=False,
        )
    clock = "virtual time" if options.mode == "virtual" else "real time"
    console.print(f"{notes.runs:,} runs in {sweep_s:.1f} s ({clock}; timing.json has the phases)", highlight=False)
    rerun = list(options.command) or ["racelab", "run", *map(str, options.paths)]
    if "--seed" not in rerun:
        rerun += ["--seed", str(options.seed)]  # the default seed, said out loud: the command replays this run
    console.print(f"results: {folder}  ·  again: {shlex.join(rerun)}", highlight=False)
