"""Delay distributions and seeded random streams: the arithmetic of the commit-point timing model.

Owns: the distribution models a profile names (`fixed`, `uniform`, `normal`, `lognormal`, `exponential`,
`pareto`, `empirical`), their parsing from YAML/JSON shorthand, and `RngStreams`, which hands out one
`random.Random` per (seed, key, operation, phase) so that the draws made for one order never depend on what
happened to another.

Imports: stdlib and pydantic only (no asyncio, no aiohttp).
"""

from __future__ import annotations

import math
import random
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

__all__ = [
    "Delay",
    "Empirical",
    "Exponential",
    "Fixed",
    "LogNormal",
    "Normal",
    "Pareto",
    "RngStreams",
    "Uniform",
    "parse_duration_ms",
]

_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s)?\s*$")
_MAX_MS = 3_600_000.0  # one hour: nothing in a race scenario should wait longer


def parse_duration_ms(value: object) -> float:
    """Turn `20`, `20.5`, `"20ms"` or `"1.5s"` into milliseconds.

    Raises:
        ValueError: for anything else, with a message that shows the accepted forms.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 20, '20ms' or '1.5s', got {value!r}")
    if isinstance(value, int | float):
        ms = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        ms = float(m.group(1)) * (1000.0 if m.group(2) == "s" else 1.0)
    else:
        raise ValueError(f"expected a duration such as 20, '20ms' or '1.5s', got {value!r}")
    if not 0.0 <= ms <= _MAX_MS:
        raise ValueError(f"a duration must lie between 0 and {_MAX_MS:.0f} ms, got {ms:g} ms")
    return ms


Ms = Annotated[float, BeforeValidator(parse_duration_ms)]


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @property
    def is_zero(self) -> bool:
        """True when every draw is 0 ms, so the hot path can skip the RNG and the sleep entirely."""
        return False

    def draw_ms(self, rng: random.Random) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


class Fixed(_Dist):
    """Always the same delay. `{kind: fixed, ms: 20}`, or simply `20` / `"20ms"`."""

    kind: Literal["fixed"] = "fixed"
    ms: Ms = 0.0

    @property
    def is_zero(self) -> bool:
        return self.ms == 0.0

    def draw_ms(self, rng: random.Random) -> float:
        return self.ms


class Uniform(_Dist):
    """`{kind: uniform, min_ms: 50, max_ms: 1000}`."""

    kind: Literal["uniform"]
    min_ms: Ms
    max_ms: Ms

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.max_ms < self.min_ms:
            raise ValueError(f"max_ms ({self.max_ms:g}) must not be below min_ms ({self.min_ms:g})")
        return self

    @property
    def is_zero(self) -> bool:
        return self.max_ms == 0.0

    def draw_ms(self, rng: random.Random) -> float:
        return rng.uniform(self.min_ms, self.max_ms)


class Normal(_Dist):
    """Truncated normal: `{kind: normal, mean_ms: 100, sd_ms: 20, min_ms: 0, max_ms: 500}`."""

    kind: Literal["normal"]
    mean_ms: Ms
    sd_ms: Ms
    min_ms: Ms = 0.0
    max_ms: Ms | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Normal:
        if self.max_ms is not None and self.max_ms < self.min_ms:
            raise ValueError(f"max_ms ({self.max_ms:g}) must not be below min_ms ({self.min_ms:g})")
        return self

    def draw_ms(self, rng: random.Random) -> float:
        hi = self.max_ms if self.max_ms is not None else math.inf
        # Rejection sampling keeps the shape of the truncated normal; the bound on tries keeps a badly
        # chosen window (mean far outside it) from spinning, at the price of clamping in that rare case.
        for _ in range(32):
            x = rng.gauss(self.mean_ms, self.sd_ms)
            if self.min_ms <= x <= hi:
                return x
        return min(max(self.mean_ms, self.min_ms), hi)


class LogNormal(_Dist):
    """Heavy right tail, typical of replication lag: `{kind: lognormal, median_ms: 250, sigma: 1.0, cap_ms: 4000}`."""

    kind: Literal["lognormal"]
    median_ms: Ms = Field(gt=0)
    sigma: float = Field(ge=0, le=5)
    cap_ms: Ms | None = None

    def draw_ms(self, rng: random.Random) -> float:
        x = rng.lognormvariate(math.log(self.median_ms), self.sigma)
        return x if self.cap_ms is None else min(x, self.cap_ms)


class Exponential(_Dist):
    """`{kind: exponential, mean_ms: 100, cap_ms: 2000}`."""

    kind: Literal["exponential"]
    mean_ms: Ms = Field(gt=0)
    cap_ms: Ms | None = None

    def draw_ms(self, rng: random.Random) -> float:
        x = rng.expovariate(1.0 / self.mean_ms)
        return x if self.cap_ms is None else min(x, self.cap_ms)


class Pareto(_Dist):
    """A long tail above a floor: `{kind: pareto, scale_ms: 20, alpha: 1.5, cap_ms: 5000}`."""

    kind: Literal["pareto"]
    scale_ms: Ms = Field(gt=0)
    alpha: float = Field(gt=0, le=100)
    cap_ms: Ms | None = None

    def draw_ms(self, rng: random.Random) -> float:
        try:
            x = self.scale_ms * rng.paretovariate(self.alpha)
        except OverflowError:  # a very small alpha has a tail beyond floats: the cap (or the maximum) applies
            x = math.inf
        return min(x, self.cap_ms if self.cap_ms is not None else _MAX_MS)


class Empirical(_Dist):
    """Draws uniformly from measured values: `{kind: empirical, values_ms: [12, 15, 40, 300]}`."""

    kind: Literal["empirical"]
    values_ms: list[Ms] = Field(min_length=1, max_length=100_000)

    @property
    def is_zero(self) -> bool:
        return all(v == 0.0 for v in self.values_ms)

    def draw_ms(self, rng: random.Random) -> float:
        return self.values_ms[rng.randrange(len(self.values_ms))]


def _shorthand(value: Any) -> Any:
    """A bare number or duration string means a fixed delay."""
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        return {"kind": "fixed", "ms": value}
    if isinstance(value, dict) and "kind" not in value and set(value) == {"ms"}:
        return {"kind": "fixed", **value}
    return value


Delay = Annotated[
    Fixed | Uniform | Normal | LogNormal | Exponential | Pareto | Empirical,
    BeforeValidator(_shorthand),
    Field(discriminator="kind"),
]
"""Any delay distribution; what profiles and `PATCH /_sim/config` accept."""


class RngStreams:
    """One independent, reproducible `random.Random` per (seed, key, operation, phase).

    Streams are created on first use and kept per key (an order id) so they can be dropped with the order.

        streams = RngStreams(seed=7)
        lag_ms = profile_delay.draw_ms(streams.get("ORD-1", "change", "read_lag"))
    """

    __slots__ = ("_by_key", "seed")

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._by_key: dict[str, dict[tuple[str, str], random.Random]] = {}

    def get(self, key: str, op: str, phase: str) -> random.Random:
        streams = self._by_key.get(key)
        if streams is None:
            streams = self._by_key[key] = {}
        rng = streams.get((op, phase))
        if rng is None:
            # A string seed is hashed with SHA-512 by `random`, so streams are stable across processes
            # and independent of PYTHONHASHSEED.
            rng = streams[(op, phase)] = random.Random(f"{self.seed}|{key}|{op}|{phase}")
        return rng

    def drop(self, key: str) -> None:
        self._by_key.pop(key, None)

    def reset(self, seed: int) -> None:
        self.seed = seed
        self._by_key.clear()
