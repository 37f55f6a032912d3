"""Expansion of a scenario into runs (`harness.scenarios.expand`): sweeps into cells, repetitions and
integrations; seeds, draws and order ids, deterministic for a seed; overrides refused; distributions that
draw exactly what the simulator draws.

Files are edits of tests/support/scenario_files.py's BASE, written into `tmp_path`.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from harness.errors import InvalidScenario
from harness.model.records import RunSpec
from harness.scenarios import (
    MAX_RUNS,
    MAX_RUNS_PER_INTEGRATION,
    Distribution,
    describe_distribution,
    expand,
    load_scenario,
)
from simulator.contract import Delay
from tests.support.scenario_files import BASE, edit, scenario_of, write

ORDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")  # the control API's pattern

# ---------------------------------------------------------------------------------------------------- expansion


def test_a_sweep_expands_into_cells_repetitions_and_integrations(tmp_path: Path) -> None:
    scenario = scenario_of(tmp_path, BASE)
    specs = expand(scenario, seed=7)
    assert len(specs) == 20 * 2 * 2
    assert all(isinstance(s, RunSpec) for s in specs)
    # For each cell, each repetition, each integration: A/B runs of one schedule are adjacent.
    assert [(s.cell["step1.at_ms"], s.repetition, s.integration) for s in specs[:6]] == [
        (50.0, 0, "naive"),
        (50.0, 0, "workaround"),
        (50.0, 1, "naive"),
        (50.0, 1, "workaround"),
        (100.0, 0, "naive"),
        (100.0, 0, "workaround"),
    ]
    assert sorted({s.cell["step1.at_ms"] for s in specs}) == [50.0 * k for k in range(1, 21)]
    assert [s.run_id for s in specs[:5]] == [
        "0000-0000-naive",
        "0000-0000-workaround",
        "0000-0001-naive",
        "0000-0001-workaround",
        "0001-0000-naive",
    ]
    last = specs[-1]
    assert (last.run_id, last.steps[1].at_ms, last.steps[0].at_ms) == ("0019-0001-workaround", 1000.0, 0.0)
    assert last.steps[1].do == "change"
    assert dict(last.steps[1].args) == {"remove": [{"id": "sku-2", "quantity": 1}]}
    assert last.scenario == "t"
    assert last.expect == ("no-over-invoice", "no-lost-invoice")
    assert last.order == scenario.order


@pytest.mark.parametrize(
    ("sweep", "values"),
    [
        ("{from: 0, to: 100ms, step: 30ms}", [0.0, 30.0, 60.0, 90.0]),
        ("{from: 0, to: 90ms, step: 30ms}", [0.0, 30.0, 60.0, 90.0]),
        ("{from: 0.1s, to: 0.3s, step: 0.1s}", [100.0, 200.0, 300.0]),
        ("{from: 0.1, to: 0.3, step: 0.1}", [0.1, 0.2, 0.3]),
        ("{from: 5ms, to: 5ms, step: 1ms}", [5.0]),
    ],
)
def test_a_sweep_includes_to_when_it_lands_on_a_step(tmp_path: Path, sweep: str, values: list[float]) -> None:
    scenario = scenario_of(tmp_path, edit("{from: 50ms, to: 1000ms, step: 50ms}", sweep))
    assert [s.steps[1].at_ms for s in expand(scenario, seed=1, runs=1, integrations=["naive"])] == values


def test_two_sweeps_make_the_cartesian_product(tmp_path: Path) -> None:
    text = edit("at: 0ms", "at: {from: 0, to: 10, step: 10}").replace("to: 1000ms", "to: 150ms")
    specs = expand(scenario_of(tmp_path, text), seed=1, runs=1, integrations=["naive"])
    assert [dict(s.cell) for s in specs] == [
        {"step0.at_ms": a, "step1.at_ms": b} for a in (0.0, 10.0) for b in (50.0, 100.0, 150.0)
    ]
    assert [(s.steps[0].at_ms, s.steps[1].at_ms) for s in specs] == [
        (a, b) for a in (0.0, 10.0) for b in (50.0, 100.0, 150.0)
    ]
    assert [s.run_id for s in specs][-1] == "0005-0000-naive"


def test_without_a_sweep_there_is_one_cell(tmp_path: Path) -> None:
    specs = expand(scenario_of(tmp_path, edit("{from: 50ms, to: 1000ms, step: 50ms}", "300ms")), seed=1)
    assert [(s.cell, s.steps[1].at_ms) for s in specs] == [({}, 300.0)] * 4


def test_a_distribution_is_drawn_per_repetition_identically_for_every_integration(tmp_path: Path) -> None:
    text = edit("at: 0ms", "at: {kind: uniform, min_ms: 0, max_ms: 40}")
    scenario = scenario_of(tmp_path, text)
    specs = expand(scenario, seed=11, runs=50, integrations=["naive", "workaround", "robust"])
    assert len(specs) == 20 * 50 * 3
    for i in range(0, len(specs), 3):
        trio = specs[i : i + 3]
        assert [s.integration for s in trio] == ["naive", "workaround", "robust"]
        assert trio[0].steps == trio[1].steps == trio[2].steps  # the same schedule
        assert trio[0].seed == trio[1].seed == trio[2].seed  # the same seed
        assert len({(s.cell["step1.at_ms"], s.repetition) for s in trio}) == 1
    drawn = [s.steps[0].at_ms for s in specs[::3]]
    assert all(0.0 <= ms <= 40.0 for ms in drawn)
    assert len(set(drawn)) == len(drawn)  # one draw per repetition and cell
    assert {s.cell["step0.at_ms"] for s in specs} == {"uniform(min_ms=0, max_ms=40)"}
    # The stream is named by (seed, scenario, cell, repetition, step), so anyone can recompute a draw.
    third = specs[3 * (50 * 4 + 7)]  # cell 4, repetition 7
    assert (third.cell["step1.at_ms"], third.repetition) == (250.0, 7)
    assert third.steps[0].at_ms == random.Random("11|t|4|7|0").uniform(0.0, 40.0)


def test_expansion_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    text = edit("at: 0ms", "at: {kind: lognormal, median_ms: 100, sigma: 1, cap_ms: 2000}")
    scenario = scenario_of(tmp_path, text)
    once, again, other = expand(scenario, seed=3), expand(scenario, seed=3), expand(scenario, seed=4)
    assert once == again
    assert [s.steps for s in once] != [s.steps for s in other]
    assert [s.seed for s in once] != [s.seed for s in other]
    assert [s.order_id for s in once] != [s.order_id for s in other]
    # runs are independent of the integrations chosen and of how many repetitions follow
    assert expand(scenario, seed=3, runs=1, integrations=["naive"]) == [
        s for s in once if s.repetition == 0 and s.integration == "naive"
    ]


def test_seeds_differ_between_repetitions_and_cells(tmp_path: Path) -> None:
    specs = expand(scenario_of(tmp_path, BASE), seed=1, integrations=["naive"])
    seeds = [s.seed for s in specs]
    assert len(set(seeds)) == len(seeds)
    assert all(0 <= seed < 2**53 for seed in seeds)


def test_order_ids_are_unique_across_scenarios_and_integrations_and_fit_the_control_api(tmp_path: Path) -> None:
    long_name = "a-scenario-with-a-really-rather-long-name-indeed"
    first = scenario_of(tmp_path, BASE)
    second = load_scenario(write(tmp_path, edit("name: t", f"name: {long_name}"), name="other.yaml"))
    integrations = ["naive", "workaround", "some.very.long.module.path:SomeIntegration", "external:http://h:1/x"]
    specs = [
        *expand(first, seed=1, integrations=integrations),
        *expand(second, seed=1, integrations=integrations),
    ]
    ids = [s.order_id for s in specs]
    assert len(set(ids)) == len(ids)
    assert all(ORDER_ID.match(i) for i in ids), max(ids, key=len)
    assert specs[0].order_id.startswith("t-naive-")
    # the longest an id can get: the largest cell and repetition indexes the limits allow
    prefix = specs[-1].order_id.rsplit("-", 2)[0]
    assert ORDER_ID.match(f"{prefix}-{MAX_RUNS_PER_INTEGRATION - 1}-{MAX_RUNS - 1}")


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"runs": 0}, "runs", "must be between 1 and 100000 (got 0)"),
        ({"runs": True}, "runs", "must be between 1 and 100000"),
        ({"runs": 60_000}, "runs", "20 cells x 60000 runs make 1200000 runs per integration"),
        ({"integrations": []}, "integrations", "needs at least one integration"),
        ({"integrations": ["naive", "nope"]}, "integrations[1]", "unknown integration nope"),
        ({"integrations": ["robust", "robust"]}, "integrations[1]", "robust is listed twice"),
    ],
)
def test_expand_refuses_bad_overrides(tmp_path: Path, kwargs: dict[str, Any], field: str, message: str) -> None:
    scenario = scenario_of(tmp_path, BASE)
    with pytest.raises(InvalidScenario) as info:
        expand(scenario, seed=1, **kwargs)
    assert (info.value.field, info.value.path) == (field, scenario.path)
    assert message in info.value.message


# -------------------------------------------------------------------------------- distributions, as the simulator


DISTRIBUTIONS: list[dict[str, Any]] = [
    {"kind": "fixed", "ms": 20},
    {"kind": "uniform", "min_ms": 50, "max_ms": 1000},
    {"kind": "normal", "mean_ms": 100, "sd_ms": 40, "min_ms": 50, "max_ms": 150},
    {"kind": "lognormal", "median_ms": "250ms", "sigma": 1.0, "cap_ms": "1s"},
    {"kind": "exponential", "mean_ms": 100, "cap_ms": 300},
    {"kind": "pareto", "scale_ms": 20, "alpha": 1.5, "cap_ms": 5000},
    {"kind": "empirical", "values_ms": [12, "15ms", 40, "0.3s"]},
]


class _Holder(BaseModel):
    delay: Delay


@pytest.mark.parametrize("spec", DISTRIBUTIONS, ids=[d["kind"] for d in DISTRIBUTIONS])
def test_distributions_draw_exactly_what_the_simulator_draws(tmp_path: Path, spec: dict[str, Any]) -> None:
    flow = "{" + ", ".join(f"{k}: {v!r}".replace("'", "") for k, v in spec.items()) + "}"
    at = scenario_of(tmp_path, edit("at: 0ms", f"at: {flow}")).steps[0].at
    assert isinstance(at, Distribution)
    theirs = _Holder(delay=spec).delay
    ours_rng, their_rng = random.Random(5), random.Random(5)
    assert [at.draw_ms(ours_rng) for _ in range(200)] == [theirs.draw_ms(their_rng) for _ in range(200)]


@pytest.mark.parametrize(
    "flow", ["{kind: pareto, scale_ms: 20, alpha: 0.001}", "{kind: exponential, mean_ms: 3000000}"]
)
def test_an_uncapped_tail_is_held_to_an_hour(tmp_path: Path, flow: str) -> None:
    specs = expand(scenario_of(tmp_path, edit("at: 0ms", f"at: {flow}")), seed=1, runs=50, integrations=["naive"])
    drawn = [s.steps[0].at_ms for s in specs]
    assert max(drawn) == 3_600_000.0
    assert all(0.0 <= ms <= 3_600_000.0 for ms in drawn)


def test_a_distribution_describes_itself_for_the_cell(tmp_path: Path) -> None:
    def described(flow: str) -> str:
        at = scenario_of(tmp_path, edit("at: 0ms", f"at: {flow}")).steps[0].at
        assert isinstance(at, Distribution)
        return describe_distribution(at)

    assert described("{kind: normal, mean_ms: 100, sd_ms: 20}") == "normal(mean_ms=100, sd_ms=20, min_ms=0)"
    assert described("{kind: fixed, ms: 1.5s}") == "fixed(ms=1500)"
    assert described("{kind: empirical, values_ms: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}") == (
        "empirical(values_ms=[1, 2, 3, 4, ..., 9, 10] n=10)"
    )
