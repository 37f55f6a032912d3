"""The scenario file's format: its vocabulary and the pydantic models that validate it, with messages that say how
to fix a mistake.

Owns the names a scenario may use (`CHECKER_NAMES`, `ACTIONS` and `ACTION_ARGS`, `INTEGRATIONS`), its limits
(`MAX_POINTS`, `MAX_RUNS`, `MAX_RUNS_PER_INTEGRATION`), `Document` (a whole file, validated), and the helpers that
word a problem as the user wrote it (`show`, `fail`, `duration_problem`). A step's `at` is a duration, a sweep, or
one of the contract's distributions (`simulator.contract`): the scenario reads them with the very models the
simulator's profiles use, and only words their mistakes its own way.

Imports: stdlib, pydantic, `simulator.contract`, `harness.scenarios.records`.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar

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
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from simulator.contract import (
    DISTRIBUTIONS,
    MAX_DURATION_MS,
    ORDER_STATUSES,
    Distribution,
    DurationError,
    Empirical,
    Exponential,
    Fixed,
    LogNormal,
    Normal,
    Pareto,
    Uniform,
    parse_duration_ms,
)

from .records import sweep_points

__all__ = [
    "ACTIONS",
    "ACTION_ARGS",
    "AT_EXPECTED",
    "AT_FORMS",
    "CHECKER_NAMES",
    "INTEGRATIONS",
    "MAX_POINTS",
    "MAX_RUNS",
    "MAX_RUNS_PER_INTEGRATION",
    "NAME",
    "AtField",
    "Document",
    "StrictModel",
    "SweepField",
    "describe_distribution",
    "did_you_mean",
    "duration_problem",
    "fail",
    "integration_problem",
    "is_profile_path",
    "show",
    "show_ms",
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
"""The built-in `do:` actions; a Python scenario script adds its own flows, `def step_<name>(run, step)`."""

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

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
"""What a scenario's name may be (a file's stem that matches it names a scenario without `name:`)."""
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
_CLASS_REF = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_EXTERNAL = re.compile(r"^external:https?://\S+$")
_EXTERNAL_SERVICE = re.compile(r"^external-(feed|poll):[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


# ------------------------------------------------------------------------------------------ durations and values


def show(value: object) -> str:
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


def show_ms(value: float) -> str:
    """Milliseconds as a scenario writes them: `50ms`."""
    return f"{show(value)}ms"


def duration_problem(error: DurationError) -> str:
    """What is wrong with a duration, worded for a scenario file: the value as written, and what to write instead."""
    got = show(error.value)
    if error.ms is None or math.isnan(error.ms):
        return f"expected a duration such as 0, 250ms or 1.5s (got {got})"
    if error.ms < 0:
        return f"must not be negative (got {got})"
    return f"must be at most one hour, {MAX_DURATION_MS:.0f}ms (got {got})"


def duration_ms(value: object) -> float:
    """`0`, `250`, `20.5`, `"250ms"`, `"1.5s"` → milliseconds (the contract's `parse_duration_ms`, worded here)."""
    try:
        return parse_duration_ms(value)
    except DurationError as exc:
        raise ValueError(duration_problem(exc)) from None


def positive_duration_ms(value: object) -> float:
    """A duration that must be more than nothing (a sweep's step)."""
    ms = duration_ms(value)
    if ms <= 0:
        raise ValueError(f"must be greater than 0 (got {show(value)})")
    return ms


def fail(message: str, *at: str | int) -> PydanticCustomError:
    """A validation error with our own message, located `at` below where it is raised."""
    return PydanticCustomError("racelab", "{message}", {"message": message, "at": at})


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """` (did you mean X?)` for the choice closest to a misspelt `word`, or nothing."""
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def describe_distribution(dist: Distribution) -> str:
    """A short, stable text of a distribution for `RunSpec.cell`: `uniform(min_ms=50, max_ms=1000)`."""
    parts = []
    for name in type(dist).model_fields:
        value = getattr(dist, name)
        if name == "kind" or value is None:
            continue
        if isinstance(value, list):
            shown = [show(v) for v in value]
            if len(shown) > 8:
                shown = [*shown[:4], "...", *shown[-2:]]
            parts.append(f"{name}=[{', '.join(shown)}]" + (f" n={len(value)}" if len(value) > 8 else ""))
        else:
            parts.append(f"{name}={show(value)}")
    return f"{dist.kind}({', '.join(parts)})"


# ------------------------------------------------------------------------------------------------- the schema


def _known_fields(known: Sequence[str], data: dict[Any, Any], hints: Mapping[str, str]) -> None:
    """Refuse a key that is not one of `known`, naming the valid ones (or saying the `hints` of that key)."""
    unknown = [k for k in data if k not in known]
    if unknown:
        first = unknown[0]
        if isinstance(first, str) and first in hints:
            raise fail(hints[first], str(first))
        names = ", ".join(show(k) for k in unknown)
        hint = did_you_mean(first, known) if isinstance(first, str) else ""
        noun = "field" if len(unknown) == 1 else "fields"
        raise fail(f"unknown {noun} {names}{hint}; expected: {', '.join(known)}", str(first))


class StrictModel(BaseModel):
    """A mapping whose keys are all known: an unknown one is reported with the list of valid ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    _hints: ClassVar[Mapping[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            _known_fields([f.alias or name for name, f in cls.model_fields.items()], data, cls._hints)
        return data


_NUMBERS = {
    kind: frozenset(
        name
        for name, field in model.model_fields.items()
        if field.annotation is float and not any(isinstance(m, BeforeValidator) for m in field.metadata)
    )
    for kind, model in DISTRIBUTIONS.items()
}
"""Each distribution's shape parameters (`sigma`, `alpha`): numbers that are not durations."""


def _distribution_fields(data: Any) -> Any:
    """A distribution as a scenario may write it: the fields of its kind's model, and its shape parameters as numbers,
    not strings or booleans (the contract's model would read `"1.5"` or `true` as a number); the model validates the
    rest."""
    kind = data.get("kind") if isinstance(data, dict) else None
    if not isinstance(kind, str) or kind not in DISTRIBUTIONS:  # the union names the known kinds
        return data
    _known_fields(list(DISTRIBUTIONS[kind].model_fields), data, {})
    for name, value in data.items():
        if name in _NUMBERS[kind] and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise fail(f"expected a number (got {show(value)})", name)
    return data


class SweepField(StrictModel):
    """An `at` as a sweep: `{from: 50ms, to: 1000ms, step: 50ms}`."""

    start: Annotated[float, BeforeValidator(duration_ms), Field(alias="from")]
    stop: Annotated[float, BeforeValidator(duration_ms), Field(alias="to")]
    step: Annotated[float, BeforeValidator(positive_duration_ms)]

    @model_validator(mode="after")
    def _bounded(self) -> SweepField:
        if self.stop < self.start:
            raise fail(f"must not be below from ({show_ms(self.start)}) (got {show_ms(self.stop)})", "to")
        n = sweep_points(self.start, self.stop, self.step)
        if n > MAX_POINTS:
            raise fail(
                f"makes {n} points from {show_ms(self.start)} to {show_ms(self.stop)}; "
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


AT_FORMS = ("duration", "sweep", "distribution")
"""The forms of an `at`; pydantic names them in an error's location (`loading` drops them from the field)."""
AT_EXPECTED = "expected a duration (0, 250ms, 1.5s), a sweep {from, to, step} or a distribution {kind, ...}"

AtField = Annotated[
    Annotated[float, BeforeValidator(duration_ms), Tag("duration")]
    | Annotated[SweepField, Tag("sweep")]
    | Annotated[
        Fixed | Uniform | Normal | LogNormal | Exponential | Pareto | Empirical,
        Field(discriminator="kind"),
        BeforeValidator(_distribution_fields),
        Tag("distribution"),
    ],
    Discriminator(_at_form, custom_error_type="racelab_at", custom_error_message=AT_EXPECTED),
]


class _Step(BaseModel):
    """A step: `at` and `do`, and whatever else it says, which becomes `Step.args`."""

    model_config = ConfigDict(extra="allow", frozen=True)

    at: AtField
    do: StrictStr

    @model_validator(mode="before")
    @classmethod
    def _named_args(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if not isinstance(key, str):
                    raise fail(f"a step's fields must be names (got {show(key)})")
        return data

    @model_validator(mode="after")
    def _known_args(self) -> _Step:
        allowed = ACTION_ARGS.get(self.do)
        if allowed is None:  # a custom handler's step: its arguments are its own business
            return self
        for name in self.model_extra or {}:
            if name not in allowed:
                expected = ", ".join(sorted(allowed)) or "nothing besides at and do"
                hint = did_you_mean(name, sorted(allowed))
                raise fail(f"`do: {self.do}` takes no field {show(name)}{hint}; expected: {expected}")
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
                raise fail(f"expected whole cents, 0 or more (got {show(value)})", key)
        for key in ("reason", "requestId"):
            if key in args and (not isinstance(args[key], str) or not 1 <= len(args[key]) <= 200):
                raise fail(f"expected a string of 1 to 200 characters (got {show(args[key])})", key)
        for key in ("itemsRemoved", "itemsAdded"):
            lines = args.get(key, [])
            if not isinstance(lines, list) or len(lines) > 1000:
                raise fail(f"expected a list of items such as [{{id: sku-1, quantity: 1}}] (got {show(lines)})", key)
            for i, line in enumerate(lines):
                _change_v1_line(line, key, i)
        moves_money = args.get("discountValue", 0) != args.get("incrementValue", 0)
        if not moves_money and not args.get("itemsRemoved") and not args.get("itemsAdded"):
            raise fail(
                "changes nothing: give itemsRemoved or itemsAdded, or a discountValue or incrementValue "
                "(the platform refuses it: 'Invalid modification for order')",
                "discountValue",
            )
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
            custom = " (a Python scenario script may add its own flows: `def step_<name>(run, step)`)"
        hint = did_you_mean(do, [*ACTIONS, *handlers])
        raise fail(f"unknown action {show(do)}{hint}; expected one of: {', '.join(ACTIONS)}{custom}")


def _change_v1_line(line: Any, key: str, i: int) -> None:
    if not isinstance(line, dict):
        raise fail(f"expected an item such as {{id: sku-1, quantity: 1}} (got {show(line)})", key, i)
    unknown = sorted(str(k) for k in line if k not in ("id", "quantity", "price"))
    if unknown:
        raise fail(f"unknown field {show(unknown[0])}; expected: id, quantity, price", key, i, unknown[0])
    if not isinstance(line.get("id"), str) or not 1 <= len(line["id"]) <= 100:
        raise fail(f"expected the item's id, a string (got {show(line.get('id'))})", key, i, "id")
    quantity = line.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 100_000:
        raise fail(f"expected a whole number from 1 to 100000 (got {show(quantity)})", key, i, "quantity")
    price = line.get("price", 0)
    if isinstance(price, bool) or not isinstance(price, int) or not 0 <= price <= 10**10:
        raise fail(f"expected the unit price in whole cents (got {show(price)})", key, i, "price")


class _Item(StrictModel):
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


class _Order(StrictModel):
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
        if status not in ORDER_STATUSES:
            hint = did_you_mean(status, ORDER_STATUSES)
            raise fail(f"unknown order status {show(status)}{hint}; expected one of: {', '.join(ORDER_STATUSES)}")
        return status

    @field_validator("items")
    @classmethod
    def _unique_ids(cls, items: list[_Item]) -> list[_Item]:
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            if item.id in seen:
                raise fail(f"item id {show(item.id)} is already used by items[{seen[item.id]}]", i, "id")
            seen[item.id] = i
        return items


class _Gate(StrictModel):
    reproduces: Any = None
    violations: Annotated[StrictInt, Field(ge=0)] | None = None
    max_rate: Annotated[float, Strict(), Field(ge=0, le=1)] | None = None

    @field_validator("reproduces")
    @classmethod
    def _reproduces(cls, value: Any) -> Any:
        if value is None or value is True:
            return value
        if value is False:
            raise fail("`reproduces: false` asks for nothing; write `violations: 0` to require that it never does")
        if isinstance(value, list | tuple) and value:
            for i, name in enumerate(value):
                if not isinstance(name, str) or name not in CHECKER_NAMES:
                    hint = did_you_mean(name, CHECKER_NAMES) if isinstance(name, str) else ""
                    raise fail(f"unknown checker {show(name)}{hint}; expected one of: {', '.join(CHECKER_NAMES)}", i)
            return tuple(value)
        raise fail(f"expected true or a non-empty list of checker names (got {show(value)})")

    @model_validator(mode="after")
    def _says_something(self) -> _Gate:
        bounds = self.violations is not None or self.max_rate is not None
        if self.reproduces is None and not bounds:
            raise fail("a gate needs reproduces, violations or max_rate")
        if self.reproduces is not None and bounds:
            raise fail(
                "a gate either expects the bug (reproduces) or bounds it (violations, max_rate), not both",
                "reproduces",
            )
        return self


class Document(StrictModel):
    """A whole scenario file, validated: what `loading` turns into a `Scenario` (the steps' `at` still unexpanded).

    Validate with `context={"handlers": names}`, the custom actions of a Python scenario script.
    """

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
        if not NAME.match(name):
            raise fail(
                f"expected letters, digits, '-', '_' or '.', starting with a letter or digit, at most 80 "
                f"(got {show(name)})"
            )
        return name

    @field_validator("profile")
    @classmethod
    def _profile(cls, profile: str) -> str:
        if not is_profile_path(profile) and not _PROFILE_NAME.match(profile):
            raise fail(f"expected a profile name such as default, or a path to a .yaml file (got {show(profile)})")
        return profile

    @field_validator("integrations")
    @classmethod
    def _integrations(cls, names: list[str]) -> list[str]:
        for i, name in enumerate(names):
            problem = integration_problem(name, names[:i])
            if problem:
                raise fail(problem, i)
        return names

    @field_validator("expect")
    @classmethod
    def _checkers(cls, names: list[str]) -> list[str]:
        for i, name in enumerate(names):
            if name not in CHECKER_NAMES:
                hint = did_you_mean(name, CHECKER_NAMES)
                raise fail(f"unknown checker {show(name)}{hint}; expected one of: {', '.join(CHECKER_NAMES)}", i)
            if name in names[:i]:
                raise fail(f"{name} is listed twice", i)
        return names

    @model_validator(mode="after")
    def _consistent(self) -> Document:
        priced = {item.id for item in self.order.items}
        for i, step in enumerate(self.steps):
            if step.do != "change-v1":
                continue
            for key in ("itemsRemoved", "itemsAdded"):
                for j, line in enumerate((step.model_extra or {}).get(key) or []):
                    if "price" not in line and line["id"] not in priced:
                        raise fail(
                            f"item {show(line['id'])} is not in the order, so its price cannot come from it; "
                            "give its unit price in cents (price: ...)",
                            "steps",
                            i,
                            key,
                            j,
                        )
        for key, gate in self.gate.items():
            if key not in self.integrations:
                raise fail(
                    f"no integration {show(key)} in this scenario; a gate names one of: {', '.join(self.integrations)}",
                    "gate",
                    key,
                )
            if isinstance(gate.reproduces, tuple):
                for i, checker in enumerate(gate.reproduces):
                    if checker not in self.expect:
                        raise fail(
                            f"{checker} is not expected by this scenario, so it never runs; add it to expect",
                            "gate",
                            key,
                            "reproduces",
                            i,
                        )
        cells = math.prod(
            sweep_points(s.at.start, s.at.stop, s.at.step) for s in self.steps if isinstance(s.at, SweepField)
        )
        if cells * self.runs > MAX_RUNS_PER_INTEGRATION:
            raise fail(
                f"{cells} cells x {self.runs} runs make {cells * self.runs} runs per integration; "
                f"at most {MAX_RUNS_PER_INTEGRATION}",
                "runs",
            )
        return self


def is_profile_path(profile: str) -> bool:
    """True when `profile` names a file (a `.yaml` path) rather than a profile by name."""
    return profile.endswith((".yaml", ".yml")) or "/" in profile or "\\" in profile


def integration_problem(name: str, before: Sequence[str]) -> str | None:
    """What is wrong with an integration's name, listed after `before`; None when nothing is."""
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
    hint = did_you_mean(name, INTEGRATIONS)
    return (
        f"unknown integration {show(name)}{hint}; expected one of: {', '.join(INTEGRATIONS)}, "
        f"a class as module:Class, external:<hook URL>, external-feed:<name> or external-poll:<name>"
    )
