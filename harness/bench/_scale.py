"""The measures of sweeps at scale: send skew and wall time of real-time sweeps from 500 to 20,000 runs, the peak
memory of `racelab run` as the sweep grows, and an interrupted sweep resumed.

- **Skew at scale**: `racelab run` (embedded, naive, failure A's race, profile `default`: the scenario of the
  1,000-run sweep row, with more runs per offset) for each size of `Plan.scale_runs`; the figure is `summary.json`'s
  `skew_ms` p99. The wall time (first run's start to last run's end, from `runs.jsonl`) is compared with the
  sweep's ideal schedule: every run started in its paced slot (the runner spreads run starts to stay under
  `--max-rate`: one slot every steps x requests per step / max rate seconds) and lasting as long as the longest run,
  i.e. `(runs - 1) x slot + longest run`. With a few runs this is the longest run; with 20,000 it is mostly pacing.
- **Peak RSS**: the same command, small and large (`Plan.rss_runs`), run through a wrapper that writes the
  process's own `getrusage(RUSAGE_SELF).ru_maxrss` as it exits (the embedded simulator, a child, is not counted).
  Sizes measured for the skew are reused, not run twice.
- **Resume identity**: a virtual sweep run whole; the same command again, sent SIGINT once half its runs are in
  `runs.jsonl`; then `racelab run --resume DIR` on that folder. The runs (each `runs.jsonl` line, keyed by run id)
  must be the ones of the whole sweep, byte for byte.

Imports: stdlib, `harness.bench._common`, `harness.bench._sweeps`, `harness.drive.runner` (the pacing defaults),
`harness.integrations` (the naive integration's requests per step), `harness.errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shlex
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.bench._common import Plan, start_child, stop_child
from harness.bench._sweeps import racelab_argv, racelab_resume, racelab_run, timeline, write_scenario
from harness.errors import HarnessError

__all__ = ["ideal_schedule_s", "measure_resume", "measure_scale", "runs_by_id"]

Step = Callable[[str], None]

_STEPS = 2
"""Steps per run of the bench's sweep scenario (the invoice and the Change)."""

_RESUME_HINT = re.compile(r"resume: racelab run --resume (.+)$", re.MULTILINE)


def ideal_schedule_s(runs: int, longest_run_s: float) -> float:
    """When a real-time sweep of the bench's scenario would end if every run started in its paced slot and lasted as
    long as the longest: `(runs - 1)` slots after the first start (a slot: the run's requests, its steps' and its
    final-state read's, at the runner's `max_rate`), plus the longest run."""
    from harness.drive.runner import RunnerOptions
    from harness.integrations import load_integration

    options = RunnerOptions()
    per_step = load_integration("naive").requests_per_step or options.requests_per_step
    slot_s = (_STEPS * per_step + options.requests_per_run) / options.max_rate
    return max(0, runs - 1) * slot_s + longest_run_s


async def measure_scale(plan: Plan, *, on_step: Step | None = None) -> dict[str, Any]:
    """Send skew, wall time against the ideal schedule, and peak RSS of `racelab run` at each size of
    `plan.scale_runs` and `plan.rss_runs`, smallest first.

    Returns:
        `sweeps`: size (a string) -> `runs`, `skew_ms`, `wall_s`, `longest_run_s`, `ideal_s`, `wall_over_ideal`,
        `peak_rss_mb`, `command_s`; `rss`: `small`, `large` (sizes), `small_mb`, `large_mb`, `ratio`; `scenario`:
        the text of the largest sweep's scenario.
    """
    sizes = sorted(set(plan.scale_runs) | set(plan.rss_runs))
    if any(n % 20 for n in sizes):
        raise HarnessError(f"sweep sizes must be multiples of 20 (the sweep's offsets): {sizes}")
    sweeps: dict[str, dict[str, Any]] = {}
    text = ""
    with tempfile.TemporaryDirectory(prefix="racelab-bench-") as work:
        workdir = Path(work)
        for runs in sizes:
            path, text = write_scenario(workdir, "sweep", "default", runs // 20)
            if on_step is not None:
                on_step(f"scale · racelab run, {runs:,} runs in real time")
            result = await racelab_run(path, workdir / f"r{runs}", seed=plan.seed, rss=True)
            summary = result.summary()
            line = timeline(result)
            longest = max(line.durations)
            wall = line.last_end - line.first_start
            ideal = ideal_schedule_s(len(line.durations), longest)
            sweeps[str(runs)] = {
                "runs": len(line.durations),
                "skew_ms": summary.get("skew_ms"),
                "wall_s": wall,
                "longest_run_s": longest,
                "ideal_s": ideal,
                "wall_over_ideal": wall / ideal if ideal > 0 else None,
                "peak_rss_mb": None if result.peak_rss_kb is None else result.peak_rss_kb / 1024,
                "command_s": result.wall_s,
            }
            assert result.folder is not None
            shutil.rmtree(result.folder, ignore_errors=True)  # 20,000 runs write ~200 MB: not kept for the next
    small, large = plan.rss_runs
    small_mb, large_mb = sweeps[str(small)]["peak_rss_mb"], sweeps[str(large)]["peak_rss_mb"]
    if small_mb is None or large_mb is None:
        raise HarnessError("racelab run did not report its peak RSS")
    rss = {"small": small, "large": large, "small_mb": small_mb, "large_mb": large_mb, "ratio": large_mb / small_mb}
    return {"sweeps": sweeps, "rss": rss, "scenario": text}


def runs_by_id(path: Path) -> dict[str, str]:
    """Each line of a `runs.jsonl`, by its run id (a torn last line, with no newline, is left out)."""
    lines: dict[str, str] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break
            if line.strip():
                lines[str(json.loads(line)["run_id"])] = line
    return lines


async def measure_resume(plan: Plan, *, on_step: Step | None = None) -> dict[str, Any]:
    """A virtual sweep whole, the same sweep interrupted at half its runs and resumed: do the runs match?

    Returns:
        `runs`, `identical`, `differing` (run ids whose lines differ or are missing on one side; at most 5),
        `differing_count`, `cut_at` (runs in `runs.jsonl` when SIGINT was sent), `cut_runs` (when the interrupted
        command had exited), `cut_exit`, `resumed_exit`, `summary_identical` (summary.json byte for byte),
        `whole_s`, `cut_s`, `resumed_s` (whole commands), `scenario`.
    """
    runs = plan.resume_runs_per_offset
    with tempfile.TemporaryDirectory(prefix="racelab-bench-") as work:
        workdir = Path(work)
        path, text = write_scenario(workdir, "sweep", "default", runs)
        out = workdir / "results"  # one root for the three commands, so that their commands are the same
        total = 20 * runs
        if on_step is not None:
            on_step(f"resume · a virtual sweep of {total:,} runs, whole")
        whole = await racelab_run(path, out, seed=plan.seed, extra=["--mode", "virtual"])
        if on_step is not None:
            on_step(f"resume · the same sweep, SIGINT once {total // 2:,} runs are in")
        cut = await _interrupted(
            ["run", str(path), "--out", str(out), "--seed", str(plan.seed), "--mode", "virtual"], out, total // 2
        )
        if on_step is not None:
            on_step("resume · racelab run --resume")
        resumed = await racelab_resume(cut["folder"], out)
        assert whole.folder is not None
        assert resumed.folder is not None
        if resumed.folder != cut["folder"].resolve():
            raise HarnessError(f"racelab run --resume wrote {resumed.folder}, not the folder it resumed")
        expected = runs_by_id(whole.folder / "runs.jsonl")
        got = runs_by_id(resumed.folder / "runs.jsonl")
        same_summary = (whole.folder / "summary.json").read_bytes() == (resumed.folder / "summary.json").read_bytes()
    differing = sorted(k for k in expected.keys() | got.keys() if expected.get(k) != got.get(k))
    return {
        "runs": total,
        "identical": not differing,
        "differing": differing[:5],
        "differing_count": len(differing),
        "cut_at": cut["at"],
        "cut_runs": cut["runs"],
        "cut_exit": cut["exit"],
        "resumed_exit": resumed.exit_code,
        "summary_identical": same_summary,
        "whole_s": whole.wall_s,
        "cut_s": cut["seconds"],
        "resumed_s": resumed.wall_s,
        "scenario": text,
    }


class _Lines:
    """Counts the complete lines of a growing file, reading only what was appended since the last count."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.count = path, 0, 0

    def read(self) -> int:
        with contextlib.suppress(FileNotFoundError), self.path.open("rb") as f:
            f.seek(self.offset)
            chunk = f.read()
            self.offset += len(chunk)
            self.count += chunk.count(b"\n")
        return self.count


def _folders(root: Path) -> set[Path]:
    """The result folders under `root` (not its `latest` link)."""
    if not root.is_dir():
        return set()
    return {p for p in root.iterdir() if p.is_dir() and not p.is_symlink()}


async def _interrupted(args: list[str], out: Path, at: int) -> dict[str, Any]:
    """`racelab ARGS` (a sweep writing into a new folder under `out`), sent SIGINT once its `runs.jsonl` holds `at`
    runs. Returns the folder it names in its `resume:` line, the count at the signal and at its exit, its exit
    code and wall time.

    Raises:
        HarnessError: the sweep ended before it could be interrupted, or did not exit 130, or named no folder.
    """
    before = _folders(out)
    started = time.monotonic()
    with tempfile.TemporaryFile() as log:
        proc = await start_child(racelab_argv(args), stdout=log, stderr=asyncio.subprocess.STDOUT)
        try:
            lines: _Lines | None = None
            count = 0
            while count < at:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 0.01)
                if proc.returncode is not None:
                    break
                if lines is None:
                    new = sorted(_folders(out) - before)
                    lines = _Lines(new[0] / "runs.jsonl") if new else None
                count = lines.read() if lines is not None else 0
            if proc.returncode is None:
                proc.send_signal(signal.SIGINT)
            code = await asyncio.wait_for(proc.wait(), 120)
        finally:
            await asyncio.shield(stop_child(proc))  # at once if it has exited (it is forgotten either way)
        log.seek(0)
        output = log.read().decode(errors="replace")
    seconds = time.monotonic() - started
    if code in (0, 1):
        raise HarnessError(
            f"the virtual sweep ended (exit {code}) before {at} of its runs were in runs.jsonl: nothing to resume"
        )
    hint = _RESUME_HINT.search(output)
    if code != 130 or hint is None:
        raise HarnessError(f"the interrupted sweep exited {code} without a resume line: {output[-1500:]}")
    folder = Path(shlex.split(hint.group(1))[0])
    return {
        "folder": folder,
        "at": count,
        "runs": len(runs_by_id(folder / "runs.jsonl")),
        "exit": code,
        "seconds": seconds,
    }
