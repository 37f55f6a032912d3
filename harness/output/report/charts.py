"""The report's charts: matplotlib figures of the report's records (rates, cost, timelines), as small inline SVG.

Owns: `rate_chart`, `heat_map_chart`, `cost_chart`, `timeline_chart` (each returns an `<svg>` element as text) and
`palette` (one colour per integration, the same in every chart). Text stays text (`svg.fonttype: none`: no glyph
outlines), ids are prefixed per chart so several SVGs can share one page, and nothing refers outside the SVG.

Why matplotlib to SVG and not a JavaScript plotting bundle: the page stays small and works offline with no script
to load, the charts are drawn once when the report is built, and they print.

Imports: matplotlib (without pyplot: no global figure state), numpy (matplotlib's own dependency) and the records
of `harness.output.report.rates`, `.cost` and `.timelines`. Imported only when a report is built, never with
`harness.output.report`.

    svg = rate_chart(chart, colors=palette(["naive", "workaround"]))   # '<svg ...>...</svg>'
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import blended_transform_factory

from harness.output.report.cost import CostData
from harness.output.report.rates import HeatMap, RateChart
from harness.output.report.timelines import Bar, Timeline

__all__ = ["cost_chart", "heat_map_chart", "palette", "rate_chart", "timeline_chart"]

BROKEN = "#d62728"
"""The colour of the moment an invariant broke; no integration gets it."""
CLIENT = "#1a4f80"
"""The colour of the client's lanes in a timeline."""
WIDTH = 10.6
"""Inches (72 pt each): a chart fills the page's content column (1,140 px) at 100% zoom."""
_AXES_PT = 620.0
"""About how wide a timeline's plot area is, in points (the figure less its lane labels and margins)."""
_CHAR_PT = 4.0
"""About how wide a 7 pt character is, in points: to keep labels from running into each other."""

_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
_OUTCOME = {"ok": "#8fbf8f", "fail": "#f0b060", "info": "#b0b0b0"}
_PHASES: dict[str, tuple[str, str, float, str]] = {
    # phase: (marker, colour, size, legend)
    "read": ("v", "#1f77b4", 6.5, "READ"),
    "commit": ("D", "#222222", 5.0, "COMMIT"),
    "arrive": ("|", "#777777", 7.0, "arrive / respond"),
    "respond": ("|", "#777777", 7.0, "arrive / respond"),
}
_OTHER_PHASE = (".", "#777777", 6.0, "other phase")

_RC: Any = {  # Any: matplotlib types rc keys as a Literal of every known name
    "svg.fonttype": "none",
    "svg.hashsalt": "racelab",  # stable ids: the same data draws the same bytes
    "text.parse_math": False,  # `$` in a scenario or an id is text, not TeX
    "font.family": "sans-serif",
    "font.size": 8.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 9,
    "axes.titleweight": "bold",
    "legend.fontsize": 8,
    "legend.frameon": False,
}


def palette(integrations: Iterable[str]) -> dict[str, str]:
    """One colour per integration, in the order given (the same integration is the same colour everywhere)."""
    return {name: _COLORS[i % len(_COLORS)] for i, name in enumerate(dict.fromkeys(integrations))}


def _svg(fig: Figure, chart_id: str) -> str:
    """The figure as an `<svg>` element: no XML prologue, metadata or global style; ids prefixed with `chart_id`."""
    FigureCanvasSVG(fig)
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r"<style[^>]*>.*?</style>\s*", "", text, flags=re.S)  # `*{...}` would style the whole page
    ids = set(re.findall(r'(?<![\w-])id="([^"]+)"', text))

    def prefix(match: re.Match[str]) -> str:
        name = match.group(2)
        return match.group(1) + (f"{chart_id}-{name}" if name in ids else name)

    text = re.sub(r'((?<![\w-])id="|href="#|url\(#)([^")]+)', prefix, text)
    return text.replace("<svg ", f'<svg role="img" data-chart-id="{chart_id}" ', 1)


def _percent(values: Iterable[float]) -> list[float]:
    return [v * 100 for v in values]


def rate_chart(chart: RateChart, *, colors: Mapping[str, str], chart_id: str) -> str:
    """Violation rate against one parameter per integration, with Wilson 95% intervals (error bars or a band).

    Args:
        chart: The data.
        colors: Integration → colour.
        chart_id: A page-unique id for the SVG's internal references.

    Returns:
        The `<svg>` element.
    """
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(WIDTH, 3.0), layout="constrained")
        ax = fig.add_subplot()
        if chart.axis is None:
            _rate_bars(ax, chart, colors)
        else:
            for s in chart.series:
                color = colors.get(s.integration, "#333333")
                xs = [p.x for p in s.points]
                rates = _percent(p.rate for p in s.points)
                lows = _percent(p.low for p in s.points)
                highs = _percent(p.high for p in s.points)
                runs, invalid = sum(p.runs for p in s.points), sum(p.invalid for p in s.points)
                label = f"{s.integration}: {invalid}/{runs} invalid"
                if len(xs) <= 12:
                    yerr = [
                        [r - lo for r, lo in zip(rates, lows, strict=True)],
                        [hi - r for r, hi in zip(rates, highs, strict=True)],
                    ]
                    ax.errorbar(xs, rates, yerr=yerr, color=color, marker="o", ms=4, capsize=3, lw=1.4, label=label)
                else:
                    ax.fill_between(xs, lows, highs, color=color, alpha=0.16, linewidth=0)
                    ax.plot(xs, rates, color=color, marker="o", ms=3, lw=1.4, label=label)
            ax.set_xlabel(chart.label + (" (drawn per run; binned)" if chart.drawn else ""))
            ax.grid(alpha=0.25)
            ax.legend(loc="upper right")
        ax.set_ylim(-3, 103)
        ax.set_ylabel("violation rate, %\n(95% Wilson interval)")
        return _svg(fig, chart_id)


def _rate_bars(ax: Any, chart: RateChart, colors: Mapping[str, str]) -> None:
    """Nothing varies in the scenario: one bar per integration, its interval as an error bar."""
    names = [s.integration for s in chart.series]
    points = [s.points[0] for s in chart.series]
    rates = _percent(p.rate for p in points)
    yerr = [
        [r - p.low * 100 for r, p in zip(rates, points, strict=True)],
        [p.high * 100 - r for r, p in zip(rates, points, strict=True)],
    ]
    xs = list(range(len(names)))
    ax.bar(xs, rates, yerr=yerr, capsize=4, width=0.5, color=[colors.get(n, "#333333") for n in names])
    for x, p in zip(xs, points, strict=True):
        ax.text(x + 0.3, p.rate * 100, f"{p.invalid}/{p.runs} invalid", va="center", fontsize=7)
    ax.set_xticks(xs, names)
    ax.set_xlim(-0.75, len(names) - 0.25 + 0.4)
    ax.grid(axis="y", alpha=0.25)


def heat_map_chart(heat: HeatMap, *, chart_id: str) -> str:
    """One rate matrix per integration over two swept parameters, each cell annotated `invalid/runs`.

    Args:
        heat: The data.
        chart_id: A page-unique id for the SVG's internal references.

    Returns:
        The `<svg>` element.
    """
    count = len(heat.integrations)
    columns, rows = len(heat.xs), len(heat.ys)
    width = min(WIDTH, 1.6 + count * max(2.8, 0.42 * columns + 1.0))
    height = min(8.0, 1.3 + max(1.2, 0.3 * rows))
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(width, height), layout="constrained")
        axes = fig.subplots(1, count, squeeze=False, sharey=True)[0]
        mesh = None
        for ax, integration in zip(axes, heat.integrations, strict=True):
            matrix = heat.cells[integration]
            rates = np.ma.masked_invalid(
                np.array([[np.nan if p is None else p.rate for p in row] for row in matrix], dtype=float)
            )
            mesh = ax.pcolormesh(rates, cmap="RdYlGn_r", vmin=0.0, vmax=1.0, edgecolors="white", linewidth=0.5)
            if columns * rows <= 300:
                for r, row in enumerate(matrix):
                    for c, p in enumerate(row):
                        if p is not None:
                            dark = 0.25 < p.rate < 0.75
                            ax.text(
                                c + 0.5,
                                r + 0.5,
                                f"{p.invalid}/{p.runs}",
                                ha="center",
                                va="center",
                                fontsize=6.5,
                                color="black" if dark else "white",
                            )
            ax.set_title(integration)
            ax.set_xticks(np.arange(columns) + 0.5, [f"{x:g}" for x in heat.xs], rotation=90 if columns > 8 else 0)
            ax.set_yticks(np.arange(rows) + 0.5, [f"{y:g}" for y in heat.ys])
            ax.set_xlabel(heat.x_label)
            ax.tick_params(length=0)
            for side in ("left", "bottom"):
                ax.spines[side].set_visible(False)
        axes[0].set_ylabel(heat.y_label)
        if mesh is not None:
            bar = fig.colorbar(mesh, ax=list(axes), shrink=0.9, pad=0.02)
            bar.set_label("violation rate")
        return _svg(fig, chart_id)


def cost_chart(cost: CostData, *, colors: Mapping[str, str], chart_id: str) -> str | None:
    """The distribution of added time to invoice, per integration against the baseline, with p50 and p99 marked.

    Args:
        cost: The data.
        colors: Integration → colour.
        chart_id: A page-unique id for the SVG's internal references.

    Returns:
        The `<svg>` element, or `None` when no pair of runs had an invoice accepted on both sides.
    """
    shown = [a for a in cost.integrations if a.added_ms]
    if not shown:
        return None
    every = [t for a in shown for t in a.added_ms]
    low, high = min(every), max(every)
    bins = np.linspace(low, high if high > low else low + 1.0, 41).tolist()
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(WIDTH, 2.8), layout="constrained")
        ax = fig.add_subplot()
        for a in shown:
            color = colors.get(a.integration, "#333333")
            label = f"{a.integration}: p50 {a.p50:+.0f} ms, p99 {a.p99:+.0f} ms ({len(a.added_ms)} pairs)"
            ax.hist(a.added_ms, bins=bins, color=color, alpha=0.55, label=label)
            ax.axvline(a.p50 or 0.0, color=color, ls="--", lw=1.2)
            ax.axvline(a.p99 or 0.0, color=color, ls=":", lw=1.2)
        ax.set_xlabel(
            f"added time to invoice against {cost.baseline} on the identical schedule, ms (dashed p50, dotted p99)"
        )
        ax.set_ylabel("runs")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.25)
        ax.legend(loc="upper right")
        return _svg(fig, chart_id)


def timeline_chart(tl: Timeline, *, chart_id: str) -> str:
    """One failing run: client requests as bars (send → answer), the simulator's phases as marks per operation,
    status changes as dotted lines, and the moment each invariant broke as a red line. An exchange judged through
    `racelab proxy` is a bar in three parts (held at the proxy, at the upstream, back to the caller).

    Only the timeline's focus window is drawn; a note at the right edge counts the simulator's later entries.

    Args:
        tl: The data.
        chart_id: A page-unique id for the SVG's internal references.

    Returns:
        The `<svg>` element.
    """
    lanes = len(tl.lanes)
    start, end = tl.focus_ms
    pad = max(1.0, (end - start) * 0.015)
    shown = [m for m in tl.marks if start <= m.t_ms <= end]
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(WIDTH, 1.9 + 0.27 * max(lanes, 1)), layout="constrained")
        ax = fig.add_subplot()
        char = (end - start + 2 * pad) / _AXES_PT * _CHAR_PT  # the width of a 7 pt character, in ms
        following: dict[int, list[float]] = {}
        for bar in tl.bars:
            following.setdefault(bar.lane, []).append(bar.start_ms)
        for bar in tl.bars:
            if bar.proxy is not None:
                _proxy_bar(ax, bar, pad)
                continue
            ax.barh(
                bar.lane,
                max(bar.end_ms - bar.start_ms, pad * 0.3),
                left=bar.start_ms,
                height=0.56,
                color=_OUTCOME.get(bar.outcome, "#b0b0b0"),
                edgecolor="#555555",
                linewidth=0.5,
            )
            answer = str(bar.status) if bar.status is not None else bar.outcome
            label = f"#{bar.index} {answer}"
            room = min((t for t in following[bar.lane] if t > bar.start_ms), default=float("inf")) - bar.end_ms
            if room > char * (len(label) + 2):  # a label that would run into the next bar is left to the event list
                ax.text(bar.end_ms + pad * 0.4, bar.lane, label, va="center", fontsize=7, color="#444444", clip_on=True)
        spans: dict[int, list[float]] = {}
        for m in tl.marks:
            spans.setdefault(m.lane, []).append(m.t_ms)
        for lane, ts in spans.items():
            ax.plot(
                [max(min(ts), start - pad), min(max(ts), end + pad)], [lane, lane], color="#cccccc", lw=1.0, zorder=1
            )
        for phase, (marker, color, size, _) in {**_PHASES, "": _OTHER_PHASE}.items():
            chosen = [m for m in shown if (m.phase == phase if phase else m.phase not in _PHASES)]
            if chosen:
                ax.plot(
                    [m.t_ms for m in chosen],
                    [m.lane for m in chosen],
                    ls="none",
                    marker=marker,
                    ms=size,
                    color=color,
                    zorder=3,
                )
        for m in shown:
            if m.phase == "commit" and m.version is not None:
                ax.text(m.t_ms + pad * 0.5, m.lane - 0.2, f"v{m.version}", ha="left", va="bottom", fontsize=7)
        top = blended_transform_factory(ax.transData, ax.transAxes)
        # Labels above the plot: status changes, then the breakages, each on the lowest row where it fits.
        rows: list[float] = []  # the right edge (ms) of the last label on each row

        def row_for(left: float, right: float) -> int:
            for i, taken in enumerate(rows):
                if taken < left:
                    rows[i] = right
                    return i
            rows.append(right)
            return len(rows) - 1

        def above(x: float, text: str, row: int, **style: Any) -> None:
            ax.annotate(
                text,
                xy=(x, 1.0),
                xycoords=top,
                xytext=(0, 3 + 10 * row),
                textcoords="offset points",
                va="bottom",
                annotation_clip=False,
                **style,
            )

        for change in tl.status_changes:
            if start - pad <= change.t_ms <= end + pad:
                ax.axvline(change.t_ms, color="#666666", ls=":", lw=0.9, zorder=0)
                text = f"\N{RIGHTWARDS ARROW} {change.after}"
                half = char * len(text) / 2
                above(
                    change.t_ms,
                    text,
                    row_for(change.t_ms - half, change.t_ms + half),
                    fontsize=7,
                    color="#444444",
                    ha="center",
                )
        broken: dict[float, list[str]] = {}
        for b in tl.broken:
            if b.at_ms is not None:
                broken.setdefault(b.at_ms, []).append(b.checker)
        middle = (start + end) / 2
        first = len(rows)
        rows.clear()
        for at, checkers in sorted(broken.items()):
            ax.axvline(at, color=BROKEN, lw=2.0, zorder=4)
            text = " + ".join(checkers) + " broke"
            width = char * 1.1 * len(text)
            # Pointing away from the nearer edge, so it stays inside the figure.
            left, right = (at - width, at) if at > middle else (at, at + width)
            above(
                at,
                text,
                first + row_for(left, right),
                color=BROKEN,
                fontsize=7.5,
                fontweight="bold",
                ha="right" if at > middle else "left",
            )
        later = tl.later
        if later:
            ax.text(
                0.995,
                0.02,
                f"+{len(later)} later simulator entries, to {max(m.t_ms for m in later):.0f} ms (event list)",
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=7,
                color="#666666",
            )
        earlier = tl.earlier
        if earlier:
            ax.text(
                0.005,
                0.02,
                f"{len(earlier)} earlier ({', '.join(dict.fromkeys(m.op for m in earlier))}) from "
                f"{min(m.t_ms for m in earlier):.0f} ms (event list)",
                transform=ax.transAxes,
                ha="left",
                va="bottom",
                fontsize=7,
                color="#666666",
            )
        client = sum(1 for lane in tl.lanes if lane.side == "client")
        if 0 < client < lanes:
            ax.axhline(client - 0.5, color="#aaaaaa", lw=0.8, ls="--")
        ax.set_yticks(range(lanes), [lane.label for lane in tl.lanes])
        for tick, row in zip(ax.get_yticklabels(), tl.lanes, strict=True):
            tick.set_color(CLIENT if row.side == "client" else "#333333")
        ax.set_ylim(lanes - 0.4, -0.6)
        ax.set_xlim(start - pad, end + pad)
        proxied = any(bar.proxy is not None for bar in tl.bars)
        ax.set_xlabel("ms from the order's first exchange at the proxy" if proxied else "ms from the run's start")
        ax.grid(axis="x", alpha=0.25)
        handles = [Line2D([], [], color=_OUTCOME[o], lw=6, label=f"request {o}") for o in ("ok", "fail", "info")]
        if not proxied or tl.marks:  # an order seen through the proxy has no simulator phases to show
            handles += [
                Line2D([], [], ls="none", marker=m, ms=s, color=c, label=name)
                for m, c, s, name in (*_PHASES.values(), _OTHER_PHASE)
            ]
        if proxied:
            handles.append(Line2D([], [], color=_HELD, lw=6, label="held at the proxy"))
        handles += [
            Line2D([], [], color="#666666", ls=":", label="status change"),
            Line2D([], [], color=BROKEN, lw=2, label="invariant broke"),
        ]
        handles = _unique(handles)
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=7.5)
        return _svg(fig, chart_id)


_HELD = "#d9d9e8"
"""An exchange held or delayed at the proxy, from its arrival to its forwarding."""


def _proxy_bar(ax: Any, bar: Bar, pad: float) -> None:
    """An exchange through `racelab proxy` in three parts: held at the proxy (arrived → forwarded, hatched), at the
    upstream (forwarded → upstream answered, the outcome's colour), back to the caller (→ answered, thinner). A part
    that took no time is not drawn; the upstream's part is at least a sliver, as a plain request's bar is."""
    p = bar.proxy
    assert p is not None
    color = _OUTCOME.get(bar.outcome, "#b0b0b0")
    forwarded = p.forwarded if p.forwarded is not None else bar.end_ms
    back = p.upstream_answered if p.upstream_answered is not None else bar.end_ms
    parts: list[tuple[float, float, float, str, str | None, float]] = [(p.arrived, forwarded, 0.56, _HELD, "////", 0.0)]
    if p.forwarded is not None:
        parts.append((p.forwarded, back, 0.56, color, None, pad * 0.3))
        parts.append((back, bar.end_ms, 0.3, color, None, 0.0))
    for left, right, height, fill, hatch, least in parts:
        width = max(right - left, least)
        if width <= 0:
            continue
        ax.barh(bar.lane, width, left=left, height=height, color=fill, hatch=hatch, edgecolor="#555555", linewidth=0.5)


def _unique(handles: list[Line2D]) -> list[Line2D]:
    seen: dict[str, Line2D] = {}
    for h in handles:
        seen.setdefault(str(h.get_label()), h)
    return list(seen.values())
