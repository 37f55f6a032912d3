"""`racelab load PROFILE [options] [locust options]`: a locust profile run headless as a child process, with thresholds.

Owns the command: its parser (racelab's options before or after PROFILE; the rest is locust's and passed on), the
defaults it adds to locust's arguments, the embedded simulator when no `--host` is given, the locust child with its
CSV and HTML reports in `results/<timestamp>-load-<profile>/`, a progress line read from locust's CSV history, the
summary printed from the verdict the profile wrote (`summary.json`), and interruptions: the first SIGINT or SIGTERM
stops locust as its own Ctrl-C does (it writes its CSVs, its HTML report and the verdict on its way out; killed after
`LOCUST_GRACE_S`), the summary is marked `interrupted` and never passes, and the command exits 130 (SIGINT) or 143
(SIGTERM); a second signal kills locust and the simulator and exits at once.

Imports: stdlib, `harness.errors`, `harness.resources`, `harness.load.options`, `harness.load.thresholds` and the
plan (`harness.load.plan`) at module level; `asyncio`, rich, `harness.drive.embedded` and `harness.output.folder`
only inside the handler. Never `locust` (it monkey-patches the process it runs in with gevent: locust is always a
child process here), nor `simulator`.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import csv
import json
import os
import re
import shlex
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, InvalidScenario
from harness.load.options import DEFAULT_SCENARIO, add_load_arguments, load_argv
from harness.load.plan import STRATEGIES, LoadPlan
from harness.load.thresholds import thresholds_from
from harness.resources import builtin_root

__all__ = ["LOCUST_GRACE_S", "add_command", "profile_scenario", "read_stats_csv", "split_load_argv"]

_ROOT = builtin_root()
"""Where racelab's own `scenarios/load/` is (the checkout, or the installed package's copy): the fallback of a
profile name, after the working directory."""

_PROFILES = Path("scenarios/load")

LOCUST_GRACE_S = 30.0
"""After the first signal: how long locust may take to write its reports and quit before its process group is
killed (it waits a second for its last CSV write, then renders report.html)."""


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
        "· 3 harness or locust error · 130 interrupted by SIGINT (Ctrl-C), 143 by SIGTERM: locust was stopped, its "
        "reports and the verdict so far are in the results folder (a second signal quits at once). Example: "
        "racelab load race -u 50 -t 1m --max-violations 'naive=inf,workaround=0' "
        "--max-p95 'POST /api/orders/pvt/document/[id]/invoices=500'",
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


@dataclass(slots=True)
class _Interrupt:
    """The first SIGINT or SIGTERM, and the locust child it stops: locust gets a SIGINT (its own Ctrl-C, after which
    it writes its CSVs, report.html and the verdict; a SIGTERM would skip the HTML report) and `LOCUST_GRACE_S` to
    quit, then its process group is killed. A second signal kills locust's group and the simulator and exits at once.
    """

    console: Any
    folder: Path
    signal: str | None = None
    locust: Any = None
    """The locust child (`asyncio.subprocess.Process`) once it runs; it leads a process group of its own."""
    started: float | None = None
    after_s: float | None = None
    """Seconds of load before the signal (None: it came before locust started)."""

    @property
    def exit_code(self) -> int:
        assert self.signal is not None
        return 128 + int(signal.Signals[self.signal])

    def attach(self, proc: Any) -> None:
        """Locust is running (a signal that came while it was being started stops it now)."""
        self.locust, self.started = proc, time.monotonic()
        if self.signal is not None:
            self.after_s = 0.0
            self._stop_locust()

    def on_signal(self, name: str) -> None:
        from rich.markup import escape

        if self.signal is not None:
            self._quit_at_once(name)
        self.signal = name
        if self.locust is None:
            self.console.print(f"racelab: {name}: stopping before locust starts", highlight=False)
            return
        self.after_s = time.monotonic() - (self.started or time.monotonic())
        self.console.print(
            escape(
                f"racelab: {name}: stopping locust; it writes its reports into {self.folder} (up to "
                f"{LOCUST_GRACE_S:g} s; again to quit at once)"
            ),
            highlight=False,
        )
        self._stop_locust()

    def _stop_locust(self) -> None:
        import asyncio

        proc = self.locust
        if proc is None or proc.returncode is not None:
            return
        try:
            proc.send_signal(signal.SIGINT)
        except ProcessLookupError:
            return
        asyncio.get_running_loop().call_later(LOCUST_GRACE_S, self._kill_locust)

    def _kill_locust(self) -> None:
        proc = self.locust
        if proc is not None and proc.returncode is None:  # not reaped yet: its pid is still its group's id
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

    def _quit_at_once(self, name: str) -> None:
        from harness.drive.embedded import kill_children

        self._kill_locust()
        kill_children()  # the embedded simulator
        print(
            f"racelab: second {name}: locust and the simulator killed; what locust wrote so far is in {self.folder}",
            file=sys.stderr,
            flush=True,
        )
        sys.stdout.flush()
        os._exit(128 + int(signal.Signals[name]))


async def _run(args: argparse.Namespace, extra: list[str], argv: list[str]) -> int:
    from rich.console import Console
    from rich.markup import escape

    from harness.drive.embedded import on_signals, open_embedded
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
    interrupt = _Interrupt(console=console, folder=folder)
    with on_signals(interrupt.on_signal):
        if _flag_given(extra, "-H", "--host"):
            code = await _run_locust(locust_args, folder, console, run_s, interrupt)
        else:
            sim_profile = args.sim_profile or plan.scenario.profile
            overrides = {**plan.scenario.simulator, "seed": args.seed}
            async with open_embedded(sim_profile, overrides=overrides) as url:
                console.print(f"embedded simulator {url} · profile {sim_profile}", highlight=False)
                code = await _run_locust([*locust_args, "--host", url], folder, console, run_s, interrupt)
    return _summarise(console, folder, report, code, command, interrupt, scenario=plan.scenario.name)


async def _run_locust(
    locust_args: list[str], folder: Path, console: Any, run_s: float | None, interrupt: _Interrupt
) -> int | None:
    """Run locust to its end (or until the interruption stops it); its exit code, None if it never started."""
    import asyncio

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from harness.drive.embedded import stop_process

    if interrupt.signal is not None:
        return None
    log = folder / "locust.log"
    with log.open("wb") as out:
        # A session of its own: Ctrl-C in a terminal reaches racelab only, which stops locust once (a second SIGINT
        # would cut locust's report writing short) and can kill locust's group (its --processes children too).
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "locust",
            *locust_args,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        interrupt.attach(proc)
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
                    description = _progress_line(folder / "locust_stats_history.csv")
                    if interrupt.signal is not None:
                        description = f"stopping locust ({interrupt.signal}) · {description}"
                    progress.update(task, completed=time.monotonic() - started, description=description)
        finally:
            # An error here: let locust write its reports, then make sure it is gone.
            await stop_process(proc, grace_s=30)


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


def _summarise(
    console: Any,
    folder: Path,
    report: Path,
    locust_code: int | None,
    command: Sequence[str],
    interrupt: _Interrupt,
    *,
    scenario: str,
) -> int:
    from rich.markup import escape
    from rich.table import Table

    if not report.is_file():
        if locust_code is not None:
            log = (folder / "locust.log").read_text(errors="replace").strip().splitlines()[-15:]
            console.print("\n".join(log), highlight=False, markup=False)
        if interrupt.signal is not None:
            _write_json(report, _interrupted({"passed": False, "scenario": scenario}, interrupt, locust_code, command))
            said = "before locust started" if locust_code is None else f"and locust ended (exit {locust_code})"
            console.print(
                escape(f"racelab: interrupted by {interrupt.signal} {said} without a verdict; results: {folder}"),
                highlight=False,
            )
            return interrupt.exit_code
        console.print(f"[red]locust ended (exit {locust_code}) without a verdict[/]; log: {folder / 'locust.log'}")
        if locust_code == 2:
            return 2
        raise HarnessError(f"locust ended (exit {locust_code}) without a verdict; see {folder / 'locust.log'}")
    verdict = json.loads(report.read_text())
    if interrupt.signal is not None:
        verdict = _interrupted(verdict, interrupt, locust_code, command)
    else:
        verdict["command"] = shlex.join(command)
    _write_json(report, verdict)
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
        if not result["passed"]:
            mark = "[red]FAIL[/]"
        else:
            mark = "[yellow]HELD SO FAR[/]" if result.get("partial") else "[green]PASS[/]"
        console.print(f"{mark} {escape(result['threshold'])}: {escape(result['reason'])}", highlight=False)
    if interrupt.signal is not None:
        after = "" if interrupt.after_s is None else f" after {interrupt.after_s:.0f} s of load"
        console.print(
            f"[yellow]INTERRUPTED[/] by {interrupt.signal}{after}: locust was stopped; the thresholds above judge "
            "the runs so far, and an interrupted load test never passes",
            highlight=False,
        )
    console.print(
        escape(f"results: {folder} (report.html, locust_stats.csv, summary.json)  ·  again: {shlex.join(command)}"),
        highlight=False,
    )
    if interrupt.signal is not None:
        return interrupt.exit_code
    return 0 if verdict.get("passed") else 1


def _interrupted(
    verdict: dict[str, Any], interrupt: _Interrupt, locust_code: int | None, command: Sequence[str]
) -> dict[str, Any]:
    """The verdict of an interrupted load test: never passed; a threshold that held is marked `partial` (it held
    for the runs so far, which decides nothing), one that failed still failed. The keys of an uninterrupted verdict
    keep their order; `interrupted` comes before `command`."""
    thresholds = [
        {**result, "partial": True} if result.get("passed") else result for result in verdict.get("thresholds") or ()
    ]
    marked = {**verdict, "passed": False}
    if "thresholds" in verdict:
        marked["thresholds"] = thresholds
    marked["interrupted"] = {
        "signal": interrupt.signal,
        "after_s": None if interrupt.after_s is None else round(interrupt.after_s, 1),
        "locust_exit": locust_code,
    }
    marked["command"] = shlex.join(command)
    return marked


def _write_json(path: Path, value: dict[str, Any]) -> None:
    from harness.output.folder import write_json

    write_json(path, value)
