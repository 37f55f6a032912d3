"""`racelab init`: write a starter project (a scenario, a profile, a pytest race test, a CI workflow).

Owns the command's parser and handler, and where each template of `harness/starter/` goes. Imports: stdlib,
`harness.cli` (exit codes), `harness.errors`, `harness.resources`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import shlex
from collections.abc import Sequence
from pathlib import Path

from harness.cli import EXIT_OK
from harness.errors import UsageError

__all__ = ["add_command"]

# The starter project: template in harness/starter/ → where `racelab init` writes it.
_STARTER = {
    "scenario.yaml": "scenarios/invoice-vs-change.yaml",
    "profile.yaml": "scenarios/profiles/race.yaml",
    "test_race.py": "tests/test_race.py",
    "workflow.yml": ".github/workflows/racelab.yml",
}

_PYTEST_CONFIGS = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
"""Where a project may already configure pytest: `racelab init` writes its pytest.ini only where none of them is."""


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    init = sub.add_parser(
        "init",
        help="write a starter project: a scenario, a profile, a pytest race test and a CI workflow",
        description="Write a starter project into DIR: scenarios/ with one annotated scenario and one annotated "
        "profile, tests/test_race.py (a race test using racelab's pytest plugin) and .github/workflows/racelab.yml "
        "(GitHub Actions: the race tests and the scenario gates, junit.xml and report.html kept as artifacts). "
        "Existing files are never overwritten: if any is there, nothing is written and the command exits 2.",
        epilog="exit codes: 0 written · 2 a file exists already, or a bad option. Then: cd DIR && pytest && "
        "racelab run",
    )
    init.add_argument("dir", nargs="?", type=Path, default=Path("."), metavar="DIR", help="default: the current one")
    init.add_argument(
        "--requirement",
        metavar="SPEC",
        help="how the CI workflow installs racelab, e.g. 'racelab[pytest] @ git+https://host/racelab.git' "
        "(default: the git URL racelab was installed from, else racelab[pytest]==<this version>)",
    )
    init.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from harness.resources import starter_dir

    target: Path = args.dir
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} is a file; give a folder (it may not exist yet)")
    existing = [dest for dest in _STARTER.values() if (target / dest).exists()]
    if existing:
        raise UsageError(f"these files exist already in {target}; nothing was written: {', '.join(existing)}")
    requirement = args.requirement or _requirement()
    starter = dict(_STARTER)
    if not any((target / name).exists() for name in _PYTEST_CONFIGS):  # never beside a configuration of the project
        starter["pytest.ini"] = "pytest.ini"
    for template, dest in starter.items():
        text = (starter_dir() / template).read_text(encoding="utf-8")
        (target / dest).parent.mkdir(parents=True, exist_ok=True)
        (target / dest).write_text(text.replace("{racelab_requirement}", requirement), encoding="utf-8")
    print(f"racelab init: wrote a starter project in {target}:")
    for dest in starter.values():
        print(f"  {dest}")
    cd = "" if target.resolve() == Path.cwd().resolve() else f"cd {shlex.quote(str(target))} && "
    if requirement:
        ci = (
            f"CI installs {requirement!r}; change RACELAB in .github/workflows/racelab.yml if it gets racelab elsewhere"
        )
    else:
        ci = (
            "set RACELAB in .github/workflows/racelab.yml to where CI gets racelab (a git URL or a wheel in this "
            "repository; on PyPI, racelab is another project), or give racelab init --requirement"
        )
    print(f"next: {cd}pytest && racelab run   ({ci})")
    return EXIT_OK


def _requirement() -> str:
    """How CI installs racelab: the git URL this racelab came from (PEP 610's direct_url.json), else nothing (the
    workflow then stops and says to set it). Never a bare name: on PyPI, `racelab` is another project."""
    try:
        dist = importlib.metadata.distribution("racelab")
    except importlib.metadata.PackageNotFoundError:
        return ""
    with contextlib.suppress(TypeError, ValueError):  # a damaged or unexpected direct_url.json: as if none
        origin = json.loads(dist.read_text("direct_url.json") or "null")
        vcs = origin.get("vcs_info") if isinstance(origin, dict) else None
        if isinstance(vcs, dict) and vcs.get("vcs") == "git":
            return f"racelab[pytest] @ git+{origin['url']}@{vcs.get('commit_id', '')}".rstrip("@")
    return ""
