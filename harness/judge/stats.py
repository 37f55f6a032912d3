"""Statistics over runs: intervals, percentiles, firing skew, time to invoice and the workaround's cost.

Owns: `wilson` (the Wilson score interval of a violation rate), `percentile` (linear interpolation, numpy's default),
`summarize_skew` (how late requests left against their schedule), `time_to_invoice` / `summarize_time_to_invoice`
(from the step that triggers invoicing to the first accepted invoice), `pair_key` (a run's schedule, the same for
every integration) and `invoice_cost` (the A/B of one integration against a baseline on identical schedules). The
summaries are `harness.model.summary`'s records.

Imports: stdlib and `harness.model` only. Everything here is pure, so reports, the pytest plugin and the load
command's processes can use it: never asyncio, aiohttp or `simulator`.

    low, high = wilson(37, 400)          # (0.0679..., 0.1249...)
    percentile([1.0, 2.0, 3.0, 4.0], 50)  # 2.5
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable

from harness.model.records import Outcome, RunRecord
from harness.model.summary import CostSummary, IntegrationCost, SkewSummary, TimeToInvoice

__all__ = [
    "DEFAULT_BASELINE",
    "PairKey",
    "invoice_cost",
    "pair_key",
    "percentile",
    "summarize_skew",
    "summarize_time_to_invoice",
    "time_to_invoice",
    "wilson",
]

DEFAULT_BASELINE = "naive"
"""The integration the others' time to invoice is compared with, when it ran."""

PairKey = tuple[str, str, int]
"""(scenario, the cell as canonical JSON, repetition): runs with the same key had the same schedule and seed."""


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion `k / n` (95% with the default `z`).

    Unlike the normal approximation it stays inside [0, 1] and is honest for 0 of n: 0 violations in 10 runs still
    allows a rate up to ~28%.

    Args:
        k: How many runs showed it (0 <= k <= n).
        n: How many runs there were.
        z: The normal quantile of the confidence level.

    Returns:
        `(low, high)`; `(0.0, 1.0)` when `n == 0` (no runs say nothing).

    Raises:
        ValueError: `k` or `n` out of range.
    """
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"wilson() needs 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    z2 = z * z
    denominator = 1 + z2 / n
    center = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    # At k == 0 (k == n) the bound is exactly 0 (1); rounding must not make it a hair off.
    low = 0.0 if k == 0 else max(0.0, center - half)
    high = 1.0 if k == n else min(1.0, center + half)
    return (low, high)


def percentile(values: Iterable[float], q: float) -> float | None:
    """The `q`-th percentile with linear interpolation between order statistics (numpy's default method).

    Args:
        values: The sample, in any order.
        q: The percentile, 0 to 100.

    Returns:
        The percentile, or `None` for an empty sample.

    Raises:
        ValueError: `q` outside [0, 100].
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within [0, 100], got {q}")
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q / 100
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    fraction = position - below
    return ordered[below] + (ordered[above] - ordered[below]) * fraction


def summarize_skew(records: Iterable[RunRecord]) -> SkewSummary:
    """p50, p99 and max of `Operation.skew_ms` over every operation that has one, across all runs.

    Args:
        records: The runs.

    Returns:
        The summary; `count` is how many operations had a skew.
    """
    skews = [s for record in records for op in record.history if (s := op.skew_ms) is not None]
    return SkewSummary(
        count=len(skews),
        p50=percentile(skews, 50),
        p99=percentile(skews, 99),
        max=max(skews, default=None),
    )


def time_to_invoice(record: RunRecord) -> float | None:
    """Ms from the step that triggered invoicing to the first accepted (`ok`) `invoice` operation's completion.

    The start is the `scheduled_ms` of the first operation sent by the run's first `do: invoice` step; without such
    a step or schedule (e.g. an integration that invoices on its own, from a hook) it is the run's start, 0.

    Args:
        record: One run.

    Returns:
        The time, or `None` when no invoice was accepted.
    """
    completions = [op.t_complete for op in record.history if op.f == "invoice" and op.outcome is Outcome.OK]
    if not completions:
        return None
    start = 0.0
    step = next((i for i, s in enumerate(record.spec.steps) if s.do == "invoice"), None)
    if step is not None:
        # Only the first request a step sends carries its schedule (`Operation.scheduled_ms`).
        scheduled = [op.scheduled_ms for op in record.history if op.step == step and op.scheduled_ms is not None]
        if scheduled:
            start = min(scheduled)
    return min(completions) - start


def summarize_time_to_invoice(records: Iterable[RunRecord]) -> dict[str, TimeToInvoice]:
    """`time_to_invoice` per integration, p50 and p99.

    Args:
        records: The runs, of any scenarios and integrations.

    Returns:
        Integration name to its summary, in order of first appearance.
    """
    times: dict[str, list[float]] = {}
    runs: dict[str, int] = {}
    for record in records:
        name = record.spec.integration
        runs[name] = runs.get(name, 0) + 1
        bucket = times.setdefault(name, [])
        if (t := time_to_invoice(record)) is not None:
            bucket.append(t)
    return {
        name: TimeToInvoice(runs=runs[name], count=len(ts), p50=percentile(ts, 50), p99=percentile(ts, 99))
        for name, ts in times.items()
    }


def pair_key(record: RunRecord) -> PairKey:
    """The identity of a run's schedule: the same for every integration of an A/B comparison."""
    # Cells are small JSON-like mappings; their canonical JSON is a hashable identity.
    cell = json.dumps(dict(record.spec.cell), sort_keys=True, default=str)
    return (record.spec.scenario, cell, record.spec.repetition)


def invoice_cost(records: Iterable[RunRecord], *, baseline: str | None = None) -> CostSummary:
    """What each integration adds to the time to invoice, against a baseline run on the identical schedule.

    Runs are paired by scenario, `RunSpec.cell` and `repetition`: the same schedule and seed, another integration.
    The difference is taken pair by pair, then summarised, so schedule-to-schedule variation cancels out.

    Args:
        records: The runs.
        baseline: The integration to compare against. By default `naive` when it ran, else the first integration
            seen.

    Returns:
        The baseline's name (`None` when there are no runs) and, for every other integration, its added time.
    """
    by_integration: dict[str, dict[PairKey, RunRecord]] = {}
    for record in records:
        by_integration.setdefault(record.spec.integration, {}).setdefault(pair_key(record), record)
    if baseline is None:
        baseline = DEFAULT_BASELINE if DEFAULT_BASELINE in by_integration else next(iter(by_integration), None)
    base = by_integration.get(baseline or "", {})
    base_times = {key: time_to_invoice(record) for key, record in base.items()}
    result: dict[str, IntegrationCost] = {}
    for name, runs in by_integration.items():
        if name == baseline:
            continue
        added: list[float] = []
        for key, record in runs.items():
            mine, theirs = time_to_invoice(record), base_times.get(key)
            if mine is not None and theirs is not None:
                added.append(mine - theirs)
        result[name] = IntegrationCost(
            pairs=len(added),
            unpaired=len(runs) - len(added),
            added_p50=percentile(added, 50),
            added_p99=percentile(added, 99),
        )
    return CostSummary(baseline=baseline, integrations=result)
