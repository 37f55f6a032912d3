"""racelab installed as a user installs it: the wheel `uv build` makes, in fresh virtual environments in a temporary
folder outside the repository, every command run there from a folder of its own (never the checkout).

Two environments, both from the lock (`uv export --format pylock.toml`) and uv's cache, offline; when the cache
lacks something the same step is retried with the index:

- `bare`: the wheel alone, with exactly its runtime dependencies. `racelab serve` with every built-in profile (read
  /_sim/health, stop by pid), `racelab serve --list-profiles`, `racelab run` of a built-in scenario then `racelab
  replay` of one of its runs and `racelab report` of it, `racelab run` where there are no scenarios, and `racelab
  explore` / `racelab load` without their extras (exit 2, the install command, no traceback).
- `full`: the wheel with its `explore`, `load` and `pytest` extras. `racelab init`, then `pytest` on the generated
  project (its race tests start simulators through the plugin and see the race), `racelab run` of its scenario (the
  gates pass), `racelab explore` of it (a violation found, shrunk and written) and `racelab load race` on it (locust
  runs the installed locust profile).

Wall time on the project's 2-core machine: 40-50 s (the build ~2 s, each environment ~1 s from the cache, the
commands the rest: in the generated project pytest ~7 s, run ~9 s, load ~8 s, explore ~2 s; the built-in run with
replay and report ~12 s; serve with every profile ~3 s). Marked slow; `make test` runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PROFILES = sorted(p.stem for p in (ROOT / "scenarios" / "profiles").glob("*.yaml"))


def _uv() -> str:
    found = ROOT / ".tools" / "bin" / "uv"  # the Makefile's pinned uv
    return str(found) if found.is_file() else (shutil.which("uv") or pytest.fail("no uv: run `make` once"))


def _python() -> str:
    """The machine's Python 3.11 (not this virtual environment's)."""
    return shutil.which("python3.11") or sys._base_executable


def _clean_env() -> dict[str, str]:
    """This process's environment without what ties a child to the checkout's virtual environment."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT)))
    return env


def _uv_step(*args: str, cwd: Path) -> None:
    """A uv command offline (lock + cache); again with the index if the cache lacks something."""
    offline = subprocess.run([_uv(), *args, "--offline"], cwd=cwd, capture_output=True, text=True, timeout=600)
    if offline.returncode == 0:
        return
    online = subprocess.run([_uv(), *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert online.returncode == 0, f"uv {' '.join(args)}:\n{offline.stderr}\n{online.stderr}"


@dataclass(frozen=True, slots=True)
class Venv:
    root: Path
    home: Path
    """A folder outside the repository to run commands in."""

    @property
    def python(self) -> str:
        return str(self.root / "bin" / "python")

    @property
    def racelab(self) -> str:
        return str(self.root / "bin" / "racelab")

    def run(self, *args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        env = {**_clean_env(), "PATH": f"{self.root / 'bin'}{os.pathsep}{_clean_env()['PATH']}"}
        return subprocess.run(
            [self.racelab, *args], cwd=cwd or self.home, env=env, capture_output=True, text=True, timeout=timeout
        )


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("install")
    assert not folder.resolve().is_relative_to(ROOT), "the environments must live outside the repository"
    return folder


@pytest.fixture(scope="module")
def wheel(work: Path) -> Path:
    """`uv build`: the sdist, then the wheel built from it (so the sdist must be complete too)."""
    _uv_step("build", "--out-dir", str(work / "dist"), str(ROOT), cwd=work)
    (built,) = (work / "dist").glob("racelab-*.whl")
    return built


def _venv(work: Path, wheel: Path, name: str, extras: Sequence[str]) -> Venv:
    lock = work / f"pylock.{name}.toml"
    export = ["export", "--frozen", "--format", "pylock.toml", "--no-dev", "--no-emit-project", "-q", "-o", str(lock)]
    _uv_step(*export, *(a for e in extras for a in ("--extra", e)), cwd=ROOT)
    root = work / name
    _uv_step("venv", "-q", "--python", _python(), str(root), cwd=work)
    _uv_step("pip", "install", "-q", "--python", str(root / "bin" / "python"), "-r", str(lock), cwd=work)
    spec = f"racelab[{','.join(extras)}] @ {wheel.as_uri()}" if extras else str(wheel)
    _uv_step("pip", "install", "-q", "--python", str(root / "bin" / "python"), spec, cwd=work)
    check = subprocess.run(
        [_uv(), "pip", "check", "--python", str(root / "bin" / "python")], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr
    home = work / f"{name}-home"
    home.mkdir()
    return Venv(root, home)


@pytest.fixture(scope="module")
def bare(work: Path, wheel: Path) -> Venv:
    return _venv(work, wheel, "bare", [])


@pytest.fixture(scope="module")
def full(work: Path, wheel: Path) -> Venv:
    return _venv(work, wheel, "full", ["explore", "load", "pytest"])


def test_the_wheel_carries_every_builtin_file_once(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(["git", "ls-files", "scenarios"], cwd=ROOT, capture_output=True, text=True, check=True)
    for path in tracked.stdout.split():
        if path.startswith("scenarios/profiles/"):
            assert f"simulator/profiles/{path.removeprefix('scenarios/profiles/')}" in names
            assert f"harness/builtin/{path}" not in names
        else:
            assert f"harness/builtin/{path}" in names
    assert {f"harness/starter/{n}" for n in ("scenario.yaml", "profile.yaml", "test_race.py", "workflow.yml")} <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def _serve(venv: Venv, profile: str) -> subprocess.Popen[str]:
    env = {**_clean_env(), "PATH": f"{venv.root / 'bin'}{os.pathsep}{_clean_env()['PATH']}"}
    return subprocess.Popen(
        [venv.racelab, "serve", "--port", "0", "--profile", profile],
        cwd=venv.home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def servers(bare: Venv) -> Iterator[dict[str, subprocess.Popen[str]]]:
    started = {name: _serve(bare, name) for name in PROFILES}  # all at once: each takes a second to import
    try:
        yield started
    finally:
        for proc in started.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)


def test_serve_starts_with_every_builtin_profile(servers: dict[str, subprocess.Popen[str]]) -> None:
    assert len(servers) >= 5
    for name, proc in servers.items():
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until it listens, or returns "" if it exited
        assert first.startswith("racelab simulator listening on http://127.0.0.1:"), (name, first, proc.stderr)
        url = first.rsplit(" ", 1)[1].strip()
        with urllib.request.urlopen(f"{url}/_sim/health", timeout=30) as resp:
            assert resp.status == 200, name
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, (name, err)


def test_list_profiles_shows_the_builtin_ones_from_the_installed_package(bare: Venv) -> None:
    done = bare.run("serve", "--list-profiles")
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()[1:]]
    assert sorted(r[0] for r in rows) == PROFILES
    for _name, origin, path in rows:
        assert origin == "built-in"
        assert Path(path).is_relative_to(bare.root), path
        assert Path(path).parent.name == "profiles", path


def test_run_of_a_builtin_scenario_passes_its_gates_then_replay_and_report(bare: Venv) -> None:
    done = bare.run("run", "builtin:over-invoice", "--runs", "1", "--out", "results")
    assert done.returncode == 0, done.stdout + done.stderr
    latest = bare.home / "results" / "latest"
    summary = json.loads((latest / "summary.json").read_text())
    assert summary["passed"] is True
    assert (latest / "junit.xml").is_file()
    assert (latest / "report.html").stat().st_size > 10_000

    first = json.loads((latest / "runs.jsonl").read_text().splitlines()[0])
    replayed = bare.run("replay", "results/latest", "--run", f"{first['scenario']}/{first['run_id']}")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "reproduced" in replayed.stdout
    rebuilt = bare.run("report", "results/latest", "--out", "again.html")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert (bare.home / "again.html").stat().st_size > 10_000


def test_run_builtin_runs_the_whole_builtin_suite(bare: Venv) -> None:
    done = bare.run("run", "--builtin", "--mode", "virtual", "--runs", "1", "--out", "suite")
    assert done.returncode in (0, 1), done.stdout + done.stderr  # one run per point: a canary may miss (exit 1)
    summary = json.loads((bare.home / "suite" / "latest" / "summary.json").read_text())
    ran = {gate["scenario"] for gate in summary["gates"]}
    assert ran == {p.stem for p in (ROOT / "scenarios").glob("*.yaml")}


def test_run_without_scenarios_says_how_to_start(bare: Venv) -> None:
    done = bare.run("run")
    assert done.returncode == 2
    assert "no scenarios to run" in done.stderr
    assert "racelab init" in done.stderr
    assert "racelab run --builtin" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "module", "extra"),
    [
        (["explore", "builtin:over-invoice", "--out", "m.yaml", "--budget", "1"], "hypothesis", "explore"),
        (["load", "race", "-t", "1s"], "locust", "load"),
    ],
)
def test_a_command_without_its_extra_exits_2_with_the_install_command(
    bare: Venv, args: list[str], module: str, extra: str
) -> None:
    done = bare.run(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"needs {module}, which is not installed" in done.stderr
    assert f"pip install 'racelab[{extra}]'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (bare.home / "m.yaml").exists()


@pytest.fixture(scope="module")
def project(full: Venv) -> Path:
    """`racelab init` in a new folder of the `full` environment."""
    folder = full.home / "qa-project"
    folder.mkdir()
    done = full.run("init", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder


def test_init_writes_the_starter_and_never_overwrites(full: Venv, project: Path) -> None:
    expected = [
        "scenarios/invoice-vs-change.yaml",
        "scenarios/profiles/race.yaml",
        "tests/test_race.py",
        ".github/workflows/racelab.yml",
        "pytest.ini",
    ]
    assert all((project / f).is_file() for f in expected)
    again = full.run("init", cwd=project)
    assert again.returncode == 2
    assert "tests/test_race.py" in again.stderr


def test_pytest_on_the_generated_project_sees_the_race(full: Venv, project: Path) -> None:
    env = {**_clean_env(), "PATH": f"{full.root / 'bin'}{os.pathsep}{_clean_env()['PATH']}"}
    tests = subprocess.run(
        [full.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout


def test_run_and_list_profiles_in_the_generated_project(full: Venv, project: Path) -> None:
    gates = full.run("run", cwd=project)
    assert gates.returncode == 0, gates.stdout + gates.stderr
    assert "PASS invoice-vs-change · naive" in gates.stdout
    listed = full.run("serve", "--list-profiles", cwd=project)
    assert any(line.split()[:2] == ["race", "project"] for line in listed.stdout.splitlines()), listed.stdout


def test_explore_of_the_generated_scenario_finds_and_writes_the_race(full: Venv, project: Path) -> None:
    found = full.run(
        "explore",
        "scenarios/invoice-vs-change.yaml",
        "--integration",
        "naive",
        "--budget",
        "20",
        "--out",
        "minimal.yaml",
        cwd=project,
    )
    assert found.returncode == 1, found.stdout + found.stderr  # 1: a violation found and written
    assert "no-over-invoice" in found.stdout
    assert (project / "minimal.yaml").is_file()


def test_load_of_the_generated_scenario_runs_locust_from_the_installed_profile(full: Venv, project: Path) -> None:
    done = full.run(
        "load",
        "race",
        "--scenario",
        "scenarios/invoice-vs-change.yaml",
        "-u",
        "2",
        "-r",
        "2",
        "-t",
        "60s",
        "--iterations",
        "1",
        "--max-violations",
        "naive=inf,workaround=0",
        "--out",
        "load",
        "NaiveUser",
        "WorkaroundUser",
        cwd=project,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [folder] = (project / "load").iterdir()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["tally"]["runs"] == {"naive": 1, "workaround": 1}
    assert summary["passed"] is True
