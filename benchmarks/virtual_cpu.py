"""Where the CPU of a virtual sweep goes: the worker processes against the parent, and the floor that sets for the
sweep's wall time on this machine's cores.

It runs the bench's 1,000-run sweep (failure A's race, naive, 20 offsets x 50 runs; profile `default-x10`) through
`harness.virtual.run_virtual_specs`, as `racelab run --mode virtual` does, and reads the CPU time of the parent and
of its worker processes (getrusage) around it. On a machine whose cores the workers keep busy, the wall time cannot
go below (workers + parent) / cores.

    .venv/bin/python benchmarks/virtual_cpu.py [--runs-per-offset 50] [--profile default-x10] [--jobs N] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.bench._sweeps import scenario_text  # noqa: E402
from harness.scenario import expand, load_scenario  # noqa: E402
from harness.virtual import run_virtual_specs, usable_cores, virtual_config  # noqa: E402


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


async def _round(path: Path, jobs: int) -> tuple[float, float, float, int]:
    scenario = load_scenario(path)
    specs = expand(scenario, seed=1)
    config = virtual_config(scenario.profile, scenario.simulator, 1)
    parent, children, started = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
    await run_virtual_specs(specs, config, scenario_path=scenario.path, jobs=jobs)
    wall = time.perf_counter() - started
    # Worker processes are counted once they have exited (the pool has shut down when run_virtual_specs returns).
    return wall, _cpu(resource.RUSAGE_SELF) - parent, _cpu(resource.RUSAGE_CHILDREN) - children, len(specs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs-per-offset", type=int, default=50)
    parser.add_argument("--profile", default="default-x10")
    parser.add_argument("--jobs", type=int, default=usable_cores(), help="worker processes (default: usable cores)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.runs_per_offset < 1 or args.jobs < 1 or args.rounds < 1:
        parser.error("--runs-per-offset, --jobs and --rounds must be at least 1")
    with tempfile.TemporaryDirectory(prefix="racelab-virtual-cpu-") as work:
        path = Path(work) / "sweep.yaml"
        path.write_text(scenario_text("sweep", profile=args.profile, runs=args.runs_per_offset), encoding="utf-8")
        rounds = [asyncio.run(_round(path, args.jobs)) for _ in range(args.rounds)]
    runs = rounds[0][3]
    cores = usable_cores()
    for i, (wall, parent, workers, _) in enumerate(rounds, 1):
        if args.jobs == 1:  # the runs happen in a thread of this process: its CPU is all there is
            print(f"round {i}: {runs:,} runs in one worker thread: wall {wall:.2f} s · CPU {parent:.2f} s "
                  f"({1000 * parent / runs:.2f} ms per run, coordination included)")  # fmt: skip
            continue
        floor = (parent + workers) / min(cores, args.jobs)
        print(f"round {i}: {runs:,} runs, {args.jobs} worker processes: wall {wall:.2f} s · workers' CPU "
              f"{workers:.2f} s ({1000 * workers / runs:.2f} ms per run) · parent's CPU {parent:.2f} s · "
              f"floor on {cores} core(s) {floor:.2f} s")  # fmt: skip
    print(f"median wall {statistics.median(r[0] for r in rounds):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
