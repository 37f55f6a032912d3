"""The summary of a set of judged runs: tallies, gate decisions and statistics, as one typed `Summary`.

Owns `SummaryBuilder` (the summary computed one run at a time, keeping only small facts per run: counters per group
and cell, a skew as 8 bytes, a time to invoice with its schedule as 32 bytes; and what the console prints besides
the table: an example per violated checker, the first run cut short) and `build_summary` (the same over a list of
runs). What `summary.json` holds is computed here (the records are `harness.model.summary`'s; writing them is
`harness.output.folder`'s).

Imports: stdlib, `harness.model` and `harness.judge` (pure).

    builder = SummaryBuilder()
    for record, results in read_runs(folder):          # or as each run finishes
        builder.add(record, results)
    summary = builder.build(gates={"over-invoice": {"naive": scenario.gates["naive"]}}, seed=1)
    summary.passed, summary.gates[0].reason
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.judge.gates import GateLike, Tallies, evaluate_gates
from harness.judge.stats import InvoiceTimes, SkewSamples
from harness.model.records import CheckResult, RunRecord, Verdict, run_verdict
from harness.model.summary import Interruption, Summary

__all__ = ["Example", "RunError", "SummaryBuilder", "build_summary"]


@dataclass(frozen=True, slots=True)
class Example:
    """The first run of a (scenario, integration) that a checker found invalid, and why: the console's "e.g.".

    Example("over-invoice", "naive", "no-over-invoice", "0000-0000-naive", "Order ... is invoiced 124.80 but ...")
    """

    scenario: str
    integration: str
    checker: str
    run_id: str
    explanation: str


@dataclass(frozen=True, slots=True)
class RunError:
    """The first run cut short by a harness or connection error, and the error."""

    scenario: str
    integration: str
    run_id: str
    error: str


class SummaryBuilder:
    """`build_summary`, one run at a time: what a sweep of any size needs, without keeping its runs.

    builder = SummaryBuilder()
    builder.add(record, results)                  # as each run finishes; index= its place in the sweep if known
    builder.build(gates=gates, seed=1, interrupted=None)

    "First" (the order of scenarios, integrations and checkers; the example runs) means first in the sweep: the run
    with the lowest `index`. Without `index`, runs count in the order they are added, which is the sweep's order when
    they are added as `runs.jsonl` lists them. A sweep completed out of order (`racelab run --resume`: the runs that
    finished before the interruption first, then the rest) gets the summary of an uninterrupted sweep if each run is
    added with its index in the plan.
    """

    __slots__ = ("_added", "_errors", "_examples", "_first_error", "_skew", "_tallies", "_times")

    def __init__(self) -> None:
        self._added = 0
        self._tallies = Tallies()
        self._skew = SkewSamples()
        self._times = InvoiceTimes()
        self._examples: dict[tuple[str, str, str], tuple[tuple[int, int], Example]] = {}
        self._errors = 0
        self._first_error: tuple[int, RunError] | None = None

    def add(self, record: RunRecord, results: Sequence[CheckResult], *, index: int | None = None) -> Verdict:
        """Take in one judged run. Nothing of the run is kept but a few numbers (and an example's explanation).

        Args:
            record: The run.
            results: Its checkers' results.
            index: Its place in the sweep's plan (0, 1, ...), for what comes "first"; by default the order in which
                runs are added. Give it for every run or for none.

        Returns:
            The run's verdict (`run_verdict`).
        """
        index = self._added if index is None else index
        self._added += 1
        verdict = run_verdict(record, results)
        self._tallies.add(record, results, verdict=verdict, index=index)
        self._skew.add(record)
        self._times.add(record, index=index)
        spec = record.spec
        for position, r in enumerate(results):
            if r.verdict is not Verdict.INVALID:
                continue
            key = (spec.scenario, spec.integration, r.checker)
            known = self._examples.get(key)
            if known is None or (index, position) < known[0]:
                self._examples[key] = ((index, position), Example(*key, spec.run_id, r.explanation))
        if record.error is not None:
            self._errors += 1
            if self._first_error is None or index < self._first_error[0]:
                error = RunError(spec.scenario, spec.integration, spec.run_id, record.error)
                self._first_error = (index, error)
        return verdict

    @property
    def runs(self) -> int:
        """Runs taken in."""
        return self._added

    @property
    def errors(self) -> int:
        """Runs cut short by a harness or connection error."""
        return self._errors

    @property
    def first_error(self) -> RunError | None:
        """The first of them in the sweep, or `None`."""
        return None if self._first_error is None else self._first_error[1]

    @property
    def examples(self) -> tuple[Example, ...]:
        """Per (scenario, integration, checker) that found a violation, its first invalid run; in order of first
        appearance in the sweep."""
        return tuple(example for _, example in sorted(self._examples.values(), key=lambda item: item[0]))

    def ran(self, scenario: str, integration: str) -> bool:
        """Whether any run of this (scenario, integration) was taken in."""
        return self._tallies.ran(scenario, integration)

    def build(
        self,
        *,
        gates: Mapping[str, Mapping[str, GateLike | None]],
        seed: int | None = None,
        command: Sequence[str] | str | None = None,
        baseline: str | None = None,
        mode: str | None = None,
        settle_timeout_s: float | None = None,
        interrupted: Interruption | None = None,
    ) -> Summary:
        """Everything `summary.json` holds, from the runs taken in so far and the scenarios' gates. The builder can
        take more runs afterwards, and build again.

        Args:
            gates: Scenario name → integration → its gate.
            seed: The suite's seed.
            command: The command line that replays the suite, if known.
            baseline: The integration the others' time to invoice is compared with (default `naive` if it ran).
            mode: How the runs were executed, for `racelab replay` (left out of the file when `None`).
            settle_timeout_s: The runner's settle timeout, for `racelab replay` (left out of the file when `None`).
            interrupted: Set when a signal stopped the sweep before its end: `passed` is then false, every gate
                decision `partial` (and none passes), and `summary.json` says so (left out of the file when `None`).

        Returns:
            `passed` (every gate passed, and the sweep ran to its end), `runs`, `invalid`, `unknown`, `groups` and
            `cells` (tallies), `gates` (decisions), `skew_ms`, `time_to_invoice_ms`, `invoice_cost_ms`, `seed`,
            `command`, `mode`, `settle_timeout_s` and `interrupted`.
        """
        agg = self._tallies.freeze()
        decided = evaluate_gates(agg, gates, interrupted=interrupted)
        return Summary(
            passed=interrupted is None and all(g.passed for g in decided),
            runs=sum(t.runs for t in agg.groups),
            invalid=sum(t.invalid for t in agg.groups),
            unknown=sum(t.unknown for t in agg.groups),
            seed=seed,
            command=command if command is None or isinstance(command, str) else tuple(command),
            gates=decided,
            groups=agg.groups,
            cells=agg.cells,
            skew_ms=self._skew.summary(),
            time_to_invoice_ms=self._times.summary(),
            invoice_cost_ms=self._times.cost(baseline=baseline),
            mode=mode,
            settle_timeout_s=settle_timeout_s,
            interrupted=interrupted,
        )


def build_summary(
    records_with_results: Sequence[tuple[RunRecord, Sequence[CheckResult]]],
    *,
    gates: Mapping[str, Mapping[str, GateLike | None]],
    seed: int | None = None,
    command: Sequence[str] | str | None = None,
    baseline: str | None = None,
    mode: str | None = None,
    settle_timeout_s: float | None = None,
    interrupted: Interruption | None = None,
) -> Summary:
    """Everything `summary.json` holds, from the judged runs and the scenarios' gates: `SummaryBuilder` over a list.

    Args:
        records_with_results: Each run with its checkers' results, in the sweep's order.
        gates, seed, command, baseline, mode, settle_timeout_s, interrupted: As `SummaryBuilder.build` takes them.

    Returns:
        The summary (see `SummaryBuilder.build`).
    """
    builder = SummaryBuilder()
    for record, results in records_with_results:
        builder.add(record, results)
    return builder.build(
        gates=gates,
        seed=seed,
        command=command,
        baseline=baseline,
        mode=mode,
        settle_timeout_s=settle_timeout_s,
        interrupted=interrupted,
    )
