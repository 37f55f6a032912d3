"""The one-way layers of STYLE §1 and §13, checked by walking the source's AST (no module is imported).

- `simulator`'s domain (everything outside `simulator/web/`) imports no aiohttp;
- `simulator` never imports `harness`;
- `harness` imports `simulator` only in the modules that run it in-process: `harness/cli.py` and
  `harness/pytest_plugin.py` (to start it embedded), `harness/virtual.py` and `harness/explore.py` (virtual time
  needs the server in the same process and loop) and `harness/bench.py` (the bare-vs-simulator comparison); the
  suite and the runner reach it only over HTTP, and load these modules lazily;
- nothing imports `locust` (it monkey-patches the process with gevent) except files under `scenarios/load/`.

Every import counts, wherever it is: module level, inside a function, under `if TYPE_CHECKING:`, relative
(`from ..web import app`), or `importlib.import_module("...")` / `__import__("...")` with a literal name.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARNESS_MAY_IMPORT_SIMULATOR = {
    "harness/cli.py",
    "harness/pytest_plugin.py",
    "harness/virtual.py",
    "harness/explore.py",
    "harness/bench.py",
}


@dataclass(frozen=True, slots=True)
class Import:
    path: str
    """Relative to the repository root, with forward slashes."""
    module: str
    """Absolute dotted name (relative imports resolved)."""
    line: int

    @property
    def top(self) -> str:
        return self.module.split(".")[0]

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.module}"


def module_name(rel: Path) -> str:
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, rel: Path) -> Iterator[Import]:
    """Every module the file at `rel` (relative to its source root) imports."""
    path = rel.as_posix()
    module = module_name(rel)
    package = module if rel.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                target = ".".join(p for p in (base, node.module) if p)
            else:
                target = node.module or ""
            yield Import(path, target, node.lineno)
            for alias in node.names:  # `from . import web` imports the submodule `web`
                yield Import(path, f"{target}.{alias.name}", node.lineno)
        elif isinstance(node, ast.Call) and (name := _dynamic_import(node)) is not None:
            yield Import(path, name, node.lineno)


def _dynamic_import(call: ast.Call) -> str | None:
    """The literal module name of `importlib.import_module("x")`, `import_module("x")` or `__import__("x")`."""
    func = call.func
    named = (isinstance(func, ast.Name) and func.id in {"__import__", "import_module"}) or (
        isinstance(func, ast.Attribute) and func.attr == "import_module"
    )
    if named and call.args and isinstance(arg := call.args[0], ast.Constant) and isinstance(arg.value, str):
        return arg.value
    return None


def python_files(*roots: str) -> Iterator[Path]:
    """Project source files under `roots` (relative to the repository), skipping hidden and virtualenv folders."""
    for root in roots:
        for path in sorted((ROOT / root).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if not any(part.startswith(".") or part in {"venv", "node_modules"} for part in rel.parts):
                yield rel


def project_imports(*roots: str) -> list[Import]:
    found: list[Import] = []
    for rel in python_files(*roots):
        found.extend(imports_of((ROOT / rel).read_text(encoding="utf-8"), rel))
    return found


def every_project_root() -> list[str]:
    return sorted(p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith("."))


# -- the rules -------------------------------------------------------------------------------------------


def test_simulator_domain_imports_no_aiohttp() -> None:
    bad = [
        str(i) for i in project_imports("simulator") if i.top == "aiohttp" and not i.path.startswith("simulator/web/")
    ]
    assert bad == [], "the domain must stay transport-free; move HTTP code to simulator/web/"


def test_simulator_never_imports_harness() -> None:
    bad = [str(i) for i in project_imports("simulator") if i.top == "harness"]
    assert bad == [], "the simulator must not depend on the harness that tests it"


def test_harness_imports_simulator_only_where_it_runs_in_process() -> None:
    bad = [
        str(i)
        for i in project_imports("harness")
        if i.top == "simulator" and i.path not in HARNESS_MAY_IMPORT_SIMULATOR
    ]
    assert bad == [], "the harness talks to the simulator over HTTP; only the modules that run it in-process import it"


def test_only_load_scenarios_import_locust() -> None:
    bad = [
        str(i)
        for i in project_imports(*every_project_root())
        if i.top == "locust" and not i.path.startswith("scenarios/load/")
    ]
    assert bad == [], "importing locust monkey-patches the process with gevent; keep it under scenarios/load/"


# -- the walker sees what it must (so the rules above can fail) ------------------------------------------


def test_walker_finds_the_aiohttp_import_of_the_web_layer() -> None:
    found = {i.module for i in project_imports("simulator") if i.path == "simulator/web/app.py"}
    assert "aiohttp" in found
    assert "aiohttp.web" in found
    assert "simulator.engine" in found  # `from ..engine import Core`, resolved


def test_walker_finds_the_function_level_simulator_import_of_the_cli() -> None:
    assert any(i.top == "simulator" for i in project_imports("harness") if i.path == "harness/cli.py")


def test_walker_covers_the_whole_simulator_package() -> None:
    paths = {rel.as_posix() for rel in python_files("simulator")}
    assert {
        "simulator/__init__.py",
        "simulator/engine.py",
        "simulator/orders/model.py",
        "simulator/web/app.py",
    } <= paths


def test_every_project_root_includes_the_packages_and_skips_hidden_folders() -> None:
    roots = every_project_root()
    assert {"simulator", "harness", "tests"} <= set(roots)
    assert not any(r.startswith(".") for r in roots)


SAMPLE = """
from __future__ import annotations
import os.path
from typing import TYPE_CHECKING
from ..engine import Core
from . import gates
from .. import web
import importlib

if TYPE_CHECKING:
    from aiohttp import web as aioweb

def later():
    import harness.cli._main
    importlib.import_module("locust")
    __import__("gevent")
"""


@pytest.mark.parametrize(
    "module",
    [
        "os.path",
        "simulator.engine",
        "simulator.orders.gates",
        "simulator.web",
        "aiohttp",
        "aiohttp.web",
        "harness.cli",
        "locust",
        "gevent",
    ],
)
def test_walker_finds_imports_wherever_they_are(module: str) -> None:
    found = {i.module for i in imports_of(SAMPLE, Path("simulator/orders/service.py"))}
    assert module in found


def test_walker_resolves_relative_imports_in_a_package_init() -> None:
    found = {i.module for i in imports_of("from .config import SimConfig\n", Path("simulator/__init__.py"))}
    assert "simulator.config" in found


def test_walker_reports_file_and_line() -> None:
    [hit] = [i for i in imports_of(SAMPLE, Path("simulator/orders/service.py")) if i.module == "locust"]
    assert str(hit) == "simulator/orders/service.py:15 imports locust"


PURE_HARNESS = ("harness/model.py", "harness/checkers.py", "harness/stats.py", "harness/gates.py", "harness/bodies.py")
"""Reused by the locust profiles under gevent: no event loop, no HTTP client, nothing but each other."""


def test_checkers_and_their_data_stay_pure() -> None:
    pure_modules = {module_name(Path(p)) for p in PURE_HARNESS}

    def allowed(module: str) -> bool:
        # `from .model import X` is walked as both `harness.model` and `harness.model.X`.
        return module == "harness" or any(module == m or module.startswith(m + ".") for m in pure_modules)

    forbidden = {"asyncio", "aiohttp", "simulator", "locust", "gevent"}
    bad = [
        str(i)
        for i in project_imports("harness")
        if i.path in PURE_HARNESS and (i.top in forbidden or (i.top == "harness" and not allowed(i.module)))
    ]
    assert bad == [], "checkers, stats and gates must import only the pure model (locust profiles reuse them)"


def test_the_pure_rule_sees_the_pure_modules() -> None:
    seen = {i.path for i in project_imports("harness")}
    assert set(PURE_HARNESS) <= seen


def test_importing_the_checkers_loads_no_event_loop_and_no_http_client() -> None:
    probe = (
        "import sys, harness, harness.judge.checkers, harness.judge.gates, harness.judge.stats; "
        "loaded = sorted(m for m in ('asyncio', 'aiohttp', 'simulator', 'rich') if m in sys.modules); "
        "print(','.join(loaded))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_the_package_still_offers_the_runner_on_first_use() -> None:
    import harness

    assert harness.run_specs.__module__ == "harness.drive.runner"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = harness.nothing  # type: ignore[attr-defined]
