"""Statistics over runs: intervals, percentiles, firing skew, time to invoice and the workaround's cost.

Owns: `wilson` (the Wilson score interval of a violation rate), `percentile` (linear interpolation, numpy's default),
`summarize_skew` (how late requests left against their schedule), `time_to_invoice` / `summarize_time_to_invoice`
(from the step that triggers invoicing to the first accepted invoice), `pair_key` (a run's schedule, the same for
every integration) and `invoice_cost` (the A/B of one integration against a baseline on identical schedules). The
summaries are `harness.model.summary`'s records.

The same, one run at a time: `SkewSamples` and `InvoiceTimes` keep a few numbers per run in flat arrays (8 bytes a
skew, 32 bytes a run), never the run, so a sweep of 100,000 runs is summarised in a few MB. The functions over lists
of runs are built on them.

Imports: stdlib and `harness.model` only. Everything here is pure, so reports, the pytest plugin and the load
command's processes can use it: never asyncio, aiohttp or `simulator`.

    low, high = wilson(37, 400)          # (0.0679..., 0.1249...)
    percentile([1.0, 2.0, 3.0, 4.0], 50)  # 2.5
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Iterable, Mapping
from typing import Any

from harness.model.records import Outcome, RunRecord
from harness.model.summary import CostSummary, IntegrationCost, SkewSummary, TimeToInvoice

__all__ = [
    "DEFAULT_BASELINE",
    "InvoiceTimes",
    "PairKey",
    "SkewSamples",
    "cell_key",
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


class SkewSamples:
    """`summarize_skew`, one run at a time: every skew as 8 bytes.

    samples = SkewSamples()
    samples.add(record)
    samples.summary().p99
    """

    __slots__ = ("_skews",)

    def __init__(self) -> None:
        self._skews = array("d")

    def add(self, record: RunRecord) -> None:
        self._skews.extend(s for op in record.history if (s := op.skew_ms) is not None)

    def summary(self) -> SkewSummary:
        skews = self._skews
        return SkewSummary(
            count=len(skews),
            p50=percentile(skews, 50),
            p99=percentile(skews, 99),
            max=max(skews, default=None),
        )


def summarize_skew(records: Iterable[RunRecord]) -> SkewSummary:
    """p50, p99 and max of `Operation.skew_ms` over every operation that has one, across all runs.

    Args:
        records: The runs.

    Returns:
        The summary; `count` is how many operations had a skew.
    """
    samples = SkewSamples()
    for record in records:
        samples.add(record)
    return samples.summary()


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


class _Times:
    """One integration's runs, a column each: which schedule (pair key), its place in the sweep, its time."""

    __slots__ = ("first", "index", "key", "repetition", "time")

    def __init__(self, index: int) -> None:
        self.first = index
        """The lowest index of its runs (integrations are listed in order of first appearance in the sweep)."""
        self.key = array("q")
        """The run's (scenario, cell) as a small number (`InvoiceTimes._keys`)."""
        self.repetition = array("q")
        self.index = array("q")
        self.time = array("d")
        """Its time to invoice; NaN for none."""


class InvoiceTimes:
    """`summarize_time_to_invoice` and `invoice_cost`, one run at a time: four numbers a run.

    times = InvoiceTimes()
    times.add(record, index=0)         # index: the run's place in the sweep (default: arrival order)
    times.summary()["naive"].p50, times.cost().integrations["workaround"].added_p50
    """

    __slots__ = ("_arrived", "_by", "_keys")

    def __init__(self) -> None:
        self._arrived = 0
        self._keys: dict[tuple[str, str], int] = {}
        """(scenario, the cell as canonical JSON) → a small number: with the repetition, a run's `pair_key`."""
        self._by: dict[str, _Times] = {}

    def add(self, record: RunRecord, *, index: int | None = None) -> None:
        """Take in one run; `index` orders "first" (see `harness.judge.SummaryBuilder.add`)."""
        index = self._arrived if index is None else index
        self._arrived += 1
        scenario, cell, repetition = pair_key(record)
        key = self._keys.setdefault((scenario, cell), len(self._keys))
        times = self._by.get(record.spec.integration)
        if times is None:
            times = self._by[record.spec.integration] = _Times(index)
        times.first = min(times.first, index)
        found = time_to_invoice(record)
        times.key.append(key)
        times.repetition.append(repetition)
        times.index.append(index)
        times.time.append(math.nan if found is None else found)

    def _ordered(self) -> list[tuple[str, _Times]]:
        return sorted(self._by.items(), key=lambda item: item[1].first)

    def summary(self) -> dict[str, TimeToInvoice]:
        """`summarize_time_to_invoice` of the runs taken in."""
        found: dict[str, TimeToInvoice] = {}
        for name, times in self._ordered():
            ts = [t for t in times.time if not math.isnan(t)]
            found[name] = TimeToInvoice(
                runs=len(times.time), count=len(ts), p50=percentile(ts, 50), p99=percentile(ts, 99)
            )
        return found

    def cost(self, *, baseline: str | None = None) -> CostSummary:
        """`invoice_cost` of the runs taken in."""
        ordered = self._ordered()
        if baseline is None:
            names = [name for name, _ in ordered]
            baseline = DEFAULT_BASELINE if DEFAULT_BASELINE in self._by else next(iter(names), None)
        base = _first_per_pair(self._by[baseline]) if baseline in self._by else {}
        result: dict[str, IntegrationCost] = {}
        for name, times in ordered:
            if name == baseline:
                continue
            runs = _first_per_pair(times)
            added = [
                mine - theirs
                for pair, mine in runs.items()
                if not math.isnan(mine) and not math.isnan(theirs := base.get(pair, math.nan))
            ]
            result[name] = IntegrationCost(
                pairs=len(added),
                unpaired=len(runs) - len(added),
                added_p50=percentile(added, 50),
                added_p99=percentile(added, 99),
            )
        return CostSummary(baseline=baseline, integrations=result)


def _first_per_pair(times: _Times) -> dict[tuple[int, int], float]:
    """(key, repetition) → the time of the first run (lowest index) with that schedule."""
    first: dict[tuple[int, int], tuple[int, float]] = {}
    for key, repetition, index, time in zip(times.key, times.repetition, times.index, times.time, strict=True):
        known = first.get((key, repetition))
        if known is None or index < known[0]:
            first[(key, repetition)] = (index, time)
    return {pair: time for pair, (_, time) in first.items()}


def summarize_time_to_invoice(records: Iterable[RunRecord]) -> dict[str, TimeToInvoice]:
    """`time_to_invoice` per integration, p50 and p99.

    Args:
        records: The runs, of any scenarios and integrations.

    Returns:
        Integration name to its summary, in order of first appearance.
    """
    times = InvoiceTimes()
    for record in records:
        times.add(record)
    return times.summary()


def cell_key(cell: Mapping[str, Any]) -> str:
    """A matrix cell as canonical JSON: a hashable identity (cells are small JSON-like mappings)."""
    return json.dumps(dict(cell), sort_keys=True, default=str)


def pair_key(record: RunRecord) -> PairKey:
    """The identity of a run's schedule: the same for every integration of an A/B comparison."""
    return (record.spec.scenario, cell_key(record.spec.cell), record.spec.repetition)


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
    times = InvoiceTimes()
    for record in records:
        times.add(record)
    return times.cost(baseline=baseline)
