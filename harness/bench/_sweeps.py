"""The measures that run `racelab run` as a user would: send skew and wall time of a 1,000-run sweep, virtual vs real
time, and the time to first reproduction of failures A and B.

Each is a child process (`python -m harness.cli run FILE --out TMP`) on a scenario the bench writes itself, so the
figures do not move when someone edits the suite; the scenario text is kept in the JSON. Figures come from the
result folder the command writes (`summary.json`, `runs.jsonl`).

- **Send skew** is `summary.json`'s `skew_ms` (how late each scheduled request's headers left).
- **Sweep wall vs longest run**: from `runs.jsonl`, a run lasts from its start (`origin_s`) to its last event (its
  last request's answer or its order's last journal entry: the harness and the simulator share the monotonic
  clock); the sweep's wall time is from the first run's start to the last run's end.
- **Virtual vs real**: the wall time of the whole command on the same sweep, `--mode embedded` against
  `--mode virtual`; the virtual sweep runs twice and its runs must be identical.
- **Time to first reproduction**: the wall time of `racelab run` (start to exit: what a user waits for) on the
  scenario with the naive integration and one run per offset, whose gate passes only if the failure showed; the
  details say when the first violating run had ended and when the results were written.

Imports: stdlib, `harness.bench._common`, `harness.errors`.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.bench._common import OFFSETS_MS, Plan, run_child
from harness.errors import HarnessError, InvalidScenario

__all__ = [
    "RunResult",
    "Timeline",
    "first_reproduction",
    "measure_sweep",
    "measure_virtual",
    "racelab_argv",
    "racelab_resume",
    "racelab_run",
    "scenario_text",
    "timeline",
    "virtual_available",
    "write_scenario",
]

Step = Callable[[str], None]

_ORDER = """order:
  items: [{id: sku-1, price: 4990, quantity: 2}, {id: sku-2, price: 1500, quantity: 1}]
  shipping: 1000
  status: handling"""


def scenario_text(kind: str, *, profile: str, runs: int) -> str:
    """The scenario a measure runs: `sweep` (failure A's race, naive, no gate), `A` or `B` (the failure's canary).

    Raises:
        ValueError: an unknown kind.
    """
    start, stop, step = OFFSETS_MS
    change = (
        f"{{at: {{from: {start}ms, to: {stop}ms, step: {step}ms}}, do: change, remove: [{{id: sku-2, quantity: 1}}]}}"
    )
    if kind == "sweep":
        name, invoice, expect, gate = "bench-sweep", "{at: 0ms, do: invoice}", "[no-over-invoice]", ""
    elif kind == "A":
        name, invoice, expect = "bench-failure-a", "{at: 0ms, do: invoice}", "[no-over-invoice]"
        gate = "gate:\n  naive: {reproduces: [no-over-invoice]}\n"
    elif kind == "B":
        name, invoice, expect = (
            "bench-failure-b",
            "{at: 0ms, do: invoice, value: 10980}",
            "[invoiced-when-fully-invoiced]",
        )
        gate = "gate:\n  naive: {reproduces: [invoiced-when-fully-invoiced]}\n"
    else:
        raise ValueError(f"unknown scenario kind {kind!r}")
    return (
        f"name: {name}\nsummary: racelab bench ({kind})\nprofile: {profile}\n{_ORDER}\nintegrations: [naive]\n"
        f"steps:\n  - {invoice}\n  - {change}\nruns: {runs}\nexpect: {expect}\n{gate}"
    )


@dataclass(frozen=True, slots=True)
class RunResult:
    """One `racelab run` child: its exit code, wall time and result folder (None when it wrote none)."""

    exit_code: int
    wall_s: float
    """From spawning the command to its exit."""
    folder: Path | None
    output: str
    started: float = 0.0
    """When it was spawned, on the monotonic clock (the one a real-time run's `origin_s` and journal use)."""
    results_s: float | None = None
    """From spawning the command to `summary.json` being written (the HTML report, if any, comes after)."""
    peak_rss_kb: int | None = None
    """The command's own peak resident set size (its children not included), when asked for."""

    def summary(self) -> dict[str, Any]:
        if self.folder is None:
            raise HarnessError(f"racelab run wrote no results (exit {self.exit_code}): {self.output[-2000:]}")
        loaded: dict[str, Any] = json.loads((self.folder / "summary.json").read_text(encoding="utf-8"))
        return loaded

    def sweep_s(self) -> float | None:
        """The runs' wall time, as the command measured it (`timing.json`): from starting the scenario's runs
        (the embedded simulator or the worker processes included) to its last result; None if not recorded."""
        if self.folder is None or not (self.folder / "timing.json").exists():
            return None
        timing: dict[str, Any] = json.loads((self.folder / "timing.json").read_text(encoding="utf-8"))
        value = timing.get("sweep_s")
        return float(value) if isinstance(value, (int, float)) else None

    def runs(self) -> Iterator[dict[str, Any]]:
        if self.folder is None:
            raise HarnessError(f"racelab run wrote no results (exit {self.exit_code}): {self.output[-2000:]}")
        with (self.folder / "runs.jsonl").open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)


_RSS_FILE = "RACELAB_BENCH_RSS_FILE"
_WITH_RSS = (
    "import os, resource, runpy\n"
    "try:\n"
    "    runpy.run_module('harness.cli', run_name='__main__', alter_sys=True)\n"
    "finally:\n"
    f"    with open(os.environ['{_RSS_FILE}'], 'w') as f:\n"
    "        f.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
)
"""`python -m harness.cli` that writes its own peak RSS (kB, `getrusage(RUSAGE_SELF)`: the process alone, not its
embedded simulator) to a file as it exits: what `/proc/PID/status` would say as VmHWM at its very end."""


def racelab_argv(args: Sequence[str], *, rss_file: Path | None = None) -> list[str]:
    """`racelab ARGS` as a command line for this interpreter (one that records its peak RSS with `rss_file`)."""
    if rss_file is None:
        return [sys.executable, "-m", "harness.cli", *args]
    return [sys.executable, "-c", _WITH_RSS, *args]


async def racelab_run(
    scenario: Path, out: Path, *, seed: int, extra: Sequence[str] = (), rss: bool = False
) -> RunResult:
    """Run `racelab run scenario --out out --seed seed [extra]` as a child process and time it (and, with `rss`,
    record its peak RSS).

    Raises:
        InvalidScenario: it exited 2 (bad input: e.g. the profile is not found).
        HarnessError: it exited 3 or otherwise failed without a result folder.
    """
    args = ["run", str(scenario), "--out", str(out), "--seed", str(seed), *extra]
    return await _racelab(args, out, name=scenario.name, rss=rss)


async def racelab_resume(folder: Path, out: Path) -> RunResult:
    """`racelab run --resume FOLDER` as a child process, timed (`out`: the results root FOLDER is in)."""
    return await _racelab(["run", "--resume", str(folder)], out, name=folder.name, rss=False)


async def _racelab(args: Sequence[str], out: Path, *, name: str, rss: bool) -> RunResult:
    rss_file = out.parent / f".rss-{out.name}" if rss else None
    env = {**os.environ, _RSS_FILE: str(rss_file)} if rss_file is not None else None
    started, started_wall = time.monotonic(), time.time()
    code, stdout, stderr = await run_child(racelab_argv(args, rss_file=rss_file), env=env)
    wall = time.monotonic() - started
    output = stdout.decode(errors="replace") + stderr.decode(errors="replace")
    peak = _read_rss(rss_file)
    if code == 2:
        raise InvalidScenario(f"racelab run {name} refused its input: {_gist(output)}")
    latest = out / "latest"
    folder = latest.resolve() if latest.exists() else None
    if code not in (0, 1) or folder is None:
        raise HarnessError(f"racelab run {name} failed (exit {code}): {_gist(output)}")
    summary = folder / "summary.json"
    results_s = summary.stat().st_mtime - started_wall if summary.exists() else None
    return RunResult(
        exit_code=code,
        wall_s=wall,
        folder=folder,
        output=output,
        started=started,
        results_s=results_s,
        peak_rss_kb=peak,
    )


def _read_rss(path: Path | None) -> int | None:
    if path is None:
        return None
    try:
        return int(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    finally:
        path.unlink(missing_ok=True)


def _gist(output: str) -> str:
    """What a failed `racelab run` said about why: its `racelab:` lines and the runs cut short, not its table."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    said = [ln for ln in lines if ln.startswith("racelab: ") and "scenario(s)" not in ln]
    said += [ln for ln in lines if "cut short" in ln or "Error" in ln or "Traceback" in ln]
    text = " · ".join(dict.fromkeys(said)) or (lines[-1] if lines else "no output")
    return text if len(text) <= 400 else text[:397] + "..."


def write_scenario(workdir: Path, kind: str, profile: str, runs: int) -> tuple[Path, str]:
    text = scenario_text(kind, profile=profile, runs=runs)
    path = workdir / f"bench-{kind.lower()}-{profile}-{runs}.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text


@dataclass(frozen=True, slots=True)
class Timeline:
    """A real-time result's runs on the monotonic clock."""

    durations: list[float]
    """Each run, from its start (`origin_s`) to its last event (last answer, or its order's last journal entry)."""
    first_start: float
    last_end: float
    first_violation_end: float | None
    """When the first run judged `invalid` had ended (None if none was)."""


def timeline(result: RunResult) -> Timeline:
    durations, starts, ends, violating = [], [], [], []
    for run in result.runs():
        origin = float(run["origin_s"])
        events = [origin + op["t_complete"] / 1000.0 for op in run["history"]]
        events += [float(e["t"]) for e in run["journal"]]
        end = max(events, default=origin)
        durations.append(end - origin)
        starts.append(origin)
        ends.append(end)
        if run["verdict"] == "invalid":
            violating.append(end)
    if not durations:
        raise HarnessError("the sweep wrote no runs")
    return Timeline(durations, min(starts), max(ends), min(violating, default=None))


async def measure_sweep(plan: Plan, *, on_step: Step | None = None) -> dict[str, Any]:
    """Send skew, wall time and longest run of the real-time sweep (`plan.sweep_runs_per_offset` x 20 runs).

    Returns:
        `runs`, `skew_ms` (summary.json's), `wall_s`, `longest_run_s`, `wall_over_longest`, `run_s` (quantiles of
        run durations), `command_s` (the whole command), `scenario` (its text).
    """
    with tempfile.TemporaryDirectory(prefix="racelab-bench-") as work:
        workdir = Path(work)
        path, text = write_scenario(workdir, "sweep", "default", plan.sweep_runs_per_offset)
        if on_step is not None:
            on_step(f"sweep · racelab run, {20 * plan.sweep_runs_per_offset} runs in real time")
        result = await racelab_run(path, workdir / "results", seed=plan.seed)
        summary = result.summary()
        line = timeline(result)
    longest = max(line.durations)
    wall = line.last_end - line.first_start
    return {
        "runs": len(line.durations),
        "profile": "default",
        "skew_ms": summary.get("skew_ms"),
        "wall_s": wall,
        "longest_run_s": longest,
        "wall_over_longest": wall / longest if longest > 0 else None,
        "run_s": {"p50": statistics.median(line.durations), "max": longest},
        "command_s": result.wall_s,
        "scenario": text,
    }


async def virtual_available() -> bool:
    """True when `racelab run` offers `--mode virtual` (being built while this bench was written)."""
    _, out, _ = await run_child(racelab_argv(["run", "--help"]))
    return b"virtual" in out


def _fingerprint(result: RunResult) -> dict[str, str]:
    """Run id → a digest of what a rerun must reproduce: verdict, results, final state and the history's outcomes
    and times."""
    prints = {}
    for run in result.runs():
        kept = {
            "verdict": run["verdict"],
            "results": run["results"],
            "final": run["final"],
            "history": [
                [op["f"], op["outcome"], op["status"], op["t_invoke"], op["t_complete"]] for op in run["history"]
            ],
        }
        prints[run["run_id"]] = hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()
    return prints


async def measure_virtual(plan: Plan, *, on_step: Step | None = None) -> dict[str, Any]:
    """The same sweep in real time and in virtual time (twice, then once with one worker): the sweeps' wall times
    and their ratio, the whole commands' too, and whether the two virtual runs gave identical results.

    Returns:
        `available` False (and nothing else but `reason`) when `racelab run` has no virtual mode; otherwise `runs`,
        `profile`, `sweep_s` (`real`, `virtual` (both runs), `virtual_one_job`: each command's `timing.json`),
        `speedup` (real sweep / median virtual sweep), `real_s` and `virtual_s` (the whole commands),
        `speedup_commands`, `speedup_to_results` (until `summary.json`), `identical`, `differing` (run ids whose
        results differ, at most 5), `violations` (naive's, real and virtual).
    """
    if not await virtual_available():
        return {"available": False, "reason": "racelab run has no --mode virtual yet"}
    runs = plan.virtual_runs_per_offset
    with tempfile.TemporaryDirectory(prefix="racelab-bench-") as work:
        workdir = Path(work)
        path, text = write_scenario(workdir, "sweep", plan.virtual_profile, runs)
        if on_step is not None:
            on_step(f"virtual vs real · {20 * runs} runs, profile {plan.virtual_profile}, real time")
        real = await racelab_run(path, workdir / "real", seed=plan.seed)
        virtual = []
        for i in range(2):
            if on_step is not None:
                on_step(f"virtual vs real · {20 * runs} runs, profile {plan.virtual_profile}, virtual {i + 1}/2")
            virtual.append(
                await racelab_run(path, workdir / f"virtual{i}", seed=plan.seed, extra=["--mode", "virtual"])
            )
        if on_step is not None:
            on_step(f"virtual vs real · {20 * runs} runs, profile {plan.virtual_profile}, virtual, one worker")
        one_job = await racelab_run(path, workdir / "one", seed=plan.seed, extra=["--mode", "virtual", "--jobs", "1"])
        first, second = (_fingerprint(v) for v in virtual)
        differing = sorted(k for k in first.keys() | second.keys() if first.get(k) != second.get(k))
        violations = {"real": real.summary()["invalid"], "virtual": [v.summary()["invalid"] for v in virtual]}
        real_sweep, one_job_sweep = real.sweep_s(), one_job.sweep_s()
        virtual_sweeps = [s for s in (v.sweep_s() for v in virtual) if s is not None]
    if real_sweep is None or len(virtual_sweeps) != len(virtual):
        raise HarnessError("racelab run wrote no timing.json: cannot time the sweeps")
    sweeps = {"real": real_sweep, "virtual": virtual_sweeps, "virtual_one_job": one_job_sweep}
    virtual_s = [v.wall_s for v in virtual]
    results_s = [v.results_s for v in virtual if v.results_s is not None]
    return {
        "available": True,
        "runs": 20 * runs,
        "profile": plan.virtual_profile,
        "sweep_s": sweeps,
        "speedup": real_sweep / statistics.median(virtual_sweeps),
        "real_s": real.wall_s,
        "virtual_s": virtual_s,
        "speedup_commands": real.wall_s / statistics.median(virtual_s),
        "results_s": {"real": real.results_s, "virtual": results_s},
        "speedup_to_results": real.results_s / statistics.median(results_s)
        if real.results_s is not None and results_s
        else None,
        "identical": not differing,
        "differing": differing[:5],
        "violations": violations,
        "scenario": text,
    }


async def first_reproduction(plan: Plan, kind: str, *, on_step: Step | None = None) -> dict[str, Any]:
    """Wall time of `racelab run` on failure `kind` (`A` or `B`), naive, one run per offset; `plan.repro_rounds`
    times.

    Returns:
        `seconds` (the median wall time over the rounds), `reproduced` (True when every round's gate saw the
        failure), `rounds` (each round's wall time, verdict, and where the time went: `first_violation_s` from
        spawning the command to the end of the first violating run, `sweep_s` the runs themselves, `results_s`
        until `summary.json` was written), `runs`, `scenario`.
    """
    rounds = []
    with tempfile.TemporaryDirectory(prefix="racelab-bench-") as work:
        workdir = Path(work)
        path, text = write_scenario(workdir, kind, "default", 1)
        for r in range(plan.repro_rounds):
            if on_step is not None:
                on_step(f"time to first reproduction · failure {kind} · round {r + 1}/{plan.repro_rounds}")
            # A new seed per round: each round is a fresh first try, not a replay of the previous one.
            result = await racelab_run(path, workdir / f"r{r}", seed=plan.seed + r)
            summary = result.summary()
            line = timeline(result)
            first = line.first_violation_end
            rounds.append(
                {
                    "wall_s": result.wall_s,
                    "reproduced": bool(summary["passed"]),
                    "violations": summary["invalid"],
                    "runs": summary["runs"],
                    "first_violation_s": None if first is None else first - result.started,
                    "results_s": result.results_s,
                    "sweep_s": line.last_end - line.first_start,
                }
            )
    return {
        "seconds": statistics.median(r["wall_s"] for r in rounds),
        "reproduced": all(r["reproduced"] for r in rounds),
        "rounds": rounds,
        "runs": rounds[0]["runs"] if rounds else 0,
        "scenario": text,
    }
