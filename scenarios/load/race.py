"""Locust profile: the invoice-vs-Change race under load, one user class per integration strategy.

    locust -f scenarios/load/race.py --headless -u 30 -r 30 -t 1m -H http://127.0.0.1:8080 \
        --scenario scenarios/over-invoice.yaml --max-violations 'naive=inf,workaround=0'
    racelab load race -u 30 -t 1m                     # the same, with the simulator started for you

Every user runs the scenario over and over, each run on an order of its own: it seeds the order, fires the invoice and
the Change at the scenario's offsets, waits for the order to settle and judges it with the harness's checkers. A
violation is a locust failure of type RACE named after the integration, with the checker's explanation. Pick the
integrations by class name (`... WorkaroundUser RobustUser`); all three run by default, in equal numbers.

racelab's options (`--scenario`, `--iterations`, `--max-violations`, `--max-fail-ratio`, `--max-p95`, ...) are listed
by `racelab load --help` (locust's own --help does not show them); docs/load.md explains them, and how to run
distributed.
"""

from _racelab import NaiveUser, RobustUser, WorkaroundUser

__all__ = ["NaiveUser", "RobustUser", "WorkaroundUser"]
