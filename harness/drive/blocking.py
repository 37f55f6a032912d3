"""The blocking driver: the same runs as the async runner, for code that cannot use asyncio (locust, under gevent).

Owns `run_race()`: one run of a scenario exactly as `harness.drive.runner` does it, driving the same flows
(`harness.integrations`): seed the order, fire each step at its offset (each in a task of its own, so the Change
really races the invoice), let the integration react, settle, read the final state, judge it with the same
checkers. A `Transport` sends each request and blocks until the answer; under locust, gevent makes the blocking calls
cooperative (the profile supplies a transport on `FastHttpSession` and spawns steps as greenlets); in tests, plain
threads and `urllib` do the same.

    outcome = run_race(spec, transport, load_blocking("naive"))
    outcome.verdict, outcome.record.history

Imports: stdlib, `harness.integrations`, `harness.judge`, `harness.model`, `harness.errors`, `simulator.contract`.
Never asyncio, aiohttp or gevent (the locust process imports this module).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from harness.errors import HarnessConnectionError, InvalidScenario
from harness.integrations import control
from harness.integrations.bodies import CHANGE_ACTIONS
from harness.integrations.contract import Integration
from harness.integrations.flow import Announce, Answer, AwaitChange, Call, Control, Flow, Run, Sleep, Waive, advance
from harness.integrations.registry import load_integration
from harness.integrations.steps import step_flow
from harness.judge.checkers import check_all
from harness.model.records import CheckResult, Operation, RunRecord, RunSpec, Verdict
from simulator.contract.headers import CONTROL_HEADER, CONTROL_TOKEN_HEADER

__all__ = [
    "RaceOutcome",
    "Task",
    "Transport",
    "credential_headers",
    "load_blocking",
    "run_race",
    "spawn_thread",
]

T = TypeVar("T")


class Transport(Protocol):
    """Sends one request and blocks until the answer; never raises for what the network or the service does.

    `control=True` marks the harness's own requests (seeding, settling, the final state); `name` is how load
    statistics group requests, e.g. `/api/oms/pvt/orders/[id]`; `timeout_s` bounds the call (None: the transport's
    default, 10 s for the services' APIs). Every path goes to the one host the transport is bound to.
    """

    def request(
        self,
        method: str,
        path: str,
        *,
        name: str,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        control: bool = False,
        timeout_s: float | None = None,
    ) -> Answer: ...


class Task(Protocol):
    """A step running concurrently with the others."""

    def wait(self, timeout: float) -> bool:
        """Block until it ends or `timeout` seconds pass; whether it ended."""
        ...


Spawn = Callable[[Callable[[], None]], Task]


class _ThreadTask:
    __slots__ = ("thread",)

    def __init__(self, fn: Callable[[], None]) -> None:
        self.thread = threading.Thread(target=fn, daemon=True)
        self.thread.start()

    def wait(self, timeout: float) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()


def spawn_thread(fn: Callable[[], None]) -> Task:
    """Run `fn` on a daemon thread (the locust profile spawns greenlets instead)."""
    return _ThreadTask(fn)


def credential_headers(environ: Mapping[str, str] = os.environ) -> tuple[dict[str, str], dict[str, str]]:
    """Orders and control headers from `RACELAB_APP_KEY`, `RACELAB_APP_TOKEN` and `RACELAB_CONTROL_TOKEN`, as
    `racelab run` takes them."""
    orders: dict[str, str] = {}
    if environ.get("RACELAB_APP_KEY") or environ.get("RACELAB_APP_TOKEN"):
        orders = {
            "X-VTEX-API-AppKey": environ.get("RACELAB_APP_KEY", ""),
            "X-VTEX-API-AppToken": environ.get("RACELAB_APP_TOKEN", ""),
        }
    token = environ.get("RACELAB_CONTROL_TOKEN")
    return orders, ({CONTROL_TOKEN_HEADER: token} if token else {})


def load_blocking(name: str) -> Integration:
    """The integration `name`, for the blocking driver: one driven by the scenario's steps.

    Raises:
        InvalidScenario: unknown, or one the blocking driver cannot run (hook-driven or external: they need a hook
            subscriber or a process of their own; use `racelab run`).
    """
    integration = load_integration(name)
    if integration.hook_driven or integration.external or integration.hook_url is not None:
        raise InvalidScenario(
            f"integration {name!r} is driven by hooks or runs as its own process; load profiles run integrations "
            "driven by the scenario's steps (naive, naive-retry, workaround, robust, or your own): use racelab run"
        )
    return integration


_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


@dataclass(frozen=True, slots=True)
class RaceOutcome:
    """One judged run, and how many HTTP requests it took (the integration's and the harness's own)."""

    record: RunRecord
    results: tuple[CheckResult, ...]
    verdict: Verdict
    requests: int

    def why_unknown(self) -> str:
        if self.record.error is not None:
            return self.record.error
        return next((r.explanation for r in self.results if r.verdict is Verdict.UNKNOWN), "a checker left no result")

    def failure_text(self) -> str:
        """The run's violations as one line for locust's failure table. The order id becomes `<order>` and a
        Change's `requestId` `<requestId>`, so runs that broke the same way share one row instead of one row each."""
        order_id = self.record.spec.order_id
        wanted = Verdict.INVALID if self.verdict is Verdict.INVALID else Verdict.UNKNOWN
        parts = [f"{r.checker}: {r.explanation}" for r in self.results if r.verdict is wanted]
        if not parts:
            parts = [self.why_unknown()]
        return _UUID.sub("<requestId>", " | ".join(parts).replace(order_id, "<order>"))


class _Mark:
    """Which step a flow's requests belong to; the first request of the step consumes `scheduled_ms`."""

    __slots__ = ("scheduled_ms", "step")

    def __init__(self, step: int, scheduled_ms: float | None) -> None:
        self.step = step
        self.scheduled_ms = scheduled_ms


class _Race:
    """One run in progress: its history, the Changes its steps sent, and the effects of its flows, performed with
    blocking calls."""

    def __init__(
        self,
        spec: RunSpec,
        transport: Transport,
        actor: str,
        *,
        orders_headers: Mapping[str, str],
        control_headers: Mapping[str, str],
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.transport = transport
        self.actor = actor
        self.orders_headers = dict(orders_headers)
        self.control_headers = {**control_headers, CONTROL_HEADER: "1"}
        self.final_headers = {**orders_headers, **control_headers, CONTROL_HEADER: "1"}
        self.clock = clock
        self.sleep = sleep
        self.origin = clock()
        self.run = Run(spec=spec, now=clock)
        self.ops: list[Operation] = []
        self.requests = 0
        self._lock = threading.Lock()
        self._changes: dict[int, tuple[threading.Event, list[str | None]]] = {
            i: (threading.Event(), []) for i, s in enumerate(spec.steps) if s.do in CHANGE_ACTIONS
        }

    def ms(self, t: float) -> float:
        return (t - self.origin) * 1000.0

    def drive(self, flow: Flow[T], mark: _Mark | None = None) -> T:
        """Run `flow` to its end, performing each effect with blocking calls (as `FlowDriver.drive` does on
        asyncio)."""
        done, effect = advance(flow)
        while not done:
            done, effect = advance(flow, *self._perform(effect, mark))
        return effect  # type: ignore[no-any-return]

    def _perform(self, effect: Any, mark: _Mark | None) -> tuple[Any, BaseException | None]:
        """One effect, with blocking calls: its result, or the error to throw into the flow."""
        match effect:
            case Call():
                return self._call(effect, mark), None
            case Control():
                return self._control(effect)
            case Sleep(seconds=seconds):
                self.sleep(seconds)
            case AwaitChange(step=step, timeout_s=timeout_s):
                return self.change_sent(step, timeout_s), None
            case Announce(step=step, request_id=request_id):
                self.announce(step, request_id)
            case Waive():
                if mark is not None:
                    mark.scheduled_ms = None
            case _:
                return None, TypeError(
                    f"a flow yielded {effect!r}, which is not an effect of harness.integrations.flow"
                )
        return None, None

    def announce(self, step: int, request_id: str | None) -> None:
        entry = self._changes.get(step)
        if entry is not None and not entry[0].is_set():
            entry[1].append(request_id)
            entry[0].set()

    def change_sent(self, step: int, timeout_s: float) -> str | None:
        event, box = self._changes[step]
        return box[0] if event.wait(max(0.0, timeout_s)) and box else None

    def _control(self, effect: Control) -> tuple[Answer | None, BaseException | None]:
        """One of the harness's own requests: its answer, or (as the async driver) `HarnessConnectionError` when it
        could not be made."""
        with self._lock:
            self.requests += 1
        headers = self.final_headers if effect.service == "orders" else self.control_headers
        answer = self.transport.request(
            effect.method,
            effect.path,
            name=_control_name(effect),
            json=effect.json,
            headers=headers,
            control=True,
            timeout_s=effect.timeout_s,
        )
        if answer.status is None:
            return None, HarnessConnectionError(answer.error or "no answer")
        return answer, None

    def _call(self, call: Call, mark: _Mark | None) -> Answer:
        scheduled = None
        if mark is not None:
            scheduled, mark.scheduled_ms = mark.scheduled_ms, None  # only the step's first request is scheduled
        headers = {**self.orders_headers, **call.headers}
        t_invoke = self.clock()
        answer = self.transport.request(
            call.method, call.path, name=call.name, json=call.json, headers=headers, timeout_s=call.timeout_s
        )
        t_complete = self.clock()
        outcome = answer.outcome
        with self._lock:
            self.requests += 1
            self.ops.append(
                Operation(
                    index=len(self.ops),
                    actor=self.actor,
                    f=call.f,
                    outcome=outcome,
                    t_invoke=self.ms(t_invoke),
                    t_complete=self.ms(t_complete),
                    request=dict(call.record),
                    status=answer.status,
                    response=call.summarize(answer.body) if call.summarize and answer.ok else answer.body,
                    error=answer.error,
                    step=mark.step if mark is not None else None,
                    scheduled_ms=scheduled,
                    # When the request started: a blocking client shows no socket events. The skew still shows how
                    # late the load generator fired compared with the schedule.
                    sent_ms=self.ms(t_invoke) if answer.sent else None,
                )
            )
        return answer


def _control_name(effect: Control) -> str:
    """How load statistics name a control request: its path with the order id or reference replaced."""
    path = effect.path.split("?", 1)[0]
    for key in ("order_id", "reference", "key"):
        value = effect.args.get(key)
        if isinstance(value, str) and value:
            path = path.replace(value, "[id]")
    return path


def run_race(
    spec: RunSpec,
    transport: Transport,
    integration: Integration,
    *,
    settle_timeout_s: float = 30.0,
    step_timeout_s: float = 60.0,
    spawn: Spawn = spawn_thread,
    lead_s: float = 0.005,
    orders_headers: Mapping[str, str] | None = None,
    control_headers: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RaceOutcome:
    """One run, as the async runner does it: seed, fire each step at its offset, settle, read, judge.

    Never raises for what happens to the run: a harness or connection error cuts it short, and it is judged
    `unknown` with the reason.

    Args:
        spec: the run (from `LoadPlan.spec`).
        transport: how requests are sent.
        integration: the integration (`load_blocking(name)`), driven by the scenario's steps.
        settle_timeout_s: how long the simulator may take to finish the order's work.
        step_timeout_s: how long a step may take after its offset before the run is cut short.
        spawn: runs each step concurrently (threads; greenlets under locust).
        lead_s: the steps' clock starts this long after the order is seeded, so the first step is not late by
            construction.
        orders_headers: credentials for the Orders API; control_headers: for the control API.
        clock: monotonic seconds; sleep: blocks (gevent's under locust).
    """
    race = _Race(
        spec,
        transport,
        integration.name,
        orders_headers=orders_headers or {},
        control_headers=control_headers or {},
        clock=clock,
        sleep=sleep,
    )
    errors: list[str] = []
    seeded = race.drive(control.seed(spec, integration.seed_status))
    if seeded is not None:
        errors.append(seeded)
    else:
        race.origin = clock() + lead_s
        try:
            race.drive(integration.start(race.run))
            tasks = [spawn(_step_runner(race, integration, i, errors)) for i in range(len(spec.steps))]
            deadline = race.origin + max((s.at_ms for s in spec.steps), default=0.0) / 1000.0 + step_timeout_s
            late = [i for i, task in enumerate(tasks) if not task.wait(max(0.0, deadline - clock()))]
            if late and not errors:
                errors.append(f"step {late[0]} did not finish within {step_timeout_s:g} s of its offset")
            race.drive(integration.settle(race.run))
        except (HarnessConnectionError, TimeoutError) as exc:
            errors.append(str(exc) if isinstance(exc, HarnessConnectionError) else f"{type(exc).__name__}: {exc}")
    final, journal = race.drive(control.final_state(spec, settle_s=settle_timeout_s))
    record = RunRecord(
        spec=spec,
        history=tuple(race.ops),
        final=final,
        journal=journal,
        error=errors[0] if errors else None,
        origin_s=race.origin,
    )
    results, verdict = check_all(record, spec.expect)
    return RaceOutcome(record=record, results=results, verdict=verdict, requests=race.requests)


def _step_runner(race: _Race, integration: Integration, index: int, errors: list[str]) -> Callable[[], None]:
    step = race.run.spec.steps[index]

    def fire() -> None:
        try:
            delay = race.origin + step.at_ms / 1000.0 - race.clock()
            if delay > 0:
                race.sleep(delay)
            race.drive(step_flow(integration, race.run, index, step, {}), _Mark(index, step.at_ms))
        except Exception as exc:  # a step's failure cuts the run short; it must not pass as a verdict
            errors.append(f"a step failed: {type(exc).__name__}: {exc}")
        finally:
            race.announce(index, None)  # a Change step that failed before sending frees the invoice waiting for it

    return fire
