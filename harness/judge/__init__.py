"""Judging runs: the checkers, the one verdict function, gates, statistics and the summary. Pure.

Layout (imports point down this list):

    summarize.py   `SummaryBuilder` (one run at a time) and `build_summary`: judged runs and gates → `Summary`
    gates.py       tallies per (scenario, integration) and per cell; a scenario's gates decided
    stats.py       Wilson intervals, percentiles, send skew, time to invoice, the workaround's cost
    checkers.py    the invariants; `check_all` judges one run, its verdict by `run_verdict`

`run_verdict` itself is a rule of the model (`harness.model.records`), so that the run codec can write a run's
verdict without importing the judges; it is re-exported here as the judges' one verdict function.

Imports: stdlib, `harness.model` and `simulator.contract`; never asyncio, aiohttp or the rest of `simulator`.

    results, verdict = check_all(record, record.spec.expect)
    builder = SummaryBuilder(); builder.add(record, results); builder.build(gates=gates, seed=1)
"""

from __future__ import annotations

from harness.model.records import run_verdict

from .checkers import CHECKERS, check, check_all
from .gates import Aggregate, GateLike, Tallies, aggregate, evaluate_gates
from .stats import (
    InvoiceTimes,
    SkewSamples,
    invoice_cost,
    percentile,
    summarize_skew,
    summarize_time_to_invoice,
    time_to_invoice,
    wilson,
)
from .summarize import Example, RunError, SummaryBuilder, build_summary

__all__ = [
    "CHECKERS",
    "Aggregate",
    "Example",
    "GateLike",
    "InvoiceTimes",
    "RunError",
    "SkewSamples",
    "SummaryBuilder",
    "Tallies",
    "aggregate",
    "build_summary",
    "check",
    "check_all",
    "evaluate_gates",
    "invoice_cost",
    "percentile",
    "run_verdict",
    "summarize_skew",
    "summarize_time_to_invoice",
    "time_to_invoice",
    "wilson",
]
