"""The Accounting (Riverty "Accounting as a Service") domain: records and rules (money in Decimal currency units),
and the service that runs every write through the timing model and reports results as notifications.

    from simulator.accounting import AccountingService, RequestKind
"""

from .model import AccountingOrder, AccountingRequest, NotificationType, RequestKind
from .service import AccountingService

__all__ = ["AccountingOrder", "AccountingRequest", "AccountingService", "NotificationType", "RequestKind"]
