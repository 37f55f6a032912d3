"""The `racelab` command line.

Owns argument parsing and exit codes: 0 success / every gate passed, 1 a gate failed, 2 bad input (scenario,
profile, option), 3 a harness or connection error. The CLI (with the pytest plugin) is the only part of `harness`
that may import `simulator`, to start it embedded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence

EXIT_OK, EXIT_GATE_FAILED, EXIT_BAD_INPUT, EXIT_ERROR = 0, 1, 2, 3

__all__ = ["EXIT_BAD_INPUT", "EXIT_ERROR", "EXIT_GATE_FAILED", "EXIT_OK", "main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="racelab",
        description="Reproduce, measure and regression-test the race between an order Change and an invoice.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
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
        print(f"racelab simulator listening on {url}", flush=True)
        print(f"  profile {args.profile} · consistency {config.consistency.value} · seed {config.seed}", flush=True)
        print(f"  API description: {url}/openapi.json · control API: {url}/_sim/health", flush=True)
        print("  Ctrl-C to stop", flush=True)
        await stop.wait()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return EXIT_BAD_INPUT
    from simulator import ConfigError

    try:
        if args.command == "serve":
            return asyncio.run(_serve(args))
    except ConfigError as exc:
        print(f"racelab: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"racelab: cannot serve: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
