"""Load testing: `racelab load`, and everything the locust profiles (`scenarios/load/`) share with it.

General layout (each module names what it may import):

    options.py      the profiles' own options (`--scenario`, `--iterations`, the thresholds, ...), added to locust's
                    parser and to `racelab load`'s alike; the default scenario; the steps a profile fires
    thresholds.py   what decides a load test's exit code (`Thresholds`, `evaluate`) and the verdict as JSON
    tally.py        judged runs per integration (`LoadTally`), merged from the workers on the master
    command.py      `racelab load`: locust as a child process, with the embedded simulator and a summary (the
                    command line registers it; this package does not import it)
    plan.py         a scenario expanded for load (`LoadPlan`), the integrations the profiles run
The race itself is `harness.drive.blocking` (the blocking driver of the integrations' flows), re-exported here for
the locust profiles.

Never imports locust, gevent or asyncio at module level, nor `simulator`: the locust process imports this package
under gevent, and `racelab --help` imports it too.
"""

from __future__ import annotations

from harness.drive.blocking import (
    RaceOutcome,
    Task,
    Transport,
    credential_headers,
    load_blocking,
    run_race,
    spawn_thread,
)
from harness.integrations.flow import Answer
from harness.load.options import DEFAULT_SCENARIO, STEP_ACTIONS, add_load_arguments, load_argv, resolve_scenario
from harness.load.plan import STRATEGIES, LoadPlan
from harness.load.tally import LoadTally
from harness.load.thresholds import (
    RACE_TYPE,
    EndpointStats,
    ThresholdResult,
    Thresholds,
    ViolationLimit,
    evaluate,
    parse_max_p95,
    parse_max_violations,
    thresholds_from,
    verdict,
)

__all__ = [
    "DEFAULT_SCENARIO",
    "RACE_TYPE",
    "STEP_ACTIONS",
    "STRATEGIES",
    "Answer",
    "EndpointStats",
    "LoadPlan",
    "LoadTally",
    "RaceOutcome",
    "Task",
    "ThresholdResult",
    "Thresholds",
    "Transport",
    "ViolationLimit",
    "add_load_arguments",
    "credential_headers",
    "evaluate",
    "load_argv",
    "load_blocking",
    "parse_max_p95",
    "parse_max_violations",
    "resolve_scenario",
    "run_race",
    "spawn_thread",
    "thresholds_from",
    "verdict",
]
