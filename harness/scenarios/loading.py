"""Reading scenario files: YAML files and Python scripts, validated, with every mistake located in the file.

Owns `load_scenario()` (one `*.yaml`/`*.yml` file or `*.py` script → a `Scenario`), `find_scenarios()` (the scenario
files of a suite), and turning pydantic's errors into `InvalidScenario` problems that name the file, the line, the
field and what was expected, e.g. `scenarios/over-invoice.yaml:7: steps[1].at.step: must be greater than 0 (got
0ms)`. Lines come from the YAML node tree (`yaml.compose`), or from the `SCENARIO = {...}` literal of a Python script
(`ast`); data is read with `yaml.safe_load` only, and scripts are imported from their path, never `eval`-ed. A
script's custom steps are flows: `def step_<name>(run, step)`, generator functions that yield requests.

Imports: stdlib, pydantic, yaml, `simulator.contract`, `harness.errors`, `harness.scenarios.records` and `.schema`.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import json
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from pydantic import ValidationError

from harness.errors import InvalidScenario, Problem
from simulator.contract import DISTRIBUTIONS, BoundsError, Distribution, DurationError

from .records import Gate, Handler, Scenario, StepSpec, Sweep
from .schema import (
    ACTIONS,
    AT_EXPECTED,
    AT_FORMS,
    NAME,
    Document,
    SweepField,
    duration_problem,
    is_profile_path,
    show,
    show_ms,
)

__all__ = ["duplicate_keys", "field_name", "find_scenarios", "load_scenario", "validation_problems", "yaml_locator"]

_SUFFIXES = (".yaml", ".yml", ".py")
_SKIPPED_DIRS = frozenset({"profiles", "load", "examples"})
_FLOW = "must be a flow: def {attr}(run, step) that yields requests (see docs/integrations.md)"

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


def validation_problems(exc: ValidationError, data: Any, locate: Locate) -> list[Problem]:
    out: list[Problem] = []
    for error in exc.errors(include_url=False):
        loc: list[str | int] = list(error["loc"])
        ctx: dict[str, Any] = dict(error.get("ctx") or {})
        kind = error["type"]
        cause = ctx.get("error")
        message: str | None = None
        if kind == "racelab":
            loc.extend(ctx["at"])
            message = str(ctx["message"])
        elif kind == "union_tag_invalid":  # a distribution's `kind`
            loc.append("kind")
            tag = show(ctx.get("tag"))
            message = f"unknown distribution kind {tag}; expected one of: {', '.join(DISTRIBUTIONS)}"
        elif isinstance(cause, BoundsError):  # the contract's distribution: point at the upper bound
            loc.append(cause.field)
            message = f"must not be below {cause.lower} ({show_ms(cause.lower_value)}) (got {show_ms(cause.value)})"
        path, written = _document_path(data, loc)
        if message is None:
            message = _message(kind, loc, error["input"], written, ctx, error["msg"])
        out.append((locate(path), field_name(path), message))
    return out


_BOUNDS = {
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
}


def _message(
    kind: str, loc: Sequence[str | int], value: Any, written: Any, ctx: Mapping[str, Any], default: str
) -> str:
    """The message of one pydantic error; `written` is what the file says at its place (`_ABSENT`: nothing)."""
    got = show(value)
    if kind == "missing":
        last = loc[-1] if loc else ""
        return f"missing: {_MISSING[last]}" if isinstance(last, str) and last in _MISSING else "missing"
    if kind in _TYPES:
        return f"expected {_TYPES[kind]} (got {got})"
    if kind == "racelab_at":
        return f"{AT_EXPECTED} (got {got})"
    if kind in _BOUNDS:
        # A duration is checked once parsed: show it as written (`0ms`), not as pydantic holds it (`0`).
        shown = got if written is _ABSENT else show(written)
        return _BOUNDS[kind].format(**{k: show(v) for k, v in ctx.items()}) + f" (got {shown})"
    if kind in {"too_short", "string_too_short"}:
        minimum = ctx.get("min_length", 1)
        return "must not be empty" if minimum == 1 else f"must have at least {minimum} items (got {got})"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} items (got {ctx.get('actual_length')})"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters long"
    if kind == "value_error":
        cause = ctx.get("error")
        if isinstance(cause, DurationError):  # a field of a distribution: the contract's parser, our words
            return duration_problem(cause)
        return str(cause if cause is not None else default)
    if kind == "recursion_loop":
        return "refers to itself (a loop of YAML aliases)"
    return default


_ABSENT = object()
"""What `_document_path` finds where the document says nothing."""


def _document_path(data: Any, loc: Sequence[str | int]) -> tuple[list[str | int], Any]:
    """The error's location as keys and indexes of the document (pydantic's union tags dropped), and what the
    document says there (`_ABSENT` when the location names a field the file does not have)."""
    path: list[str | int] = []
    node: Any = data
    for part in loc:
        present = (isinstance(node, dict) and part in node) or (
            isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node)
        )
        if present:
            path.append(part)
            node = node[part]
        elif part == "[key]" or (isinstance(part, str) and part in (*AT_FORMS, *DISTRIBUTIONS)):
            continue
        else:  # a field that is missing: named, but not in the file
            path.append(part)
            node = _ABSENT
    return path, node


def field_name(path: Sequence[str | int]) -> str | None:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][\w-]*", part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out or None


def yaml_locator(root: yaml.Node) -> Locate:
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
                pairs = zip(node.keys, node.values, strict=True)
                entries = [(k, v) for k, v in pairs if isinstance(k, ast.Constant) and k.value == part]
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


def duplicate_keys(root: yaml.Node) -> Iterator[tuple[int, list[str | int], str]]:
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
    duplicates: list[Problem] = [(line, field_name(p), message) for line, p, message in duplicate_keys(root)]
    return data, yaml_locator(root), duplicates


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
    if code is not None:
        return int(code.co_firstlineno)
    try:  # a class, or a callable object: where its source starts
        return inspect.getsourcelines(obj)[1]
    except (OSError, TypeError):
        return None


def _raised_at(exc: BaseException, path: Path) -> int | None:
    """The deepest line of `path` in the exception's traceback."""
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename) == path:
        return exc.lineno
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    return lines[-1] if lines else None


def _handlers(namespace: Mapping[str, Any], path: Path) -> dict[str, Handler]:
    """A script's custom steps: each `step_<name>` must be a flow, a generator function of (run, step)."""
    handlers: dict[str, Handler] = {}
    for attr, obj in namespace.items():
        if not attr.startswith("step_") or len(attr) == len("step_") or not callable(obj):
            continue
        name = attr.removeprefix("step_")
        line = _first_line(obj)
        # An `async def` (the former contract), a plain function or a class would fail only when a run reaches the
        # step: refuse it now, with the form to write.
        if not (inspect.isgeneratorfunction(obj) and _takes_two(obj)):
            raise InvalidScenario(_FLOW.format(attr=attr), path=path, line=line, field=attr)
        if name in ACTIONS or name.replace("_", "-") in ACTIONS:
            raise InvalidScenario(
                f"would replace the built-in action {name.replace('_', '-')}; give it another name",
                path=path,
                line=line,
                field=attr,
            )
        handlers[name] = obj
    return dict(sorted(handlers.items()))


def _takes_two(function: Callable[..., Any]) -> bool:
    """True when `function(run, step)` binds."""
    try:
        inspect.signature(function).bind(None, None)
    except TypeError:
        return False
    except ValueError:  # pragma: no cover - no signature to check (a builtin)
        return True
    return True


_TOP_FIELDS = tuple(f.alias or name for name, f in Document.model_fields.items())


def _build(path: Path, data: Any, locate: Locate, handlers: dict[str, Handler], problems: list[Problem]) -> Scenario:
    if not isinstance(data, dict):
        what = type(data).__name__ if data is not None else "nothing"
        raise InvalidScenario(
            f"expected a mapping with {', '.join(_TOP_FIELDS)} (got {what})", path=path, line=locate(())
        )
    data = dict(data)
    if "name" not in data and NAME.match(path.stem):
        data["name"] = path.stem  # a scenario without `name:` is named after its file, when that makes a name
    doc: Document | None = None
    try:
        doc = Document.model_validate(data, context={"handlers": frozenset(handlers)})
    except ValidationError as exc:
        problems.extend(validation_problems(exc, data, locate))
    if doc is not None and is_profile_path(doc.profile):
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


def _scenario(path: Path, doc: Document, locate: Locate, handlers: dict[str, Handler]) -> Scenario:
    steps = []
    for i, step in enumerate(doc.steps):
        at: float | Sweep | Distribution
        at = Sweep(step.at.start, step.at.stop, step.at.step) if isinstance(step.at, SweepField) else step.at
        steps.append(StepSpec(index=i, do=step.do, at=at, args=dict(step.model_extra or {}), line=locate(["steps", i])))
    order: dict[str, Any] = {"items": [item.model_dump(exclude_none=True) for item in doc.order.items]}
    order.update(doc.order.model_dump(exclude_none=True, exclude={"items", "accounting"}))
    if doc.order.accounting is not None:
        order["accounting"] = doc.order.accounting
    profile = doc.profile
    if is_profile_path(profile) and not Path(profile).is_absolute():
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
