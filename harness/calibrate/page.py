"""The calibration's report page: one self-contained HTML file (inline SVG and CSS, no script, no network).

Owns `render_page(calibration) -> str` and `write_page(calibration, path)`: per observable, its observed CDF
against the fitted one, observed and fitted percentiles, every family's KS and AIC, the chosen family's parameters
with their intervals; the race curve observed (Wilson 95% intervals, `harness.judge.stats.wilson`) against the one
simulated under the fitted profile; the hidden lags with their intervals and what the data say about them.

    write_page(cal, Path("calibration.html"))

Imports: stdlib, `harness.calibrate` (records), `harness.judge.stats`, `harness.errors` (layer `harness/calibrate/`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path

from harness.calibrate.calibration import Calibration, ObservableFit
from harness.calibrate.fit import PERCENTILES
from harness.errors import UsageError
from harness.judge.stats import wilson

__all__ = ["render_page", "write_page"]

_W, _H, _PAD = 520, 260, 44
_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}h3{font-size:1.05em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:right}
th:first-child,td:first-child{text-align:left}.chosen{background:#eef6ee}.note{color:#555}
.row{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}svg{background:#fff}
code{background:#f4f4f4;padding:0 .2em}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(value: float, digits: int = 1) -> str:
    if not math.isfinite(value):
        return "&ndash;"
    return f"{value:,.{digits}f}"


class _Axes:
    """A plot area mapping data to SVG coordinates (x linear, y linear)."""

    def __init__(self, x0: float, x1: float, y0: float, y1: float) -> None:
        self.x0, self.x1 = x0, x1 if x1 > x0 else x0 + 1.0
        self.y0, self.y1 = y0, y1 if y1 > y0 else y0 + 1.0

    def x(self, v: float) -> float:
        return _PAD + (v - self.x0) / (self.x1 - self.x0) * (_W - 2 * _PAD)

    def y(self, v: float) -> float:
        return _H - _PAD + (v - self.y0) / (self.y1 - self.y0) * (2 * _PAD - _H)

    def frame(self, xlabel: str, ylabel: str, *, yfmt: str = "{:.0%}") -> list[str]:
        parts = [
            f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#888"/>',
            f'<line x1="{_PAD}" y1="{_PAD}" x2="{_PAD}" y2="{_H - _PAD}" stroke="#888"/>',
        ]
        for i in range(5):
            xv = self.x0 + (self.x1 - self.x0) * i / 4
            yv = self.y0 + (self.y1 - self.y0) * i / 4
            parts.append(
                f'<text x="{self.x(xv):.1f}" y="{_H - _PAD + 14}" font-size="10" text-anchor="middle">{xv:,.0f}</text>'
            )
            parts.append(
                f'<text x="{_PAD - 4}" y="{self.y(yv) + 3:.1f}" font-size="10" text-anchor="end">'
                f"{_e(yfmt.format(yv))}</text>"
            )
        parts.append(f'<text x="{_W / 2}" y="{_H - 8}" font-size="11" text-anchor="middle">{_e(xlabel)}</text>')
        parts.append(
            f'<text x="12" y="{_H / 2}" font-size="11" text-anchor="middle" '
            f'transform="rotate(-90 12 {_H / 2})">{_e(ylabel)}</text>'
        )
        return parts


def _svg(parts: Sequence[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" role="img">'
        f"<title>{_e(title)}</title>{''.join(parts)}</svg>"
    )


def _legend(items: Sequence[tuple[str, str, str]]) -> list[str]:
    out = []
    for i, (label, color, dash) in enumerate(items):
        y = _PAD - 24 + 13 * i
        out.append(
            f'<line x1="{_W - 190}" y1="{y}" x2="{_W - 170}" y2="{y}" stroke="{color}" stroke-width="2" '
            f'stroke-dasharray="{dash}"/><text x="{_W - 165}" y="{y + 4}" font-size="11">{_e(label)}</text>'
        )
    return out


def _cdf_chart(f: ObservableFit, values: Sequence[float]) -> str:
    ordered = sorted(values)
    n = len(ordered)
    top = ordered[min(n - 1, int(0.995 * (n - 1)))]  # the last half percent would squash the rest
    axes = _Axes(0.0, top * 1.05, 0.0, 1.0)
    parts = axes.frame(f"{f.observable}, ms (to the 99.5th percentile)", "fraction ≤ x")
    step = max(1, n // 400)
    pts = [(axes.x(v), axes.y((i + 1) / n)) for i, v in enumerate(ordered) if i % step == 0 or i == n - 1]
    pts = [(x, y) for x, y in pts if x <= _W - _PAD + 1]
    parts.append(
        '<polyline fill="none" stroke="#333" stroke-width="2" points="'
        + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        + '"/>'
    )
    if f.fit is not None:
        qs = [i / 200 for i in range(1, 200)]
        fitted = [(f.fit.chosen.ppf(q) + f.shift_ms, q) for q in qs]
        fpts = [(axes.x(x), axes.y(q)) for x, q in fitted if math.isfinite(x) and x <= top * 1.05]
        parts.append(
            '<polyline fill="none" stroke="#d62728" stroke-width="2" stroke-dasharray="5,3" points="'
            + " ".join(f"{x:.1f},{y:.1f}" for x, y in fpts)
            + '"/>'
        )
        parts += _legend([("observed", "#333", ""), (f"fitted ({f.fit.chosen.family})", "#d62728", "5,3")])
    return _svg(parts, f"{f.observable}: observed and fitted CDF")


def _observable_section(f: ObservableFit, values: Sequence[float]) -> str:
    rows = "".join(
        f"<tr><td>p{q:g}</td><td>{_num(f.observed[q])}</td><td>{_num(f.fitted.get(q, math.nan))}</td>"
        + (
            f"<td>{_num((f.fitted[q] - f.observed[q]) / f.observed[q] * 100, 1)}%</td>"
            if q in f.fitted and f.observed[q]
            else "<td>&ndash;</td>"
        )
        + "</tr>"
        for q in PERCENTILES
    )
    table = f"<table><tr><th>percentile</th><th>observed ms</th><th>fitted ms</th><th>error</th></tr>{rows}</table>"
    families = ""
    params = ""
    if f.fit is not None:
        fam_rows = "".join(
            f'<tr class="{"chosen" if fam.family == f.fit.chosen.family else ""}"><td>{_e(fam.family)}</td>'
            f"<td>{_num(fam.ks_statistic, 4)}</td><td>{fam.ks_pvalue:.3g}</td><td>{_num(fam.aic, 1)}</td>"
            f"<td>{_e(', '.join(f'{k}={v:.4g}' for k, v in fam.params.items()))}</td></tr>"
            for fam in f.fit.families
        )
        families = (
            f"<table><tr><th>family</th><th>KS D</th><th>KS p</th><th>AIC</th><th>MLE</th></tr>{fam_rows}</table>"
        )
        params = "".join(
            f"<tr><td>{_e(k)}</td><td>{v:.4g}</td><td>"
            + (
                f"{f.fit.chosen.intervals[k][0]:.4g} &ndash; {f.fit.chosen.intervals[k][1]:.4g}"
                if k in f.fit.chosen.intervals
                else "&ndash;"
            )
            + "</td></tr>"
            for k, v in f.fit.chosen.params.items()
        )
        if params:
            params = (
                f"<table><tr><th>{_e(f.fit.chosen.family)}</th><th>estimate</th><th>95% bootstrap interval</th></tr>"
                f"{params}</table>"
            )
    chart = _cdf_chart(f, values)
    return (
        f"<h3>{_e(f.observable)} <span class='note'>(n={f.n})</span></h3><p class='note'>{_e(f.sentence)}</p>"
        f"<div class='row'>{chart}<div>{table}{params}</div></div>{families}"
    )


def _race_section(cal: Calibration) -> str:
    if cal.lags is not None:
        points = [
            (p.offset_ms, p.violations, p.trials, p.simulated_violations, p.simulated_trials) for p in cal.lags.curve
        ]
    else:
        points = [(c.offset_ms, c.violations, c.trials, 0, 0) for c in cal.race.cells]
    points = [p for p in points if p[0] is not None]
    if not points:
        return f"<p class='note'>{_e(cal.lag_note)}</p>"
    xs = [float(p[0]) for p in points if p[0] is not None]
    axes = _Axes(min(xs), max(xs), 0.0, 1.0)
    parts = axes.frame("offset of the Change after the invoice, ms", "violation rate")
    rows = []
    inside = 0
    for offset, v, t, sv, st in points:
        assert offset is not None
        lo, hi = wilson(v, t)
        x = axes.x(offset)
        parts.append(f'<line x1="{x:.1f}" y1="{axes.y(lo):.1f}" x2="{x:.1f}" y2="{axes.y(hi):.1f}" stroke="#333"/>')
        parts.append(f'<circle cx="{x:.1f}" cy="{axes.y(v / t if t else 0):.1f}" r="3" fill="#333"/>')
        sim = sv / st if st else math.nan
        ok = st > 0 and lo <= sim <= hi
        inside += ok
        rows.append(
            f"<tr><td>{offset:g}</td><td>{v}/{t}</td><td>{_num(v / t * 100 if t else math.nan)}%</td>"
            f"<td>{_num(lo * 100)}&ndash;{_num(hi * 100)}%</td><td>{sv}/{st}</td><td>{_num(sim * 100)}%</td>"
            f"<td>{'yes' if ok else 'no'}</td></tr>"
        )
    sim_pts = [(axes.x(float(p[0] or 0)), axes.y(p[3] / p[4])) for p in points if p[4]]
    legend = [("observed (Wilson 95%)", "#333", "")]
    if sim_pts:
        parts.append(
            '<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="'
            + " ".join(f"{x:.1f},{y:.1f}" for x, y in sim_pts)
            + '"/>'
        )
        legend.append(("simulated, fitted profile", "#1f77b4", ""))
    parts += _legend(legend)
    summary = (
        f"<p>The simulated rate lies inside the observed Wilson interval at {inside} of {len(points)} offsets.</p>"
        if sim_pts
        else ""
    )
    table = (
        "<table><tr><th>offset ms</th><th>observed</th><th>rate</th><th>Wilson 95%</th><th>simulated</th>"
        f"<th>rate</th><th>inside</th></tr>{''.join(rows)}</table>"
    )
    return f"<div class='row'>{_svg(parts, 'race curve')}{table}</div>{summary}"


def _lags_section(cal: Calibration) -> str:
    if cal.lags is None:
        return f"<p class='note'>{_e(cal.lag_note)}</p>"
    rows = "".join(
        f"<tr><td><code>{_e(p.name)}</code></td><td>{p.estimate:.4g}</td><td>"
        + (f"{p.interval[0]:.4g} &ndash; {p.interval[1]:.4g}" if p.interval else "none")
        + f"</td><td>{'yes' if p.identified else 'no'}</td><td>{p.base:.4g}</td>"
        f"<td>{p.bounds[0]:.4g} &ndash; {p.bounds[1]:.4g}</td><td style='text-align:left'>{_e(p.sentence)}</td></tr>"
        for p in cal.lags.parameters
    )
    return (
        f"<p class='note'>{_e(cal.lags.method)}; {cal.lags.simulated_runs} virtual runs in "
        f"{cal.lags.seconds:.1f} s.</p><table><tr><th>parameter</th><th>estimate</th><th>95% interval</th>"
        f"<th>identified</th><th>base</th><th>searched</th><th>what the data say</th></tr>{rows}</table>"
    )


def render_page(cal: Calibration) -> str:
    """The page as HTML text."""
    sections = "".join(_observable_section(f, cal.observations.samples[f.observable]) for f in cal.fits)
    header = "".join(f"<li>{_e(line.strip())}</li>" for line in cal.header)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>racelab calibrate: {_e(cal.base)}</title><style>{_CSS}</style></head><body>"
        f"<h1>racelab calibrate</h1><p>Base profile <code>{_e(cal.base)}</code>, seed {cal.seed}, {_e(cal.created)}. "
        f"Inputs: {_e(', '.join(cal.observations.inputs))}.</p>"
        "<h2>Observed against fitted, per operation</h2>"
        "<p class='note'>Each CDF is the end-to-end latency observed; the fitted one is the carrier phase's fit plus "
        "the mean of the phases it passes through (docs/calibrate.md).</p>"
        f"{sections or '<p>No operation had samples.</p>'}"
        "<h2>The race curve: observed against simulated under the fitted profile</h2>"
        f"{_race_section(cal)}<h2>The hidden lags</h2>{_lags_section(cal)}"
        f"<h2>What was fitted from what</h2><ul class='note'>{header}</ul></body></html>"
    )


def write_page(cal: Calibration, path: Path) -> None:
    """Write the page to `path` (its folder is created).

    Raises:
        UsageError: `path` cannot be written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_page(cal), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--report: {path}: cannot write: {exc.strerror or exc}") from None
