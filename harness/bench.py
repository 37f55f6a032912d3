"""`racelab bench`: placeholder while it is being built this session; replaced before the issue closes."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .errors import HarnessError


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("bench", help="measure the numbers of DESIGN section 5 (not built yet)")
    parser.set_defaults(handler=_not_built)


def _not_built(args: argparse.Namespace, argv: Sequence[str]) -> int:
    raise HarnessError("racelab bench is not built yet")
