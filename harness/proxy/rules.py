"""The proxy's rules: the YAML file, validated as scenarios are (file, line, field), and what a rule does to an
exchange.

Owns `load_rules(path)` / `parse_rules(text, path)` -> `RuleSet`, the actions (`Delay`, `HoldUntil`, `Fault`) and
the seeded draws of their durations (`Timing`). A file:

    rules:
      - match: {route: get-order}                       # route (kebab-case operation name, or a list of them),
        delay: 300ms                                     #   method, order (an id or a glob); all optional
      - match: {route: invoice-notification, order: "oi-*"}
        hold_until: {route: create-change, phase: answered, offset: 100ms, timeout: 5s}
      - match: {route: create-change}
        fault: {when: after, kind: 503}                  # when: before | after; kind: 500 502 503 reset timeout

The first rule that matches an exchange applies to it, and only that one. A duration is what scenarios accept
(`300ms`, `1.5s`, `20`); `delay` and `hold_until.offset` also take a sweep `{from, to, step}` (the n-th order the
rule applies to takes the n-th point, round and round) or any distribution of the timing model (`{kind: uniform,
min_ms: 50, max_ms: 400}`), drawn from a stream of its own per rule, seeded by `--seed`.

The scenario loader's YAML locator and messages are reused (`harness.scenarios.loading`), so a mistake reads the
same in both files: `rules.yaml:4: rules[1].hold_until.phase: ...`.

Imports: stdlib, pydantic, yaml, `harness.errors`, `harness.scenarios` (the schema's pieces and the locator),
`simulator.contract`.
"""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BeforeValidator, ValidationError, field_validator, model_validator

from harness.errors import InvalidScenario, Problem
from harness.scenarios.loading import duplicate_keys, field_name, validation_problems, yaml_locator
from harness.scenarios.records import sweep_values
from harness.scenarios.schema import AtField, StrictModel, SweepField, did_you_mean, duration_ms, fail, show
from simulator.contract import Distribution
from simulator.contract.operations import operation_names

__all__ = [
    "FAULT_KINDS",
    "Delay",
    "Fault",
    "HoldUntil",
    "Rule",
    "RuleSet",
    "Timing",
    "load_rules",
    "parse_rules",
]

Phase = Literal["arrived", "forwarded", "answered"]
"""The phases of another exchange a `hold_until` may wait for."""
FAULT_KINDS = ("500", "502", "503", "reset", "timeout")
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DEFAULT_HOLD_TIMEOUT_MS = 10_000.0

Offset = float | tuple[float, ...] | Distribution
"""A duration (ms), a sweep's points, or a distribution."""


# ------------------------------------------------------------------------------------------------------ the schema


def _route(value: Any) -> Any:
    names = operation_names()
    for i, name in enumerate(value if isinstance(value, list) else [value]):
        if not isinstance(name, str):
            raise fail(
                f"expected an operation name such as get-order (got {show(name)})",
                *([i] if isinstance(value, list) else []),
            )
        if name not in names:
            at = [i] if isinstance(value, list) else []
            raise fail(
                f"unknown route {show(name)}{did_you_mean(name, names)}; expected an operation name: "
                f"{', '.join(names)}",
                *at,
            )
    return value


class _Match(StrictModel):
    route: Annotated[str | list[str] | None, BeforeValidator(_route)] = None
    method: str | None = None
    order: str | None = None

    @field_validator("method")
    @classmethod
    def _method(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in _METHODS:
            raise ValueError(f"unknown method {show(value)}; expected one of {', '.join(_METHODS)}")
        return None if value is None else value.upper()

    @field_validator("order")
    @classmethod
    def _order(cls, value: str | None) -> str | None:
        if value is not None and not value:
            raise ValueError("must not be empty; an order id or a glob such as oi-*")
        return value


class _Hold(StrictModel):
    route: Annotated[str, BeforeValidator(_route)]
    phase: Phase
    offset: AtField = 0.0
    timeout: Annotated[float, BeforeValidator(duration_ms)] = DEFAULT_HOLD_TIMEOUT_MS


def _fault_kind(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {show(value)}; expected one of {', '.join(FAULT_KINDS)}")
    return value


class _Fault(StrictModel):
    when: Literal["before", "after"]
    kind: Annotated[str, BeforeValidator(_fault_kind)]


class _Rule(StrictModel):
    match: _Match = _Match()
    delay: AtField | None = None
    hold_until: _Hold | None = None
    fault: _Fault | None = None

    @model_validator(mode="after")
    def _one_action(self) -> _Rule:
        actions = [a for a in ("delay", "hold_until", "fault") if getattr(self, a) is not None]
        if len(actions) != 1:
            said = f"has {', '.join(actions)}" if actions else "has none"
            raise fail(f"a rule takes exactly one action of delay, hold_until or fault ({said})")
        return self


class _Document(StrictModel):
    rules: list[_Rule]


# ------------------------------------------------------------------------------------------------ the rules, inside


@dataclass(frozen=True, slots=True)
class Delay:
    """Wait `offset` before forwarding."""

    offset: Offset


@dataclass(frozen=True, slots=True)
class HoldUntil:
    """Wait until another exchange of the same order with operation `route` reached `phase`, plus `offset`; forward
    anyway after `timeout_ms`."""

    route: str
    phase: str
    offset: Offset
    timeout_ms: float


@dataclass(frozen=True, slots=True)
class Fault:
    """`before`: answer `kind` without forwarding; `after`: forward, then give the caller `kind` instead."""

    when: Literal["before", "after"]
    kind: str


Action = Delay | HoldUntil | Fault


@dataclass(frozen=True, slots=True)
class Rule:
    index: int
    action: Action
    routes: frozenset[str] | None = None
    method: str | None = None
    order: str | None = None
    line: int | None = None

    def matches(self, route: str | None, method: str, order_id: str | None) -> bool:
        if self.routes is not None and route not in self.routes:
            return False
        if self.method is not None and method.upper() != self.method:
            return False
        return self.order is None or (order_id is not None and fnmatch.fnmatchcase(order_id, self.order))


@dataclass(slots=True)
class Timing:
    """The seeded draws of one rule's offsets: a stream of its own, and a sweep's point per order.

    timing = Timing(seed=1, index=0)
    timing.draw_ms(offset, order_id="oi-0")
    """

    seed: int
    index: int
    _rng: random.Random = field(init=False)
    _orders: dict[str | None, int] = field(init=False, default_factory=dict)
    _anonymous: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._rng = random.Random(f"racelab-proxy:{self.seed}:{self.index}")

    def draw_ms(self, offset: Offset, *, order_id: str | None) -> float:
        if isinstance(offset, float | int):
            return float(offset)
        if isinstance(offset, tuple):
            if order_id is None:
                k = self._anonymous
                self._anonymous += 1
            else:
                k = self._orders.setdefault(order_id, len(self._orders))
            return offset[k % len(offset)]
        return offset.draw_ms(self._rng)


@dataclass(frozen=True, slots=True)
class RuleSet:
    rules: tuple[Rule, ...] = ()
    path: Path | None = None

    def first(self, route: str | None, method: str, order_id: str | None) -> Rule | None:
        """The first rule that matches an exchange, or None."""
        for rule in self.rules:
            if rule.matches(route, method, order_id):
                return rule
        return None


def _offset(value: Any) -> Offset:
    if isinstance(value, SweepField):
        return sweep_values(value.start, value.stop, value.step)
    if isinstance(value, Distribution):
        return value
    return float(value)


def _rule(index: int, r: _Rule, line: int | None) -> Rule:
    action: Action
    if r.delay is not None:
        action = Delay(_offset(r.delay))
    elif r.hold_until is not None:
        h = r.hold_until
        action = HoldUntil(str(h.route), h.phase, _offset(h.offset), h.timeout)
    else:
        assert r.fault is not None
        action = Fault(r.fault.when, r.fault.kind)
    route = r.match.route
    routes = None if route is None else frozenset([route] if isinstance(route, str) else route)
    return Rule(index, action, routes, r.match.method, r.match.order, line)


def load_rules(path: str | Path) -> RuleSet:
    """Read and validate a rules file.

    Raises:
        InvalidScenario: (a `UsageError`) the file is missing, not YAML, or does not validate; the message names the
            file, the line and the field.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidScenario("no such file", path=path) from None
    except UnicodeDecodeError as exc:
        raise InvalidScenario(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=path) from None
    except OSError as exc:
        raise InvalidScenario(f"cannot read it: {exc.strerror or exc}", path=path) from None
    return parse_rules(text, path)


def parse_rules(text: str, path: str | Path | None = None) -> RuleSet:
    """Validate the text of a rules file (`path` names it in messages, and in the record; None: `<rules>`)."""
    source = Path(path) if path is not None else None
    path = source if source is not None else "<rules>"
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = (exc.problem or exc.context or "cannot parse it").removeprefix("but ")
        raise InvalidScenario(
            f"not valid YAML: {what}", path=path, line=mark.line + 1 if mark is not None else None
        ) from None
    except yaml.YAMLError as exc:
        raise InvalidScenario(f"not valid YAML: {exc}", path=path) from None
    if root is None or not isinstance(data, dict):
        raise InvalidScenario(
            "expected a mapping with rules: [...], e.g. rules: [{match: {route: get-order}, delay: 300ms}]",
            path=path,
            line=None if root is None else root.start_mark.line + 1,
        )
    locate = yaml_locator(root)
    problems: list[Problem] = [(line, field_name(p), message) for line, p, message in duplicate_keys(root)]
    doc: _Document | None = None
    try:
        doc = _Document.model_validate(data)
    except ValidationError as exc:
        problems.extend(validation_problems(exc, data, locate))
    if problems or doc is None:
        problems.sort(key=lambda p: p[0] or 0)
        (line, where, message), *more = problems
        raise InvalidScenario(message, path=path, line=line, field=where, more=tuple(more))
    return RuleSet(tuple(_rule(i, r, locate(["rules", i])) for i, r in enumerate(doc.rules)), source)


def describe_offset(offset: Offset) -> str:
    """`300 ms`, `sweep 50..400 ms (8 points)`, `uniform(min_ms=50, max_ms=400)`."""
    if isinstance(offset, float | int):
        return f"{offset:g} ms"
    if isinstance(offset, tuple):
        return f"sweep {offset[0]:g}..{offset[-1]:g} ms ({len(offset)} points)"
    parts = ", ".join(
        f"{k}={v:g}" if isinstance(v, float | int) else f"{k}={v}"
        for k, v in offset.model_dump(exclude={"kind"}).items()
        if v is not None and not isinstance(v, list)
    )
    return f"{offset.kind}({parts})"


def rule_summary(rules: Sequence[Rule]) -> list[Mapping[str, Any]]:
    """The rules as the proxy prints them at start."""
    out: list[Mapping[str, Any]] = []
    for r in rules:
        a = r.action
        if isinstance(a, Delay):
            what = f"delay {describe_offset(a.offset)}"
        elif isinstance(a, HoldUntil):
            what = f"hold until {a.route} {a.phase} + {describe_offset(a.offset)} (timeout {a.timeout_ms:g} ms)"
        else:
            what = f"fault {a.kind} {a.when} forwarding"
        match = {"route": sorted(r.routes) if r.routes else None, "method": r.method, "order": r.order}
        out.append({"index": r.index, "match": {k: v for k, v in match.items() if v is not None}, "action": what})
    return out
