"""racelab's harness: drives the services under test, records what happened, and judges it.

General layout (imports point down this list, never up):

    cli.py, pytest_plugin.py   the entry points; the only modules that may import `simulator` (to embed it)
    suite.py                   a whole `racelab run`: load, expand, run, judge, write, report
    runner.py                  the one interpreter of schedules; the only place that creates tasks
    embedded.py                the simulator as a child process      hook_receiver.py   the harness's hook subscriber
    integrations.py            naive, workaround, robust, hook-driven, external, module:Class
    client.py                  HTTP clients that record every request as history
    scenario.py                scenario files → RunSpecs              results.py   result folders, the summary table
    gates.py, stats.py         aggregates, Wilson intervals, gate decisions     (pure)
    checkers.py                the invariants                                    (pure)
    model.py                   plain records: operations, runs, verdicts        (pure)
    errors.py                  the error tree

The pure modules import nothing but each other, so the locust profiles (gevent) can reuse them; importing this
package stays as light as they are: the rest is loaded on first use.

    from harness import load_scenario, expand, run_specs, Endpoints
"""

from __future__ import annotations

import importlib
from typing import Any

from harness.errors import HarnessConnectionError, HarnessError, InvalidScenario
from harness.judge.checkers import CHECKERS, check, check_all
from harness.model.records import (
    CheckResult,
    FinalState,
    Operation,
    Outcome,
    RunRecord,
    RunSpec,
    Step,
    Verdict,
    merge_verdicts,
)

_LAZY = {
    "Endpoints": "drive.client",
    "RunOutcome": "drive.runner",
    "RunnerOptions": "drive.runner",
    "Scenario": "scenarios",
    "SuiteOptions": "drive.suite",
    "expand": "scenarios",
    "load_scenario": "scenarios",
    "run_specs": "drive.runner",
    "run_suite": "drive.suite",
}

__all__ = [
    "CHECKERS",
    "CheckResult",
    "Endpoints",
    "FinalState",
    "HarnessConnectionError",
    "HarnessError",
    "InvalidScenario",
    "Operation",
    "Outcome",
    "RunOutcome",
    "RunRecord",
    "RunSpec",
    "RunnerOptions",
    "Scenario",
    "Step",
    "SuiteOptions",
    "Verdict",
    "check",
    "check_all",
    "expand",
    "load_scenario",
    "merge_verdicts",
    "run_specs",
    "run_suite",
]


def __getattr__(name: str) -> Any:
    """The modules that need asyncio and aiohttp are imported when first asked for, not with the package."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
