"""The Node.js example integrations end to end: each runs as a real `node` process against the simulator, and the
harness runs its shipped scenario (`scenarios/examples/node-*.yaml`) through the runner, as `racelab run --mode
external` does.

- `node/hook-invoicer.mjs`, HOOK-driven: the runner configures the order hook to its URL (`external:<URL>`).
- `node/feed-invoicer.mjs`, FEED-driven: it configures its own feed and reads it; the runner configures no hook and
  waits until a feed is configured (`external-feed:<name>`). With `--source poll` it polls the order list instead
  (`external-poll:<name>`).

Each scenario sends its Change 600 ms after the order enters `handling`. Under the fixed profile the Change READs
22 ms later a replica 600 ms behind: the order as it was at t = 22 ms, in `handling` (moved at t = 0) and not yet
invoiced (an invoice takes 32 ms from arriving to COMMIT, and the example sends it after it learnt of the order), so
the Change is applied: the naive mode ends over-invoiced on every run (failure A); the workaround mode waits until
the Change reports `finished: true`, re-reads the order and invoices its new value.

The processes are stopped by pid (`harness.embedded.stop_process`); readiness is a line on their stdout, never a
sleep. Node.js is Debian's `nodejs` (the Makefile's `test` target installs it).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from harness.drive.embedded import stop_process
from harness.drive.runner import RunOutcome, drive_control, run_specs
from harness.drive.transport import ControlClient, Endpoints
from harness.errors import HarnessConnectionError, InvalidScenario
from harness.integrations import Control, ExternalService, control
from harness.model.records import Verdict
from harness.scenarios import expand, load_scenario
from simulator import load_profile, open_server
from tests.support.processes import Running, running_process

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "scenarios" / "examples"
HOOK_EXAMPLE = EXAMPLES / "node" / "hook-invoicer.mjs"
FEED_EXAMPLE = EXAMPLES / "node" / "feed-invoicer.mjs"
NODE = os.environ.get("NODE") or shutil.which("node") or "/usr/bin/node"
NODE_FOUND = Path(NODE).is_file()
RACELAB = Path(sys.executable).with_name("racelab")  # the console script, as CI runs it
VALUE, VALUE_AFTER_CHANGE = 12480, 10980

pytestmark = pytest.mark.slow  # the fixed profile verifies an invoice 2 s after it: a few seconds per scenario


@asynccontextmanager
async def running(script: Path, *args: str, ready: str) -> AsyncIterator[Running]:
    """Start `node script args`; yield once it printed a line starting with `ready`; stop it (by pid) on exit."""
    assert NODE_FOUND, f"no Node.js at {NODE}: `make test` installs Debian's nodejs"
    async with running_process([NODE, str(script), *args], ready=ready, name=script.name) as proc:
        yield proc


@pytest.fixture
async def sim_url() -> AsyncIterator[str]:
    async with open_server(load_profile("fixed")) as (_, url):
        yield url


def endpoints(url: str) -> Endpoints:
    return Endpoints(orders=url, accounting=url, control=url)


async def run_shipped(tmp_path: Path, sim_url: str, name: str, *, integration: str | None = None) -> list[RunOutcome]:
    """Run `scenarios/examples/<name>.yaml` (its integration renamed to `integration`, e.g. the example's real hook
    URL) against the simulator at `sim_url`."""
    path = EXAMPLES / f"{name}.yaml"
    if integration is not None:
        (shipped,) = load_scenario(path).integrations
        text = path.read_text()
        assert text.count(shipped) == 2  # the integration and its gate
        path = tmp_path / f"{name}.yaml"
        path.write_text(text.replace(shipped, integration))
    specs = expand(load_scenario(path), seed=1)
    assert len(specs) == 3
    return await run_specs(specs, endpoints(sim_url))


def invoiced(outcome: RunOutcome) -> list[int]:
    return [int(p["invoiceValue"]) for p in outcome.record.final.order["packageAttachment"]["packages"]]


def assert_the_example_invoiced(outcome: RunOutcome) -> None:
    """The harness sent the Change (202); the example, not the harness, sent the one invoice, through the OMS route."""
    record = outcome.record
    assert record.error is None, record.error
    assert [(op.f, op.status) for op in record.history] == [("change", 202)]
    commits = [e for e in record.journal if e["op"] == "invoice" and e["phase"] == "commit"]
    assert [e["op_id"] for e in commits] == [f"NF-{record.spec.order_id}"]
    assert len(invoiced(outcome)) == 1


def assert_naive_reproduces(outcomes: list[RunOutcome]) -> None:
    """Failure A on every run: the Change applied, the invoice of the whole order accepted."""
    for outcome in outcomes:
        assert_the_example_invoiced(outcome)
        assert outcome.verdict is Verdict.INVALID
        assert {r.checker: r.verdict for r in outcome.results}["no-over-invoice"] is Verdict.INVALID
        assert outcome.record.final.order["value"] == VALUE_AFTER_CHANGE
        assert invoiced(outcome) == [VALUE]


def assert_workaround_holds(outcomes: list[RunOutcome]) -> None:
    """No violation: the invoice is the order's value after the Change, and the order ends `invoiced`."""
    for outcome in outcomes:
        assert_the_example_invoiced(outcome)
        assert outcome.verdict is Verdict.VALID, [r.explanation for r in outcome.results]
        assert outcome.record.final.order["value"] == VALUE_AFTER_CHANGE
        assert invoiced(outcome) == [VALUE_AFTER_CHANGE]
        assert outcome.record.final.order["status"] == "invoiced"


# ------------------------------------------------------------------------------------------------- hook-driven


@pytest.mark.parametrize("mode", ["naive", "workaround"])
async def test_the_hook_driven_node_example(tmp_path: Path, sim_url: str, mode: str) -> None:
    args = ("--orders-url", sim_url, "--port", "0", "--mode", mode, "--poll-ms", "20")
    async with running(HOOK_EXAMPLE, *args, ready="listening on ") as example:
        url = example.ready.removeprefix("listening on ")
        outcomes = await run_shipped(tmp_path, sim_url, "node-hook", integration=f"external:{url}")
    (assert_naive_reproduces if mode == "naive" else assert_workaround_holds)(outcomes)
    assert any("ping: answered 200" in line for line in example.lines)  # the simulator pinged it when configured
    if mode == "workaround":
        assert sum("none pending after" in line for line in example.lines) == 3


async def test_the_hook_driven_node_example_answers_the_ping_and_ignores_a_duplicate(sim_url: str) -> None:
    async with (
        running(HOOK_EXAMPLE, "--orders-url", sim_url, "--port", "0", ready="listening on ") as example,
        aiohttp.ClientSession() as session,
    ):
        url = example.ready.removeprefix("listening on ")
        async with session.post(url, json={"hookConfig": "ping"}) as resp:
            assert resp.status == 200
        seed = {"orderId": "dup-1", "items": [{"id": "sku-1", "price": 4990, "quantity": 2}], "status": "handling"}
        async with session.post(f"{sim_url}/_sim/orders", json=seed) as resp:
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
            async with session.post(url, json=hook) as resp:
                assert resp.status == 200
        async with session.post(url, json={"OrderId": "dup-1"}) as resp:
            assert resp.status == 400
        sent = await example.wait_for_line("POST invoice dup-1")  # sent after the hook's answer: wait for its line
        await example.wait_for_line("dup-1 handling: duplicate delivery, ignored")
        read = await ControlClient(session, endpoints(sim_url)).perform(control.get_order("dup-1"))
        status, order = read.status, read.body
    assert "value 9980: 200 " in sent  # a NUMBER was sent to the OMS route, and taken
    assert status == 200
    assert [int(p["invoiceValue"]) for p in order["packageAttachment"]["packages"]] == [9980]
    assert sum("GET order dup-1" in line for line in example.lines) == 1


# ---------------------------------------------------------------------------------------- feed- and poll-driven


@pytest.mark.parametrize("mode", ["naive", "workaround"])
async def test_the_feed_driven_node_example(tmp_path: Path, sim_url: str, mode: str) -> None:
    args = ("--orders-url", sim_url, "--mode", mode, "--poll-ms", "20", "--feed-poll-ms", "20")
    async with running(FEED_EXAMPLE, *args, ready="ready: ") as example:
        outcomes = await run_shipped(tmp_path, sim_url, "node-feed")
        async with aiohttp.ClientSession() as session:
            config = Control("hook_config", "GET", "/api/orders/hook/config")
            read = await ControlClient(session, endpoints(sim_url)).perform(config)
            status, hook = read.status, read.body
    assert status == 404, hook  # racelab configured no hook: the example found its work in its own feed
    (assert_naive_reproduces if mode == "naive" else assert_workaround_holds)(outcomes)
    assert sum(" feed " in f" {line}" and "handling: invoicing" in line for line in example.lines) == 3


@pytest.mark.parametrize("mode", ["naive", "workaround"])
async def test_the_order_list_polling_node_example(tmp_path: Path, sim_url: str, mode: str) -> None:
    args = ("--orders-url", sim_url, "--source", "poll", "--mode", mode, "--poll-ms", "20", "--feed-poll-ms", "20")
    async with running(FEED_EXAMPLE, *args, ready="ready: ") as example:
        outcomes = await run_shipped(tmp_path, sim_url, "node-poll")
    (assert_naive_reproduces if mode == "naive" else assert_workaround_holds)(outcomes)
    assert sum("list " in line and "handling: invoicing" in line for line in example.lines) == 3


async def test_a_feed_integration_whose_service_configured_no_feed_stops_the_runs(sim_url: str) -> None:
    """Without a feed, an order moved to handling would reach no one: the runner says so instead of waiting 15 s a
    run for an invoice that cannot come."""
    integration = ExternalService("feed", "node-feed-invoicer", ready_timeout_s=0.2)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(HarnessConnectionError, match="no feed is configured"):
            await drive_control(integration.prepare(time.monotonic), ControlClient(session, endpoints(sim_url)))


def test_an_unknown_external_source_is_refused() -> None:
    with pytest.raises(InvalidScenario, match="expected one of feed, poll"):
        ExternalService("queue", "x")


@pytest.mark.parametrize(("mode", "exit_code"), [("naive", 1), ("workaround", 0)])
async def test_racelab_run_external_mode_gates_the_feed_example(
    tmp_path: Path, sim_url: str, mode: str, exit_code: int
) -> None:
    """`racelab run scenarios/examples/node-feed.yaml --mode external` as CI runs it; its gate is `violations: 0`."""
    out = tmp_path / "results"
    args = ("--orders-url", sim_url, "--mode", mode, "--poll-ms", "20", "--feed-poll-ms", "20")
    async with running(FEED_EXAMPLE, *args, ready="ready: "):
        proc = await asyncio.create_subprocess_exec(
            str(RACELAB),
            "run",
            str(EXAMPLES / "node-feed.yaml"),
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
            await stop_process(proc)
    assert proc.returncode == exit_code, (stdout.decode(), stderr.decode())
    summary = json.loads((out / "latest" / "summary.json").read_text())
    assert (summary["runs"], summary["passed"]) == (3, exit_code == 0)
    assert [(g["integration"], g["passed"]) for g in summary["gates"]] == [
        ("external-feed:node-feed-invoicer", exit_code == 0)
    ]
