"""Running a suite of scenarios end to end: what `racelab run` does.

Owns `SuiteOptions` and `run_suite()`: find and validate the scenario files (every problem reported before
anything runs), expand them, run each scenario against its own embedded simulator (or the external services),
show progress, judge, write the result folder, and print the summary table and the gate verdicts.

Imports: stdlib, rich, `harness.*`. Not `simulator`: the embedded simulator is a child process (`harness.embedded`);
virtual mode's in-process simulator lives behind `harness.virtual`, imported only when that mode is chosen.
"""

from __future__ import annotations

import json
import shlex
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.drive.client import Endpoints
from harness.drive.embedded import open_embedded
from harness.drive.runner import RunnerOptions, RunOutcome, run_specs
from harness.errors import HarnessConnectionError, InvalidScenario
from harness.model.records import CheckResult, RunRecord
from harness.output.results import build_summary, open_result_dir, render_table, write_results, write_timing
from harness.resources import resolve_scenario_ref
from harness.scenarios import Scenario, expand, find_scenarios, load_scenario

__all__ = ["SuiteOptions", "SuiteResult", "run_suite"]


@dataclass(frozen=True, slots=True)
class SuiteOptions:
    paths: Sequence[Path]
    mode: str = "embedded"
    seed: int = 1
    runs: int | None = None
    integrations: Sequence[str] | None = None
    out: Path = Path("results")
    endpoints: Endpoints | None = None
    """The services, in external mode."""
    runner: RunnerOptions = field(default_factory=RunnerOptions)
    command: Sequence[str] = ()
    jobs: int = 1
    """Virtual mode: worker processes (results do not depend on it)."""


@dataclass(frozen=True, slots=True)
class SuiteResult:
    folder: Path
    summary: dict[str, Any]
    passed: bool
    errors: int
    """Runs cut short by a harness or connection error."""


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
    """Run every scenario under `options.paths`; write the result folder; print the table. See module doc."""
    scenarios = load_all(options.paths)
    plans = []
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
    console.print(
        f"racelab: {len(plans)} scenario(s), {total} runs, seed {options.seed}, mode {options.mode}", highlight=False
    )
    with tempfile.TemporaryDirectory(prefix="racelab-") as scratch:  # the effective profiles, until copied
        return await _run_plans(scenarios, plans, total, options, console, Path(scratch))


async def _run_plans(
    scenarios: Sequence[Scenario],
    plans: Sequence[tuple[Scenario, Sequence[Any]]],
    total: int,
    options: SuiteOptions,
    console: Console,
    scratch: Path,
) -> SuiteResult:
    judged: list[tuple[RunRecord, tuple[CheckResult, ...]]] = []
    inputs: dict[str, Path] = {}
    sweeps: dict[str, dict[str, Any]] = {}
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
    with progress:
        task = progress.add_task("runs", total=total)
        last = [0.0]

        def advance(_: RunOutcome) -> None:
            progress.advance(task)
            now = time.monotonic()
            if now - last[0] > 0.25:
                last[0] = now
                progress.refresh()

        for scenario, specs in plans:
            progress.update(task, description=scenario.name)
            progress.refresh()
            started = time.perf_counter()
            outcomes = await _run_scenario(scenario, specs, options, advance, scratch, inputs)
            sweeps[scenario.name] = {"runs": len(specs), "seconds": round(time.perf_counter() - started, 4)}
            judged.extend((o.record, o.results) for o in outcomes)
    sweep_s = time.perf_counter() - began
    for scenario in scenarios:
        inputs[f"scenarios/{scenario.path.name}"] = scenario.path
    ran = {(r.spec.scenario, r.spec.integration) for r, _ in judged}
    gates = {s.name: {i: g for i, g in s.gates.items() if (s.name, i) in ran} for s in scenarios}
    summary = build_summary(judged, gates=gates, seed=options.seed, command=shlex.join(options.command) or None)
    # What `racelab replay` needs besides the inputs: how the runs were executed.
    summary["mode"] = options.mode
    summary["settle_timeout_s"] = options.runner.settle_timeout_s
    name = scenarios[0].name if len(scenarios) == 1 else "suite"
    folder = open_result_dir(options.out, name, now=datetime.now())
    write_results(folder, records_with_results=judged, summary=summary, inputs=inputs)
    results_s = time.perf_counter() - began
    errors = sum(1 for r, _ in judged if r.error is not None)
    _report(console, summary, judged, folder, options, sweep_s)  # the verdicts first: the report takes seconds more
    try:  # report.html is a view of the results: failing to build it must not cost them, nor change the exit code
        from harness.output.report import write_report

        write_report(folder, runs=judged, summary=summary)
    except Exception as exc:
        console.print(f"racelab: warning: report.html not written: {type(exc).__name__}: {exc}", style="yellow",
                      markup=False, highlight=False)  # fmt: skip
    report_s = time.perf_counter() - began - results_s
    write_timing(folder, {"mode": options.mode, "runs": total, "sweep_s": round(sweep_s, 4),
                          "results_s": round(results_s, 4), "report_s": round(report_s, 4),
                          "scenarios": sweeps})  # fmt: skip
    return SuiteResult(folder=folder, summary=summary, passed=bool(summary["passed"]), errors=errors)


async def _run_scenario(
    scenario: Scenario,
    specs: Sequence[Any],
    options: SuiteOptions,
    advance: Any,
    scratch: Path,
    inputs: dict[str, Path],
) -> list[RunOutcome]:
    if options.mode == "external":
        assert options.endpoints is not None
        return await run_specs(specs, options.endpoints, options=options.runner, handlers=scenario.handlers,
                               on_progress=advance)  # fmt: skip
    if options.mode == "virtual":
        from harness.virtual.universe import run_virtual_specs, virtual_config

        config = virtual_config(scenario.profile, scenario.simulator, options.seed)
        profile = scratch / f"{scenario.name}.json"
        profile.write_text(json.dumps(config, indent=2))
        inputs[f"profiles/{scenario.name}.json"] = profile  # the exact configuration: replay starts from it
        return await run_virtual_specs(specs, config, scenario_path=scenario.path, options=options.runner,
                                       jobs=options.jobs, on_progress=advance)  # fmt: skip
    overrides = {**scenario.simulator, "seed": options.seed}
    async with open_embedded(scenario.profile, overrides=overrides) as url:
        endpoints = Endpoints(orders=url, accounting=url, control=url)
        profile = scratch / f"{scenario.name}.json"
        profile.write_text(json.dumps(await _config(url), indent=2))
        inputs[f"profiles/{scenario.name}.json"] = profile  # the exact configuration the runs met
        return await run_specs(specs, endpoints, options=options.runner, handlers=scenario.handlers,
                               on_progress=advance)  # fmt: skip


async def _config(url: str) -> Any:
    try:
        async with aiohttp.ClientSession() as session, session.get(f"{url}/_sim/config") as resp:
            return await resp.json()
    except aiohttp.ClientError as exc:
        raise HarnessConnectionError(f"cannot read the simulator's configuration at {url}: {exc}") from None


def _report(
    console: Console,
    summary: dict[str, Any],
    judged: Sequence[tuple[RunRecord, tuple[CheckResult, ...]]],
    folder: Path,
    options: SuiteOptions,
    sweep_s: float,
) -> None:
    console.print(render_table(summary))
    for gate in summary["gates"]:
        mark = "[green]PASS[/]" if gate["passed"] else "[red]FAIL[/]"
        console.print(f"{mark} {gate['scenario']} · {gate['integration']}: {gate['reason']}")
    examples: dict[tuple[str, str, str], tuple[RunRecord, str]] = {}
    for record, results in judged:
        for r in results:
            if r.verdict.value == "invalid":
                key = (record.spec.scenario, record.spec.integration, r.checker)
                examples.setdefault(key, (record, r.explanation))
    for (scenario, integration, checker), (record, explanation) in list(examples.items())[:8]:
        console.print(f"  e.g. {scenario} · {integration} · {checker} · run {record.spec.run_id}: {explanation}",
                      highlight=False)  # fmt: skip
    errors = [r for r, _ in judged if r.error is not None]
    if errors:
        console.print(f"[yellow]{len(errors)} runs were cut short, e.g. {errors[0].spec.run_id}: {errors[0].error}[/]")
    times = summary.get("time_to_invoice_ms") or {}
    cost = (summary.get("invoice_cost_ms") or {}).get("integrations") or {}
    baseline = (summary.get("invoice_cost_ms") or {}).get("baseline")
    for integration, t in times.items():
        if not t.get("count"):
            continue
        line = f"time to invoice · {integration}: p50 {t['p50']:.0f} ms · p99 {t['p99']:.0f} ms"
        added = cost.get(integration) or {}
        if added.get("pairs"):
            line += (f" · +{added['added_p50']:.0f} ms p50, +{added['added_p99']:.0f} ms p99 over {baseline} "
                     f"on {added['pairs']} identical schedules")  # fmt: skip
        console.print(line, highlight=False)
    skew = summary.get("skew_ms") or {}
    if skew.get("count"):
        console.print(f"send skew: p50 {skew['p50']:.2f} ms · p99 {skew['p99']:.2f} ms · max {skew['max']:.2f} ms "
                      f"over {skew['count']} requests", highlight=False)  # fmt: skip
    clock = "virtual time" if options.mode == "virtual" else "real time"
    console.print(f"{len(judged):,} runs in {sweep_s:.1f} s ({clock}; timing.json has the phases)", highlight=False)
    rerun = list(options.command) or ["racelab", "run", *map(str, options.paths)]
    if "--seed" not in rerun:
        rerun += ["--seed", str(options.seed)]  # the default seed, said out loud: the command replays this run
    console.print(f"results: {folder}  ·  again: {shlex.join(rerun)}", highlight=False)
