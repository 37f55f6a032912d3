"""The one-way layers of docs/architecture.md, checked by walking the source's AST (no module is imported).

The rules are the document's tables (package | owns | may import | never imports): this file reads them and applies
them to every module under `harness/` and `simulator/`, so the document and the code cannot drift apart. Two more
rules hold for the whole repository: only files under `scenarios/load/` import `locust`; no module under `tests/`
imports a test module (`test_*.py`).

Every import counts, wherever it is: module level, inside a function, under `if TYPE_CHECKING:`, relative
(`from ..web import app`), or `importlib.import_module("...")` / `__import__("...")` with a literal name.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
RACELAB = ("harness", "simulator")
"""The packages whose modules the tables govern."""
FACE = "simulator.__all__"
"""The table's name for `from simulator import NAME`, NAME in `simulator/__init__.py`'s `__all__`."""
EVERYTHING = "harness"
"""The table's name for the whole harness (an entry point may import any of it)."""


# -- the walker ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Import:
    path: str
    """The importing file, relative to the repository root, with forward slashes."""
    module: str
    """Absolute dotted name (relative imports resolved; `from pkg import sub` is `pkg.sub` when `sub` is a module)."""
    line: int
    names: tuple[str, ...] = ()
    """What `from module import a, b` takes from the module itself (not its submodules)."""

    @property
    def top(self) -> str:
        return self.module.split(".")[0]

    def __str__(self) -> str:
        what = f"{self.module} ({', '.join(self.names)})" if self.names else self.module
        return f"{self.path}:{self.line} imports {what}"


def module_name(rel: Path) -> str:
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def module_file(module: str, root: Path = ROOT) -> str | None:
    """The repository file (or namespace folder) of a dotted module name, relative to `root`; None if none is."""
    base = Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py", base):
        if (root / candidate).exists():
            return candidate.as_posix() + ("/" if (root / candidate).is_dir() else "")
    return None


def imports_of(source: str, rel: Path, root: Path = ROOT) -> Iterator[Import]:
    """Every module the file at `rel` (relative to `root`) imports."""
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
            names = []
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if module_file(sub, root) is not None:  # `from . import web` imports the submodule `web`
                    yield Import(path, sub, node.lineno)
                else:
                    names.append(alias.name)
            if names:
                yield Import(path, target, node.lineno, tuple(names))
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


def public_face(init: Path) -> frozenset[str]:
    """The names a package's `__init__.py` lists in `__all__` (read from its source)."""
    for node in ast.walk(ast.parse(init.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets) and node.value is not None:
                return frozenset(ast.literal_eval(node.value))
    return frozenset()


# -- the rules, read from docs/architecture.md --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    package: str
    """A folder (`harness/cli/`) or a file (`harness/errors.py`), relative to the repository root."""
    may_import: tuple[str, ...]
    never_imports: tuple[str, ...]

    def covers(self, path: str) -> bool:
        return path == self.package or (self.package.endswith("/") and path.startswith(self.package))


def read_rows(text: str) -> list[Row]:
    """The rows of every table in `text` whose header is `| package | owns | may import | never imports |`."""
    rows: list[Row] = []
    header: list[str] | None = None
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if set(line) <= set("|-: ") or header[:1] != ["package"]:
            continue
        cell = dict(zip(header, cells, strict=True))
        [package] = _names(cell["package"])
        rows.append(Row(package, _names(cell["may import"]), _names(cell["never imports"])))
    return rows


def _names(cell: str) -> tuple[str, ...]:
    """The backticked names of a cell; the text around them is commentary."""
    return tuple(re.findall(r"`([^`]+)`", cell))


def row_of(path: str, rows: Iterable[Row]) -> Row | None:
    """The row of the longest `package` that covers `path`."""
    covering = [r for r in rows if r.covers(path)]
    return max(covering, key=lambda r: len(r.package), default=None)


def _within(module: str, name: str) -> bool:
    return module == name or module.startswith(name + ".")


def violations(imports: Iterable[Import], rows: list[Row], face: frozenset[str], root: Path = ROOT) -> list[str]:
    """Every import that breaks its row: a module it never imports, or a racelab module of another row that it may
    not import."""
    bad = []
    for imp in imports:
        row = row_of(imp.path, rows)
        if row is None:
            bad.append(f"{imp.path}: in no row of docs/architecture.md")
            continue
        if any(_within(imp.module, never) for never in row.never_imports):
            bad.append(f"{imp} (the {row.package} row never imports it)")
            continue
        if imp.top not in RACELAB:
            continue
        target = module_file(imp.module, root)
        if target is not None and row_of(target, rows) == row:
            continue
        allowed = any(
            (imp.module == "simulator" and set(imp.names) <= face) if item == FACE else _within(imp.module, item)
            for item in row.may_import
        )
        if not allowed:
            bad.append(f"{imp} (the {row.package} row may import only {', '.join(row.may_import) or 'its own'})")
    return bad


ROWS = read_rows(ARCHITECTURE.read_text(encoding="utf-8"))
SIMULATOR_FACE = public_face(ROOT / "simulator" / "__init__.py")


def rows_under(top: str) -> list[Row]:
    return [r for r in ROWS if r.package.startswith(f"{top}/")]


# -- the code follows the tables ----------------------------------------------------------------------------------


def test_every_import_of_harness_and_simulator_follows_docs_architecture() -> None:
    bad = violations(project_imports(*RACELAB), ROWS, SIMULATOR_FACE)
    assert bad == [], "imports that break docs/architecture.md (change the code, or the table with a reason):\n" + (
        "\n".join(bad)
    )


def test_every_module_belongs_to_a_row() -> None:
    orphans = [rel.as_posix() for rel in python_files(*RACELAB) if row_of(rel.as_posix(), ROWS) is None]
    assert orphans == [], "add a row to docs/architecture.md for these"


def test_every_row_and_every_name_it_allows_exists() -> None:
    missing = [r.package for r in ROWS if not (ROOT / r.package).exists()]
    missing += [
        f"{r.package}: may import {name}"
        for r in ROWS
        for name in r.may_import
        if name != FACE and module_file(name) is None
    ]
    assert missing == [], "docs/architecture.md names what is not there"


def test_the_only_locust_imports_are_the_load_profiles() -> None:
    bad = [
        str(i)
        for i in project_imports(*every_project_root())
        if i.top == "locust" and not i.path.startswith("scenarios/load/")
    ]
    assert bad == [], "importing locust monkey-patches the process with gevent; keep it under scenarios/load/"


def test_no_module_under_tests_imports_a_test_module() -> None:
    bad = [
        str(i)
        for i in project_imports("tests")
        if i.top == "tests" and any(part.startswith("test_") for part in i.module.split("."))
    ]
    assert bad == [], "what tests share goes to tests/support/ (or a conftest.py), never into a test module"


# -- the tables keep the design's rules (so a row cannot quietly loosen one) ---------------------------------------


def test_the_tables_are_read() -> None:
    packages = {r.package for r in ROWS}
    assert {"harness/cli/", "harness/model/", "harness/judge/", "simulator/web/", "simulator/contract/"} <= packages
    assert len(packages) == len(ROWS), "a package has two rows"


def test_the_simulator_never_imports_the_harness() -> None:
    for row in rows_under("simulator"):
        assert not any(_within(name, "harness") for name in row.may_import), row
        assert "harness" in row.never_imports, row


def test_aiohttp_is_the_web_layers_alone() -> None:
    for row in rows_under("simulator"):
        if row.package != "simulator/web/":
            assert "aiohttp" in row.never_imports, row


def test_the_harness_reaches_the_simulator_through_its_contract_or_its_public_face() -> None:
    # calibrate loads the base profile and checks the profile it writes (`simulator.load_profile`)
    embedders = {"harness/cli/", "harness/pytest_plugin.py", "harness/bench/", "harness/virtual/", "harness/calibrate/"}
    for row in rows_under("harness"):
        from_simulator = {n for n in row.may_import if _within(n, "simulator") or n == FACE}
        assert from_simulator <= {"simulator.contract", FACE}, row
        if FACE in from_simulator:
            assert row.package in embedders, f"{row.package} may not embed the simulator"


@pytest.mark.parametrize("package", ["harness/model/", "harness/judge/", "harness/integrations/"])
def test_the_pure_layers_import_no_event_loop_and_no_http_client(package: str) -> None:
    [row] = [r for r in ROWS if r.package == package]
    assert {"asyncio", "aiohttp"} <= set(row.never_imports)
    assert not any(_within(n, "harness.drive") or n == EVERYTHING for n in row.may_import)


def test_importing_the_pure_layers_loads_no_event_loop_no_http_client_and_no_simulator() -> None:
    probe = (
        "import sys, harness, harness.model, harness.judge.checkers, harness.judge.gates, harness.judge.stats; "
        "import harness.integrations.flow, harness.integrations.api; "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('asyncio', 'aiohttp', 'rich') "
        "or (m.startswith('simulator.') and not m.startswith('simulator.contract'))); "
        "print(','.join(loaded))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_the_package_still_offers_the_runner_on_first_use() -> None:
    import harness

    assert harness.run_specs.__module__ == "harness.drive.runner"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = harness.nothing


# -- the checker and the walker see what they must (so the rules above can fail) ----------------------------------

TABLE = """
| package | owns | may import | never imports |
|---|---|---|---|
| `harness/cli/` | the command | `harness`, `simulator.__all__` | |
| `harness/model/` | records | `simulator.contract` (the contract) | `asyncio`, `aiohttp` |
| `harness/errors.py` | errors | | |
| `simulator/` | the domain | `simulator.contract` | `aiohttp`, `harness` |
| `simulator/web/` | the transport | `simulator.engine` | `harness` |

| other | table |
|---|---|
| `harness/x/` | ignored |
"""


def test_a_table_is_read_into_rows() -> None:
    rows = read_rows(TABLE)
    assert [r.package for r in rows] == [
        "harness/cli/",
        "harness/model/",
        "harness/errors.py",
        "simulator/",
        "simulator/web/",
    ]
    assert rows[1].may_import == ("simulator.contract",)
    assert rows[1].never_imports == ("asyncio", "aiohttp")
    assert rows[2].may_import == ()


def test_a_module_belongs_to_its_longest_row() -> None:
    rows = read_rows(TABLE)
    assert row_of("simulator/web/app.py", rows) == rows[4]
    assert row_of("simulator/engine.py", rows) == rows[3]
    assert row_of("harness/errors.py", rows) == rows[2]
    assert row_of("harness/output/table.py", rows) is None


@pytest.mark.parametrize(
    ("source", "path", "verdict"),
    [
        ("import asyncio\n", "harness/model/records.py", "never imports"),
        ("from aiohttp import web\n", "simulator/orders/service.py", "never imports"),
        ("from harness.drive import runner\n", "harness/model/records.py", "may import only simulator.contract"),
        ("from simulator.web.app import create_app\n", "harness/cli/run.py", "may import only"),
        ("from simulator import nothing_public\n", "harness/cli/run.py", "may import only"),
        ("from ..web import app\n", "simulator/orders/service.py", "may import only"),
        ("from harness.errors import UsageError\n", "harness/cli/run.py", None),
        ("from simulator import ConfigError\n", "harness/cli/run.py", None),
        ("from simulator.contract.timing import Fixed\n", "harness/model/records.py", None),
        ("from ..engine import Core\n", "simulator/orders/service.py", None),
        ("import json\n", "harness/model/records.py", None),
    ],
)
def test_the_checker_refuses_what_the_table_does_not_allow(source: str, path: str, verdict: str | None) -> None:
    found = violations(imports_of(source, Path(path)), read_rows(TABLE), frozenset({"ConfigError"}))
    if verdict is None:
        assert found == []
    else:
        [problem] = found
        assert verdict in problem
        assert problem.startswith(f"{path}:1 imports ")


def test_the_checker_names_a_module_outside_every_row() -> None:
    [problem] = violations(imports_of("import json\n", Path("harness/output/table.py")), read_rows(TABLE), frozenset())
    assert problem == "harness/output/table.py: in no row of docs/architecture.md"


def test_the_walker_finds_the_aiohttp_import_of_the_web_layer() -> None:
    found = {i.module for i in project_imports("simulator") if i.path == "simulator/web/app.py"}
    assert "aiohttp" in found
    assert "simulator.engine" in found  # `from ..engine import Core`, resolved


def test_the_walker_finds_the_function_level_simulator_import_of_the_cli() -> None:
    assert any(i.module == "simulator" and "load_profile" in i.names for i in project_imports("harness/cli"))


def test_the_walker_covers_the_whole_of_both_packages() -> None:
    paths = {rel.as_posix() for rel in python_files(*RACELAB)}
    assert {"simulator/__init__.py", "simulator/engine.py", "simulator/web/app.py", "harness/cli/__init__.py"} <= paths
    assert {"simulator", "harness", "tests"} <= set(every_project_root())
    assert not any(r.startswith(".") for r in every_project_root())


SAMPLE = """
from __future__ import annotations
import os.path
from typing import TYPE_CHECKING
from ..engine import Core
from . import model
from .. import web, errors as e
import importlib

if TYPE_CHECKING:
    from aiohttp import web as aioweb

def later():
    import harness.cli
    importlib.import_module("locust")
    __import__("gevent")
"""


@pytest.mark.parametrize(
    "module",
    [
        "os.path",
        "simulator.engine",
        "simulator.orders.model",
        "simulator.web",
        "simulator.errors",
        "aiohttp",
        "harness.cli",
        "locust",
        "gevent",
    ],
)
def test_the_walker_finds_imports_wherever_they_are(module: str) -> None:
    found = {i.module for i in imports_of(SAMPLE, Path("simulator/orders/service.py"))}
    assert module in found


def test_the_walker_takes_from_a_package_the_submodules_as_modules_and_the_rest_as_names() -> None:
    found = list(imports_of("from harness import errors, run_specs\n", Path("harness/cli/run.py")))
    assert [(i.module, i.names) for i in found] == [("harness.errors", ()), ("harness", ("run_specs",))]


def test_the_walker_resolves_relative_imports_in_a_package_init() -> None:
    found = {i.module for i in imports_of("from .config import SimConfig\n", Path("simulator/__init__.py"))}
    assert "simulator.config" in found


def test_the_walker_reports_file_and_line() -> None:
    [hit] = [i for i in imports_of(SAMPLE, Path("simulator/orders/service.py")) if i.module == "locust"]
    assert str(hit) == "simulator/orders/service.py:15 imports locust"


def test_the_test_module_rule_sees_a_test_module_import() -> None:
    found = list(imports_of("from .test_data import sweep\n", Path("tests/report/test_build.py")))
    assert [i.module for i in found] == ["tests.report.test_data"]
