"""Using racelab from a project of one's own, in this process: where profile names and built-in scenarios are found,
`racelab init`, `racelab run` with nothing to run, commands whose extra is missing, and the declared dependencies
against what the code imports. tests/install/test_wheel.py does the same end to end from an installed wheel."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import re
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from harness import cli
from harness.errors import InvalidScenario
from harness.resources import builtin_scenario_names, resolve_scenario_ref
from simulator import ConfigError
from simulator.config import PROFILE_PATH_ENV, builtin_profile_dir, known_profiles, load_profile

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]


def write_profile(folder: Path, name: str, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(f"seed: {seed}\n")


# -- profiles -----------------------------------------------------------------------------------------------------


def test_builtin_profiles_come_from_the_checkout_scenarios_folder() -> None:
    assert builtin_profile_dir() == ROOT / "scenarios" / "profiles"


def test_a_name_is_found_in_the_env_path_then_the_project_then_racelab(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_profile(tmp_path / "scenarios" / "profiles", "default", 42)
    write_profile(tmp_path / "scenarios" / "profiles", "fixed", 43)
    write_profile(tmp_path / "elsewhere", "fixed", 44)
    monkeypatch.setenv(PROFILE_PATH_ENV, str(tmp_path / "elsewhere"))
    assert load_profile("default").seed == 42  # the project's replaces racelab's
    assert load_profile("fixed").seed == 44  # RACELAB_PROFILE_PATH comes first
    assert load_profile("instant").seed == 0  # racelab's own still found
    origins = [(p.name, p.origin) for p in known_profiles() if p.name in {"default", "fixed"}]
    assert origins == [
        ("fixed", PROFILE_PATH_ENV),
        ("default", "project"),
        ("fixed", "project"),
        ("default", "built-in"),
        ("fixed", "built-in"),
    ]


def test_search_folders_come_first_and_an_unknown_name_lists_every_known_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_profile(tmp_path / "root" / "profiles", "mine", 7)
    assert load_profile("mine", search=[tmp_path / "root" / "profiles"]).seed == 7
    with pytest.raises(ConfigError, match=r"no profile named 'mine'; known profiles: default, default-x10, faults"):
        load_profile("mine")


def test_list_profiles_marks_the_shadowed_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_profile(tmp_path / "scenarios" / "profiles", "default", 42)
    assert cli.main(["serve", "--list-profiles"]) == cli.EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["profile", "from", "file"]
    assert lines[1].split() == ["default", "project", str(tmp_path / "scenarios" / "profiles" / "default.yaml")]
    shadowed = next(line for line in lines if line.startswith("default ") and "built-in" in line)
    assert shadowed.endswith("(shadowed by the project one)")


def test_the_plugin_finds_a_project_profile_under_rootdir_from_another_directory(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    write_profile(pytester.path / "scenarios" / "profiles", "mine", 77)
    pytester.makepyfile(
        test_inner=textwrap.dedent(
            """
            async def test_mine(racelab_simulator):
                sim = racelab_simulator("mine")
                assert (await sim.config())["seed"] == 77
            """
        )
    )
    elsewhere = pytester.mkdir("elsewhere")
    monkeypatch.chdir(elsewhere)
    result = pytester.runpytest_subprocess(str(pytester.path), "-p", "no:locust", "-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=1)


# -- built-in scenarios ---------------------------------------------------------------------------------------------


def test_builtin_references_name_the_checkout_files() -> None:
    assert resolve_scenario_ref("builtin:over-invoice") == ROOT / "scenarios" / "over-invoice.yaml"
    assert resolve_scenario_ref("builtin:examples/external") == ROOT / "scenarios" / "examples" / "external.yaml"
    assert resolve_scenario_ref(Path("scenarios/x.yaml")) == Path("scenarios/x.yaml")
    assert "over-invoice" in builtin_scenario_names()
    with pytest.raises(InvalidScenario, match=r"no built-in scenario 'builtin:nope'; built-in scenarios: .*over-inv"):
        resolve_scenario_ref("builtin:nope")


def test_run_without_scenarios_here_says_how_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scenarios" / "profiles").mkdir(parents=True)  # a folder, but no scenario in it
    assert cli.main(["run"]) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"no scenarios to run: {tmp_path / 'scenarios'} has no scenario files" in err
    assert "racelab init" in err
    assert "racelab run --builtin" in err
    assert "racelab run builtin:over-invoice" in err


# -- racelab init ---------------------------------------------------------------------------------------------------

STARTER = [
    "scenarios/invoice-vs-change.yaml",
    "scenarios/profiles/race.yaml",
    "tests/test_race.py",
    ".github/workflows/racelab.yml",
]


def test_init_writes_the_starter_project(tmp_path: Path) -> None:
    assert cli.main(["init", str(tmp_path), "--requirement", "racelab[pytest] @ git+https://example.test/r.git"]) == 0
    assert all((tmp_path / f).is_file() for f in STARTER)
    assert "asyncio_default_fixture_loop_scope = function" in (tmp_path / "pytest.ini").read_text()
    workflow = (tmp_path / ".github" / "workflows" / "racelab.yml").read_text()
    assert 'RACELAB: "racelab[pytest] @ git+https://example.test/r.git"' in workflow
    assert "{racelab_requirement}" not in workflow


def test_init_leaves_an_existing_pytest_configuration_alone(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    assert cli.main(["init", str(tmp_path)]) == 0
    assert not (tmp_path / "pytest.ini").exists()


def test_init_never_overwrites_and_then_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_race.py").write_text("# mine\n")
    assert cli.main(["init", str(tmp_path)]) == cli.EXIT_BAD_INPUT
    assert "nothing was written: tests/test_race.py" in capsys.readouterr().err
    assert (tmp_path / "tests" / "test_race.py").read_text() == "# mine\n"
    assert not (tmp_path / "scenarios").exists()


# -- extras and dependencies ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("command", "module"), [("explore", "hypothesis"), ("load", "locust")])
def test_a_missing_extra_exits_2_with_the_install_command(
    command: str, module: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a))
    args = [command, "builtin:over-invoice", "--out", "m.yaml"] if command == "explore" else [command, "race"]
    assert cli.main(args) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"racelab {command} needs {module}, which is not installed" in err
    assert f"pip install 'racelab[{command}]'" in err
    assert f"uv pip install '{module}>=" in err  # the requirement as the installed metadata declares it


def _third_party_imports(folder: Path) -> dict[str, set[str]]:
    """Top-level module → the files (relative to ROOT) that import it, for every module outside the stdlib."""
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in {"simulator", "harness", "_racelab"}:
                    found.setdefault(top, set()).add(path.relative_to(ROOT).as_posix())
    return found


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def _names(requirements: list[str]) -> set[str]:
    return {_normal(re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0]) for r in requirements}


def test_declared_dependencies_are_what_the_code_imports() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _names(project["dependencies"])
    extras = {extra: _names(reqs) for extra, reqs in project["optional-dependencies"].items()}
    dists = importlib.metadata.packages_distributions()
    # Where an extra's module may be imported: only the command that needs it (and the starter test for pytest).
    optional = {
        "hypothesis": ("explore", {"harness/virtual/explore.py"}),
        "pytest": ("pytest", {"harness/pytest_plugin.py", "harness/starter/test_race.py"}),
        "scipy": ("calibrate", {"harness/calibrate/fit.py", "harness/calibrate/lags.py"}),
    }
    used = set()
    imports = _third_party_imports(ROOT / "simulator")
    for module, files in _third_party_imports(ROOT / "harness").items():
        imports.setdefault(module, set()).update(files)
    for module, files in imports.items():
        dist = {_normal(d) for d in dists[module]}
        if module in optional:
            extra, allowed = optional[module]
            assert dist <= extras[extra], (module, extra)
            assert files <= allowed, f"{module} is an optional extra; imported by {sorted(files - allowed)}"
        else:
            assert dist & runtime, f"{module} ({dist}) is imported by {sorted(files)} but is not a runtime dependency"
        used |= dist
    assert runtime <= used, f"runtime dependencies nothing imports: {sorted(runtime - used)}"
    locust_users = _third_party_imports(ROOT / "scenarios" / "load")  # run by locust: its own dependencies
    assert set(locust_users) <= {"locust", "gevent"}
    assert {_normal(d) for d in dists["locust"]} <= extras["load"]


def test_init_into_a_file_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("mine\n")
    assert cli.main(["init", str(target)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert target.read_text() == "mine\n"
