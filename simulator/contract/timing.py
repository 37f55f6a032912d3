"""Durations and delay distributions, as both the simulator's profiles and the harness's scenarios write them.

Owns: `parse_duration_ms` (`20`, `"20ms"`, `"1.5s"` → milliseconds, between 0 and one hour) and `Ms`, its pydantic
field type; the distribution models (`Fixed`, `Uniform`, `Normal`, `LogNormal`, `Exponential`, `Pareto`,
`Empirical`), each with the one `draw_ms(rng)` that both sides draw with; `Delay`, the field type that accepts any of
them or a bare duration (a fixed delay). The simulator draws a phase's delay with them; the harness draws a step's
`at` with them, so a scenario and a profile that say the same thing draw the same numbers from the same seed.

    delay = Uniform(kind="uniform", min_ms=50, max_ms=1000)
    delay.draw_ms(random.Random(7))

Imports: stdlib and pydantic only (part of the contract both the simulator and the harness import).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

__all__ = [
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
]

MAX_DURATION_MS = 3_600_000.0
"""One hour: the longest duration racelab accepts, and the cap of a tail no `cap_ms` bounds. Nothing in a race
scenario should wait longer, and a draw of `inf` would break a schedule."""

_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s)?\s*$")


class DurationError(ValueError):
    """A value that is not a duration racelab accepts.

        parse_duration_ms("fast")      # DurationError: expected a duration such as 20, '20ms' or '1.5s', got 'fast'

    `ms` is the number of milliseconds the value spells when only its range is wrong (`-5`, `"2000s"`), and None
    when it is not a duration at all, so a caller can word its own message.
    """

    def __init__(self, message: str, *, value: object, ms: float | None) -> None:
        super().__init__(message)
        self.value = value
        self.ms = ms


def parse_duration_ms(value: object) -> float:
    """Turn `20`, `20.5`, `"20ms"` or `"1.5s"` into milliseconds.

    Args:
        value: A number (milliseconds) or a string of a number with an optional unit, `ms` or `s`.

    Returns:
        The duration in milliseconds, from 0 to `MAX_DURATION_MS`.

    Raises:
        DurationError: for anything else (a `ValueError`), with a message that shows the accepted forms or range.
    """
    if isinstance(value, bool):
        raise DurationError(f"expected a duration such as 20, '20ms' or '1.5s', got {value!r}", value=value, ms=None)
    if isinstance(value, int | float):
        ms = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        ms = float(m.group(1)) * (1000.0 if m.group(2) == "s" else 1.0)
    else:
        raise DurationError(f"expected a duration such as 20, '20ms' or '1.5s', got {value!r}", value=value, ms=None)
    if not 0.0 <= ms <= MAX_DURATION_MS:  # also refuses NaN, which compares false with everything
        raise DurationError(
            f"a duration must lie between 0 and {MAX_DURATION_MS:.0f} ms, got {ms:g} ms", value=value, ms=ms
        )
    return ms


class BoundsError(ValueError):
    """An upper bound below its lower bound: `max_ms (1) must not be below min_ms (5)`.

    `field` and `value` are the upper bound's name and milliseconds, `lower` and `lower_value` the lower bound's, so
    that a caller can point at the field and word its own message (pydantic keeps the exception in the error's
    context, `ctx["error"]`).
    """

    def __init__(self, *, field: str, value: float, lower: str, lower_value: float) -> None:
        super().__init__(f"{field} ({value:g}) must not be below {lower} ({lower_value:g})")
        self.field = field
        self.value = value
        self.lower = lower
        self.lower_value = lower_value


Ms = Annotated[float, BeforeValidator(parse_duration_ms)]
"""A duration field: accepts what `parse_duration_ms` accepts, holds milliseconds."""


class Distribution(BaseModel):
    """What every delay model is: validated once, immutable, and drawn from a caller's `random.Random`.

        Fixed(ms=20).draw_ms(random.Random(1))   # 20.0

    The draw consumes the stream exactly as the model's `random` method does, so that two callers holding streams
    with the same seed draw the same values.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str

    @property
    def is_zero(self) -> bool:
        """True when every draw is 0 ms, so a hot path can skip the RNG and the sleep entirely."""
        return False

    def draw_ms(self, rng: random.Random) -> float:  # pragma: no cover - abstract
        """One delay in milliseconds, drawn from `rng`."""
        raise NotImplementedError


class Fixed(Distribution):
    """Always the same delay. `{kind: fixed, ms: 20}`, or simply `20` / `"20ms"`."""

    kind: Literal["fixed"] = "fixed"
    ms: Ms = 0.0

    @property
    def is_zero(self) -> bool:
        return self.ms == 0.0

    def draw_ms(self, rng: random.Random) -> float:
        return self.ms


class Uniform(Distribution):
    """`{kind: uniform, min_ms: 50, max_ms: 1000}`."""

    kind: Literal["uniform"]
    min_ms: Ms
    max_ms: Ms

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.max_ms < self.min_ms:
            raise BoundsError(field="max_ms", value=self.max_ms, lower="min_ms", lower_value=self.min_ms)
        return self

    @property
    def is_zero(self) -> bool:
        return self.max_ms == 0.0

    def draw_ms(self, rng: random.Random) -> float:
        return rng.uniform(self.min_ms, self.max_ms)


class Normal(Distribution):
    """Truncated normal: `{kind: normal, mean_ms: 100, sd_ms: 20, min_ms: 0, max_ms: 500}`."""

    kind: Literal["normal"]
    mean_ms: Ms
    sd_ms: Ms
    min_ms: Ms = 0.0
    max_ms: Ms | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Normal:
        if self.max_ms is not None and self.max_ms < self.min_ms:
            raise BoundsError(field="max_ms", value=self.max_ms, lower="min_ms", lower_value=self.min_ms)
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


class LogNormal(Distribution):
    """Heavy right tail, typical of replication lag: `{kind: lognormal, median_ms: 250, sigma: 1.0, cap_ms: 4000}`."""

    kind: Literal["lognormal"]
    median_ms: Ms = Field(gt=0)
    sigma: float = Field(ge=0, le=5)
    cap_ms: Ms | None = None

    def draw_ms(self, rng: random.Random) -> float:
        x = rng.lognormvariate(math.log(self.median_ms), self.sigma)
        return x if self.cap_ms is None else min(x, self.cap_ms)


class Exponential(Distribution):
    """`{kind: exponential, mean_ms: 100, cap_ms: 2000}`."""

    kind: Literal["exponential"]
    mean_ms: Ms = Field(gt=0)
    cap_ms: Ms | None = None

    def draw_ms(self, rng: random.Random) -> float:
        x = rng.expovariate(1.0 / self.mean_ms)
        return x if self.cap_ms is None else min(x, self.cap_ms)


class Pareto(Distribution):
    """A long tail above a floor: `{kind: pareto, scale_ms: 20, alpha: 1.5, cap_ms: 5000}`.

    Without `cap_ms` a draw is held to `MAX_DURATION_MS`: a small alpha's tail reaches past any float.
    """

    kind: Literal["pareto"]
    scale_ms: Ms = Field(gt=0)
    alpha: float = Field(gt=0, le=100)
    cap_ms: Ms | None = None

    def draw_ms(self, rng: random.Random) -> float:
        try:
            x = self.scale_ms * rng.paretovariate(self.alpha)
        except (OverflowError, ZeroDivisionError):  # a tiny alpha: the tail is beyond any float
            x = math.inf
        return min(x, self.cap_ms if self.cap_ms is not None else MAX_DURATION_MS)


class Empirical(Distribution):
    """Draws uniformly from measured values: `{kind: empirical, values_ms: [12, 15, 40, 300]}`."""

    kind: Literal["empirical"]
    values_ms: list[Ms] = Field(min_length=1, max_length=100_000)

    @property
    def is_zero(self) -> bool:
        return all(v == 0.0 for v in self.values_ms)

    def draw_ms(self, rng: random.Random) -> float:
        return self.values_ms[rng.randrange(len(self.values_ms))]


DISTRIBUTIONS: Mapping[str, type[Distribution]] = MappingProxyType(
    {
        "fixed": Fixed,
        "uniform": Uniform,
        "normal": Normal,
        "lognormal": LogNormal,
        "exponential": Exponential,
        "pareto": Pareto,
        "empirical": Empirical,
    }
)
"""Each distribution model by its `kind`, in the order the documentation lists them."""


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
"""Any delay distribution, or a bare duration meaning a fixed one; what profiles and `PATCH /_sim/config` accept."""
