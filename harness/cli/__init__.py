"""The `racelab` command line: one module per command, and the one table from exception to exit code.

    __init__.py   `main()`: the parser of every command, the missing-extra check, dispatch, and `exit_for()`: the
                  one table from exception to exit code (and the crash log of an unexpected exception)
    run.py        racelab run           serve.py     racelab serve          init.py     racelab init
    replay.py     racelab replay        explore.py   racelab explore       calibrate.py racelab calibrate
    `racelab report`, `load` and `bench` keep their parser and handler in their own package (`harness.output.report`,
    `harness.load.command`, `harness.bench`); `_COMMAND_MODULES` registers them with the rest.

A command module has `add_command(sub)`, which adds its parser and sets `handler=<function(args, argv) -> exit code>`
and, when the command writes into a folder of results, `crash_folder=<function(args) -> Path>` (default: the results
root, `results/`). It imports its heavy dependencies (matplotlib, locust, the simulator) inside the handler, so that
`racelab --help` stays fast; it raises instead of printing its errors, and the table here says what they mean.

Exit codes: 0 success (every gate passed, reproduced, nothing found); 1 a gate failed (not reproduced, a violation
found); 2 the user's mistake (`harness.errors.UsageError`, the simulator's `ConfigError`, argparse's own); 3 racelab's
or the environment's failure (a connection, a file, a bug); 130 interrupted.

Imports: anything in `harness` (an entry point) and `simulator`'s public face (`from simulator import ...`, names in
its `__all__`); see docs/architecture.md.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import re
import shlex
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from harness.errors import HarnessConnectionError, HarnessError, UsageError
from simulator import ConfigError  # light: `simulator` loads its names on first use; this one is stdlib only

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_ERROR",
    "EXIT_GATE_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "build_parser",
    "exit_for",
    "main",
]

EXIT_OK, EXIT_GATE_FAILED, EXIT_BAD_INPUT, EXIT_ERROR = 0, 1, 2, 3
EXIT_INTERRUPTED = 130
"""128 + SIGINT, as a shell reports a command stopped by Ctrl-C."""

Handler = Callable[[argparse.Namespace, Sequence[str]], int]
CrashFolder = Callable[[argparse.Namespace], Path]

# In the order `racelab --help` lists them.
_COMMAND_MODULES = (
    "harness.cli.run",
    "harness.cli.serve",
    "harness.cli.init",
    "harness.cli.replay",
    "harness.cli.explore",
    "harness.cli.proxy",
    "harness.cli.calibrate",
    "harness.output.report",
    "harness.load.command",
    "harness.bench",
)

# The one table from exception to exit code: the first row whose class the exception is an instance of decides.
# A message of None means an unexpected exception, a bug: one line on stderr, the traceback in a crash log.
_EXITS: tuple[tuple[type[BaseException], int, str | None], ...] = (
    (UsageError,             EXIT_BAD_INPUT,   "racelab: {exc}"),    # InvalidScenario, UnsafeResultPath
    (ConfigError,            EXIT_BAD_INPUT,   "racelab: {exc}"),    # a profile, --overrides: the user's mistake too
    (HarnessConnectionError, EXIT_ERROR,       "racelab: {exc}"),
    (HarnessError,           EXIT_ERROR,       "racelab: {exc}"),    # racelab's failure, raised on purpose and said so
    (OSError,                EXIT_ERROR,       "racelab: connection error: {exc}"),  # the environment's
    (KeyboardInterrupt,      EXIT_INTERRUPTED, "racelab: interrupted"),
    (Exception,              EXIT_ERROR,       None),                # a bug: a ValueError, a KeyError, ...
)  # fmt: skip


def exit_for(exc: BaseException) -> tuple[int, str | None]:
    """The exit code of `exc` and the line to print, from the table above; None for the line means a crash log.

    exit_for(InvalidScenario("no such file"))   # (2, 'racelab: no such file')
    exit_for(KeyError("runs"))                   # (3, None): a bug
    """
    for kind, code, message in _EXITS:
        if isinstance(exc, kind):
            return code, None if message is None else message.format(exc=exc)
    raise exc  # a BaseException the table does not name (SystemExit, GeneratorExit): not ours to map


def build_parser() -> argparse.ArgumentParser:
    """The parser of `racelab` and every command (importing each command module, never what its handler needs)."""
    parser = argparse.ArgumentParser(
        prog="racelab",
        description="Reproduce, measure and regression-test the race between an order Change and an invoice.",
    )
    parser.set_defaults(crash_folder=_results_root)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _COMMAND_MODULES:
        importlib.import_module(module).add_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `racelab` with `argv` (default: the process's arguments) and return its exit code (see the module doc)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    if (missing := _missing_extra(args.command)) is not None:
        print(f"racelab: {missing}", file=sys.stderr)
        return EXIT_BAD_INPUT
    handler: Handler = args.handler
    try:
        return handler(args, argv)
    except (Exception, KeyboardInterrupt) as exc:
        code, message = exit_for(exc)
        if message is None:
            crash_folder: CrashFolder = args.crash_folder
            message = _crash(exc, crash_folder(args), argv)
        print(message, file=sys.stderr)
        return code


def _results_root(args: argparse.Namespace) -> Path:
    """Where a command without a result folder of its own writes its crash log."""
    return Path("results")


def _crash(exc: BaseException, folder: Path, argv: Sequence[str]) -> str:
    """Write the traceback of an unexpected exception to a log in `folder`; the one line that says so.

    The folder is created if it is missing; if it cannot be written, the log goes to the system's temporary folder.
    """
    from harness.cli.run import strip_secrets  # here: the command modules import this one

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    text = (  # never a credential given as an option (--app-key, --app-token, ...): the log is a file racelab writes
        f"racelab {_version()} · Python {sys.version.split()[0]} · {sys.executable}\n"
        f"command: {shlex.join(['racelab', *strip_secrets(argv)])}\n\n{''.join(traceback.format_exception(exc))}"
    )
    first = (str(exc).strip().splitlines() or [""])[0]
    said = f"racelab: internal error, not a mistake of yours: {type(exc).__name__}{': ' + first if first else ''}"
    for where in (folder, Path(tempfile.gettempdir())):
        try:
            where.mkdir(parents=True, exist_ok=True)
            log = _free_name(where, f"racelab-crash-{stamp}")
            log.write_text(text, encoding="utf-8")
        except OSError:
            continue
        return f"{said} (its traceback is in {log})"
    return f"{said} (no crash log could be written)"


def _free_name(folder: Path, stem: str) -> Path:
    """`folder/stem.log`, or `stem-2.log`, ... when a crash in the same second wrote one already."""
    path = folder / f"{stem}.log"
    number = 1
    while path.exists():
        number += 1
        path = folder / f"{stem}-{number}.log"
    return path


def _version() -> str:
    try:
        return importlib.metadata.version("racelab")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


# Commands that need an optional extra: command → (the module it imports, the extra that installs it).
_EXTRAS = {"explore": ("hypothesis", "explore"), "load": ("locust", "load"), "calibrate": ("scipy", "calibrate")}


def _missing_extra(command: str) -> str | None:
    """What to tell the user when `command` needs an extra that is not installed; None when it is (or needs none)."""
    import importlib.util

    if command not in _EXTRAS:
        return None
    module, extra = _EXTRAS[command]
    if importlib.util.find_spec(module) is not None:
        return None
    needs = [module]
    marker = re.compile(rf"""extra\s*==\s*["']{extra}["']""")
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        declared = importlib.metadata.requires("racelab") or ()
        needs = [r.split(";")[0].strip() for r in declared if marker.search(r)] or needs
    alone = " ".join(f"'{n}'" for n in needs)
    return (
        f"racelab {command} needs {module}, which is not installed here ({sys.executable}). Install racelab's "
        f"`{extra}` extra:\n    pip install 'racelab[{extra}]'\n"
        f"or, the same, the package alone: pip install {alone} (uv: uv pip install {alone})"
    )
