"""The order statuses of the Orders API, as both the simulator and the harness name them.

Owns `ORDER_STATUSES`: every status an order document's `status` may hold, in the platform's workflow order. The
simulator's workflow moves orders through them and its control API seeds orders in one of them; the harness
refuses a scenario that seeds an order in any other.

Imports: nothing (part of the contract both the simulator and the harness import).
"""

from __future__ import annotations

__all__ = ["ORDER_STATUSES"]

ORDER_STATUSES = (
    "order-created",
    "payment-pending",
    "payment-approved",
    "window-to-cancel",
    "ready-for-handling",
    "start-handling",
    "handling",
    "waiting-for-fulfillment",
    "invoice",
    "invoiced",
    "request-cancel",
    "cancel",
    "canceled",
)
"""Every status of an order, in workflow order (`canceled` and `invoiced` are final)."""
