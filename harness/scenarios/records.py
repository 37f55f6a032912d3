"""What a scenario file becomes once loaded: plain, immutable records.

Owns `Scenario`, `StepSpec` (a step as written, before expansion), `Sweep` (an `at` that takes every value of a
range, with its arithmetic) and `Gate` (what CI requires of an integration), and `Handler`, the type of a Python
scenario script's custom step. `load_scenario` builds them (`loading.py`), `expand` turns them into runs
(`expansion.py`).

Imports: stdlib, `harness.model`, `simulator.contract` (the distributions a step's `at` may draw from).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.model.records import Step
from simulator.contract import Distribution

__all__ = ["Gate", "Handler", "Scenario", "StepSpec", "Sweep", "sweep_points", "sweep_values"]

Handler = Callable[[Any, Step], Generator[Any, Any, Any]]
"""A custom step of a Python scenario script, a flow: `def step_<name>(run, step)`, a generator function that yields
requests and receives their answers (`docs/integrations.md`); the runner drives it as it drives an integration."""


@dataclass(frozen=True, slots=True)
class Gate:
    """What CI requires of one integration over all of a scenario's runs (`gate:` in the file).

        Gate(reproduces=True)            # the canary: at least one run violates an expected invariant
        Gate(violations=0)               # never; `max_rate=0.05`: at most 5 % of the runs

    Evaluating a gate is the reporter's business; this is only what the file asked for.
    """

    reproduces: bool | tuple[str, ...] | None = None
    """True: at least one run violates an expected invariant; a tuple of checker names: one of those."""
    violations: int | None = None
    """At most this many violating runs."""
    max_rate: float | None = None
    """At most this share (0..1) of violating runs."""


@dataclass(frozen=True, slots=True)
class Sweep:
    """An `at` that takes every value from `start_ms` to `stop_ms` (inclusive when it lands on a step).

        Sweep(50.0, 1000.0, 50.0).values()   # (50.0, 100.0, ..., 1000.0)

    Each value is one point of the scenario's matrix.
    """

    start_ms: float
    stop_ms: float
    step_ms: float

    def values(self) -> tuple[float, ...]:
        """Every point of the sweep, in order."""
        return sweep_values(self.start_ms, self.stop_ms, self.step_ms)


def sweep_values(start: float, stop: float, step: float) -> tuple[float, ...]:
    """The points of a sweep from `start` to `stop` by `step` (milliseconds), `stop` included when it lands on one."""
    # Computed from the index, not by accumulation, so 50 + 19 x 50 is 1000 and not 999.9999...
    return tuple(round(start + i * step, 6) for i in range(sweep_points(start, stop, step)))


def sweep_points(start: float, stop: float, step: float) -> int:
    """How many points a sweep has, without making them."""
    # The epsilon keeps `stop` when it lands on a step up to float rounding.
    return math.floor((stop - start) / step + 1e-9) + 1


@dataclass(frozen=True, slots=True)
class StepSpec:
    """One step as the file says it, before expansion: `at` is still a duration, a sweep or a distribution."""

    index: int
    do: str
    at: float | Sweep | Distribution
    args: Mapping[str, Any]
    """Every other field of the step (`remove`, `add`, `value`, `reason`...), as written."""
    line: int | None = None

    @property
    def cell_key(self) -> str:
        """The key of this step in `RunSpec.cell` when its `at` varies: `step1.at_ms`."""
        return f"step{self.index}.at_ms"


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario file.

        scenario = load_scenario("scenarios/over-invoice.yaml")
        specs = expand(scenario, seed=1)       # cells x runs x integrations

    Plain data once loaded; `handlers` are the only code it carries.
    """

    name: str
    summary: str
    path: Path
    profile: str
    """A profile name (`default`), or an absolute path to a profile file."""
    simulator: dict[str, Any]
    """Overrides merged into the profile (not validated here: the simulator's config does that)."""
    order: dict[str, Any]
    """What to seed (`POST /_sim/orders` without `orderId`): items, shipping, discounts, tax, status; plus
    `accounting` when given."""
    integrations: tuple[str, ...]
    steps: tuple[StepSpec, ...]
    runs: int
    expect: tuple[str, ...]
    gates: Mapping[str, Gate]
    handlers: Mapping[str, Handler]
    """Custom `do:` actions of a Python scenario script, by name: flows the runner drives."""
