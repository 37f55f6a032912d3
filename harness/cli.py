"""The `racelab` command line.

Owns argument parsing and exit codes: 0 success / every gate passed, 1 a gate failed, 2 bad input (scenario,
profile, option), 3 a harness or connection error. The CLI (with the pytest plugin) is the only part of `harness`
that may import `simulator`, to start it embedded.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import os
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
_COMMAND_MODULES = ("harness.virtual_cli", "harness.report", "harness.load", "harness.bench")


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
        "paths", nargs="*", type=Path, metavar="PATH", help="scenario files or folders (default: scenarios/)"
    )
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
        help="profile name in scenarios/profiles/ or a path to a YAML file (default: default)",
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
    for module in _COMMAND_MODULES:
        importlib.import_module(module).add_command(sub)
    return parser


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

    from .client import Endpoints
    from .errors import InvalidScenario
    from .runner import RunnerOptions
    from .suite import SuiteOptions, run_suite
    from .virtual import usable_cores

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
    options = SuiteOptions(
        paths=args.paths or [Path("scenarios")],
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
    from .errors import HarnessConnectionError, HarnessError, InvalidScenario

    try:
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


if __name__ == "__main__":
    sys.exit(main())
