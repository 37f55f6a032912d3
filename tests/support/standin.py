"""The stand-in platform for tests: the real `racelab serve --no-control --orders FILE` in a child process, holding
the orders given, with every `/_sim/` route answering 404 (nothing can pass through a back door).

async with standin(standin_orders(3, prefix="sc"), consistency="serializable") as url:
    ...  # http://127.0.0.1:PORT; GET {url}/api/oms/pvt/orders/sc-0 is `ready-for-handling`

What it answers: every public route as the simulator does (Orders, Changes, hook and feed configuration, Accounting);
`/_sim/...` 404 exactly as an unknown path (with or without `X-Racelab-Token`); `X-Racelab-Control: 1` exempts no
request from configured faults, and injected errors carry no `X-Racelab-Fault` header.
Mind the replica lag when driving an order from `ready-for-handling`: after `start-handling`, a Change whose
validation reads a snapshot older than the move still sees `ready-for-handling` and is canceled (CHK0124 "Allowed
order states: handling, ..."); `fixed` lags 600 ms, `default` a lognormal of median 250 ms capped at 4 s. Hold an
order in `handling` from the start (`{**order, "status": "handling"}`) when a test needs the race right away.

Owns `standin()`, `standin_orders()` and `OVER_INVOICE_ORDER` (the over-invoice scenario's order, a body
`POST /_sim/orders` takes). Imports: stdlib, `harness.drive.embedded` (the one way racelab starts a server child).
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

from harness.drive.embedded import open_process_server, simulator_argv

__all__ = ["OVER_INVOICE_ORDER", "standin", "standin_argv", "standin_orders"]

_READY = b"racelab simulator listening on "

OVER_INVOICE_ORDER: Mapping[str, Any] = {
    "items": [{"id": "sku-1", "price": 4990, "quantity": 2}, {"id": "sku-2", "price": 1500, "quantity": 1}],
    "shipping": 1000,
    "status": "ready-for-handling",
}
"""`scenarios/over-invoice.yaml`'s order (value 12480 cents), in `ready-for-handling` as a staging account's test
order is: the control-free run moves it to `handling` itself (`start-handling`). A test keeps this equal to the
scenario's order (tests/integration/test_standin.py)."""


def standin_orders(n: int, *, prefix: str, template: Mapping[str, Any] = OVER_INVOICE_ORDER) -> list[dict[str, Any]]:
    """`n` orders `{prefix}-0` .. `{prefix}-{n-1}`, each a deep copy of `template` in `ready-for-handling`.

    orders = standin_orders(2, prefix="oi")  # [{"orderId": "oi-0", ...}, {"orderId": "oi-1", ...}]
    """
    out = []
    for i in range(n):
        order = copy.deepcopy(dict(template))
        order["orderId"] = f"{prefix}-{i}"
        order["status"] = "ready-for-handling"
        out.append(order)
    return out


def standin_argv(
    orders_file: Path,
    *,
    consistency: Literal["snapshot", "serializable"] = "snapshot",
    profile: str = "default",
    overrides: Mapping[str, Any] | None = None,
    control: bool = False,
) -> list[str]:
    """The command line `standin()` runs: `racelab serve` on an ephemeral loopback port, `--no-control` (unless
    `control`), `--orders orders_file`, `--consistency consistency`."""
    argv = [*simulator_argv(profile, overrides), "--consistency", consistency, "--orders", str(orders_file)]
    if not control:
        argv.append("--no-control")
    return argv


@asynccontextmanager
async def standin(
    orders: Sequence[Mapping[str, Any]],
    *,
    consistency: Literal["snapshot", "serializable"] = "snapshot",
    profile: str = "default",
    overrides: Mapping[str, Any] | None = None,
) -> AsyncIterator[str]:
    """Start `racelab serve --no-control --orders FILE` (FILE: `orders`, one JSON line each) on an ephemeral
    loopback port; yield its base URL once it is ready (the orders exist then); stop it (SIGTERM, by pid) on exit.

    Raises:
        harness.errors.InvalidScenario: the child refused its orders, profile or overrides (exit 2; the message
            names the file, the line and the field).
        harness.errors.HarnessError: the child could not start.
    """
    with tempfile.TemporaryDirectory(prefix="racelab-standin-") as folder:
        orders_file = Path(folder) / "orders.jsonl"
        orders_file.write_text("".join(json.dumps(o) + "\n" for o in orders), encoding="utf-8")
        argv = standin_argv(orders_file, consistency=consistency, profile=profile, overrides=overrides)
        async with open_process_server(argv, ready=_READY, cpus=None, name="the stand-in platform") as url:
            yield url
