"""Running a suite of scenarios end to end: what `racelab run` does.

Owns `SuiteOptions`, `VirtualTime` and `run_suite()`: find and validate the scenario files (every problem reported
before anything runs), expand them, run each scenario against its own embedded simulator (or the external services,
or in virtual time), show progress, judge, write the result folder, and print the summary table and the gate
verdicts.

Imports: stdlib, aiohttp, rich, `harness.drive`, `harness.judge`, `harness.model`, `harness.output`,
`harness.scenarios`, `harness.errors` and `harness.resources`. Not `simulator`: the embedded simulator is a child
process (`harness.drive.embedded`). Not `harness.virtual` either, which is built on the drivers: virtual mode is
handed in by the caller (`SuiteOptions.virtual`, e.g. the module `harness.virtual.universe`).

    from harness.virtual import universe
    result = await run_suite(SuiteOptions([Path("scenarios")], mode="virtual", virtual=universe), Console())
    result.passed, result.summary.invalid, result.folder
"""

from __future__ import annotations

import json
import shlex
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.drive.embedded import open_embedded
from harness.drive.runner import RunnerOptions, RunOutcome, run_specs
from harness.drive.transport import Endpoints
from harness.errors import HarnessConnectionError, InvalidScenario
from harness.judge.summarize import build_summary
from harness.model.records import CheckResult, RunRecord, RunSpec, Verdict
from harness.model.summary import Summary
from harness.output.folder import open_result_dir, write_results, write_timing
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
    ) -> list[RunOutcome]:
        """Every spec run against that configuration, judged; in the order of `specs`."""
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
    """Run every scenario under `options.paths`; write the result folder; print the table. See module doc.

    Raises:
        InvalidScenario: A scenario file does not validate, or names a service of yours outside external mode.
        TypeError: Virtual mode without `options.virtual` (a caller's bug, not the user's).
    """
    if options.mode == "virtual" and options.virtual is None:
        raise TypeError("SuiteOptions.virtual is required in virtual mode: pass harness.virtual.universe")
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
    plans: Sequence[tuple[Scenario, Sequence[RunSpec]]],
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
    summary = build_summary(
        judged,
        gates=gates,
        seed=options.seed,
        command=shlex.join(options.command) or None,
        # What `racelab replay` needs besides the inputs: how the runs were executed.
        mode=options.mode,
        settle_timeout_s=options.runner.settle_timeout_s,
    )
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
    return SuiteResult(folder=folder, summary=summary, passed=summary.passed, errors=errors)


async def _run_scenario(
    scenario: Scenario,
    specs: Sequence[RunSpec],
    options: SuiteOptions,
    advance: OnRun,
    scratch: Path,
    inputs: dict[str, Path],
) -> list[RunOutcome]:
    if options.mode == "external":
        assert options.endpoints is not None
        return await run_specs(
            specs, options.endpoints, options=options.runner, handlers=scenario.handlers, on_progress=advance
        )
    if options.mode == "virtual":
        virtual = options.virtual
        assert virtual is not None  # run_suite checked it
        config = virtual.virtual_config(scenario.profile, scenario.simulator, options.seed)
        profile = scratch / f"{scenario.name}.json"
        profile.write_text(json.dumps(config, indent=2))
        inputs[f"profiles/{scenario.name}.json"] = profile  # the exact configuration: replay starts from it
        return await virtual.run_virtual_specs(
            specs, config, scenario_path=scenario.path, options=options.runner, jobs=options.jobs, on_progress=advance
        )
    overrides = {**scenario.simulator, "seed": options.seed}
    async with open_embedded(scenario.profile, overrides=overrides) as url:
        endpoints = Endpoints(orders=url, accounting=url, control=url)
        profile = scratch / f"{scenario.name}.json"
        profile.write_text(json.dumps(await _config(url), indent=2))
        inputs[f"profiles/{scenario.name}.json"] = profile  # the exact configuration the runs met
        return await run_specs(
            specs, endpoints, options=options.runner, handlers=scenario.handlers, on_progress=advance
        )


async def _config(url: str) -> Any:
    try:
        async with aiohttp.ClientSession() as session, session.get(f"{url}/_sim/config") as resp:
            return await resp.json()
    except aiohttp.ClientError as exc:
        raise HarnessConnectionError(f"cannot read the simulator's configuration at {url}: {exc}") from None


def _report(
    console: Console,
    summary: Summary,
    judged: Sequence[tuple[RunRecord, tuple[CheckResult, ...]]],
    folder: Path,
    options: SuiteOptions,
    sweep_s: float,
) -> None:
    console.print(render_table(summary))
    for gate in summary.gates:
        mark = "[green]PASS[/]" if gate.passed else "[red]FAIL[/]"
        console.print(f"{mark} {gate.scenario} · {gate.integration}: {gate.reason}")
    examples: dict[tuple[str, str, str], tuple[RunRecord, str]] = {}
    for record, results in judged:
        for r in results:
            if r.verdict is Verdict.INVALID:
                key = (record.spec.scenario, record.spec.integration, r.checker)
                examples.setdefault(key, (record, r.explanation))
    for (scenario, integration, checker), (record, explanation) in list(examples.items())[:8]:
        console.print(
            f"  e.g. {scenario} · {integration} · {checker} · run {record.spec.run_id}: {explanation}", highlight=False
        )
    errors = [r for r, _ in judged if r.error is not None]
    if errors:
        console.print(f"[yellow]{len(errors)} runs were cut short, e.g. {errors[0].spec.run_id}: {errors[0].error}[/]")
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
    console.print(f"{len(judged):,} runs in {sweep_s:.1f} s ({clock}; timing.json has the phases)", highlight=False)
    rerun = list(options.command) or ["racelab", "run", *map(str, options.paths)]
    if "--seed" not in rerun:
        rerun += ["--seed", str(options.seed)]  # the default seed, said out loud: the command replays this run
    console.print(f"results: {folder}  ·  again: {shlex.join(rerun)}", highlight=False)
