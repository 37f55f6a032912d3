"""Aggregating judged runs and deciding a scenario's gates.

Owns: `Tallies` and `aggregate` (runs → `Tally` per (scenario, integration) and per (scenario, integration, cell):
runs, invalid, unknown, rate with its Wilson interval, counts per checker, an example run per violated checker; each
run counted by its `run_verdict`; `Tallies` takes one run at a time and keeps only counters) and `evaluate_gates` (a
scenario's `gate:` per integration → `GateResult`s, each with a sentence a person can read; on the runs of an
interrupted sweep, marked `partial` and never passed). The records (`Tally`, `GateResult`, `Interruption`) are
`harness.model.summary`'s. Reporters (summary.json, junit.xml, the console table) read these; they never judge.

Imports: stdlib, `harness.model` and `harness.judge.stats` only: pure, never asyncio, aiohttp or `simulator`. Gates
are taken as any object with `reproduces`, `violations` and `max_rate` attributes (`GateLike`), so this module does
not depend on how scenarios are parsed.

Unknown runs, and why they count against a gate: a run is `unknown` when a checker could not decide, when the run was
cut short by a harness error, or when an expected checker left no result. A gate must not pass on what it could not
see, so `violations` and `max_rate` count every unknown run as a possible violation (they pass only if the gate holds
whatever those runs were: with `violations: 0`, one unknown run fails the gate with "1 run could not be judged").
`reproduces` needs one run that is actually invalid; unknown runs never count as a reproduction. A gate of an
integration that has no runs at all fails.

An interrupted sweep, and why none of its gates passes: the runs that did not happen could have been anything, as
unknown runs could. A gate that holds on the runs that finished fails with a reason that says so ("interrupted: 40 of
100 runs finished, so this gate cannot pass; on those runs ..."), and so does a gate the sweep stopped before; a
gate that failed on the runs that finished still fails, its reason saying that the sweep was interrupted. All are
marked `partial`.

    agg = aggregate(judged_runs)                        # [(RunRecord, (CheckResult, ...)), ...]
    results = evaluate_gates(agg, {"over-invoice": {"naive": Gate(reproduces=True, violations=None, max_rate=None)}})
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from harness.judge.stats import cell_key, wilson
from harness.model.records import CheckResult, RunRecord, Verdict, run_verdict
from harness.model.summary import INTERRUPTED, CheckerTally, Expected, GateResult, Interruption, Tally

__all__ = ["Aggregate", "GateLike", "Tallies", "aggregate", "cell_key", "evaluate_gates"]


class GateLike(Protocol):
    """What a scenario's gate for one integration says (`harness.scenarios.Gate` has this shape)."""

    @property
    def reproduces(self) -> bool | Sequence[str] | None:
        """`True`: some run is invalid; names: some run is invalid by one of these checkers; `False`: no run is."""

    @property
    def violations(self) -> int | None:
        """At most this many runs may be invalid (unknown runs count as possibly invalid)."""

    @property
    def max_rate(self) -> float | None:
        """At most this fraction of runs may be invalid (unknown runs count as possibly invalid)."""


class _Counter:
    """The mutable twin of `Tally`, while runs are being added.

    "First" (a checker's order, its example run, the example of an unknown run) means first in the sweep: lowest
    `index`, not first to arrive, so a sweep completed out of order (`racelab run --resume`) tallies the same.
    """

    __slots__ = ("checkers", "examples", "invalid", "runs", "unknown", "unknown_example", "violated_by")

    def __init__(self) -> None:
        self.runs = self.invalid = self.unknown = 0
        self.checkers: dict[str, tuple[tuple[int, int], list[int]]] = {}
        """Checker → (where it first appeared: index, position among the results; [valid, invalid, unknown])."""
        self.examples: dict[str, tuple[tuple[int, int], str]] = {}
        """Checker → (where: index, position; the run it first found invalid)."""
        self.unknown_example: tuple[int, str] | None = None
        self.violated_by: dict[frozenset[str], int] = {}

    def add(self, index: int, run_id: str, verdict: Verdict, results: Sequence[CheckResult]) -> None:
        self.runs += 1
        for position, r in enumerate(results):
            first, counts = self.checkers.setdefault(r.checker, ((index, position), [0, 0, 0]))
            if (index, position) < first:
                self.checkers[r.checker] = ((index, position), counts)
            counts[_SLOT[r.verdict]] += 1
            if r.verdict is Verdict.INVALID:
                known = self.examples.get(r.checker)
                if known is None or (index, position) < known[0]:
                    self.examples[r.checker] = ((index, position), run_id)
        if verdict is Verdict.INVALID:
            self.invalid += 1
            found = frozenset(r.checker for r in results if r.verdict is Verdict.INVALID)
            self.violated_by[found] = self.violated_by.get(found, 0) + 1
        elif verdict is Verdict.UNKNOWN:
            self.unknown += 1
            if self.unknown_example is None or index < self.unknown_example[0]:
                self.unknown_example = (index, run_id)

    def freeze(self, scenario: str, integration: str, cell: Mapping[str, Any] | None) -> Tally:
        checkers = sorted(self.checkers.items(), key=lambda item: item[1][0])
        return Tally(
            scenario=scenario,
            integration=integration,
            cell=cell,
            runs=self.runs,
            invalid=self.invalid,
            unknown=self.unknown,
            checkers={name: CheckerTally(*counts) for name, (_, counts) in checkers},
            examples={name: run_id for name, (_, run_id) in sorted(self.examples.items(), key=lambda i: i[1][0])},
            unknown_example=None if self.unknown_example is None else self.unknown_example[1],
            interval=wilson(self.invalid, self.runs),
            violated_by=dict(self.violated_by),
        )


_SLOT = {Verdict.VALID: 0, Verdict.INVALID: 1, Verdict.UNKNOWN: 2}


@dataclass(frozen=True, slots=True)
class Aggregate:
    """Every tally of a set of runs.

    agg = aggregate(judged_runs)
    agg.group("over-invoice", "naive").rate
    """

    groups: tuple[Tally, ...]
    """Per (scenario, integration), scenarios and integrations in order of first appearance."""
    cells: tuple[Tally, ...]
    """Per (scenario, integration, cell); the cells of a group follow each other, sorted by their values."""

    def group(self, scenario: str, integration: str) -> Tally | None:
        """The tally of one (scenario, integration), or `None` when it had no runs."""
        return next((t for t in self.groups if (t.scenario, t.integration) == (scenario, integration)), None)

    def to_json(self) -> dict[str, Any]:
        return {"groups": [t.to_json() for t in self.groups], "cells": [t.to_json() for t in self.cells]}


def _cell_order(cell: Mapping[str, Any]) -> tuple[tuple[str, int, float, str], ...]:
    # Numbers sort as numbers (an offset sweep reads 50, 100, ..., 1000), anything else by its text.
    def value(v: Any) -> tuple[int, float, str]:
        if isinstance(v, int | float) and not isinstance(v, bool):
            return (0, float(v), "")
        return (1, 0.0, json.dumps(v, sort_keys=True, default=str))

    return tuple((k, *value(v)) for k, v in sorted(cell.items()))


class Tallies:
    """`aggregate`, one run at a time: a counter per (scenario, integration) and per cell, never the runs.

    tallies = Tallies()
    tallies.add(record, results, index=0)       # index: the run's place in the sweep (default: arrival order)
    tallies.freeze().group("over-invoice", "naive").rate
    """

    __slots__ = ("_arrived", "_cells", "_groups", "_integrations", "_scenarios")

    def __init__(self) -> None:
        self._arrived = 0
        self._scenarios: dict[str, int] = {}
        """Scenario → the lowest index of its runs (their order is first appearance in the sweep)."""
        self._integrations: dict[str, int] = {}
        self._groups: dict[tuple[str, str], _Counter] = {}
        self._cells: dict[tuple[str, str, str], tuple[Mapping[str, Any], _Counter]] = {}
        """(scenario, integration, the cell's `cell_key`) → the cell as the first run of it had it, its counter."""

    def add(
        self,
        record: RunRecord,
        results: Sequence[CheckResult],
        *,
        verdict: Verdict | None = None,
        index: int | None = None,
    ) -> None:
        """Count one run.

        Args:
            record: The run.
            results: Its checkers' results.
            verdict: Its `run_verdict`, when the caller has it already.
            index: Its place in the sweep, for "first" (order of appearance, example runs); by default the order in
                which runs are added. Give it for every run or for none.
        """
        spec = record.spec
        index = self._arrived if index is None else index
        self._arrived += 1
        verdict = run_verdict(record, results) if verdict is None else verdict
        _keep_lowest(self._scenarios, spec.scenario, index)
        _keep_lowest(self._integrations, spec.integration, index)
        group = self._groups.get((spec.scenario, spec.integration))
        if group is None:
            group = self._groups[(spec.scenario, spec.integration)] = _Counter()
        group.add(index, spec.run_id, verdict, results)
        key = (spec.scenario, spec.integration, cell_key(spec.cell))
        known = self._cells.get(key)
        if known is None:
            known = self._cells[key] = (spec.cell, _Counter())
        known[1].add(index, spec.run_id, verdict, results)

    @property
    def integrations(self) -> list[str]:
        """The integrations seen, in order of first appearance."""
        return sorted(self._integrations, key=self._integrations.__getitem__)

    def ran(self, scenario: str, integration: str) -> bool:
        """Whether any run of this (scenario, integration) was added."""
        return (scenario, integration) in self._groups

    def freeze(self) -> Aggregate:
        """The tallies of the runs added so far (adding more afterwards is fine)."""
        scenarios = {name: rank for rank, name in enumerate(sorted(self._scenarios, key=self._scenarios.__getitem__))}
        integrations = {name: rank for rank, name in enumerate(self.integrations)}

        def group_order(key: tuple[str, str]) -> tuple[int, int]:
            return (scenarios[key[0]], integrations[key[1]])

        ordered = sorted(self._groups, key=group_order)
        cells = self._cells
        cell_keys = sorted(cells, key=lambda k: (group_order((k[0], k[1])), _cell_order(cells[k][0])))
        return Aggregate(
            groups=tuple(self._groups[key].freeze(*key, None) for key in ordered),
            cells=tuple(cells[key][1].freeze(key[0], key[1], cells[key][0]) for key in cell_keys),
        )


def _keep_lowest(firsts: dict[str, int], key: str, index: int) -> None:
    known = firsts.get(key)
    if known is None or index < known:
        firsts[key] = index


def aggregate(judged: Iterable[tuple[RunRecord, Sequence[CheckResult]]]) -> Aggregate:
    """Tally runs per (scenario, integration) and per (scenario, integration, cell).

    Args:
        judged: Each run with the results of its checkers, as the runner produces them.

    Returns:
        The tallies.
    """
    tallies = Tallies()
    for record, results in judged:
        tallies.add(record, results)
    return tallies.freeze()


_DASH = "\N{EN DASH}"


def _percent(k: int, n: int) -> str:
    # Exact decimal rounding, half up: 37 of 400 reads 9.3%, as a person rounds 9.25 (a float would give 9.2).
    return f"{(Decimal(100 * k) / n).quantize(Decimal('0.1'), ROUND_HALF_UP)}%"


def _ci(k: int, n: int) -> str:
    low, high = wilson(k, n)
    return f"95% CI {low * 100:.1f}{_DASH}{high * 100:.1f}%"


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def _unknown_clause(t: Tally) -> str:
    if not t.unknown:
        return ""
    return f"; {_runs(t.unknown)} could not be judged (e.g. run {t.unknown_example})"


def _counted_clause(t: Tally) -> str:
    if not t.unknown:
        return ""
    return f"; {_runs(t.unknown)} could not be judged and counted as violations (e.g. run {t.unknown_example})"


def _most_often(t: Tally, among: Iterable[str] | None = None) -> tuple[str, int, str]:
    """The checker with the most violations (among some names), its count and its example run."""
    names = [n for n in (t.examples if among is None else among) if n in t.examples]
    top = max(names, key=lambda n: t.checkers[n].invalid)
    return top, t.checkers[top].invalid, t.examples[top]


def _violations_text(t: Tally) -> str:
    """E.g. `37 of 400 runs violate no-over-invoice (9.3%, 95% CI 6.8-12.5%), e.g. run r-7` (with an en dash)."""
    head = f"{t.invalid} of {t.runs} runs violate"
    stats = f"({_percent(t.invalid, t.runs)}, {_ci(t.invalid, t.runs)})"
    if not t.invalid:
        return f"none of {_runs(t.runs)} violates an invariant ({_ci(0, t.runs)})"
    top, count, example = _most_often(t)
    if len(t.examples) == 1:
        return f"{head} {top} {stats}, e.g. run {example}"
    return f"{head} an invariant {stats}, most often {top} ({_runs(count)}, e.g. run {example})"


def _decide_reproduces(t: Tally, expected: bool | tuple[str, ...]) -> tuple[bool, str]:
    who = t.integration
    if expected is True:
        if t.invalid:
            return True, f"{who} reproduces: {_violations_text(t)}"
        return False, f"{who} does not reproduce: {_violations_text(t)}{_unknown_clause(t)}"
    if expected is False:
        if t.invalid:
            return False, f"{who} reproduces but must not: {_violations_text(t)}"
        if t.unknown:
            return False, f"{who} cannot be shown not to reproduce: {_violations_text(t)}{_unknown_clause(t)}"
        return True, f"{who} does not reproduce: {_violations_text(t)}"
    if not expected:
        return False, f"{who}'s gate `reproduces` names no checker"
    names = " or ".join(expected)
    hits = t.invalid_by(expected)
    if hits:
        _, _, example = _most_often(t, expected)
        stats = f"({_percent(hits, t.runs)}, {_ci(hits, t.runs)})"
        return True, f"{who} reproduces: {hits} of {t.runs} runs violate {names} {stats}, e.g. run {example}"
    never = [n for n in expected if n not in t.checkers]
    never_clause = f"; {' and '.join(never)} judged no run" if never else ""
    reason = f"{who} does not reproduce: none of {_runs(t.runs)} violates {names} ({_ci(0, t.runs)})"
    return False, reason + never_clause + _unknown_clause(t)


def _decide_violations(t: Tally, allowed: int) -> tuple[bool, str]:
    who = t.integration
    if t.invalid > allowed:
        return False, f"{who} fails, more than {allowed} allowed: {_violations_text(t)}{_unknown_clause(t)}"
    if t.invalid + t.unknown > allowed:
        return False, (
            f"{who} fails: {_runs(t.unknown)} of {t.runs} could not be judged (e.g. run {t.unknown_example}), "
            f"so at most {allowed} violations cannot be confirmed ({t.invalid} found)"
        )
    return True, f"{who} holds, at most {allowed} allowed: {_violations_text(t)}{_counted_clause(t)}"


def _decide_max_rate(t: Tally, limit: float) -> tuple[bool, str]:
    who, allowed = t.integration, f"{limit * 100:g}%"
    if t.rate > limit:
        return False, f"{who} fails, above the {allowed} allowed: {_violations_text(t)}{_unknown_clause(t)}"
    worst = t.invalid + t.unknown
    if worst / t.runs > limit:
        return False, (
            f"{who} fails: {_runs(t.unknown)} of {t.runs} could not be judged (e.g. run {t.unknown_example}); "
            f"counted as violations the rate could be {_percent(worst, t.runs)}, above the {allowed} allowed"
        )
    return True, f"{who} holds, within the {allowed} allowed: {_violations_text(t)}{_counted_clause(t)}"


def _conditions(gate: GateLike) -> list[tuple[str, Expected]]:
    found: list[tuple[str, Expected]] = []
    reproduces = gate.reproduces
    if reproduces is not None:
        found.append(("reproduces", reproduces if isinstance(reproduces, bool) else tuple(reproduces)))
    if gate.violations is not None:
        found.append(("violations", gate.violations))
    if gate.max_rate is not None:
        found.append(("max_rate", gate.max_rate))
    return found


def evaluate_gates(
    agg: Aggregate,
    gates: Mapping[str, Mapping[str, GateLike | None]],
    *,
    interrupted: Interruption | None = None,
) -> tuple[GateResult, ...]:
    """Decide every gate: one `GateResult` per condition a gate sets, in the order the gates are given.

    Integrations with no gate (or a gate that sets no condition) get no result. A gate whose integration has no runs
    in the scenario fails: a gate that saw nothing must not pass. Nor does any gate of an interrupted sweep pass.

    Args:
        agg: The tallies of the runs.
        gates: Scenario name → integration → its gate.
        interrupted: The interruption, when a signal stopped the sweep before its end: every decision is `partial`.

    Returns:
        The decisions.
    """
    decided: list[GateResult] = []
    for scenario, by_integration in gates.items():
        for integration, gate in by_integration.items():
            if gate is None:
                continue
            tally = agg.group(scenario, integration) or _Counter().freeze(scenario, integration, None)
            for condition, expected in _conditions(gate):
                if not tally.runs and interrupted is not None:  # never reached: not a failure of the integration
                    passed, reason = True, f"none of them of {integration} in {scenario}"
                elif not tally.runs:
                    passed, reason = False, f"{integration} has no runs in {scenario}, so its gate cannot pass"
                elif condition == "reproduces":
                    assert isinstance(expected, bool | tuple)
                    passed, reason = _decide_reproduces(tally, expected)
                elif condition == "violations":
                    assert isinstance(expected, int)
                    passed, reason = _decide_violations(tally, expected)
                else:
                    assert isinstance(expected, int | float)
                    passed, reason = _decide_max_rate(tally, float(expected))
                if interrupted is not None:
                    passed, reason = False, _interrupted_reason(passed, reason, tally.runs, interrupted)
                decided.append(
                    GateResult(
                        scenario=scenario,
                        integration=integration,
                        condition=condition,
                        expected=expected,
                        passed=passed,
                        reason=reason,
                        runs=tally.runs,
                        invalid=tally.invalid,
                        unknown=tally.unknown,
                        partial=interrupted is not None,
                    )
                )
    return tuple(decided)


def _interrupted_reason(passed: bool, reason: str, runs: int, interrupted: Interruption) -> str:
    counts = f"{interrupted.finished} of {_runs(interrupted.planned)} finished"
    if not runs:  # held back too: the sweep stopped before this gate's first run
        return f"{INTERRUPTED}{counts}, {reason}, so this gate cannot pass"
    if passed:  # `GateResult.held_back` recognises these by their first words
        return f"{INTERRUPTED}{counts}, so this gate cannot pass; on those runs {reason}"
    return f"{reason}; {INTERRUPTED}{counts}"
