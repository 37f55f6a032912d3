"""Expansion: a scenario becomes its matrix of runs, each a `RunSpec` with its seed, order id and schedule.

Owns `expand()`: the cells (the cartesian product of the sweeps), the repetitions, and the integrations of an A/B
comparison, which share each repetition's schedule and seed; the draws of a distribution's `at` (one named stream
per repetition and step, drawn with the contract's model); the runs' seeds and order ids.

Imports: stdlib, `simulator.contract`, `harness.errors`, `harness.model`, `harness.scenarios.records` and `.schema`.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from harness.errors import InvalidScenario
from harness.model.records import RunSpec, Step
from simulator.contract import MAX_DURATION_MS, Distribution

from .records import Scenario, StepSpec, Sweep
from .schema import MAX_RUNS, MAX_RUNS_PER_INTEGRATION, describe_distribution, integration_problem, show

__all__ = ["expand"]


def expand(
    scenario: Scenario, *, seed: int, runs: int | None = None, integrations: Sequence[str] | None = None
) -> list[RunSpec]:
    """The scenario's matrix of runs: for each cell, each repetition, each integration (A/B runs are adjacent).

    A cell is one point of the cartesian product of the sweeps (steps in file order, the first varying slowest);
    `RunSpec.cell` names it, e.g. `{"step1.at_ms": 250.0}`, and shows a distribution's description under its step's
    key. A distribution is drawn per repetition from `random.Random(f"{seed}|{name}|{cell}|{repetition}|{step}")`,
    and the run's seed derives from (seed, name, cell, repetition): every integration gets the same schedule and seed.

    Args:
        scenario: a loaded scenario.
        seed: the suite's seed; the same seed gives the same list.
        runs: repetitions per cell, instead of the scenario's `runs`.
        integrations: instead of the scenario's integrations.

    Raises:
        InvalidScenario: `runs` out of range, an unknown or repeated integration, or a matrix too large.
    """
    reps = scenario.runs if runs is None else runs
    if isinstance(reps, bool) or not isinstance(reps, int) or not 1 <= reps <= MAX_RUNS:
        raise InvalidScenario(f"must be between 1 and {MAX_RUNS} (got {show(reps)})", path=scenario.path, field="runs")
    names = scenario.integrations if integrations is None else tuple(integrations)
    if not names:
        raise InvalidScenario("needs at least one integration", path=scenario.path, field="integrations")
    for i, name in enumerate(names):
        problem = integration_problem(name, names[:i])
        if problem:
            raise InvalidScenario(problem, path=scenario.path, field=f"integrations[{i}]")

    swept = [s for s in scenario.steps if isinstance(s.at, Sweep)]
    axes = [s.at.values() for s in swept if isinstance(s.at, Sweep)]
    cells = math.prod(len(a) for a in axes)
    if cells * reps > MAX_RUNS_PER_INTEGRATION:
        raise InvalidScenario(
            f"{cells} cells x {reps} runs make {cells * reps} runs per integration; at most {MAX_RUNS_PER_INTEGRATION}",
            path=scenario.path,
            field="runs",
        )
    ids = {name: _order_id_prefix(scenario.name, name, seed) for name in names}
    specs: list[RunSpec] = []
    for cell_index, point in enumerate(itertools.product(*axes)):
        at_of = {s.index: at for s, at in zip(swept, point, strict=True)}
        cell: dict[str, Any] = {}
        for s in scenario.steps:
            if s.index in at_of:
                cell[s.cell_key] = at_of[s.index]
            elif isinstance(s.at, Distribution):
                cell[s.cell_key] = describe_distribution(s.at)
        for repetition in range(reps):
            steps = tuple(
                Step(at_ms=_at_ms(s, at_of, seed, scenario.name, cell_index, repetition), do=s.do, args=s.args)
                for s in scenario.steps
            )
            run_seed = _derive_seed(seed, scenario.name, cell_index, repetition)
            for name in names:
                specs.append(
                    RunSpec(
                        run_id=f"{cell_index:04d}-{repetition:04d}-{name}",
                        scenario=scenario.name,
                        integration=name,
                        cell=cell,
                        repetition=repetition,
                        seed=run_seed,
                        order_id=f"{ids[name]}-{cell_index}-{repetition}",
                        order=scenario.order,
                        steps=steps,
                        expect=scenario.expect,
                    )
                )
    return specs


def _at_ms(step: StepSpec, at_of: Mapping[int, float], seed: int, name: str, cell: int, repetition: int) -> float:
    if isinstance(step.at, Distribution):
        # The integration is not part of the stream's name: A/B runs of one repetition draw the same offsets.
        drawn = step.at.draw_ms(random.Random(f"{seed}|{name}|{cell}|{repetition}|{step.index}"))
        # An uncapped tail (lognormal, exponential) may draw past anything a run can wait for: hold it to the longest
        # duration a file may write, as the contract holds pareto's.
        return min(drawn, MAX_DURATION_MS)
    if isinstance(step.at, Sweep):
        return at_of[step.index]
    return step.at


def _derive_seed(seed: int, name: str, cell: int, repetition: int) -> int:
    digest = hashlib.sha256(f"{seed}|{name}|{cell}|{repetition}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & (2**53 - 1)  # exact as a JSON number, in Python and in a browser


def _slug(text: str, size: int) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:size].strip("-") or "x"


def _order_id_prefix(scenario: str, integration: str, seed: int) -> str:
    """`over-invoice-naive-1f3a9c0b2d`: readable, and unique per (seed, scenario, integration) through the hash.

    With the cell and repetition appended it stays within the control API's order id pattern
    (`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$`): at most 20 + 12 + 10 + 7 + 6 characters and 4 dashes.
    """
    digest = hashlib.sha256(f"{seed}|{scenario}|{integration}".encode()).hexdigest()[:10]
    return f"{_slug(scenario, 20)}-{_slug(integration, 12)}-{digest}"
