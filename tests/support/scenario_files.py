"""Scenario files as the scenario tests write them (tests/unit/test_scenario_*.py): one valid YAML scenario, `BASE`,
whose line numbers the tests' tables cite, edits of it, and the file each is written to.

    path = write(tmp_path, edit("runs: 2", "runs: 0"))
    assert invalid(path).field == "runs"
    scenario = scenario_of(tmp_path, BASE)

Imports: harness.scenarios and harness.errors.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.errors import InvalidScenario
from harness.scenarios import Scenario, load_scenario

__all__ = ["BASE", "edit", "invalid", "scenario_of", "write"]

BASE = """\
name: t
summary: s
order:
  items: [{id: sku-1, price: 4990, quantity: 2}, {id: sku-2, price: 1500, quantity: 1}]
  shipping: 1000
integrations: [naive, workaround]
steps:
  - {at: 0ms, do: invoice}
  - {at: {from: 50ms, to: 1000ms, step: 50ms}, do: change, remove: [{id: sku-2, quantity: 1}]}
runs: 2
expect: [no-over-invoice, no-lost-invoice]
gate:
  naive: {reproduces: true}
"""
"""A valid scenario; line numbers matter to the tests' tables (`order:` is line 3, the sweep step line 9)."""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    """Write `text` (dedented) to `tmp_path / name`, creating its folders; returns the path."""
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def edit(old: str, new: str) -> str:
    """BASE with its first `old` replaced by `new`; `old` must be in BASE, so a stale edit fails loudly."""
    assert old in BASE, old
    return BASE.replace(old, new, 1)


def invalid(path: Path) -> InvalidScenario:
    """The InvalidScenario that loading `path` must raise."""
    with pytest.raises(InvalidScenario) as info:
        load_scenario(path)
    return info.value


def scenario_of(tmp_path: Path, text: str) -> Scenario:
    """The scenario `text` loads into, written to `tmp_path / s.yaml`."""
    return load_scenario(write(tmp_path, text))
