"""Where racelab's own files are: the built-in scenarios, locust profiles and examples, and the starter project.

The repository's `scenarios/` is their one source, edited where it is. A checkout (or an editable install) reads it
there; the wheel carries a copy as `harness/builtin/scenarios/` (pyproject's hatch settings), found here through
`importlib.resources`. The built-in simulator profiles are the simulator's to find
(`simulator.config.builtin_profile_dir`); the starter project's templates live in `harness/starter/`.

Wherever a command takes a scenario path, `builtin:NAME` names a built-in one: `builtin:over-invoice`,
`builtin:examples/external`.

Imports: stdlib and `harness.errors` only: `harness.load`, which the locust profiles import under gevent, uses it.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from harness.errors import InvalidScenario

__all__ = [
    "BUILTIN_PREFIX",
    "builtin_root",
    "builtin_scenario_names",
    "builtin_scenarios",
    "resolve_scenario_ref",
    "starter_dir",
]

BUILTIN_PREFIX = "builtin:"
_SCENARIO_SUFFIXES = (".yaml", ".yml", ".py")


def _package_dir() -> Path:
    here = importlib.resources.files(__package__ or "harness")
    # A wheel installs as files on disk; racelab is never imported from a zip (its children need real paths).
    return here if isinstance(here, Path) else Path(__file__).resolve().parent


def builtin_root() -> Path:
    """The folder whose `scenarios/` is racelab's own: the installed package's `harness/builtin/`, else the checkout.

    Paths written relative to the checkout's root (`scenarios/over-invoice.yaml`, `scenarios/load/race.py`) are the
    same relative to it.
    """
    installed = _package_dir() / "builtin"
    return installed if (installed / "scenarios").is_dir() else _package_dir().parent


def builtin_scenarios() -> Path:
    """The built-in suite's folder (what `racelab run --builtin` runs)."""
    return builtin_root() / "scenarios"


def builtin_scenario_names() -> list[str]:
    """The built-in suite's scenarios by the names `builtin:NAME` takes (file stems), sorted."""
    folder = builtin_scenarios()
    return sorted(p.stem for p in folder.iterdir() if p.suffix in _SCENARIO_SUFFIXES and not p.name.startswith("_"))


def resolve_scenario_ref(ref: str | Path) -> Path:
    """`builtin:NAME` as the built-in scenario's file; any other path unchanged.

    Raises:
        InvalidScenario: no built-in scenario of that name (the message lists them).
    """
    text = str(ref)
    if not text.startswith(BUILTIN_PREFIX):
        return Path(ref)
    name = text.removeprefix(BUILTIN_PREFIX).strip("/")
    folder = builtin_scenarios()
    for candidate in [folder / name, *(folder / f"{name}{suffix}" for suffix in _SCENARIO_SUFFIXES)]:
        if name and candidate.is_file():
            return candidate
    raise InvalidScenario(
        f"no built-in scenario {text!r}; built-in scenarios: {', '.join(builtin_scenario_names())} "
        f"(and examples/external, ... under {folder})"
    )


def starter_dir() -> Path:
    """The templates `racelab init` copies into a new project."""
    return _package_dir() / "starter"
