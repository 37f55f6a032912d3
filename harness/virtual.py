"""Virtual mode: every run in a universe of its own, on a virtual clock, so results are exact and replayable.

Owns `virtual_config()`, `run_virtual()` (one run, synchronously) and `run_virtual_specs()` (many, across worker
processes). A run gets a fresh event loop whose clock is looptime's virtual clock starting at 0, a fresh simulator
(the same aiohttp application as `racelab serve`, on an ephemeral loopback port) and the same runner and HTTP
client as real time. Time moves only when every task waits on a timer, so a run's history depends on its spec, the
configuration and the seed, and on nothing else: not the machine's speed or load, not which other runs exist, not
the order runs execute in or which process runs them. That is what makes `racelab replay` exact.

The simulator's dates come from its clock plus an epoch; virtual mode fixes the epoch (`VIRTUAL_EPOCH`, unless
the profile or scenario sets one), so no field of a virtual `runs.jsonl` is wall-clock.

Imports: stdlib, looptime, `simulator` (to run it in-process: this module is loaded only by the CLI, the suite in
virtual mode and tests), `harness.*`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from .client import Endpoints
from .errors import HarnessError, InvalidScenario
from .model import RunSpec
from .results import run_from_json, run_to_json
from .runner import RunnerOptions, RunOutcome, StepHandler, run_specs
from .scenario import load_scenario

__all__ = ["VIRTUAL_EPOCH", "run_virtual", "run_virtual_specs", "usable_cores", "virtual_config"]

VIRTUAL_EPOCH = "2026-01-01T00:00:00Z"
"""The simulator's wall-clock date at virtual time 0, unless the profile or the scenario sets `epoch`."""

NOOP_CYCLES = 5
"""looptime's idle loop cycles before it moves the clock to the next timer (its default is 42). The count restarts
whenever a callback is ready, so it only matters for input arriving from outside the loop; loopback data written
in this process is readable at once, so a few suffice: a run of over-invoice took 10.3 ms instead of 14.2 ms with
42 (alternating, quiet machine). Results must not hang on it: `tests/virtual` checks a run is identical with 2 and
with 200.
"""

_CHUNK = 25
"""Runs per task sent to a worker process: large enough to amortise pickling, small enough for a smooth bar."""


def virtual_config(profile: str, overrides: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The simulator configuration of a virtual run, as JSON (what `inputs/profiles/` keeps and replay reads).

    Raises:
        InvalidScenario: the profile or the overrides do not validate.
    """
    from simulator import ConfigError, load_profile

    try:
        config = load_profile(profile, overrides={"epoch": VIRTUAL_EPOCH, **overrides, "seed": seed})
    except ConfigError as exc:
        raise InvalidScenario(str(exc)) from None
    if config.epoch is None:  # the profile said `epoch: null` explicitly; dates would be wall-clock
        config = config.model_copy(update={"epoch": datetime.fromisoformat(VIRTUAL_EPOCH)})
    return config.to_json()


def run_virtual(
    spec: RunSpec,
    config: Mapping[str, Any],
    *,
    handlers: Mapping[str, StepHandler] | None = None,
    options: RunnerOptions | None = None,
    noop_cycles: int = NOOP_CYCLES,
) -> RunOutcome:
    """Run one spec against a fresh simulator on a fresh virtual clock, and judge it. Synchronous.

        outcome = run_virtual(spec, virtual_config("default", {}, seed=1))
        outcome.verdict, outcome.record.history

    Must not be called from a running event loop's thread (it runs a loop of its own).
    """
    import looptime

    from simulator import SimConfig

    sim_config = SimConfig.model_validate(dict(config))
    # The loop class is built explicitly from asyncio's selector loop: an event-loop policy such as uvloop's would
    # otherwise hand looptime a loop it cannot patch, and time would silently be real.
    loop_class = looptime.make_event_loop_class(asyncio.SelectorEventLoop)
    loop = loop_class(start=0.0, noop_cycles=noop_cycles)
    with asyncio.Runner(loop_factory=lambda: loop) as runner:
        if not loop.looptime_on or loop.time() != 0.0:
            raise HarnessError("virtual mode: the virtual clock is not in effect")
        return runner.run(_one(spec, sim_config, handlers, options))


async def _one(
    spec: RunSpec, config: Any, handlers: Mapping[str, StepHandler] | None, options: RunnerOptions | None
) -> RunOutcome:
    from simulator import open_server

    # No GC freezing (a pause costs no virtual time), no lead before steps (a busy wait would spin forever on a
    # clock that moves only when the loop is idle), one run per universe.
    options = replace(options or RunnerOptions(), concurrency=1, lead_ms=0.0, freeze_gc=False)
    async with open_server(config) as (_, url):
        endpoints = Endpoints(orders=url, accounting=url, control=url)
        (outcome,) = await run_specs([spec], endpoints, options=options, handlers=handlers)
        return outcome


def usable_cores() -> int:
    """Cores this process may run on (its affinity), at least 1."""
    getter = getattr(os, "sched_getaffinity", None)
    return max(1, len(getter(0)) if getter is not None else (os.cpu_count() or 1))


async def run_virtual_specs(
    specs: Sequence[RunSpec],
    config: Mapping[str, Any],
    *,
    scenario_path: Path | None = None,
    options: RunnerOptions | None = None,
    jobs: int = 1,
    on_progress: Callable[[RunOutcome], None] | None = None,
) -> list[RunOutcome]:
    """Run every spec in virtual mode; results in the order of `specs`, whatever ran where.

    Args:
        specs: The runs.
        config: The simulator configuration, from `virtual_config`.
        scenario_path: The scenario file, for the step handlers of a Python scenario (reloaded in each worker).
        options: Runner options (settle timeout; the rest is fixed by virtual mode).
        jobs: Worker processes; 1 runs in a thread of this process. Results do not depend on it.
        on_progress: Called once per finished run.
    """
    if jobs < 1:
        raise InvalidScenario(f"--jobs must be at least 1, got {jobs}")
    chunks = [list(specs[i : i + _CHUNK]) for i in range(0, len(specs), _CHUNK)]
    loop = asyncio.get_running_loop()
    # Workers are forked: they start at once with everything imported (`spawn` re-imports for ~1 s per worker; a
    # 1,000-run sweep took 13-14 s spawned, 11.6-12 s forked). Safe here: a worker only runs `_run_chunk`, which
    # builds a loop of its own and never touches the parent's, and no other thread runs when the pool starts.
    context = multiprocessing.get_context("fork")
    with (
        concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="racelab-virtual")
        if jobs == 1 or len(chunks) == 1
        else concurrent.futures.ProcessPoolExecutor(min(jobs, len(chunks)), mp_context=context)
    ) as pool:
        pending = [
            loop.run_in_executor(pool, _run_chunk, chunk, dict(config), scenario_path, options) for chunk in chunks
        ]
        by_id: dict[str, RunOutcome] = {}
        for future in asyncio.as_completed(pending):
            for line in await future:
                outcome = _outcome(line)
                by_id[outcome.record.spec.run_id] = outcome
                if on_progress is not None:
                    on_progress(outcome)
    return [by_id[spec.run_id] for spec in specs]


def _run_chunk(
    specs: Sequence[RunSpec], config: dict[str, Any], scenario_path: Path | None, options: RunnerOptions | None
) -> list[dict[str, Any]]:
    """Worker side: run specs one after the other; return them as `runs.jsonl` lines (what pickles, and what is
    kept, so the parent judges exactly what is written)."""
    handlers = load_scenario(scenario_path).handlers if scenario_path is not None else None
    lines = []
    for spec in specs:
        outcome = run_virtual(spec, config, handlers=handlers, options=options)
        lines.append(run_to_json(outcome.record, outcome.results))
    return lines


def _outcome(line: Mapping[str, Any]) -> RunOutcome:
    from .model import Verdict

    record, results = run_from_json(line)
    return RunOutcome(record=record, results=results, verdict=Verdict(line["verdict"]))
