"""Race tests with racelab's pytest plugin, written by `racelab init`; run them with `pytest`.

Installing racelab registers the plugin and its two fixtures:
- `racelab_simulator(profile)` starts the simulator in this process on a free port (a profile name: this project's
  scenarios/profiles/, then racelab's own: default, fixed, instant, faults; or a path) and stops it after the test;
  its helpers seed orders, invoice, send Changes, hold and release gates, and wait until the simulator is quiet.
- `racelab_run(scenario)` runs a scenario file as `racelab run` does and returns its runs, violations and gates.
The tests are async: pytest-asyncio runs them (`pip install 'racelab[pytest]'` installs both).
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.asyncio

SKU_2 = {"id": "sku-2", "quantity": 1}  # 15.00 of the seeded order's 124.80


async def test_a_change_that_read_before_the_invoice_over_invoices(racelab_simulator: Any) -> None:
    """The race, forced with a gate instead of timing: the Change reads the order, the invoice commits, then the
    Change commits what it computed from its stale read."""
    sim = racelab_simulator("instant")  # every delay zero: only the gate decides the interleaving
    await sim.seed_order("race-1")  # 124.80, in handling
    await sim.hold("race-1", "change.after_read")
    status, _ = await sim.change("race-1", remove=[SKU_2])
    assert status == 202
    await sim.wait_parked("race-1", "change.after_read")  # the Change has read the order, without the invoice
    status, _ = await sim.invoice("race-1")
    assert status == 200
    await sim.release("race-1", "change.after_read")
    await sim.quiesce("race-1")
    order = await sim.order("race-1")
    invoiced = sum(p["invoiceValue"] for p in order["packageAttachment"]["packages"])
    assert order["value"] == 10980  # the Change removed sku-2 ...
    assert invoiced == 12480  # ... after the whole order was invoiced: invoiced above the final total


async def test_serializable_consistency_refuses_the_change(racelab_simulator: Any) -> None:
    """The same requests where READs never lag: the Change sees the invoice and is refused."""
    sim = racelab_simulator("instant", overrides={"consistency": "serializable"})
    await sim.seed_order("race-2")
    status, _ = await sim.invoice("race-2")
    assert status == 200
    await sim.change("race-2", remove=[SKU_2])
    await sim.quiesce("race-2")
    assert (await sim.order("race-2"))["value"] == 12480


async def test_the_scenario_reproduces_the_race_and_the_workaround_holds(racelab_run: Any) -> None:
    """scenarios/invoice-vs-change.yaml, as `racelab run` runs it (one run per point of its sweep)."""
    result = await racelab_run("scenarios/invoice-vs-change.yaml", runs=1)
    assert result.violations("naive", checker="no-over-invoice") > 0, result
    assert result.violations("workaround") == 0, result
    assert result.gates_passed, result
