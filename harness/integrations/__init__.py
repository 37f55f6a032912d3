"""The integrations under test, as sans-IO flows: each written once, driven by every driver.

General layout (imports point down this list, never up):

    registry.py    integrations by name: built-ins, external, a user's `module:Class`
    steps.py       what each `do:` of a step means: the one dispatch every driver fires steps through
    builtin.py     naive, naive-retry, workaround, robust, hook-naive, hook-dedupe
    external.py    external processes: by hook URL, by feed, by polling the order list
    accounting.py  the accounting steps (register-invoice, update-invoice)
    contract.py    `Integration`: every hook a driver calls, typed and documented
    control.py     the control API's requests, and the harness's own flows (seed, final state, hook config)
    api.py         the Orders and Accounting requests an integration makes
    flow.py        effects, `Answer`, `Run`, `Flow`
    bodies.py      request bodies and history summaries

Pure: no asyncio, no aiohttp (the load profiles' gevent processes import it). Write your own integration as a
subclass of `Integration` (docs/integrations.md):

    from harness.integrations import Integration, Run, Flow, api, invoice_items

    class InvoiceAsRead(Integration):
        name = "invoice-as-read"

        def invoice(self, run: Run, step: Step) -> Flow[None]:
            read = yield api.get_order(run.order_id)
            if read.ok:
                yield api.invoice(run.order_id, number=run.invoice_number(), value=int(read.body["value"]),
                                  items=invoice_items(read.body))
"""

from __future__ import annotations

from harness.integrations import api, control
from harness.integrations.bodies import change_body, change_v1_body, invoice_items
from harness.integrations.builtin import HookDedupe, HookNaive, Naive, NaiveRetry, Robust, Workaround, invoice_order
from harness.integrations.contract import Integration, send_change, send_change_v1
from harness.integrations.external import EXTERNAL_SOURCES, ExternalIntegration, ExternalService
from harness.integrations.flow import Announce, Answer, AwaitChange, Call, Control, Effect, Flow, Run, Sleep, Waive
from harness.integrations.registry import BUILTIN, load_integration
from harness.integrations.steps import StepHandler, step_flow

__all__ = [
    "BUILTIN",
    "EXTERNAL_SOURCES",
    "Announce",
    "Answer",
    "AwaitChange",
    "Call",
    "Control",
    "Effect",
    "ExternalIntegration",
    "ExternalService",
    "Flow",
    "HookDedupe",
    "HookNaive",
    "Integration",
    "Naive",
    "NaiveRetry",
    "Robust",
    "Run",
    "Sleep",
    "StepHandler",
    "Waive",
    "Workaround",
    "api",
    "change_body",
    "change_v1_body",
    "control",
    "invoice_items",
    "invoice_order",
    "load_integration",
    "send_change",
    "send_change_v1",
    "step_flow",
]
