"""The `racelab` command line.

Owns argument parsing and exit codes: 0 success / every gate passed, 1 a gate failed, 2 bad input (scenario,
profile, option), 3 a harness or connection error. The CLI (with the pytest plugin) is the only part of `harness`
that may import `simulator`, to start it embedded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import importlib.metadata
import json
import os
import re
import shlex
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

EXIT_OK, EXIT_GATE_FAILED, EXIT_BAD_INPUT, EXIT_ERROR = 0, 1, 2, 3

__all__ = ["EXIT_BAD_INPUT", "EXIT_ERROR", "EXIT_GATE_FAILED", "EXIT_OK", "main"]

# Commands that live in their own module. Each module has `add_command(sub)`, which adds its parser and sets
# `handler=<function(args, argv) -> exit code>`; the module must import its heavy dependencies (matplotlib, locust,
# the simulator) inside the handler, so that `racelab --help` and `racelab run` stay fast. Exceptions map to exit codes
# here, as for `run` and `serve`.
_COMMAND_MODULES = ("harness.cli.virtual", "harness.output.report", "harness.load", "harness.bench")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="racelab",
        description="Reproduce, measure and regression-test the race between an order Change and an invoice.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run scenarios and judge them (default: the whole scenarios/ suite)",
        description="Run scenario files against the simulator (embedded) or your services (external), judge every "
        "run with the scenario's invariants, write results/<timestamp>-<name>/ and decide the CI gates.",
        epilog="exit codes: 0 every gate passed · 1 a gate failed · 2 bad input (scenario, option) · "
        "3 harness or connection error. Credentials may come from the environment: RACELAB_APP_KEY, "
        "RACELAB_APP_TOKEN, RACELAB_SUBSCRIPTION_KEY, RACELAB_CONTROL_TOKEN.",
    )
    run.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="scenario files or folders, or builtin:NAME for one of racelab's own (default: scenarios/)",
    )
    run.add_argument("--builtin", action="store_true", help="run racelab's built-in suite (as well as any PATH)")
    run.add_argument(
        "--mode",
        choices=["embedded", "external", "virtual"],
        default="embedded",
        help="embedded: start the simulator for each scenario, real time (default); external: use --orders-url; "
        "virtual: each run in-process on a virtual clock, exact and replayable, much faster than real time",
    )
    run.add_argument("--seed", type=int, default=1, help="seed for schedules and the simulator (default: 1)")
    run.add_argument("--runs", type=int, help="repetitions per point of each sweep, instead of the scenario's")
    run.add_argument("--integration", action="append", dest="integrations", metavar="NAME",
                     help="run this integration instead of the scenario's (repeatable): naive, naive-retry, "
                     "workaround, robust, hook-naive, hook-dedupe, module:Class, external:<hook URL>, "
                     "external-feed:<name>, external-poll:<name>")  # fmt: skip
    run.add_argument("--out", type=Path, default=Path("results"), help="results root (default: results/)")
    run.add_argument("--orders-url", help="external mode: base URL of the Orders API")
    run.add_argument("--accounting-url", help="external mode: base URL of the Accounting API (default: --orders-url)")
    run.add_argument("--control-url", help="external mode: where /_sim/ lives (default: --orders-url)")
    run.add_argument("--app-key", default=os.environ.get("RACELAB_APP_KEY"), help="X-VTEX-API-AppKey")
    run.add_argument("--app-token", default=os.environ.get("RACELAB_APP_TOKEN"), help="X-VTEX-API-AppToken")
    run.add_argument("--subscription-key", default=os.environ.get("RACELAB_SUBSCRIPTION_KEY"),
                     help="Accounting X-Subscription-Key")  # fmt: skip
    run.add_argument("--control-token", default=os.environ.get("RACELAB_CONTROL_TOKEN"), help="X-Racelab-Token")
    run.add_argument("--concurrency", type=int, default=1000, help="runs in flight at once (default: 1000)")
    run.add_argument(
        "--max-rate",
        type=float,
        default=1500.0,
        help="requests/s the runner may send; run starts are paced to stay under it (default: 1500)",
    )
    run.add_argument(
        "--jobs",
        type=int,
        help="virtual mode: worker processes (default: the usable cores); results do not depend on it",
    )
    run.add_argument(
        "--settle-timeout",
        type=float,
        default=30.0,
        help="seconds to wait for an order's pending work before judging it unknown (default: 30)",
    )
    serve = sub.add_parser(
        "serve",
        help="run the simulator (Orders API, control API under /_sim/, /openapi.json)",
        description="Run the mock Orders service with its commit-point timing model until interrupted.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, loopback only)")
    serve.add_argument("--port", type=int, default=8080, help="port (default: 8080; 0 picks a free one)")
    serve.add_argument(
        "--profile",
        default="default",
        help="a profile name (./scenarios/profiles/, then racelab's own; --list-profiles shows them) or a path to a "
        "YAML file (default: default)",
    )
    serve.add_argument(
        "--list-profiles", action="store_true", help="list every profile a name reaches and where it comes from"
    )
    serve.add_argument("--seed", type=int, help="override the profile's seed")
    serve.add_argument(
        "--consistency", choices=["snapshot", "serializable"], help="override the profile's consistency mode"
    )
    serve.add_argument(
        "--overrides",
        metavar="JSON",
        help='settings merged over the profile, as JSON, e.g. \'{"orders": {"change": {"read_lag": 300}}}\'',
    )
    init = sub.add_parser(
        "init",
        help="write a starter project: a scenario, a profile, a pytest race test and a CI workflow",
        description="Write a starter project into DIR: scenarios/ with one annotated scenario and one annotated "
        "profile, tests/test_race.py (a race test using racelab's pytest plugin) and .github/workflows/racelab.yml "
        "(GitHub Actions: the race tests and the scenario gates, junit.xml and report.html kept as artifacts). "
        "Existing files are never overwritten: if any is there, nothing is written and the command exits 2.",
        epilog="exit codes: 0 written · 2 a file exists already, or a bad option. Then: cd DIR && pytest && "
        "racelab run",
    )
    init.add_argument("dir", nargs="?", type=Path, default=Path("."), metavar="DIR", help="default: the current one")
    init.add_argument(
        "--requirement",
        metavar="SPEC",
        help="how the CI workflow installs racelab, e.g. 'racelab[pytest] @ git+https://host/racelab.git' "
        "(default: the git URL racelab was installed from, else racelab[pytest]==<this version>)",
    )
    for module in _COMMAND_MODULES:
        importlib.import_module(module).add_command(sub)
    return parser


# Commands that need an optional extra: command → (the module it imports, the extra that installs it).
_EXTRAS = {"explore": ("hypothesis", "explore"), "load": ("locust", "load")}


def _missing_extra(command: str) -> str | None:
    """What to tell the user when `command` needs an extra that is not installed; None when it is (or needs none)."""
    import importlib.util

    if command not in _EXTRAS:
        return None
    module, extra = _EXTRAS[command]
    if importlib.util.find_spec(module) is not None:
        return None
    needs = [module]
    marker = re.compile(rf"""extra\s*==\s*["']{extra}["']""")
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        needs = [r.split(";")[0].strip() for r in importlib.metadata.requires("racelab") or ()
                 if marker.search(r)] or needs  # fmt: skip
    alone = " ".join(f"'{n}'" for n in needs)
    return (
        f"racelab {command} needs {module}, which is not installed here ({sys.executable}). Install racelab's "
        f"`{extra}` extra:\n    pip install 'racelab[{extra}]'\n"
        f"or, the same, the package alone: pip install {alone} (uv: uv pip install {alone})"
    )


def _list_profiles() -> int:
    from simulator.config import known_profiles

    seen: dict[str, str] = {}
    rows = []
    for p in known_profiles():
        note = f"shadowed by the {seen[p.name]} one" if p.name in seen else ""
        seen.setdefault(p.name, p.origin)
        rows.append((p.name, p.origin, str(p.path), note))
    if not rows:
        print("no profiles found", file=sys.stderr)
        return EXIT_ERROR
    width = max(len(r[0]) for r in rows)
    origin_width = max(len(r[1]) for r in rows)
    print(f"{'profile':<{width}}  {'from':<{origin_width}}  file")
    for name, origin, path, note in rows:
        print(f"{name:<{width}}  {origin:<{origin_width}}  {path}{'  (' + note + ')' if note else ''}")
    return EXIT_OK


# The starter project: template in harness/starter/ → where `racelab init` writes it.
_STARTER = {
    "scenario.yaml": "scenarios/invoice-vs-change.yaml",
    "profile.yaml": "scenarios/profiles/race.yaml",
    "test_race.py": "tests/test_race.py",
    "workflow.yml": ".github/workflows/racelab.yml",
}


_PYTEST_CONFIGS = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
"""Where a project may already configure pytest: `racelab init` writes its pytest.ini only where none of them is."""


def _requirement() -> str:
    """How CI installs racelab: the git URL this racelab came from (PEP 610's direct_url.json), else nothing (the
    workflow then stops and says to set it). Never a bare name: on PyPI, `racelab` is another project."""
    try:
        dist = importlib.metadata.distribution("racelab")
    except importlib.metadata.PackageNotFoundError:
        return ""
    with contextlib.suppress(TypeError, ValueError):
        origin = json.loads(dist.read_text("direct_url.json") or "null")
        vcs = origin.get("vcs_info") if isinstance(origin, dict) else None
        if isinstance(vcs, dict) and vcs.get("vcs") == "git":
            return f"racelab[pytest] @ git+{origin['url']}@{vcs.get('commit_id', '')}".rstrip("@")
    return ""


def _init(args: argparse.Namespace) -> int:
    from harness.resources import starter_dir

    target: Path = args.dir
    if target.exists() and not target.is_dir():
        print(f"racelab init: {target} is a file; give a folder (it may not exist yet)", file=sys.stderr)
        return EXIT_BAD_INPUT
    existing = [dest for dest in _STARTER.values() if (target / dest).exists()]
    if existing:
        print(f"racelab init: these files exist already in {target}; nothing was written: {', '.join(existing)}",
              file=sys.stderr)  # fmt: skip
        return EXIT_BAD_INPUT
    requirement = args.requirement or _requirement()
    starter = dict(_STARTER)
    if not any((target / name).exists() for name in _PYTEST_CONFIGS):  # never beside a configuration of the project
        starter["pytest.ini"] = "pytest.ini"
    for template, dest in starter.items():
        text = (starter_dir() / template).read_text(encoding="utf-8")
        (target / dest).parent.mkdir(parents=True, exist_ok=True)
        (target / dest).write_text(text.replace("{racelab_requirement}", requirement), encoding="utf-8")
    print(f"racelab init: wrote a starter project in {target}:")
    for dest in starter.values():
        print(f"  {dest}")
    cd = "" if target.resolve() == Path.cwd().resolve() else f"cd {shlex.quote(str(target))} && "
    if requirement:
        ci = (
            f"CI installs {requirement!r}; change RACELAB in .github/workflows/racelab.yml if it gets racelab elsewhere"
        )
    else:
        ci = ("set RACELAB in .github/workflows/racelab.yml to where CI gets racelab (a git URL or a wheel in this "
              "repository; on PyPI, racelab is another project), or give racelab init --requirement")  # fmt: skip
    print(f"next: {cd}pytest && racelab run   ({ci})")
    return EXIT_OK


def _no_scenarios_here() -> str | None:
    """Why `racelab run` without a PATH has nothing to run here, and what to do; None when ./scenarios has some."""
    from harness.resources import builtin_scenario_names
    from harness.scenarios import find_scenarios

    folder = Path("scenarios")
    if folder.is_dir() and find_scenarios([folder]):
        return None
    why = "has no scenario files" if folder.is_dir() else "does not exist"
    return (
        f"no scenarios to run: {Path.cwd() / folder} {why}.\n"
        "  start a project here:          racelab init   (a scenario, a profile, a pytest race test, a CI workflow)\n"
        "  run racelab's built-in suite:  racelab run --builtin   (one of it: racelab run builtin:over-invoice)\n"
        f"  built-in scenarios: {', '.join(builtin_scenario_names())}"
    )


async def _serve(args: argparse.Namespace) -> int:
    from simulator import ConfigError, load_profile, open_server

    overrides: dict[str, object] = {}
    if args.overrides:
        try:
            loaded = json.loads(args.overrides)
        except ValueError as exc:
            raise ConfigError(f"--overrides: not valid JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError("--overrides: expected a JSON object")
        overrides.update(loaded)
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.consistency:
        overrides["consistency"] = args.consistency
    config = load_profile(args.profile, overrides=overrides)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_server(config, host=args.host, port=args.port) as (_, url):
        # On a server holding many order versions a full collection took 40-180 ms, and every delay due meanwhile
        # came late. What the server holds at start is never scanned again, and full collections run 10 times less
        # often than by default. Not never: cyclic garbage that reached the oldest generation must still be freed
        # in a long soak.
        gc.collect()
        gc.freeze()
        gc.set_threshold(700, 10, 100)
        print(f"racelab simulator listening on {url}", flush=True)
        print(f"  profile {args.profile} · consistency {config.consistency.value} · seed {config.seed}", flush=True)
        print(f"  API description: {url}/openapi.json · control API: {url}/_sim/health", flush=True)
        print("  Ctrl-C to stop", flush=True)
        await stop.wait()
    return EXIT_OK


async def _run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from rich.console import Console

    from harness.drive.client import Endpoints
    from harness.drive.runner import RunnerOptions
    from harness.drive.suite import SuiteOptions, run_suite
    from harness.errors import InvalidScenario
    from harness.virtual.universe import usable_cores

    endpoints = None
    if args.mode == "external":
        if not args.orders_url:
            raise InvalidScenario("--mode external needs --orders-url (and --accounting-url if it differs)")
        orders_headers = {}
        if args.app_key or args.app_token:
            orders_headers = {"X-VTEX-API-AppKey": args.app_key or "", "X-VTEX-API-AppToken": args.app_token or ""}
        endpoints = Endpoints(
            orders=args.orders_url.rstrip("/"),
            accounting=(args.accounting_url or args.orders_url).rstrip("/"),
            control=(args.control_url or args.orders_url).rstrip("/"),
            orders_headers=orders_headers,
            accounting_headers={"X-Subscription-Key": args.subscription_key} if args.subscription_key else {},
            control_headers={"X-Racelab-Token": args.control_token} if args.control_token else {},
        )
    for name, value, low in (("--runs", args.runs, 1), ("--concurrency", args.concurrency, 1)):
        if value is not None and value < low:
            raise InvalidScenario(f"{name} must be at least {low}, got {value}")
    if args.jobs is not None and (args.mode != "virtual" or args.jobs < 1):
        raise InvalidScenario("--jobs needs --mode virtual and at least 1")
    if args.max_rate <= 0 or args.settle_timeout <= 0:
        raise InvalidScenario("--max-rate and --settle-timeout must be positive")
    paths = list(args.paths)
    if args.builtin:
        from harness.resources import builtin_scenarios

        paths.append(builtin_scenarios())
    elif not paths:
        if (why := _no_scenarios_here()) is not None:
            raise InvalidScenario(why)
        paths = [Path("scenarios")]
    options = SuiteOptions(
        paths=paths,
        mode=args.mode,
        seed=args.seed,
        runs=args.runs,
        integrations=args.integrations,
        out=args.out,
        endpoints=endpoints,
        runner=RunnerOptions(
            concurrency=args.concurrency, max_rate=args.max_rate, settle_timeout_s=args.settle_timeout
        ),
        command=["racelab", *argv],
        jobs=args.jobs or usable_cores(),
    )
    # Not a terminal (CI, a pipe): rich would wrap at 80 columns; the table and verdicts read better wider.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    result = await run_suite(options, console)
    if result.errors and result.errors == result.summary["runs"]:
        return EXIT_ERROR
    return EXIT_OK if result.passed else EXIT_GATE_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return EXIT_BAD_INPUT
    # simulator.ConfigError is a ValueError: the first clause below catches it. Not importing `simulator` here
    # saves ~1 s on every command that does not run it in-process.
    from harness.errors import HarnessConnectionError, HarnessError, InvalidScenario

    if (missing := _missing_extra(args.command)) is not None:
        print(f"racelab: {missing}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        if isinstance(getattr(args, "scenario", None), Path):  # explore's SCENARIO may be builtin:NAME too
            from harness.resources import resolve_scenario_ref

            args.scenario = resolve_scenario_ref(args.scenario)
        if args.command == "init":
            return _init(args)
        if args.command == "serve" and args.list_profiles:
            return _list_profiles()
        if args.command == "serve":
            return asyncio.run(_serve(args))
        if args.command == "run":
            return asyncio.run(_run(args, argv))
        handler: Callable[[argparse.Namespace, Sequence[str]], int] = args.handler
        return handler(args, argv)
    except (InvalidScenario, ValueError) as exc:
        print(f"racelab: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (HarnessConnectionError, HarnessError) as exc:
        print(f"racelab: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        doing = "cannot serve" if args.command == "serve" else "connection error"
        print(f"racelab: {doing}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_BAD_INPUT
