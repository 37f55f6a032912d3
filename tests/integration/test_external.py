"""The external path end to end: `scenarios/examples/hook_invoicer.py` as a real process, driven by order hooks.

The simulator (profile `fixed`) runs in-process; the example runs as a subprocess on a free port and is ready when it
prints its `listening on` line; the runner (and, in the last tests, `racelab run` as a process) configures the hook,
moves each order to `handling` at t = 0 and sends the scenario's Change. The example invoices by itself.

What the fixed profile does on this path (the Change READs a replica 600 ms behind):
- Change at 100 ms: its replica still shows the order before `handling` (t = 0 is when it entered it), so the Change
  is refused (CHK0124, "Invalid change for order": the dev portal's code for a status that takes no Change), and its
  end re-triggers the invoiced-check, which reads an invoice view 1000 ms old: the naive example's full, valid
  invoice leaves the order stuck in `payment-approved` (failure B).
- Change at 590 ms: its replica shows the order at ~12 ms, in `handling` and not yet invoiced (the example's invoice
  COMMITs at >= 32 ms), so the Change applies: the naive example over-invoices (failure A), and B follows.
The workaround mode waits for the Changes before invoicing and ends `invoiced`, at the right value, in both.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from harness.drive.runner import FlowDriver, RunOutcome, run_specs
from harness.drive.transport import Endpoints
from harness.integrations import Answer, Control, ExternalService, Run
from harness.model.records import RunSpec, Verdict
from harness.scenarios import expand, load_scenario
from simulator import load_profile, open_server
from tests.support.processes import Running, running_process

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "scenarios" / "examples" / "hook_invoicer.py"
SCENARIO = ROOT / "scenarios" / "examples" / "external.yaml"
RACELAB = Path(sys.executable).with_name("racelab")  # the console script, as CI runs it
SHIPPED_URL = "http://127.0.0.1:8091/hook"
READY = "listening on "

pytestmark = pytest.mark.slow  # the fixed profile verifies an invoice 2 s after it: a few seconds per scenario


@dataclass
class Example:
    """The running example and its hook URL."""

    process: Running

    @property
    def url(self) -> str:
        return self.process.ready.removeprefix(READY)

    @property
    def lines(self) -> list[str]:
        return self.process.lines

    async def wait_for_line(self, text: str, *, timeout_s: float = 10.0) -> str:
        return await self.process.wait_for_line(text, timeout_s=timeout_s)


@asynccontextmanager
async def running_example(orders_url: str, mode: str) -> AsyncIterator[Example]:
    """Start the example on a free port; yield once it listens; stop it on exit."""
    argv = [sys.executable, str(EXAMPLE), "--orders-url", orders_url, "--port", "0", "--mode", mode]
    async with running_process(argv, ready=READY, name="the example") as proc:
        yield Example(proc)


@pytest.fixture
async def sim_url() -> AsyncIterator[str]:
    async with open_server(load_profile("fixed")) as (_, url):
        yield url


def scenario_file(tmp_path: Path, hook_url: str, *, change_at_ms: int = 100) -> Path:
    """The shipped example scenario, pointed at `hook_url`, its Change at `change_at_ms`."""
    text = SCENARIO.read_text()
    assert text.count(SHIPPED_URL) == 2  # the integration and its gate
    assert text.count("at: 100ms, do: change") == 1
    text = text.replace(SHIPPED_URL, hook_url).replace("at: 100ms, do: change", f"at: {change_at_ms}ms, do: change")
    path = tmp_path / "external.yaml"
    path.write_text(text)
    return path


async def run_example(tmp_path: Path, sim_url: str, example: Example, *, change_at_ms: int) -> list[RunOutcome]:
    scenario = load_scenario(scenario_file(tmp_path, example.url, change_at_ms=change_at_ms))
    specs = expand(scenario, seed=1)
    assert len(specs) == 3
    return await run_specs(specs, Endpoints(orders=sim_url, accounting=sim_url, control=sim_url))


def verdicts(outcome: RunOutcome) -> dict[str, Verdict]:
    return {r.checker: r.verdict for r in outcome.results}


def assert_external_path(outcome: RunOutcome, example: Example) -> None:
    """The harness sent the Change; the hook reached the example; the example (not the harness) invoiced."""
    record = outcome.record
    assert record.error is None
    assert record.spec.integration == f"external:{example.url}"
    changes = record.ops("change")
    assert len(changes) == 1
    assert changes[0].actor == record.spec.integration
    assert changes[0].status == 202
    assert changes[0].step == 1
    assert record.ops("invoice") == []  # the example's invoice is not in the harness's history...
    journal = record.journal
    deliveries = [e for e in journal if e["op"] == "hook" and e["phase"] == "deliver"]
    assert [(e["detail"]["state"], e["detail"]["status"]) for e in deliveries] == [("handling", 200)]
    number = f"NF-{record.spec.order_id}"
    commits = [e for e in journal if e["op"] == "invoice" and e["phase"] == "commit"]
    assert [e["op_id"] for e in commits] == [number]  # ...but the simulator's journal shows it
    assert [p["invoiceNumber"] for p in record.final.order["packageAttachment"]["packages"]] == [number]
    change_phases = {e["phase"] for e in journal if e["op"] == "change"}
    assert {"arrive", "read"} <= change_phases


async def test_naive_example_leaves_the_order_stuck_when_the_change_comes_at_100_ms(
    tmp_path: Path, sim_url: str
) -> None:
    async with running_example(sim_url, "naive") as example:
        outcomes = await run_example(tmp_path, sim_url, example, change_at_ms=100)
    for outcome in outcomes:
        assert_external_path(outcome, example)
        assert verdicts(outcome) == {
            "no-over-invoice": Verdict.VALID,  # the lagging replica refused the Change: the value did not drop
            "invoiced-when-fully-invoiced": Verdict.INVALID,
        }
        rejected = [e for e in outcome.record.journal if e["op"] == "change" and e["phase"] == "reject"]
        assert [e["detail"]["code"] for e in rejected] == ["CHK0124"]
        assert outcome.record.final.order["status"] == "payment-approved"


async def test_naive_example_over_invoices_when_the_change_comes_at_590_ms(tmp_path: Path, sim_url: str) -> None:
    async with running_example(sim_url, "naive") as example:
        outcomes = await run_example(tmp_path, sim_url, example, change_at_ms=590)
    for outcome in outcomes:
        assert_external_path(outcome, example)
        assert verdicts(outcome)["no-over-invoice"] is Verdict.INVALID
        order = outcome.record.final.order
        assert order["value"] == 10980
        assert order["packageAttachment"]["packages"][0]["invoiceValue"] == 12480


@pytest.mark.parametrize("change_at_ms", [100, 590])
async def test_workaround_example_never_over_invoices(tmp_path: Path, sim_url: str, change_at_ms: int) -> None:
    async with running_example(sim_url, "workaround") as example:
        outcomes = await run_example(tmp_path, sim_url, example, change_at_ms=change_at_ms)
    for outcome in outcomes:
        assert_external_path(outcome, example)
        assert outcome.verdict is Verdict.VALID, [r.explanation for r in outcome.results]
        order = outcome.record.final.order
        assert order["status"] == "invoiced"
        assert order["packageAttachment"]["packages"][0]["invoiceValue"] == order["value"]
    assert any("none pending after" in line for line in example.lines)


async def test_example_answers_the_ping_and_ignores_a_duplicate_delivery(sim_url: str) -> None:
    async with running_example(sim_url, "naive") as example, aiohttp.ClientSession() as session:
        async with session.post(example.url, json={"hookConfig": "ping"}) as resp:
            assert resp.status == 200
        async with session.post(
            f"{sim_url}/_sim/orders",
            json={
                "orderId": "dup-1",
                "items": [{"id": "sku-1", "price": 4990, "quantity": 2}],
                "status": "handling",
            },
        ) as resp:
            assert resp.status == 201
        hook = {
            "Domain": "Fulfillment",
            "OrderId": "dup-1",
            "State": "handling",
            "LastState": "ready-for-handling",
            "LastChange": "2026-11-21T10:00:00Z",
            "CurrentChange": "2026-11-21T10:00:01Z",
        }
        for _ in range(2):
            async with session.post(example.url, json=hook) as resp:
                assert resp.status == 200
        await example.wait_for_line("POST invoice dup-1")
        await example.wait_for_line("dup-1 handling: duplicate delivery, ignored")
        async with session.post(example.url, json={"OrderId": "dup-1"}) as resp:
            assert resp.status == 400
    assert sum("GET order dup-1" in line for line in example.lines) == 1


@pytest.mark.parametrize(("mode", "exit_code"), [("naive", 1), ("workaround", 0)])
async def test_racelab_run_external_mode_gates_the_example(
    tmp_path: Path, sim_url: str, mode: str, exit_code: int
) -> None:
    """`racelab run --mode external` as CI runs it; the scenario's gate is `violations: 0`."""
    out = tmp_path / "results"
    async with running_example(sim_url, mode) as example:
        path = scenario_file(tmp_path, example.url)
        proc = await asyncio.create_subprocess_exec(
            str(RACELAB),
            "run",
            str(path),
            "--mode",
            "external",
            "--orders-url",
            sim_url,
            "--out",
            str(out),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            stdout, stderr = await asyncio.wait_for(proc.communicate(), 120)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == exit_code, (stdout.decode(), stderr.decode())
    summary = json.loads((out / "latest" / "summary.json").read_text())
    assert summary["runs"] == 3
    assert summary["passed"] is (exit_code == 0)
    assert [(g["integration"], g["passed"]) for g in summary["gates"]] == [(f"external:{example.url}", exit_code == 0)]


async def test_an_external_integration_races_a_change_v1_sent_by_the_harness(tmp_path: Path, sim_url: str) -> None:
    """`do: change-v1` works for an external integration too: the harness sends the Change v1 (synchronous, 200 with
    a receipt) at 590 ms, while the naive example invoices the whole order: the v1 READ lags 600 ms, does not see the
    invoice, and lowers the total below it (failure A)."""
    text = scenario_file(tmp_path, "http://127.0.0.1:1/unused", change_at_ms=590).read_text()
    change = "{at: 590ms, do: change, remove: [{id: sku-2, quantity: 1}]}"
    assert text.count(change) == 1
    v1 = "{at: 590ms, do: change-v1, itemsRemoved: [{id: sku-2, quantity: 1}], discountValue: 1500}"
    async with running_example(sim_url, "naive") as example:
        path = tmp_path / "external-v1.yaml"
        path.write_text(text.replace(change, v1).replace("http://127.0.0.1:1/unused", example.url))
        outcomes = await run_specs(
            expand(load_scenario(path), seed=1), Endpoints(orders=sim_url, accounting=sim_url, control=sim_url)
        )
    for outcome in outcomes:
        record = outcome.record
        assert record.error is None
        (sent,) = record.history
        assert sent.status == 200, sent.response
        assert (sent.f, sent.status, sent.actor, sent.step) == ("change_v1", 200, f"external:{example.url}", 1)
        assert sent.request["requestId"] == f"{record.spec.order_id}-v1-1"
        assert sent.request["itemsRemoved"] == [{"id": "sku-2", "price": 1500, "quantity": 1}]
        assert set(sent.response) >= {"date", "orderId", "receipt"}
        assert verdicts(outcome)["no-over-invoice"] is Verdict.INVALID
        order = record.final.order
        assert (order["value"], order["packageAttachment"]["packages"][0]["invoiceValue"]) == (10980, 12480)


async def test_a_service_that_never_invoices_cuts_the_run_short() -> None:
    # An external run is judged `unknown` (so `violations: 0` fails) when the service never invoiced the order,
    # instead of being judged on an order nobody invoiced.
    class NeverInvoiced:
        """The control client: the order, read again and again, never shows an invoice."""

        reads = 0

        async def perform(self, effect: Control) -> Answer:
            assert effect.op == "get_order"
            self.reads += 1
            return Answer(200, {"orderId": "ORD-1", "packageAttachment": {"packages": []}})

    service = ExternalService("poll", "down", invoice_timeout_s=0.2)
    spec = RunSpec("r", "s", service.name, {}, 0, 1, "ORD-1", {}, (), ())
    run = Run(spec=spec, now=asyncio.get_running_loop().time)
    control = NeverInvoiced()
    with pytest.raises(TimeoutError, match="did not invoice order ORD-1"):
        await FlowDriver(run, None, control).drive(service.settle(run))  # type: ignore[arg-type]
    assert control.reads > 1
