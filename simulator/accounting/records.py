"""Accounting domain records: one immutable version of a webshop order and the requests that change it.

Owns:
- the enumerations the reference names (`PositionType`, `VatType`, reasons, `NotificationType`, `RequestKind`...);
- `AccountingOrder`, one immutable version of a webshop order with its `Position`s, `Invoice`s, `Goodwill`s,
  `Return`s, `Cancellation`s, `Payment`s and `Refund`s, and the sums over them (`total`, `due`, `paid`...);
- the request inputs (`OrderInput`, `InvoiceInput`, `UpdateInvoiceInput`...) wrapped in an `AccountingRequest`;
- `ErrorDetail`, one business-rule problem (its wire shape is in `.documents`).

Money is `Decimal` currency units, never float (`simulator.contract.money`). The records are plain data: the rules
that judge a request are in `.rules`, its effect in `.effects`, the JSON documents in `.documents`.

    order = AccountingOrder("ORD1", "1000", "CUS-1", 1, "EUR", positions, "2026-11-21T10:00:00.000000Z")
    order.position(1).state is PositionState.OPEN

Imports: stdlib and `simulator.contract.money`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ..contract.money import round2

__all__ = [
    "ZERO",
    "AccountingOrder",
    "AccountingRequest",
    "Cancellation",
    "CancellationInput",
    "CancellationReason",
    "ErrorDetail",
    "Goodwill",
    "GoodwillInput",
    "GoodwillReason",
    "Invoice",
    "InvoiceInput",
    "Line",
    "NotificationType",
    "OrderChannel",
    "OrderInput",
    "OrderType",
    "Payment",
    "PaymentInput",
    "Position",
    "PositionState",
    "PositionType",
    "ProcessAfterDunning",
    "Refund",
    "RequestBody",
    "RequestKind",
    "Return",
    "ReturnInput",
    "ReturnReason",
    "UpdateInvoiceInput",
    "VatType",
]

ZERO = Decimal(0)


# -- enumerations (names as the reference spells them) --------------------------------------------------------


class OrderChannel(StrEnum):
    ECOM = "ECOM"
    MOTO = "MOTO"
    MOBILE = "MOBILE"
    POS = "POS"
    APP = "APP"
    P2P = "P2P"


class OrderType(StrEnum):
    PHYSICAL_GOODS = "PHYSICAL_GOODS"
    DIGITAL_GOODS = "DIGITAL_GOODS"
    BANK_VERIFICATION = "BANK_VERIFICATION"


class ProcessAfterDunning(StrEnum):
    HAND_OVER_FOR_DEBT_COLLECTION = "HAND_OVER_FOR_DEBT_COLLECTION"
    HAND_OVER_FOR_FACTORING = "HAND_OVER_FOR_FACTORING"


class VatType(StrEnum):
    TAXLESS = "TAXLESS"
    NORMAL = "NORMAL"
    REDUCED = "REDUCED"
    REVERSE = "REVERSE"


class PositionType(StrEnum):
    IBAN_VERIFICATION = "IBAN_VERIFICATION"
    LOYALTY_CARD = "LOYALTY_CARD"
    SHIPPING_COSTS_EXPRESS = "SHIPPING_COSTS_EXPRESS"
    FREE_ARTICLE = "FREE_ARTICLE"
    GIFT_CARD_VOUCHER_PAYMENT = "GIFT_CARD_VOUCHER_PAYMENT"
    GIFT_CARD_VOUCHER_SALE = "GIFT_CARD_VOUCHER_SALE"
    SERVICE_CHARGE = "SERVICE_CHARGE"
    CASH_ON_DELIVERY = "CASH_ON_DELIVERY"
    MARKETPLACE_PROVISION = "MARKETPLACE_PROVISION"
    SUBSCRIPTION_ORDER = "SUBSCRIPTION_ORDER"
    SUBSCRIPTION_ORDER_2 = "SUBSCRIPTION_ORDER_2"
    SALES_ARTICLE = "SALES_ARTICLE"
    DISCOUNT = "DISCOUNT"
    SHIPPING_COSTS = "SHIPPING_COSTS"
    DISCOUNT_FOR_SUBSCRIPTION_ORDER = "DISCOUNT_FOR_SUBSCRIPTION_ORDER"
    NOT_ACCOUNTING_RELEVANT = "NOT_ACCOUNTING_RELEVANT"
    CREDIT_NOTE = "CREDIT_NOTE"


class CancellationReason(StrEnum):
    OUT_OF_STOCK = "OUT_OF_STOCK"
    CUSTOMER_CANCELLATION = "CUSTOMER_CANCELLATION"
    NO_PAYMENT = "NO_PAYMENT"
    CUSTOMER_SERVICE = "CUSTOMER_SERVICE"


class GoodwillReason(StrEnum):
    CUSTOMER_COMPLAINT = "CUSTOMER_COMPLAINT"
    DELIVERY_DELAYED = "DELIVERY_DELAYED"
    ARTICLE_PARCEL_MISSING = "ARTICLE_PARCEL_MISSING"
    CORRECTION_VOUCHER = "CORRECTION_VOUCHER"
    ARTICLE_DEFECTIVE = "ARTICLE_DEFECTIVE"
    CORRECTION_PRICE = "CORRECTION_PRICE"
    LOSS_OF_RETURN_POST = "LOSS_OF_RETURN_POST"
    LOSS_OF_RETURN_WAREHOUSE = "LOSS_OF_RETURN_WAREHOUSE"
    LOSS_OF_DELIVERY = "LOSS_OF_DELIVERY"
    CONTRADICTION_OF_SIGNATURE = "CONTRADICTION_OF_SIGNATURE"
    FRAUD = "FRAUD"
    ISSUE_IN_STORE = "ISSUE_IN_STORE"
    REFUND_EXPRESS_COSTS = "REFUND_EXPRESS_COSTS"
    OTHER = "OTHER"
    LOSS_OF_DELIVERY_WARENPOST = "LOSS_OF_DELIVERY_WARENPOST"
    WRONG_DELIVERY = "WRONG_DELIVERY"


class ReturnReason(StrEnum):
    CARRIER_RETURN = "CARRIER_RETURN"
    CUSTOMER_RETURN = "CUSTOMER_RETURN"


class NotificationType(StrEnum):
    EDI_ERROR_SENT = "accounting/EDIErrorSent"
    """The qualitative response: every request gets one (`OK` or `ERROR_IN_FILE`); always delivered."""
    INVOICE_CREATED = "accounting/invoiceCreated"
    DOCUMENT_CREATED = "accounting/documentCreated"
    BALANCE_UPDATED = "accounting/balanceUpdated"
    PAYMENT_RECEIVED = "accounting/paymentReceived"
    REFUND_COMPLETED = "accounting/refundCompleted"
    CHARGEBACK_RECEIVED = "accounting/chargebackReceived"
    REMINDER_SENT = "accounting/reminderSent"


class PositionState(StrEnum):
    OPEN = "open"
    INVOICED = "invoiced"
    CANCELLED = "cancelled"


class RequestKind(StrEnum):
    """One kind of accounting write; its journal op is `accounting.<value>`."""

    ORDER = "order"
    INVOICE = "invoice"
    UPDATE_INVOICE = "update_invoice"
    CANCELLATION = "cancellation"
    GOODWILL = "goodwill"
    RETURN = "return"
    PAYMENT = "payment"

    @property
    def op_name(self) -> str:
        return f"accounting.{self.value}"

    @property
    def request_type(self) -> str:
        """The `requestType` of the EDIErrorSent notification. The reference attests `GET_ORDER` (create order);
        the others follow the same pattern."""
        return _REQUEST_TYPES[self]


_REQUEST_TYPES = {
    RequestKind.ORDER: "GET_ORDER",
    RequestKind.INVOICE: "GET_INVOICE",
    RequestKind.UPDATE_INVOICE: "UPDATE_INVOICE",
    RequestKind.CANCELLATION: "GET_CANCELLATION",
    RequestKind.GOODWILL: "GET_GOODWILL",
    RequestKind.RETURN: "GET_RETURN",
    RequestKind.PAYMENT: "GET_PAYMENT",
}


# -- records -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    """Amounts of one position as a document (invoice, goodwill, return) carries them."""

    reference: int
    gross_unit_price: Decimal
    quantity: Decimal
    vat_amount: Decimal
    """Per unit."""
    vat_percent: Decimal
    vat_type: VatType

    @property
    def gross(self) -> Decimal:
        return round2(self.gross_unit_price * self.quantity)

    @property
    def vat(self) -> Decimal:
        return round2(self.vat_amount * self.quantity)


@dataclass(frozen=True, slots=True)
class Position:
    """One order position (`orderItemReference`) and what has happened to it."""

    reference: int
    gross_unit_price: Decimal
    quantity: Decimal
    vat_amount: Decimal
    vat_percent: Decimal
    vat_type: VatType
    position_type: PositionType = PositionType.SALES_ARTICLE
    product_id: str | None = None
    description: str | None = None
    state: PositionState = PositionState.OPEN
    invoice_reference: str | None = None
    returned_quantity: Decimal = ZERO
    returned_amount: Decimal = ZERO
    """Gross credited by returns."""
    goodwill_amount: Decimal = ZERO
    """Gross credited by (explicit) goodwills; the automatic goodwill of an update invoice is not one."""

    @property
    def gross(self) -> Decimal:
        return round2(self.gross_unit_price * self.quantity)

    @property
    def reduced(self) -> bool:
        """Returned or credited by a goodwill: update invoice is no longer allowed (rule 2)."""
        return self.returned_quantity > 0 or self.goodwill_amount != 0

    def line(self) -> Line:
        return Line(
            self.reference, self.gross_unit_price, self.quantity, self.vat_amount, self.vat_percent, self.vat_type
        )


@dataclass(frozen=True, slots=True)
class Invoice:
    invoice_reference: str
    invoice_date: str
    lines: tuple[Line, ...]
    request_id: str
    created_at: str
    due_date: str | None = None
    dispatch_date: str | None = None
    shipment_reference: str | None = None
    carrier: str | None = None
    tracking_code: str | None = None
    nullified_by: str | None = None
    """The `goodwillReference` of the automatic goodwill that nullified it (update invoice)."""
    replaces: str | None = None
    """For an invoice issued by an update: the reference of the invoice it replaces."""
    vat_correction: Decimal | None = None
    """For an invoice issued by an update: its VAT minus the replaced invoice's (the tax booking's correction)."""

    @property
    def active(self) -> bool:
        return self.nullified_by is None

    @property
    def gross(self) -> Decimal:
        return sum((ln.gross for ln in self.lines), ZERO)

    @property
    def vat(self) -> Decimal:
        return sum((ln.vat for ln in self.lines), ZERO)


@dataclass(frozen=True, slots=True)
class Goodwill:
    goodwill_reference: str
    goodwill_date: str
    reason: GoodwillReason | None
    lines: tuple[Line, ...]
    request_id: str
    created_at: str
    invoice_reference: str | None = None
    automatic: bool = False
    """Created by an update invoice to nullify the original invoice."""

    @property
    def gross(self) -> Decimal:
        return sum((ln.gross for ln in self.lines), ZERO)


@dataclass(frozen=True, slots=True)
class Return:
    return_reference: str
    return_date: str
    reason: ReturnReason
    lines: tuple[Line, ...]
    request_id: str
    created_at: str
    invoice_reference: str | None = None

    @property
    def gross(self) -> Decimal:
        return sum((ln.gross for ln in self.lines), ZERO)


@dataclass(frozen=True, slots=True)
class Cancellation:
    cancellation_date: str
    reason: CancellationReason
    references: tuple[int, ...]
    request_id: str
    created_at: str
    invoice_reference: str | None = None


@dataclass(frozen=True, slots=True)
class Payment:
    amount: Decimal
    request_id: str
    created_at: str
    provider: str | None = None
    payment_date: str | None = None


@dataclass(frozen=True, slots=True)
class Refund:
    amount: Decimal
    """Positive; notified as a negative `refundedToOriginalPaymentInstrument`."""
    cause: RequestKind
    transaction_id: str
    request_id: str
    created_at: str


@dataclass(frozen=True, slots=True)
class AccountingOrder:
    """One committed version of a webshop order in Accounting. Never mutated: every COMMIT makes a new version."""

    order_reference: str
    business_code: str
    customer_number: str
    version: int
    currency: str
    positions: tuple[Position, ...]
    created_at: str
    order_date: str = ""
    order_channel: OrderChannel = OrderChannel.ECOM
    order_type: OrderType = OrderType.PHYSICAL_GOODS
    supplying_country: str | None = None
    vat_declaration_country: str | None = None
    payment_method_name: str | None = None
    invoices: tuple[Invoice, ...] = ()
    goodwills: tuple[Goodwill, ...] = ()
    returns: tuple[Return, ...] = ()
    cancellations: tuple[Cancellation, ...] = ()
    payments: tuple[Payment, ...] = ()
    refunds: tuple[Refund, ...] = ()

    def evolve(self, **changes: Any) -> AccountingOrder:
        """A copy with `changes` applied (the engine's `Tx.commit` uses it to stamp the version)."""
        return AccountingOrder(**{name: changes.get(name, getattr(self, name)) for name in _ORDER_FIELDS})

    def position(self, reference: int) -> Position | None:
        return next((p for p in self.positions if p.reference == reference), None)

    def invoice(self, invoice_reference: str) -> Invoice | None:
        """The active (not nullified) invoice with this reference."""
        return next((i for i in self.invoices if i.invoice_reference == invoice_reference and i.active), None)

    @property
    def cancelled(self) -> bool:
        """Every position cancelled: the whole order is."""
        return all(p.state is PositionState.CANCELLED for p in self.positions)

    @property
    def total(self) -> Decimal:
        """The gross of every position not cancelled (what the order is worth)."""
        return sum((p.gross for p in self.positions if p.state is not PositionState.CANCELLED), ZERO)

    @property
    def invoiced_gross(self) -> Decimal:
        """The gross of the active invoices (nullified ones excluded)."""
        return sum((i.gross for i in self.invoices if i.active), ZERO)

    @property
    def credited(self) -> Decimal:
        """What returns and explicit goodwills credited."""
        return sum((p.returned_amount + p.goodwill_amount for p in self.positions), ZERO)

    @property
    def billed_gross(self) -> Decimal:
        """What the customer is billed: active invoices less returns and goodwills."""
        return self.invoiced_gross - self.credited

    @property
    def due(self) -> Decimal:
        """What the customer owes for the order overall: the positions not cancelled, less credits."""
        return self.total - self.credited

    @property
    def paid(self) -> Decimal:
        return sum((p.amount for p in self.payments), ZERO)

    @property
    def refunded(self) -> Decimal:
        return sum((r.amount for r in self.refunds), ZERO)


_ORDER_FIELDS = tuple(f.name for f in fields(AccountingOrder))


# -- requests ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderInput:
    """Create webshop order (also the `order` block of an update invoice)."""

    order_reference: str
    currency: str
    order_date: str
    order_channel: OrderChannel
    order_type: OrderType
    positions: tuple[Position, ...]
    supplying_country: str | None = None
    vat_declaration_country: str | None = None
    payment_method_name: str | None = None
    bill_to_language: str | None = None
    ship_to_language: str | None = None


@dataclass(frozen=True, slots=True)
class InvoiceInput:
    invoice_reference: str
    invoice_date: str
    references: tuple[int, ...]
    due_date: str | None = None
    dispatch_date: str | None = None
    shipment_reference: str | None = None
    carrier: str | None = None
    tracking_code: str | None = None


@dataclass(frozen=True, slots=True)
class UpdateInvoiceInput:
    invoice_reference: str
    """The invoice to update (path)."""
    goodwill_reference: str
    invoice: InvoiceInput
    order: OrderInput


@dataclass(frozen=True, slots=True)
class CancellationInput:
    cancellation_date: str
    reason: CancellationReason
    references: tuple[int, ...]
    """Empty: every open position (the whole order)."""
    invoice_reference: str | None = None


@dataclass(frozen=True, slots=True)
class GoodwillInput:
    goodwill_reference: str
    goodwill_date: str
    reason: GoodwillReason | None
    lines: tuple[Line, ...]
    invoice_reference: str | None = None


@dataclass(frozen=True, slots=True)
class ReturnInput:
    return_reference: str
    return_date: str
    reason: ReturnReason
    lines: tuple[Line, ...]
    invoice_reference: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentInput:
    amount: Decimal
    provider: str | None = None
    payment_date: str | None = None


RequestBody = (
    OrderInput | InvoiceInput | UpdateInvoiceInput | CancellationInput | GoodwillInput | ReturnInput | PaymentInput
)


@dataclass(frozen=True, slots=True)
class AccountingRequest:
    """One accepted (tier-1 valid) write, as the worker processes it."""

    kind: RequestKind
    business_code: str
    customer_number: str
    order_reference: str
    internal_request_id: str
    transaction_id: str
    """The client's `X-Request-ID` when given (the reference's transaction id), else the internal id."""
    body: RequestBody


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One entry of an EDIErrorSent `errorDetails[]`."""

    field_name: str
    provided_value: str
    description: str
