"""Scenarios: the file format (schema), loading scenario files, and expanding them into runs."""

from __future__ import annotations

from ._scenario import (
    ACTION_ARGS,
    ACTIONS,
    CHECKER_NAMES,
    INTEGRATIONS,
    MAX_POINTS,
    MAX_RUNS,
    MAX_RUNS_PER_INTEGRATION,
    Distribution,
    Gate,
    Handler,
    Scenario,
    StepSpec,
    Sweep,
    expand,
    find_scenarios,
    load_scenario,
)

__all__ = [
    "ACTIONS",
    "ACTION_ARGS",
    "CHECKER_NAMES",
    "INTEGRATIONS",
    "MAX_POINTS",
    "MAX_RUNS",
    "MAX_RUNS_PER_INTEGRATION",
    "Distribution",
    "Gate",
    "Handler",
    "Scenario",
    "StepSpec",
    "Sweep",
    "expand",
    "find_scenarios",
    "load_scenario",
]
