"""`racelab explore`: search a scenario's schedules for a violation in virtual time, shrink it, write it down.

Owns `Space` (what may vary), `explore()` and `write_minimal()`. A schedule is: which of the scenario's steps run,
each step's offset within the scenario's window for it (its sweep's range, its distribution's range, or its fixed
offset), and one fixed delay per latency of the profile, within that latency's range (uniform: min-max; lognormal,
exponential, pareto: up to the cap; normal: its truncation; empirical: the smallest to the largest value). All
values are whole milliseconds. Hypothesis generates schedules, each runs in its own virtual universe
(`harness.virtual.run_virtual`), and a violation (a checker says `invalid`) is shrunk: fewer steps, earlier
offsets, smaller delays. The minimal schedule is written as a scenario whose profile overrides pin every latency
to the chosen fixed value, so `racelab run FILE` meets the same schedule (exactly with `--mode virtual`).

Interrupted (the first SIGINT or SIGTERM), the search stops at the next schedule; the smallest violating schedule
found so far, if any, is written as it would have been at the end (it may not be fully shrunk), and the command
exits 130 (SIGINT) or 143 (SIGTERM). A second signal exits at once (the file is written whole or not at all).

Imports: stdlib, hypothesis, yaml, `simulator` (the profile's distributions), `harness.*`.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import random
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from harness.drive.runner import RunnerOptions, RunOutcome
from harness.errors import InvalidScenario
from harness.model.records import RunSpec, Step, Verdict
from harness.scenarios import Scenario, Sweep, expand, load_scenario
from harness.virtual.universe import run_virtual, virtual_config
from simulator.contract import Distribution

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = ["Found", "Schedule", "Space", "explore", "explore_main", "run_schedule", "schedules", "write_minimal"]

_DELAY_KINDS = {"fixed", "uniform", "normal", "lognormal", "exponential", "pareto", "empirical"}
_SIGMAS = 3.0
"""An uncapped tail is bounded at median * e^(3 sigma) (lognormal), 5 * its mean or 20 * its scale: far enough out
that the search covers it, near enough that shrinking does not start from absurd delays."""


@dataclass(frozen=True, slots=True)
class Latency:
    path: tuple[str, ...]
    """Where the delay lives in the simulator configuration, e.g. `("orders", "change", "read_lag")`."""
    low: int
    high: int


@dataclass(frozen=True, slots=True)
class Window:
    step: int
    low: int
    high: int


@dataclass(frozen=True, slots=True)
class Space:
    """Everything a schedule of one scenario and integration may vary, and the fixed rest."""

    scenario: Scenario
    integration: str
    template: RunSpec
    config: Mapping[str, Any]
    windows: tuple[Window, ...]
    latencies: tuple[Latency, ...]

    @classmethod
    def of(cls, scenario: Scenario, integration: str, seed: int) -> Space:
        """Raises:
        InvalidScenario: the integration is not the scenario's, or the scenario has Python step handlers."""
        if scenario.handlers:
            raise InvalidScenario(
                "explore writes YAML scenarios; scenarios with Python step handlers are not supported"
            )
        specs = expand(scenario, seed=seed, runs=1, integrations=[integration])
        config = virtual_config(scenario.profile, scenario.simulator, seed)
        windows = []
        for s in scenario.steps:
            values = [spec.steps[s.index].at_ms for spec in specs]
            low, high = _step_bounds(s.at) or (min(values), max(values))
            windows.append(Window(step=s.index, low=math.ceil(low), high=max(math.ceil(low), math.floor(high))))
        latencies = tuple(
            Latency(path=path, low=low, high=high)
            for path, dist in _delays(config)
            if (bounds := _bounds(dist)) is not None
            for low, high in [(math.ceil(bounds[0]), math.floor(bounds[1]))]
            if high > low
        )
        return cls(scenario, integration, specs[0], config, tuple(windows), latencies)


@dataclass(frozen=True, slots=True)
class Schedule:
    """One point of a `Space`: steps kept, their offsets, the fixed delays (ms)."""

    keep: tuple[bool, ...]
    offsets: tuple[int, ...]
    delays: tuple[int, ...]

    def nudged(self, margin_ms: int) -> Iterator[Schedule]:
        """The schedule with one kept step `margin_ms` earlier (not before 0) or later, for each step and side."""
        if margin_ms <= 0:
            return
        for i, keep in enumerate(self.keep):
            if keep:
                for at in (max(0, self.offsets[i] - margin_ms), self.offsets[i] + margin_ms):
                    yield replace(self, offsets=(*self.offsets[:i], at, *self.offsets[i + 1 :]))

    def spec(self, space: Space) -> RunSpec:
        template = space.template
        steps = tuple(
            Step(at_ms=float(at), do=step.do, args=step.args)
            for keep, at, step in zip(self.keep, self.offsets, template.steps, strict=True)
            if keep
        )
        return replace(template, run_id="explore", cell={}, steps=steps)

    def config(self, space: Space) -> dict[str, Any]:
        config = copy.deepcopy(dict(space.config))
        for latency, ms in zip(space.latencies, self.delays, strict=True):
            _set(config, latency.path, {"kind": "fixed", "ms": ms})
        return config


@dataclass(frozen=True, slots=True)
class Found:
    schedule: Schedule | None
    outcome: RunOutcome | None
    tried: int
    """Schedules executed (generation and shrinking)."""
    violations: int = 0
    """How many of them violated an invariant."""
    checkers: tuple[str, ...] = field(default=())
    stopped: bool = False
    """The search was interrupted: `schedule` is the smallest violation found until then (perhaps not fully
    shrunk), or None if none was."""


class _Stopped(BaseException):
    """Raised from the property when the search is asked to stop: a BaseException, so hypothesis neither records it
    as a failure of the property nor shrinks it (as with KeyboardInterrupt), and `find` ends at once."""


def _delays(config: Mapping[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every delay distribution in a configuration, depth first, in the configuration's order."""
    for key, value in config.items():
        if isinstance(value, Mapping):
            if value.get("kind") in _DELAY_KINDS:
                yield (*path, key), value
            else:
                yield from _delays(value, (*path, key))


def _bounds(d: Mapping[str, Any]) -> tuple[float, float] | None:
    """The range a distribution draws from (see the module docstring); None for a fixed delay."""
    kind = d.get("kind")
    cap = d.get("cap_ms")
    if kind == "uniform":
        return float(d["min_ms"]), float(d["max_ms"])
    if kind == "normal":
        high = d.get("max_ms")
        return float(d.get("min_ms") or 0.0), float(high if high is not None else d["mean_ms"] + 4 * d["sd_ms"])
    if kind == "lognormal":
        return 0.0, float(cap if cap is not None else d["median_ms"] * math.exp(_SIGMAS * d["sigma"]))
    if kind == "exponential":
        return 0.0, float(cap if cap is not None else 5 * d["mean_ms"])
    if kind == "pareto":
        return float(d["scale_ms"]), float(cap if cap is not None else 20 * d["scale_ms"])
    if kind == "empirical":
        return float(min(d["values_ms"])), float(max(d["values_ms"]))
    return None


def _step_bounds(at: Any) -> tuple[float, float] | None:
    """A step's window from its sweep or its distribution; None for a fixed offset (take it from the specs)."""
    if isinstance(at, Sweep):
        values = at.values()
        return min(values), max(values)
    if isinstance(at, Distribution):
        return _bounds(at.model_dump())
    return None


def _set(config: dict[str, Any], path: Sequence[str], value: Any) -> None:
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def schedules(space: Space) -> SearchStrategy[Schedule]:
    """Hypothesis's strategy for the schedules of `space` (also what the property tests draw from)."""
    from hypothesis import strategies as st

    return st.builds(
        Schedule,
        # Shrinking takes booleans to False: a minimal schedule keeps as few steps as still break something.
        keep=st.tuples(*[st.booleans() for _ in space.windows]),
        offsets=st.tuples(*[st.integers(w.low, w.high) for w in space.windows]),
        delays=st.tuples(*[st.integers(lat.low, lat.high) for lat in space.latencies]),
    )


def explore(
    space: Space,
    *,
    budget: int,
    seed: int,
    settle_timeout_s: float = 30.0,
    margin_ms: int = 0,
    on_try: Callable[[int, bool], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> Found:
    """Search `space` for a schedule that violates an invariant; shrink the first found.

    Args:
        space: What may vary.
        budget: Schedules to generate before giving up (shrinking a find adds its own tries).
        seed: Seeds hypothesis's search (the simulator's seed is in the space's configuration).
        settle_timeout_s: Virtual seconds an order may take to settle.
        margin_ms: A schedule counts only if it still violates with any one step moved `margin_ms` earlier or
            later. Shrinking pushes a schedule to the edge of the race window, where the jitter of a real-time run
            could hide it; the margin keeps the written schedule that far inside the window.
        on_try: Called after every schedule with the count so far and whether it violated.
        stop: Asked before every schedule run; True ends the search there (`Found.stopped`), with the smallest
            violation found so far.
    """
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample

    strategy = schedules(space)
    state = {"tried": 0, "violations": 0}
    last: dict[Schedule, RunOutcome] = {}  # the latest violation only: the minimal one is usually the last

    def run(schedule: Schedule) -> RunOutcome:
        if stop is not None and stop():
            raise _Stopped
        return run_schedule(space, schedule, settle_timeout_s=settle_timeout_s)

    def violates(schedule: Schedule) -> bool:
        outcome = run(schedule)
        state["tried"] += 1
        bad = outcome.verdict is Verdict.INVALID and all(
            run(moved).verdict is Verdict.INVALID for moved in schedule.nudged(margin_ms)
        )
        if bad:
            state["violations"] += 1
            last.clear()
            last[schedule] = outcome
        if on_try is not None:
            on_try(state["tried"], bad)
        return bad

    search = settings(
        max_examples=budget,
        database=None,
        deadline=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    try:
        minimal = find(strategy, violates, settings=search, random=random.Random(seed))
    except NoSuchExample:
        return Found(schedule=None, outcome=None, tried=state["tried"])
    except _Stopped:
        if not last:
            return Found(schedule=None, outcome=None, tried=state["tried"], stopped=True)
        [(best, outcome)] = last.items()
        return Found(best, outcome, state["tried"], state["violations"], _broken(outcome), stopped=True)
    outcome = last.get(minimal) or run_schedule(space, minimal, settle_timeout_s=settle_timeout_s)
    return Found(minimal, outcome, state["tried"], state["violations"], _broken(outcome))


def _broken(outcome: RunOutcome) -> tuple[str, ...]:
    return tuple(r.checker for r in outcome.results if r.verdict is Verdict.INVALID)


def run_schedule(space: Space, schedule: Schedule, *, settle_timeout_s: float = 30.0) -> RunOutcome:
    """Run one schedule of `space` in its own virtual universe."""
    options = RunnerOptions(settle_timeout_s=settle_timeout_s)
    return run_virtual(schedule.spec(space), schedule.config(space), options=options)


def write_minimal(space: Space, found: Found, out: Path, *, command: str) -> dict[str, Any]:
    """Write the shrunk schedule as a scenario file; returns what was written."""
    assert found.schedule is not None
    assert found.outcome is not None
    schedule, scenario = found.schedule, space.scenario
    overrides: dict[str, Any] = copy.deepcopy(dict(scenario.simulator))
    for latency, ms in zip(space.latencies, schedule.delays, strict=True):
        node = overrides
        for key in latency.path[:-1]:
            node = node.setdefault(key, {})
        node[latency.path[-1]] = {"kind": "fixed", "ms": ms}
    steps = [
        {"at": f"{at}ms", "do": step.do, **dict(step.args)}
        for keep, at, step in zip(schedule.keep, schedule.offsets, space.template.steps, strict=True)
        if keep
    ]
    explanation = " ".join(r.explanation for r in found.outcome.results if r.verdict is Verdict.INVALID)
    how = (
        f"The smallest schedule found by `{command}` before it was interrupted, after {found.tried} schedules "
        "(perhaps not fully shrunk)"
        if found.stopped
        else f"A minimal schedule found by `{command}` after {found.tried} schedules"
    )
    document = {
        "name": f"{scenario.name}-minimal",
        "summary": f"{how}: {explanation}",
        "profile": _profile_reference(scenario, out),
        "simulator": overrides,
        "order": dict(scenario.order),
        "integrations": [space.integration],
        "steps": steps,
        "runs": 1,
        "expect": list(scenario.expect),
        "gate": {space.integration: {"reproduces": list(found.checkers)}},
    }
    header = (
        f"# Written by racelab explore: the smallest schedule of {scenario.name} it found that breaks "
        f"{', '.join(found.checkers)}\n"
        f"# for {space.integration}. Every latency is pinned to the value shown; `racelab run {out}` meets the same\n"
        "# schedule (exactly with --mode virtual). Once the integration is fixed, change the gate to\n"
        f"# `{{{space.integration}: {{violations: 0}}}}` and keep this file as a regression test.\n"
    )
    if found.stopped:
        header += "# The search was interrupted while it shrank this schedule: a smaller one may exist.\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    text = header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=116, default_flow_style=None)
    tmp = out.with_name(f".{out.name}.tmp")  # whole or not at all: a second Ctrl-C may end the process anywhere
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    return document


def _profile_reference(scenario: Scenario, out: Path) -> str:
    """The scenario's profile as the written file must name it: a profile name as is; a path made relative to
    where the new file lives (profiles paths are relative to their scenario file)."""
    profile = scenario.profile
    if not (profile.endswith((".yaml", ".yml")) or "/" in profile):
        return profile
    source = (scenario.path.parent / profile).resolve()
    try:
        return str(source.relative_to(out.parent.resolve()))
    except ValueError:
        return str(source)


class _Interrupt:
    """The first SIGINT or SIGTERM asks the search to stop (`requested`, read before every schedule); a second one
    exits at once. Python signal handlers: the search runs synchronously in the main thread."""

    __slots__ = ("signal",)

    def __init__(self) -> None:
        self.signal: str | None = None

    def requested(self) -> bool:
        return self.signal is not None

    @property
    def exit_code(self) -> int:
        assert self.signal is not None
        return 128 + int(signal.Signals[self.signal])

    def _on_signal(self, signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if self.signal is not None:
            print(f"racelab: second {name}: quitting at once; nothing more is written", file=sys.stderr, flush=True)
            sys.stdout.flush()
            os._exit(128 + signum)
        self.signal = name

    @contextmanager
    def installed(self) -> Iterator[_Interrupt]:
        """Handle SIGINT and SIGTERM in the block; the previous handlers are back after it."""
        before = {signum: signal.signal(signum, self._on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for signum, handler in before.items():
                signal.signal(signum, handler)


def explore_main(args: argparse.Namespace) -> int:
    """The `racelab explore` command (see `harness.cli.explore`)."""
    from rich.console import Console

    if args.budget < 1:
        raise InvalidScenario(f"--budget must be at least 1, got {args.budget}")
    if args.margin < 0:
        raise InvalidScenario(f"--margin must not be negative, got {args.margin}")
    if args.settle_timeout <= 0:
        raise InvalidScenario("--settle-timeout must be positive")
    scenario = load_scenario(args.scenario)
    integration = args.integration or scenario.integrations[0]
    space = Space.of(scenario, integration, args.seed)
    out = Console() if sys.stdout.isatty() else Console(width=160)
    with _Interrupt().installed() as interrupt:  # through the writing too: a first signal then only sets the exit code
        found = _search(space, args, out, interrupt)
        code = _report(out, args, space, found, interrupted_by=interrupt.signal)
    if interrupt.signal is None:
        return code
    if not found.stopped:
        out.print(f"racelab: {interrupt.signal} as the search ended: the result above is complete", highlight=False)
    return interrupt.exit_code


def _search(space: Space, args: argparse.Namespace, out: Any, interrupt: _Interrupt) -> Found:
    """`explore()` with a progress bar on stderr, and a line on `out` when a first violation is found."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        out.print(  # once the signals are handled: a test (or a user) may interrupt as soon as it reads this
            f"exploring {space.scenario.name} · {space.integration} · {len(space.windows)} steps · "
            f"{len(space.latencies)} latencies · budget {args.budget} schedules · seed {args.seed}",
            highlight=False,
        )
        task = progress.add_task("searching", total=args.budget)
        shrinking = False

        def on_try(tried: int, bad: bool) -> None:
            nonlocal shrinking
            if bad and not shrinking:
                shrinking = True
                progress.update(task, description="shrinking", total=None)
                out.print(
                    f"found a violation after {tried} schedules; shrinking it (Ctrl-C writes the smallest so far)",
                    highlight=False,
                )
            progress.update(task, completed=tried)

        return explore(
            space,
            budget=args.budget,
            seed=args.seed,
            settle_timeout_s=args.settle_timeout,
            margin_ms=args.margin,
            on_try=on_try,
            stop=interrupt.requested,
        )


def _report(out: Any, args: argparse.Namespace, space: Space, found: Found, *, interrupted_by: str | None) -> int:
    """Say what the search found, write it to `--out`; 0 nothing found, 1 a violation written."""
    scenario, integration = space.scenario, space.integration
    if found.schedule is None:
        if found.stopped:
            out.print(
                f"racelab: interrupted by {interrupted_by} after {found.tried} schedules of {scenario.name} for "
                f"{integration}: no violation found yet; nothing written to {args.out}",
                highlight=False,
            )
        else:
            out.print(f"no violation in {found.tried} schedules of {scenario.name} for {integration}", highlight=False)
        return 0
    command = (
        f"racelab explore {args.scenario} --integration {integration} --budget {args.budget} --seed {args.seed} "
        f"--margin {args.margin}"
    )
    write_minimal(space, found, args.out, command=command)
    assert found.outcome is not None
    shrunk = "the smallest so far, the search interrupted while shrinking" if found.stopped else "shrunk to"
    out.print(
        f"[red]violation[/]: {', '.join(found.checkers)} after {found.tried} schedules "
        f"({found.violations} violating); {shrunk}:",
        highlight=False,
    )
    for keep, at, step in zip(found.schedule.keep, found.schedule.offsets, space.template.steps, strict=True):
        if keep:
            out.print(f"  at {at} ms: {step.do}", highlight=False)
    changed = [
        f"{'.'.join(lat.path)} = {ms} ms"
        for lat, ms in zip(space.latencies, found.schedule.delays, strict=True)
        if ms != lat.low
    ]
    out.print(f"  latencies at their minimum except: {', '.join(changed) or 'none'}", highlight=False)
    for r in found.outcome.results:
        if r.verdict is Verdict.INVALID:
            out.print(f"  {r.checker}: {r.explanation}", highlight=False)
    out.print(f"written to {args.out} · reproduce with: racelab run {args.out} --mode virtual", highlight=False)
    if found.stopped:
        out.print(
            f"racelab: interrupted by {interrupted_by} while shrinking: {args.out} holds the smallest violation found "
            "so far",
            highlight=False,
        )
    return 1
