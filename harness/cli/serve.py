"""`racelab serve`: the simulator as a server until interrupted, and `--list-profiles`; with `--no-control` and
`--orders FILE`, a stand-in for the real platform (no `/_sim/` route, the orders of FILE held from the start).

Owns the command's parser and handler. Imports: stdlib, `harness.cli` (exit codes), `harness.errors`; inside the
handler, asyncio and `simulator`'s public face (so that `racelab --help` loads neither).
"""

from __future__ import annotations

import argparse
import gc
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.cli import EXIT_ERROR, EXIT_OK
from harness.errors import HarnessError

__all__ = ["add_command"]


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser(
        "serve",
        help="run the simulator (Orders API, control API under /_sim/, /openapi.json), or with --no-control a "
        "stand-in for the real platform",
        description="Run the mock Orders service with its commit-point timing model until interrupted. With "
        "--no-control and --orders FILE it stands in for the real platform: only the public Orders and Accounting "
        "APIs answer, and the orders of FILE exist from the start.",
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
    serve.add_argument(
        "--no-gc",
        action="store_true",
        help="never pause to collect cyclic garbage (what `racelab run`'s embedded simulator does for the length of "
        "a sweep: no collection pause delays a response; memory then grows with what only the collector frees)",
    )
    serve.add_argument(
        "--no-control",
        action="store_true",
        help="serve no control API: every /_sim/ path answers 404 as an unknown path does, /openapi.json lists "
        "none, and no racelab header (X-Racelab-Token, X-Racelab-Control) changes an answer; a stand-in for the "
        "real platform, reached through its public API only",
    )
    serve.add_argument(
        "--orders",
        metavar="FILE",
        type=Path,
        help="hold these orders from the start: JSON lines, each a body POST /_sim/orders takes (e.g. "
        '{"orderId": "o-1", "status": "ready-for-handling", "items": [{"id": "sku-1", "price": 4990, "quantity": '
        "1}]}); empty lines are skipped; a line that does not validate, or an orderId given twice, exits 2 naming "
        "FILE:LINE and the field",
    )
    serve.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import asyncio  # here, not at the top: `racelab --help` and the other commands do without an event loop

    try:
        return _list_profiles() if args.list_profiles else asyncio.run(_serve(args))
    except OSError as exc:  # the address is taken, a profile file cannot be read: said as such, not as a connection
        raise HarnessError(f"cannot serve: {exc}") from exc


def _list_profiles() -> int:
    from simulator import known_profiles

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


async def _serve(args: argparse.Namespace) -> int:
    import asyncio

    from simulator import ConfigError, load_profile, open_server

    overrides: dict[str, object] = {}
    if args.overrides:
        try:
            loaded = json.loads(args.overrides)
        except ValueError as exc:  # the user's JSON: their mistake, said as the simulator says a bad profile
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
    control = not args.no_control
    orders = args.orders if args.orders is not None else ()
    async with open_server(config, host=args.host, port=args.port, control=control, orders=orders) as (_, url):
        # On a server holding many order versions a full collection took 40-180 ms, and every delay due meanwhile
        # came late. What the server holds at start is never scanned again, and full collections run 10 times less
        # often than by default. Not never: cyclic garbage that reached the oldest generation must still be freed
        # in a long soak.
        # With --no-gc (a sweep's embedded simulator, which lives as long as the sweep) it never collects:
        # second-generation collections of 5-20 ms still came in a 20,000-run sweep with the thresholds below.
        gc.collect()
        gc.freeze()
        gc.set_threshold(700, 10, 100)
        if args.no_gc:
            gc.disable()
        print(f"racelab simulator listening on {url}", flush=True)
        print(f"  profile {args.profile} · consistency {config.consistency.value} · seed {config.seed}", flush=True)
        held = f" · {_count(args.orders)} orders from {args.orders}" if args.orders is not None else ""
        apis = f"control API: {url}/_sim/health" if control else "no control API (/_sim/ answers 404)"
        print(f"  API description: {url}/openapi.json · {apis}{held}", flush=True)
        print("  Ctrl-C to stop", flush=True)
        await stop.wait()
    return EXIT_OK


def _count(orders_file: Path) -> int:
    """The orders FILE holds (its non-empty lines: every one was seeded, or the server would not have started)."""
    return sum(1 for line in orders_file.read_text(encoding="utf-8").splitlines() if line.strip())
