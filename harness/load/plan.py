"""A scenario expanded for load: the runs the locust users fire, one order each.

Owns `LoadPlan` and `STRATEGIES` (the integrations the profiles' user classes run).

Imports: stdlib, `harness.load.options`, `harness.model`, `harness.errors`; `harness.scenarios` (pydantic, yaml) only
when a plan is loaded. Never locust, gevent or asyncio.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import InvalidScenario
from harness.load.options import STEP_ACTIONS, resolve_scenario
from harness.model.records import RunSpec

if TYPE_CHECKING:
    from harness.scenarios import Scenario

__all__ = ["STRATEGIES", "LoadPlan"]

STRATEGIES = ("naive", "naive-retry", "workaround", "robust")
"""The integrations the locust profiles' user classes run (`harness.drive.blocking.load_blocking` loads any other
driven by the scenario's steps, a user's `module:Class` included)."""


def _slug(text: str, size: int) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:size].strip("-") or "x"


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """A scenario expanded for load: the runs of its matrix (each cell, each repetition), cycled through.

    plan = LoadPlan.load("scenarios/over-invoice.yaml", seed=1)
    spec = plan.spec("naive", 17)     # the 18th race of this process: the next run of the matrix, a new order id

    Schedules do not depend on the integration (A/B runs get the same ones), so one list serves every user class.
    """

    scenario: Scenario
    seed: int
    token: str
    """Random per process: order ids never collide across processes, workers or repeated tests."""
    runs: tuple[RunSpec, ...]

    @classmethod
    def load(cls, path: str | Path, *, seed: int, token: str | None = None) -> LoadPlan:
        """Load and expand a scenario.

        Raises:
            InvalidScenario: the file does not load, or has a step a load profile cannot fire.
        """
        from harness.scenarios import expand, load_scenario  # pydantic and yaml: only when a plan is loaded

        scenario = load_scenario(resolve_scenario(path))
        for step in scenario.steps:
            if step.do not in STEP_ACTIONS:
                raise InvalidScenario(
                    f"`do: {step.do}` is not fired by load profiles; they fire {', '.join(STEP_ACTIONS)} "
                    "(use racelab run for the other steps)",
                    path=scenario.path,
                    line=step.line,
                    field=f"steps[{step.index}].do",
                )
        runs = tuple(expand(scenario, seed=seed, integrations=[scenario.integrations[0]]))
        return cls(scenario=scenario, seed=seed, token=token or secrets.token_hex(4), runs=runs)

    def spec(self, integration: str, k: int) -> RunSpec:
        """The `k`-th race of `integration` in this process: the matrix's runs in turn, each on a new order."""
        base = self.runs[k % len(self.runs)]
        order_id = f"{_slug(self.scenario.name, 16)}-{_slug(integration, 11)}-{self.token}-{k}"
        run_id = f"{base.run_id.rsplit('-', 1)[0]}-{integration}-{self.token}-{k}"
        return dataclasses.replace(base, run_id=run_id, integration=integration, order_id=order_id)
