"""The report of a 10,000-run result: how big it is, how long it takes to build, how fast a browser opens it.

By default it makes the result with a REAL run, not synthesized records: `racelab run scenarios/over-invoice.yaml
--runs 250` on the embedded simulator (20 offsets x 250 repetitions x naive and workaround = 10,000 runs, with their
full histories and journals in runs.jsonl, ~100 MB). Then:

- `racelab report` rebuilds report.html from that folder, as a process: wall time and peak memory (it streams
  runs.jsonl, so memory stays flat whatever the number of runs);
- headless Chromium (Debian's `/usr/bin/chromium`, driven over the DevTools protocol by `tests/support/cdp.py`) opens
  the report `--loads` times, each in a fresh tab: `performance.timing` from navigation start to the end of the load
  event, DOMContentLoaded, and when two animation frames have been drawn after it (the page is on screen); plus the
  console errors it saw (there should be none).

    .venv/bin/python benchmarks/report_size.py [--runs-per-cell 250] [--loads 5] [--keep DIR]
    .venv/bin/python benchmarks/report_size.py --result results/20261121-062441-over-invoice   # reuse a result

Targets (issue #6): a 10,000-run result gives a report under 5 MB that opens in under 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests/support/cdp.py, the small CDP client the browser test uses too

from tests.support.cdp import open_chromium  # noqa: E402

FRAMES = "new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now()))))"
DCL = "performance.timing.domContentLoadedEventEnd - performance.timing.navigationStart"
TARGET_BYTES = 5 * 1024 * 1024
TARGET_LOAD_MS = 2000.0


def racelab(*args: str) -> tuple[float, float]:
    """Run `racelab ARGS` as a process: its wall time (s) and its own peak RSS (MB)."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "harness.cli", *args], cwd=ROOT, stdout=out, stderr=out)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):  # 1: a gate failed, which says nothing about the report
            out.seek(0)
            sys.exit(f"racelab {' '.join(args)} failed ({code}):\n{out.read()}")
    return wall, usage.ru_maxrss / 1024


async def browser_loads(url: str, loads: int, profile: Path) -> list[dict[str, Any]]:
    found = []
    async with open_chromium(profile) as browser:
        for _ in range(loads):
            page = await browser.new_page(width=1280, height=900)
            load = await page.load(url)
            found.append(
                {
                    "load_ms": load.load_ms,
                    "wall_ms": load.wall_ms,
                    "dom_content_loaded_ms": float(await page.evaluate(DCL)),
                    "frames_ms": float(await page.evaluate(FRAMES, await_promise=True)),
                    "errors": load.errors,
                    "rows_drawn": await page.evaluate('document.querySelectorAll("#runs tbody tr").length'),
                }
            )
            await page.send("Page.navigate", {"url": "about:blank"})
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="scenarios/over-invoice.yaml", help="the scenario to run")
    parser.add_argument("--runs-per-cell", type=int, default=250, help="repetitions per offset (default 250)")
    parser.add_argument("--result", type=Path, help="an existing result folder: skip the run")
    parser.add_argument("--loads", type=int, default=5, help="browser loads to time (default 5)")
    parser.add_argument("--keep", type=Path, help="write the run's results here (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="racelab-report-bench-") as scratch:
        figures: dict[str, Any] = {}
        if args.result is None:
            out = args.keep or Path(scratch) / "results"
            print(f"racelab run {args.scenario} --runs {args.runs_per_cell} (a real run; this takes a minute or two)")
            run_s, _ = racelab("run", args.scenario, "--runs", str(args.runs_per_cell), "--out", str(out))
            folder = (out / "latest").resolve()
            figures["run_s"] = round(run_s, 1)
        else:
            folder = args.result.resolve()
        summary = json.loads((folder / "summary.json").read_text())
        runs_bytes = (folder / "runs.jsonl").stat().st_size
        report = Path(scratch) / "report.html"
        build_s, peak_mb = racelab("report", str(folder), "--out", str(report))
        size = report.stat().st_size
        loads = asyncio.run(browser_loads(report.resolve().as_uri(), args.loads, Path(scratch) / "chromium"))
        load_ms = [x["load_ms"] for x in loads]
        figures.update(
            {
                "result": str(folder),
                "runs": summary["runs"],
                "invalid": summary["invalid"],
                "unknown": summary["unknown"],
                "runs_jsonl_mb": round(runs_bytes / 1e6, 1),
                "report_bytes": size,
                "report_mib": round(size / 1024 / 1024, 2),
                "build_s": round(build_s, 2),
                "build_peak_rss_mb": round(peak_mb),
                "load_ms_median": statistics.median(load_ms),
                "load_ms_max": max(load_ms),
                "dom_content_loaded_ms_median": statistics.median(x["dom_content_loaded_ms"] for x in loads),
                "frames_ms_median": statistics.median(x["frames_ms"] for x in loads),
                "console_errors": sorted({e for x in loads for e in x["errors"]}),
                "rows_drawn_at_load": loads[0]["rows_drawn"],
            }
        )

    print(f"result       {figures['result']}")
    print(
        f"runs         {figures['runs']} ({figures['invalid']} invalid, {figures['unknown']} unknown); "
        f"runs.jsonl {figures['runs_jsonl_mb']} MB"
    )
    if "run_s" in figures:
        print(f"real run     {figures['run_s']} s")
    print(f"build        racelab report: {figures['build_s']} s wall, peak RSS {figures['build_peak_rss_mb']} MB")
    ok_size = "OK" if size < TARGET_BYTES else "OVER"
    print(f"size         {size:,} bytes = {figures['report_mib']} MiB  (target < 5 MiB: {ok_size})")
    ok_load = "OK" if figures["load_ms_max"] < TARGET_LOAD_MS else "OVER"
    print(
        f"browser load median {figures['load_ms_median']:.0f} ms, max {figures['load_ms_max']:.0f} ms over "
        f"{len(loads)} loads (navigation start → load event end; target < 2 s: {ok_load}); "
        f"DOMContentLoaded {figures['dom_content_loaded_ms_median']:.0f} ms; two frames drawn after "
        f"{figures['frames_ms_median']:.0f} ms; {figures['rows_drawn_at_load']} rows drawn at load"
    )
    print(f"console errors: {figures['console_errors'] or 'none'}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
