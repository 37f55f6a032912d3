"""Property-based: over generated schedules (steps, offsets in the scenario's window, every latency pinned within
the profile's range), run in virtual time, the workaround and the robust integration hold every invariant.

The naive integration's violations are found and shrunk in `test_explore.py`.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.model.records import Verdict
from harness.scenarios import load_scenario
from harness.virtual.explore import Space, run_schedule, schedules
from tests.support.cli import ROOT

SPACES = {
    (name, integration): Space.of(load_scenario(ROOT / "scenarios" / f"{name}.yaml"), integration, seed=1)
    for name in ("over-invoice", "stuck-order", "workaround-window")
    for integration in ("workaround", "robust")
}

PROPERTY = settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("key", sorted(SPACES), ids="-".join)
@PROPERTY
@given(data=st.data())
def test_the_workaround_and_robust_hold_every_invariant(key: tuple[str, str], data: st.DataObject) -> None:
    space = SPACES[key]
    schedule = data.draw(schedules(space))
    outcome = run_schedule(space, schedule)
    broken = [f"{r.checker}: {r.explanation}" for r in outcome.results if r.verdict is not Verdict.VALID]
    assert broken == []
    assert outcome.record.error is None
