"""`calibrate()`: inputs in, a fitted profile out (not yet written), with everything the page shows.

Owns `Calibration`, `ObservableFit` and `calibrate(inputs, base, seed)`: read the inputs
(`harness.calibrate.observe`), fit each observable with enough samples into its carrier phase
(`harness.calibrate.fit`, `harness.calibrate.profile`'s split rule), fit the hidden lags to the naive integration's
race curve under that profile (`harness.calibrate.lags`, in virtual time), and assemble the profile document and
its header. The command writes the profile and the page from it; a test reads the figures.

    cal = calibrate([Path("results/latest")], "default", seed=1)
    cal.fit_of("invoice").fitted[95.0], cal.lags.parameter("orders.change.read_lag").interval
    write_profile(cal.profile, Path("fitted.yaml"), header=cal.header)

Imports: stdlib, `harness.calibrate` (its modules), `harness.errors`, `simulator.__all__` (layer
`harness/calibrate/`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.calibrate.fit import MIN_SAMPLES, PERCENTILES, DurationFit, fit_durations
from harness.calibrate.lags import DEFAULT_PARAMS, LagFit, fit_lags
from harness.calibrate.observe import OBSERVABLES, Observations, RaceObservations, read_inputs
from harness.calibrate.profile import (
    Target,
    apply_patch,
    base_document,
    get_field,
    phase_mean_ms,
    set_field,
    targets,
)
from harness.errors import UsageError
from harness.judge.stats import percentile
from simulator import ConfigError, load_profile, merge_patch

__all__ = ["NAIVE", "RACE_SCENARIO", "Calibration", "ObservableFit", "calibrate"]

RACE_SCENARIO = "over-invoice"
"""The scenario whose race curve the lags are fitted to by default (the Change v2 against the invoice)."""
NAIVE = "naive"
"""The integration whose race curve the lags are fitted to (the one that races: it does not wait for the Change)."""
_ZERO: Mapping[str, Any] = {"kind": "fixed", "ms": 0}


@dataclass(frozen=True, slots=True)
class ObservableFit:
    """One observable: its samples, where they went in the profile, and how well the fit matches them.

    Args:
        observable: The observable's name (`invoice`, `change-finished`...).
        n: Its samples.
        target: The carrier phase and the phases it passes through (None: no profile field is timed by it).
        shift_ms: What the other phases add on average (the base's means), subtracted before fitting.
        zeroed: The other phases set to 0 ms (when the base's exceeded the observations' 5th percentile).
        fit: The fit of the carrier's share (None: fewer than `MIN_SAMPLES` samples, or no target).
        observed: Percentile -> the observed end-to-end value, ms.
        fitted: Percentile -> the fitted end-to-end value (the carrier's fitted quantile plus `shift_ms`), ms.
        sentence: What was done, for a person.
        delay: The carrier's new distribution as the profile writes it (None when not fitted).
    """

    observable: str
    n: int
    target: Target | None
    shift_ms: float
    zeroed: tuple[str, ...]
    fit: DurationFit | None
    observed: Mapping[float, float]
    fitted: Mapping[float, float]
    sentence: str
    delay: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Calibration:
    """What `calibrate` found and the profile it makes.

    Args:
        observations: Everything read.
        base: The base profile as asked (`default`) and `base_path`, its file.
        fits: One per observable with samples, `OBSERVABLES` order.
        race: The race cells the lags were fitted to (the naive integration's, with trials).
        lags: The lag fit (None without race cells).
        lag_note: Why there is no lag fit, or how it went, in one sentence.
        profile: The profile document to write (the base's mapping, fitted fields replaced).
        config: The same, validated, as JSON (every field).
        header: The profile's header comment, one line per item.
        seed: The seed used (bootstrap and virtual runs).
    """

    observations: Observations
    base: str
    base_path: Path
    fits: tuple[ObservableFit, ...]
    race: RaceObservations
    lags: LagFit | None
    lag_note: str
    profile: Mapping[str, Any]
    config: Mapping[str, Any]
    header: tuple[str, ...]
    seed: int
    created: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))

    def fit_of(self, observable: str) -> ObservableFit:
        """The fit of one observable by name."""
        for f in self.fits:
            if f.observable == observable:
                return f
        raise KeyError(observable)


def _percentile(values: Sequence[float], q: float) -> float:
    value = percentile(values, q)
    return math.nan if value is None else value


def _percentiles(values: Sequence[float]) -> dict[float, float]:
    return {q: _percentile(values, q) for q in PERCENTILES}


def _fit_observable(
    name: str, values: Sequence[float], target: Target | None, base: Mapping[str, Any], seed: int
) -> ObservableFit:
    observed = _percentiles(values)
    if target is None:
        return ObservableFit(
            name,
            len(values),
            None,
            0.0,
            (),
            None,
            observed,
            {},
            f"{name}: no profile field is timed by it under the base's modes; not fitted",
        )
    if len(values) < MIN_SAMPLES:
        return ObservableFit(
            name,
            len(values),
            target,
            0.0,
            (),
            None,
            observed,
            {},
            f"{name}: {len(values)} samples, fewer than {MIN_SAMPLES}: {target.carrier} keeps the base's value",
        )
    means = {p: phase_mean_ms(get_field(base, p), seed=seed) for p in target.others}
    shift = sum(means.values())
    zeroed: tuple[str, ...] = ()
    if shift > _percentile(values, 5.0):
        zeroed, shift = tuple(p for p, mean in means.items() if mean > 0), 0.0
    fit = fit_durations([v - shift for v in values], seed=seed)
    delay = fit.to_delay().model_dump(mode="json", exclude_none=True)
    fitted = {q: fit.chosen.ppf(q / 100.0) + shift for q in PERCENTILES}
    how = (
        f"{target.carrier} <- {name} (n={len(values)}): {fit.reason}"
        + (
            f"; the other phases ({', '.join(target.others)}) keep the base's, mean {shift:.1f} ms subtracted first"
            if target.others and not zeroed
            else ""
        )
        + (f"; {', '.join(zeroed)} set to 0 ms: the base's mean exceeded the observed 5th percentile" if zeroed else "")
    )
    return ObservableFit(name, len(values), target, shift, zeroed, fit, observed, fitted, how, delay)


def calibrate(
    inputs: Sequence[Path],
    base: str | Path = "default",
    seed: int = 1,
    *,
    lag_params: Sequence[str] = DEFAULT_PARAMS,
    race_scenario: str = RACE_SCENARIO,
    runs_per_cell: int = 30,
    jobs: int = 1,
    on_evaluation: Callable[[int], None] | None = None,
) -> Calibration:
    """Read the inputs, fit what can be seen and the lags that cannot, and make the profile.

    Args:
        inputs: Result folders of control-free runs, proxy folders or `exchanges.jsonl`, HAR files, CSV files.
        base: The profile the fit starts from (a name or a YAML path); what is not fitted keeps its values.
        seed: Seeds the bootstrap intervals and the virtual runs of the lag fit.
        lag_params: The hidden lags to fit (`harness.calibrate.lags.fit_lags`'s `params`).
        race_scenario: The scenario whose naive race curve the lags are fitted to (its Change must be the one the
            lags time: the default `over-invoice` races a Change v2 against the invoice, `orders.change.read_lag`).
        runs_per_cell: Virtual runs per cell and candidate of the lag fit.
        jobs: Worker processes of the lag fit's virtual runs.
        on_evaluation: Called with the number of candidate batches the lag fit simulated so far (progress).

    Raises:
        UsageError: a bad input (file, line, field named), an unknown base, nothing to fit at all.
    """
    observations = read_inputs(inputs)
    doc, base_path = base_document(base)
    base_config = load_profile(base_path)
    base_json = base_config.to_json()
    where = targets(base_json)
    fits = tuple(
        _fit_observable(o.name, observations.samples[o.name], where.get(o.name), base_json, seed)
        for o in OBSERVABLES
        if o.name in observations.samples
    )
    patch: dict[str, Any] = {}
    for f in fits:
        if f.fit is not None and f.target is not None and f.delay is not None:
            set_field(patch, f.target.carrier, dict(f.delay))
            for phase in f.zeroed:
                set_field(patch, phase, dict(_ZERO))
    try:
        fitted_json = merge_patch(base_config, patch).to_json()
    except ConfigError as exc:
        raise UsageError(f"the fitted distributions do not make a valid profile: {exc}") from None

    race = dataclasses.replace(
        observations.race,
        cells=tuple(
            c
            for c in observations.race.cells
            if c.integration == NAIVE and c.scenario == race_scenario and c.trials > 0
        ),
    )
    lags: LagFit | None = None
    if not race.cells:
        lag_note = (
            f"no race cells (a control-free sweep of the {race_scenario} scenario by the naive integration): the "
            "hidden lags keep the base's values"
        )
    else:
        lags = fit_lags(
            race,
            fitted_json,
            seed=seed,
            params=lag_params,
            runs_per_cell=runs_per_cell,
            jobs=jobs,
            on_evaluation=on_evaluation,
        )
        lag_note = lags.method
        patch = apply_patch(patch, lags.overrides)
        fitted_json = merge_patch(base_config, patch).to_json()
    if not patch:
        raise UsageError(
            "nothing to fit: no observable has "
            f"{MIN_SAMPLES} samples and there are no race cells (inputs: {', '.join(map(str, inputs))})"
        )
    document = apply_patch(doc, patch)
    document["description"] = (
        f"Calibrated by racelab calibrate from {', '.join(str(p) for p in inputs)} on the base profile {base}: "
        "the comment at the top of this file says which field was fitted from what."
    )
    header = _header(inputs, base, base_path, fits, lags, lag_note, observations, seed)
    return Calibration(
        observations=observations,
        base=str(base),
        base_path=base_path,
        fits=fits,
        race=race,
        lags=lags,
        lag_note=lag_note,
        profile=document,
        config=fitted_json,
        header=header,
        seed=seed,
    )


def _header(
    inputs: Sequence[Path],
    base: str | Path,
    base_path: Path,
    fits: Sequence[ObservableFit],
    lags: LagFit | None,
    lag_note: str,
    observations: Observations,
    seed: int,
) -> tuple[str, ...]:
    lines = [
        f"Written by `racelab calibrate` (seed {seed}) from: {', '.join(str(p) for p in inputs)}",
        f"Base: {base} ({base_path}); every field not named below keeps the base's value.",
        "Fitted from latencies (rule: docs/calibrate.md):",
    ]
    lines += [f"  {f.sentence}" for f in fits]
    if lags is None:
        lines.append(f"Hidden lags: {lag_note}")
    else:
        lines.append(f"Hidden lags, from the race curve ({len(lags.curve)} cells): {lag_note}")
        lines += [f"  {p.name}: {p.sentence}" for p in lags.parameters]
    lines += [f"Input: {note}" for note in observations.notes]
    return tuple(lines)
