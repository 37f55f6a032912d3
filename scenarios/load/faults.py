"""Locust profile: faults on the invoice route under load; a blind retry double-invoices, the robust integration never.

    racelab load faults -u 20 -t 1m                   # scenarios/faults.yaml on the `faults` simulator profile
    locust -f scenarios/load/faults.py --headless -u 20 -r 20 -t 1m -H http://127.0.0.1:8080 \
        --max-violations 'naive-retry=inf,robust=0'

Runs `scenarios/faults.yaml` unless `--scenario` says otherwise: a third of the invoice requests meet a 5xx, a
connection reset or a timeout (half of them after the invoice was committed). `NaiveRetryUser` invoices again with a
new document after any unknown outcome and invoices some orders twice (no-over-invoice breaks); `RobustUser` reads
the order before resending its own invoice number and must never. See docs/load.md.
"""

from _racelab import NaiveRetryUser, RobustUser, default_scenario

default_scenario("scenarios/faults.yaml")

__all__ = ["NaiveRetryUser", "RobustUser"]
