"""Where the CPU of a virtual sweep goes: the worker processes against the parent, and the floor that sets for the
sweep's wall time on this machine's cores.

It runs the bench's 1,000-run sweep (failure A's race, naive, 20 offsets x 50 runs; profile `default-x10`) through
`harness.virtual.run_virtual_specs`, as `racelab run --mode virtual` does, and reads the CPU time of the parent and
of its worker processes (getrusage) around it. On a machine whose cores the workers keep busy, the wall time cannot
go below (workers + parent) / cores.

    .venv/bin/python benchmarks/virtual_cpu.py [--runs-per-offset 50] [--profile default-x10] [--jobs N] [--rounds 3]
    .venv/bin/python benchmarks/virtual_cpu.py --parts    # what a timer and an HTTP round trip cost, side by side
    .venv/bin/python benchmarks/virtual_cpu.py --per-run  # one run's CPU, with and without its simulated delays

`--parts` measures, alternating, what virtual mode is made of: a timer wake-up (`asyncio.sleep(0.001)`) on
virtual mode's clock and on looptime's, and a bare aiohttp GET round trip (a one-line handler) through the
in-process pipes and through loopback TCP, both on a virtual clock.

`--per-run` runs the sweep's runs one after the other in one universe in this process (no worker, no pickling) and
gives the CPU time of a run, alternating between the sweep's profile and `instant` (every delay 0): what the
simulated delays (their timers, seeded RNG streams and loop cycles) cost, and what is left without them.
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
from harness.scenarios import expand, load_scenario  # noqa: E402
from harness.virtual.universe import run_virtual_specs, usable_cores, virtual_config  # noqa: E402


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


async def _sleeps(n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        await asyncio.sleep(0.001)
    return (time.perf_counter() - started) / n * 1e6


async def _round_trips(n: int) -> dict[str, float]:
    import aiohttp
    from aiohttp import web

    from harness.virtual.pipes import PipeConnector

    async def hello(_: web.Request) -> web.Response:
        return web.Response(body=b'{"ok": true}', content_type="application/json")

    app = web.Application()
    app.router.add_get("/x", hello)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert runner.server is not None
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/x"
    timings: dict[str, list[float]] = {"pipes": [], "loopback TCP": []}
    try:
        for _ in range(3):  # alternating
            for name in timings:
                connector = PipeConnector(runner.server) if name == "pipes" else aiohttp.TCPConnector()
                async with aiohttp.ClientSession(connector=connector) as session:
                    started = time.perf_counter()
                    for _ in range(n):
                        async with session.get(url) as resp:
                            await resp.read()
                    timings[name].append((time.perf_counter() - started) / n * 1e6)
    finally:
        await runner.cleanup()
    return {name: statistics.median(values) for name, values in timings.items()}


def _per_run(path: Path, profile: str, rounds: int) -> None:
    from harness.virtual.universe import Universe

    scenario = load_scenario(path)
    specs = expand(scenario, seed=1)[:500]
    cpu: dict[str, list[float]] = {profile: [], "instant": []}
    for _ in range(rounds):  # alternating
        for name in cpu:
            with Universe(virtual_config(name, scenario.simulator, 1)) as universe:
                for spec in specs[:20]:  # warm: the first run builds the universe
                    universe.run(spec)
                started = time.process_time()
                for spec in specs:
                    universe.run(spec)
                cpu[name].append((time.process_time() - started) / len(specs) * 1000)
    for name, values in cpu.items():
        print(
            f"one run, profile {name}: {statistics.median(values):.2f} ms of CPU (median of {rounds} rounds of "
            f"{len(specs)} runs in one universe)"
        )
    print(f"its simulated delays cost {statistics.median(cpu[profile]) - statistics.median(cpu['instant']):.2f} ms")


def _parts() -> None:
    from harness.virtual.clock import VirtualClockLoop

    sys.modules.setdefault("pytest", None)  # type: ignore[arg-type] # looptime imports pytest for a fixture only
    import looptime

    clocks = {
        "virtual mode's clock": lambda: VirtualClockLoop(),
        "looptime's clock": lambda: looptime.make_event_loop_class(asyncio.SelectorEventLoop)(start=0.0, noop_cycles=0),
    }
    wakeups: dict[str, list[float]] = {name: [] for name in clocks}
    for _ in range(3):  # alternating
        for name, make in clocks.items():
            loop = make()
            wakeups[name].append(loop.run_until_complete(_sleeps(20_000)))
            loop.close()
    for name, values in wakeups.items():
        print(f"timer wake-up, {name}: {statistics.median(values):.1f} µs (median of 3 rounds of 20,000)")
    loop = VirtualClockLoop()
    for name, value in loop.run_until_complete(_round_trips(2_000)).items():
        print(f"bare aiohttp GET round trip on a virtual clock, {name}: {value:.0f} µs (median of 3 rounds of 2,000)")
    loop.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs-per-offset", type=int, default=50)
    parser.add_argument("--profile", default="default-x10")
    parser.add_argument("--jobs", type=int, default=usable_cores(), help="worker processes (default: usable cores)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parts", action="store_true", help="measure a timer wake-up and an HTTP round trip instead")
    parser.add_argument(
        "--per-run", action="store_true", help="one run's CPU in this process, with and without its delays, instead"
    )
    args = parser.parse_args()
    if args.parts:
        _parts()
        return 0
    if args.runs_per_offset < 1 or args.jobs < 1 or args.rounds < 1:
        parser.error("--runs-per-offset, --jobs and --rounds must be at least 1")
    with tempfile.TemporaryDirectory(prefix="racelab-virtual-cpu-") as work:
        path = Path(work) / "sweep.yaml"
        path.write_text(scenario_text("sweep", profile=args.profile, runs=args.runs_per_offset), encoding="utf-8")
        if args.per_run:
            _per_run(path, args.profile, args.rounds)
            return 0
        rounds = [asyncio.run(_round(path, args.jobs)) for _ in range(args.rounds)]
    runs = rounds[0][3]
    cores = usable_cores()
    for i, (wall, parent, workers, _) in enumerate(rounds, 1):
        if args.jobs == 1:  # the runs happen in a thread of this process: its CPU is all there is
            print(
                f"round {i}: {runs:,} runs in one worker thread: wall {wall:.2f} s · CPU {parent:.2f} s "
                f"({1000 * parent / runs:.2f} ms per run, coordination included)"
            )
            continue
        floor = (parent + workers) / min(cores, args.jobs)
        print(
            f"round {i}: {runs:,} runs, {args.jobs} worker processes: wall {wall:.2f} s · workers' CPU "
            f"{workers:.2f} s ({1000 * workers / runs:.2f} ms per run) · parent's CPU {parent:.2f} s · "
            f"floor on {cores} core(s) {floor:.2f} s"
        )
    print(f"median wall {statistics.median(r[0] for r in rounds):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
