"""Scenario files, the ones QA edits: loading, validation with errors that say where and what, and expansion.

Owns: the scenario format (DESIGN §4.2), validated with pydantic at the edge and turned into plain records
(`Scenario`, `StepSpec`, `Sweep`, `Gate`); `load_scenario()` for `*.yaml`/`*.yml` files and `*.py` scripts;
`find_scenarios()` for a suite; `expand()`, which turns a scenario into its matrix of `RunSpec`s.

    name: over-invoice
    profile: default                 # simulator profile (name, or path relative to this file), `simulator:` overrides
    order: {items: [{id: sku-1, price: 4990, quantity: 2}], shipping: 1000, status: handling}
    integrations: [naive, workaround]
    steps:
      - {at: 0ms, do: invoice}
      - {at: {from: 50ms, to: 1000ms, step: 50ms}, do: change, remove: [{id: sku-1, quantity: 1}]}
    runs: 20
    expect: [no-over-invoice]
    gate: {naive: {reproduces: true}, workaround: {violations: 0}}

An `at` is a duration (`0`, `250ms`, `1.5s`; a number is ms), a sweep `{from, to, step}` (one matrix cell per
point; several sweeps multiply), or a distribution `{kind: uniform|normal|lognormal|exponential|pareto|empirical|
fixed, ...}` with the simulator's field names, drawn once per repetition from a stream seeded by (seed, scenario,
cell, repetition, step), so every integration of an A/B comparison gets the same schedule.

Every mistake raises `InvalidScenario` naming the file, the line, the field and what was expected, e.g.
`scenarios/over-invoice.yaml:7: steps[1].at.step: must be greater than 0 (got 0ms)`. Lines come from the YAML node
tree (`yaml.compose`), or from the `SCENARIO = {...}` literal of a Python script (`ast`); data is read with
`yaml.safe_load` only, and scripts are imported from their path, never `eval`-ed.

Imports: stdlib, pydantic, yaml, `harness.model`, `harness.errors`. Never `simulator` (the harness reaches it only over
HTTP): the duration parsing and the distributions below re-implement `simulator.timing`'s, draw for draw.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import importlib.util
import inspect
import itertools
import json
import math
import random
import re
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from harness.errors import InvalidScenario, Problem
from harness.model.records import RunSpec, Step

__all__ = [
    "ACTIONS",
    "ACTION_ARGS",
    "CHECKER_NAMES",
    "INTEGRATIONS",
    "MAX_POINTS",
    "MAX_RUNS",
    "MAX_RUNS_PER_INTEGRATION",
    "Distribution",
    "Gate",
    "Handler",
    "Scenario",
    "StepSpec",
    "Sweep",
    "expand",
    "find_scenarios",
    "load_scenario",
]

CHECKER_NAMES = (
    "no-over-invoice",
    "invoiced-when-fully-invoiced",
    "no-lost-invoice",
    "finished-means-applied",
    "change-respects-invoices",
    "accounting-matches-orders",
    "update-invoice-rules",
)
"""The invariants a scenario may `expect` (DESIGN §4.3)."""

ACTION_ARGS: dict[str, frozenset[str]] = {
    "invoice": frozenset({"value"}),
    "change": frozenset({"remove", "add", "replace", "manualDiscountValue", "manualIncrementValue", "reason"}),
    "change-v1": frozenset({"itemsRemoved", "itemsAdded", "discountValue", "incrementValue", "reason", "requestId"}),
    "cancel": frozenset({"reason"}),
    "register-invoice": frozenset(),
    "update-invoice": frozenset({"raise"}),
}
"""What each built-in action may say besides `at` and `do` (a typo such as `remvoe` is refused, not ignored)."""

ACTIONS = tuple(ACTION_ARGS)
"""The built-in `do:` actions; a Python scenario script adds its own with `async def step_<name>(ctx, step)`."""

INTEGRATIONS = ("naive", "naive-retry", "workaround", "robust", "hook-naive", "hook-dedupe")
"""The built-in integrations; a scenario may also name `module:Class`, `external:<hook URL>` (a process driven by the
order hook), `external-feed:<name>` or `external-poll:<name>` (a process that reads its feed, or polls the order
list, by itself)."""

MAX_POINTS = 10_000
"""Points one sweep may have."""
MAX_RUNS = 100_000
"""Repetitions per matrix cell."""
MAX_RUNS_PER_INTEGRATION = 1_000_000
"""Cells x repetitions: `expand` builds every `RunSpec` in memory."""

Handler = Callable[[Any, Step], Awaitable[Any]]
"""A custom step of a Python scenario script: `async def step_<name>(ctx, step)`; the runner awaits it."""

_ORDER_STATUSES = (
    "order-created",
    "payment-pending",
    "payment-approved",
    "window-to-cancel",
    "ready-for-handling",
    "start-handling",
    "handling",
    "waiting-for-fulfillment",
    "invoice",
    "invoiced",
    "request-cancel",
    "cancel",
    "canceled",
)
# A copy of `simulator.orders.model.STATUSES` (the harness may not import the simulator); a unit test keeps them equal.

_MAX_MS = 3_600_000.0  # one hour, as the simulator's durations
_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s)?\s*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
_CLASS_REF = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_EXTERNAL = re.compile(r"^external:https?://\S+$")
_EXTERNAL_SERVICE = re.compile(r"^external-(feed|poll):[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SUFFIXES = (".yaml", ".yml", ".py")
_SKIPPED_DIRS = frozenset({"profiles", "load", "examples"})


# ---------------------------------------------------------------------------------------------------- the records


@dataclass(frozen=True, slots=True)
class Gate:
    """What CI requires of one integration over all of a scenario's runs (`gate:` in the file).

        Gate(reproduces=True)            # the canary: at least one run violates an expected invariant
        Gate(violations=0)               # never; `max_rate=0.05`: at most 5 % of the runs

    Evaluating a gate is the reporter's business; this is only what the file asked for.
    """

    reproduces: bool | tuple[str, ...] | None = None
    """True: at least one run violates an expected invariant; a tuple of checker names: one of those."""
    violations: int | None = None
    """At most this many violating runs."""
    max_rate: float | None = None
    """At most this share (0..1) of violating runs."""


@dataclass(frozen=True, slots=True)
class Sweep:
    """An `at` that takes every value from `start_ms` to `stop_ms` (inclusive when it lands on a step).

        Sweep(50.0, 1000.0, 50.0).values()   # (50.0, 100.0, ..., 1000.0)

    Each value is one point of the scenario's matrix.
    """

    start_ms: float
    stop_ms: float
    step_ms: float

    def values(self) -> tuple[float, ...]:
        return _sweep_values(self.start_ms, self.stop_ms, self.step_ms)


@dataclass(frozen=True, slots=True)
class StepSpec:
    """One step as the file says it, before expansion: `at` is still a duration, a sweep or a distribution."""

    index: int
    do: str
    at: float | Sweep | Distribution
    args: Mapping[str, Any]
    """Every other field of the step (`remove`, `add`, `value`, `reason`...), as written."""
    line: int | None = None

    @property
    def cell_key(self) -> str:
        """The key of this step in `RunSpec.cell` when its `at` varies: `step1.at_ms`."""
        return f"step{self.index}.at_ms"


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario file.

        scenario = load_scenario("scenarios/over-invoice.yaml")
        specs = expand(scenario, seed=1)       # cells x runs x integrations

    Plain data once loaded; `handlers` are the only code it carries.
    """

    name: str
    summary: str
    path: Path
    profile: str
    """A profile name (`default`), or an absolute path to a profile file."""
    simulator: dict[str, Any]
    """Overrides merged into the profile (not validated here: the simulator's config does that)."""
    order: dict[str, Any]
    """What to seed (`POST /_sim/orders` without `orderId`): items, shipping, discounts, tax, status; plus
    `accounting` when given."""
    integrations: tuple[str, ...]
    steps: tuple[StepSpec, ...]
    runs: int
    expect: tuple[str, ...]
    gates: Mapping[str, Gate]
    handlers: Mapping[str, Handler]
    """Custom `do:` actions of a Python scenario script, by name."""


# ------------------------------------------------------------------------------------------ durations and values


def _show(value: object) -> str:
    """A value as the user wrote it, short."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        if re.fullmatch(r"[A-Za-z][\w.:-]*|-?\d+(\.\d+)?(ms|s)", value) and value not in {"true", "false", "null"}:
            return value
        text = json.dumps(value)
    else:
        try:
            text = json.dumps(value, default=str, separators=(", ", ": "))
        except ValueError:  # a cycle (YAML aliases can make one)
            text = type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _ms(value: float) -> str:
    return f"{_show(value)}ms"


def _duration_ms(value: object) -> float:
    """`0`, `250`, `20.5`, `"250ms"`, `"1.5s"` → milliseconds (the simulator's `parse_duration_ms`)."""
    ms: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        ms = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        ms = float(m.group(1)) * (1000.0 if m.group(2) == "s" else 1.0)
    if ms is None or math.isnan(ms):
        raise ValueError(f"expected a duration such as 0, 250ms or 1.5s (got {_show(value)})")
    if ms < 0:
        raise ValueError(f"must not be negative (got {_show(value)})")
    if ms > _MAX_MS:
        raise ValueError(f"must be at most one hour, {_MAX_MS:.0f}ms (got {_show(value)})")
    return ms


def _positive_duration_ms(value: object) -> float:
    ms = _duration_ms(value)
    if ms <= 0:
        raise ValueError(f"must be greater than 0 (got {_show(value)})")
    return ms


Ms = Annotated[float, BeforeValidator(_duration_ms)]


def _sweep_values(start: float, stop: float, step: float) -> tuple[float, ...]:
    # Computed from the index, not by accumulation, so 50 + 19 x 50 is 1000 and not 999.9999...; the epsilon keeps
    # `to` when it lands on a step up to float rounding.
    n = _sweep_points(start, stop, step)
    return tuple(round(start + i * step, 6) for i in range(n))


def _sweep_points(start: float, stop: float, step: float) -> int:
    return math.floor((stop - start) / step + 1e-9) + 1


def _fail(message: str, *at: str | int) -> PydanticCustomError:
    """A validation error with our own message, located `at` below where it is raised."""
    return PydanticCustomError("racelab", "{message}", {"message": message, "at": at})


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


# ------------------------------------------------------------------------------------------------- the schema


class _Strict(BaseModel):
    """A mapping whose keys are all known: an unknown one is reported with the list of valid ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    _hints: ClassVar[Mapping[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = [f.alias or name for name, f in cls.model_fields.items()]
            unknown = [k for k in data if k not in known]
            if unknown:
                first = unknown[0]
                if isinstance(first, str) and first in cls._hints:
                    raise _fail(cls._hints[first], str(first))
                names = ", ".join(_show(k) for k in unknown)
                hint = _did_you_mean(first, known) if isinstance(first, str) else ""
                noun = "field" if len(unknown) == 1 else "fields"
                raise _fail(f"unknown {noun} {names}{hint}; expected: {', '.join(known)}", str(first))
        return data


class Distribution(_Strict):
    """A distribution an `at` draws from, once per repetition: the simulator's delay models, field for field."""

    kind: str

    def draw_ms(self, rng: random.Random) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        """A short, stable text for `RunSpec.cell`: `uniform(min_ms=50, max_ms=1000)`."""
        parts = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name == "kind" or value is None:
                continue
            if isinstance(value, list):
                shown = [_show(v) for v in value]
                if len(shown) > 8:
                    shown = [*shown[:4], "...", *shown[-2:]]
                parts.append(f"{name}=[{', '.join(shown)}]" + (f" n={len(value)}" if len(value) > 8 else ""))
            else:
                parts.append(f"{name}={_show(value)}")
        return f"{self.kind}({', '.join(parts)})"


class _Fixed(Distribution):
    kind: Literal["fixed"]
    ms: Ms = 0.0

    def draw_ms(self, rng: random.Random) -> float:
        return self.ms


class _Uniform(Distribution):
    kind: Literal["uniform"]
    min_ms: Ms
    max_ms: Ms

    @model_validator(mode="after")
    def _ordered(self) -> _Uniform:
        if self.max_ms < self.min_ms:
            raise _fail(f"must not be below min_ms ({_ms(self.min_ms)}) (got {_ms(self.max_ms)})", "max_ms")
        return self

    def draw_ms(self, rng: random.Random) -> float:
        return rng.uniform(self.min_ms, self.max_ms)


class _Normal(Distribution):
    kind: Literal["normal"]
    mean_ms: Ms
    sd_ms: Ms
    min_ms: Ms = 0.0
    max_ms: Ms | None = None

    @model_validator(mode="after")
    def _ordered(self) -> _Normal:
        if self.max_ms is not None and self.max_ms < self.min_ms:
            raise _fail(f"must not be below min_ms ({_ms(self.min_ms)}) (got {_ms(self.max_ms)})", "max_ms")
        return self

    def draw_ms(self, rng: random.Random) -> float:
        hi = self.max_ms if self.max_ms is not None else math.inf
        for _ in range(32):  # the simulator's truncation: rejection, then clamping
            x = rng.gauss(self.mean_ms, self.sd_ms)
            if self.min_ms <= x <= hi:
                return x
        return min(max(self.mean_ms, self.min_ms), hi)


class _LogNormal(Distribution):
    kind: Literal["lognormal"]
    median_ms: Annotated[float, BeforeValidator(_positive_duration_ms)]
    sigma: Annotated[float, Strict(), Field(ge=0, le=5)]
    cap_ms: Ms | None = None

    def draw_ms(self, rng: random.Random) -> float:
        x = rng.lognormvariate(math.log(self.median_ms), self.sigma)
        return x if self.cap_ms is None else min(x, self.cap_ms)


class _Exponential(Distribution):
    kind: Literal["exponential"]
    mean_ms: Annotated[float, BeforeValidator(_positive_duration_ms)]
    cap_ms: Ms | None = None

    def draw_ms(self, rng: random.Random) -> float:
        x = rng.expovariate(1.0 / self.mean_ms)
        return x if self.cap_ms is None else min(x, self.cap_ms)


class _Pareto(Distribution):
    kind: Literal["pareto"]
    scale_ms: Annotated[float, BeforeValidator(_positive_duration_ms)]
    alpha: Annotated[float, Strict(), Field(gt=0, le=100)]
    cap_ms: Ms | None = None

    def draw_ms(self, rng: random.Random) -> float:
        try:
            x = self.scale_ms * rng.paretovariate(self.alpha)
        except (OverflowError, ZeroDivisionError):  # a tiny alpha: the tail is beyond any float
            x = math.inf
        return x if self.cap_ms is None else min(x, self.cap_ms)


class _Empirical(Distribution):
    kind: Literal["empirical"]
    values_ms: Annotated[list[Ms], Field(min_length=1, max_length=100_000)]

    def draw_ms(self, rng: random.Random) -> float:
        return self.values_ms[rng.randrange(len(self.values_ms))]


_KINDS = ("fixed", "uniform", "normal", "lognormal", "exponential", "pareto", "empirical")


class _Sweep(_Strict):
    start: Annotated[float, BeforeValidator(_duration_ms), Field(alias="from")]
    stop: Annotated[float, BeforeValidator(_duration_ms), Field(alias="to")]
    step: Annotated[float, BeforeValidator(_positive_duration_ms)]

    @model_validator(mode="after")
    def _bounded(self) -> _Sweep:
        if self.stop < self.start:
            raise _fail(f"must not be below from ({_ms(self.start)}) (got {_ms(self.stop)})", "to")
        n = _sweep_points(self.start, self.stop, self.step)
        if n > MAX_POINTS:
            raise _fail(
                f"makes {n} points from {_ms(self.start)} to {_ms(self.stop)}; "
                f"at most {MAX_POINTS} (use a larger step)",
                "step",
            )
        return self


def _at_form(value: Any) -> str | None:
    if isinstance(value, dict):
        if "kind" in value:
            return "distribution"
        if value.keys() & {"from", "to", "step"}:
            return "sweep"
        return None
    return "duration"  # the duration parser says what is wrong with anything else


_AT_FORMS = ("duration", "sweep", "distribution")
_AT_EXPECTED = "expected a duration (0, 250ms, 1.5s), a sweep {from, to, step} or a distribution {kind, ...}"

_At = Annotated[
    Annotated[float, BeforeValidator(_duration_ms), Tag("duration")]
    | Annotated[_Sweep, Tag("sweep")]
    | Annotated[
        _Fixed | _Uniform | _Normal | _LogNormal | _Exponential | _Pareto | _Empirical,
        Field(discriminator="kind"),
        Tag("distribution"),
    ],
    Discriminator(_at_form, custom_error_type="racelab_at", custom_error_message=_AT_EXPECTED),
]


class _Step(BaseModel):
    """A step: `at` and `do`, and whatever else it says, which becomes `Step.args`."""

    model_config = ConfigDict(extra="allow", frozen=True)

    at: _At
    do: StrictStr

    @model_validator(mode="before")
    @classmethod
    def _named_args(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if not isinstance(key, str):
                    raise _fail(f"a step's fields must be names (got {_show(key)})")
        return data

    @model_validator(mode="after")
    def _known_args(self) -> _Step:
        allowed = ACTION_ARGS.get(self.do)
        if allowed is None:  # a custom handler's step: its arguments are its own business
            return self
        for name in self.model_extra or {}:
            if name not in allowed:
                expected = ", ".join(sorted(allowed)) or "nothing besides at and do"
                hint = _did_you_mean(name, sorted(allowed))
                raise _fail(f"`do: {self.do}` takes no field {_show(name)}{hint}; expected: {expected}")
        return self

    @model_validator(mode="after")
    def _change_v1_args(self) -> _Step:
        """A `change-v1` step's fields are the published request's (Orders API, `POST
        /api/oms/pvt/orders/{orderId}/changes`): money in integer cents, items as `{id, quantity, price?}` (without
        `price`, the seeded order's unit price of that item)."""
        if self.do != "change-v1":
            return self
        args = self.model_extra or {}
        for key in ("discountValue", "incrementValue"):
            value = args.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**10:
                raise _fail(f"expected whole cents, 0 or more (got {_show(value)})", key)
        for key in ("reason", "requestId"):
            if key in args and (not isinstance(args[key], str) or not 1 <= len(args[key]) <= 200):
                raise _fail(f"expected a string of 1 to 200 characters (got {_show(args[key])})", key)
        for key in ("itemsRemoved", "itemsAdded"):
            lines = args.get(key, [])
            if not isinstance(lines, list) or len(lines) > 1000:
                raise _fail(f"expected a list of items such as [{{id: sku-1, quantity: 1}}] (got {_show(lines)})", key)
            for i, line in enumerate(lines):
                _change_v1_line(line, key, i)
        if (args.get("discountValue", 0) == args.get("incrementValue", 0) and not args.get("itemsRemoved")
                and not args.get("itemsAdded")):  # fmt: skip
            raise _fail("changes nothing: give itemsRemoved or itemsAdded, or a discountValue or incrementValue (the "
                        "platform refuses it: 'Invalid modification for order')", "discountValue")  # fmt: skip
        return self

    @field_validator("do")
    @classmethod
    def _known_action(cls, do: str, info: ValidationInfo) -> str:
        handlers: Sequence[str] = sorted((info.context or {}).get("handlers", ()))
        if do in ACTIONS or do in handlers:
            return do
        if handlers:
            custom = f", or a handler of this script: {', '.join(handlers)}"
        else:
            custom = " (a Python scenario script may add its own with `async def step_<name>(ctx, step)`)"
        hint = _did_you_mean(do, [*ACTIONS, *handlers])
        raise _fail(f"unknown action {_show(do)}{hint}; expected one of: {', '.join(ACTIONS)}{custom}")


def _change_v1_line(line: Any, key: str, i: int) -> None:
    if not isinstance(line, dict):
        raise _fail(f"expected an item such as {{id: sku-1, quantity: 1}} (got {_show(line)})", key, i)
    unknown = sorted(str(k) for k in line if k not in ("id", "quantity", "price"))
    if unknown:
        raise _fail(f"unknown field {_show(unknown[0])}; expected: id, quantity, price", key, i, unknown[0])
    if not isinstance(line.get("id"), str) or not 1 <= len(line["id"]) <= 100:
        raise _fail(f"expected the item's id, a string (got {_show(line.get('id'))})", key, i, "id")
    quantity = line.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 100_000:
        raise _fail(f"expected a whole number from 1 to 100000 (got {_show(quantity)})", key, i, "quantity")
    price = line.get("price", 0)
    if isinstance(price, bool) or not isinstance(price, int) or not 0 <= price <= 10**10:
        raise _fail(f"expected the unit price in whole cents (got {_show(price)})", key, i, "price")


class _Item(_Strict):
    id: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    price: Annotated[StrictInt, Field(ge=0, le=10**10)]
    """Unit price, cents."""
    quantity: Annotated[StrictInt, Field(ge=1, le=100_000)]
    name: Annotated[StrictStr, Field(max_length=200)] | None = None
    listPrice: Annotated[StrictInt, Field(ge=0, le=10**10)] | None = None
    # The order document's item properties (`POST /_sim/orders` takes them; the simulator judges them at seeding).
    productId: Annotated[StrictStr, Field(max_length=100)] | None = None
    refId: Annotated[StrictStr, Field(max_length=100)] | None = None
    ean: Annotated[StrictStr, Field(max_length=100)] | None = None
    sellerSku: Annotated[StrictStr, Field(max_length=100)] | None = None
    seller: Annotated[StrictStr, Field(max_length=100)] | None = None
    imageUrl: Annotated[StrictStr, Field(max_length=2000)] | None = None
    detailUrl: Annotated[StrictStr, Field(max_length=2000)] | None = None
    weight: Annotated[float, Field(ge=0, le=10**7)] | None = None
    tax: Annotated[StrictInt, Field(ge=0, le=10**10)] | None = None
    unitMultiplier: Annotated[float, Field(gt=0, le=10**6)] | None = None
    measurementUnit: Annotated[StrictStr, Field(min_length=1, max_length=20)] | None = None
    document: dict[str, Any] | None = None
    """Published `items[]` properties that replace the rendered ones."""


class _Order(_Strict):
    """`SeedOrderBody` of the control API, without `orderId` (every run gets its own), plus `accounting`."""

    _hints: ClassVar[Mapping[str, str]] = {
        "orderId": "remove it: every run gets its own order, and racelab chooses its id",
    }

    items: Annotated[list[_Item], Field(min_length=1, max_length=500)]
    shipping: Annotated[StrictInt, Field(ge=0, le=10**10)] = 0
    discounts: Annotated[StrictInt, Field(ge=-(10**10), le=0)] = 0
    """Negative cents, as in the order's `totals`."""
    tax: Annotated[StrictInt, Field(ge=0, le=10**10)] = 0
    status: StrictStr = "handling"
    accounting: dict[str, Any] | None = None
    """Passed through as written."""
    document: dict[str, Any] | None = None
    """Published top-level properties of the order document that replace the simulator's defaults
    (`clientProfileData`, `shippingData`, `paymentData`, ...: README, "Fidelity"); passed through as written."""

    @field_validator("status")
    @classmethod
    def _known_status(cls, status: str) -> str:
        if status not in _ORDER_STATUSES:
            hint = _did_you_mean(status, _ORDER_STATUSES)
            raise _fail(f"unknown order status {_show(status)}{hint}; expected one of: {', '.join(_ORDER_STATUSES)}")
        return status

    @field_validator("items")
    @classmethod
    def _unique_ids(cls, items: list[_Item]) -> list[_Item]:
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            if item.id in seen:
                raise _fail(f"item id {_show(item.id)} is already used by items[{seen[item.id]}]", i, "id")
            seen[item.id] = i
        return items


class _Gate(_Strict):
    reproduces: Any = None
    violations: Annotated[StrictInt, Field(ge=0)] | None = None
    max_rate: Annotated[float, Strict(), Field(ge=0, le=1)] | None = None

    @field_validator("reproduces")
    @classmethod
    def _reproduces(cls, value: Any) -> Any:
        if value is None or value is True:
            return value
        if value is False:
            raise _fail("`reproduces: false` asks for nothing; write `violations: 0` to require that it never does")
        if isinstance(value, list | tuple) and value:
            for i, name in enumerate(value):
                if not isinstance(name, str) or name not in CHECKER_NAMES:
                    hint = _did_you_mean(name, CHECKER_NAMES) if isinstance(name, str) else ""
                    raise _fail(f"unknown checker {_show(name)}{hint}; expected one of: {', '.join(CHECKER_NAMES)}", i)
            return tuple(value)
        raise _fail(f"expected true or a non-empty list of checker names (got {_show(value)})")

    @model_validator(mode="after")
    def _says_something(self) -> _Gate:
        bounds = self.violations is not None or self.max_rate is not None
        if self.reproduces is None and not bounds:
            raise _fail("a gate needs reproduces, violations or max_rate")
        if self.reproduces is not None and bounds:
            raise _fail(
                "a gate either expects the bug (reproduces) or bounds it (violations, max_rate), not both",
                "reproduces",
            )
        return self


class _Document(_Strict):
    name: StrictStr
    summary: StrictStr = ""
    profile: StrictStr = "default"
    simulator: dict[StrictStr, Any] = Field(default_factory=dict)
    order: _Order
    integrations: Annotated[list[StrictStr], Field(min_length=1)] = Field(default_factory=lambda: ["naive"])
    steps: Annotated[list[_Step], Field(min_length=1, max_length=1000)]
    runs: Annotated[StrictInt, Field(ge=1, le=MAX_RUNS)] = 1
    expect: Annotated[list[StrictStr], Field(min_length=1)] = Field(default_factory=lambda: list(CHECKER_NAMES))
    gate: dict[StrictStr, _Gate] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise _fail(
                f"expected letters, digits, '-', '_' or '.', starting with a letter or digit, at most 80 "
                f"(got {_show(name)})"
            )
        return name

    @field_validator("profile")
    @classmethod
    def _profile(cls, profile: str) -> str:
        if not _is_profile_path(profile) and not _PROFILE_NAME.match(profile):
            raise _fail(f"expected a profile name such as default, or a path to a .yaml file (got {_show(profile)})")
        return profile

    @field_validator("integrations")
    @classmethod
    def _integrations(cls, names: list[str]) -> list[str]:
        for i, name in enumerate(names):
            problem = _integration_problem(name, names[:i])
            if problem:
                raise _fail(problem, i)
        return names

    @field_validator("expect")
    @classmethod
    def _checkers(cls, names: list[str]) -> list[str]:
        for i, name in enumerate(names):
            if name not in CHECKER_NAMES:
                hint = _did_you_mean(name, CHECKER_NAMES)
                raise _fail(f"unknown checker {_show(name)}{hint}; expected one of: {', '.join(CHECKER_NAMES)}", i)
            if name in names[:i]:
                raise _fail(f"{name} is listed twice", i)
        return names

    @model_validator(mode="after")
    def _consistent(self) -> _Document:
        priced = {item.id for item in self.order.items}
        for i, step in enumerate(self.steps):
            if step.do != "change-v1":
                continue
            for key in ("itemsRemoved", "itemsAdded"):
                for j, line in enumerate((step.model_extra or {}).get(key) or []):
                    if "price" not in line and line["id"] not in priced:
                        raise _fail(
                            f"item {_show(line['id'])} is not in the order, so its price cannot come from it; "
                            "give its unit price in cents (price: ...)",
                            "steps",
                            i,
                            key,
                            j,
                        )
        for key, gate in self.gate.items():
            if key not in self.integrations:
                raise _fail(
                    f"no integration {_show(key)} in this scenario; "
                    f"a gate names one of: {', '.join(self.integrations)}",
                    "gate",
                    key,
                )
            if isinstance(gate.reproduces, tuple):
                for i, checker in enumerate(gate.reproduces):
                    if checker not in self.expect:
                        raise _fail(
                            f"{checker} is not expected by this scenario, so it never runs; add it to expect",
                            "gate",
                            key,
                            "reproduces",
                            i,
                        )
        cells = math.prod(
            _sweep_points(s.at.start, s.at.stop, s.at.step) for s in self.steps if isinstance(s.at, _Sweep)
        )
        if cells * self.runs > MAX_RUNS_PER_INTEGRATION:
            raise _fail(
                f"{cells} cells x {self.runs} runs make {cells * self.runs} runs per integration; "
                f"at most {MAX_RUNS_PER_INTEGRATION}",
                "runs",
            )
        return self


def _is_profile_path(profile: str) -> bool:
    return profile.endswith((".yaml", ".yml")) or "/" in profile or "\\" in profile


def _integration_problem(name: str, before: Sequence[str]) -> str | None:
    if name in before:
        return f"{name} is listed twice"
    if name.startswith("external:"):  # before module:Class, which `external:x` would also look like
        if _EXTERNAL.match(name):
            return None
        return f"expected external:http://host:port/path, the URL the simulator posts order hooks to (got {name})"
    if name.startswith("external-"):
        if _EXTERNAL_SERVICE.match(name):
            return None
        return (
            "expected external-feed:<name> or external-poll:<name> (a name of letters, digits, '-', '_', '.'), "
            f"a service that reads its feed or polls the order list (got {name})"
        )
    if name in INTEGRATIONS or _CLASS_REF.match(name):
        return None
    hint = _did_you_mean(name, INTEGRATIONS)
    return (
        f"unknown integration {_show(name)}{hint}; expected one of: {', '.join(INTEGRATIONS)}, "
        f"a class as module:Class, external:<hook URL>, external-feed:<name> or external-poll:<name>"
    )


# -------------------------------------------------------------------------------------- errors, located in the file

_MISSING = {
    "name": "name the scenario (letters, digits, '-', '_', '.'); the file name cannot serve",
    "order": "a scenario seeds an order, e.g. order: {items: [{id: sku-1, price: 4990, quantity: 1}]}",
    "steps": "a scenario needs steps, e.g. steps: [{at: 0ms, do: invoice}]",
    "items": "an order needs items, e.g. items: [{id: sku-1, price: 4990, quantity: 1}]",
    "at": "when the step fires: a duration (0, 250ms), a sweep {from, to, step} or a distribution {kind, ...}",
    "do": f"what the step does: one of {', '.join(ACTIONS)}",
    "from": "where the sweep starts, e.g. from: 50ms",
    "to": "where the sweep ends, e.g. to: 1000ms",
    "step": "the sweep's increment, e.g. step: 50ms",
}

_TYPES = {
    "int_type": "a whole number",
    "string_type": "a string",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}

Locate = Callable[[Sequence[str | int]], int | None]
"""Path in the document → 1-based line of the deepest part of it that exists in the file."""


def _problems(exc: ValidationError, data: Any, locate: Locate) -> list[Problem]:
    out: list[Problem] = []
    for error in exc.errors(include_url=False):
        loc: list[str | int] = list(error["loc"])
        ctx: dict[str, Any] = dict(error.get("ctx") or {})
        kind = error["type"]
        if kind == "racelab":
            loc.extend(ctx["at"])
            message = str(ctx["message"])
        elif kind == "union_tag_invalid":  # a distribution's `kind`
            loc.append("kind")
            tag = _show(ctx.get("tag"))
            message = f"unknown distribution kind {tag}; expected one of: {', '.join(_KINDS)}"
        else:
            message = _message(error["type"], loc, error["input"], ctx, error["msg"])
        path = _document_path(data, loc)
        out.append((locate(path), _field(path), message))
    return out


def _message(kind: str, loc: Sequence[str | int], value: Any, ctx: Mapping[str, Any], default: str) -> str:
    got = _show(value)
    if kind == "missing":
        last = loc[-1] if loc else ""
        return f"missing: {_MISSING[last]}" if isinstance(last, str) and last in _MISSING else "missing"
    if kind in _TYPES:
        return f"expected {_TYPES[kind]} (got {got})"
    if kind == "racelab_at":
        return f"{_AT_EXPECTED} (got {got})"
    bounds = {
        "greater_than": "must be greater than {gt}",
        "greater_than_equal": "must be at least {ge}",
        "less_than": "must be less than {lt}",
        "less_than_equal": "must be at most {le}",
    }
    if kind in bounds:
        return bounds[kind].format(**{k: _show(v) for k, v in ctx.items()}) + f" (got {got})"
    if kind in {"too_short", "string_too_short"}:
        minimum = ctx.get("min_length", 1)
        return "must not be empty" if minimum == 1 else f"must have at least {minimum} items (got {got})"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} items (got {ctx.get('actual_length')})"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters long"
    if kind == "value_error":
        return str(ctx.get("error", default))
    if kind == "recursion_loop":
        return "refers to itself (a loop of YAML aliases)"
    return default


def _document_path(data: Any, loc: Sequence[str | int]) -> list[str | int]:
    """The error's location as keys and indexes of the document: pydantic's union tags are dropped."""
    path: list[str | int] = []
    node: Any = data
    for part in loc:
        present = (isinstance(node, dict) and part in node) or (
            isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node)
        )
        if present:
            path.append(part)
            node = node[part]
        elif part == "[key]" or (isinstance(part, str) and part in (*_AT_FORMS, *_KINDS)):
            continue
        else:  # a field that is missing: named, but not in the file
            path.append(part)
            node = None
    return path


def _field(path: Sequence[str | int]) -> str | None:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][\w-]*", part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out or None


def _yaml_locator(root: yaml.Node) -> Locate:
    def locate(path: Sequence[str | int]) -> int | None:
        node = root
        line = node.start_mark.line + 1
        for part in path:
            if isinstance(node, yaml.MappingNode):
                # The last of duplicate keys, which is the one `safe_load` keeps.
                found = [(k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(part)]
                if not found:
                    break
                key, node = found[-1]
                line = key.start_mark.line + 1
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                break
        return line

    return locate


def _ast_locator(root: ast.expr) -> Locate:
    def locate(path: Sequence[str | int]) -> int | None:
        node: ast.expr = root
        line = node.lineno
        for part in path:
            entries: list[tuple[ast.AST, ast.expr]] = []
            if isinstance(node, ast.Dict):
                entries = [(k, v) for k, v in zip(node.keys, node.values, strict=True)
                           if isinstance(k, ast.Constant) and k.value == part]  # fmt: skip
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
                entries = [(k, k.value) for k in node.keywords if k.arg == part]
            elif isinstance(node, ast.List | ast.Tuple) and isinstance(part, int) and 0 <= part < len(node.elts):
                entries = [(node.elts[part], node.elts[part])]
            if not entries:
                break
            key, node = entries[-1]
            line = getattr(key, "lineno", line)
        return line

    return locate


def _duplicate_keys(root: yaml.Node) -> Iterator[tuple[int, list[str | int], str]]:
    """Keys written twice in one mapping (`safe_load` would silently keep the last)."""
    seen_nodes: set[int] = set()

    def walk(node: yaml.Node, path: list[str | int]) -> Iterator[tuple[int, list[str | int], str]]:
        if id(node) in seen_nodes:  # aliases may share, or loop
            return
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    line = key.start_mark.line + 1
                    if key.value in first:
                        yield line, [*path, key.value], f"written twice (first at line {first[key.value]})"
                    else:
                        first[key.value] = line
                    yield from walk(value, [*path, key.value])
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                yield from walk(item, [*path, i])

    yield from walk(root, [])


# ------------------------------------------------------------------------------------------------------ loading


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate one scenario file (`.yaml`, `.yml`, or a `.py` script).

    Raises:
        InvalidScenario: the file is missing, unreadable, not YAML (or Python), or does not validate; the message
            names the file, the line, the field and what was expected.
    """
    path = Path(path)
    if not path.exists():
        raise InvalidScenario("no such file", path=path)
    if path.is_dir():
        raise InvalidScenario(f"is a directory; expected a scenario file ({', '.join(_SUFFIXES)})", path=path)
    suffix = path.suffix.lower()
    if suffix == ".py":
        data, locate, handlers = _read_script(path)
        problems: list[Problem] = []
    elif suffix in _SUFFIXES:
        data, locate, problems = _read_yaml(path)
        handlers = {}
    else:
        raise InvalidScenario(f"expected a scenario file ending in {', '.join(_SUFFIXES)}", path=path)
    return _build(path, data, locate, handlers, problems)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidScenario(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=path) from None
    except OSError as exc:
        raise InvalidScenario(f"cannot read it: {exc.strerror or exc}", path=path) from None


def _read_yaml(path: Path) -> tuple[Any, Locate, list[Problem]]:
    text = _read_text(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = (exc.problem or exc.context or "cannot parse it").removeprefix("but ")
        if exc.problem and exc.context:  # PyYAML's "<context> but <problem>", problem first
            what += f" ({exc.context})"
        raise InvalidScenario(f"not valid YAML: {what}", path=path, line=line) from None
    except yaml.YAMLError as exc:
        raise InvalidScenario(f"not valid YAML: {exc}", path=path) from None
    if root is None:
        raise InvalidScenario(f"the file is empty; expected a mapping with {', '.join(_TOP_FIELDS)}", path=path)
    duplicates: list[Problem] = [(line, _field(p), message) for line, p, message in _duplicate_keys(root)]
    return data, _yaml_locator(root), duplicates


def _read_script(path: Path) -> tuple[Any, Locate, dict[str, Handler]]:
    """Import a Python scenario script from its path; its `SCENARIO` dict or `scenario()` and `step_*` handlers."""
    source = _read_text(path)
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise InvalidScenario(f"not valid Python: {exc.msg}", path=path, line=exc.lineno) from None
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    module_name = f"_racelab_scenario_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py path always has a source loader
        raise InvalidScenario("cannot import it", path=path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling in the script look themselves up here
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise InvalidScenario(
            f"importing it raised {type(exc).__name__}: {exc}", path=path, line=_raised_at(exc, path)
        ) from None
    namespace = vars(module)

    declared = namespace.get("SCENARIO")
    factory = namespace.get("scenario")
    if declared is not None and factory is not None:
        raise InvalidScenario("defines both SCENARIO and scenario(); keep one", path=path)
    if declared is not None:
        data = declared
        literal = _assigned(tree, "SCENARIO")
        locate = _ast_locator(literal) if literal is not None else (lambda _: None)
    elif callable(factory):
        line = _first_line(factory)
        try:
            data = factory()
        except Exception as exc:
            raise InvalidScenario(
                f"scenario() raised {type(exc).__name__}: {exc}", path=path, line=_raised_at(exc, path) or line
            ) from None
        locate = lambda _: line  # noqa: E731 - the data is computed: its function is the best place to point at
    else:
        raise InvalidScenario("defines neither SCENARIO (a dict) nor def scenario() -> dict", path=path)
    return data, locate, _handlers(namespace, path)


def _assigned(tree: ast.Module, name: str) -> ast.expr | None:
    value: ast.expr | None = None
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            value = node.value
    return value


def _first_line(obj: Any) -> int | None:
    code = getattr(obj, "__code__", None)
    return code.co_firstlineno if code is not None else None


def _raised_at(exc: BaseException, path: Path) -> int | None:
    """The deepest line of `path` in the exception's traceback."""
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename) == path:
        return exc.lineno
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    return lines[-1] if lines else None


def _handlers(namespace: Mapping[str, Any], path: Path) -> dict[str, Handler]:
    handlers: dict[str, Handler] = {}
    for attr, obj in namespace.items():
        if not attr.startswith("step_") or len(attr) == len("step_") or not callable(obj):
            continue
        name = attr.removeprefix("step_")
        line = _first_line(obj)
        if not inspect.iscoroutinefunction(obj):
            raise InvalidScenario(f"must be a coroutine: async def {attr}(ctx, step)", path=path, line=line, field=attr)
        try:
            inspect.signature(obj).bind(None, None)
        except TypeError:
            raise InvalidScenario(
                f"must accept two arguments: async def {attr}(ctx, step)", path=path, line=line, field=attr
            ) from None
        except ValueError:  # pragma: no cover - no signature to check (a builtin)
            pass
        if name in ACTIONS or name.replace("_", "-") in ACTIONS:
            raise InvalidScenario(
                f"would replace the built-in action {name.replace('_', '-')}; give it another name",
                path=path,
                line=line,
                field=attr,
            )
        handlers[name] = obj
    return dict(sorted(handlers.items()))


_TOP_FIELDS = tuple(f.alias or name for name, f in _Document.model_fields.items())


def _build(path: Path, data: Any, locate: Locate, handlers: dict[str, Handler], problems: list[Problem]) -> Scenario:
    if not isinstance(data, dict):
        what = type(data).__name__ if data is not None else "nothing"
        raise InvalidScenario(
            f"expected a mapping with {', '.join(_TOP_FIELDS)} (got {what})", path=path, line=locate(())
        )
    data = dict(data)
    if "name" not in data and _NAME.match(path.stem):
        data["name"] = path.stem  # a scenario without `name:` is named after its file, when that makes a name
    doc: _Document | None = None
    try:
        doc = _Document.model_validate(data, context={"handlers": frozenset(handlers)})
    except ValidationError as exc:
        problems.extend(_problems(exc, data, locate))
    if doc is not None and _is_profile_path(doc.profile):
        profile = Path(doc.profile)
        if not profile.is_absolute():
            profile = path.parent / profile
        if not profile.is_file():
            problems.append((locate(["profile"]), "profile", f"no profile file at {profile}"))
    if problems or doc is None:
        problems.sort(key=lambda p: p[0] or 0)
        (line, field, message), *more = problems
        raise InvalidScenario(message, path=path, line=line, field=field, more=tuple(more))
    return _scenario(path, doc, locate, handlers)


def _scenario(path: Path, doc: _Document, locate: Locate, handlers: dict[str, Handler]) -> Scenario:
    steps = []
    for i, step in enumerate(doc.steps):
        at: float | Sweep | Distribution
        at = Sweep(step.at.start, step.at.stop, step.at.step) if isinstance(step.at, _Sweep) else step.at
        steps.append(StepSpec(index=i, do=step.do, at=at, args=dict(step.model_extra or {}), line=locate(["steps", i])))
    order: dict[str, Any] = {"items": [item.model_dump(exclude_none=True) for item in doc.order.items]}
    order.update(doc.order.model_dump(exclude_none=True, exclude={"items", "accounting"}))
    if doc.order.accounting is not None:
        order["accounting"] = doc.order.accounting
    profile = doc.profile
    if _is_profile_path(profile) and not Path(profile).is_absolute():
        profile = str((path.parent / profile).resolve())
    gates = {
        key: Gate(reproduces=gate.reproduces, violations=gate.violations, max_rate=gate.max_rate)
        for key, gate in doc.gate.items()
    }
    return Scenario(
        name=doc.name,
        summary=doc.summary.strip(),
        path=path,
        profile=profile,
        simulator=dict(doc.simulator),
        order=order,
        integrations=tuple(doc.integrations),
        steps=tuple(steps),
        runs=doc.runs,
        expect=tuple(doc.expect),
        gates=MappingProxyType(gates),
        handlers=MappingProxyType(handlers),
    )


def find_scenarios(paths: Sequence[Path]) -> list[Path]:
    """The scenario files under `paths`: a file as given; a directory's `*.yaml`, `*.yml` and `*.py`, recursively.

    In a directory, files and folders whose name starts with `_` or `.` are skipped, and so are the `profiles/`,
    `load/` and `examples/` folders (simulator profiles, locust files, documentation). Each directory's files come
    sorted; a file reached twice is listed once.

    Raises:
        InvalidScenario: a path that does not exist.
    """
    found: list[Path] = []
    for given in paths:
        base = Path(given)
        if base.is_file():
            found.append(base)
        elif base.is_dir():
            found.extend(sorted(_walk(base)))
        else:
            raise InvalidScenario("no such file or directory", path=base)
    unique: dict[Path, Path] = {}
    for p in found:
        unique.setdefault(p.resolve(), p)
    return list(unique.values())


def _walk(base: Path) -> Iterator[Path]:
    for p in base.iterdir():
        if p.name.startswith(("_", ".")):
            continue
        if p.is_dir():
            if p.name not in _SKIPPED_DIRS:
                yield from _walk(p)
        elif p.suffix.lower() in _SUFFIXES and p.is_file():
            yield p


# ---------------------------------------------------------------------------------------------------- expansion


def expand(
    scenario: Scenario, *, seed: int, runs: int | None = None, integrations: Sequence[str] | None = None
) -> list[RunSpec]:
    """The scenario's matrix of runs: for each cell, each repetition, each integration (A/B runs are adjacent).

    A cell is one point of the cartesian product of the sweeps (steps in file order, the first varying slowest);
    `RunSpec.cell` names it, e.g. `{"step1.at_ms": 250.0}`, and shows a distribution's description under its step's
    key. A distribution is drawn per repetition from `random.Random(f"{seed}|{name}|{cell}|{repetition}|{step}")`,
    and the run's seed derives from (seed, name, cell, repetition): every integration gets the same schedule and seed.

    Args:
        scenario: a loaded scenario.
        seed: the suite's seed; the same seed gives the same list.
        runs: repetitions per cell, instead of the scenario's `runs`.
        integrations: instead of the scenario's integrations.

    Raises:
        InvalidScenario: `runs` out of range, an unknown or repeated integration, or a matrix too large.
    """
    reps = scenario.runs if runs is None else runs
    if isinstance(reps, bool) or not isinstance(reps, int) or not 1 <= reps <= MAX_RUNS:
        raise InvalidScenario(f"must be between 1 and {MAX_RUNS} (got {_show(reps)})", path=scenario.path, field="runs")
    names = scenario.integrations if integrations is None else tuple(integrations)
    if not names:
        raise InvalidScenario("needs at least one integration", path=scenario.path, field="integrations")
    for i, name in enumerate(names):
        problem = _integration_problem(name, names[:i])
        if problem:
            raise InvalidScenario(problem, path=scenario.path, field=f"integrations[{i}]")

    swept = [s for s in scenario.steps if isinstance(s.at, Sweep)]
    axes = [s.at.values() for s in swept if isinstance(s.at, Sweep)]
    cells = math.prod(len(a) for a in axes)
    if cells * reps > MAX_RUNS_PER_INTEGRATION:
        raise InvalidScenario(
            f"{cells} cells x {reps} runs make {cells * reps} runs per integration; at most {MAX_RUNS_PER_INTEGRATION}",
            path=scenario.path,
            field="runs",
        )
    ids = {name: _order_id_prefix(scenario.name, name, seed) for name in names}
    specs: list[RunSpec] = []
    for cell_index, point in enumerate(itertools.product(*axes)):
        at_of = {s.index: at for s, at in zip(swept, point, strict=True)}
        cell: dict[str, Any] = {}
        for s in scenario.steps:
            if s.index in at_of:
                cell[s.cell_key] = at_of[s.index]
            elif isinstance(s.at, Distribution):
                cell[s.cell_key] = s.at.describe()
        for repetition in range(reps):
            steps = tuple(
                Step(at_ms=_at_ms(s, at_of, seed, scenario.name, cell_index, repetition), do=s.do, args=s.args)
                for s in scenario.steps
            )
            run_seed = _derive_seed(seed, scenario.name, cell_index, repetition)
            for name in names:
                specs.append(
                    RunSpec(
                        run_id=f"{cell_index:04d}-{repetition:04d}-{name}",
                        scenario=scenario.name,
                        integration=name,
                        cell=cell,
                        repetition=repetition,
                        seed=run_seed,
                        order_id=f"{ids[name]}-{cell_index}-{repetition}",
                        order=scenario.order,
                        steps=steps,
                        expect=scenario.expect,
                    )
                )
    return specs


def _at_ms(step: StepSpec, at_of: Mapping[int, float], seed: int, name: str, cell: int, repetition: int) -> float:
    if isinstance(step.at, Distribution):
        # The integration is not part of the stream's name: A/B runs of one repetition draw the same offsets.
        drawn = step.at.draw_ms(random.Random(f"{seed}|{name}|{cell}|{repetition}|{step.index}"))
        # An uncapped tail (exponential, pareto) may draw past anything a run can wait for: hold it to the longest
        # duration a file may write.
        return min(drawn, _MAX_MS)
    if isinstance(step.at, Sweep):
        return at_of[step.index]
    return step.at


def _derive_seed(seed: int, name: str, cell: int, repetition: int) -> int:
    digest = hashlib.sha256(f"{seed}|{name}|{cell}|{repetition}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & (2**53 - 1)  # exact as a JSON number, in Python and in a browser


def _slug(text: str, size: int) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:size].strip("-") or "x"


def _order_id_prefix(scenario: str, integration: str, seed: int) -> str:
    """`over-invoice-naive-1f3a9c0b2d`: readable, and unique per (seed, scenario, integration) through the hash.

    With the cell and repetition appended it stays within the control API's order id pattern
    (`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$`): at most 20 + 12 + 10 + 7 + 6 characters and 4 dashes.
    """
    digest = hashlib.sha256(f"{seed}|{scenario}|{integration}".encode()).hexdigest()[:10]
    return f"{_slug(scenario, 20)}-{_slug(integration, 12)}-{digest}"
