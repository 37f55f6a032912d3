"""The result folder of a run of scenarios: its name, its safety, its files.

Owns: `slugify`, `open_result_dir` (a new, unique `<root>/<YYYYmmdd-HHMMSS>-<slug>/` that cannot escape `root`),
`write_results` (`inputs/`, `runs.jsonl`, `junit.xml`, `summary.json`, then `<root>/latest`), `write_timing`
(`timing.json`) and `replay_command` (how to replay one run of a folder).

Every file is written to a temporary name in the same folder and moved into place with `os.replace`, so a crash
leaves the old file or the new one, never half of one. `summary.json` is written last: a folder that has it is
complete. `latest` is a relative symlink, swapped the same way.

Imports: stdlib, `harness.errors`, `harness.model` (the records, the run codec, the summary) and
`harness.output.junit`; never `simulator`.

    folder = open_result_dir(Path("results"), "over-invoice", now=datetime.now())
    write_results(folder, records_with_results=judged, summary=build_summary(judged, gates=gates), inputs={})
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shlex
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, BinaryIO

from harness.errors import UnsafeResultPath
from harness.model.codec import run_to_json
from harness.model.records import CheckResult, RunRecord
from harness.model.summary import Summary
from harness.output.junit import junit_xml

__all__ = [
    "LATEST",
    "RunStream",
    "open_result_dir",
    "replay_command",
    "slugify",
    "write_inputs",
    "write_json",
    "write_results",
    "write_runs",
    "write_timing",
    "write_verdicts",
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


def replay_command(folder: Path, scenario: str, run_id: str) -> str:
    """The command that replays one run of a result folder in virtual time: `racelab replay DIR --run SCENARIO/RUN`.

    Run ids repeat across the scenarios of a suite, so the run is named with its scenario.
    """
    return f"racelab replay {shlex.quote(str(folder))} --run {shlex.quote(f'{scenario}/{run_id}')}"


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


# -- the folder --------------------------------------------------------------------------------------------------------


def write_timing(folder: Path, timing: Mapping[str, Any]) -> None:
    """Write `timing.json`: how long each phase of the command took, in wall-clock seconds. Kept out of
    `summary.json`, which two identical virtual runs write byte for byte."""
    write_json(folder / "timing.json", timing)


def write_json(path: Path, value: Any) -> None:
    """Write `value` as indented JSON to `path`, whole or not at all (a file a resume or a reader depends on)."""
    with _atomic(path) as f:
        f.write(_dumps(value, indent=2).encode() + b"\n")


def write_inputs(folder: Path, inputs: Mapping[str, Path]) -> None:
    """Copy the inputs into `folder/inputs/` (exact copies, each atomically).

    Args:
        folder: The result folder.
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


def write_runs(folder: Path, records_with_results: Iterable[tuple[RunRecord, Sequence[CheckResult]]]) -> None:
    """Write `runs.jsonl` at once, atomically (when the caller holds every run; `racelab run` streams: `RunStream`)."""
    with _atomic(folder.resolve() / "runs.jsonl") as f:
        for record, results in records_with_results:
            f.write(_dumps(run_to_json(record, results)).encode() + b"\n")


def write_verdicts(folder: Path, summary: Summary, *, latest: bool = True) -> None:
    """Write `junit.xml` and, last, `summary.json` (each atomically), then point `<root>/latest` at the folder (not
    with `latest=False`: a folder that is not one of a results root's, e.g. a proxy's)."""
    folder = folder.resolve()
    tree = junit_xml(summary)
    ET.indent(tree)
    with _atomic(folder / "junit.xml") as f:
        tree.write(f, encoding="utf-8", xml_declaration=True)
        f.write(b"\n")
    with _atomic(folder / "summary.json") as f:
        f.write(_dumps(summary.to_json(), indent=2).encode() + b"\n")
    if latest:
        _point_latest(folder.parent, folder)


class RunStream:
    """`runs.jsonl`, written as runs finish: one line a run, flushed at once, so an interruption loses no finished
    run and a killed process leaves at most a torn last line (which readers skip and `--resume` cuts off).

        with RunStream(folder, on_line=builder.add) as stream:
            stream.add(index, record, results)      # index: the run's place in the sweep's list; in any order

    With `ordered` (virtual time, where writing costs no simulated time), lines come out in the order of `index` (the
    sweep's order): a run that finished early waits, at most as long as the runs started before it are in flight, so
    the buffer is bounded by the runs in flight, not by the sweep; on close, what is still waiting is written in index
    order (an interrupted sweep has gaps). Without it (real time), each line is written as its run finishes: a slow
    run would otherwise hold back hundreds of lines and release them in one burst that stalls the firing loop.
    """

    def __init__(
        self,
        folder: Path,
        *,
        on_line: Callable[[RunRecord, Sequence[CheckResult]], None] | None = None,
        compact: bool = False,
        ordered: bool = True,
    ) -> None:
        self.path = folder.resolve() / "runs.jsonl"
        self._file: BinaryIO = self.path.open("ab")
        self._next = 0
        self._waiting: dict[int, tuple[RunRecord, Sequence[CheckResult]]] = {}
        self._on_line = on_line
        self._compact = compact
        self._ordered = ordered
        self.written = 0

    def add(self, index: int, record: RunRecord, results: Sequence[CheckResult]) -> None:
        """Run number `index` of the sweep finished."""
        if not self._ordered:
            self._write(record, results)
            return
        self._waiting[index] = (record, results)
        while self._next in self._waiting:
            self._write(*self._waiting.pop(self._next))
            self._next += 1

    def _write(self, record: RunRecord, results: Sequence[CheckResult]) -> None:
        self._file.write(_dumps(run_to_json(record, results, compact=self._compact)).encode() + b"\n")
        self._file.flush()
        self.written += 1
        if self._on_line is not None:
            self._on_line(record, results)

    def close(self) -> None:
        """Write what is still waiting (in index order) and close the file."""
        for index in sorted(self._waiting):
            self._write(*self._waiting.pop(index))
        self._file.close()

    def __enter__(self) -> RunStream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def write_results(
    folder: Path,
    *,
    records_with_results: Iterable[tuple[RunRecord, Sequence[CheckResult]]],
    summary: Summary,
    inputs: Mapping[str, Path],
) -> None:
    """Fill a result folder from `open_result_dir` at once (when the caller holds every run), then point
    `<root>/latest` at it: `inputs/` (exact copies), `runs.jsonl`, `junit.xml` and, last, `summary.json`; each file
    atomically. `racelab run` streams instead (`write_inputs`, `RunStream`, `write_verdicts`).

    Raises:
        UnsafeResultPath: An input name is absolute, climbs out with `..`, or resolves outside `inputs/`.
    """
    write_inputs(folder, inputs)
    write_runs(folder, records_with_results)
    write_verdicts(folder, summary)
