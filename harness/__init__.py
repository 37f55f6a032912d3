"""racelab's harness: drives the services under test, records what happened, and judges it.

General layout (docs/architecture.md is the rule, with who may import whom; tests/unit/test_layers.py enforces it):

    cli/, pytest_plugin.py, bench/   the entry points (with virtual/, the only ones that embed `simulator`)
    virtual/                         virtual time: the clock, in-process pipes, the universe, replay, explore
    load/                            `racelab load` and what the locust profiles share; never imports locust
    drive/                           the drivers of the flows: the async runner (the only place that creates
                                     tasks), the blocking driver, transports, the embedded simulator, the suite
    output/                          the result folder, JUnit, the summary table, report.html
    integrations/                    the integrations as sans-IO flows, their typed contract, the registry  (pure)
    scenarios/                       scenario files: schema, loading, expansion into runs                  (pure)
    judge/                           checkers, the one verdict function, gates, statistics                (pure)
    model/                           plain records, the run codec, the typed summary                       (pure)
    errors.py, resources.py          the error tree; racelab's own files (built-in scenarios, profiles)

The pure layers import no event loop and no HTTP client, so the locust profiles (gevent) reuse them; importing this
package stays as light as they are: the rest is loaded on first use.

    from harness import load_scenario, expand, run_specs, Endpoints
    from harness import Integration, Run, Flow      # to write your own integration: docs/integrations.md
"""

from __future__ import annotations

import importlib
from typing import Any

from harness.errors import HarnessConnectionError, HarnessError, InvalidScenario, UsageError
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
    "Endpoints": "drive.transport",
    "Flow": "integrations",
    "Integration": "integrations",
    "Run": "integrations",
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
    "Flow",
    "HarnessConnectionError",
    "HarnessError",
    "Integration",
    "InvalidScenario",
    "Operation",
    "Outcome",
    "Run",
    "RunOutcome",
    "RunRecord",
    "RunSpec",
    "RunnerOptions",
    "Scenario",
    "Step",
    "SuiteOptions",
    "UsageError",
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
