"""What each `do:` of a scenario step means, as a flow: the one dispatch every driver fires steps through.

Owns `step_flow()`: `invoice`, `change` and `change-v1` go to the integration's hooks; `cancel`, `register-invoice`
and `update-invoice` are the harness's own steps (the same for every integration); any other `do:` is a Python
scenario's handler (`def step_<name>(run, step)`, a flow too).

Imports: `harness.integrations` (flow, contract, api, accounting), `harness.model`, `harness.errors`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from harness.errors import InvalidScenario
from harness.integrations import api
from harness.integrations.accounting import register_invoice, update_invoice
from harness.integrations.contract import Integration
from harness.integrations.flow import Flow, Run
from harness.model.records import Step

__all__ = ["StepHandler", "step_flow"]

StepHandler = Callable[[Run, Step], Flow[None]]
"""A Python scenario's own step: `def step_<name>(run, step)`, a flow."""


def step_flow(
    integration: Integration, run: Run, index: int, step: Step, handlers: Mapping[str, StepHandler]
) -> Flow[None]:
    """The flow that fires step `index` of the run.

    Raises:
        InvalidScenario: no step of that name exists (a spec built by hand; scenario files are checked on load).
    """
    if step.do == "invoice":
        return integration.invoice(run, step)
    if step.do == "change":
        return integration.change(run, step)
    if step.do == "change-v1":
        return integration.change_v1(run, step)
    if step.do == "cancel":
        return _cancel(run, step)
    if step.do == "register-invoice":
        return register_invoice(run, step)
    if step.do == "update-invoice":
        return update_invoice(run, step)
    if step.do in handlers:
        return handlers[step.do](run, step)
    raise InvalidScenario(f"no handler for step {index} `do: {step.do}`")


def _cancel(run: Run, step: Step) -> Flow[None]:
    yield api.cancel_order(run.order_id, str(step.args.get("reason", "racelab scenario")))
