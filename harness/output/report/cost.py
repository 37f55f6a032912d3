"""The workaround's cost for the report: each integration's added time to invoice, pair by pair, as a distribution.

Owns `AddedTime`, `CostData` and `added_times`: the same pairing as `harness.judge.stats.invoice_cost` (runs of the
same scenario, cell and repetition had the same schedule and seed), which gives only p50 and p99; here every pair's
difference, for the chart.

Imports: stdlib and `harness.judge.stats` (pure).

    added_times({"naive": {key: 49.0}, "workaround": {key: 795.0}}).integrations[0].p50   # 746.0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from harness.judge.stats import DEFAULT_BASELINE, PairKey, percentile

__all__ = ["AddedTime", "CostData", "added_times"]


@dataclass(frozen=True, slots=True)
class AddedTime:
    """One integration's time to invoice minus the baseline's, pair by pair."""

    integration: str
    added_ms: tuple[float, ...]
    """Sorted."""
    unpaired: int
    """Runs without a baseline twin, or where either twin got no invoice accepted."""
    p50: float | None
    p99: float | None


@dataclass(frozen=True, slots=True)
class CostData:
    """The workaround's cost: every non-baseline integration against the baseline, on identical schedules."""

    baseline: str | None
    integrations: tuple[AddedTime, ...]


def added_times(times: Mapping[str, Mapping[PairKey, float | None]], *, baseline: str | None = None) -> CostData:
    """Per integration, its time to invoice minus the baseline's on the identical schedule, pair by pair.

    The same pairing as `harness.judge.stats.invoice_cost` (which gives only p50/p99): here the whole distribution.

    Args:
        times: Integration → schedule → time to invoice in ms (`None`: no invoice was accepted).
        baseline: The integration to compare against; by default `naive` when it ran, else the first one.

    Returns:
        The baseline (`None` without runs) and every other integration's added times, sorted.
    """
    if baseline is None:
        baseline = DEFAULT_BASELINE if DEFAULT_BASELINE in times else next(iter(times), None)
    base = times.get(baseline or "", {})
    result = []
    for integration, mine in times.items():
        if integration == baseline:
            continue
        added = []
        for key, t in mine.items():
            theirs = base.get(key)
            if t is not None and theirs is not None:
                added.append(t - theirs)
        added.sort()
        result.append(
            AddedTime(
                integration=integration,
                added_ms=tuple(added),
                unpaired=len(mine) - len(added),
                p50=percentile(added, 50),
                p99=percentile(added, 99),
            )
        )
    return CostData(baseline=baseline, integrations=tuple(result))
