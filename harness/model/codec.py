"""The run codec: one judged run as one line of `runs.jsonl`, and back.

Owns: `run_to_json` (a run and its checkers' results as a JSON-ready dict, its verdict by `run_verdict`),
`run_from_json` (the inverse), `run_lines` (the lines of a `runs.jsonl` as JSON objects), `read_runs` (the runs
back), `completed_run_ids` (which runs a file holds: what `racelab run --resume` need not run again) and
`truncate_torn_tail` (cut off a torn last line, so that appending can resume). Writing the file is
`harness.output.folder`'s.

A torn last line: `runs.jsonl` is appended a line at a time as runs finish, so a process killed in the middle of a
write leaves a last line that has no newline and is not JSON. Readers skip it (that run did not finish, as far as the
file can tell); any other line that is not JSON is damage, a `UsageError`. A last line that lacks only its newline is
whole, and read.

Imports: stdlib and `harness.model.records` only: replay, the report and the virtual-mode workers decode runs
without loading rich, aiohttp or anything that draws.

    for record, results in read_runs(Path("results/latest")):
        ...
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.model.records import (
    CheckResult,
    FinalState,
    Operation,
    RunRecord,
    RunSpec,
    Step,
    Verdict,
    run_verdict,
)

__all__ = [
    "COMPACT_ITEM_FIELDS",
    "COMPACT_ORDER_FIELDS",
    "compact_order",
    "completed_run_ids",
    "read_runs",
    "run_from_json",
    "run_lines",
    "run_to_json",
    "truncate_torn_tail",
]


COMPACT_ORDER_FIELDS = (
    "orderId",
    "status",
    "value",
    "totals",
    "items",
    "packageAttachment",
    "changesAttachment",
    "lastChange",
)
"""What a compact line keeps of the final order document: what the checkers, the report and a replay's comparison
read (its status, value, totals, items, invoices and Changes). The rest of the published document (clients,
shipping, payments, sellers, marketplace, ... about 55% of a line) is left out."""


COMPACT_ITEM_FIELDS = ("id", "quantity", "price", "sellingPrice")
"""What a compact line keeps of each item of the final order (its catalog fields are left out)."""


def compact_order(order: Mapping[str, Any]) -> dict[str, Any]:
    """The final order document cut down to `COMPACT_ORDER_FIELDS` (those present), each item to
    `COMPACT_ITEM_FIELDS`."""
    kept = {key: order[key] for key in COMPACT_ORDER_FIELDS if key in order}
    if isinstance(kept.get("items"), list):
        kept["items"] = [
            {k: item[k] for k in COMPACT_ITEM_FIELDS if k in item} if isinstance(item, Mapping) else item
            for item in kept["items"]
        ]
    return kept


def run_to_json(record: RunRecord, results: Sequence[CheckResult], *, compact: bool = False) -> dict[str, Any]:
    """One line of `runs.jsonl`: the spec's fields, history, final state, journal, check results, verdict, error.

    Where a line's bytes go (the built-in suite, ~21 KB a run): the final order document ~55% (the published
    document, 54 properties), the journal ~22% (every phase of every operation: the report's and replay's server
    timeline), the history ~10%, the Changes and versions ~5%, the rest ~8%.

    Args:
        record: The run.
        results: Its checkers' results.
        compact: Keep only `COMPACT_ORDER_FIELDS` of the final order (about half the bytes; the line says
            `"compact": true`). Everything a verdict, the report and a replay need stays.

    Returns:
        A JSON-ready dict.
    """
    spec, final = record.spec, record.final
    line = {
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
            "order": compact_order(final.order) if compact else dict(final.order),
            "versions": [dict(v) for v in final.versions],
            "changes": [dict(c) for c in final.changes],
            "accounting": None if final.accounting is None else dict(final.accounting),
            "settled": final.settled,
            **({"public": True} if final.public else {}),  # only when true: other runs' lines stay as they were
        },
        "journal": [dict(entry) for entry in record.journal],
        "origin_s": record.origin_s,
    }
    if compact:
        line["compact"] = True
    return line


def run_from_json(d: Mapping[str, Any]) -> tuple[RunRecord, tuple[CheckResult, ...]]:
    """The inverse of `run_to_json`: one line of `runs.jsonl` as the run and its checkers' results.

    Raises:
        KeyError: a field is missing.
        TypeError, ValueError, AttributeError: a field is not of its shape.
    """
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
        public=bool(f.get("public", False)),
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


def _runs_file(path: Path) -> Path:
    return path / "runs.jsonl" if path.is_dir() else path


def run_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The lines of a `runs.jsonl` (or of a result folder's) as JSON objects, in file order; a torn last line (no
    newline, not JSON: a process killed while writing it) is skipped.

    Raises:
        UsageError: a line is not JSON (the file is damaged: the user's input, not racelab's failure); the message
            names the file and the line.
    """
    path = _runs_file(path)
    with path.open("rb") as f:  # bytes: a torn line may end inside a character, which text mode cannot even read
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError:
                    if not line.endswith(b"\n"):  # only the last line can lack it: torn, not damaged
                        return
                    raise UsageError(f"{path}:{number}: not a JSON line; the file is damaged") from None


def completed_run_ids(path: Path) -> set[str]:
    """The runs a `runs.jsonl` (or a result folder's) holds, each as `SCENARIO/RUN_ID`: run ids repeat across the
    scenarios of a suite, so a run is named with its scenario (as `racelab replay --run` names it). A torn last line
    is no run.

    Raises:
        UsageError: a line is not JSON, or not a run (no `run_id` and `scenario`).
    """
    found: set[str] = set()
    for number, line in enumerate(run_lines(path), 1):
        try:
            found.add(f"{line['scenario']}/{line['run_id']}")
        except (KeyError, TypeError):
            raise UsageError(f"{_runs_file(path)}: line {number} is not a racelab run; the file is damaged") from None
    return found


_CHUNK = 1 << 16


def truncate_torn_tail(path: Path) -> bool:
    """Cut a torn last line off a `runs.jsonl` (or a result folder's), so that lines appended next start on a line
    of their own. A last line that lacks only its newline (whole JSON) gets it back instead: that run finished.

    Args:
        path: The file, or the result folder that holds it. A missing file has nothing to cut.

    Returns:
        True when something was cut off.
    """
    path = _runs_file(path)
    try:
        f = path.open("r+b")
    except FileNotFoundError:
        return False
    with f:
        size = f.seek(0, 2)
        end = size
        tail = b""
        while end > 0:  # back to the last newline, a chunk at a time: a line can be tens of KB
            start = max(0, end - _CHUNK)
            f.seek(start)
            chunk = f.read(end - start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                tail = chunk[cut + 1 :] + tail
                break
            tail = chunk + tail
            end = start
        if not tail:
            return False
        if tail.strip():
            try:
                json.loads(tail)
            except ValueError:
                pass
            else:
                f.seek(size)
                f.write(b"\n")
                return False
        f.truncate(size - len(tail))
        return True


def read_runs(path: Path) -> Iterator[tuple[RunRecord, tuple[CheckResult, ...]]]:
    """The runs of a `runs.jsonl` (or of a result folder), as `harness.output.folder.write_results` wrote them.

    Args:
        path: The file, or the result folder that holds it.

    Yields:
        Each run with its check results, in file order.
    """
    for line in run_lines(path):
        yield run_from_json(line)
