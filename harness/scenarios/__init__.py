"""Scenarios: the files QA edits, loaded, validated with errors that say where and what, and expanded into runs.

General layout (imports point down this list, never up):

    loading.py     load_scenario(), find_scenarios(): YAML files and Python scripts, every mistake located
    expansion.py   expand(): cells x repetitions x integrations → RunSpecs, with their seeds and order ids
    schema.py      the format's vocabulary and the pydantic models that validate a file
    records.py     what a loaded scenario is: Scenario, StepSpec, Sweep, Gate (plain, immutable)

The format (DESIGN §4.2):

    name: over-invoice
    profile: default                 # simulator profile (name, or path relative to this file), `simulator:` overrides
    order: {items: [{id: sku-1, price: 4990, quantity: 2}], shipping: 1000, status: handling}
    integrations: [naive, workaround]
    steps:
      - {at: 0ms, do: invoice}
      - {at: {from: 50ms, to: 1000ms, step: 50ms}, do: change, remove: [{id: sku-1, quantity: 1}]}
    runs: 20
    expect: [no-over-invoice]
    gate: {naive: {reproduces: true}, workaround: {violations: 0}}

An `at` is a duration (`0`, `250ms`, `1.5s`; a number is ms), a sweep `{from, to, step}` (one matrix cell per
point; several sweeps multiply), or a distribution `{kind: uniform|normal|lognormal|exponential|pareto|empirical|
fixed, ...}`: the simulator's own delay models (`simulator.contract`), drawn once per repetition from a stream seeded
by (seed, scenario, cell, repetition, step), so every integration of an A/B comparison gets the same schedule. A
Python scenario script (`SCENARIO = {...}` or `def scenario()`) may add its own actions as flows,
`def step_<name>(run, step)`, generator functions that yield requests (docs/integrations.md).

Imports: stdlib, pydantic, yaml, `simulator.contract` (the one part of the simulator the harness's pure modules
import), `harness.model`, `harness.errors`. Never the rest of `simulator`: the harness reaches it only over HTTP.

    scenario = load_scenario("scenarios/over-invoice.yaml")
    specs = expand(scenario, seed=1)
"""

from __future__ import annotations

from simulator.contract import Distribution

from .expansion import expand
from .loading import find_scenarios, load_scenario
from .records import Gate, Handler, Scenario, StepSpec, Sweep
from .schema import (
    ACTION_ARGS,
    ACTIONS,
    CHECKER_NAMES,
    INTEGRATIONS,
    MAX_POINTS,
    MAX_RUNS,
    MAX_RUNS_PER_INTEGRATION,
    describe_distribution,
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
    "describe_distribution",
    "expand",
    "find_scenarios",
    "load_scenario",
]
