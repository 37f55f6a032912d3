"""`racelab proxy`: the shaping reverse proxy in front of real services, and `proxy judge`.

General layout:

    server.py    `open_proxy()`: forwarding to the one upstream, the rules applied, stopping cleanly
    rules.py     the rules file (YAML, validated as scenarios are), matching, the actions and their seeded draws
    record.py    `DIR/exchanges.jsonl`: the exchange record, its writer and reader, and redaction
    judge.py     `racelab proxy judge` (the final state of every order seen, judged)

Imports: see docs/architecture.md (`harness/proxy/` row); never `simulator` but its contract.

    async with open_proxy("http://127.0.0.1:8080", out=Path("out")) as proxy:
        ...  # call proxy.url instead of the upstream
"""

from harness.proxy.record import EXCHANGES, Exchange, ExchangeLog, Redactor, read_exchanges
from harness.proxy.rules import RuleSet, load_rules, parse_rules
from harness.proxy.server import Proxy, open_proxy

__all__ = [
    "EXCHANGES",
    "Exchange",
    "ExchangeLog",
    "Proxy",
    "Redactor",
    "RuleSet",
    "load_rules",
    "open_proxy",
    "parse_rules",
    "read_exchanges",
]
