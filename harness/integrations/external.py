"""Integrations that run as their own process (any language): racelab plays the platform, the process invoices.

Owns `ExternalIntegration` (`external:<hook URL>`: driven by the order hook racelab points at it) and
`ExternalService` (`external-feed:<name>`, `external-poll:<name>`: it finds its work in the feed or the order list by
itself), and what they share: each order is seeded in `ready-for-handling` and, at the run's start (t = 0), moved to
`handling`; the scenario's Change steps are sent by the harness at their offsets from that moment; `invoice` steps
are the process's own business. The run ends once the process has invoiced the order (bounded), and the driver then
waits for the simulator to be quiet before judging it.

Imports: stdlib, `harness.integrations` (flow, contract, control, builtin), `harness.errors`.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.errors import HarnessConnectionError, InvalidScenario
from harness.integrations import control
from harness.integrations.builtin import start_handling
from harness.integrations.contract import Integration
from harness.integrations.flow import Answer, Flow, Run, Sleep

__all__ = ["EXTERNAL_SOURCES", "ExternalIntegration", "ExternalService"]

EXTERNAL_SOURCES = ("feed", "poll")
"""How an `ExternalService` finds its work: `external-feed:<name>`, `external-poll:<name>`."""


class _External(Integration):
    seed_status = "ready-for-handling"
    external = True

    def __init__(self, *, invoice_timeout_s: float = 15.0) -> None:
        self.invoice_timeout_s = invoice_timeout_s

    def start(self, run: Run) -> Flow[None]:
        return start_handling(run)

    def settle(self, run: Run) -> Flow[None]:
        """Wait (bounded) until the process has invoiced the order: its invoice is not in our history.

        Raises:
            TimeoutError: it never did. The run is then cut short and judged `unknown`, so a gate cannot pass on a
                service that is down, or pointed at another simulator, and never invoiced anything.
        """
        deadline = run.now() + self.invoice_timeout_s
        while run.now() < deadline:
            answer: Answer = yield control.get_order(run.order_id)
            if answer.status == 200 and (answer.body.get("packageAttachment") or {}).get("packages"):
                return
            yield Sleep(0.05)
        raise TimeoutError(
            f"{self.name} did not invoice order {run.order_id} within {self.invoice_timeout_s:g} s: is it running, and "
            "pointed at this simulator?"
        )


class ExternalIntegration(_External):
    """An integration running as its own process (any language), driven by order-status hooks: `external:<hook URL>`.

    Before the runs, the driver configures the simulator's order hook to `hook_url` (status `handling`; the simulator
    pings it, and a process that does not answer stops the runs). The hook fired at t = 0 tells the process.
    """

    def __init__(self, url: str, *, invoice_timeout_s: float = 15.0) -> None:
        super().__init__(invoice_timeout_s=invoice_timeout_s)
        self.hook_url = url
        self.name = f"external:{url}"


class ExternalService(_External):
    """An integration running as its own process that finds its work by itself: racelab configures no hook.

    - `external-feed:<name>`: the process configures its own feed (`POST /api/orders/feed/config`) and reads it
      (`GET /api/orders/feed`, committing what it handled). Before the runs, racelab waits (up to `ready_timeout_s`)
      until a feed is configured (`GET /api/orders/feed/config` answers 200): an order moved to `handling` before
      that would never reach the feed.
    - `external-poll:<name>`: the process polls the order list (`GET /api/oms/pvt/orders?f_status=handling`).

    `name` is only a label (the gate's key, the history's actor); the process is started by the user, pointed at the
    simulator. The simulator's feed and order list are shared: the scenario should list no other integration.
    """

    def __init__(
        self, source: str, label: str, *, invoice_timeout_s: float = 15.0, ready_timeout_s: float = 10.0
    ) -> None:
        if source not in EXTERNAL_SOURCES:
            raise InvalidScenario(f"external-{source}: expected one of {', '.join(EXTERNAL_SOURCES)}")
        super().__init__(invoice_timeout_s=invoice_timeout_s)
        self.source = source
        self.label = label
        self.name = f"external-{source}:{label}"
        self.ready_timeout_s = ready_timeout_s

    def prepare(self, now: Callable[[], float]) -> Flow[None]:
        if self.source != "feed":
            return
        deadline = now() + self.ready_timeout_s
        while True:
            answer: Answer = yield control.feed_config()
            if answer.status == 200:
                return
            if now() >= deadline:
                raise HarnessConnectionError(
                    f"{self.name}: no feed is configured (GET /api/orders/feed/config: {answer.status} "
                    f"{answer.body}) after {self.ready_timeout_s:g} s; start your service first, pointed at this "
                    "simulator, and let it configure its feed (POST /api/orders/feed/config)"
                )
            yield Sleep(0.05)
