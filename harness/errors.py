"""Every error the harness raises.

    HarnessError
    ├── UsageError (also ValueError)            the user's mistake: an option, a file, a name; exit 2
    │   ├── InvalidScenario                     a scenario file (or an integration name, an option) that does not
    │   │                                       load or validate; carries `path`, `line`, `field`, `message`
    │   └── UnsafeResultPath                    a result or input name that would write outside its folder
    └── HarnessConnectionError                  the simulator, or the system under test, could not be reached; exit 3

The CLI maps them to exit codes in one table (`harness.cli`): only a `UsageError` exits 2 ("bad input"); any other
exception is racelab's own failure or the environment's, exits 3, and never passes for the user's mistake.

Imports: stdlib only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["HarnessConnectionError", "HarnessError", "InvalidScenario", "Problem", "UnsafeResultPath", "UsageError"]

Problem = tuple[int | None, str | None, str]
"""One more mistake found in the same file: (line, field, message)."""


class HarnessError(Exception):
    """The root of every error the harness raises on purpose."""


class UsageError(HarnessError, ValueError):
    """The user's mistake (an option, a file, a name), said so that a person can fix it. The CLI exits 2.

    raise UsageError("--jobs must be at least 1, got 0")
    """


class UnsafeResultPath(UsageError):
    """A result name or input name that would write outside its folder (`..`, an absolute path, a separator)."""


class InvalidScenario(UsageError):
    """Bad input, said so that a person can fix it: where (file, line, field) and what was expected.

        raise InvalidScenario("must be greater than 0 (got 0ms)", path="s.yaml", line=7, field="steps[1].at.step")
        # str(): s.yaml:7: steps[1].at.step: must be greater than 0 (got 0ms)

    Args:
        message: what is wrong and what was expected.
        path: the file, when the input came from one.
        line: 1-based line in `path`, when known.
        field: where in the document, e.g. `steps[1].at.step`.
        more: further mistakes found in the same file, shown on the following lines.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        more: tuple[Problem, ...] = (),
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.field = field
        self.more = more
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(self._format(line, field, message) for line, field, message in self.problems)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments do not survive the default pickling (which replays `args`); workers of a process
        # pool may raise this.
        return (_rebuild, (self.message, self.path, self.line, self.field, self.more))

    @property
    def problems(self) -> tuple[Problem, ...]:
        """Every mistake reported, this one first."""
        return ((self.line, self.field, self.message), *self.more)

    def _format(self, line: int | None, field: str | None, message: str) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        return f"{where}{field}: {message}" if field else f"{where}{message}"


def _rebuild(
    message: str, path: str | Path | None, line: int | None, field: str | None, more: tuple[Problem, ...]
) -> InvalidScenario:
    return InvalidScenario(message, path=path, line=line, field=field, more=more)


class HarnessConnectionError(HarnessError):
    """The simulator (embedded or external), or a system under test, could not be reached or stopped answering."""
