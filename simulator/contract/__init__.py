"""racelab's contract: what both the simulator and the harness speak, kept in one place so the two cannot drift.

General layout (each module stands alone):

    timing.py     durations (`20`, `"20ms"`, `"1.5s"`) and the delay distributions, each with its one `draw_ms`
    statuses.py   the order statuses of the Orders API
    headers.py    the header names racelab adds: the control marker and the control token
    money.py      cents and currency units, rounding, the VAT inside a gross price
    operations.py the API's operations by method and path template, named as /openapi.json names them (kebab
                  case), with the path parameter that holds the order id (the proxy's rules and record)

The contract is pure: it imports the standard library and pydantic, never aiohttp or asyncio, and nothing else of
racelab (not the rest of `simulator`, not `harness`). So the harness's pure modules, the scenario loader and the
locust processes import it without loading the server: it is the one part of the simulator they may import
(`docs/architecture.md`, which `tests/unit/test_layers.py` reads).

    from simulator.contract import Delay, ORDER_STATUSES, parse_duration_ms
    parse_duration_ms("1.5s")   # 1500.0
"""

from typing import TYPE_CHECKING, Any

from .headers import CONTROL_HEADER, CONTROL_TOKEN_HEADER
from .money import CENT, from_cents, money_json, round2, vat_per_unit
from .statuses import ORDER_STATUSES

if TYPE_CHECKING:
    from .timing import (
        DISTRIBUTIONS,
        MAX_DURATION_MS,
        BoundsError,
        Delay,
        Distribution,
        DurationError,
        Empirical,
        Exponential,
        Fixed,
        LogNormal,
        Ms,
        Normal,
        Pareto,
        Uniform,
        parse_duration_ms,
    )

_TIMING = frozenset(
    {
        "DISTRIBUTIONS",
        "MAX_DURATION_MS",
        "BoundsError",
        "Delay",
        "Distribution",
        "DurationError",
        "Empirical",
        "Exponential",
        "Fixed",
        "LogNormal",
        "Ms",
        "Normal",
        "Pareto",
        "Uniform",
        "parse_duration_ms",
    }
)
"""The names of `timing` (pydantic), loaded on first use: the blocking driver in the locust process needs only the
header names and money, and `racelab --help` stays fast."""

__all__ = [
    "CENT",
    "CONTROL_HEADER",
    "CONTROL_TOKEN_HEADER",
    "DISTRIBUTIONS",
    "MAX_DURATION_MS",
    "ORDER_STATUSES",
    "BoundsError",
    "Delay",
    "Distribution",
    "DurationError",
    "Empirical",
    "Exponential",
    "Fixed",
    "LogNormal",
    "Ms",
    "Normal",
    "Pareto",
    "Uniform",
    "from_cents",
    "money_json",
    "parse_duration_ms",
    "round2",
    "vat_per_unit",
]


def __getattr__(name: str) -> Any:
    if name in _TIMING:
        from . import timing

        return getattr(timing, name)
    raise AttributeError(f"module 'simulator.contract' has no attribute {name!r}")
