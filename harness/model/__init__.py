"""The plain model: records of runs, operations and verdicts (pure: stdlib only)."""

from __future__ import annotations

from .records import CheckResult, FinalState, Operation, Outcome, RunRecord, RunSpec, Step, Verdict, merge_verdicts

__all__ = [
    "CheckResult",
    "FinalState",
    "Operation",
    "Outcome",
    "RunRecord",
    "RunSpec",
    "Step",
    "Verdict",
    "merge_verdicts",
]
