"""The integration contract: every hook a driver calls on an integration, typed and documented in one place.

Owns `Integration`, the base class of every integration racelab runs: the built-ins, the external ones, and a user's
`module:Class` (the extension point: `racelab run --integration mymodule:MyIntegration`). Each hook returns a flow
(`harness.integrations.flow`); the base class's hooks do what an integration that does not care would want, so a
subclass overrides only what it changes:

    class InvoiceAsRead(Integration):
        name = "invoice-as-read"

        def invoice(self, run: Run, step: Step) -> Flow[None]:
            read = yield api.get_order(run.order_id)
            if read.ok:
                yield api.invoice(run.order_id, number=run.invoice_number(), value=int(read.body["value"]),
                                  items=invoice_items(read.body))

When the driver calls each hook:

- `prepare(now)`: once, before any run (an external service checks it can learn about orders).
- `start(run)`: at the run's t = 0, before its steps fire (a hook-driven integration moves the order to `handling`).
- `invoice(run, step)`, `change(run, step)`, `change_v1(run, step)`: when the schedule says so, each step in a flow
  of its own, concurrently with the others. The Change hooks must announce what they sent (`Announce`), which
  `send_change` / `send_change_v1` do: an invoice that waits for the Change is waiting for that word.
- `on_hook(run, payload)`: for each order hook the platform delivers for the run's order (only when `hook_driven`).
- `settle(run)`: after the steps, before the final state is read (an external process is given time to invoice).

Attributes the drivers read (class attributes; no driver probes for anything else):

- `name`: the integration's name in results and gates.
- `seed_status`: the status its orders are seeded in (None: the scenario's).
- `hook_driven`: the runner subscribes to order hooks and delivers them to `on_hook`.
- `hook_url`: an external process racelab points the order hook at before the runs.
- `external`: its requests come from outside the harness (virtual mode cannot run it).
- `requests_per_step`: for the runner's pacing, how many requests one step sends on average (None: the runner's
  estimate).

Imports: stdlib, `harness.integrations.flow`, `harness.integrations.bodies`, `harness.integrations.api`,
`harness.model`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from harness.integrations import api
from harness.integrations.bodies import change_body, change_v1_body, change_v1_request_id
from harness.integrations.flow import Announce, Answer, Flow, Run, nothing
from harness.model.records import Step

__all__ = ["Integration", "send_change", "send_change_v1"]


class Integration:
    """The base class of every integration: override the hooks it needs (see the module's docstring).

    class Mine(Integration):
        name = "mine"
        def invoice(self, run: Run, step: Step) -> Flow[None]: ...
    """

    name: str = ""
    seed_status: ClassVar[str | None] = None
    hook_driven: ClassVar[bool] = False
    external: ClassVar[bool] = False
    hook_url: str | None = None
    requests_per_step: ClassVar[float | None] = None

    def prepare(self, now: Callable[[], float]) -> Flow[None]:
        """Before any run (`now`: the driver's clock, in seconds)."""
        return nothing()

    def start(self, run: Run) -> Flow[None]:
        """At the run's t = 0."""
        return nothing()

    def invoice(self, run: Run, step: Step) -> Flow[None]:
        """An `invoice` step is due. The base class does nothing (a hook-driven or external integration invoices
        when it learns of the order)."""
        return nothing()

    def change(self, run: Run, step: Step) -> Flow[None]:
        """A `change` step is due: send its Change v2 now."""
        return send_change(run, step)

    def change_v1(self, run: Run, step: Step) -> Flow[None]:
        """A `change-v1` step is due: send its Change v1 now."""
        return send_change_v1(run, step)

    def on_hook(self, run: Run, payload: Mapping[str, Any]) -> Flow[None]:
        """An order hook for the run's order arrived (only for a `hook_driven` integration)."""
        return nothing()

    def settle(self, run: Run) -> Flow[None]:
        """After the steps, before the final state is read."""
        return nothing()


def send_change(run: Run, step: Step) -> Flow[None]:
    """Send the step's Change now, and tell the run its `requestId` (None if it was refused or lost)."""
    result: Answer = yield api.change(run.order_id, change_body(step))
    request_id = result.body.get("requestId") if result.ok and isinstance(result.body, Mapping) else None
    yield Announce(run.spec.steps.index(step), request_id)


def send_change_v1(run: Run, step: Step) -> Flow[None]:
    """Send the step's Change v1 now (synchronous: it answers once applied or refused), and tell the run its
    `requestId` once it answered 200 (None if it was refused or lost)."""
    index = run.spec.steps.index(step)
    body = change_v1_body(step, run.spec.order, request_id=change_v1_request_id(run.order_id, index))
    result: Answer = yield api.change_v1(run.order_id, body)
    yield Announce(index, body["requestId"] if result.ok else None)
