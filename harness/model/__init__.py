"""The plain model: records of runs, operations and verdicts, the typed summary and the run codec.

Layout (imports point down this list):

    codec.py     a judged run as one line of `runs.jsonl`, and back
    summary.py   `Summary` and its parts: what `summary.json` holds, typed
    records.py   runs, operations, the final state and its typed view, verdicts and `run_verdict`

Imports: stdlib only (pure: the checkers, the sans-IO integrations and the locust profiles build on it).
"""

from __future__ import annotations

from .codec import completed_run_ids, read_runs, run_from_json, run_lines, run_to_json, truncate_torn_tail
from .records import (
    CheckResult,
    FinalState,
    Invoice,
    Operation,
    Outcome,
    RunRecord,
    RunSpec,
    Step,
    Verdict,
    merge_verdicts,
    run_verdict,
)
from .summary import (
    CheckerTally,
    CostSummary,
    GateResult,
    IntegrationCost,
    Interruption,
    SkewSummary,
    Summary,
    Tally,
    TimeToInvoice,
)

__all__ = [
    "CheckResult",
    "CheckerTally",
    "CostSummary",
    "FinalState",
    "GateResult",
    "IntegrationCost",
    "Interruption",
    "Invoice",
    "Operation",
    "Outcome",
    "RunRecord",
    "RunSpec",
    "SkewSummary",
    "Step",
    "Summary",
    "Tally",
    "TimeToInvoice",
    "Verdict",
    "completed_run_ids",
    "merge_verdicts",
    "read_runs",
    "run_from_json",
    "run_lines",
    "run_to_json",
    "run_verdict",
    "truncate_torn_tail",
]
