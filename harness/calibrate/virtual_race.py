"""The race in virtual time: the over-invoice rate per cell that a profile gives, by the runs `racelab run --mode
virtual` makes, for the hidden lags' fit (`harness.calibrate.lags`).

Owns `simulate_race()` (a race curve for a profile), `RaceSimulator` (counts per cell for candidate profiles: fixed
specs, one batch per candidate, remembered), `check_cells()` (observations refused with a message naming the cell
and the field), `cell_specs()` (each observed cell's specs, from the scenario file the runs kept or the built-in of
that name), `base_json()` and `own_loop()`.

Imports: stdlib, pydantic, `harness.virtual`, `harness.scenarios`, `harness.model`, `harness.errors`,
`harness.resources`, `harness.calibrate.observe`, `simulator.__all__` (layer `harness/calibrate/`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import math
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.calibrate.observe import RaceCell, RaceObservations
from harness.errors import UsageError
from harness.model.records import RunSpec, Verdict
from harness.resources import BUILTIN_PREFIX, resolve_scenario_ref
from harness.scenarios import load_scenario
from harness.scenarios.expansion import expand
from harness.virtual.universe import VIRTUAL_EPOCH, run_virtual_specs
from simulator import SimConfig

__all__ = ["RaceSimulator", "base_json", "cell_specs", "check_cells", "own_loop", "simulate_race"]


def check_cells(observed: RaceObservations, *, need_trials: bool) -> None:
    """Refuse observations that cannot be fitted, naming the cell and the field.

    Raises:
        UsageError: no cell, the same cell twice, counts that are not whole numbers, more violations than
            trials, or (`need_trials`) a cell without trials.
    """
    if not observed.cells:
        raise UsageError("observations: no race cell to fit (a control-free sweep of the over-invoice scenario)")
    seen: set[tuple[str, str, tuple[tuple[str, float], ...]]] = set()
    for i, cell in enumerate(observed.cells):
        where = f"observations: cells[{i}] ({cell.scenario}, {cell.integration}, {dict(cell.cell)})"
        key = (cell.scenario, cell.integration, cell.cell)
        if key in seen:
            raise UsageError(f"{where}: the same cell twice; merge its counts")
        seen.add(key)
        if isinstance(cell.trials, bool) or not isinstance(cell.trials, int) or cell.trials < 0:
            raise UsageError(f"{where}: trials must be a whole number >= 0, got {cell.trials!r}")
        if isinstance(cell.violations, bool) or not isinstance(cell.violations, int) or cell.violations < 0:
            raise UsageError(f"{where}: violations must be a whole number >= 0, got {cell.violations!r}")
        if cell.violations > cell.trials:
            raise UsageError(f"{where}: {cell.violations} violations out of {cell.trials} trials")
        if need_trials and cell.trials == 0:
            raise UsageError(f"{where}: no trials (every run unknown or none ran); drop the cell or run it again")


def _scenario_file(name: str, files: Mapping[str, str]) -> Path:
    if name in files:
        return Path(files[name])
    try:
        return resolve_scenario_ref(f"{BUILTIN_PREFIX}{name}")
    except UsageError:
        raise UsageError(
            f"observations: scenario {name!r} has no file (scenario_files) and is not a built-in scenario"
        ) from None


def _same_cell(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    for key, value in a.items():
        other = b[key]
        if isinstance(value, int | float) and isinstance(other, int | float):
            if not math.isclose(float(value), float(other), abs_tol=1e-6):
                return False
        elif value != other:
            return False
    return True


def cell_specs(observed: RaceObservations, *, seed: int, runs: int) -> list[list[RunSpec]]:
    """For each observed cell, in order, `runs` specs of the same cell of its scenario (the same for every
    candidate: seeds and order ids derive from `seed`)."""
    expanded: dict[tuple[str, str], list[RunSpec]] = {}
    out: list[list[RunSpec]] = []
    for i, cell in enumerate(observed.cells):
        key = (cell.scenario, cell.integration)
        if key not in expanded:
            scenario = load_scenario(_scenario_file(cell.scenario, observed.scenario_files))
            if observed.checker not in scenario.expect:
                raise UsageError(
                    f"observations: scenario {cell.scenario!r} does not check {observed.checker!r} "
                    f"(its expect: {', '.join(scenario.expect)}): its runs cannot count the violations"
                )
            expanded[key] = expand(scenario, seed=seed, runs=runs, integrations=[cell.integration])
        wanted = cell.cell_dict
        specs = [s for s in expanded[key] if _same_cell(s.cell, wanted)]
        if not specs:
            cells = sorted({str(dict(s.cell)) for s in expanded[key]})
            raise UsageError(
                f"observations: cells[{i}]: {wanted} is not a cell of scenario {cell.scenario!r} "
                f"(its cells: {', '.join(cells[:5])}{', ...' if len(cells) > 5 else ''})"
            )
        out.append(specs)
    return out


def base_json(base_profile: Mapping[str, Any]) -> dict[str, Any]:
    """The base profile validated as the simulator's configuration, as JSON.

    Raises:
        UsageError: it does not validate (the first problem's field and message).
    """
    try:
        return SimConfig.model_validate(dict(base_profile)).to_json()
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"base profile: {where or '(top level)'}: {first['msg']}") from None


def _config(base: Mapping[str, Any], patch: Mapping[str, Any], seed: int) -> dict[str, Any]:
    data = copy.deepcopy(dict(base))
    _merge_into(data, patch)
    data["seed"] = seed
    if data.get("epoch") is None:  # dates in virtual mode are never wall-clock
        data["epoch"] = VIRTUAL_EPOCH
    try:
        return SimConfig.model_validate(data).to_json()
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"candidate profile: {where}: {first['msg']}") from None


def _merge_into(data: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, Mapping) and "kind" not in value and isinstance(data.get(key), dict):
            _merge_into(data[key], value)
        else:
            data[key] = copy.deepcopy(value)


class RaceSimulator:
    """Counts per observed cell for a candidate profile, by virtual runs of fixed specs; each candidate once.

    `counts(patch, runs)` runs the first `runs` repetitions of every cell: a smaller batch is a prefix of a larger
    one, with the same seeds (common random numbers)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        cells: list[list[RunSpec]],
        base: Mapping[str, Any],
        *,
        checker: str,
        seed: int,
        jobs: int,
    ) -> None:
        self._loop = loop
        self._cells = cells
        self._base = base
        self._checker = checker
        self._seed = seed
        self._jobs = jobs
        self._cache: dict[tuple[Any, ...], tuple[tuple[int, int], ...]] = {}
        self.runs = 0
        self.on_evaluation: Callable[[int], None] | None = None

    @property
    def evaluations(self) -> int:
        return len(self._cache)

    def counts(self, patch: Mapping[str, Any], runs: int) -> tuple[tuple[int, int], ...]:
        """(violations, trials) per cell under the base profile with `patch`, from `runs` runs per cell."""
        key = (_freeze(patch), runs)
        found = self._cache.get(key)
        if found is not None:
            return found
        config = _config(self._base, patch, self._seed)
        cells = [[s for s in cell if s.repetition < runs] for cell in self._cells]
        specs = [s for cell in cells for s in cell]
        outcomes = self._loop.run_until_complete(run_virtual_specs(specs, config, jobs=self._jobs))
        self.runs += len(specs)
        verdicts = {
            o.record.spec.run_id: next((r.verdict for r in o.results if r.checker == self._checker), None)
            for o in outcomes
        }
        result = []
        for cell in cells:
            got = Counter(verdicts.get(s.run_id) for s in cell)
            result.append((got[Verdict.INVALID], got[Verdict.INVALID] + got[Verdict.VALID]))
        counts = self._cache[key] = tuple(result)
        if self.on_evaluation is not None:
            self.on_evaluation(self.evaluations)
        return counts


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, float):
        return round(value, 9)
    return value


def simulate_race(
    observed: RaceObservations,
    profile: Mapping[str, Any],
    *,
    seed: int,
    runs: int,
    jobs: int = 1,
) -> RaceObservations:
    """The race of `observed`'s cells as `profile` plays it in virtual time: `runs` runs per cell.

        truth = simulate_race(cells_to_run, {**default, "orders": ...}, seed=7, runs=20)

    Only the cells' scenario, integration and cell are read from `observed` (their counts may be 0); the result
    has the same cells with the simulated counts. Synchronous: from async code, `asyncio.to_thread`.

    Raises:
        UsageError: a cell that is not one of its scenario's, a scenario without a file, a profile that does
            not validate.
    """
    check_cells(observed, need_trials=False)
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise UsageError(f"runs must be at least 1, got {runs!r}")
    base = base_json(profile)
    with own_loop() as loop:
        sim = RaceSimulator(
            loop, cell_specs(observed, seed=seed, runs=runs), base, checker=observed.checker, seed=seed, jobs=jobs
        )
        counts = sim.counts({}, runs)
    cells = tuple(
        RaceCell(
            scenario=c.scenario,
            integration=c.integration,
            cell=c.cell,
            offset_ms=c.offset_ms,
            trials=t,
            violations=v,
            unknown=runs - t,
        )
        for c, (v, t) in zip(observed.cells, counts, strict=True)
    )
    return RaceObservations(
        checker=observed.checker, cells=cells, scenario_files=observed.scenario_files, sources=("virtual",)
    )


@contextlib.contextmanager
def own_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A private event loop for the virtual runs, in a thread that must not be running one."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("the lag fit is synchronous: from async code, run it with asyncio.to_thread")
    loop = asyncio.new_event_loop()
    try:
        yield loop
    finally:
        loop.close()
