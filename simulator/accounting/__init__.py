"""The Accounting (Riverty "Accounting as a Service") domain, split the way Orders is:

- `records`: the enumerations, `AccountingOrder` and what it holds, the request inputs (plain data);
- `rules`: the tier-2 business rules, `problems()` and `unique_problems()` (pure);
- `documents`: the JSON documents (inspection, `errorDetails[]`, `updates[]`, notification parameters);
- `effects`: what an accepted request does, `new_order()` and `apply()`, and seeding from Orders (pure);
- `service`: `AccountingService`, which runs every write through the timing model and reports results as
  notifications.

Imports run one way: `records` <- `rules`, `documents`, `effects` <- `service`. Money is `Decimal` currency units
(`simulator.contract.money`).

    from simulator.accounting import AccountingService, RequestKind
"""

from .effects import SeedItem, positions_from_cents
from .records import (
    AccountingOrder,
    AccountingRequest,
    InvoiceInput,
    NotificationType,
    OrderType,
    PaymentInput,
    RequestKind,
    UpdateInvoiceInput,
)
from .service import AccountingService

__all__ = [
    "AccountingOrder",
    "AccountingRequest",
    "AccountingService",
    "InvoiceInput",
    "NotificationType",
    "OrderType",
    "PaymentInput",
    "RequestKind",
    "SeedItem",
    "UpdateInvoiceInput",
    "positions_from_cents",
]
