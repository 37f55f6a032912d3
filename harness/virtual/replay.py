"""Replay: re-execute one saved run in virtual time, compare it with what was recorded, and tell it as a timeline.

Owns `find_run()`, `replay_run()`, `compare()` and `timeline()`. A run is rebuilt from its result folder alone:
its spec (schedule, order, seed) from `runs.jsonl`, the exact simulator configuration from
`inputs/profiles/<scenario>.json`, step handlers (Python scenarios) from `inputs/scenarios/`.

A run recorded in virtual mode replays bit for bit: the new `runs.jsonl` line must equal the saved one. A run
recorded in real time met the same schedule and the same seeded delays, but also the machine's jitter, which is not
recorded; its replay must reach the same verdicts with the same requests and outcomes, and the timing differences
are reported.

Imports: stdlib, `harness.*` (the in-process simulator through `harness.virtual`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.drive.runner import RunnerOptions, RunOutcome
from harness.errors import InvalidScenario
from harness.model.codec import run_from_json, run_lines, run_to_json
from harness.scenarios import load_scenario

__all__ = ["Comparison", "SavedRun", "compare", "find_run", "replay_run", "timeline"]

# Journal phases shown in a timeline: the points where state is read and committed, and what follows from them.
_SERVER_PHASES = {"read", "commit", "change", "reject", "finished", "decide", "fault"}


@dataclass(frozen=True, slots=True)
class SavedRun:
    folder: Path
    line: dict[str, Any]
    """The run's `runs.jsonl` line, as saved."""
    config: dict[str, Any]
    """The simulator configuration the run met."""
    mode: str
    """How the result was recorded: `virtual`, `embedded` (real time) or `external`."""
    settle_timeout_s: float
    scenario_path: Path | None
    """The saved scenario file, for a Python scenario's step handlers."""

    @property
    def name(self) -> str:
        return f"{self.line['scenario']}/{self.line['run_id']}"


@dataclass(frozen=True, slots=True)
class Comparison:
    reproduced: bool
    exact: bool
    """Every field of the replayed run equals the saved one."""
    differences: tuple[str, ...]
    """What differs, one sentence each (empty when exact)."""
    max_time_shift_ms: float
    """The largest difference in a request's send or completion time (0 when exact)."""


def find_run(folder: Path, run: str) -> SavedRun:
    """The run named `SCENARIO/RUN_ID` (or a bare `RUN_ID` that only one scenario has) in a result folder.

    Raises:
        InvalidScenario: not a result folder, no such run, an ambiguous bare id, or a result without a simulator
            configuration (recorded against external services).
    """
    folder = folder.resolve()
    runs = folder / "runs.jsonl"
    if not runs.is_file():
        raise InvalidScenario(f"{folder}: not a result folder (no runs.jsonl)")
    scenario, _, run_id = run.rpartition("/")
    found = [
        line
        for line in run_lines(runs)
        if line.get("run_id") == run_id and (not scenario or line.get("scenario") == scenario)
    ]
    if not found:
        raise InvalidScenario(
            f"{folder}: no run {run!r}; runs are named SCENARIO/RUN_ID, e.g. over-invoice/0000-0000-naive"
        )
    if len(found) > 1:
        names = ", ".join(f"{line['scenario']}/{run_id}" for line in found)
        raise InvalidScenario(f"run id {run_id!r} is in several scenarios; name one: {names}")
    line = found[0]
    summary = _summary(folder)
    mode = str(summary.get("mode", "embedded"))
    profile = folder / "inputs" / "profiles" / f"{line['scenario']}.json"
    if mode == "external" or not profile.is_file():
        raise InvalidScenario(
            f"{folder}: recorded against external services; there is no simulator configuration to replay it with"
        )
    return SavedRun(
        folder=folder,
        line=line,
        config=_read_json(profile, "a simulator configuration"),
        mode=mode,
        settle_timeout_s=float(summary.get("settle_timeout_s", RunnerOptions().settle_timeout_s)),
        scenario_path=_scenario_file(folder, line["scenario"]),
    )


def _summary(folder: Path) -> Mapping[str, Any]:
    path = folder / "summary.json"
    if not path.is_file():
        return {}
    loaded = _read_json(path, "a racelab summary")
    return loaded if isinstance(loaded, dict) else {}


def _read_json(path: Path, what: str) -> Any:
    """A JSON file of the result folder; a damaged one is the user's input to fix, not racelab's failure."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InvalidScenario(f"{path}: not {what} (not valid JSON: {exc})") from None


def _scenario_file(folder: Path, name: str) -> Path | None:
    """The saved scenario file of `name` (only a Python scenario needs it, for its step handlers)."""
    for path in sorted((folder / "inputs" / "scenarios").glob("*")):
        if path.suffix == ".py":
            try:
                if load_scenario(path).name == name:
                    return path
            except InvalidScenario:
                continue
    return None


def replay_run(saved: SavedRun) -> RunOutcome:
    """Execute the saved run again, in virtual time, from the saved inputs alone."""
    from harness.virtual.universe import run_virtual

    record, _ = run_from_json(saved.line)
    handlers = load_scenario(saved.scenario_path).handlers if saved.scenario_path is not None else None
    return run_virtual(
        record.spec, saved.config, handlers=handlers, options=RunnerOptions(settle_timeout_s=saved.settle_timeout_s)
    )


def compare(saved: SavedRun, outcome: RunOutcome) -> Comparison:
    """Does the replay reproduce the saved run? Exactly, for a virtual recording; same verdicts and requests for a
    real-time one (see the module docstring)."""
    old = saved.line
    compact = bool(old.get("compact"))  # a compact line is compared with the replayed run cut the same way
    new = json.loads(json.dumps(run_to_json(outcome.record, outcome.results, compact=compact), default=str))
    if new == old:
        return Comparison(reproduced=True, exact=True, differences=(), max_time_shift_ms=0.0)
    differences: list[str] = []
    if new["verdict"] != old["verdict"]:
        differences.append(f"verdict {old['verdict']} was recorded, the replay gives {new['verdict']}")
    old_checks = {r["checker"]: r["verdict"] for r in old["results"]}
    for r in new["results"]:
        if old_checks.get(r["checker"]) != r["verdict"]:
            differences.append(f"{r['checker']}: {old_checks.get(r['checker'])} recorded, {r['verdict']} replayed")
    old_ops = [(h["f"], h["outcome"], h["status"]) for h in old["history"]]
    new_ops = [(h["f"], h["outcome"], h["status"]) for h in new["history"]]
    if old_ops != new_ops:
        differences.append(f"requests differ: recorded {_ops(old_ops)}; replayed {_ops(new_ops)}")
    shift = _max_shift(old["history"], new["history"]) if old_ops == new_ops else float("nan")
    verdicts_match = not differences
    if saved.mode == "virtual":
        differences.extend(_first_field_differences(old, new))
    return Comparison(
        reproduced=verdicts_match and saved.mode != "virtual",
        exact=False,
        differences=tuple(differences),
        max_time_shift_ms=shift,
    )


def _ops(ops: Sequence[tuple[Any, ...]]) -> str:
    return ", ".join(f"{f} {outcome}" + (f" {status}" if status is not None else "") for f, outcome, status in ops)


def _max_shift(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> float:
    shifts = [
        abs(float(a[k]) - float(b[k]))
        for a, b in zip(old, new, strict=True)
        for k in ("t_invoke", "t_complete")
        if a.get(k) is not None and b.get(k) is not None
    ]
    return max(shifts, default=0.0)


def _first_field_differences(old: Any, new: Any, path: str = "", limit: int = 3) -> list[str]:
    """Where two JSON values differ, depth first: at most `limit` paths."""
    found: list[str] = []

    def walk(a: Any, b: Any, at: str) -> None:
        if len(found) >= limit or a == b:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b), key=str):
                walk(a.get(key), b.get(key), f"{at}.{key}" if at else str(key))
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, f"{at}[{i}]")
        else:
            found.append(
                f"{at or 'run'}: recorded {json.dumps(a, default=str)[:80]}, replayed {json.dumps(b, default=str)[:80]}"
            )

    walk(old, new, path)
    return found


def timeline(line: Mapping[str, Any]) -> list[tuple[float, str, str]]:
    """A run as events in ms from its start: (ms, who, what). Client requests give a send and a completion event;
    the simulator gives its READ and COMMIT points, status changes, rejections and decisions; an invariant that
    broke is marked on the commit that broke it when the checker names a version."""
    events: list[tuple[float, int, str, str]] = []
    for op in line["history"]:
        sent = op.get("sent_ms") if op.get("sent_ms") is not None else op["t_invoke"]
        what = f"→ {op['f']}{_request_brief(op)}"
        if op.get("step") is not None and op.get("scheduled_ms") is not None:
            what += f"  (step {op['step']}, due {op['scheduled_ms']:.1f})"
        events.append((float(sent), 0, "client", what))
        answer = f"{op['status']} {op['outcome']}" if op.get("status") is not None else op["outcome"]
        took = float(op["t_complete"]) - float(op["t_invoke"])
        events.append((float(op["t_complete"]), 2, "client", f"← {op['f']} {answer} after {took:.1f} ms"))
    broken = {
        r["details"]["version"]: r["checker"]
        for r in line["results"]
        if r["verdict"] == "invalid" and isinstance(r.get("details"), dict) and "version" in r["details"]
    }
    origin = float(line["origin_s"])
    for entry in line["journal"]:
        if entry["phase"] not in _SERVER_PHASES:
            continue
        what = f"{entry['op']} {entry['phase'].upper()}"
        if entry.get("version") is not None:
            what += f" v{entry['version']}"
        what += _detail_brief(entry)
        if entry["phase"] == "commit" and entry.get("version") in broken:
            what += f"   ⚠ {broken[entry['version']]} broke here"
        events.append(((float(entry["t"]) - origin) * 1000.0, 1, "server", what))
    events.sort(key=lambda e: (e[0], e[1]))
    return [(ms, who, what) for ms, _, who, what in events]


def _request_brief(op: Mapping[str, Any]) -> str:
    request = op.get("request") or {}
    if "invoiceValue" in request:
        return f" {request.get('invoiceNumber', '')} value {int(request['invoiceValue']) / 100:.2f}"
    return ""


def _detail_brief(entry: Mapping[str, Any]) -> str:
    detail = entry.get("detail") or {}
    parts = []
    if entry["phase"] == "change" and entry["op"] == "status":
        return f" {detail.get('from')} → {detail.get('to')}"
    for key in ("lag_ms", "latest", "based_on", "value", "invoice_value", "total_change_value", "decision", "code"):
        if key in detail and detail[key] is not None:
            value = detail[key]
            if key in ("value", "invoice_value", "total_change_value") and isinstance(value, int | float):
                value = f"{value / 100:.2f}"
            parts.append(f"{key} {value}")
    return f" ({', '.join(parts)})" if parts else ""
