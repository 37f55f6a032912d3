"""Send skew, wall time and peak memory of real-time sweeps of growing size, side by side across variants.

Each measure is `racelab run` as a child process (embedded simulator, real time) on the bench's sweep scenario
(`harness.bench._sweeps.scenario_text("sweep")`: failure A's race, naive, 20 Change offsets from 50 to 1000 ms),
with `--runs N/20` per offset. Rounds alternate (every size of every variant, then again) so that a shared machine's
noise falls on every side alike; a table gives each figure's median over the rounds and its spread.

    .venv/bin/python benchmarks/sweep_skew.py [--runs 500,2000,5000] [--rounds 3] [--variant SPEC ...] [--json F]

Figures per child:
- **skew p50/p99/max**: `summary.json`'s `skew_ms` (how late each scheduled request's headers left); **p99 head**
  and **p99 rest**: the p99 of the first tenth of the scheduled sends (the start-up) and of the other nine tenths
  (the steady state), from `runs.jsonl`; **late**: how many sends were over 2 ms late.
- **wall/longest**: the sweep's wall time (first run's start to last run's last event, from `runs.jsonl`) over the
  longest run (its start to its last event). **wall/ideal**: the same wall time over the paced schedule's (every
  run on its slot, `2 x 1.5 / --max-rate` apart for naive's two steps, plus a median run): near 1 unless the runs
  fell behind their slots.
- **sweep s**: `timing.json`'s `sweep_s` (the simulator's start and the seeding included).
- **RSS / sim RSS**, **cpu s / sim cpu s**: peak resident memory and CPU time of the `racelab run` process and of
  its embedded simulator (`getrusage` self and children, read by a small wrapper at the child's exit). The runner's
  CPU includes its busy wait before each step (`RunnerOptions.lead_ms`). **other cpu s**: what the rest of the
  machine took meanwhile, from `/proc/stat` (noise; `--max-other` measures again above a bound, `--wait-quiet`
  waits for an idle machine first).
- **gc**: with `--gc`, the wrapper times every collection of the child (`gc.callbacks`): count and longest pause
  per generation, the time spent in all of them, and how many late sends were waiting while one over 1 ms ran.
- **stalls**: with `--stalls`, where the standard loop spent callbacks over 3 ms (a sampled stack per millisecond).

A variant is `NAME` followed by tokens (one shell-quoted string): `@DIR` runs the code of another checkout's root
(first on `PYTHONPATH`: e.g. a `git worktree` with a change to try), `KEY=VALUE` (upper-case key) sets an environment
variable of the child (`PYTHONHASHSEED=0`), anything else is passed to `racelab run` (`--max-rate 750`):

    --variant base --variant "nogc @/tmp/wt-nogc" --variant "half --max-rate 750"

Imports: stdlib, `harness.bench._sweeps` (the scenario), `harness.judge.stats` (the summary's percentile); the
measured code runs in the children.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.bench._sweeps import scenario_text  # noqa: E402
from harness.judge.stats import percentile  # noqa: E402

# Runs `python -m harness.cli` in the child and, at its exit, writes what getrusage says of it (and of the simulator
# it started and reaped) and, when asked, how long each garbage collection took.
_WRAPPER = r"""
import atexit, gc, json, os, resource, runpy, sys, time
out = os.environ.pop("H9_SWEEP_STATS")
pauses, slow = {0: [], 1: [], 2: []}, []
if os.environ.pop("H9_SWEEP_GC", "") == "1":
    started = [0.0]
    def timed(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            took = time.perf_counter() - started[0]
            pauses[info["generation"]].append(took)
            if took > 0.001:
                slow.append((time.monotonic() - took, took, info["generation"]))
    gc.callbacks.append(timed)
stalls = {}
if os.environ.pop("H9_SWEEP_STALLS", "") == "1":
    # Where the loop stalls: a watchdog thread samples the main thread's stack while one callback of the standard
    # loop has run for over 3 ms (the standard loop's callbacks only: another loop's are out of reach).
    import asyncio.events, threading, traceback
    running = [None]
    original = asyncio.events.Handle._run
    def _run(self):
        running[0] = time.perf_counter()
        try:
            return original(self)
        finally:
            running[0] = None
    asyncio.events.Handle._run = _run
    main_id = threading.get_ident()
    def watch():
        while True:
            time.sleep(0.001)
            began = running[0]
            if began is None or time.perf_counter() - began < 0.003:
                continue
            frame = sys._current_frames().get(main_id)
            if frame is None:
                continue
            picked = [f"{os.path.basename(fs.filename)}:{fs.lineno} {fs.name}" for fs in traceback.extract_stack(frame)]
            key = " < ".join(reversed(picked[-8:]))
            stalls[key] = stalls.get(key, 0) + 1
    threading.Thread(target=watch, daemon=True).start()
def report():
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as f:
        json.dump({"rss_kb": me.ru_maxrss, "children_rss_kb": kids.ru_maxrss, "cpu_s": me.ru_utime + me.ru_stime,
                   "children_cpu_s": kids.ru_utime + kids.ru_stime,
                   "gc": {g: [len(p), max(p, default=0.0), sum(p)] for g, p in pauses.items()}, "slow_gc": slow,
                   "stalls": sorted(stalls.items(), key=lambda kv: -kv[1])[:15]}, f)
atexit.register(report)
sys.argv = ["racelab", *sys.argv[1:]]
runpy.run_module("harness.cli", run_name="__main__", alter_sys=True)
"""


_LATE_MS = 2.0
"""A send later than this counts as late (issue 18's target for the p99)."""


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    source: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()

    @classmethod
    def parse(cls, spec: str) -> Variant:
        tokens = shlex.split(spec)
        if not tokens:
            raise ValueError("an empty --variant")
        name, source, env, args = tokens[0], None, {}, []
        for token in tokens[1:]:
            key, sep, value = token.partition("=")
            if token.startswith("@"):
                source = Path(token[1:]).resolve()
                if not (source / "harness").is_dir():
                    raise ValueError(f"--variant {spec!r}: {source} is not a checkout's root (no harness/)")
            elif sep and key.isupper() and not token.startswith("-"):
                env[key] = value
            else:
                args.append(token)
        return cls(name, source, env, tuple(args))


@dataclass(frozen=True, slots=True)
class Measure:
    variant: str
    runs: int
    exit_code: int
    command_s: float
    sweep_s: float | None
    skew: dict[str, float | None]
    wall_over_longest: float | None
    wall_over_ideal: float | None
    """The sweep's wall time over its ideal: every run started on its paced slot (`_run_spacing_s` apart), the last
    one lasting as long as the median run."""
    p99_head: float | None
    """Skew p99 of the first tenth of the scheduled sends (by scheduled time): the start of the sweep."""
    p99_rest: float | None
    """Skew p99 of the other nine tenths: the steady state."""
    wall_s: float
    longest_s: float
    rss_mb: float
    sim_rss_mb: float
    cpu_s: float
    sim_cpu_s: float
    gc: dict[str, list[float]]
    other_cpu_s: float
    """CPU time the machine spent on other processes meanwhile (this one and the benchmark aside): noise."""
    late: int
    """Scheduled sends more than `_LATE_MS` late."""
    late_in_gc: int | None
    """Of those, how many were waiting while a garbage collection over 1 ms ran (with `--gc`)."""
    stalls: list[tuple[str, int]]
    """With `--stalls`: the stacks where the loop's callbacks ran over 3 ms, innermost first, and how many
    milliseconds (samples) each was seen."""


def measure(
    variant: Variant, runs: int, workdir: Path, *, seed: int, gc_log: bool, keep: Path | None, stalls: bool = False
) -> Measure:
    per_offset = max(1, runs // 20)
    scenario = workdir / f"sweep-{per_offset}.yaml"
    if not scenario.exists():
        scenario.write_text(scenario_text("sweep", profile="default", runs=per_offset), encoding="utf-8")
    out = Path(tempfile.mkdtemp(prefix=f"{variant.name}-{runs}-", dir=keep or workdir))
    stats = out / "child-stats.json"
    env = {**os.environ, **variant.env, "H9_SWEEP_STATS": str(stats), "H9_SWEEP_GC": "1" if gc_log else "0"}
    env["H9_SWEEP_STALLS"] = "1" if stalls else "0"
    if variant.source is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(variant.source), env.get("PYTHONPATH", "")) if p)
    argv = [sys.executable, "-c", _WRAPPER, "run", str(scenario), "--out", str(out), "--seed", str(seed)]
    argv += variant.args
    started, busy = time.monotonic(), _busy_s()
    done = _run_child(argv, cwd=variant.source or ROOT, env=env)
    command_s, busy = time.monotonic() - started, _busy_s() - busy
    latest = out / "latest"
    if done.returncode not in (0, 1) or not latest.exists():
        crashes = "".join(p.read_text(encoding="utf-8") for p in out.glob("racelab-crash-*.log"))
        said = (done.stdout + done.stderr + crashes)[-4000:]
        raise SystemExit(f"{variant.name} at {runs} runs failed (exit {done.returncode}):\n{said}")
    folder = latest.resolve()
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    timing_file = folder / "timing.json"
    timing = json.loads(timing_file.read_text(encoding="utf-8")) if timing_file.exists() else {}
    child = json.loads(stats.read_text(encoding="utf-8"))
    spacing = _run_spacing_s(variant.args)
    starts, ends, durations = [], [], []
    sends: list[tuple[float, float]] = []  # (scheduled, sent) of every scheduled send, on the monotonic clock
    for run in _runs(folder / "runs.jsonl"):
        origin = float(run["origin_s"])
        for op in run["history"]:
            scheduled, sent = op.get("scheduled_ms"), op.get("sent_ms")
            if scheduled is not None and sent is not None:
                sends.append((origin + scheduled / 1000.0, origin + sent / 1000.0))
        events = [origin + op["t_complete"] / 1000.0 for op in run["history"]]
        events += [float(e["t"]) for e in run["journal"]]
        end = max(events, default=origin)
        starts.append(origin)
        ends.append(end)
        durations.append(end - origin)
    wall = max(ends) - min(starts) if starts else 0.0
    longest = max(durations, default=0.0)
    ideal = spacing * len(starts) + statistics.median(durations) if durations else 0.0
    late = [(a, b) for a, b in sends if (b - a) * 1000.0 > _LATE_MS]
    sends.sort()
    head = max(1, len(sends) // 10)  # the first tenth of the schedule: the start-up, apart from the steady state
    pauses = [(start, start + took) for start, took, _ in child.get("slow_gc", [])]
    late_in_gc = sum(1 for a, b in late if any(p0 < b and a < p1 for p0, p1 in pauses))
    if keep is None:
        shutil.rmtree(out, ignore_errors=True)
    return Measure(
        variant=variant.name,
        runs=int(summary["runs"]),
        exit_code=done.returncode,
        command_s=command_s,
        sweep_s=timing.get("sweep_s"),
        skew={k: summary["skew_ms"].get(k) for k in ("p50", "p99", "max")},
        wall_over_longest=wall / longest if longest > 0 else None,
        wall_over_ideal=wall / ideal if ideal > 0 else None,
        p99_head=percentile([(b - a) * 1000.0 for a, b in sends[:head]], 99),
        p99_rest=percentile([(b - a) * 1000.0 for a, b in sends[head:]], 99),
        wall_s=wall,
        longest_s=longest,
        rss_mb=child["rss_kb"] / 1024,
        sim_rss_mb=child["children_rss_kb"] / 1024,
        cpu_s=child["cpu_s"],
        sim_cpu_s=child["children_cpu_s"],
        gc={str(g): v for g, v in child["gc"].items()},
        other_cpu_s=max(0.0, busy - child["cpu_s"] - child["children_cpu_s"]),
        late=len(late),
        late_in_gc=late_in_gc if gc_log else None,
        stalls=child.get("stalls", []),
    )


def _run_spacing_s(args: Sequence[str]) -> float:
    """The runner's pacing of this scenario: 2 steps x naive's 1.5 requests per step / `--max-rate` (1500)."""
    rate = 1500.0
    for flag, value in itertools.pairwise(args):
        if flag == "--max-rate":
            rate = float(value)
    return 2 * 1.5 / rate


def _run_child(argv: Sequence[str], *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `racelab run` in a session of its own; if this benchmark is stopped meanwhile, stop the child and the
    simulator it started (its process group) rather than leave them running."""
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=env, start_new_session=True
    ) as proc:
        try:
            stdout, stderr = proc.communicate()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
            raise
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def _wait_quiet(limit_s: float) -> None:
    """Wait (at most `limit_s`) until the machine has been idle for two seconds: under a fifth of a core busy."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = _busy_s()
        time.sleep(2.0)
        if _busy_s() - before < 0.4:
            return
    print(f"  (the machine did not go quiet in {limit_s:.0f} s: measuring anyway)", flush=True)


def _busy_s() -> float:
    """CPU seconds the machine has been busy, all cores (`/proc/stat`; 0 where there is none)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _runs(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError:  # a torn last line (an interrupted run): not a run
                    continue


def _median(values: Sequence[float | None]) -> str:
    kept = [v for v in values if v is not None]
    if not kept:
        return "-"
    if len(kept) == 1:
        return f"{kept[0]:.2f}"
    return f"{statistics.median(kept):.2f} [{min(kept):.2f}-{max(kept):.2f}]"


def table(measures: Sequence[Measure], gc_log: bool) -> str:
    header = ["variant", "runs", "skew p50", "skew p99", "p99 head", "p99 rest", "skew max", "wall/longest"]
    header += ["wall/ideal", "sweep s", "RSS MB", "sim RSS MB"]
    header += ["cpu s", "sim cpu s", "other cpu s", "late"]
    header += ["late in gc", "gc1 n/max ms", "gc2 n/max ms", "gc total ms"] if gc_log else []
    rows = [header]
    for key in dict.fromkeys((m.variant, m.runs) for m in measures):
        group = [m for m in measures if (m.variant, m.runs) == key]
        row = [key[0], str(key[1])]
        row += [_median([m.skew[q] for m in group]) for q in ("p50", "p99")]
        row += [_median([m.p99_head for m in group]), _median([m.p99_rest for m in group])]
        row += [_median([m.skew["max"] for m in group]), _median([m.wall_over_longest for m in group])]
        row += [_median([m.wall_over_ideal for m in group]), _median([m.sweep_s for m in group])]
        row += [_median([m.rss_mb for m in group]), _median([m.sim_rss_mb for m in group])]
        row += [_median([m.cpu_s for m in group]), _median([m.sim_cpu_s for m in group])]
        row += [_median([m.other_cpu_s for m in group]), f"{statistics.median(m.late for m in group):.0f}"]
        if gc_log:
            row.append(f"{statistics.median(m.late_in_gc or 0 for m in group):.0f}")
            for gen in ("1", "2"):
                row.append(
                    f"{statistics.median(m.gc[gen][0] for m in group):.0f}/"
                    f"{max(m.gc[gen][1] for m in group) * 1000:.1f}"
                )
            row.append(f"{statistics.median(sum(v[2] for v in m.gc.values()) for m in group) * 1000:.0f}")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the children are stopped on the way out
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", default="500,2000,5000", help="sweep sizes, comma-separated (multiples of 20)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--variant", action="append", default=[], help="NAME [@DIR] [KEY=VALUE] [racelab run args]")
    parser.add_argument("--gc", action="store_true", help="time the children's garbage collections")
    parser.add_argument(
        "--max-other", type=float, help="measure again when other processes took more CPU seconds than this"
    )
    parser.add_argument(
        "--wait-quiet", type=float, default=0.0, help="before each measure, wait up to this long for an idle machine"
    )
    parser.add_argument("--retries", type=int, default=2, help="how many times to measure again (--max-other)")
    parser.add_argument(
        "--stalls",
        action="store_true",
        help="sample where the loop stalls over 3 ms (standard loop only; its probe slows every callback a little and "
        "wakes a thread every millisecond: a diagnosis, not for comparing variants)",
    )
    parser.add_argument("--keep", type=Path, help="keep the result folders under this folder")
    parser.add_argument("--json", type=Path, help="write every measure as JSON here")
    args = parser.parse_args()
    try:
        variants = [Variant.parse(v) for v in args.variant] or [Variant("base")]
    except ValueError as exc:
        parser.error(str(exc))
    sizes = [int(s) for s in args.runs.split(",") if s.strip()]
    measures: list[Measure] = []
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="racelab-sweep-skew-") as work:
        for r in range(args.rounds):
            # Alternate the order within a round too, so no variant always runs right after the biggest sweep.
            order = [(v, n) for n in sizes for v in (variants if r % 2 == 0 else variants[::-1])]
            for variant, runs in order:
                for attempt in range(1 + args.retries):
                    if args.wait_quiet:
                        _wait_quiet(args.wait_quiet)
                    m = measure(
                        variant,
                        runs,
                        Path(work),
                        seed=args.seed + r,
                        gc_log=args.gc,
                        keep=args.keep,
                        stalls=args.stalls,
                    )
                    if args.max_other is None or m.other_cpu_s <= args.max_other:
                        break
                    print(f"  (noisy: {m.other_cpu_s:.1f} s of other CPU; again, {attempt + 1})", flush=True)
                measures.append(m)
                print(
                    f"  round {r + 1}/{args.rounds} {variant.name:<12} {runs:>6} runs: skew p99 "
                    f"{m.skew['p99'] or 0:.2f} ms, wall/longest {m.wall_over_longest or 0:.2f}, "
                    f"other cpu {m.other_cpu_s:.1f} s, RSS {m.rss_mb:.0f} MB, sweep {m.sweep_s} s",
                    flush=True,
                )
                if args.json is not None:
                    args.json.write_text(json.dumps([vars_of(x) for x in measures], indent=1))
    print()
    print(table(sorted(measures, key=lambda m: sizes.index(m.runs) if m.runs in sizes else 0), args.gc))
    if args.stalls:
        for key in dict.fromkeys((m.variant, m.runs) for m in measures):
            seen: dict[str, int] = {}
            for m in measures:
                if (m.variant, m.runs) == key:
                    for stack, count in m.stalls:
                        seen[stack] = seen.get(stack, 0) + count
            print(f"\nstalls over 3 ms, {key[0]} at {key[1]} runs (ms sampled, all rounds):")
            for stack, count in sorted(seen.items(), key=lambda kv: -kv[1])[:8]:
                print(f"  {count:>6}  {stack}")
    print(f"\nmedian [min-max] over {args.rounds} alternating round(s); skew in ms; seeds {args.seed}..")


def vars_of(m: Measure) -> dict[str, Any]:
    return {name: getattr(m, name) for name in Measure.__slots__}


if __name__ == "__main__":
    main()
