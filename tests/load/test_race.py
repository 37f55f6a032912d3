"""One race in blocking code (`harness.drive.blocking.run_race`), against a real simulator process, with threads
and urllib standing in for locust's greenlets and FastHttpSession: seeding, firing at the offsets, settling, judging
with the shared checkers. The `fixed` profile makes the outcome certain: naive over-invoices, the workaround never."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

import pytest

from harness.errors import InvalidScenario
from harness.integrations.flow import decode
from harness.load import Answer, LoadPlan, RaceOutcome, load_blocking, run_race
from harness.model.records import Verdict

from .conftest import FAST_SCENARIO, ROOT


class UrllibTransport:
    """`harness.load.Transport` on urllib: every request recorded as (name, control, headers)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.sent: list[tuple[str, bool, dict[str, str]]] = []

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
    ) -> Answer:
        self.sent.append((name, control, dict(headers or {})))
        data = None if json is None else _dumps(json)
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s or 40.0) as resp:
                return Answer(resp.status, decode(resp.read().decode()))
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, decode(exc.read().decode()))
        except OSError as exc:
            return Answer(None, None, f"{type(exc).__name__}: {exc}", sent=not isinstance(exc, ConnectionRefusedError))


def _dumps(body: Any) -> bytes:
    return json.dumps(body).encode()


@pytest.fixture(scope="module")
def plan() -> LoadPlan:
    return LoadPlan.load(FAST_SCENARIO, seed=1)


def race(plan: LoadPlan, simulator: str, integration: str, k: int) -> tuple[RaceOutcome, UrllibTransport]:
    transport = UrllibTransport(simulator)
    outcome = run_race(plan.spec(integration, k), transport, load_blocking(integration), settle_timeout_s=10.0)
    return outcome, transport


def test_naive_over_invoices_and_the_shared_checkers_say_why(plan: LoadPlan, simulator: str) -> None:
    outcome, transport = race(plan, simulator, "naive", 0)
    assert outcome.verdict is Verdict.INVALID, outcome.results
    verdicts = {r.checker: r.verdict for r in outcome.results}
    assert verdicts["no-over-invoice"] is Verdict.INVALID
    [explanation] = [r.explanation for r in outcome.results if r.checker == "no-over-invoice"]
    assert "is invoiced 124.80 but its final total is 109.80" in explanation
    assert outcome.record.spec.order_id in explanation
    assert [op.f for op in outcome.record.history] == ["get_order", "invoice", "change"]  # change at 50 ms
    invoice, change = outcome.record.history[1], outcome.record.history[2]
    assert invoice.outcome.value == change.outcome.value == "ok"
    assert change.scheduled_ms == 50.0
    assert change.skew_ms is not None
    assert outcome.record.final.settled
    assert outcome.record.journal  # change-respects-invoices is expected, so the journal was read
    assert outcome.requests == len(transport.sent)


def test_the_workaround_and_robust_hold_every_invariant(plan: LoadPlan, simulator: str) -> None:
    for integration in ("workaround", "robust"):
        outcome, _ = race(plan, simulator, integration, 1)
        assert outcome.verdict is Verdict.VALID, (integration, outcome.results)
        fs = [op.f for op in outcome.record.history]
        assert "get_change" in fs
        assert fs.index("invoice") > fs.index("change")  # it waited for the Change before invoicing


def test_the_harness_requests_are_marked_and_the_integrations_are_not(plan: LoadPlan, simulator: str) -> None:
    _, transport = race(plan, simulator, "naive", 2)
    control = [(name, headers) for name, is_control, headers in transport.sent if is_control]
    # Seeding, then the final state as the async runner reads it (the one control flow both drivers run).
    assert [name for name, _ in control] == [
        "/_sim/orders",
        "/_sim/quiesce",
        "/api/oms/pvt/orders/[id]",
        "/_sim/orders/[id]",
        "/_sim/journal",
    ]
    assert all(headers.get("X-Racelab-Control") == "1" for _, headers in control)
    assert all("X-Racelab-Control" not in h for _, is_control, h in transport.sent if not is_control)


def test_every_race_gets_an_order_of_its_own_and_the_matrix_is_cycled(plan: LoadPlan) -> None:
    other = LoadPlan.load(FAST_SCENARIO, seed=1)
    specs = [plan.spec("naive", k) for k in range(4)] + [other.spec("naive", 0), plan.spec("robust", 0)]
    assert len({s.order_id for s in specs}) == len(specs)
    offsets = [s.steps[1].at_ms for s in specs[:4]]
    assert offsets == [50.0, 100.0, 150.0, 50.0]
    assert all(len(s.order_id) <= 64 for s in specs)


def test_a_run_that_cannot_be_seeded_is_unknown_and_says_why(plan: LoadPlan, simulator: str) -> None:
    spec = plan.spec("naive", 3)
    transport = UrllibTransport(simulator)
    first = run_race(spec, transport, load_blocking("naive"), settle_timeout_s=10.0)
    again = run_race(spec, transport, load_blocking("naive"), settle_timeout_s=10.0)  # same order id: refused
    assert first.verdict is not Verdict.UNKNOWN
    assert again.verdict is Verdict.UNKNOWN
    assert again.record.error is not None
    assert again.record.error.startswith(f"seeding order {spec.order_id} failed")
    assert again.record.history == ()  # nothing was fired


def test_a_service_that_cannot_be_reached_makes_an_unknown_run_not_a_crash(plan: LoadPlan) -> None:
    outcome = run_race(plan.spec("workaround", 0), UrllibTransport("http://127.0.0.1:9"), load_blocking("workaround"))
    assert outcome.verdict is Verdict.UNKNOWN
    assert "seeding order" in (outcome.record.error or "")


def test_a_scenario_with_steps_load_cannot_fire_is_refused_with_file_and_line() -> None:
    with pytest.raises(
        InvalidScenario, match=r"reconcile-over-invoice.yaml:\d+: steps\[2\]\.do: `do: register-invoice`"
    ):
        LoadPlan.load(ROOT / "scenarios/reconcile-over-invoice.yaml", seed=1)
