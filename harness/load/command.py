"""`racelab load PROFILE [options] [locust options]`: a locust profile run headless as a child process, with thresholds.

Owns the command: its parser (racelab's options before or after PROFILE; the rest is locust's and passed on), the
defaults it adds to locust's arguments, the embedded simulator when no `--host` is given, the locust child with its
CSV and HTML reports in `results/<timestamp>-load-<profile>/`, a progress line read from locust's CSV history, and
the summary printed from the verdict the profile wrote (`summary.json`).

Imports: stdlib, `harness.errors`, `harness.resources`, `harness.load.options`, `harness.load.thresholds` and the
plan (`harness.load.plan`) at module level; `asyncio`, rich, `harness.drive.embedded` and `harness.output.folder`
only inside the handler. Never `locust` (it monkey-patches the process it runs in with gevent: locust is always a
child process here), nor `simulator`.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import re
import shlex
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, InvalidScenario
from harness.load.options import DEFAULT_SCENARIO, add_load_arguments, load_argv
from harness.load.plan import STRATEGIES, LoadPlan
from harness.load.thresholds import thresholds_from
from harness.resources import builtin_root

__all__ = ["add_command", "profile_scenario", "read_stats_csv", "split_load_argv"]

_ROOT = builtin_root()
"""Where racelab's own `scenarios/load/` is (the checkout, or the installed package's copy): the fallback of a
profile name, after the working directory."""

_PROFILES = Path("scenarios/load")


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `racelab load` to the CLI's subcommands; its handler returns the exit code (0 passed, 1 a threshold
    failed; bad input and errors raise, and the CLI maps them).

    Args:
        sub: the `racelab` parser's subcommands.
    """
    parser = sub.add_parser(
        "load",
        help="run a locust load profile against the race (scenarios/load/), with thresholds",
        description="Run a locust profile headless as a separate process: its users seed orders, fire the invoice "
        "and the Change at the scenario's offsets, wait for each order to settle and judge it with the harness's "
        "checkers; a violation is a locust failure with its explanation. Without --host (-H), the simulator is "
        "started with the scenario's profile and stopped after. CSV and HTML reports go to "
        "results/<timestamp>-load-<profile>/. Whatever follows PROFILE and is not racelab's is locust's and is "
        "passed on (-u, -r, -t, --master, --expect-workers, user class names such as WorkaroundUser, ...). "
        "Defaults added when not given: --headless -u 10 -r 10, and -t 30s without --iterations.",
        epilog="exit codes: 0 every threshold held · 1 a threshold failed · 2 bad input (profile, scenario, option) "
        "· 3 harness or locust error. Example: racelab load race -u 50 -t 1m --max-violations "
        "'naive=inf,workaround=0' --max-p95 'POST /api/orders/pvt/document/[id]/invoices=500'",
    )
    _own_arguments(parser)
    parser.add_argument("profile", metavar="PROFILE", help="a locustfile: a name in scenarios/load/ (race) or a path")
    parser.add_argument(
        "locust_args",
        nargs=argparse.REMAINDER,
        metavar="...",
        help="racelab's options above, and locust's options and user classes",
    )
    parser.set_defaults(handler=_handle, crash_folder=lambda args: Path(args.out))


def _own_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("results"), help="results root (default: results/)")
    parser.add_argument(
        "--sim-profile", metavar="NAME|FILE", help="embedded simulator profile instead of the scenario's (e.g. instant)"
    )
    add_load_arguments(parser, scenario=None, report=False)


def split_load_argv(args: argparse.Namespace) -> tuple[argparse.Namespace, list[str]]:
    """racelab's options among what followed PROFILE (they override the same options given before it), and the
    rest, which is locust's, in its order."""
    own = argparse.ArgumentParser(add_help=False, allow_abbrev=False)  # a prefix of a locust option stays locust's
    _own_arguments(own)
    namespace, rest = own.parse_known_args(list(args.locust_args or ()), namespace=argparse.Namespace(**vars(args)))
    return namespace, rest


def _locust_profile(name: str) -> Path:
    given = Path(name)
    candidates = [given] if given.suffix == ".py" else [given.with_suffix(".py"), _PROFILES / f"{name}.py"]
    candidates += [_ROOT / c for c in candidates if not c.is_absolute()]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    folders = (_PROFILES, _ROOT / _PROFILES)  # the project's own, then racelab's
    available = ", ".join(sorted({p.stem for folder in folders for p in folder.glob("[!_]*.py")})) or "none"
    raise InvalidScenario(f"no locust profile {name!r}: give a path or one of {available}")


def profile_scenario(profile: Path) -> str | None:
    """The scenario a profile chooses with `default_scenario("...")`, read from its source (importing a locustfile
    would monkey-patch this process with gevent)."""
    try:
        tree = ast.parse(profile.read_text(encoding="utf-8"), filename=str(profile))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr) == "default_scenario"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            return node.args[0].value
    return None


_RESERVED = {
    "--csv": "racelab load writes the CSV reports into its results folder itself (--csv); use --out to move it",
    "--html": "racelab load writes the HTML report into its results folder itself (--html); use --out to move it",
    "--racelab-report": "racelab load writes the verdict into its results folder itself (--racelab-report)",
    "--worker": "racelab load runs locust alone or as the master; start workers with plain locust: "
    "locust -f scenarios/load/race.py --worker --master-host HOST",
}


def _flag_given(argv: Sequence[str], *flags: str) -> bool:
    """Whether any of `flags` is in `argv`: `--name`, `--name=value`, `-x` or `-xvalue`."""
    return _option_value(argv, *flags) is not None or any(a in flags for a in argv)


def _run_seconds(value: str) -> float | None:
    """Locust's `-t` (`90`, `30s`, `1m30s`, `1h`) in seconds; None when it does not parse."""
    if re.fullmatch(r"\d+", value):
        return float(value)
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", value)
    if not match or not any(match.groups()):
        return None
    h, m, s = (int(g or 0) for g in match.groups())
    return float(h * 3600 + m * 60 + s)


def _option_value(argv: Sequence[str], *flags: str) -> str | None:
    for i, a in enumerate(argv):
        for f in flags:
            if a == f and i + 1 < len(argv):
                return argv[i + 1]
            if f.startswith("--") and a.startswith(f + "="):
                return a.split("=", 1)[1]
            if not f.startswith("--") and a.startswith(f) and len(a) > len(f):
                return a[len(f) :]
    return None


def _handle(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import asyncio

    options, extra = split_load_argv(args)
    return asyncio.run(_run(options, extra, list(argv)))


async def _run(args: argparse.Namespace, extra: list[str], argv: list[str]) -> int:
    from rich.console import Console
    from rich.markup import escape

    from harness.drive.embedded import open_embedded
    from harness.output.folder import open_result_dir

    for flag, message in _RESERVED.items():
        if _flag_given(extra, flag):
            raise InvalidScenario(message)
    profile = _locust_profile(args.profile)
    args.scenario = args.scenario or profile_scenario(profile) or DEFAULT_SCENARIO
    plan = LoadPlan.load(args.scenario, seed=args.seed)  # bad input is reported before anything starts
    thresholds_from(args, plan.scenario, integrations=STRATEGIES)
    console = Console() if sys.stdout.isatty() else Console(width=160)
    folder = open_result_dir(args.out, f"load-{profile.stem}", now=datetime.now())
    report = folder / "summary.json"
    args.racelab_report = str(report)
    locust_args = [
        "-f",
        str(profile),
        *extra,
        *load_argv(args),
        "--csv",
        str(folder / "locust"),
        "--html",
        str(folder / "report.html"),
    ]
    if not _flag_given(extra, "--headless", "--autostart"):
        locust_args.append("--headless")
    if not _flag_given(extra, "-u", "--users"):
        locust_args += ["--users", "10"]
    if not _flag_given(extra, "-r", "--spawn-rate"):
        locust_args += ["--spawn-rate", _option_value(extra, "-u", "--users") or "10"]
    if not _flag_given(extra, "-t", "--run-time") and not args.iterations:
        locust_args += ["--run-time", "30s"]
    run_s = _run_seconds(_option_value(locust_args, "-t", "--run-time") or "")
    command = ["racelab", *argv]
    console.print(
        escape(f"racelab load: {profile} · scenario {plan.scenario.name} · results {folder}"), highlight=False
    )
    if _flag_given(extra, "-H", "--host"):
        code = await _run_locust(locust_args, folder, console, run_s)
    else:
        sim_profile = args.sim_profile or plan.scenario.profile
        overrides = {**plan.scenario.simulator, "seed": args.seed}
        async with open_embedded(sim_profile, overrides=overrides) as url:
            console.print(f"embedded simulator {url} · profile {sim_profile}", highlight=False)
            code = await _run_locust([*locust_args, "--host", url], folder, console, run_s)
    return _summarise(console, folder, report, code, command)


async def _run_locust(locust_args: list[str], folder: Path, console: Any, run_s: float | None) -> int:
    import asyncio

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from harness.drive.embedded import stop_process

    log = folder / "locust.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "locust", *locust_args, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
        progress = Progress(
            TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console, transient=True
        )
        try:
            with progress:
                task = progress.add_task("locust starting", total=run_s)
                started = time.monotonic()
                while True:
                    try:
                        return await asyncio.wait_for(proc.wait(), 0.5)
                    except TimeoutError:
                        pass
                    progress.update(
                        task,
                        completed=time.monotonic() - started,
                        description=_progress_line(folder / "locust_stats_history.csv"),
                    )
        finally:
            await stop_process(proc, grace_s=30)  # interrupted: let locust write its reports, then make sure it is gone


def _progress_line(history: Path) -> str:
    try:
        with history.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return "locust starting"
    if not rows:
        return "locust starting"
    last = rows[-1]
    return (
        f"users {last.get('User Count', '?')} · {float(last.get('Requests/s') or 0):.0f} req/s · "
        f"{last.get('Total Request Count', '?')} requests · {last.get('Total Failure Count', '?')} failed"
    )


def read_stats_csv(path: Path) -> list[dict[str, str]]:
    """The rows of locust's `<prefix>_stats.csv` (the `Aggregated` row included)."""
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _summarise(console: Any, folder: Path, report: Path, locust_code: int, command: Sequence[str]) -> int:
    from rich.markup import escape
    from rich.table import Table

    if not report.is_file():
        log = (folder / "locust.log").read_text(errors="replace").strip().splitlines()[-15:]
        console.print("\n".join(log), highlight=False, markup=False)
        console.print(f"[red]locust ended (exit {locust_code}) without a verdict[/]; log: {folder / 'locust.log'}")
        if locust_code == 2:
            return 2
        raise HarnessError(f"locust ended (exit {locust_code}) without a verdict; see {folder / 'locust.log'}")
    verdict = json.loads(report.read_text())
    verdict["command"] = shlex.join(command)
    report.write_text(json.dumps(verdict, indent=2) + "\n")
    stats_path = folder / "locust_stats.csv"
    if stats_path.is_file():
        table = Table(title="requests", title_justify="left")
        for col in ("type", "name", "requests", "failures", "p50 ms", "p95 ms", "req/s"):
            table.add_column(col, justify="left" if col in ("type", "name") else "right")
        for row in read_stats_csv(stats_path):
            table.add_row(
                row["Type"],
                escape(row["Name"]),  # `[id]` is not markup
                row["Request Count"],
                row["Failure Count"],
                row["50%"],
                row["95%"],
                f"{float(row['Requests/s'] or 0):.1f}",
            )
        console.print(table)
    tally = verdict.get("tally") or {}
    races = Table(title=f"races · scenario {verdict.get('scenario')}", title_justify="left")
    for col in ("integration", "runs", "violations", "unknown", "by checker"):
        races.add_column(col, justify="left" if col in ("integration", "by checker") else "right")
    for name, runs in sorted((tally.get("runs") or {}).items()):
        by = ", ".join(f"{k} {v}" for k, v in sorted(((tally.get("violated") or {}).get(name) or {}).items()))
        races.add_row(
            name,
            str(runs),
            str((tally.get("invalid") or {}).get(name, 0)),
            str((tally.get("unknown") or {}).get(name, 0)),
            by,
        )
    console.print(races)
    for key, text in list((tally.get("examples") or {}).items())[:6]:
        console.print(f"  e.g. {key}: {escape(text)}", highlight=False)
    if (skew := verdict.get("skew_ms")) and skew.get("p99") is not None:
        console.print(
            f"send skew: p50 {skew['p50']:.1f} ms · p99 {skew['p99']:.1f} ms (how late the load generator "
            "fired the steps)",
            highlight=False,
        )
    for result in verdict.get("thresholds") or ():
        mark = "[green]PASS[/]" if result["passed"] else "[red]FAIL[/]"
        console.print(f"{mark} {escape(result['threshold'])}: {escape(result['reason'])}", highlight=False)
    console.print(
        escape(f"results: {folder} (report.html, locust_stats.csv, summary.json)  ·  again: {shlex.join(command)}"),
        highlight=False,
    )
    return 0 if verdict.get("passed") else 1
