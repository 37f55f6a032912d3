"""`racelab bench`'s proxy measure (`harness.bench._proxy`): with tiny sizes it runs end to end against a real
simulator and a real `racelab proxy` child and yields a figure for every row; its rows say why when it could not
measure. Timing figures are never asserted."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from harness.bench import Plan
from harness.bench._proxy import ROW_KEYS, ProxySizes, measure_proxy, proxy_rows

TINY = replace(Plan.quick(), throughput_seconds=1, throughput_rounds=1)


@pytest.mark.slow
def test_the_proxy_measure_runs_with_tiny_sizes() -> None:
    sizes = ProxySizes(latency_requests=30, rounds=1, seconds=0.3, connections=4)
    steps: list[str] = []
    found = asyncio.run(measure_proxy(TINY, on_step=steps.append, sizes=sizes))
    rows = proxy_rows(found, {}, TINY)
    assert [r.key for r in rows] == list(ROW_KEYS)
    assert all(isinstance(r.figure, float) for r in rows), [r.figure for r in rows]
    assert not any(r.error for r in rows)
    assert found["latency_ms"]["direct"]["count"] == found["latency_ms"]["proxy"]["count"] == 30
    # Every exchange through the proxy is in its record (warm-up, latency and throughput rounds).
    assert found["latency_ms"]["own"]["count"] >= 30 + 30
    assert found["rps"]["direct"] > 0
    assert found["rps"]["proxy"] > 0
    assert any("throughput, proxy" in s for s in steps)


def test_the_rows_say_why_a_measure_is_missing() -> None:
    failed = proxy_rows(None, {"proxy": {"error": "HarnessError: no proxy"}}, TINY)
    assert [(r.key, r.error, r.note) for r in failed] == [
        (k, True, "could not measure: HarnessError: no proxy") for k in ROW_KEYS
    ]
    stopped = proxy_rows(None, {"proxy": {"interrupted": "SIGINT", "aborted": True}}, TINY)
    assert all(r.interrupted and r.note == "not measured: aborted by SIGINT" for r in stopped)


def test_sizes_follow_the_plan() -> None:
    quick, full = ProxySizes.of(Plan.quick()), ProxySizes.of(Plan.full())
    assert quick.latency_requests < full.latency_requests
    assert quick.rounds <= full.rounds
