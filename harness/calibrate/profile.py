"""Which profile field each observable times, how an end-to-end latency is split across phases, and the profile
file `racelab calibrate` writes.

Owns `Target` and `targets(base)` (observable -> the phase that carries its fit and the phases it passes through,
given the base's modes), `phase_mean_ms` (a base phase's mean, drawn), `base_document` (the base profile's own
mapping and file), `apply_patch` (a merge patch into a profile mapping, whole distributions replaced) and
`write_profile` (the YAML with its header comment; checked by loading it as `racelab serve --profile` does).

The split rule: an observed latency passes through several phases (`invoice` = ingress + queue + process + respond
in `sync` mode), and from outside only their sum is seen. The phases other than the carrier keep the base's
distributions, and the carrier gets the fit of the observed latencies minus the sum of the other phases' means
(their mean is what they add on average). When that sum is more than the observations' 5th percentile (the base
says the platform spends longer in those phases than it ever answers in), the other phases are set to 0 ms and the
carrier gets the whole latency.

Imports: stdlib, pyyaml, `harness.errors`, `harness.calibrate.observe`, `simulator.contract`, `simulator.__all__`
(`known_profiles`, `load_profile`, `ConfigError`).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from harness.calibrate.observe import CHANGE_FINISHED, INVOICE_TO_INVOICED
from harness.errors import UsageError
from simulator import ConfigError, known_profiles, load_profile
from simulator.contract.timing import Delay, Distribution

__all__ = [
    "Target",
    "apply_patch",
    "base_document",
    "get_field",
    "phase_mean_ms",
    "set_field",
    "targets",
    "write_profile",
]

_DELAY: TypeAdapter[Distribution] = TypeAdapter(Delay)
_MEAN_DRAWS = 20_000


@dataclass(frozen=True, slots=True)
class Target:
    """Where an observable's fit goes.

        targets(base)["invoice"]   # Target("invoice", "orders.invoice.process", ("orders.invoice.ingress", ...))

    Args:
        observable: The observable's name (`harness.calibrate.observe.OBSERVABLES`).
        carrier: The dotted profile field that gets the fit.
        others: The phases the observed latency also passes through (they keep the base's values, or 0).
    """

    observable: str
    carrier: str
    others: tuple[str, ...] = ()


def _write_op(name: str, mode: str) -> tuple[str, tuple[str, ...]]:
    p = f"orders.{name}"
    if mode == "async":  # answered after ingress + respond; the worker's queue and process run after the answer
        return f"{p}.respond", (f"{p}.ingress",)
    return f"{p}.process", (f"{p}.ingress", f"{p}.queue", f"{p}.respond")


def targets(base: Mapping[str, Any]) -> dict[str, Target]:
    """Each observable's target under `base` (a `SimConfig` as JSON: its modes decide what an answer waits for).

    A `read_lag` is never a target: it delays nothing (it is how stale a READ is), so no latency shows it.
    """
    orders = base.get("orders", {})

    def mode(name: str, default: str) -> str:
        return str(orders.get(name, {}).get("mode", default))

    out = {
        "get-order": Target("get-order", "orders.get_order.respond", ("orders.get_order.ingress",)),
        "get-change": Target("get-change", "orders.reads.respond", ("orders.reads.ingress",)),
        "register-change": Target("register-change", *_write_op("change_v1", "sync")),
        "invoice": Target("invoice", *_write_op("invoice", mode("invoice", "sync"))),
        "create-change": Target("create-change", *_write_op("change", mode("change", "async"))),
        "start-handling": Target("start-handling", *_write_op("start_handling", mode("start_handling", "sync"))),
        "cancel-order": Target("cancel-order", *_write_op("cancel", mode("cancel", "sync"))),
        INVOICE_TO_INVOICED: Target(INVOICE_TO_INVOICED, "orders.workflow.after_invoice"),
    }
    if mode("change", "async") == "async":
        # request -> finished: ingress, then the worker's queue, READ (no wait) and process until COMMIT
        out[CHANGE_FINISHED] = Target(
            CHANGE_FINISHED, "orders.change.process", ("orders.change.ingress", "orders.change.queue")
        )
    return out


def get_field(doc: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted path (`orders.invoice.process`), or None."""
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def set_field(doc: dict[str, Any], dotted: str, value: Any) -> None:
    """Set a dotted path, creating the mappings on the way."""
    *parents, last = dotted.split(".")
    node = doc
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[last] = value


def phase_mean_ms(value: Any, *, seed: int) -> float:
    """The mean of a phase's distribution (any kind, its caps and truncation included), from seeded draws."""
    dist = _DELAY.validate_python(value if value is not None else 0)
    if dist.is_zero:
        return 0.0
    rng = random.Random(seed)
    return sum(dist.draw_ms(rng) for _ in range(_MEAN_DRAWS)) / _MEAN_DRAWS


def base_document(base: str | Path) -> tuple[dict[str, Any], Path]:
    """The base profile as its file writes it (a mapping, so the written profile stays as short as the base) and
    its path. `base` is a profile name (`default`) or a path to a YAML file.

    Raises:
        UsageError: an unknown name, an unreadable file, or a profile that does not load.
    """
    path = Path(base)
    if not path.suffix and not path.is_file():
        found = next((p.path for p in known_profiles() if p.name == str(base)), None)
        if found is None:
            names = ", ".join(sorted({p.name for p in known_profiles()}))
            raise UsageError(f"--base: no profile named {str(base)!r}; known profiles: {names}")
        path = found
    try:
        load_profile(path)
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except ConfigError as exc:
        raise UsageError(f"--base: {exc}") from None
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"--base: {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise UsageError(f"--base: {path}: a profile must be a mapping")
    return doc, path


def apply_patch(doc: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `doc` with `patch` merged in (RFC 7386, as `simulator.merge_patch`): a mapping with a `kind` (a
    distribution) replaces what was there, other mappings merge, None removes."""
    out = copy.deepcopy(dict(doc))
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and "kind" not in value and isinstance(out.get(key), Mapping):
            out[key] = apply_patch(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class _Dumper(yaml.SafeDumper):
    """Distributions (mappings of scalars) and short lists in flow style, the rest in block style."""


def _represent_dict(dumper: yaml.SafeDumper, data: Mapping[str, Any]) -> yaml.Node:
    flow = all(not isinstance(v, Mapping | list) for v in data.values()) or "kind" in data
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


_Dumper.add_representer(dict, _represent_dict)


def write_profile(doc: Mapping[str, Any], out: Path, *, header: Sequence[str]) -> None:
    """Write the profile (its header comment first) and check it loads as `racelab serve --profile FILE` loads it.

    Raises:
        UsageError: `out` cannot be written, or the profile does not load (the loader's message, file and field).
    """
    lines = [f"# {line}".rstrip() for text in header for line in text.splitlines()]
    body = yaml.dump(dict(doc), Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text("\n".join(lines) + "\n" + body, encoding="utf-8")
        tmp.replace(out)
    except OSError as exc:
        raise UsageError(f"--out: {out}: cannot write: {exc.strerror or exc}") from None
    try:
        load_profile(out)
    except ConfigError as exc:  # racelab's own mistake if it happens: say so with the loader's words
        raise UsageError(f"the profile written does not load: {exc}") from None
    except ValidationError as exc:  # pragma: no cover - load_profile turns these into ConfigError
        raise UsageError(f"the profile written does not load: {exc}") from None
