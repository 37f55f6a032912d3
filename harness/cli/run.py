"""`racelab run`: run scenario files and judge them; the exit code gates CI.

Owns the command's parser, its option checks and the handler; the work is `harness.drive.suite.run_suite`, imported
when the command runs. Also `read_order_ids` (an `--orders-from` file: control-free runs, docs/real-platform.md)
and `strip_secrets` (the command line as it may be written: without credentials; the crash log uses it too).

Imports: stdlib, `harness.cli` (exit codes), `harness.errors`; inside the handler, asyncio,
rich, `harness.*` (virtual mode: `harness.virtual.universe`, handed to the suite).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.cli import EXIT_ERROR, EXIT_GATE_FAILED, EXIT_INTERRUPTED, EXIT_OK
from harness.errors import UsageError

__all__ = ["add_command"]

EXIT_TERMINATED = 143
"""128 + SIGTERM, as a shell reports a command stopped by `kill` (a CI job cancelled or timed out)."""


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser(
        "run",
        help="run scenarios and judge them (default: the whole scenarios/ suite)",
        description="Run scenario files against the simulator (embedded) or your services (external), judge every "
        "run with the scenario's invariants, write results/<timestamp>-<name>/ and decide the CI gates.",
        epilog="exit codes: 0 every gate passed on a complete sweep · 1 a gate failed · 2 bad input (scenario, "
        "option) · 3 harness or connection error (a crash leaves its traceback in the results root, "
        "racelab-crash-*.log) · 130 interrupted by SIGINT (Ctrl-C), 143 by SIGTERM: the runs that finished are in "
        "the result folder, and racelab run --resume DIR completes the sweep. "
        "Credentials may come from the environment: RACELAB_APP_KEY, RACELAB_APP_TOKEN, RACELAB_SUBSCRIPTION_KEY, "
        "RACELAB_CONTROL_TOKEN.",
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
    run.add_argument(
        "--integration",
        action="append",
        dest="integrations",
        metavar="NAME",
        help="run this integration instead of the scenario's (repeatable): naive, naive-retry, workaround, robust, "
        "hook-naive, hook-dedupe, module:Class, external:<hook URL>, external-feed:<name>, external-poll:<name>",
    )
    run.add_argument("--out", type=Path, default=Path("results"), help="results root (default: results/)")
    run.add_argument("--orders-url", help="external mode: base URL of the Orders API")
    run.add_argument("--accounting-url", help="external mode: base URL of the Accounting API (default: --orders-url)")
    run.add_argument("--control-url", help="external mode: where /_sim/ lives (default: --orders-url)")
    run.add_argument(
        "--orders-from",
        type=Path,
        metavar="FILE",
        help="external mode without the control API (a real platform's staging account): FILE lists the ids of "
        "existing test orders in ready-for-handling, one per line (blank lines and # comments ignored), one per run "
        "in plan order; racelab moves each to handling, races it, and reads and judges it through the public API "
        "only (nothing is sent to /_sim/; --max-rate limits every request). See docs/real-platform.md",
    )
    run.add_argument("--app-key", default=os.environ.get("RACELAB_APP_KEY"), help="X-VTEX-API-AppKey")
    run.add_argument("--app-token", default=os.environ.get("RACELAB_APP_TOKEN"), help="X-VTEX-API-AppToken")
    run.add_argument(
        "--subscription-key",
        default=os.environ.get("RACELAB_SUBSCRIPTION_KEY"),
        help="Accounting X-Subscription-Key",
    )
    run.add_argument("--control-token", default=os.environ.get("RACELAB_CONTROL_TOKEN"), help="X-Racelab-Token")
    run.add_argument("--concurrency", type=int, default=1000, help="runs in flight at once (default: 1000)")
    run.add_argument(
        "--max-rate",
        type=float,
        default=1500.0,
        help="requests/s the runner may send; run starts are paced to stay under it; with --orders-from, every "
        "request racelab sends also takes a token from one bucket of this rate (bursts of up to one second's worth) "
        "and a 429 to racelab's own request is retried after its Retry-After (default: 1500)",
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
    run.add_argument(
        "--settle-quiet",
        type=float,
        default=1.0,
        metavar="S",
        help="with --orders-from: seconds an order must stay unchanged, with no Change in progress, before its final "
        "state is read (longer than the platform's slowest follow-up step; default: 1)",
    )
    run.add_argument(
        "--start-lead",
        type=float,
        default=5.0,
        metavar="S",
        help="with --orders-from: seconds between moving the orders to handling and the first run, so that the "
        "platform's lagging reads see them in handling (else a Change may be refused as for an order not yet in "
        "handling; default: 5)",
    )
    run.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="complete the interrupted sweep of result folder DIR: run only the runs missing from its runs.jsonl "
        "(same seeds, same schedules), in DIR; the other options come from DIR (credentials from the options or the "
        "environment again); a control-free sweep also needs --orders-from with fresh orders: it never reuses one",
    )
    run.add_argument(
        "--grace",
        type=float,
        default=5.0,
        metavar="S",
        help="after the first Ctrl-C (SIGINT) or SIGTERM: seconds the runs in flight may take to finish; a second "
        "signal quits at once (default: 5)",
    )
    run.add_argument(
        "--compact",
        action="store_true",
        help="write compact runs.jsonl lines: the final order document cut to what the verdicts, the report and "
        "replay read (about half the bytes of a line)",
    )
    run.set_defaults(handler=_handle, crash_folder=_results_root)


def _results_root(args: argparse.Namespace) -> Path:
    # A crash before the run's own folder exists has only the root (or the folder being resumed).
    out: Path = args.resume if args.resume is not None else args.out
    return out


def _handle(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import asyncio  # here, not at the top: `racelab --help` and the other commands do without an event loop

    return asyncio.run(_run(args, argv))


async def _run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from rich.console import Console

    from harness.drive.runner import RunnerOptions
    from harness.drive.suite import SuiteOptions, run_suite
    from harness.drive.transport import Endpoints
    from harness.virtual import universe

    if args.orders_from is not None and args.control_url:  # as given: a resumed plan names the control URL
        raise UsageError("--orders-from runs without the control API: give no --control-url with it")
    if args.resume is not None:
        _resume_options(args)
    orders = _orders_option(args)
    endpoints = None
    if args.mode == "external":
        if not args.orders_url:
            raise UsageError("--mode external needs --orders-url (and --accounting-url if it differs)")
        _check_urls(args)
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
    if args.grace < 0:
        raise UsageError(f"--grace must not be negative, got {args.grace:g}")
    for name, value, low in (("--runs", args.runs, 1), ("--concurrency", args.concurrency, 1)):
        if value is not None and value < low:
            raise UsageError(f"{name} must be at least {low}, got {value}")
    if args.jobs is not None and (args.mode != "virtual" or args.jobs < 1):
        raise UsageError("--jobs needs --mode virtual and at least 1")
    if args.max_rate <= 0 or args.settle_timeout <= 0:
        raise UsageError("--max-rate and --settle-timeout must be positive")
    if args.settle_quiet <= 0:
        raise UsageError(f"--settle-quiet must be positive, got {args.settle_quiet:g}")
    if args.start_lead < 0:
        raise UsageError(f"--start-lead must be zero or positive, got {args.start_lead:g}")
    paths = list(args.paths)
    if args.resume is not None:
        pass  # the scenarios are the folder's own copies
    elif args.builtin:
        from harness.resources import builtin_scenarios

        paths.append(builtin_scenarios())
    elif not paths:
        if (why := _no_scenarios_here()) is not None:
            raise UsageError(why)
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
            concurrency=args.concurrency,
            max_rate=args.max_rate,
            settle_timeout_s=args.settle_timeout,
            start_lead_s=args.start_lead if orders is not None else 0.0,
        ),
        command=getattr(args, "plan_command", None) or ["racelab", *strip_secrets(argv)],
        jobs=args.jobs or universe.usable_cores(),
        virtual=universe if args.mode == "virtual" else None,
        grace_s=args.grace,
        resume=args.resume,
        compact=args.compact,
        orders=orders,
        orders_from=args.orders_from,
        quiet_s=args.settle_quiet,
    )
    # Not a terminal (CI, a pipe): rich would wrap at 80 columns; the table and verdicts read better wider.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    result = await run_suite(options, console)
    if result.interrupted is not None:
        return EXIT_INTERRUPTED if result.interrupted == "SIGINT" else EXIT_TERMINATED
    if result.errors and result.errors == result.summary.runs:
        return EXIT_ERROR
    return EXIT_OK if result.passed else EXIT_GATE_FAILED


SECRET_OPTIONS = ("--app-key", "--app-token", "--subscription-key", "--control-token")
"""Options whose value is a credential: never written (the command line goes into plan.json and summary.json)."""


def strip_secrets(argv: Sequence[str]) -> list[str]:
    """The command line without the credential options and their values (also when abbreviated, as argparse
    allows: `--app-t`). What is left still replays the run: the credentials come from the environment again
    (`RACELAB_APP_KEY`, ...).

        strip_secrets(["run", "--app-key", "k", "--app-token=t", "--seed", "3"])  # ["run", "--seed", "3"]
    """
    out: list[str] = []
    skip = False
    for arg in argv:
        name, eq, _ = arg.partition("=")
        if skip:
            skip = False
        elif _secret(name):
            skip = not eq
        else:
            out.append(arg)
    return out


def _secret(name: str) -> bool:
    # An abbreviation argparse accepted is unique, so a prefix of a credential option is that option.
    return name.startswith("--") and len(name) > 3 and any(option.startswith(name) for option in SECRET_OPTIONS)


_ORDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
"""What an order id may be: it goes into URL paths, so never `/`, `..`, `?`, `#`, `%` or a space."""


def read_order_ids(path: Path) -> list[str]:
    """The order ids of an `--orders-from` file: one per line; blank lines and `#` comments ignored.

    Raises:
        UsageError: the file cannot be read, a line is not an order id, or an id is listed twice (the message
            names the file and the line).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--orders-from {path}: cannot read it: {exc}") from None
    ids: list[str] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        order_id = line.split("#", 1)[0].strip()
        if not order_id:
            continue
        if not _ORDER_ID.fullmatch(order_id):
            raise UsageError(
                f"{path}:{number}: {order_id!r} is not an order id (one id per line: letters, digits, '.', '_', "
                "':' and '-', starting with a letter or a digit)"
            )
        if order_id in seen:
            raise UsageError(
                f"{path}:{number}: order {order_id} is listed twice (first on line {seen[order_id]}); each run needs "
                "an order of its own"
            )
        seen[order_id] = number
        ids.append(order_id)
    if not ids:
        raise UsageError(f"{path}: lists no order id (one per line; blank lines and # comments are ignored)")
    return ids


def _orders_option(args: argparse.Namespace) -> list[str] | None:
    """`--orders-from FILE`: its ids, after checking the options it goes with (before any request)."""
    if args.orders_from is None:
        return None
    if args.mode != "external":
        raise UsageError(
            f"--orders-from races existing orders of a platform: it needs --mode external --orders-url URL (not "
            f"--mode {args.mode})"
        )
    return read_order_ids(args.orders_from)


def _resume_options(args: argparse.Namespace) -> None:
    """`--resume DIR`: the options of the interrupted sweep, from DIR's plan (what it ran, and how)."""
    from harness.drive.suite import read_plan

    if args.paths or args.builtin:
        raise UsageError("--resume DIR runs the scenarios saved in DIR: give no PATH (nor --builtin) with it")
    folder: Path = args.resume
    plan = read_plan(folder)
    runner = plan.get("runner") or {}
    args.seed, args.runs, args.integrations = plan["seed"], plan.get("runs"), plan.get("integrations")
    args.mode, args.jobs = plan["mode"], plan.get("jobs")
    args.compact = bool(plan.get("compact", False))
    args.concurrency = runner.get("concurrency", args.concurrency)
    args.max_rate = runner.get("max_rate", args.max_rate)
    args.settle_timeout = runner.get("settle_timeout_s", args.settle_timeout)
    args.plan_command = plan.get("command")  # the summary says what was run, as an uninterrupted sweep's would
    free = plan.get("control_free")
    if free is not None:
        args.settle_quiet = free.get("quiet_s", args.settle_quiet)
        args.start_lead = free.get("start_lead_s", args.start_lead)
    urls = plan.get("urls") or {}
    if args.mode == "external":
        args.orders_url = args.orders_url or urls.get("orders")
        args.accounting_url = args.accounting_url or urls.get("accounting")
        args.control_url = args.control_url or urls.get("control")
    if args.mode != "virtual":
        args.jobs = None


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


def _check_urls(args: argparse.Namespace) -> None:
    """The service URLs are written (plan.json, summary.json, the replay hint): a URL must be an http(s) address
    that carries no credential."""
    from urllib.parse import urlsplit

    for option, url in (
        ("--orders-url", args.orders_url),
        ("--accounting-url", args.accounting_url),
        ("--control-url", args.control_url),
    ):
        if not url:
            continue
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"{option} {url}: expected an http:// or https:// URL, e.g. https://staging.example")
        if parts.username is not None or parts.password is not None:
            raise UsageError(
                f"{option}: a URL with a user or password in it is written to the result folder; give the "
                "credentials with --app-key/--app-token (or RACELAB_APP_KEY/RACELAB_APP_TOKEN) instead"
            )
