"""The harness's plain data: histories, runs, verdicts. Pure records, no I/O.

Owns: `Operation` (one request in a run's history, Jepsen-style: invoke, then one terminal outcome), `RunRecord`
(everything a checker may look at), `FinalState` (the settled order, with a typed view of its wire document:
`status`, `value`, `invoices`, `invoiced`), `CheckResult` and `Verdict` (checkers return data, never raise),
`run_verdict` (the one rule that makes a run's verdict of its checkers' results) and the `RunSpec`/`Step` records a
scenario expands into.

Imports: stdlib only. Checkers and the locust profiles (gevent) import this module, so it must never import
asyncio or aiohttp.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "NOT_OBSERVABLE",
    "CheckResult",
    "FinalState",
    "Invoice",
    "Operation",
    "Outcome",
    "RunRecord",
    "RunSpec",
    "Step",
    "Verdict",
    "merge_verdicts",
    "run_verdict",
]


class Outcome(StrEnum):
    """How an operation ended (Jepsen's vocabulary)."""

    OK = "ok"
    """It happened: the service accepted it."""
    FAIL = "fail"
    """It definitely did not happen: the service refused it (a 4xx), or it was never sent."""
    INFO = "info"
    """Unknown: a timeout or a dropped connection after sending, or a 5xx. Never recorded as FAIL."""


class Verdict(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    UNKNOWN = "unknown"


_RANK = {Verdict.VALID: 0, Verdict.UNKNOWN: 1, Verdict.INVALID: 2}


def merge_verdicts(verdicts: Iterable[Verdict]) -> Verdict:
    """invalid > unknown > valid; no verdict at all is valid."""
    return max(verdicts, key=_RANK.__getitem__, default=Verdict.VALID)


@dataclass(frozen=True, slots=True)
class Step:
    """One thing the scenario makes happen at an offset from the run's start."""

    at_ms: float
    do: str
    """`invoice`, `change`, `cancel`, ..."""
    args: Mapping[str, Any] = field(default_factory=dict)
    """What the step needs, e.g. `{"remove": [{"id": "sku-2", "quantity": 1}]}` for a Change."""


@dataclass(frozen=True, slots=True)
class RunSpec:
    """One run of a scenario: its schedule, its order, its integration, its seed. Pure data."""

    run_id: str
    scenario: str
    integration: str
    cell: Mapping[str, Any]
    """The matrix cell this run belongs to, e.g. `{"change.at_ms": 250}`."""
    repetition: int
    seed: int
    order_id: str
    order: Mapping[str, Any]
    """The order to seed (`items`, `shipping`, `status`, optional `accounting`)."""
    steps: tuple[Step, ...]
    expect: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Operation:
    """One request in a run's history. Times are milliseconds from the run's start on the harness's clock."""

    index: int
    actor: str
    """Who sent it: the integration's name, or `harness` for the runner's own requests (seeding, final state)."""
    f: str
    """What it is: `get_order`, `invoice`, `change`, `get_change`, `accounting.invoice`, ..."""
    outcome: Outcome
    t_invoke: float
    t_complete: float
    request: Mapping[str, Any] = field(default_factory=dict)
    status: int | None = None
    response: Any = None
    error: str | None = None
    step: int | None = None
    """Index of the scenario step that caused it, if any."""
    scheduled_ms: float | None = None
    """When the step was due, for the first request a step sends."""
    sent_ms: float | None = None
    """When the request's headers were written to the socket."""

    @property
    def skew_ms(self) -> float | None:
        """How late the request left compared with its step's schedule."""
        if self.scheduled_ms is None or self.sent_ms is None:
            return None
        return self.sent_ms - self.scheduled_ms

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "actor": self.actor,
            "f": self.f,
            "outcome": self.outcome.value,
            "t_invoke": round(self.t_invoke, 3),
            "t_complete": round(self.t_complete, 3),
            "request": dict(self.request),
            "status": self.status,
            "response": self.response,
            "error": self.error,
            "step": self.step,
            "scheduled_ms": None if self.scheduled_ms is None else round(self.scheduled_ms, 3),
            "sent_ms": None if self.sent_ms is None else round(self.sent_ms, 3),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Operation:
        return cls(
            index=d["index"],
            actor=d["actor"],
            f=d["f"],
            outcome=Outcome(d["outcome"]),
            t_invoke=d["t_invoke"],
            t_complete=d["t_complete"],
            request=d.get("request") or {},
            status=d.get("status"),
            response=d.get("response"),
            error=d.get("error"),
            step=d.get("step"),
            scheduled_ms=d.get("scheduled_ms"),
            sent_ms=d.get("sent_ms"),
        )


@dataclass(frozen=True, slots=True)
class Invoice:
    """One invoice of a run's final order: an entry of its `packageAttachment.packages`.

    (invoice,) = record.final.invoices
    invoice.number, invoice.value, invoice.output    # "NF-1", 12480, True
    """

    number: str
    """`invoiceNumber`."""
    value: int
    """`invoiceValue`, in cents."""
    type: str | None
    """`Output` (billed to the customer) or `Input` (a return)."""

    @property
    def output(self) -> bool:
        """An invoice to the customer: what counts as invoiced."""
        return self.type == "Output"


@dataclass(frozen=True, slots=True)
class FinalState:
    """The settled state of a run's order in both services, read after the simulator went quiet.

    `order` is the wire document as the API answered it (it is what `runs.jsonl` keeps); the properties read it, so
    no consumer digs `packageAttachment.packages` out of it again. They raise `KeyError` or `ValueError` when the
    document lacks what they read, which a checker turns into an `unknown` verdict.

        final.status, final.value, final.invoiced      # "invoiced", 10980, 12480
        [i.number for i in final.invoices]             # ["NF-1"]
    """

    order: Mapping[str, Any]
    """The order as `GET /api/oms/pvt/orders/{orderId}` renders it; empty when it could not be read."""
    versions: tuple[Mapping[str, Any], ...] = ()
    """Every kept version (`/_sim/orders/{id}`): `version`, `t_ms`, `status`, `value`, `invoiced`."""
    changes: tuple[Mapping[str, Any], ...] = ()
    """Every Change object of the order."""
    accounting: Mapping[str, Any] | None = None
    """The Accounting order's state (`/_sim/accounting/...`), when the scenario uses Accounting."""
    settled: bool = True
    """False when the simulator still had work pending at the deadline (verdicts become `unknown`)."""
    public: bool = False
    """Read from outside, through the platform's public API only (a control-free run): there are no versions, no
    journal and no Accounting state, and the invariants that need them say `unknown` and why."""

    @property
    def read(self) -> bool:
        """Whether the final order could be read at all."""
        return bool(self.order)

    @property
    def order_id(self) -> str:
        return str(self.order["orderId"])

    @property
    def status(self) -> str:
        return str(self.order["status"])

    @property
    def value(self) -> int:
        """The order's final total, in cents."""
        return int(self.order["value"])

    @property
    def invoices(self) -> tuple[Invoice, ...]:
        """Every invoice of the order (`Output` and `Input`), in the order the document lists them."""
        packages = (self.order.get("packageAttachment") or {}).get("packages") or ()
        return tuple(
            Invoice(number=p["invoiceNumber"], value=int(p["invoiceValue"]), type=p.get("type")) for p in packages
        )

    @property
    def invoiced(self) -> int:
        """What the order's `Output` invoices add up to, in cents."""
        return sum(invoice.value for invoice in self.invoices if invoice.output)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """Everything a checker may look at for one run."""

    spec: RunSpec
    history: tuple[Operation, ...]
    final: FinalState
    journal: tuple[Mapping[str, Any], ...] = ()
    """The simulator's journal entries for the run's order (`t` on the simulator's clock)."""
    error: str | None = None
    """A harness or connection error that cut the run short."""
    origin_s: float = 0.0
    """The run's start on the harness's monotonic clock (s). Embedded and virtual modes share that clock with the
    simulator, so `(entry["t"] - origin_s) * 1000` places a journal entry on the run's timeline."""

    def ops(self, f: str | None = None, *, actor: str | None = None) -> list[Operation]:
        return [o for o in self.history if (f is None or o.f == f) and (actor is None or o.actor == actor)]


NOT_OBSERVABLE = "not_observable"
"""A check result's `details` key: the invariant needs what cannot be seen from outside the platform (the journal,
the order's versions, Accounting's state), so it said `unknown` and why (see `run_verdict`)."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one checker concluded about one run."""

    checker: str
    verdict: Verdict
    explanation: str
    """One sentence a person can read."""
    ops: tuple[int, ...] = ()
    """Indexes of the operations that show it."""
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "checker": self.checker,
            "verdict": self.verdict.value,
            "explanation": self.explanation,
            "ops": list(self.ops),
            "details": dict(self.details),
        }


def run_verdict(record: RunRecord, results: Iterable[CheckResult]) -> Verdict:
    """One run's verdict: its checkers' verdicts merged (invalid > unknown > valid), never more valid than the run.

    The one verdict function: `check_all`, the gates, `runs.jsonl` and the report all use it. A run that would merge
    `valid` is `unknown` instead when it was cut short by a harness error or when a checker it expects
    (`RunSpec.expect`) left no result: nobody looked, so nobody may call it valid. A run judged from outside
    (`FinalState.public`: a control-free run, `racelab proxy judge`) is judged on the invariants that can be seen from
    there; a result marked `NOT_OBSERVABLE` says `unknown` and why, but does not make the run unknown.

    Args:
        record: The run.
        results: What its checkers concluded.

    Returns:
        The verdict.
    """
    results = tuple(results)
    deciding = results
    if record.final.public:  # judged from outside: what cannot be seen there is said, but decides nothing
        deciding = tuple(r for r in results if not r.details.get(NOT_OBSERVABLE))
        if results and not deciding:
            return Verdict.UNKNOWN
    verdict = merge_verdicts(r.verdict for r in deciding)
    if verdict is Verdict.VALID:
        judged = {r.checker for r in results}
        if record.error is not None or any(name not in judged for name in record.spec.expect):
            return Verdict.UNKNOWN
    return verdict
