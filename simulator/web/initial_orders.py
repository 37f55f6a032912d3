"""Orders a server holds from its start (`racelab serve --orders FILE`, `open_server(orders=...)`): read, validated
as `POST /_sim/orders` validates its body, and seeded before the server listens.

Owns `InitialOrder`, `initial_orders()` (a JSON-lines file or a list of bodies -> validated orders, each with the
place it came from) and `seed_initial()` (seed them into an app whose startup has run). Every mistake is a
`ConfigError` that says `WHERE: field: problem`, WHERE being `FILE:LINE` (or `orders[INDEX]` for a list).

Imports: pydantic (through `routing.validate_json`), `simulator.*`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from ..errors import ApiError, ConfigError
from ..orders.model import STATUSES
from .control_api import SeedOrderBody, seed
from .routing import validate_json, validation_message

__all__ = ["InitialOrder", "initial_orders", "seed_initial"]


@dataclass(frozen=True, slots=True)
class InitialOrder:
    """One order to hold from the start: the validated `POST /_sim/orders` body and where it was written."""

    where: str
    """`FILE:LINE`, or `orders[INDEX]` for an order given as a Python value."""
    body: SeedOrderBody


def initial_orders(orders: Path | Sequence[Mapping[str, Any]]) -> tuple[InitialOrder, ...]:
    """Validate `orders`: a JSON-lines file (one `POST /_sim/orders` body per line; empty lines are skipped) or a
    list of such bodies.

    orders = initial_orders(Path("orders.jsonl"))  # each InitialOrder("orders.jsonl:1", SeedOrderBody(...))

    Raises:
        ConfigError: the file cannot be read, a line is not a JSON object, a body does not validate as the seed
            route's (`FILE:LINE: items.0.price: Input should be greater than or equal to 0`), a status is unknown,
            or an `orderId` is given twice.
    """
    if isinstance(orders, Path):
        try:
            text = orders.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(f"{orders}: cannot read the orders file: {reason}") from None
        raw = [(f"{orders}:{n}", line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    else:
        raw = [(f"orders[{i}]", json.dumps(body)) for i, body in enumerate(orders)]
    out: list[InitialOrder] = []
    seen: dict[str, str] = {}
    for where, line in raw:
        try:
            body = validate_json(SeedOrderBody, line, describe=validation_message)
        except ApiError as exc:
            raise ConfigError(f"{where}: {_not_an_object(line) or exc.message}") from None
        if body.status not in STATUSES:  # what the seed route answers 400 for (pydantic's str does not check it)
            raise ConfigError(f"{where}: status: must be one of {', '.join(STATUSES)}; got {body.status!r}")
        if body.orderId is not None:
            if body.orderId in seen:
                raise ConfigError(f"{where}: orderId: {body.orderId!r} is given already at {seen[body.orderId]}")
            seen[body.orderId] = where
        out.append(InitialOrder(where, body))
    return tuple(out)


def _not_an_object(line: str) -> str | None:
    """What to say of a line that is not a JSON object, in JSON's words rather than the model's (None: it is one)."""
    try:
        value = json.loads(line)
    except ValueError as exc:
        return f"not valid JSON: {exc}"
    if isinstance(value, dict):
        return None
    return f"expected a JSON object (the body of POST /_sim/orders), got {type(value).__name__}"


async def seed_initial(app: web.Application, orders: Sequence[InitialOrder]) -> None:
    """Seed `orders` in their order into `app` (its startup has run), as `POST /_sim/orders` would.

    Raises:
        ConfigError: the seed route would refuse one (`WHERE: ` and its answer's message, e.g. an Accounting
            reference in use, item ids not unique).
    """
    for order in orders:
        try:
            await seed(app, order.body)
        except ApiError as exc:
            raise ConfigError(f"{order.where}: {exc.message}") from None
