"""The summary of a set of judged runs: tallies, gate decisions and statistics, as one typed `Summary`.

Owns `build_summary`: what `summary.json` holds, computed from the judged runs and the scenarios' gates (the records
are `harness.model.summary`'s; writing them is `harness.output.folder`'s).

Imports: stdlib, `harness.model` and `harness.judge` (pure).

    summary = build_summary(judged, gates={"over-invoice": {"naive": scenario.gates["naive"]}}, seed=1)
    summary.passed, summary.gates[0].reason
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from harness.judge.gates import GateLike, aggregate, evaluate_gates
from harness.judge.stats import invoice_cost, summarize_skew, summarize_time_to_invoice
from harness.model.records import CheckResult, RunRecord
from harness.model.summary import Summary

__all__ = ["build_summary"]


def build_summary(
    records_with_results: Sequence[tuple[RunRecord, Sequence[CheckResult]]],
    *,
    gates: Mapping[str, Mapping[str, GateLike | None]],
    seed: int | None = None,
    command: Sequence[str] | str | None = None,
    baseline: str | None = None,
    mode: str | None = None,
    settle_timeout_s: float | None = None,
) -> Summary:
    """Everything `summary.json` holds, from the judged runs and the scenarios' gates.

    Args:
        records_with_results: Each run with its checkers' results.
        gates: Scenario name → integration → its gate.
        seed: The suite's seed.
        command: The command line that replays the suite, if known.
        baseline: The integration the others' time to invoice is compared with (default `naive` if it ran).
        mode: How the runs were executed, for `racelab replay` (left out of the file when `None`).
        settle_timeout_s: The runner's settle timeout, for `racelab replay` (left out of the file when `None`).

    Returns:
        `passed` (every gate passed), `runs`, `invalid`, `unknown`, `groups` and `cells` (tallies), `gates`
        (decisions), `skew_ms`, `time_to_invoice_ms`, `invoice_cost_ms`, `seed`, `command`, `mode` and
        `settle_timeout_s`.
    """
    agg = aggregate(records_with_results)
    decided = evaluate_gates(agg, gates)
    records = [record for record, _ in records_with_results]
    return Summary(
        passed=all(g.passed for g in decided),
        runs=sum(t.runs for t in agg.groups),
        invalid=sum(t.invalid for t in agg.groups),
        unknown=sum(t.unknown for t in agg.groups),
        seed=seed,
        command=command if command is None or isinstance(command, str) else tuple(command),
        gates=decided,
        groups=agg.groups,
        cells=agg.cells,
        skew_ms=summarize_skew(records),
        time_to_invoice_ms=summarize_time_to_invoice(records),
        invoice_cost_ms=invoice_cost(records, baseline=baseline),
        mode=mode,
        settle_timeout_s=settle_timeout_s,
    )
