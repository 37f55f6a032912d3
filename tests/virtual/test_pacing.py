"""The runner's pacing, on a virtual clock where send skew is exact: a run held back by the concurrency limit gets
a fresh start slot when it may start, instead of starting late against its old slot (lateness would be reported as
send skew, and a 10,000-run sweep once showed seconds of it)."""

from __future__ import annotations

import pytest

from harness.drive.runner import RunnerOptions, _Pacer, run_specs
from harness.drive.transport import Endpoints
from harness.integrations import Naive
from harness.scenarios import expand, load_scenario
from harness.virtual.universe import virtual_config
from simulator import SimConfig, open_server
from tests.support.cli import ROOT


def test_slots_are_in_order_spaced_by_the_rate_and_never_in_the_past() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "over-invoice.yaml")
    spec = expand(scenario, seed=1, runs=1, integrations=["naive"])[0]  # two steps: ~6 requests
    pacer = _Pacer(RunnerOptions(max_rate=600.0, requests_per_run=0.0), base=10.0)
    first, second = pacer.next(spec, now=0.0), pacer.next(spec, now=0.0)
    assert first == 10.0
    assert second == pytest.approx(10.01)  # 2 steps x 3 requests / 600 per s
    late = pacer.next(spec, now=50.0)
    assert late == pytest.approx(50.005)
    assert pacer.next(spec, now=0.0) == pytest.approx(50.015)
    # An integration that says how many requests a step costs is paced by it: naive sends 3 for its 2 steps.
    assert pacer.next(spec, now=0.0, integration=Naive()) == pytest.approx(50.025)
    assert pacer.next(spec, now=0.0) == pytest.approx(50.03)


def test_each_run_s_final_state_read_counts_in_its_slot() -> None:
    """The 4 requests that read a run's final state land on the same server while later runs fire: the default
    pacing counts them (not counting them let a 20,000-run sweep send ~2.3x the rate it was paced for)."""
    scenario = load_scenario(ROOT / "scenarios" / "over-invoice.yaml")
    spec = expand(scenario, seed=1, runs=1, integrations=["naive"])[0]
    pacer = _Pacer(RunnerOptions(max_rate=700.0), base=0.0)
    first = pacer.next(spec, now=0.0, integration=Naive())
    assert pacer.next(spec, now=0.0, integration=Naive()) - first == pytest.approx(0.01)  # (2 x 1.5 + 4) / 700


@pytest.mark.looptime
async def test_runs_held_back_by_the_concurrency_limit_are_sent_on_schedule() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "over-invoice.yaml")
    specs = expand(scenario, seed=1, runs=1, integrations=["naive"])[:6]
    config = SimConfig.model_validate(virtual_config("fixed", {}, 1))
    options = RunnerOptions(concurrency=1, lead_ms=0.0, freeze_gc=False)  # one run at a time: each waits for the last
    async with open_server(config) as (_, url):
        outcomes = await run_specs(specs, Endpoints(orders=url, accounting=url, control=url), options=options)
    skews = [op.skew_ms for o in outcomes for op in o.record.history if op.skew_ms is not None]
    assert len(skews) == 2 * len(specs)  # the invoice and the Change of every run
    assert max(skews) == pytest.approx(0.0, abs=1e-6)
