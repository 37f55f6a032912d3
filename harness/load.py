"""`racelab load`: placeholder while it is being built this session; replaced before the issue closes."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .errors import HarnessError


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("load", help="run a locust load profile (not built yet)")
    parser.set_defaults(handler=_not_built)


def _not_built(args: argparse.Namespace, argv: Sequence[str]) -> int:
    raise HarnessError("racelab load is not built yet")
