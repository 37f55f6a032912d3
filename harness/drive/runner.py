"""The runner: the one async interpreter of schedules, and the only place in the harness that creates tasks.

Owns `run_specs()`: for each `RunSpec` it seeds the order, starts the run at its paced slot, fires each step as
close as possible to its offset (sleeping until `lead_ms` before it, then yielding until it), drives the
integration's flows (`harness.integrations`), waits for the simulator to settle, reads the final state and journal,
and judges the run with the scenario's checkers. `FlowDriver` performs a flow's effects on asyncio: requests through
`harness.drive.transport`, sleeps on the loop's clock (virtual time in virtual mode).

Pacing: run starts are spread so that the requests they send stay under `max_rate` per second from this client.
Above ~2,000 requests/s from one core the event loop falls behind and send skew jumps; spreading starts costs a
little wall time and keeps the firing precision the report relies on.

Imports: stdlib, aiohttp, `harness.drive` (transport, hooks), `harness.integrations`, `harness.judge`,
`harness.model`, `harness.errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp

from harness.drive.hooks import HookReceiver
from harness.drive.transport import (
    ApiClient,
    ConnectorFactory,
    ControlClient,
    Endpoints,
    Recorder,
    StepMark,
    open_sessions,
    tcp_connector,
)
from harness.errors import HarnessConnectionError
from harness.integrations import control
from harness.integrations.bodies import CHANGE_ACTIONS
from harness.integrations.contract import Integration
from harness.integrations.flow import Announce, AwaitChange, Call, Control, Flow, Run, Sleep, Waive, advance
from harness.integrations.registry import load_integration
from harness.integrations.steps import StepHandler, step_flow
from harness.judge.checkers import check_all
from harness.model.records import CheckResult, RunRecord, RunSpec, Step, Verdict

__all__ = ["ControlFactory", "FlowDriver", "RunOutcome", "RunnerOptions", "drive_control", "run_specs", "sleep_until"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RunnerOptions:
    concurrency: int = 1000
    """Runs in flight at once (each is a handful of coroutines; the pacing below is the real limit)."""
    max_rate: float = 1500.0
    """Requests per second this client may send; run starts are spread to stay under it."""
    requests_per_step: float = 3.0
    """Estimate used for pacing when the integration does not give its own (`Integration.requests_per_step`: a
    naive invoice is a read and a write, a Change one write; a workaround also polls)."""
    requests_per_run: float = 4.0
    """Requests each run sends besides its steps, counted by the pacing: reading its final state (quiesce, the
    order, its versions, its journal) lands on the same simulator while later runs fire (0 under a virtual clock,
    where it costs no time). Not counting them let a 20,000-run sweep send ~2.3x the rate it was paced for, and
    the simulator's queue came back as send skew."""
    lead_ms: float = 2.0
    """Sleep until this long before a step, then yield until it (0 under a virtual clock)."""
    settle_timeout_s: float = 30.0
    """How long to wait for the simulator to finish an order's work before judging it `unknown`."""
    start_lead_s: float = 0.0
    """Seconds between seeding the orders and the first run. Control-free runs move each order to `handling` as
    their seeding: a platform whose reads lag (a replica) may still show an order moved just before its run in
    `ready-for-handling`, and refuse the run's Change for it; the lead lets that settle before the clock starts."""
    freeze_gc: bool = True
    """Keep the garbage collector from pausing the firing loop during the runs (off under a virtual clock, where a
    pause costs no time and the freeze's full collection would cost more than the run)."""


@dataclass(frozen=True, slots=True)
class RunOutcome:
    record: RunRecord
    results: tuple[CheckResult, ...]
    verdict: Verdict


class Stop:
    """An interruption asked for (the first SIGINT or SIGTERM): the runner starts no more runs, and gives the runs in
    flight `grace_s` to finish before it cancels them (a cancelled run is not reported: it is missing, so `racelab
    run --resume` runs it again).

        stop = Stop(grace_s=5.0)
        loop.add_signal_handler(signal.SIGINT, stop.request, "SIGINT")
        await run_specs(specs, endpoints, stop=stop)
        stop.signal, stop.cut      # "SIGINT", runs cancelled after the grace
    """

    __slots__ = ("_callbacks", "_flights", "_timer", "cut", "grace_s", "signal")

    def __init__(self, *, grace_s: float = 5.0) -> None:
        self.grace_s = grace_s
        self.signal: str | None = None
        """The signal that asked for it (`SIGINT`, `SIGTERM`), or None while the runs go on."""
        self.cut = 0
        """Runs that were in flight when the grace ran out, cancelled."""
        self._flights: list[set[asyncio.Task[None]]] = []
        self._callbacks: list[Callable[[], None]] = []
        self._timer: asyncio.TimerHandle | None = None

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def request(self, signal: str) -> None:
        """Stop starting runs; cancel the ones still in flight after `grace_s`. A second request changes nothing."""
        if self.signal is not None:
            return
        self.signal = signal
        self._timer = asyncio.get_running_loop().call_later(self.grace_s, self._cut)
        for callback in self._callbacks:
            callback()

    def on_request(self, callback: Callable[[], None]) -> None:
        """Call `callback` when the stop is asked for (at once if it was already)."""
        self._callbacks.append(callback)
        if self.requested:
            callback()

    def watch(self, flights: set[asyncio.Task[None]]) -> None:
        """The tasks of the runs in flight (a set the runner keeps up to date)."""
        self._flights.append(flights)

    def _cut(self) -> None:
        for flights in self._flights:
            for task in list(flights):
                if not task.done():
                    self.cut += 1
                    task.cancel()


Progress = Callable[[RunOutcome], None]
ControlFactory = Callable[[aiohttp.ClientSession, Endpoints], ControlClient]


async def sleep_until(target: float, *, lead_s: float) -> None:
    """Wake as close to `target` (loop time) as the loop allows: a coarse sleep, then yields for the last `lead_s`."""
    loop = asyncio.get_running_loop()
    delay = target - loop.time() - lead_s
    if delay > 0:
        await asyncio.sleep(delay)
    if lead_s > 0:
        # Yielding (not sleeping) for the last stretch: the loop's timer resolution is coarser than the budget.
        while loop.time() < target:  # noqa: ASYNC110 - a busy wait on the clock, no event to wait for
            await asyncio.sleep(0)
    elif target > loop.time():
        await asyncio.sleep(target - loop.time())


class FlowDriver:
    """Performs the effects of one run's flows on asyncio.

        driver = FlowDriver(run, api_client, control_client)
        await driver.drive(integration.invoice(run, step), StepMark(step=0, scheduled_ms=250.0))

    Without a run (`run=None`, `api=None`) it drives the harness's own flows (seeding, the final state, an
    integration's `prepare`), which make only `Control` requests and sleep.
    """

    __slots__ = ("_changes", "api", "control", "hook_tasks", "run")

    def __init__(self, run: Run | None, api: ApiClient | None, control: ControlClient) -> None:
        self.run = run
        self.api = api
        self.control = control
        self.hook_tasks: list[asyncio.Task[None]] = []
        """Hook handlers the runner started for this run; it waits for them before reading the final state."""
        self._changes: dict[int, asyncio.Future[str | None]] = {}
        if run is not None:
            loop = asyncio.get_running_loop()
            for i, step in enumerate(run.spec.steps):
                if step.do in CHANGE_ACTIONS:
                    self._changes[i] = loop.create_future()

    async def drive(self, flow: Flow[T], mark: StepMark | None = None) -> T:
        """Run `flow` to its end: perform each effect it yields and send it the result (a `Control` that could not
        be made is thrown into it as `HarnessConnectionError`). Returns what the flow returns."""
        value: Any = None
        error: BaseException | None = None
        while True:
            done, effect = advance(flow, value, error)
            if done:
                return effect  # type: ignore[no-any-return]
            value, error = None, None
            if isinstance(effect, Call):
                if self.api is None:
                    raise TypeError(f"{effect!r}: this flow runs outside a run and cannot call the services")
                value = await self.api.perform(effect, mark)
            elif isinstance(effect, Control):
                try:
                    value = await self.control.perform(effect)
                except HarnessConnectionError as exc:
                    error = exc
            elif isinstance(effect, Sleep):
                await asyncio.sleep(effect.seconds)
            elif isinstance(effect, AwaitChange):
                value = await self._change_sent(effect.step, effect.timeout_s)
            elif isinstance(effect, Announce):
                self.announce(effect.step, effect.request_id)
            elif isinstance(effect, Waive):
                if mark is not None:
                    mark.scheduled_ms = None
            else:
                error = TypeError(f"a flow yielded {effect!r}, which is not an effect of harness.integrations.flow")

    def announce(self, step: int, request_id: str | None) -> None:
        fut = self._changes.get(step)
        if fut is not None and not fut.done():
            fut.set_result(request_id)

    async def _change_sent(self, step: int, timeout_s: float) -> str | None:
        fut = self._changes[step]
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout_s)
        except TimeoutError:
            return None


async def drive_control(flow: Flow[T], control: ControlClient) -> T:
    """Drive one of the harness's own flows (no run: `Control` requests and sleeps only)."""
    return await FlowDriver(None, None, control).drive(flow)


async def run_specs(
    specs: Sequence[RunSpec],
    endpoints: Endpoints,
    *,
    options: RunnerOptions = RunnerOptions(),
    handlers: Mapping[str, StepHandler] | None = None,
    on_progress: Progress | None = None,
    control: ControlFactory = ControlClient,
    connector: ConnectorFactory = tcp_connector,
    keep: bool = True,
    stop: Stop | None = None,
) -> list[RunOutcome]:
    """Execute runs concurrently (one order each) and judge them. Results come back in the order of `specs`.

    `control` makes the runner's control client from its control session (over HTTP by default) and `connector` the
    sessions' connectors (TCP by default); virtual mode passes a control client that asks the simulator in process,
    and in-process pipes. With `keep=False` nothing is kept: each run goes to `on_progress` and the list is empty, so
    memory does not grow with the sweep. With `stop`, an interruption starts no more runs (see `Stop`); the runs that
    did not finish are missing from the list.
    """
    handlers = dict(handlers or {})
    integrations = {name: load_integration(name) for name in sorted({s.integration for s in specs})}
    loop = asyncio.get_running_loop()
    with _quiet_gc() if options.freeze_gc else contextlib.nullcontext():
        return await _run_all(
            specs, endpoints, integrations, handlers, options, on_progress, loop, control, connector, keep, stop
        )


@contextmanager
def _quiet_gc() -> Iterator[None]:
    """Keep the collector from pausing the firing loop: a full collection over a thousand runs' histories takes
    10-30 ms, and even raised thresholds left second-generation collections of 5-20 ms in a 20,000-run sweep, all
    of which land as send skew. Freeze what exists and collect nothing during the sweep: a run's objects are freed
    by reference counting as it is written (the runner keeps no run), so what waits for the collector is only cyclic
    garbage (measured: the harness's peak RSS at 20,000 runs 1.33x its peak at 1,000). Restored after."""
    enabled = gc.isenabled()
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.unfreeze()


async def _run_all(
    specs: Sequence[RunSpec],
    endpoints: Endpoints,
    integrations: Mapping[str, Integration],
    handlers: Mapping[str, StepHandler],
    options: RunnerOptions,
    on_progress: Progress | None,
    loop: asyncio.AbstractEventLoop,
    make_control: ControlFactory,
    connector: ConnectorFactory,
    keep: bool,
    stop: Stop | None,
) -> list[RunOutcome]:
    drivers: dict[str, tuple[FlowDriver, Integration]] = {}

    def dispatch(payload: Mapping[str, Any]) -> None:
        """A hook for one of our orders: its integration reacts in a task of its own (the runner owns tasks)."""
        entry = drivers.get(str(payload.get("OrderId")))
        if entry is not None:
            driver, integration = entry
            assert driver.run is not None
            driver.hook_tasks.append(loop.create_task(driver.drive(integration.on_hook(driver.run, payload))))

    async with (
        open_sessions(connections=max(100, min(options.concurrency, 2000)), connector=connector) as (
            api_session,
            control_session,
        ),
        AsyncExitStack() as stack,
    ):
        control_client = make_control(control_session, endpoints)
        await _prepare(control_client, integrations, loop)
        if any(i.hook_driven for i in integrations.values()):
            url = await stack.enter_async_context(HookReceiver(dispatch))
            await drive_control(control.configure_hook(url), control_client)
        seeded = await _seed_all(specs, integrations, control_client)  # before the clock starts: not the race
        if options.start_lead_s > 0:
            await asyncio.sleep(options.start_lead_s)
        limit = asyncio.Semaphore(options.concurrency)
        pacer = _Pacer(options, loop.time() + 0.05)
        kept: list[RunOutcome | None] = [None] * len(specs) if keep else []
        flights: set[asyncio.Task[None]] = set()
        if stop is not None:
            stop.watch(flights)

        async def one(index: int, spec: RunSpec) -> None:
            integration = integrations[spec.integration]
            try:
                # The slot is taken once the run may start: a run held back by the concurrency limit gets a later
                # slot instead of starting late against an old one (lateness would show as send skew).
                start = pacer.next(spec, loop.time(), integration)
                outcome = await _run_one(
                    spec,
                    start,
                    integration,
                    handlers,
                    endpoints,
                    api_session,
                    control_client,
                    options,
                    seeded.get(spec.run_id),
                    drivers,
                )
            finally:
                drivers.pop(spec.order_id, None)
                limit.release()
            if on_progress is not None:
                on_progress(outcome)
            if keep:
                kept[index] = outcome

        failures: list[BaseException] = []

        def ended(task: asyncio.Task[None]) -> None:
            # A run that raised fails the sweep even when it ended before anything awaited it: it would otherwise be
            # missing from the results with nothing said. A cancelled run (an interruption) is no failure.
            flights.discard(task)
            if not task.cancelled() and (exc := task.exception()) is not None:
                failures.append(exc)

        # Tasks are made as slots free up, not all at once: a sweep of 100,000 runs holds `concurrency` of them.
        try:
            for index, spec in enumerate(specs):
                await limit.acquire()
                if failures or (stop is not None and stop.requested):
                    limit.release()
                    break
                task = loop.create_task(one(index, spec))
                flights.add(task)
                task.add_done_callback(ended)
            while flights and not failures:
                await asyncio.wait(set(flights), return_when=asyncio.FIRST_EXCEPTION)
            if failures:
                raise failures[0]
        finally:
            for task in flights:
                task.cancel()
        return [o for o in kept if o is not None]  # empty without `keep`; with gaps after an interruption


class _Pacer:
    """Hands out run start times: in order, spaced so the estimated request rate stays under `max_rate`, and never
    in the past (a slot is at least `_PACER_LEAD_S` ahead of when it is handed out)."""

    __slots__ = ("_next", "_options")

    def __init__(self, options: RunnerOptions, base: float) -> None:
        self._options = options
        self._next = base

    def next(self, spec: RunSpec, now: float, integration: Integration | None = None) -> float:
        start = max(self._next, now + _PACER_LEAD_S)
        per_step = (
            integration.requests_per_step if integration is not None else None
        ) or self._options.requests_per_step
        requests = max(1, len(spec.steps)) * per_step + self._options.requests_per_run
        self._next = start + requests / self._options.max_rate
        return start


_PACER_LEAD_S = 0.005
"""How far ahead of now a late run's slot is put: enough for its first coarse sleep, short enough not to idle."""


async def _prepare(
    control_client: ControlClient, integrations: Mapping[str, Integration], loop: asyncio.AbstractEventLoop
) -> None:
    """Before any run, what an external integration needs to learn about orders: the hook to its URL, or (for one
    that reads the feed) a feed it configured itself."""
    for integration in integrations.values():
        if integration.hook_url is not None:
            await drive_control(control.configure_hook(integration.hook_url), control_client)
        else:
            await drive_control(integration.prepare(loop.time), control_client)


async def _seed_all(
    specs: Sequence[RunSpec], integrations: Mapping[str, Integration], control_client: ControlClient
) -> dict[str, str]:
    """Seed every run's order, a few at a time. Returns the error per run id that could not be seeded."""
    errors: dict[str, str] = {}
    limit = asyncio.Semaphore(32)

    async def seed(spec: RunSpec) -> None:
        flow = control.seed(spec, integrations[spec.integration].seed_status)
        async with limit:
            error = await drive_control(flow, control_client)
        if error is not None:
            errors[spec.run_id] = error

    await asyncio.gather(*(seed(s) for s in specs))
    return errors


async def _drain_hooks(driver: FlowDriver, order_id: str, options: RunnerOptions) -> None:
    """Let every hook of the order arrive (the simulator settles) and every handler finish; again if one arrived."""
    while True:
        await driver.control.perform(control.quiesce(order_id, timeout_s=options.settle_timeout_s))
        started = list(driver.hook_tasks)
        await asyncio.gather(*started, return_exceptions=True)
        if len(driver.hook_tasks) == len(started):
            return


async def _run_one(
    spec: RunSpec,
    start: float,
    integration: Integration,
    handlers: Mapping[str, StepHandler],
    endpoints: Endpoints,
    api_session: aiohttp.ClientSession,
    control_client: ControlClient,
    options: RunnerOptions,
    seed_error: str | None,
    drivers: dict[str, tuple[FlowDriver, Integration]],
) -> RunOutcome:
    recorder = Recorder(origin=start)
    error: str | None = None
    try:
        if seed_error is not None:
            raise HarnessConnectionError(seed_error)
        run = Run(spec=spec, now=recorder.loop.time)
        driver = FlowDriver(run, ApiClient(api_session, endpoints, recorder, integration.name), control_client)
        drivers[spec.order_id] = (driver, integration)
        await sleep_until(start, lead_s=options.lead_ms / 1000.0)  # the origin stays the slot: lateness is skew
        await driver.drive(integration.start(run))
        steps = [
            asyncio.create_task(_fire(driver, i, step, integration, handlers, recorder.origin, options))
            for i, step in enumerate(spec.steps)
        ]
        results = await asyncio.gather(*steps, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            error = f"a step failed: {type(failures[0]).__name__}: {failures[0]}"
        await driver.drive(integration.settle(run))
        if integration.hook_driven:
            await _drain_hooks(driver, spec.order_id, options)
            failed = [t.exception() for t in driver.hook_tasks if not t.cancelled() and t.exception() is not None]
            if failed and error is None:
                error = f"a hook handler failed: {type(failed[0]).__name__}: {failed[0]}"
    except (HarnessConnectionError, ConnectionError, OSError, TimeoutError) as exc:
        error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, HarnessConnectionError) else str(exc)
    final, journal = await drive_control(control.final_state(spec, settle_s=options.settle_timeout_s), control_client)
    record = RunRecord(
        spec=spec,
        history=tuple(recorder.ops),
        final=final,
        journal=journal,
        error=error,
        origin_s=recorder.origin,
    )
    results_, verdict = check_all(record, spec.expect)
    return RunOutcome(record, results_, verdict)


async def _fire(
    driver: FlowDriver,
    index: int,
    step: Step,
    integration: Integration,
    handlers: Mapping[str, StepHandler],
    origin: float,
    options: RunnerOptions,
) -> None:
    target = origin + step.at_ms / 1000.0
    await sleep_until(target, lead_s=options.lead_ms / 1000.0)
    assert driver.run is not None
    try:
        await driver.drive(step_flow(integration, driver.run, index, step, handlers), StepMark(index, step.at_ms))
    finally:
        driver.announce(index, None)  # a Change step that failed before sending frees the invoice waiting for it
