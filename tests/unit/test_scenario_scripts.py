"""Scenarios written as Python scripts (`harness.scenarios`): a SCENARIO dict or a scenario() factory, custom
steps as flows, every mistake named with its line, and a fresh import from the script's path each time.

Scripts are written into `tmp_path`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.scenarios import expand, load_scenario
from tests.support.scenario_files import invalid, write

SCRIPT = """\
from collections.abc import Generator
from typing import Any

SCENARIO = {
    "name": "fire-twice",
    "order": {"items": [{"id": "sku-1", "price": 100, "quantity": 1}]},
    "integrations": ["naive", "robust"],
    "steps": [
        {"at": 0, "do": "invoice"},
        {"at": {"kind": "uniform", "min_ms": 10, "max_ms": 20}, "do": "fire_twice", "times": 2},
    ],
    "runs": 3,
}
CALLS: list[Any] = []


def step_fire_twice(run: Any, step: Any) -> Generator[Any, Any, str]:
    CALLS.append((run, step))
    answer = yield ("POST", "/fire")
    return f"fired: {answer}"
"""


def test_a_python_script_defines_a_scenario_and_its_custom_steps(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, SCRIPT, name="fire_twice.py"))
    assert scenario.name == "fire-twice"
    assert list(scenario.handlers) == ["fire_twice"]
    assert [s.do for s in scenario.steps] == ["invoice", "fire_twice"]
    assert scenario.steps[1].args == {"times": 2}
    specs = expand(scenario, seed=1)
    assert len(specs) == 3 * 2
    step = specs[0].steps[1]
    # A custom step is a flow: it yields its requests and receives their answers, whoever drives it.
    flow = scenario.handlers[step.do]("run", step)
    assert next(flow) == ("POST", "/fire")
    with pytest.raises(StopIteration) as done:
        flow.send(204)
    assert done.value.value == "fired: 204"


def test_a_python_script_may_compute_its_scenario(tmp_path: Path) -> None:
    text = """\
    def scenario() -> dict:
        offsets = [{"at": f"{ms}ms", "do": "change", "remove": [{"id": "a", "quantity": 1}]} for ms in (10, 20)]
        return {"name": "computed", "order": {"items": [{"id": "a", "price": 1, "quantity": 3}]}, "steps": offsets}
    """
    scenario = load_scenario(write(tmp_path, text, name="computed.py"))
    assert [s.at for s in scenario.steps] == [10.0, 20.0]


FLOW = "must be a flow: def step_x(run, step) that yields requests (see docs/integrations.md)"

SCRIPT_ERRORS = [
    # (id, script, line, field, message)
    (
        "literal-line",
        'SCENARIO = {\n    "order": {"items": [{"id": "a", "price": 1, "quantity": 1}]},\n'
        '    "steps": [\n        {"at": 0, "do": "invoice"},\n        {"at": -1, "do": "invoice"},\n    ],\n}\n',
        5,
        "steps[1].at",
        "must not be negative (got -1)",
    ),
    (
        "unknown-custom-action",
        'SCENARIO = {\n    "order": {"items": [{"id": "a", "price": 1, "quantity": 1}]},\n'
        '    "steps": [{"at": 0, "do": "fire_thrice"}],\n}\n\n\ndef step_fire_twice(run, step):\n    yield\n',
        3,
        "steps[0].do",
        "unknown action fire_thrice (did you mean fire_twice?); expected one of: invoice, change, change-v1, "
        "cancel, register-invoice, update-invoice, or a handler of this script: fire_twice",
    ),
    (
        "function-line",
        '\n\ndef scenario():\n    return {"order": {"items": []}, "steps": [{"at": 0, "do": "invoice"}]}\n',
        3,
        "order.items",
        "must not be empty",
    ),
    ("not-a-dict", "SCENARIO = [1, 2]\n", 1, None, "expected a mapping with name"),
    ("syntax-error", "SCENARIO = {\n  'a': \n", 1, None, "not valid Python"),
    (
        "import-raises",
        "import os\n\nraise RuntimeError('no network here')\n",
        3,
        None,
        "importing it raised RuntimeError",
    ),
    ("factory-raises", "def scenario():\n    return 1 / 0\n", 2, None, "scenario() raised ZeroDivisionError"),
    ("neither", "X = 1\n", None, None, "defines neither SCENARIO (a dict) nor def scenario() -> dict"),
    ("both", "SCENARIO = {}\n\ndef scenario():\n    return {}\n", None, None, "defines both SCENARIO and scenario()"),
    ("plain-function", "SCENARIO = {}\n\n\ndef step_x(run, step):\n    pass\n", 4, "step_x", FLOW),
    ("coroutine", "SCENARIO = {}\n\n\nasync def step_x(ctx, step):\n    pass\n", 4, "step_x", FLOW),
    ("async-generator", "SCENARIO = {}\n\n\nasync def step_x(run, step):\n    yield 1\n", 4, "step_x", FLOW),
    ("a-class", "SCENARIO = {}\n\n\nclass step_x:\n    pass\n", 4, "step_x", FLOW),
    ("flow-arity", "SCENARIO = {}\n\n\ndef step_x(run):\n    yield\n", 4, "step_x", FLOW),
    (
        "shadows-builtin",
        "SCENARIO = {}\n\n\ndef step_update_invoice(run, step):\n    yield\n",
        4,
        "step_update_invoice",
        "would replace the built-in action update-invoice",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "field", "message"), [c[1:] for c in SCRIPT_ERRORS], ids=[c[0] for c in SCRIPT_ERRORS]
)
def test_an_invalid_python_script_names_its_line(
    tmp_path: Path, text: str, line: int | None, field: str | None, message: str
) -> None:
    path = write(tmp_path, text, name="script.py")
    error = invalid(path)
    assert (error.path, error.line, error.field) == (path, line, field), str(error)
    assert message in error.message


def test_scripts_are_imported_from_their_path_each_time(tmp_path: Path) -> None:
    path = write(tmp_path, SCRIPT, name="s.py")
    assert load_scenario(path).runs == 3
    path.write_text(SCRIPT.replace('"runs": 3', '"runs": 4'))
    assert load_scenario(path).runs == 4
