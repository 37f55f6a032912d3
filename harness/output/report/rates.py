"""Violation rates for the report's charts: against a swept parameter, against a drawn offset, over two parameters.

Owns the rate records (`RatePoint`, `RateSeries`, `RateChart`, `HeatMap`, `Group`; each rate with its Wilson 95%
interval) and what goes into them (`CellCount`: the runs of one integration and cell; `DrawnSample`: one run whose
offset was drawn), and the functions that shape them: `rate_curve`, `binned_curve` and `heat_map`.

Imports: stdlib, `harness.model`, `harness.judge.stats` and `harness.output.report.cells` (pure).

    rate_curve([CellCount("naive", {"step1.at_ms": 350}, runs=20, invalid=7, unknown=0)], "step1.at_ms")
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.judge.stats import wilson
from harness.model.records import Verdict
from harness.output.report.cells import axis_label, cell_text, is_number, number_text

__all__ = [
    "CellCount",
    "DrawnSample",
    "Group",
    "HeatMap",
    "RateChart",
    "RatePoint",
    "RateSeries",
    "binned_curve",
    "heat_map",
    "integrations_of",
    "rate_curve",
]


class _Rated:
    """A violation rate with its 95% Wilson interval, for records that count `runs` and `invalid` runs."""

    __slots__ = ()
    runs: int
    invalid: int

    @property
    def rate(self) -> float:
        """Invalid runs over runs, as the gates count them (0.0 without runs)."""
        return self.invalid / self.runs if self.runs else 0.0

    @property
    def low(self) -> float:
        return wilson(self.invalid, self.runs)[0]

    @property
    def high(self) -> float:
        return wilson(self.invalid, self.runs)[1]


@dataclass(frozen=True, slots=True)
class RatePoint(_Rated):
    """The runs at one x of a rate curve: a swept value, or a bin of drawn offsets.

    point = RatePoint(x=350.0, label="350", runs=20, invalid=7, unknown=0)
    point.rate, point.low, point.high    # 0.35, 0.18..., 0.56...
    """

    x: float
    label: str
    runs: int
    invalid: int
    unknown: int


@dataclass(frozen=True, slots=True)
class Group(_Rated):
    """All the runs of one integration in a scenario."""

    integration: str
    runs: int
    invalid: int
    unknown: int


@dataclass(frozen=True, slots=True)
class RateSeries:
    """One integration's curve."""

    integration: str
    points: tuple[RatePoint, ...]


@dataclass(frozen=True, slots=True)
class RateChart:
    """Violation rate against one parameter of a scenario, per integration."""

    scenario: str
    axis: str | None
    """The cell key (`step1.at_ms`), or `None` when nothing varies: one point per integration."""
    label: str
    """The x axis, for a person: `step 1 (change) offset, ms`."""
    drawn: bool
    """The x values are bins of offsets drawn from a distribution, not swept values."""
    series: tuple[RateSeries, ...]


@dataclass(frozen=True, slots=True)
class HeatMap:
    """Violation rate over two swept parameters, one matrix per integration: `rates[integration][row][column]`."""

    scenario: str
    x_axis: str
    y_axis: str
    x_label: str
    y_label: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]
    integrations: tuple[str, ...]
    cells: Mapping[str, tuple[tuple[RatePoint | None, ...], ...]]
    """Per integration, rows (one per `ys` value) of columns (one per `xs` value); `None` where no run was."""
    aggregated: tuple[str, ...] = ()
    """Further swept parameters summed over in each cell."""


@dataclass(frozen=True, slots=True)
class CellCount:
    """How the runs of one (integration, cell) of a scenario were judged."""

    integration: str
    cell: Mapping[str, Any]
    runs: int
    invalid: int
    unknown: int


@dataclass(frozen=True, slots=True)
class DrawnSample:
    """One run whose step offset was drawn from a distribution: where it landed and how it was judged."""

    integration: str
    at_ms: float
    verdict: Verdict


def integrations_of(counts: Iterable[CellCount]) -> list[str]:
    """The integrations of some tallies, in order of first appearance."""
    return list(dict.fromkeys(c.integration for c in counts))


def rate_curve(counts: Sequence[CellCount], axis: str | None) -> tuple[RateSeries, ...]:
    """Violation rate against one swept parameter, per integration; other parameters are summed over.

    Args:
        counts: The scenario's tallies per (integration, cell).
        axis: The cell key on the x axis (its values must be numbers), or `None` for one point per integration
            with every cell together (x = 0).

    Returns:
        One series per integration (in order of first appearance), points sorted by x.

    Raises:
        ValueError: A cell lacks `axis` or has a value there that is not a number.
    """
    series = []
    for integration in integrations_of(counts):
        sums: dict[float, list[int]] = {}
        for c in counts:
            if c.integration != integration:
                continue
            if axis is None:
                x = 0.0
            else:
                value = c.cell.get(axis)
                if not is_number(value):
                    raise ValueError(f"cell {cell_text(c.cell)!r} has no number for {axis}")
                x = float(value)
            bucket = sums.setdefault(x, [0, 0, 0])
            bucket[0] += c.runs
            bucket[1] += c.invalid
            bucket[2] += c.unknown
        points = tuple(
            RatePoint(x=x, label=number_text(x) if axis is not None else integration, runs=n, invalid=k, unknown=u)
            for x, (n, k, u) in sorted(sums.items())
        )
        series.append(RateSeries(integration, points))
    return tuple(series)


def binned_curve(samples: Sequence[DrawnSample], *, bins: int = 10) -> tuple[RateSeries, ...]:
    """Violation rate against an offset drawn per run from a distribution, in equal-width bins.

    Every integration shares the same bins (from the smallest to the largest offset drawn), so the curves compare
    like with like; empty bins are left out. With fewer distinct offsets than `bins`, each offset is its own point.

    Args:
        samples: One per run: integration, drawn offset, verdict.
        bins: How many bins at most.

    Returns:
        One series per integration; a point's x is its bin's centre, its label the bin's range in ms.

    Raises:
        ValueError: `bins` < 1.
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    if not samples:
        return ()
    distinct = sorted({s.at_ms for s in samples})
    low, high = distinct[0], distinct[-1]
    exact = len(distinct) <= bins
    width = (high - low) / bins

    def bin_of(at_ms: float) -> int:
        if exact:
            return distinct.index(at_ms)
        return min(bins - 1, int((at_ms - low) / width))

    def bounds(b: int) -> tuple[float, float, str]:
        if exact:
            return distinct[b], distinct[b], number_text(distinct[b])
        start, end = low + b * width, low + (b + 1) * width
        return start, end, f"{start:.0f}\N{EN DASH}{end:.0f}"

    series = []
    for integration in dict.fromkeys(s.integration for s in samples):
        sums: dict[int, list[int]] = {}
        for s in samples:
            if s.integration != integration:
                continue
            bucket = sums.setdefault(bin_of(s.at_ms), [0, 0, 0])
            bucket[0] += 1
            bucket[1] += s.verdict is Verdict.INVALID
            bucket[2] += s.verdict is Verdict.UNKNOWN
        points = []
        for b, (n, k, u) in sorted(sums.items()):
            start, end, label = bounds(b)
            points.append(RatePoint(x=(start + end) / 2, label=label, runs=n, invalid=k, unknown=u))
        series.append(RateSeries(integration, tuple(points)))
    return tuple(series)


def heat_map(
    counts: Sequence[CellCount], x_axis: str, y_axis: str, *, scenario: str = "", steps: Sequence[str] = ()
) -> HeatMap:
    """Violation rate over two swept parameters, per integration; any further parameters are summed over.

    Args:
        counts: The scenario's tallies per (integration, cell); both axes must be numbers in every cell.
        x_axis: The cell key of the columns.
        y_axis: The cell key of the rows.
        scenario: The scenario's name, carried along.
        steps: The `do` of each step, for the axis labels.

    Returns:
        The matrices, rows and columns sorted by value.

    Raises:
        ValueError: A cell lacks a number for either axis, or both axes are the same key.
    """
    if x_axis == y_axis:
        raise ValueError(f"a heat map needs two different parameters, got {x_axis} twice")
    sums: dict[tuple[str, float, float], list[int]] = {}
    others: dict[str, None] = {}
    for c in counts:
        x, y = c.cell.get(x_axis), c.cell.get(y_axis)
        if not (is_number(x) and is_number(y)):
            raise ValueError(f"cell {cell_text(c.cell)!r} needs numbers for {x_axis} and {y_axis}")
        others.update(dict.fromkeys(k for k in c.cell if k not in (x_axis, y_axis)))
        bucket = sums.setdefault((c.integration, float(x), float(y)), [0, 0, 0])
        bucket[0] += c.runs
        bucket[1] += c.invalid
        bucket[2] += c.unknown
    xs = tuple(sorted({x for _, x, _ in sums}))
    ys = tuple(sorted({y for _, _, y in sums}))
    integrations = tuple(integrations_of(counts))
    cells: dict[str, tuple[tuple[RatePoint | None, ...], ...]] = {}
    for integration in integrations:
        rows = []
        for y in ys:
            row: list[RatePoint | None] = []
            for x in xs:
                found = sums.get((integration, x, y))
                row.append(None if found is None else RatePoint(x, number_text(x), *found))
            rows.append(tuple(row))
        cells[integration] = tuple(rows)
    return HeatMap(
        scenario=scenario,
        x_axis=x_axis,
        y_axis=y_axis,
        x_label=axis_label(x_axis, steps),
        y_label=axis_label(y_axis, steps),
        xs=xs,
        ys=ys,
        integrations=integrations,
        cells=cells,
        aggregated=tuple(others),
    )
