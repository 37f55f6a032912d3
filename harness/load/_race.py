"""The race in blocking code: one run of a scenario for the locust profiles (moving to `harness.drive.blocking`).

Imports: stdlib, `harness.model`, `harness.judge`, `harness.integrations`, `harness.errors`. Never locust, gevent or
asyncio.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from harness.errors import InvalidScenario
from harness.integrations.bodies import (
    CHANGE_ACTIONS,
    change_body,
    change_v1_body,
    change_v1_request_id,
    invoice_items,
    summary_change,
    summary_order,
)
from harness.judge.checkers import check_all
from harness.judge.gates import run_verdict
from harness.model.records import CheckResult, FinalState, Operation, Outcome, RunRecord, RunSpec, Step, Verdict

if TYPE_CHECKING:
    from harness.scenarios import Scenario


# =====================================================================================================================
# The race, in blocking code
# =====================================================================================================================


CONTROL_HEADER = "X-Racelab-Control"
"""Marks the harness's own requests, as `harness.client` does: the simulator never injects a fault into them."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What a transport got back: a status and a decoded body, or an error (`sent`: the request left)."""

    status: int | None
    body: Any = None
    error: str | None = None
    sent: bool = True

    @property
    def outcome(self) -> Outcome:
        """Jepsen's, as `harness.client` decides it: 2xx/3xx ok, 4xx fail, 5xx or no answer after sending info."""
        if self.status is None:
            return Outcome.INFO if self.sent else Outcome.FAIL
        return Outcome.OK if self.status < 400 else Outcome.FAIL if self.status < 500 else Outcome.INFO

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


class Transport(Protocol):
    """Sends one request and blocks until the answer; never raises for what the network or the service does.

    `control=True` marks the harness's own requests (seeding, settling, the final state); `name` is how load
    statistics group requests, e.g. `/api/oms/pvt/orders/[id]`; `timeout_s` bounds the call (None: the transport's
    default, 10 s for the services' APIs).
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
    control = {"X-Racelab-Token": environ["RACELAB_CONTROL_TOKEN"]} if environ.get("RACELAB_CONTROL_TOKEN") else {}
    return orders, control


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


class Race:
    """One run in progress: its spec, its history, the Changes its steps sent. The strategies see this.

    race.invoice_number()                       # NF-<orderId>, as the harness's integrations use
    request_id = race.change_sent(step_index, timeout_s=5)
    """

    def __init__(
        self,
        spec: RunSpec,
        transport: Transport,
        *,
        orders_headers: Mapping[str, str] | None = None,
        control_headers: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.spec = spec
        self.transport = transport
        self.orders_headers = dict(orders_headers or {})
        self.control_headers = {**(control_headers or {}), CONTROL_HEADER: "1"}
        self.clock = clock
        self.sleep = sleep
        self.origin = clock()
        self.ops: list[Operation] = []
        self.requests = 0
        self._lock = threading.Lock()
        self._changes: dict[int, tuple[threading.Event, list[str | None]]] = {
            i: (threading.Event(), []) for i, s in enumerate(spec.steps) if s.do in CHANGE_ACTIONS
        }

    @property
    def order_id(self) -> str:
        return self.spec.order_id

    @property
    def planned_changes(self) -> list[int]:
        """Indexes of the steps that send a Change (v2 or v1), in schedule order."""
        return sorted(self._changes, key=lambda i: (self.spec.steps[i].at_ms, i))

    def synchronous(self, step: int) -> bool:
        """Whether the Change of `step` is a Change v1 (its 200 answer says it was applied; nothing to poll)."""
        return self.spec.steps[step].do == "change-v1"

    def invoice_number(self) -> str:
        return f"NF-{self.spec.order_id}"

    def ms(self, t: float) -> float:
        return (t - self.origin) * 1000.0

    def announce_change(self, step: int, request_id: str | None) -> None:
        entry = self._changes.get(step)
        if entry is not None and not entry[0].is_set():
            entry[1].append(request_id)
            entry[0].set()

    def change_sent(self, step: int, *, timeout_s: float) -> str | None:
        """Wait until the Change of `step` was sent; its `requestId` (None: refused, lost, or not in time)."""
        event, box = self._changes[step]
        return box[0] if event.wait(max(0.0, timeout_s)) and box else None

    def control(self, method: str, path: str, *, name: str, json: Any = None) -> Answer:
        """One of the harness's own requests (seeding, settling, final state): counted, not in the history."""
        with self._lock:
            self.requests += 1
        return self.transport.request(method, path, name=name, json=json, headers=self.control_headers, control=True)

    def api(self, actor: str, *, step: int | None = None, scheduled_ms: float | None = None) -> StepApi:
        return StepApi(self, actor, step=step, scheduled_ms=scheduled_ms)

    def record(
        self,
        api: StepApi,
        f: str,
        method: str,
        path: str,
        *,
        name: str,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        record: Mapping[str, Any] | None = None,
        summarize: Callable[[Any], Any] | None = None,
        timeout_s: float | None = None,
    ) -> Answer:
        """One of the integration's requests, sent and recorded in the history as `harness.client` records it."""
        scheduled, api.scheduled_ms = api.scheduled_ms, None  # only the step's first request is scheduled
        t_invoke = self.clock()
        answer = self.transport.request(method, path, name=name, json=json, timeout_s=timeout_s,
                                        headers={**self.orders_headers, **(headers or {})})  # fmt: skip
        t_complete = self.clock()
        outcome = answer.outcome
        with self._lock:
            self.requests += 1
            self.ops.append(
                Operation(
                    index=len(self.ops),
                    actor=api.actor,
                    f=f,
                    outcome=outcome,
                    t_invoke=self.ms(t_invoke),
                    t_complete=self.ms(t_complete),
                    request=dict(record or {}),
                    status=answer.status,
                    response=summarize(answer.body) if summarize and outcome is Outcome.OK else answer.body,
                    error=answer.error,
                    step=api.step,
                    scheduled_ms=scheduled,
                    # When the request started: a blocking client shows no socket events. The skew still shows how
                    # late the load generator fired compared with the schedule.
                    sent_ms=self.ms(t_invoke) if answer.sent else None,
                )
            )
        return answer


class StepApi:
    """The calls an integration makes for one step of a race, each recorded in the run's history."""

    __slots__ = ("actor", "race", "scheduled_ms", "step")

    def __init__(self, race: Race, actor: str, *, step: int | None, scheduled_ms: float | None) -> None:
        self.race = race
        self.actor = actor
        self.step = step
        self.scheduled_ms = scheduled_ms

    def waive_schedule(self) -> None:
        """The integration chooses to wait first: its next request is not counted as scheduled (no send skew)."""
        self.scheduled_ms = None

    def get_order(self, *, timeout_s: float | None = None) -> Answer:
        return self.race.record(self, "get_order", "GET", f"/api/oms/pvt/orders/{self.race.order_id}",
                                name="/api/oms/pvt/orders/[id]", summarize=summary_order,
                                timeout_s=timeout_s)  # fmt: skip

    def invoice(
        self,
        *,
        number: str,
        value: int,
        items: list[dict[str, int]],
        request_id: str | None = None,
        issued: str = "2026-11-21",
        timeout_s: float | None = None,
    ) -> Answer:
        body = {"type": "Output", "issuedDate": issued, "invoiceNumber": number, "invoiceValue": value, "items": items}
        return self.race.record(self, "invoice", "POST", f"/api/orders/pvt/document/{self.race.order_id}/invoices",
                                name="/api/orders/pvt/document/[id]/invoices", json=body,
                                headers={"X-Request-ID": request_id} if request_id else None,
                                record={"invoiceNumber": number, "invoiceValue": value},
                                timeout_s=timeout_s)  # fmt: skip

    def change(self, body: Mapping[str, Any]) -> Answer:
        return self.race.record(self, "change", "PATCH", f"/api/order-system/orders/{self.race.order_id}/changes",
                                name="/api/order-system/orders/[id]/changes", json=dict(body), record=dict(body),
                                summarize=summary_change)  # fmt: skip

    def change_v1(self, body: Mapping[str, Any]) -> Answer:
        return self.race.record(self, "change_v1", "POST", f"/api/oms/pvt/orders/{self.race.order_id}/changes",
                                name="/api/oms/pvt/orders/[id]/changes", json=dict(body),
                                record=dict(body))  # fmt: skip

    def get_change(self, request_id: str) -> Answer:
        return self.race.record(self, "get_change", "GET",
                                f"/api/order-system/orders/{self.race.order_id}/changes/{request_id}",
                                name="/api/order-system/orders/[id]/changes/[requestId]",
                                record={"requestId": request_id}, summarize=summary_change)  # fmt: skip

    def cancel(self, reason: str) -> Answer:
        return self.race.record(self, "cancel", "POST", f"/api/oms/pvt/orders/{self.race.order_id}/cancel",
                                name="/api/oms/pvt/orders/[id]/cancel", json={"reason": reason})  # fmt: skip


def _step_value(step: Step) -> int | None:
    return int(step.args["value"]) if "value" in step.args else None


def send_change(race: Race, api: StepApi, step: Step) -> None:
    """Send the step's Change now, and tell the race its `requestId` (None if it was refused or lost)."""
    answer = api.change(change_body(step))
    request_id = answer.body.get("requestId") if answer.ok and isinstance(answer.body, Mapping) else None
    race.announce_change(race.spec.steps.index(step), request_id)


def send_change_v1(race: Race, api: StepApi, step: Step) -> None:
    """Send the step's Change v1 now (synchronous), and tell the race its `requestId` once it answered 200."""
    index = race.spec.steps.index(step)
    body = change_v1_body(step, race.spec.order, request_id=change_v1_request_id(race.order_id, index))
    answer = api.change_v1(body)
    race.announce_change(index, body["requestId"] if answer.ok else None)


def invoice_order(
    race: Race,
    api: StepApi,
    order: Mapping[str, Any],
    *,
    number: str | None = None,
    value: int | None = None,
    request_id: str | None = None,
    timeout_s: float | None = None,
) -> Answer:
    """Invoice the order as read: its value (unless `value` says otherwise) and its remaining lines."""
    return api.invoice(number=number or race.invoice_number(), value=int(order["value"] if value is None else value),
                       items=invoice_items(order), request_id=request_id, timeout_s=timeout_s)  # fmt: skip


class Naive:
    """On the trigger, read the order and invoice its value; send Changes the moment they are due."""

    name = "naive"

    def invoice(self, race: Race, api: StepApi, step: Step) -> None:
        read = api.get_order()
        if read.ok:
            invoice_order(race, api, read.body, value=_step_value(step))

    def change(self, race: Race, api: StepApi, step: Step) -> None:
        send_change(race, api, step)


class NaiveRetry(Naive):
    """`naive` with the obvious retry (as `harness.integrations.NaiveRetry`): on any outcome but a 2xx or a 4xx,
    read and invoice again with a new invoice document, never asking whether the failed attempt landed."""

    name = "naive-retry"

    def __init__(self, *, retries: int = 3, backoff_s: float = 0.05, call_timeout_s: float = 1.5) -> None:
        self.retries = retries
        self.backoff_s = backoff_s
        self.call_timeout_s = call_timeout_s

    def invoice(self, race: Race, api: StepApi, step: Step) -> None:
        for attempt in range(1, self.retries + 2):
            read = api.get_order(timeout_s=self.call_timeout_s)
            if read.ok:
                answer = invoice_order(race, api, read.body, number=f"{race.invoice_number()}-{attempt}",
                                       value=_step_value(step), timeout_s=self.call_timeout_s)  # fmt: skip
                if answer.outcome is not Outcome.INFO:
                    return
            elif read.status is not None and read.status < 500:
                return
            if attempt <= self.retries:
                race.sleep(self.backoff_s * attempt)


class Workaround(Naive):
    """The known issue's workaround: before invoicing, wait until every Change of the order reports `finished:
    true` (polling with backoff, bounded), then re-read the order and invoice its value. The same parameters as
    `harness.integrations.Workaround`."""

    name = "workaround"

    def __init__(self, *, max_wait_s: float = 15.0, poll_ms: float = 25.0, poll_max_ms: float = 400.0,
                 backoff: float = 1.5) -> None:  # fmt: skip
        self.max_wait_s = max_wait_s
        self.poll_ms = poll_ms
        self.poll_max_ms = poll_max_ms
        self.backoff = backoff

    def invoice(self, race: Race, api: StepApi, step: Step) -> None:
        self.await_changes(race, api, race.clock() + self.max_wait_s)
        read = api.get_order()
        if read.ok:
            invoice_order(race, api, read.body, value=_step_value(step))

    def await_changes(self, race: Race, api: StepApi, deadline: float) -> list[str]:
        """Wait for each Change of the order: sent, then finished (a Change v1: answered). Returns the `requestId`s
        of the Changes v2 that finished."""
        api.waive_schedule()
        finished = []
        for index in race.planned_changes:
            request_id = race.change_sent(index, timeout_s=deadline - race.clock())
            if request_id is None or race.synchronous(index):
                continue
            if self.wait_finished(race, api, request_id, deadline):
                finished.append(request_id)
        return finished

    def wait_finished(self, race: Race, api: StepApi, request_id: str, deadline: float) -> bool:
        def probe() -> bool | None:
            answer = api.get_change(request_id)
            if answer.ok and isinstance(answer.body, Mapping):
                if answer.body.get("finished") is True:
                    return True
                if answer.body.get("status") in ("canceled", "canceling"):
                    return False
            return None

        return bool(self.poll(race, deadline, probe))

    def poll(self, race: Race, deadline: float, probe: Callable[[], Any]) -> Any:
        """Ask `probe` until it answers (anything but None) or the next try would pass `deadline` (None then)."""
        interval = self.poll_ms / 1000.0
        while True:
            answer = probe()
            if answer is not None:
                return answer
            if race.clock() + interval > deadline:
                return None
            race.sleep(interval)
            interval = min(interval * self.backoff, self.poll_max_ms / 1000.0)


class Robust(Workaround):
    """The workaround, made safe under faults (as `harness.integrations.Robust`): it re-reads the order until it
    reflects every finished Change; every call is bounded; the invoice number is the order's own; after an unknown
    outcome it reads the order and resends the same invoice (same number, same `X-Request-ID`) only when the order
    does not hold it; when it cannot tell, it stops rather than risk a second invoice."""

    name = "robust"

    def __init__(self, *, retries: int = 5, call_timeout_s: float = 1.5, backoff_s: float = 0.05,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.retries = retries
        self.call_timeout_s = call_timeout_s
        self.backoff_s = backoff_s

    def invoice(self, race: Race, api: StepApi, step: Step) -> None:
        deadline = race.clock() + self.max_wait_s
        applied = set(self.await_changes(race, api, deadline))

        def reflecting() -> Answer | None:
            read = api.get_order(timeout_s=self.call_timeout_s)
            if read.ok and isinstance(read.body, Mapping):
                changes = (read.body.get("changesAttachment") or {}).get("changesData") or []
                if applied <= {c.get("requestId") for c in changes}:
                    return read
            return None

        read = self.poll(race, deadline, reflecting)
        if read is None:
            return  # the order never showed the Change: invoicing now could over-invoice
        number = race.invoice_number()
        for attempt in range(self.retries + 1):
            answer = invoice_order(race, api, read.body, number=number, value=_step_value(step),
                                   request_id=f"{number}-invoice", timeout_s=self.call_timeout_s)  # fmt: skip
            if answer.outcome is not Outcome.INFO:
                return
            if self.landed(race, api, number, deadline) is not False:
                return  # there, or unknowable before the deadline: never send blind
            if attempt < self.retries:
                race.sleep(self.backoff_s * 2**attempt)

    def landed(self, race: Race, api: StepApi, number: str, deadline: float) -> bool | None:
        """Whether the order holds invoice `number` (None: no read succeeded before `deadline`)."""

        def probe() -> bool | None:
            read = api.get_order(timeout_s=self.call_timeout_s)
            if not read.ok or not isinstance(read.body, Mapping):
                return None
            packages = (read.body.get("packageAttachment") or {}).get("packages") or []
            return any(p.get("invoiceNumber") == number for p in packages)

        answer: bool | None = self.poll(race, deadline, probe)
        return answer


STRATEGIES: dict[str, type[Naive]] = {
    "naive": Naive,
    "naive-retry": NaiveRetry,
    "workaround": Workaround,
    "robust": Robust,
}
"""The integrations a load profile can run, by the names `harness.integrations.BUILTIN` gives them."""


def _slug(text: str, size: int) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:size].strip("-") or "x"


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """A scenario expanded for load: the runs of its matrix (each cell, each repetition), cycled through.

    plan = LoadPlan.load("scenarios/over-invoice.yaml", seed=1)
    spec = plan.spec("naive", 17)     # the 18th race of this process: the next run of the matrix, a new order id

    Schedules do not depend on the integration (A/B runs get the same ones), so one list serves every user class.
    """

    scenario: Scenario
    seed: int
    token: str
    """Random per process: order ids never collide across processes, workers or repeated tests."""
    runs: tuple[RunSpec, ...]

    @classmethod
    def load(cls, path: str | Path, *, seed: int, token: str | None = None) -> LoadPlan:
        """Load and expand a scenario.

        Raises:
            InvalidScenario: the file does not load, or has a step a load profile cannot fire.
        """
        from harness.load.options import STEP_ACTIONS, resolve_scenario
        from harness.scenarios import expand, load_scenario

        scenario = load_scenario(resolve_scenario(path))
        for step in scenario.steps:
            if step.do not in STEP_ACTIONS:
                raise InvalidScenario(
                    f"`do: {step.do}` is not fired by load profiles; they fire {', '.join(STEP_ACTIONS)} "
                    "(use racelab run for the other steps)",
                    path=scenario.path,
                    line=step.line,
                    field=f"steps[{step.index}].do",
                )
        runs = tuple(expand(scenario, seed=seed, integrations=[scenario.integrations[0]]))
        return cls(scenario=scenario, seed=seed, token=token or secrets.token_hex(4), runs=runs)

    def spec(self, integration: str, k: int) -> RunSpec:
        """The `k`-th race of `integration` in this process: the matrix's runs in turn, each on a new order."""
        base = self.runs[k % len(self.runs)]
        order_id = f"{_slug(self.scenario.name, 16)}-{_slug(integration, 11)}-{self.token}-{k}"
        run_id = f"{base.run_id.rsplit('-', 1)[0]}-{integration}-{self.token}-{k}"
        return dataclasses.replace(base, run_id=run_id, integration=integration, order_id=order_id)


def run_race(
    spec: RunSpec,
    transport: Transport,
    strategy: Naive,
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
    """One run, as the harness's runner does it: seed, fire each step at its offset, settle, read, judge.

    Never raises for what happens to the run: a harness or connection error cuts it short, and it is judged
    `unknown` with the reason.

    Args:
        spec: the run (from `LoadPlan.spec`).
        transport: how requests are sent.
        strategy: the integration (`Naive`, `NaiveRetry`, `Workaround`, `Robust`).
        settle_timeout_s: how long the simulator may take to finish the order's work.
        step_timeout_s: how long a step may take after its offset before the run is cut short.
        spawn: runs each step concurrently (threads; greenlets under locust).
        lead_s: the steps' clock starts this long after the order is seeded, so the first step is not late by
            construction.
        orders_headers: credentials for the Orders API; control_headers: for the control API.
        clock: monotonic seconds; sleep: blocks (gevent's under locust).
    """
    race = Race(spec, transport, orders_headers=orders_headers, control_headers=control_headers, clock=clock,
                sleep=sleep)  # fmt: skip
    errors: list[str] = []
    seeded = _seed(race)
    if seeded is not None:
        errors.append(seeded)
    else:
        race.origin = clock() + lead_s
        tasks = [spawn(_step_runner(race, i, step, strategy, errors)) for i, step in enumerate(spec.steps)]
        deadline = race.origin + max((s.at_ms for s in spec.steps), default=0.0) / 1000.0 + step_timeout_s
        late = [i for i, task in enumerate(tasks) if not task.wait(max(0.0, deadline - clock()))]
        if late and not errors:
            errors.append(f"step {late[0]} did not finish within {step_timeout_s:g} s of its offset")
    final, journal = _final_state(race, settle_timeout_s)
    record = RunRecord(spec=spec, history=tuple(race.ops), final=final, journal=journal,
                       error=errors[0] if errors else None, origin_s=race.origin)  # fmt: skip
    results, _ = check_all(record, spec.expect)
    return RaceOutcome(record=record, results=results, verdict=run_verdict(record, results), requests=race.requests)


def _seed(race: Race) -> str | None:
    """Seed the run's order (before the clock starts: seeding is not the race). The error, if it failed."""
    order: dict[str, Any] = dict(race.spec.order)
    order["orderId"] = race.order_id
    if order.get("accounting"):
        order["accounting"] = {**order["accounting"], "orderReference": accounting_ref(race.spec)}
    answer = race.control("POST", "/_sim/orders", name="/_sim/orders", json=order)
    if answer.status != 201:
        return f"seeding order {race.order_id} failed: {_why(answer)}"
    return None


def accounting_ref(spec: RunSpec) -> str | None:
    """The run's Accounting order reference (as `harness.integrations.accounting_ref`)."""
    accounting = spec.order.get("accounting")
    if not accounting:
        return None
    given = accounting.get("orderReference")
    return str(given) if given else "R" + hashlib.sha1(spec.order_id.encode()).hexdigest()[:15]


def _step_runner(race: Race, index: int, step: Step, strategy: Naive, errors: list[str]) -> Callable[[], None]:
    def fire() -> None:
        try:
            delay = race.origin + step.at_ms / 1000.0 - race.clock()
            if delay > 0:
                race.sleep(delay)
            api = race.api(strategy.name, step=index, scheduled_ms=step.at_ms)
            if step.do == "invoice":
                strategy.invoice(race, api, step)
            elif step.do == "change":
                strategy.change(race, api, step)
            elif step.do == "change-v1":
                send_change_v1(race, api, step)  # the same for every strategy, as in the harness's built-ins
            elif step.do == "cancel":
                api.cancel(str(step.args.get("reason", "racelab scenario")))
            else:  # LoadPlan refuses these; a spec built by hand may still carry one
                raise ValueError(f"no handler for step {index} `do: {step.do}`")
        except Exception as exc:  # a step's failure cuts the run short; it must not pass as a verdict
            errors.append(f"step {index} ({step.do}) failed: {type(exc).__name__}: {exc}")
        finally:
            race.announce_change(index, None)  # a Change step that failed before sending frees the waiting invoice

    return fire


def _final_state(race: Race, settle_s: float) -> tuple[FinalState, tuple[Any, ...]]:
    """As the harness's runner reads it: settle, then the order, its versions and Changes through the control API
    (never a lagging replica or an injected fault), the journal when a checker needs it, and Accounting's state."""
    order_id = race.order_id
    quiet = race.control("POST", "/_sim/quiesce", name="/_sim/quiesce",
                         json={"orderId": order_id, "timeout_ms": settle_s * 1000})  # fmt: skip
    inspected = race.control("GET", f"/_sim/orders/{order_id}", name="/_sim/orders/[id]")
    if quiet.status != 200 or inspected.status != 200 or not isinstance(inspected.body, Mapping):
        failed = quiet if quiet.status != 200 else inspected
        return FinalState(order={}, settled=False, accounting={"error": _why(failed)}), ()
    journal: tuple[Any, ...] = ()
    if "change-respects-invoices" in race.spec.expect:  # the only checker that reads the journal
        entries = race.control("GET", f"/_sim/journal?orderId={order_id}", name="/_sim/journal")
        if entries.status != 200:
            return FinalState(order={}, settled=False, accounting={"error": _why(entries)}), ()
        journal = tuple((entries.body or {}).get("entries") or ())
    accounting = None
    if (ref := accounting_ref(race.spec)) is not None:
        race.control("POST", "/_sim/quiesce", name="/_sim/quiesce",
                     json={"orderId": ref, "timeout_ms": settle_s * 1000})  # fmt: skip
        acc = race.control("GET", f"/_sim/accounting/orders/{ref}", name="/_sim/accounting/orders/[ref]")
        accounting = acc.body if acc.status == 200 else None
    order = inspected.body.get("order")
    final = FinalState(
        order=order if isinstance(order, Mapping) else {},
        versions=tuple(inspected.body.get("versions") or ()),
        changes=tuple(inspected.body.get("changes") or ()),
        accounting=accounting,
        settled=isinstance(quiet.body, Mapping) and bool(quiet.body.get("idle")),
    )
    return final, journal


def _why(answer: Answer) -> str:
    return answer.error or f"{answer.status} {answer.body}"


def decode(text: str | None) -> Any:
    """A JSON body, or what it was when it is not JSON (as `harness.client`)."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return {"text": text[:500]}
