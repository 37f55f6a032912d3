"""`racelab report`: placeholder while it is being built this session; replaced before the issue closes."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .errors import HarnessError


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("report", help="rebuild report.html of a result folder (not built yet)")
    parser.set_defaults(handler=_not_built)


def _not_built(args: argparse.Namespace, argv: Sequence[str]) -> int:
    raise HarnessError("racelab report is not built yet")
