"""Virtual mode: every run from the same fresh state, on a virtual clock, so results are exact and replayable.

Owns `virtual_config()`, `Universe` (a simulator on a virtual clock, reused run after run), `run_virtual()` (one
run, synchronously) and `run_virtual_specs()` (many, across worker processes).

A run gets: a virtual clock at 0 on the event loop of its universe (`harness.clock`); the simulator (the same aiohttp
application as `racelab serve`) as new; the same runner and the same aiohttp client as real time, talking HTTP to
the application through in-process pipes (`harness.pipes`) rather than a kernel socket; the harness's own
requests (seeding, settling, final state) answered in process (`simulator.web.local`). Time moves only when every
task waits on a timer, so a run's history depends on its spec, the configuration and the seed, and on nothing
else: not the machine's speed or load, not which other runs exist or ran before it, not the order runs execute in
or which process runs them. That is what makes `racelab replay` exact.

The simulator's dates come from its clock plus an epoch; virtual mode fixes the epoch (`VIRTUAL_EPOCH`, unless
the profile or scenario sets one), so no field of a virtual `runs.jsonl` is wall-clock.

Imports: stdlib, aiohttp, `simulator` (to run it in-process: this module is loaded only by the CLI, the suite in
virtual mode and tests), `harness.*`. All at module level, so that a forked worker finds them imported.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from harness.drive.runner import RunnerOptions, RunOutcome, Stop, run_specs
from harness.drive.transport import ControlClient, Endpoints
from harness.errors import InvalidScenario
from harness.integrations.flow import Answer, Control
from harness.integrations.registry import load_integration
from harness.integrations.steps import StepHandler
from harness.model.codec import run_from_json, run_to_json
from harness.model.records import RunSpec, Verdict
from harness.scenarios import load_scenario
from harness.virtual.clock import VirtualClockLoop
from harness.virtual.pipes import PipeConnector
from simulator import ConfigError, LocalAnswers, SimConfig, load_profile, open_runner, reset_state

__all__ = [
    "VIRTUAL_EPOCH",
    "Universe",
    "run_virtual",
    "run_virtual_specs",
    "usable_cores",
    "virtual_config",
]

VIRTUAL_EPOCH = "2026-01-01T00:00:00Z"
"""The simulator's wall-clock date at virtual time 0, unless the profile or the scenario sets `epoch`."""

IDLE_CYCLES = 5
"""Loop cycles with nothing ready before the virtual clock moves to the next timer (after the one that arms the
move), for a run whose traffic leaves the process: a hook-driven integration's hooks go over loopback TCP, and
loopback data written in this process is readable at once, so a few chances suffice (looptime's "no-op cycles", as
virtual mode used before). A run that stays in process (in-process pipes, local answers: every other integration)
has no input from outside the loop at all, and gets 0. Results must not hang on it: `tests/virtual` checks runs
are identical with 0, 2 and 200.
"""

_CHUNK = 25
"""Runs per task sent to a worker process: large enough to amortise pickling, small enough for a smooth bar."""


def virtual_config(profile: str, overrides: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The simulator configuration of a virtual run, as JSON (what `inputs/profiles/` keeps and replay reads).

    Raises:
        InvalidScenario: the profile or the overrides do not validate.
    """
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
    idle_cycles: int | None = None,
) -> RunOutcome:
    """Run one spec against a new simulator on a new virtual clock, and judge it. Synchronous.

        outcome = run_virtual(spec, virtual_config("default", {}, seed=1))
        outcome.verdict, outcome.record.history

    Must not be called from a running event loop's thread (it runs a loop of its own).
    """
    with Universe(config, handlers=handlers, options=options, idle_cycles=idle_cycles) as universe:
        return universe.run(spec)


class Universe:
    """One simulator on one virtual clock, reused run after run; every run starts from the state of a new one.

        with Universe(config) as universe:
            outcomes = [universe.run(spec) for spec in specs]

    A run gets: the simulator reset as `/_sim/reset` resets it (journal numbering included), the clock back at 0,
    no connection, no timer and no callback pending. It is the state a new universe starts in, so a run's result
    does not depend on which runs came before it in the same universe (`tests/virtual` runs specs in different
    orders and chunks, and against a new universe each, and compares). Should a run leave anything behind (a
    timer, a task: a hung request, a run that timed out), the next run gets a new universe instead.

    The harness's own requests (seeding, settling, final state) are answered in process (`simulator.web.local`):
    the same answers as the control API, without a socket. The integration's requests go over HTTP, through
    in-process pipes (`harness.pipes`), with the same aiohttp client and application as in real time.

    Not thread-safe: one thread uses a universe.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        handlers: Mapping[str, StepHandler] | None = None,
        options: RunnerOptions | None = None,
        idle_cycles: int | None = None,
    ) -> None:
        """`idle_cycles`: loop cycles with nothing ready before the clock moves; by default `IDLE_CYCLES` for a
        run whose traffic leaves the process, 0 for one that stays in it."""
        self._config = SimConfig.model_validate(dict(config))
        self._handlers = handlers
        # No GC freezing (a pause costs no virtual time), no lead before steps (a busy wait would spin forever on a
        # clock that moves only when the loop is idle), one run at a time.
        self._options = replace(
            options or RunnerOptions(), concurrency=1, lead_ms=0.0, freeze_gc=False, requests_per_run=0.0
        )
        self._fixed_idle_cycles = idle_cycles
        self._leaves: dict[str, bool] = {}
        self._world: _World | None = None
        self.worlds = 0
        """How many times this universe was built: 1, plus one for each run that left something behind."""

    def __enter__(self) -> Universe:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def run(self, spec: RunSpec) -> RunOutcome:
        """Run `spec` from a fresh state on this universe's clock, and judge it."""
        world = self._world if self._world is not None else self._open()
        world.reset(self._idle_cycles(spec))
        try:
            outcome = world.loop.run_until_complete(world.run(spec, self._options, self._handlers))
        except BaseException:
            self.close()
            raise
        if not world.settle():
            self.close()  # something outlived the run: the next one gets a new universe
        return outcome

    def close(self) -> None:
        world, self._world = self._world, None
        if world is not None:
            world.close()

    def _open(self) -> _World:
        self._world = _World.open(self._config)
        self.worlds += 1
        return self._world

    def _idle_cycles(self, spec: RunSpec) -> int:
        if self._fixed_idle_cycles is not None:
            return self._fixed_idle_cycles
        leaves = self._leaves.get(spec.integration)
        if leaves is None:  # hooks arrive over loopback TCP; an external integration is reached over it
            integration = load_integration(spec.integration)
            leaves = integration.hook_driven or integration.external or integration.hook_url is not None
            self._leaves[spec.integration] = leaves
        return IDLE_CYCLES if leaves else 0


class _World:
    """A universe's parts: the loop with its virtual clock, the simulator's app (reached through in-process pipes),
    its local answers."""

    def __init__(self, loop: VirtualClockLoop, stack: Any, runner: Any) -> None:
        self.loop = loop
        self._stack = stack
        self._app = runner.app
        self._server = runner.server
        self._local = LocalAnswers(runner.app)

    @classmethod
    def open(cls, config: Any) -> _World:
        # The loop is built explicitly: an event-loop policy (uvloop's, say) must not swap in a loop whose time is
        # real.
        loop = VirtualClockLoop(idle_cycles=IDLE_CYCLES)
        asyncio.set_event_loop(loop)
        stack = contextlib.AsyncExitStack()
        try:
            runner = loop.run_until_complete(stack.enter_async_context(open_runner(config)))
        except BaseException:
            loop.run_until_complete(stack.aclose())
            loop.close()
            asyncio.set_event_loop(None)
            raise
        return cls(loop, stack, runner)

    def reset(self, idle_cycles: int) -> None:
        """The simulator as new, the clock back at 0 (moving after `idle_cycles` idle cycles)."""
        reset_state(self._app)
        self.loop.rewind()
        self.loop.idle_cycles = idle_cycles

    async def run(
        self, spec: RunSpec, options: RunnerOptions, handlers: Mapping[str, StepHandler] | None
    ) -> RunOutcome:
        (outcome,) = await run_specs(
            [spec], _ENDPOINTS, options=options, handlers=handlers, control=self._control, connector=self._connector
        )
        return outcome

    def _control(self, session: aiohttp.ClientSession, endpoints: Endpoints) -> ControlClient:
        return _LocalControl(self._local, session, endpoints)

    def _connector(self, connections: int) -> aiohttp.BaseConnector:
        return PipeConnector(self._server, limit=connections, limit_per_host=connections)

    def settle(self) -> bool:
        """Let closed connections finish closing; True when nothing is left: no task, callback or live timer."""
        loop = self.loop
        for _ in range(_SETTLE_CYCLES):
            loop.run_until_complete(asyncio.sleep(0))
            if loop.is_quiet():
                return True
        return False

    def close(self) -> None:
        loop = self.loop
        try:
            loop.run_until_complete(self._stack.aclose())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
            asyncio.set_event_loop(None)


_URL = "http://127.0.0.1"
_ENDPOINTS = Endpoints(orders=_URL, accounting=_URL, control=_URL)
"""Where a universe's simulator is, as URLs say it; nothing listens there: the pipes lead to the app whatever the
address (it only names the server in the `Host` header)."""

_SETTLE_CYCLES = 50
"""Loop cycles allowed after a run for its connections to finish closing (a handful is the norm)."""


class _LocalControl(ControlClient):
    """The runner's control client answered in process (`simulator.LocalAnswers`): every operation the simulator
    answers locally, by its name and arguments; the others (configuring a hook, the feed's configuration) still go
    over HTTP."""

    def __init__(self, local: LocalAnswers, session: aiohttp.ClientSession, endpoints: Endpoints) -> None:
        super().__init__(session, endpoints)
        self._local = local

    async def perform(self, control: Control) -> Answer:
        if control.op not in _LOCAL_OPS:
            return await super().perform(control)
        status, body = await getattr(self._local, control.op)(**control.args)
        return Answer(status, body)


_LOCAL_OPS = frozenset(
    {"seed_order", "quiesce", "inspect_order", "journal", "accounting_order", "move_status", "get_order"}
)
"""The control operations `simulator.LocalAnswers` answers in process (its methods, by name)."""


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
    keep: bool = True,
    stop: Stop | None = None,
) -> list[RunOutcome]:
    """Run every spec in virtual mode; results in the order of `specs`, whatever ran where.

    Args:
        specs: The runs.
        config: The simulator configuration, from `virtual_config`.
        scenario_path: The scenario file, for the step handlers of a Python scenario (reloaded in each worker).
        options: Runner options (settle timeout; the rest is fixed by virtual mode).
        jobs: Worker processes; 1 runs in a thread of this process. Results do not depend on it.
        on_progress: Called once per finished run.
        keep: Keep the outcomes and return them; False: only `on_progress` sees them (memory stays flat).
        stop: An interruption: no chunk not yet started starts; the ones running finish (a chunk is a few dozen
            runs of virtual time: well within the grace).
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
        _frozen_heap(),
        concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="racelab-virtual")
        if jobs == 1 or len(chunks) == 1
        else concurrent.futures.ProcessPoolExecutor(
            min(jobs, len(chunks)), mp_context=context, initializer=_worker_signals
        ) as pool,
    ):
        setup = (dict(config), scenario_path, options)
        pending = {loop.run_in_executor(pool, _run_chunk, chunk, setup) for chunk in chunks}
        if stop is not None:

            def unrun() -> None:  # the chunks not started yet are not run; the running ones finish
                for future in pending:
                    future.cancel()

            stop.on_request(unrun)
        by_id: dict[str, RunOutcome] = {}
        try:
            while pending:  # a finished chunk leaves the set at once: its runs are not held by a future
                finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for future in finished:
                    if future.cancelled():
                        continue
                    for line in future.result():
                        outcome = _outcome(line)
                        if keep:
                            by_id[outcome.record.spec.run_id] = outcome
                        if on_progress is not None:
                            on_progress(outcome)
        finally:
            if isinstance(pool, concurrent.futures.ThreadPoolExecutor):  # its thread outlives no universe
                for future in pending:
                    future.cancel()
                await loop.run_in_executor(pool, _forget_universe)
    return [by_id[spec.run_id] for spec in specs if spec.run_id in by_id]


def _worker_signals() -> None:
    """A worker ignores Ctrl-C (a terminal sends it to the whole process group): the parent decides what an
    interruption stops, and lets the chunks running finish."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)


@contextlib.contextmanager
def _frozen_heap() -> Iterator[None]:
    """Everything alive on entry (imports, the specs) stays alive through a sweep: frozen, no collection in this
    process or in a worker forked from it walks it again, and a worker's collections stop writing to (and so
    copying) the pages it shares with this process. About 4% off the sweep (`benchmarks/virtual_cpu.py`). Unfrozen
    on the way out, error or not."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


_Setup = tuple[dict[str, Any], Path | None, RunnerOptions | None]
"""What a worker's universe is made from: the simulator configuration, the scenario file (for a Python scenario's
step handlers), the runner options."""

_worker = threading.local()
"""A worker's universe, kept from one chunk to the next while the setup stays the same (`_run_chunk`)."""


def _run_chunk(specs: Sequence[RunSpec], setup: _Setup) -> list[dict[str, Any]]:
    """Worker side: run specs one after the other; return them as `runs.jsonl` lines (what pickles, and what is
    kept, so the parent judges exactly what is written). The worker's universe is built on its first chunk and
    reused for the next ones."""
    universe = _universe(setup)
    return [run_to_json(o.record, o.results) for o in map(universe.run, specs)]


def _universe(setup: _Setup) -> Universe:
    kept = getattr(_worker, "kept", None)
    if kept is not None and kept[0] == setup:
        return kept[1]  # type: ignore[no-any-return]
    _forget_universe()
    config, scenario_path, options = setup
    handlers = load_scenario(scenario_path).handlers if scenario_path is not None else None
    universe = Universe(config, handlers=handlers, options=options)
    _worker.kept = (setup, universe)
    return universe


def _forget_universe() -> None:
    kept = getattr(_worker, "kept", None)
    _worker.kept = None
    if kept is not None:
        kept[1].close()


def _outcome(line: Mapping[str, Any]) -> RunOutcome:
    record, results = run_from_json(line)
    return RunOutcome(record=record, results=results, verdict=Verdict(line["verdict"]))
