"""`racelab proxy`: the shaping reverse proxy until interrupted, and `racelab proxy judge`.

Owns the parsers of both and the proxy's handler (`judge`'s handler is `harness.proxy.judge.judge_command`). The
proxy prints its ready line (`racelab proxy listening on URL`), serves until SIGINT or SIGTERM, then stops
accepting, lets the exchanges in flight finish (a few seconds; holds are cut), writes everything and exits 130
(SIGINT) or 143 (SIGTERM).

Imports: stdlib, `harness.cli` (exit codes), `harness.errors`; inside the handlers, asyncio and `harness.proxy`
(so that `racelab --help` loads neither).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.errors import UsageError

__all__ = ["add_command", "parse_listen"]

_EPILOG = (
    "exit codes: 130 stopped by SIGINT (Ctrl-C), 143 by SIGTERM, every exchange written; 2 bad input (an option, "
    "the rules file: file, line and field are named); 3 the address cannot be listened on. Credentials "
    "(X-VTEX-API-AppKey/AppToken, VtexIdclientAutCookie, Authorization, cookies, X-Subscription-Key) and every "
    "--secret are written as [redacted]; so are RACELAB_APP_KEY and RACELAB_APP_TOKEN when set."
)
_JUDGE_EPILOG = (
    "exit codes: 0 no violation, 1 violations, 2 bad input (no or invalid exchanges file, an option), 3 the upstream "
    "cannot be reached."
)


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    proxy = sub.add_parser(
        "proxy",
        help="a shaping reverse proxy in front of the real platform: forwards, records, delays, holds, faults",
        description="Forward every request to --upstream unchanged, record every exchange (its four times, "
        "credentials redacted) in OUT/exchanges.jsonl, and shape the race by --rules (delay, hold_until, fault). "
        "Call it instead of the platform. `racelab proxy judge OUT --upstream URL` then judges every order seen.",
        epilog=_EPILOG,
    )
    proxy.add_argument("--upstream", metavar="URL", help="the platform's base URL (http or https); required")
    proxy.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="where to listen, e.g. 127.0.0.1:8081 (port 0: any free one; stay on loopback unless you must not)",
    )
    proxy.add_argument("--rules", type=Path, metavar="FILE", help="a YAML rules file (rules: [...])")
    proxy.add_argument("--out", type=Path, metavar="DIR", help="the folder of exchanges.jsonl (new); required")
    proxy.add_argument(
        "--upstream-ca", type=Path, metavar="FILE", help="a PEM file of the private CA that signed the upstream"
    )
    proxy.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="VALUE",
        help="a value never to write, wherever it appears (repeatable; at least 4 characters)",
    )
    proxy.add_argument("--seed", type=int, default=1, help="seeds the rules' draws (default: 1)")
    proxy.set_defaults(handler=_handle, crash_folder=_crash_folder)
    actions = proxy.add_subparsers(dest="proxy_command", metavar="judge")
    judge = actions.add_parser(
        "judge",
        help="judge every order the proxy saw, from its final state on the upstream",
        description="For every order in DIR/exchanges.jsonl, read its final state through the upstream's public "
        "API and judge it; write summary.json, runs.jsonl, junit.xml and report.html.",
        epilog=_JUDGE_EPILOG,
    )
    judge.add_argument("dir", type=Path, metavar="DIR", help="the proxy's --out folder")
    judge.add_argument("--upstream", metavar="URL", required=True, help="the platform's base URL")
    judge.add_argument("--out", type=Path, metavar="DIR", help="where to write the results (default: DIR)")
    judge.add_argument("--app-key", metavar="KEY", help="X-VTEX-API-AppKey (default: $RACELAB_APP_KEY)")
    judge.add_argument("--app-token", metavar="TOKEN", help="X-VTEX-API-AppToken (default: $RACELAB_APP_TOKEN)")
    judge.add_argument(
        "--settle-timeout", type=float, metavar="S", help="longest wait for an order to settle, in seconds"
    )
    judge.add_argument("--max-rate", type=float, metavar="N", help="at most N requests a second to the upstream")
    judge.set_defaults(handler=_handle_judge, crash_folder=_crash_folder)


def _crash_folder(args: argparse.Namespace) -> Path:
    folder = getattr(args, "out", None) or getattr(args, "dir", None)
    return Path(folder) if folder is not None else Path("results")


def _handle_judge(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from harness.proxy.judge import judge_command

    return judge_command(args)  # it falls back on RACELAB_APP_KEY / RACELAB_APP_TOKEN


def parse_listen(value: str) -> tuple[str, int]:
    """`127.0.0.1:8081`, `[::1]:0`, `localhost:8081` -> (host, port).

    Raises:
        UsageError: not HOST:PORT with a port from 0 to 65535.
    """
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([^:\[\]\s]+):(\d{1,5})", value.strip())
    if m is None:
        raise UsageError(f"--listen {value}: expected HOST:PORT, e.g. 127.0.0.1:8081")
    host = m.group(1) or m.group(3)
    port = int(m.group(2) or m.group(4))
    if port > 65535:
        raise UsageError(f"--listen {value}: the port must be from 0 to 65535")
    return host, port


def _handle(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import asyncio

    missing = [f"--{name}" for name in ("upstream", "listen", "out") if getattr(args, name) is None]
    if missing:
        raise UsageError(
            f"racelab proxy needs {', '.join(missing)}, e.g. racelab proxy --upstream https://staging.example "
            "--listen 127.0.0.1:8081 --out results/proxy"
        )
    from harness.proxy.record import MIN_SECRET

    host, port = parse_listen(args.listen)
    secrets = list(args.secret)
    for name in ("RACELAB_APP_KEY", "RACELAB_APP_TOKEN"):
        value = os.environ.get(name)
        if value and len(value) >= MIN_SECRET:
            secrets.append(value)
    return asyncio.run(_serve(args, host, port, secrets))


async def _serve(args: argparse.Namespace, host: str, port: int, secrets: list[str]) -> int:
    import asyncio

    from harness.proxy.rules import load_rules, rule_summary
    from harness.proxy.server import is_loopback, open_proxy

    rules = load_rules(args.rules) if args.rules is not None else None
    stop = asyncio.Event()
    received: list[signal.Signals] = []
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        received.append(sig)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    if not is_loopback(host):
        print(
            f"racelab proxy: listening on {host}, not loopback: anyone who reaches it can call the upstream "
            "with the credentials they send",
            file=sys.stderr,
            flush=True,
        )
    async with open_proxy(
        args.upstream,
        out=args.out,
        host=host,
        port=port,
        rules=rules,
        upstream_ca=args.upstream_ca,
        secrets=secrets,
        seed=args.seed,
    ) as proxy:
        print(f"racelab proxy listening on {proxy.url}", flush=True)
        print(f"  upstream {proxy.upstream} · record {proxy.record} · seed {args.seed}", flush=True)
        for rule in rule_summary(rules.rules if rules is not None else ()):
            print(f"  rule {rule['index']}: {rule['match'] or 'every exchange'} -> {rule['action']}", flush=True)
        print("  Ctrl-C to stop", flush=True)
        await stop.wait()
        sig = received[0]
        print(f"racelab proxy: {sig.name}: stopping (exchanges in flight finish or are cut)", flush=True)
    print(f"racelab proxy: {proxy.exchanges} exchanges written to {proxy.record}", flush=True)
    for s in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(s)
    return 128 + int(sig)
