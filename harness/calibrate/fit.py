"""Fitting the timing model's distribution families to observed durations, and choosing one.

Owns `fit_durations(values_ms, seed=...) -> DurationFit`: each family of `simulator.contract.timing` that can be
fitted by maximum likelihood (`lognormal`, `normal`, `exponential`, `pareto`) fitted with `scipy.stats`
(`floc=0` where the timing model has no location: lognormal, exponential, pareto), its KS statistic and p-value and
its AIC; the choice (the lowest AIC among the families the KS test does not reject at 5%; `empirical` when it
rejects them all; `fixed` when every duration is the same); the chosen family's parameters with bootstrap
intervals; observed and fitted percentiles; and `to_delay()`, the `simulator.contract.timing` model the profile
gets. `fit_family` fits one named family with its intervals, chosen or not.

    fit = fit_durations(values_ms, seed=1)
    fit.chosen.family, fit.to_delay()      # "lognormal", LogNormal(kind="lognormal", median_ms=..., sigma=...)

Imports: numpy, scipy.stats, `simulator.contract.timing` (layer `harness/calibrate/`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from simulator.contract.timing import (
    MAX_DURATION_MS,
    Distribution,
    Empirical,
    Exponential,
    Fixed,
    LogNormal,
    Normal,
    Pareto,
)

__all__ = [
    "FAMILIES",
    "KS_ALPHA",
    "MIN_SAMPLES",
    "PERCENTILES",
    "DurationFit",
    "FamilyFit",
    "fit_durations",
    "fit_family",
]

MIN_SAMPLES = 30
"""Fewer durations than this are reported, not fitted: a KS test and an AIC on fewer say little."""
KS_ALPHA = 0.05
"""A family whose KS p-value is below this is rejected."""
PERCENTILES = (50.0, 90.0, 95.0, 99.0)
"""The percentiles reported, observed against fitted."""
FAMILIES = ("lognormal", "normal", "exponential", "pareto")
"""The families fitted by maximum likelihood, in the order the page lists them."""
_BOOTSTRAP = 200
"""Resamples of the parameters' bootstrap intervals (percentile method)."""
_EMPIRICAL_MAX = 100_000
"""The most values an `Empirical` holds (the timing model's limit): a larger sample is thinned evenly by rank."""

_FLOC0 = {"lognormal", "exponential", "pareto"}
_SCIPY: Mapping[str, Any] = {
    "lognormal": stats.lognorm,
    "normal": stats.norm,
    "exponential": stats.expon,
    "pareto": stats.pareto,
}


@dataclass(frozen=True, slots=True)
class FamilyFit:
    """One family fitted to the sample.

    Args:
        family: `lognormal`, `normal`, `exponential`, `pareto` or `empirical`.
        params: The timing model's parameters (`median_ms`, `sigma`; `mean_ms`, `sd_ms`; `mean_ms`; `scale_ms`,
            `alpha`); empty for `empirical`.
        ks_statistic: The KS distance between the sample and the fitted CDF.
        ks_pvalue: Its p-value. The parameters were estimated from the same sample, so it is optimistic (a
            Lilliefors correction would lower it): a rejection is trustworthy, a pass is a weak statement.
        aic: `2k - 2 log L` (`inf` for `empirical`, which is not a likelihood model).
        intervals: Parameter -> 95% bootstrap interval (percentile method); filled for the chosen family only.
    """

    family: str
    params: Mapping[str, float]
    ks_statistic: float
    ks_pvalue: float
    aic: float
    intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    _frozen: Any = field(default=None, repr=False, compare=False)

    @property
    def passes(self) -> bool:
        """True when the KS test does not reject the family at `KS_ALPHA`."""
        return self.ks_pvalue >= KS_ALPHA

    def ppf(self, q: float) -> float:
        """The fitted distribution's quantile `q` (0-1), in ms (for `empirical`, the sample's)."""
        return float(self._frozen.ppf(q))


@dataclass(frozen=True, slots=True)
class DurationFit:
    """The fits of one observable's durations.

    Args:
        n: The sample's size.
        observed: Percentile (50, 90, 95, 99) -> the observed value, ms.
        fitted: Percentile -> the chosen fit's value, ms.
        families: Every family fitted, `FAMILIES` order, then `empirical`.
        chosen: The family chosen (see the module's rule).
        reason: One sentence: why that family.
        values_ms: The sample, sorted (the page draws its CDF; `empirical` draws from it).
    """

    n: int
    observed: Mapping[float, float]
    fitted: Mapping[float, float]
    families: tuple[FamilyFit, ...]
    chosen: FamilyFit
    reason: str
    values_ms: tuple[float, ...]

    def family(self, name: str) -> FamilyFit:
        """The fit of one family by name."""
        return next(f for f in self.families if f.family == name)

    def to_delay(self, *, cap_ms: float | None = None) -> Distribution:
        """The chosen fit as a timing-model distribution (what a profile's phase holds).

        Args:
            cap_ms: The cap of an unbounded family's draws; default twice the largest observation (at most
                `MAX_DURATION_MS`): the fit says nothing beyond the data, and a heavy tail must not draw hours.
        """
        return _delay(self.chosen, self.values_ms, cap_ms=cap_ms)


def _params(family: str, fitted: tuple[float, ...]) -> dict[str, float]:
    if family == "lognormal":
        s, _, scale = fitted
        return {"median_ms": float(scale), "sigma": float(s)}
    if family == "normal":
        loc, scale = fitted
        return {"mean_ms": float(loc), "sd_ms": float(scale)}
    if family == "exponential":
        _, scale = fitted
        return {"mean_ms": float(scale)}
    b, _, scale = fitted
    return {"scale_ms": float(scale), "alpha": float(b)}


def _mle(family: str, data: np.ndarray[Any, Any]) -> tuple[float, ...]:
    dist = _SCIPY[family]
    return tuple(float(v) for v in (dist.fit(data, floc=0) if family in _FLOC0 else dist.fit(data)))


def _free(family: str) -> int:
    return {"lognormal": 2, "normal": 2, "exponential": 1, "pareto": 2}[family]


def _fit_family(family: str, data: np.ndarray[Any, Any]) -> FamilyFit:
    # A family that cannot describe the sample at all (a pareto over a sample with ties at its minimum) fits to
    # degenerate numbers: its KS test rejects it and its AIC is infinite, so numpy's warnings say nothing more.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        fitted = _mle(family, data)
        frozen = _SCIPY[family](*fitted)
        ks = stats.kstest(data, frozen.cdf)
        loglik = float(np.sum(frozen.logpdf(data)))
    pvalue = float(ks.pvalue) if math.isfinite(ks.pvalue) else 0.0
    statistic = float(ks.statistic) if math.isfinite(ks.statistic) else 1.0
    aic = 2 * _free(family) - 2 * loglik if math.isfinite(loglik) else math.inf
    return FamilyFit(
        family=family,
        params=_params(family, fitted),
        ks_statistic=statistic,
        ks_pvalue=pvalue,
        aic=aic,
        _frozen=frozen,
    )


class _Sample:
    """The empirical distribution with the `ppf` a frozen scipy distribution has (numpy's linear percentile)."""

    def __init__(self, data: np.ndarray[Any, Any]) -> None:
        self.data = data

    def ppf(self, q: float) -> float:
        return float(np.percentile(self.data, q * 100.0))


def fit_durations(values_ms: Sequence[float], *, seed: int) -> DurationFit:
    """Fit every family to the durations and choose one.

    The rule: among the families the KS test does not reject at 5%, the one with the lowest AIC; when it rejects
    them all, `empirical` (the sample itself, drawn uniformly). The chosen family's parameters get 95% bootstrap
    intervals (`_BOOTSTRAP` resamples, percentile method, seeded).

    Args:
        values_ms: The durations, ms; at least `MIN_SAMPLES`, each finite and >= 0 (a 0 is moved to a thousandth of
            a millisecond, as the families with `floc=0` need positive values).
        seed: Seeds the bootstrap.

    Raises:
        ValueError: fewer than `MIN_SAMPLES` values, or a negative or non-finite one.
    """
    data = _checked(values_ms)
    if data[0] == data[-1]:  # every duration the same: a fixed delay, nothing to fit
        fixed = FamilyFit("fixed", {"ms": float(data[0])}, 0.0, 1.0, math.inf, _frozen=_Sample(data))
        return DurationFit(
            n=int(data.size),
            observed={q: float(data[0]) for q in PERCENTILES},
            fitted={q: float(data[0]) for q in PERCENTILES},
            families=(fixed,),
            chosen=fixed,
            reason=f"fixed: every one of the {data.size} durations is {float(data[0]):g} ms",
            values_ms=tuple(float(v) for v in data),
        )
    fits = [_fit_family(f, data) for f in FAMILIES]
    passing = [f for f in fits if f.passes]
    ks_empirical = FamilyFit("empirical", {}, 0.0, 1.0, math.inf, _frozen=_Sample(data))
    if passing:
        best = min(passing, key=lambda f: f.aic)
        others = ", ".join(f.family for f in passing if f is not best)
        reason = f"{best.family}: the lowest AIC ({best.aic:.1f}) of the families the KS test keeps at 5%" + (
            f" (also kept: {others})" if others else " (the only one kept)"
        )
        best = _with_intervals(best, data, seed=seed)
    else:
        best = ks_empirical
        worst = ", ".join(f"{f.family} p={f.ks_pvalue:.2g}" for f in fits)
        reason = f"empirical: the KS test rejects every family at 5% ({worst})"
    fits_out = tuple(best if f.family == best.family else f for f in (*fits, ks_empirical))
    return DurationFit(
        n=int(data.size),
        observed={q: float(np.percentile(data, q)) for q in PERCENTILES},
        fitted={q: best.ppf(q / 100.0) for q in PERCENTILES},
        families=fits_out,
        chosen=best,
        reason=reason,
        values_ms=tuple(float(v) for v in data),
    )


def fit_family(values_ms: Sequence[float], family: str, *, seed: int) -> FamilyFit:
    """One family's maximum-likelihood fit with its KS test, AIC and 95% bootstrap intervals, chosen or not.

    Raises:
        ValueError: an unknown family, or values `fit_durations` would refuse.
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}")
    data = _checked(values_ms)
    return _with_intervals(_fit_family(family, data), data, seed=seed)


def _checked(values_ms: Sequence[float]) -> np.ndarray[Any, Any]:
    data = np.asarray(values_ms, dtype=float)
    if data.size < MIN_SAMPLES:
        raise ValueError(f"fit_durations needs at least {MIN_SAMPLES} durations, got {data.size}")
    if not np.all(np.isfinite(data)) or np.any(data < 0):
        raise ValueError("fit_durations needs finite, non-negative durations")
    return np.sort(np.maximum(data, 1e-3))


def _with_intervals(fit: FamilyFit, data: np.ndarray[Any, Any], *, seed: int) -> FamilyFit:
    names = list(fit.params)

    def statistic(sample: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        params = _params(fit.family, _mle(fit.family, sample))
        return np.array([params[n] for n in names])

    result = stats.bootstrap(
        (data,),
        statistic,
        n_resamples=_BOOTSTRAP,
        vectorized=False,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    low, high = np.atleast_1d(result.confidence_interval.low), np.atleast_1d(result.confidence_interval.high)
    intervals = {n: (float(lo), float(hi)) for n, lo, hi in zip(names, low, high, strict=True)}
    return FamilyFit(
        family=fit.family,
        params=fit.params,
        ks_statistic=fit.ks_statistic,
        ks_pvalue=fit.ks_pvalue,
        aic=fit.aic,
        intervals=intervals,
        _frozen=fit._frozen,
    )


def _delay(fit: FamilyFit, values: Sequence[float], *, cap_ms: float | None) -> Distribution:
    cap = round(min(MAX_DURATION_MS, cap_ms if cap_ms is not None else 2.0 * max(values)), 3)
    p = {k: round(v, 4) for k, v in fit.params.items()}  # a profile a person reads: 0.1 us is plenty
    if fit.family == "lognormal":
        return LogNormal(kind="lognormal", median_ms=p["median_ms"], sigma=min(p["sigma"], 5.0), cap_ms=cap)
    if fit.family == "normal":
        return Normal(kind="normal", mean_ms=max(p["mean_ms"], 0.0), sd_ms=p["sd_ms"], min_ms=0.0, max_ms=cap)
    if fit.family == "exponential":
        return Exponential(kind="exponential", mean_ms=p["mean_ms"], cap_ms=cap)
    if fit.family == "fixed":
        return Fixed(kind="fixed", ms=p["ms"])
    if fit.family == "pareto":
        return Pareto(kind="pareto", scale_ms=p["scale_ms"], alpha=min(p["alpha"], 100.0), cap_ms=cap)
    ordered = sorted(values)
    if len(ordered) > _EMPIRICAL_MAX:
        step = len(ordered) / _EMPIRICAL_MAX
        ordered = [ordered[int(i * step)] for i in range(_EMPIRICAL_MAX)]
    return Empirical(kind="empirical", values_ms=[round(v, 3) for v in ordered])
