"""The pytest plugin as QA uses it: inner test files run by pytester in a subprocess, the plugin loaded through its
`pytest11` entry point (nothing here registers it), under `filterwarnings = error`."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""

TINY_SCENARIO = """
name: tiny
profile: fixed
order:
  items: [{id: sku-1, price: 4990, quantity: 2}, {id: sku-2, price: 1500, quantity: 1}]
  shipping: 1000
integrations: [naive, workaround]
steps:
  - {at: 0ms, do: invoice}
  - {at: 100ms, do: change, remove: [{id: sku-2, quantity: 1}]}
runs: 1
expect: [no-over-invoice]
gate:
  naive: {reproduces: [no-over-invoice]}
  workaround: {violations: 0}
"""


def run_inner(pytester: pytest.Pytester, source: str, *, ini: str | None = INI) -> pytest.RunResult:
    if ini is not None:
        pytester.makeini(ini)
    pytester.makepyfile(test_inner=textwrap.dedent(source))
    return pytester.runpytest_subprocess("-p", "no:locust", "-p", "no:cacheprovider", timeout=120)


def test_simulator_fixture_seeds_and_invoices_an_order(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        async def test_invoiced(racelab_simulator):
            sim = racelab_simulator()  # profile `instant`
            seeded = await sim.seed_order("o-1")
            assert seeded["value"] == 12480
            status, _ = await sim.invoice("o-1")
            assert status == 200
            await sim.quiesce("o-1")
            order = await sim.order("o-1")
            assert order["status"] == "invoiced"
            assert sim.url.startswith("http://127.0.0.1:")
        """,
    )
    result.assert_outcomes(passed=1)


def test_a_false_assertion_fails_the_inner_test(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        async def test_wrong(racelab_simulator):
            sim = racelab_simulator()
            await sim.seed_order("o-1")
            assert (await sim.order("o-1"))["status"] == "invoiced"
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: assert 'handling' == 'invoiced'*"])


def test_gates_force_failure_a_with_every_delay_zero(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        async def test_over_invoice(racelab_simulator):
            sim = racelab_simulator("instant")
            await sim.seed_order("o-1")
            await sim.hold("o-1", "change.after_read")
            status, _ = await sim.change("o-1", remove=[{"id": "sku-2", "quantity": 1}])
            assert status == 202
            await sim.wait_parked("o-1", "change.after_read")  # the Change read the order before the invoice
            assert (await sim.invoice("o-1"))[0] == 200
            assert await sim.release("o-1", "change.after_read") == 1
            await sim.quiesce("o-1")
            order = await sim.order("o-1")
            assert order["value"] == 10980
            assert order["packageAttachment"]["packages"][0]["invoiceValue"] == 12480
            phases = {(e["op"], e["phase"]) for e in await sim.journal("o-1")}
            assert ("change", "commit") in phases

        async def test_serializable_refuses_the_change(racelab_simulator):
            sim = racelab_simulator("instant", overrides={"consistency": "serializable"})
            assert (await sim.config())["consistency"] == "serializable"
            await sim.seed_order("o-1")
            assert (await sim.invoice("o-1"))[0] == 200
            await sim.change("o-1", remove=[{"id": "sku-2", "quantity": 1}])
            await sim.quiesce("o-1")
            assert (await sim.order("o-1"))["value"] == 12480
        """,
    )
    result.assert_outcomes(passed=2)


def test_fixtures_work_in_strict_asyncio_mode_and_import_no_locust(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        import sys

        import pytest

        def test_loaded_lazily():
            assert "locust" not in sys.modules
            assert "simulator" not in sys.modules  # imported when a fixture is used, not by loading the plugin

        @pytest.mark.asyncio
        async def test_strict_mode(racelab_simulator):
            sim = racelab_simulator()
            await sim.seed_order("o-1")
            assert (await sim.order("o-1"))["status"] == "handling"
            assert "locust" not in sys.modules
        """,
        ini=None,  # no asyncio_mode: pytest-asyncio's strict default
    )
    result.assert_outcomes(passed=2)


def test_run_fixture_runs_a_scenario_on_the_embedded_simulator(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", tiny=TINY_SCENARIO)
    result = run_inner(
        pytester,
        """
        from harness.model.records import Verdict

        async def test_tiny(racelab_run):
            result = await racelab_run("tiny.yaml", seed=1)
            assert len(result.outcomes) == 2
            assert result.violations("naive") == 1
            assert result.violations("naive", checker="no-over-invoice") == 1
            assert result.violations("workaround") == 0
            assert result.unknown() == 0
            assert result.gates_passed, str(result)
            assert [g.name for g in result.gates] == ["naive: reproduces", "workaround: violations"]
            naive = result.runs("naive")[0]
            assert naive.verdict is Verdict.INVALID
            assert [o.f for o in naive.record.history] == ["get_order", "invoice", "change"]

        async def test_runs_and_integrations_replace_the_scenarios(racelab_run):
            result = await racelab_run("tiny.yaml", runs=2, integrations=["workaround"])
            assert [o.record.spec.integration for o in result.outcomes] == ["workaround", "workaround"]
            assert result.violations() == 0
            assert [g.name for g in result.gates] == ["workaround: violations"]
        """,
    )
    result.assert_outcomes(passed=2)
