"""The result folder of a run of scenarios, and the end-of-run console table.

Owns: `open_result_dir` (a new, unique `<root>/<YYYYmmdd-HHMMSS>-<slug>/` that cannot escape `root`),
`build_summary` (the aggregates, gate results and statistics, as `summary.json` holds them), `write_results`
(`runs.jsonl`, `junit.xml`, `inputs/`, `summary.json`, then `<root>/latest`), `read_runs` (the runs back from
`runs.jsonl`, for replay and reports) and `render_table`.

Every file is written to a temporary name in the same folder and moved into place with `os.replace`, so a crash
leaves the old file or the new one, never half of one. `summary.json` is written last: a folder that has it is
complete. `latest` is a relative symlink, swapped the same way.

Imports: stdlib, rich, `harness.model`, `harness.stats` and `harness.gates`; never `simulator`.

    folder = open_result_dir(Path("results"), "over-invoice", now=datetime.now())
    write_results(folder, records_with_results=judged, summary=build_summary(judged, gates=gates), inputs={})
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import shlex
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, BinaryIO

from rich.console import Console
from rich.table import Table

from harness.errors import UnsafeResultPath
from harness.judge.gates import GateLike, aggregate, evaluate_gates, run_verdict
from harness.judge.stats import invoice_cost, summarize_skew, summarize_time_to_invoice
from harness.model.records import CheckResult, FinalState, Operation, RunRecord, RunSpec, Step, Verdict

__all__ = [
    "LATEST",
    "UnsafeResultPath",
    "build_summary",
    "junit_xml",
    "open_result_dir",
    "read_runs",
    "render_table",
    "replay_command",
    "run_from_json",
    "run_lines",
    "run_to_json",
    "slugify",
    "write_results",
    "write_timing",
]

LATEST = "latest"
"""The symlink in the results root that points at the newest result folder."""

_MAX_SLUG = 60


def slugify(name: str) -> str:
    """Lower-case `name` and keep only `[a-z0-9-]`: every other run of characters becomes one `-`.

    Args:
        name: Any text, e.g. a scenario name.

    Returns:
        The slug, at most 60 characters; `run` when nothing is left.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:_MAX_SLUG].strip("-")
    return slug or "run"


def _refuse_escape(name: str, what: str) -> None:
    if not name or "\x00" in name:
        raise UnsafeResultPath(f"{what} {name!r} is empty or contains NUL")
    for flavour in (PurePosixPath(name), PureWindowsPath(name)):
        if flavour.is_absolute() or flavour.anchor:
            raise UnsafeResultPath(f"{what} {name!r} is an absolute path; give a plain name")
        if ".." in flavour.parts:
            raise UnsafeResultPath(f"{what} {name!r} climbs out with '..'; give a plain name")


def _inside(path: Path, root: Path) -> Path:
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise UnsafeResultPath(f"{path} resolves to {resolved}, outside {root.resolve()}")
    return resolved


def open_result_dir(root: Path, name: str, *, now: datetime) -> Path:
    """Create a new result folder `<root>/<YYYYmmdd-HHMMSS>-<slug(name)>/`.

    Two folders opened within the same second get `-2`, `-3`, ... suffixes: creation is `mkdir` without
    `exist_ok`, so two processes can never share one.

    Args:
        root: The results root (usually `results/`); created if missing.
        name: What the run is called, e.g. the scenario or suite name. It must be a plain name: no separators,
            no `..`, not absolute.
        now: The timestamp of the folder.

    Returns:
        The new folder, resolved.

    Raises:
        UnsafeResultPath: `name` is a path, or the folder would resolve outside `root`.
    """
    _refuse_escape(name, "result name")
    if "/" in name or "\\" in name:
        raise UnsafeResultPath(f"result name {name!r} contains a path separator; give a plain name")
    root.mkdir(parents=True, exist_ok=True)
    base = f"{now:%Y%m%d-%H%M%S}-{slugify(name)}"
    for attempt in range(1, 10_000):
        folder = root / (base if attempt == 1 else f"{base}-{attempt}")
        _inside(folder, root)
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder.resolve()
    raise FileExistsError(f"could not find a free result folder name for {base} in {root}")


# -- atomic writes ---------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[BinaryIO]:
    """A file written under a temporary name in `path`'s folder, moved onto `path` only once complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; result files are for CI artifacts and colleagues to read
        with open(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _copy_atomic(source: Path, target: Path) -> None:
    with _atomic(target) as out, source.open("rb") as src:
        shutil.copyfileobj(src, out)


def _point_latest(root: Path, folder: Path) -> None:
    """Swap `<root>/latest` to a relative symlink to `folder` (a child of `root`) in one `os.replace`."""
    link = root / LATEST
    tmp = root / f".{LATEST}.{secrets.token_hex(8)}.tmp"
    tmp.symlink_to(folder.name)
    try:
        os.replace(tmp, link)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


# -- JSON --------------------------------------------------------------------------------------------------------------


def _default(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    return repr(value)


def _dumps(value: Any, **kwargs: Any) -> str:
    return json.dumps(value, default=_default, ensure_ascii=False, **kwargs)


def run_to_json(record: RunRecord, results: Sequence[CheckResult]) -> dict[str, Any]:
    """One line of `runs.jsonl`: the spec's fields, history, final state, journal, check results, verdict, error.

    Args:
        record: The run.
        results: Its checkers' results.

    Returns:
        A JSON-ready dict.
    """
    spec, final = record.spec, record.final
    return {
        "run_id": spec.run_id,
        "scenario": spec.scenario,
        "integration": spec.integration,
        "cell": dict(spec.cell),
        "repetition": spec.repetition,
        "seed": spec.seed,
        "order_id": spec.order_id,
        "order": dict(spec.order),
        "steps": [{"at_ms": s.at_ms, "do": s.do, "args": dict(s.args)} for s in spec.steps],
        "expect": list(spec.expect),
        "verdict": run_verdict(record, results).value,
        "error": record.error,
        "results": [r.to_json() for r in results],
        "history": [op.to_json() for op in record.history],
        "final": {
            "order": dict(final.order),
            "versions": [dict(v) for v in final.versions],
            "changes": [dict(c) for c in final.changes],
            "accounting": None if final.accounting is None else dict(final.accounting),
            "settled": final.settled,
        },
        "journal": [dict(entry) for entry in record.journal],
        "origin_s": record.origin_s,
    }


def run_from_json(d: Mapping[str, Any]) -> tuple[RunRecord, tuple[CheckResult, ...]]:
    """The inverse of `run_to_json`: one line of `runs.jsonl` as the run and its checkers' results."""
    spec = RunSpec(
        run_id=d["run_id"],
        scenario=d["scenario"],
        integration=d["integration"],
        cell=d["cell"],
        repetition=d["repetition"],
        seed=d["seed"],
        order_id=d["order_id"],
        order=d["order"],
        steps=tuple(Step(at_ms=s["at_ms"], do=s["do"], args=s["args"]) for s in d["steps"]),
        expect=tuple(d["expect"]),
    )
    f = d["final"]
    final = FinalState(
        order=f["order"],
        versions=tuple(f["versions"]),
        changes=tuple(f["changes"]),
        accounting=f["accounting"],
        settled=f["settled"],
    )
    record = RunRecord(
        spec=spec,
        history=tuple(Operation.from_json(op) for op in d["history"]),
        final=final,
        journal=tuple(d["journal"]),
        error=d["error"],
        origin_s=d["origin_s"],
    )
    results = tuple(
        CheckResult(
            checker=r["checker"],
            verdict=Verdict(r["verdict"]),
            explanation=r["explanation"],
            ops=tuple(r["ops"]),
            details=r["details"],
        )
        for r in d["results"]
    )
    return record, results


def run_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The lines of a `runs.jsonl` (or of a result folder's) as JSON objects, in file order.

    Raises:
        ValueError: a line is not JSON (the file is damaged); the message names the file and the line.
    """
    if path.is_dir():
        path = path / "runs.jsonl"
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError:
                    raise ValueError(f"{path}:{number}: not a JSON line; the file is damaged") from None


def read_runs(path: Path) -> Iterator[tuple[RunRecord, tuple[CheckResult, ...]]]:
    """The runs of a `runs.jsonl` (or of a result folder), as `write_results` wrote them.

    Args:
        path: The file, or the result folder that holds it.

    Yields:
        Each run with its check results, in file order.
    """
    for line in run_lines(path):
        yield run_from_json(line)


# -- summary -----------------------------------------------------------------------------------------------------------


def build_summary(
    records_with_results: Sequence[tuple[RunRecord, Sequence[CheckResult]]],
    *,
    gates: Mapping[str, Mapping[str, GateLike | None]],
    seed: int | None = None,
    command: Sequence[str] | str | None = None,
    baseline: str | None = None,
) -> dict[str, Any]:
    """Everything `summary.json` holds, from the judged runs and the scenarios' gates.

    Args:
        records_with_results: Each run with its checkers' results.
        gates: Scenario name → integration → its gate.
        seed: The suite's seed.
        command: The command line that replays the suite, if known.
        baseline: The integration the others' time to invoice is compared with (default `naive` if it ran).

    Returns:
        `passed` (every gate passed), `runs`, `invalid`, `unknown`, `groups` and `cells` (tallies), `gates`
        (decisions), `skew_ms`, `time_to_invoice_ms`, `invoice_cost_ms`, `seed` and `command`.
    """
    agg = aggregate(records_with_results)
    decided = evaluate_gates(agg, gates)
    records = [record for record, _ in records_with_results]
    return {
        "passed": all(g.passed for g in decided),
        "runs": sum(t.runs for t in agg.groups),
        "invalid": sum(t.invalid for t in agg.groups),
        "unknown": sum(t.unknown for t in agg.groups),
        "seed": seed,
        "command": command if command is None or isinstance(command, str) else list(command),
        "gates": [g.to_json() for g in decided],
        **agg.to_json(),
        "skew_ms": summarize_skew(records),
        "time_to_invoice_ms": summarize_time_to_invoice(records),
        "invoice_cost_ms": invoice_cost(records, baseline=baseline),
    }


def _scenarios(summary: Mapping[str, Any]) -> list[str]:
    names = [g["scenario"] for g in summary.get("groups", ())] + [g["scenario"] for g in summary.get("gates", ())]
    return list(dict.fromkeys(names))


def render_table(summary: Mapping[str, Any], *, scenario: str | None = None) -> Table:
    """The end-of-run table: one row per (scenario, integration).

    Columns: scenario, integration, runs, violations (with the runs that could not be judged), rate with its 95%
    interval, and the gate's verdict (`pass`, `FAIL`, or `-` without a gate).

    Args:
        summary: What `build_summary` returned (or `summary.json`, loaded).
        scenario: Only this scenario's rows.

    Returns:
        The table, for `rich.console.Console.print`.
    """
    table = Table(title="racelab results", title_justify="left")
    table.add_column("scenario")
    table.add_column("integration")
    table.add_column("runs", justify="right")
    table.add_column("violations", justify="right")
    table.add_column("rate (95% CI)", justify="right")
    table.add_column("gate")
    gates: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for g in summary.get("gates", ()):
        gates.setdefault((g["scenario"], g["integration"]), []).append(g)
    rows: dict[tuple[str, str], Mapping[str, Any] | None] = {
        (t["scenario"], t["integration"]): t for t in summary.get("groups", ())
    }
    for key in gates:
        rows.setdefault(key, None)  # a gate whose integration never ran still gets its (failing) row
    for name in _scenarios(summary):
        if scenario is not None and name != scenario:
            continue
        for (row_scenario, integration), tally in rows.items():
            if row_scenario != name:
                continue
            if tally is None:
                runs, violations, rate = "0", "0", "-"
            else:
                low, high = tally["ci95"]
                runs = str(tally["runs"])
                violations = str(tally["invalid"]) + (f" (+{tally['unknown']} unknown)" if tally["unknown"] else "")
                rate = (
                    f"{tally['rate'] * 100:.1f}% ({low * 100:.1f}\N{EN DASH}{high * 100:.1f}%)"
                    if tally["runs"]
                    else "-"
                )
            decided = gates.get((name, integration), [])
            if not decided:
                verdict = "-"
            elif all(g["passed"] for g in decided):
                verdict = "[green]pass[/]"
            else:
                failed = ", ".join(g["condition"] for g in decided if not g["passed"])
                verdict = f"[bold red]FAIL[/] ({failed})"
            table.add_row(name, integration, runs, violations, rate, verdict)
    return table


def _plain(table: Table) -> str:
    out = io.StringIO()
    Console(file=out, width=160, color_system=None, force_terminal=False, legacy_windows=False).print(table)
    return out.getvalue()


# -- junit -------------------------------------------------------------------------------------------------------------


def junit_xml(summary: Mapping[str, Any]) -> ET.ElementTree[ET.Element]:
    """JUnit XML: one testsuite per scenario, one testcase per (integration, gate condition), failed with its reason.

    Each testsuite's `system-out` holds that scenario's rows of the summary table.
    """
    suites = ET.Element("testsuites", name="racelab")
    total = failures = 0
    for name in _scenarios(summary):
        decided = [g for g in summary.get("gates", ()) if g["scenario"] == name]
        failed = sum(1 for g in decided if not g["passed"])
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=name,
            tests=str(len(decided)),
            failures=str(failed),
            errors="0",
            skipped="0",
        )
        for g in decided:
            case = ET.SubElement(
                suite, "testcase", classname=f"racelab.{name}", name=f"{g['integration']}: {g['condition']}"
            )
            if g["passed"]:
                ET.SubElement(case, "system-out").text = g["reason"]
            else:
                failure = ET.SubElement(case, "failure", message=g["reason"], type="GateFailed")
                failure.text = g["reason"]
        ET.SubElement(suite, "system-out").text = _plain(render_table(summary, scenario=name))
        total += len(decided)
        failures += failed
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    suites.set("errors", "0")
    return ET.ElementTree(suites)


def replay_command(folder: Path, scenario: str, run_id: str) -> str:
    """The command that replays one run of a result folder in virtual time: `racelab replay DIR --run SCENARIO/RUN`.

    Run ids repeat across the scenarios of a suite, so the run is named with its scenario.
    """
    return f"racelab replay {shlex.quote(str(folder))} --run {shlex.quote(f'{scenario}/{run_id}')}"


# -- the folder --------------------------------------------------------------------------------------------------------


def write_timing(folder: Path, timing: Mapping[str, Any]) -> None:
    """Write `timing.json`: how long each phase of the command took, in wall-clock seconds. Kept out of
    `summary.json`, which two identical virtual runs write byte for byte."""
    with _atomic(folder / "timing.json") as f:
        f.write(_dumps(timing, indent=2).encode() + b"\n")


def write_results(
    folder: Path,
    *,
    records_with_results: Iterable[tuple[RunRecord, Sequence[CheckResult]]],
    summary: Mapping[str, Any],
    inputs: Mapping[str, Path],
) -> None:
    """Fill a result folder from `open_result_dir`, then point `<root>/latest` at it.

    Writes `inputs/` (exact copies), `runs.jsonl`, `junit.xml` and, last, `summary.json`; each file atomically.

    Args:
        folder: The folder, a direct child of the results root.
        records_with_results: Each run with its checkers' results.
        summary: What `build_summary` returned (more keys may be added, e.g. the command line).
        inputs: Name under `inputs/` (a relative path, e.g. `scenarios/over-invoice.yaml`) → the file to copy.

    Raises:
        UnsafeResultPath: An input name is absolute, climbs out with `..`, or resolves outside `inputs/`.
    """
    folder = folder.resolve()
    inputs_dir = folder / "inputs"
    targets: list[tuple[Path, Path]] = []
    for name, source in inputs.items():
        _refuse_escape(name, "input name")
        targets.append((Path(source), _inside(inputs_dir / name, inputs_dir)))
    inputs_dir.mkdir(exist_ok=True)
    for source, target in targets:
        _copy_atomic(source, target)

    with _atomic(folder / "runs.jsonl") as f:
        for record, results in records_with_results:
            f.write(_dumps(run_to_json(record, results)).encode() + b"\n")

    tree = junit_xml(summary)
    ET.indent(tree)
    with _atomic(folder / "junit.xml") as f:
        tree.write(f, encoding="utf-8", xml_declaration=True)
        f.write(b"\n")

    with _atomic(folder / "summary.json") as f:
        f.write(_dumps(summary, indent=2).encode() + b"\n")

    _point_latest(folder.parent, folder)
