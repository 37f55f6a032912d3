"""The cells of a scenario's matrix, for a person: what varies between runs, as text and as chart axes.

Owns: `is_number`, `number_text` (a number as the report prints it), `cell_text` (`step1.at_ms=350, ...`),
`cell_json` (a cell's canonical JSON, a hashable identity), `step_of` (the step a `stepN.at_ms` key moves) and
`axis_label` (`step 1 (change) offset, ms`).

Imports: stdlib only.

    cell_text({"step1.at_ms": 350.0})             # "step1.at_ms=350"
    axis_label("step1.at_ms", ("invoice", "change"))  # "step 1 (change) offset, ms"
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

__all__ = ["axis_label", "cell_json", "cell_text", "is_number", "number_text", "step_of"]

_STEP_KEY = re.compile(r"^step(\d+)\.at_ms$")


def is_number(value: object) -> TypeGuard[int | float]:
    """An int or a float, and not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def number_text(value: Any) -> str:
    """A number in its shortest form (`350`, `0.5`); anything else as its text."""
    if is_number(value):
        return f"{float(value):g}"
    return str(value)


def cell_text(cell: Mapping[str, Any]) -> str:
    """A cell for a person: `step1.at_ms=350, step0.at_ms=0`; empty when nothing varies."""
    return ", ".join(f"{key}={number_text(value)}" for key, value in cell.items())


def cell_json(cell: Mapping[str, Any]) -> str:
    """A cell's canonical JSON: equal cells give equal text, whatever their key order."""
    return json.dumps(dict(cell), sort_keys=True, default=str)


def step_of(key: str) -> int | None:
    """The index of the step whose offset a cell key sets (`step1.at_ms` → 1), or `None` for any other key."""
    match = _STEP_KEY.match(key)
    return None if match is None else int(match.group(1))


def axis_label(key: str, steps: Sequence[str] = ()) -> str:
    """The x axis of a parameter: `step1.at_ms` with steps `(invoice, change)` reads `step 1 (change) offset, ms`.

    Args:
        key: A cell key.
        steps: The `do` of each step of the scenario, in order.

    Returns:
        The label; any other key as it is.
    """
    index = step_of(key)
    if index is None:
        return key
    do = f" ({steps[index]})" if index < len(steps) else ""
    return f"step {index}{do} offset, ms"
