"""The hidden lags: fit the lags that decide the race to an observed race curve, in virtual time.

Owns `fit_lags()` (maximum likelihood with profile-likelihood intervals) and its result `LagFit` (per parameter a
`LagEstimate`; the race curve simulated under the fitted profile, `CurvePoint`); re-exports `simulate_race()` (a
race curve a profile gives in virtual time: `harness.calibrate.virtual_race`).

The lags (`orders.change.read_lag`: how stale the snapshot is that the Change's worker validates against) cannot be
seen from outside the platform; only their effect can: how often the naive integration over-invoices at each offset
of the Change after the invoice. So a candidate value is judged by simulating the same sweep in virtual mode (the
runs `racelab run --mode virtual` makes, with the candidate's profile) and scoring the observed counts per cell
against the simulated rate with the binomial likelihood (`scipy.stats`). Every candidate runs the same specs with
the same seeds (common random numbers): a run's draws are the same for every candidate, only the candidate's lags
scale them, so the simulated rates move smoothly with the parameters; an emulator fitted to them (`_Emulator`)
pools the runs of many candidates, so the optimum and the intervals are not lost in simulation noise.

Imports: stdlib, numpy, scipy, `harness.calibrate.observe`, `harness.calibrate.virtual_race`, `harness.errors`,
`simulator.contract` (layer `harness/calibrate/` of docs/architecture.md).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
from scipy import optimize, stats

from harness.calibrate.observe import RaceCell, RaceObservations
from harness.calibrate.virtual_race import RaceSimulator, base_json, cell_specs, check_cells, own_loop, simulate_race
from harness.errors import UsageError
from simulator.contract import MAX_DURATION_MS

__all__ = [
    "CHI2_95",
    "DEFAULT_PARAMS",
    "CurvePoint",
    "LagEstimate",
    "LagFit",
    "fit_lags",
    "simulate_race",
]

_Point: TypeAlias = Sequence[float] | np.ndarray
"""A point in log-parameter space."""

DEFAULT_PARAMS = ("orders.change.read_lag.median_ms",)
"""What moves the naive over-invoice rate per offset and cannot be observed: the median of the Change worker's
replica lag. Its `sigma` moves it too, but ~10 cells of ~20 runs barely tell it from the median (ask for it:
`params=(..., "orders.change.read_lag.sigma")`). `orders.workflow.invoice_view_lag` does not move it at all (it
decides failure B, the lost invoice: checked in virtual mode, the over-invoice counts are identical for any value)."""

CHI2_95 = float(stats.chi2.ppf(0.95, df=1))
"""3.84: a value belongs to the 95% profile-likelihood interval when twice its log-likelihood's drop from the
maximum stays below this (Wilks: the drop is chi-squared with one degree of freedom)."""

_SCALE_FIELD = {
    "lognormal": "median_ms",
    "exponential": "mean_ms",
    "normal": "mean_ms",
    "pareto": "scale_ms",
    "fixed": "ms",
}
"""The field a parameter naming a whole distribution (`orders.change.read_lag`) means: its scale."""

_SIGMA_BOUNDS = (0.1, 2.5)
"""Default search range of a lognormal's `sigma` (the contract allows 0 to 5; beyond 2.5 a median says little)."""

_SPAN = 10.0
"""Default search range of any other parameter: its base value divided and multiplied by this."""

_MAX_PARAMS = 3


@dataclass(frozen=True, slots=True)
class LagEstimate:
    """One fitted parameter: its estimate, its 95% profile-likelihood interval, and whether the data identify it.

        est = fit.parameter("orders.change.read_lag.median_ms")
        est.estimate, est.interval, est.identified, est.sentence

    Args:
        name: The profile field, dotted (`orders.change.read_lag.median_ms`).
        estimate: The maximum-likelihood value; the base's when the likelihood is flat (any value fits as well).
        interval: The values whose likelihood is within `CHI2_95 / 2` of the maximum (a search bound as an end
            when the interval reaches it); None when the likelihood is flat over the whole search range.
        identified: True only when the interval is closed inside the search range on both sides.
        sentence: What the data say about it, for a person.
        base: Its value in the base profile.
        bounds: The search range.
        profile: `(value, deviance)` at every value the profile was computed at, sorted by value; the deviance is
            twice the drop of the profile log-likelihood from its maximum (0 at the estimate), over the region
            the emulator covers (the whole search range when the data say little).
    """

    name: str
    estimate: float
    interval: tuple[float, float] | None
    identified: bool
    sentence: str
    base: float
    bounds: tuple[float, float]
    profile: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """One cell of the race curve: observed on the platform, and simulated under the fitted profile.

    [(p.offset_ms, p.rate, p.simulated_rate) for p in fit.curve]
    """

    scenario: str
    integration: str
    cell: tuple[tuple[str, float], ...]
    offset_ms: float | None
    trials: int
    violations: int
    simulated_trials: int
    simulated_violations: int

    @property
    def rate(self) -> float:
        """The observed violation rate."""
        return self.violations / self.trials if self.trials else 0.0

    @property
    def simulated_rate(self) -> float:
        """The simulated violation rate under the fitted profile."""
        return self.simulated_violations / self.simulated_trials if self.simulated_trials else 0.0


@dataclass(frozen=True, slots=True)
class LagFit:
    """What `fit_lags` found: the fitted parameters, the profile patch that applies them, the race curve.

        fit = fit_lags(observations, load_profile("default").to_json(), seed=1)
        fit.parameter("orders.change.read_lag.median_ms").interval, fit.overrides, fit.curve

    Args:
        parameters: One estimate per fitted parameter, in the order asked.
        overrides: A merge patch for the base profile (`simulator.merge_patch`) that sets the estimates the data
            stand behind (identified, or bounded on one side with the base's value beyond the bound; the others
            keep the base's): whole distributions (`{"orders": {"change": {"read_lag": {"kind": ...}}}}`).
        curve: Per observed cell, observed and simulated counts (the base with `overrides`).
        log_likelihood: The log-likelihood of the observations at the estimate (`_log_likelihood`).
        method: How the estimates and intervals were obtained, in one sentence.
        runs_per_cell: Virtual runs per cell and candidate.
        seed: The seed of the virtual runs (the same runs for every candidate).
        evaluations: Candidate profiles simulated.
        simulated_runs: Virtual runs made in all.
        seconds: Wall-clock time the fit took.
    """

    parameters: tuple[LagEstimate, ...]
    overrides: Mapping[str, Any]
    curve: tuple[CurvePoint, ...]
    log_likelihood: float
    method: str
    runs_per_cell: int
    seed: int
    evaluations: int
    simulated_runs: int
    seconds: float

    def parameter(self, name: str) -> LagEstimate:
        """The estimate of `name` (as asked, or the field it resolved to)."""
        for estimate in self.parameters:
            if name in (estimate.name, estimate.name.rsplit(".", 1)[0]):
                return estimate
        raise KeyError(name)


# -- parameters ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    path: tuple[str, ...]
    base: float
    lo: float
    hi: float

    @property
    def ulo(self) -> float:
        return math.log(self.lo)

    @property
    def uhi(self) -> float:
        return math.log(self.hi)


def _resolve(name: str, base: Mapping[str, Any], bounds: Mapping[str, tuple[float, float]]) -> _Param:
    """A parameter's profile field (a distribution's name means its scale), its base value and search range."""
    path = tuple(name.split("."))
    node: Any = base
    for i, key in enumerate(path):
        if not isinstance(node, Mapping) or key not in node:
            raise UsageError(f"params: {name!r} is not a field of the base profile (no {'.'.join(path[: i + 1])!r})")
        node = node[key]
    parent: Mapping[str, Any] | None = None
    if isinstance(node, Mapping):
        kind = node.get("kind")
        scale = _SCALE_FIELD.get(str(kind))
        if scale is None:
            raise UsageError(
                f"params: {name!r} is a {kind} distribution, which has no single scale to fit; name its field "
                f"({', '.join(sorted(k for k in node if k != 'kind'))})"
            )
        parent, path, node = node, (*path, scale), node[scale]
    elif len(path) > 1:
        above: Any = base
        for key in path[:-1]:
            above = above[key]
        parent = above
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise UsageError(f"params: {name!r} is not a number in the base profile (it is {node!r})")
    full = ".".join(path)
    value = float(node)
    given = bounds.get(full, bounds.get(name))
    if given is not None:
        lo, hi = float(given[0]), float(given[1])
    elif path[-1] == "sigma":
        lo, hi = _SIGMA_BOUNDS
    elif value > 0:
        lo, hi = value / _SPAN, value * _SPAN
        if path[-1].endswith("_ms"):
            cap = parent.get("cap_ms") if parent is not None else None
            hi = min(hi, float(cap) if isinstance(cap, int | float) and cap > 0 else hi, MAX_DURATION_MS)
    else:
        raise UsageError(f"params: {full!r} is {value:g} in the base profile; give its search range in bounds")
    if not (0 < lo < hi and math.isfinite(hi)):
        raise UsageError(f"bounds: {full!r} needs 0 < low < high, got ({lo:g}, {hi:g})")
    return _Param(full, path, value, lo, hi)


def _patch(params: Sequence[_Param], values: Sequence[float], base: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch setting `values`: whole distributions, since a patch with `kind` replaces one whole."""
    patch: dict[str, Any] = {}
    for param, value in zip(params, values, strict=True):
        node: Any = base
        out = patch
        for key in param.path[:-1]:
            node = node[key]
            out = out.setdefault(key, {})
        if isinstance(node, Mapping) and "kind" in node and not out:
            out.update(copy.deepcopy(dict(node)))
        out[param.path[-1]] = value
    return patch


# -- the likelihood, its emulator, its maximum and profiles -----------------------------------------------------


def _log_likelihood(observed: Sequence[RaceCell], counts: Sequence[tuple[int, int]]) -> float:
    """Log-likelihood of the observed counts given the simulated ones (`v` violations of `t` runs), over the cells.

    With Jeffreys' prior the simulated rate is Beta(v + 1/2, t - v + 1/2), and the observed count, integrated over
    it, beta-binomial (`scipy.stats.betabinom`): never -inf where the simulation saw no violation, and no more sure
    of the rate than `t` runs make it. Used to locate the optimum on the coarse grid and to score the fitted
    profile; the emulator (`_Emulator`) gives the likelihood between simulated points.
    """
    k = np.array([c.violations for c in observed])
    n = np.array([c.trials for c in observed])
    v = np.array([vt[0] for vt in counts], dtype=float)
    t = np.array([vt[1] for vt in counts], dtype=float)
    return float(np.sum(stats.betabinom.logpmf(k, n, v + 0.5, t - v + 0.5)))


class _Emulator:
    """The simulated rate of each cell as a smooth function of the parameters (in log space) within a region:
    logit(rate) quadratic in them, fitted to every simulated point of the region (binomial likelihood with
    Jeffreys' half counts, so that a cell with no violation anywhere stays finite).

    Pooling the runs of all the points is what makes it worth having: the rate at any value rests on the region's
    hundreds of runs per cell instead of one candidate's few dozen, and the likelihood between points is smooth,
    so scipy's optimisers and root finders work on it exactly.
    """

    def __init__(self, lo: np.ndarray, hi: np.ndarray, us: np.ndarray, counts: np.ndarray) -> None:
        self._center = (lo + hi) / 2
        self._half = np.maximum((hi - lo) / 2, 1e-9)
        features = self._features(us)
        self._coef = np.array([self._fit(features, counts[:, c, 0], counts[:, c, 1]) for c in range(counts.shape[1])])

    def _features(self, us: np.ndarray) -> np.ndarray:
        x = (np.atleast_2d(us) - self._center) / self._half
        d = x.shape[1]
        squares = [x[:, j] * x[:, k] for j in range(d) for k in range(j, d)]
        return np.column_stack([np.ones(len(x)), *(x[:, j] for j in range(d)), *squares])

    @staticmethod
    def _fit(features: np.ndarray, v: np.ndarray, t: np.ndarray) -> np.ndarray:
        y, w = v + 0.5, t + 1.0

        def nll(b: np.ndarray) -> tuple[float, np.ndarray]:
            eta = features @ b
            ridge = 1e-4  # keeps the coefficients finite on a flat or one-sided cell
            value = float(np.sum(w * np.logaddexp(0.0, eta) - y * eta) + ridge * b @ b)
            return value, features.T @ (w * _expit(eta) - y) + 2 * ridge * b

        start = np.zeros(features.shape[1])
        return np.asarray(optimize.minimize(nll, start, jac=True, method="BFGS").x)

    def rates(self, u: _Point) -> np.ndarray:
        out: np.ndarray = np.clip(_expit(self._coef @ self._features(np.asarray(u, dtype=float))[0]), 1e-12, 1 - 1e-12)
        return out


def _expit(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out


@dataclass(slots=True)
class _Search:
    """The fit's state: the parameters, the simulated points, the region the emulator covers."""

    params: Sequence[_Param]
    base: Mapping[str, Any]
    sim: RaceSimulator
    cells: Sequence[RaceCell]
    runs: int
    lo: np.ndarray
    hi: np.ndarray
    points: dict[tuple[float, ...], tuple[tuple[int, int], ...]]
    emulator: _Emulator | None = None

    def simulate(self, u: _Point, runs: int | None = None) -> tuple[tuple[int, int], ...]:
        point = tuple(round(float(x), 9) for x in u)
        counts = self.sim.counts(_patch(self.params, [math.exp(x) for x in point], self.base), runs or self.runs)
        if runs is None or runs == self.runs:
            self.points[point] = counts
        return counts

    def grid(self, lo: np.ndarray, hi: np.ndarray, per_axis: int) -> None:
        axes = [np.linspace(a, b, per_axis) for a, b in zip(lo, hi, strict=True)]
        for u in np.array(np.meshgrid(*axes, indexing="ij")).reshape(len(axes), -1).T:
            self.simulate(u)

    def fit(self) -> None:
        inside = [u for u in self.points if _within(u, self.lo, self.hi)]
        us = np.array(inside)
        self.emulator = _Emulator(self.lo, self.hi, us, np.array([self.points[u] for u in inside], dtype=float))

    def loglik(self, u: _Point) -> float:
        assert self.emulator is not None
        k = np.array([c.violations for c in self.cells])
        n = np.array([c.trials for c in self.cells])
        return float(np.sum(stats.binom.logpmf(k, n, self.emulator.rates(u))))

    def maximise(self, fixed: Mapping[int, float], start: _Point) -> tuple[np.ndarray, float]:
        """The emulated likelihood's maximum over the parameters not in `fixed`, within the region."""
        free = [i for i in range(len(self.params)) if i not in fixed]
        u = np.array(start, dtype=float)
        for i, x in fixed.items():
            u[i] = x
        if free:

            def negative(x: np.ndarray) -> float:
                u[free] = x
                return -self.loglik(u)

            box = [(self.lo[i], self.hi[i]) for i in free]
            x0 = np.clip(u[free], [b[0] for b in box], [b[1] for b in box])
            best = optimize.minimize(negative, x0, method="L-BFGS-B", bounds=box)
            u[free] = best.x
        return u.copy(), self.loglik(u)


_LOCATE_DEVIANCE = 16.0
"""Coarse-grid points within this deviance of the best stay in the emulator's region: four times the interval's
threshold, since the coarse grid's few runs per point make its deviances rough."""


def _locate(search: _Search, per_axis: int, runs: int) -> tuple[np.ndarray, np.ndarray]:
    """Where the emulator should look: the coarse grid's points (few runs each) whose profile deviance is small
    enough to matter, widened by one grid step (the whole range when nothing stands out)."""
    params = search.params
    axes = [np.linspace(p.ulo, p.uhi, per_axis) for p in params]
    grid = np.array(np.meshgrid(*axes, indexing="ij")).reshape(len(axes), -1).T
    ll = np.array([_log_likelihood(search.cells, search.simulate(u, runs)) for u in grid])
    dev = 2.0 * (ll.max() - ll)
    lo, hi = np.empty(len(params)), np.empty(len(params))
    for i, axis in enumerate(axes):
        near = [j for j, x in enumerate(axis) if dev[np.isclose(grid[:, i], x)].min() <= _LOCATE_DEVIANCE]
        lo[i], hi[i] = axis[max(min(near) - 1, 0)], axis[min(max(near) + 1, len(axis) - 1)]
    return lo, hi


def _profile(search: _Search, i: int, mle: np.ndarray, top: float) -> tuple[dict[float, float], list[float | None]]:
    """Parameter `i`'s profile deviance at 41 values across the region (others maximised), and its interval's
    ends (log space): None where the profile stays under the threshold up to the region's edge."""
    values: dict[float, float] = {}

    def deviance(x: float) -> float:
        _, ll = search.maximise({i: x}, mle)
        values[x] = 2.0 * (top - ll)
        return values[x]

    for x in np.linspace(search.lo[i], search.hi[i], 41):
        deviance(float(x))
    ends: list[float | None] = []
    for side in (-1, 1):
        walk = sorted((x for x in list(values) if (x - mle[i]) * side > 0), key=lambda x: abs(x - mle[i]))
        inside, end = float(mle[i]), None
        for x in walk:
            if values[x] >= CHI2_95:
                a, b = min(inside, x), max(inside, x)
                end = float(optimize.brentq(lambda y: deviance(y) - CHI2_95, a, b, xtol=1e-4))
                break
            inside = x
        ends.append(end)
    return values, ends


def _sentence(param: _Param, estimate: float, interval: tuple[float, float] | None, identified: bool) -> str:
    unit = " ms" if param.name.endswith("_ms") else ""

    def show(x: float) -> str:
        return f"{x:.3g}{unit}" if abs(x) < 100 else f"{x:.0f}{unit}"

    rng = f"{show(param.lo)}-{show(param.hi)}"
    if interval is None:
        return (
            f"{param.name} is not identified: its log-likelihood varies by less than {CHI2_95 / 2:.2f} over {rng}, so "
            f"the observations are as likely whatever its value; the base profile's {show(param.base)} is kept."
        )
    lo, hi = interval
    if identified:
        return (
            f"{param.name} = {show(estimate)} (95% profile-likelihood interval {show(lo)}-{show(hi)}; "
            f"base profile {show(param.base)})."
        )
    if math.isclose(lo, param.lo) and math.isclose(hi, param.hi):
        side = "both ends of the search range"
    elif math.isclose(lo, param.lo):
        side = f"the search range's lower end: the data only bound it above ({show(hi)})"
    else:
        side = f"the search range's upper end: the data only bound it below ({show(lo)})"
    return (
        f"{param.name} is not identified: its 95% profile-likelihood interval reaches {side}; best fit "
        f"{show(estimate)}, base profile {show(param.base)}."
    )


def fit_lags(
    observed: RaceObservations,
    base_profile: Mapping[str, Any],
    *,
    seed: int,
    params: Sequence[str] = DEFAULT_PARAMS,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    runs_per_cell: int = 40,
    grid_points: int | None = None,
    jobs: int = 1,
    on_evaluation: Callable[[int], None] | None = None,
) -> LagFit:
    """Fit hidden lags of `base_profile` so that virtual runs reproduce the observed violation rate per cell.

        fit = fit_lags(observations, load_profile("default").to_json(), seed=1)
        fit.parameter("orders.change.read_lag.median_ms").sentence

    Maximum likelihood, in log space, in three steps. (1) A coarse grid over each parameter's range, a few runs
    per cell at each point, scored by the beta-binomial likelihood, says where the optimum can be. (2) A finer
    grid over that region, `runs_per_cell` runs per cell at each point, fits the emulator: each cell's rate as a
    smooth function of the parameters (`_Emulator`). (3) scipy's bounded optimiser (L-BFGS-B) finds the emulated
    likelihood's maximum, and each parameter's 95% profile-likelihood interval is where twice the drop of the
    likelihood, maximised over the other parameters, stays below 3.84 (`brentq` finds the ends); the region
    widens when an end lies beyond it. Profile likelihood rather than a bootstrap: it needs only the likelihood
    already emulated, where a parametric bootstrap would refit a hundred times (thousands of virtual runs each).
    Every point runs the same specs with the same seeds: the runs differ only by the candidate's values.

    Args:
        observed: The race curve observed (`harness.calibrate.observe`); every cell needs trials.
        base_profile: The profile the lags are fitted within (a `SimConfig` as JSON, or a profile's mapping).
        seed: Seed of the virtual runs.
        params: Profile fields to fit, dotted; a distribution's name means its scale (`orders.change.read_lag`
            is its `median_ms`). At most 3.
        bounds: Search range per parameter (default: base / 10 to base x 10, held under the distribution's
            `cap_ms`; 0.1 to 2.5 for a `sigma`).
        runs_per_cell: Virtual runs per cell at each point of the fine grid (the coarse grid runs a third).
        grid_points: Coarse grid values per parameter (default 9 for one parameter, 5 for two, 4 for three).
        jobs: Worker processes for the virtual runs.
        on_evaluation: Called with the number of candidate batches simulated so far, after each new one.

    Raises:
        UsageError: bad observations (no cells, a cell without trials, more violations than trials, the same
            cell twice, a cell its scenario does not have), an unknown parameter, bad bounds.
        RuntimeError: called from a thread running an event loop (use `asyncio.to_thread`).
    """
    started = time.perf_counter()
    check_cells(observed, need_trials=True)
    if not params:
        raise UsageError("params: name at least one profile field to fit")
    if len(params) > _MAX_PARAMS:
        raise UsageError(f"params: at most {_MAX_PARAMS} at once (each one multiplies the runs), got {len(params)}")
    if isinstance(runs_per_cell, bool) or not isinstance(runs_per_cell, int) or runs_per_cell < 3:
        raise UsageError(f"runs_per_cell must be at least 3, got {runs_per_cell!r}")
    base = base_json(base_profile)
    resolved = [_resolve(name, base, bounds or {}) for name in params]
    if len({p.name for p in resolved}) != len(resolved):
        raise UsageError(f"params: the same field twice in {list(params)}")
    d = len(resolved)
    coarse = grid_points if grid_points is not None else {1: 9, 2: 5}.get(d, 4)
    if coarse < 3:
        raise UsageError(f"grid_points must be at least 3, got {coarse}")
    fine = {1: 7, 2: 5}.get(d, 3)
    full_lo = np.array([p.ulo for p in resolved])
    full_hi = np.array([p.uhi for p in resolved])

    with own_loop() as loop:
        specs = cell_specs(observed, seed=seed, runs=runs_per_cell)
        sim = RaceSimulator(loop, specs, base, checker=observed.checker, seed=seed, jobs=jobs)
        sim.on_evaluation = on_evaluation
        search = _Search(resolved, base, sim, observed.cells, runs_per_cell, full_lo, full_hi, {})
        search.lo, search.hi = _locate(search, coarse, max(3, runs_per_cell // 3))
        search.grid(search.lo, search.hi, fine)
        step = (full_hi - full_lo) / (coarse - 1)
        while True:
            search.fit()
            start = max((u for u in search.points if _within(u, search.lo, search.hi)), key=search.loglik)
            mle, top = search.maximise({}, start)
            profiles = [_profile(search, i, mle, top) for i in range(d)]
            lo, hi = search.lo.copy(), search.hi.copy()
            for i, (_, (low, high)) in enumerate(profiles):
                if low is None:
                    lo[i] = max(full_lo[i], lo[i] - step[i])
                if high is None:
                    hi[i] = min(full_hi[i], hi[i] + step[i])
            if np.allclose(lo, search.lo) and np.allclose(hi, search.hi):
                break
            search.lo, search.hi = lo, hi  # an interval's end lies beyond the region: widen it, simulate more
            search.grid(lo, hi, fine)

        estimates: list[LagEstimate] = []
        values: list[float] = []
        for i, (p, (curve, (low, high))) in enumerate(zip(resolved, profiles, strict=True)):
            flat = max(curve.values()) < CHI2_95
            value = p.base if flat else float(f"{math.exp(mle[i]):.6g}")  # 6 digits: as the profile writes it
            interval = (
                None
                if flat
                else (math.exp(search.lo[i] if low is None else low), math.exp(search.hi[i] if high is None else high))
            )
            closed = not flat and low is not None and high is not None
            values.append(value)
            estimates.append(
                LagEstimate(
                    name=p.name,
                    estimate=value,
                    interval=interval,
                    identified=closed,
                    sentence=_sentence(p, value, interval, closed),
                    base=p.base,
                    bounds=(p.lo, p.hi),
                    profile=tuple((math.exp(x), max(dev, 0.0)) for x, dev in sorted(curve.items())),
                )
            )
        # The profile changes the base only where the data say something against it: an identified parameter,
        # or one bounded on one side that the base lies beyond. Elsewhere the base's value stays.
        kept = [e.identified or (e.interval is not None and not _inside(e.base, e.interval)) for e in estimates]
        values = [v if keep else p.base for p, v, keep in zip(resolved, values, kept, strict=True)]
        fitted = [(p, v) for p, v, keep in zip(resolved, values, kept, strict=True) if keep]
        overrides = _patch([p for p, _ in fitted], [v for _, v in fitted], base)
        counts = sim.counts(_patch(resolved, values, base), runs_per_cell)

    curve_points = tuple(
        CurvePoint(
            scenario=c.scenario,
            integration=c.integration,
            cell=c.cell,
            offset_ms=c.offset_ms,
            trials=c.trials,
            violations=c.violations,
            simulated_trials=t,
            simulated_violations=v,
        )
        for c, (v, t) in zip(observed.cells, counts, strict=True)
    )
    method = (
        f"maximum likelihood over {len(observed.cells)} cells, the rates emulated from virtual runs "
        f"({runs_per_cell} per cell and point, the same seeds at every point, seed {seed}); 95% profile-likelihood "
        f"intervals (twice the log-likelihood's drop <= {CHI2_95:.2f})"
    )
    return LagFit(
        parameters=tuple(estimates),
        overrides=overrides,
        curve=curve_points,
        log_likelihood=top,
        method=method,
        runs_per_cell=runs_per_cell,
        seed=seed,
        evaluations=sim.evaluations,
        simulated_runs=sim.runs,
        seconds=time.perf_counter() - started,
    )


def _inside(x: float, interval: tuple[float, float]) -> bool:
    return interval[0] <= x <= interval[1]


def _within(u: _Point, lo: np.ndarray, hi: np.ndarray) -> bool:
    return all(a - 1e-9 <= x <= b + 1e-9 for x, a, b in zip(u, lo, hi, strict=True))
