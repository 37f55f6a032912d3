"""Integrations as sans-IO flows: what an integration does, written once, driven by every driver.

Owns the vocabulary a flow speaks: the effects it yields (`Call`, a request to the services under test, recorded in
the run's history; `Control`, one of the harness's own requests; `Sleep`; `AwaitChange` and `Announce`, how the
invoice learns what the run's Change steps sent; `Waive`), the `Answer` it gets back, `Run` (one run as a flow sees
it) and `Flow`, the generator type.

A flow is a generator function. It yields an effect and receives its result, as httpx writes its auth once as a
generator that both its sync and async clients drive:

    def invoice(self, run: Run, step: Step) -> Flow[None]:
        read = yield api.get_order(run.order_id)             # an Answer
        if read.ok:
            yield api.invoice(run.order_id, number=run.invoice_number(), value=int(read.body["value"]),
                              items=invoice_items(read.body))

The drivers (`harness.drive.runner` on asyncio and aiohttp, virtual mode through it, `harness.drive.blocking` for
locust's greenlets and threads) perform the effects; a flow never does I/O, never creates a task, never sleeps by
itself, so the same flow sends the same requests in the same order under every driver. A request that could not be
made (the harness's own, to the control API) is thrown into the flow as `HarnessConnectionError`.

Imports: stdlib, `harness.model`, `harness.errors`. No asyncio, no aiohttp (locust's gevent processes import this).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, TypeVar

from harness.integrations.bodies import CHANGE_ACTIONS
from harness.model.records import Outcome, RunSpec

__all__ = [
    "Announce",
    "Answer",
    "AwaitChange",
    "Call",
    "Control",
    "Effect",
    "Flow",
    "Run",
    "Sleep",
    "Waive",
    "advance",
    "decode",
    "nothing",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Answer:
    """What came back: a status and a decoded body, or an error (`sent`: the request left before it failed).

    Outcomes follow Jepsen: a 2xx/3xx is `ok`; a 4xx is `fail` (refused: definitely not applied); a 5xx, a timeout or
    a dropped connection after the request was sent is `info` (unknown); a request that never left is `fail`.
    """

    status: int | None
    body: Any = None
    error: str | None = None
    sent: bool = True

    @property
    def outcome(self) -> Outcome:
        if self.status is None:
            return Outcome.INFO if self.sent else Outcome.FAIL
        return Outcome.OK if self.status < 400 else Outcome.FAIL if self.status < 500 else Outcome.INFO

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    def error_code(self) -> str | None:
        """The service's error code (`{"error": {"code": ...}}`), if the body has one."""
        if isinstance(self.body, Mapping):
            err = self.body.get("error")
            if isinstance(err, Mapping):
                return str(err.get("code"))
        return None


def decode(text: str | None) -> Any:
    """A JSON body, or what it was when it is not JSON (its first 500 characters)."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return {"text": text[:500]}


Summarize = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Call:
    """A request to a service under test, recorded in the run's history as operation `f`.

    `path` starts at the service's root (`/api/...`, `/accounting/v1/...`); `name` groups requests in load statistics
    (`/api/oms/pvt/orders/[id]`); `headers` are added to the service's credentials; `record` is what the history keeps
    of the request, `summarize` what it keeps of a successful answer; `timeout_s` bounds the call (None: the driver's
    default). Its result is an `Answer`; it never raises for what the network or the service does.
    """

    f: str
    method: str
    path: str
    name: str
    service: Literal["orders", "accounting"] = "orders"
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    record: Mapping[str, Any] = field(default_factory=dict)
    summarize: Summarize | None = None
    timeout_s: float | None = None


@dataclass(frozen=True, slots=True)
class Control:
    """One of the harness's own requests (seeding, settling, reading the final state, configuring a hook): marked so
    that the simulator never injects a fault into it, and not part of the run's history.

    `op` names the operation (`harness.integrations.control`), so that a driver may answer it without HTTP (virtual
    mode asks the simulator in process, with `args`); `service` says where it goes: `control` (the `/_sim/` API) or
    `orders` (the Orders API, as the harness reads the final order). Its result is an `Answer`; a request that could
    not be made raises `HarnessConnectionError` in the flow.
    """

    op: str
    method: str
    path: str
    service: Literal["control", "orders"] = "control"
    json: Any = None
    args: Mapping[str, Any] = field(default_factory=dict)
    timeout_s: float | None = None


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait `seconds` (on the driver's clock: virtual time in virtual mode)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class AwaitChange:
    """Wait until the Change of step `step` was sent, at most `timeout_s`: its `requestId` (None: refused, lost, or
    not in time)."""

    step: int
    timeout_s: float


@dataclass(frozen=True, slots=True)
class Announce:
    """Tell the run the `requestId` the Change of step `step` got (None: refused or lost). The first word counts."""

    step: int
    request_id: str | None


@dataclass(frozen=True, slots=True)
class Waive:
    """The flow chooses to wait before its next request: that wait is its own cost (time to invoice), not the driver's
    lateness, so the request is not counted as scheduled (no send skew)."""


Effect: TypeAlias = Call | Control | Sleep | AwaitChange | Announce | Waive
Flow: TypeAlias = Generator[Effect, Any, T]
"""A flow returning `T`: it yields effects and receives each one's result."""


def advance(flow: Flow[T], value: Any = None, error: BaseException | None = None) -> tuple[bool, Any]:
    """Resume `flow` with the result of its last effect (`value`), or with the `error` that effect raised: `(False,
    next effect)` while it runs, `(True, what it returned)` once it ended. The step every driver loops on."""
    try:
        return False, flow.send(value) if error is None else flow.throw(error)
    except StopIteration as stop:
        return True, stop.value


def nothing() -> Flow[None]:
    """A flow that does nothing (the default of the integration hooks an integration does not need)."""
    yield from ()


@dataclass(slots=True)
class Run:
    """One run as a flow sees it: its spec, the driver's clock, and what the integration keeps between hooks.

    deadline = run.now() + 15.0                    # seconds, on the driver's clock
    request_id = yield AwaitChange(step_index, timeout_s=deadline - run.now())
    """

    spec: RunSpec
    now: Callable[[], float]
    """The driver's monotonic clock in seconds (virtual time in virtual mode)."""
    hooks_seen: int = 0
    hooks_handled: set[tuple[Any, ...]] = field(default_factory=set)

    @property
    def order_id(self) -> str:
        return self.spec.order_id

    @property
    def planned_changes(self) -> list[int]:
        """Indexes of the steps that send a Change (v2 or v1), in schedule order."""
        steps = self.spec.steps
        return sorted((i for i, s in enumerate(steps) if s.do in CHANGE_ACTIONS), key=lambda i: (steps[i].at_ms, i))

    def synchronous(self, step: int) -> bool:
        """Whether the Change of `step` is a Change v1: its 200 answer says it was applied; there is no Change to
        poll for `finished`."""
        return self.spec.steps[step].do == "change-v1"

    def invoice_number(self) -> str:
        return f"NF-{self.spec.order_id}"
