"""Accounting domain records and the pure rules over them (money in `Decimal` currency units, never float).

Owns:
- the enumerations the reference names (`PositionType`, `VatType`, reasons, `NotificationType`...);
- money arithmetic: `round2()` (ROUND_HALF_UP), `vat_per_unit()`, `from_cents()` (exact conversion from Orders);
- `AccountingOrder`, one immutable version of a webshop order with its `Position`s, `Invoice`s, `Goodwill`s,
  `Return`s, `Cancellation`s, `Payment`s and `Refund`s;
- the request inputs (`OrderInput`, `InvoiceInput`, `UpdateInvoiceInput`...) wrapped in an `AccountingRequest`;
- for every write, its tier-2 business check (`problems()`, a list of `ErrorDetail`, empty when accepted; reported
  by the service as an `accounting/EDIErrorSent` notification) and its effect (`apply()` / `new_order()`).

Rules (reference/riverty-aaas-api.md, seeds/riverty-update-invoice.md):
- the order must exist in the request's business and belong to the request's customer;
- invoice: whole positions; each one known, not cancelled, not yet invoiced; the order not cancelled; `carrier`
  and `trackingCode` given when the order is of `PHYSICAL_GOODS` (create invoice: "Only required for physical goods
  and if order is shipped", docs.riverty.com/accounting_as_a_service/api_reference/create_invoice); an update
  re-issuing an invoice may leave them out when the invoice it replaces has them (they are carried over);
- cancellation: only positions not invoiced (no items: every open position, i.e. the whole order);
- goodwill and return: only invoiced positions; a return at most the quantity not yet returned, a goodwill at most
  the gross not yet returned or credited;
- update invoice: (1) the customer identifier cannot change; (2) no position of the order was returned or received
  a goodwill, and every position is invoiced or cancelled; (3) per position, the gross may go down, never up.
  Effect: the original invoice is nullified by an automatic goodwill (`goodwillReference`), a new invoice is issued
  with the corrected positions (its VAT correction recorded), and any overpayment is refunded.
- Refunds: after a cancellation, goodwill, return or update, whatever the customer paid beyond what they now owe is
  refunded to the original payment instrument (`accounting/refundCompleted`); with nothing paid, nothing is refunded
  and the lower amount is simply owed.

Everything here is pure: no clock, no I/O, ids and times are passed in.

Imports: stdlib only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

__all__ = [
    "AccountingOrder",
    "AccountingRequest",
    "CancellationInput",
    "CancellationReason",
    "ErrorDetail",
    "GoodwillInput",
    "GoodwillReason",
    "Invoice",
    "InvoiceInput",
    "Line",
    "NotificationType",
    "OrderChannel",
    "OrderInput",
    "OrderType",
    "PaymentInput",
    "Position",
    "PositionState",
    "PositionType",
    "ProcessAfterDunning",
    "RequestKind",
    "ReturnInput",
    "ReturnReason",
    "SeedItem",
    "UpdateInvoiceInput",
    "VatType",
    "apply",
    "from_cents",
    "money_json",
    "new_order",
    "positions_from_cents",
    "problems",
    "round2",
    "unique_problems",
    "update_summary",
    "vat_per_unit",
]

CENT = Decimal("0.01")
ZERO = Decimal(0)
VAT_TOLERANCE = CENT
"""A per-unit `vatAmount` may differ from `vat_per_unit()` by one cent (rounding done elsewhere), no more."""


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


NEGATIVE_POSITION_TYPES = frozenset(
    {
        PositionType.DISCOUNT,
        PositionType.DISCOUNT_FOR_SUBSCRIPTION_ORDER,
        PositionType.GIFT_CARD_VOUCHER_PAYMENT,
        PositionType.CREDIT_NOTE,
    }
)
"""Position types whose gross unit price may be negative (a discount lowers the order total)."""


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


# -- money ---------------------------------------------------------------------------------------------------


def round2(x: Decimal) -> Decimal:
    """Round to cents, halves away from zero (ROUND_HALF_UP), as the reference's examples do."""
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def vat_per_unit(gross: Decimal, vat_percent: Decimal) -> Decimal:
    """The VAT inside one unit's gross price: `round2(gross - gross / (1 + vatPercent / 100))`.

    vat_per_unit(Decimal("11.9"), Decimal(19)) == Decimal("1.90")
    """
    return round2(gross - gross / (1 + vat_percent / 100))


def from_cents(cents: int) -> Decimal:
    """Orders' integer cents as currency units, exactly: 4990 → Decimal("49.90")."""
    return (Decimal(cents) / 100).quantize(CENT)


def money_json(x: Decimal) -> float:
    """A money amount for a JSON document. Only at the edge: arithmetic stays in Decimal."""
    return float(round2(x))


def _dec(x: Decimal) -> str:
    """A Decimal as the `providedValue` of an error detail (no exponent, no trailing zeros beyond cents)."""
    return format(x.normalize(), "f") if x == x.to_integral_value() else format(x, "f")


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

    def to_json(self) -> dict[str, Any]:
        return {
            "orderItemReference": self.reference,
            "grossUnitPrice": money_json(self.gross_unit_price),
            "quantity": float(self.quantity),
            "vatAmount": money_json(self.vat_amount),
            "vatPercent": float(self.vat_percent),
            "vatType": self.vat_type.value,
            "grossAmount": money_json(self.gross),
        }


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
        return Line(self.reference, self.gross_unit_price, self.quantity, self.vat_amount, self.vat_percent,
                    self.vat_type)  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            **self.line().to_json(),
            "positionType": self.position_type.value,
            "productId": self.product_id,
            "description": self.description,
            "state": self.state.value,
            "invoiceReference": self.invoice_reference,
            "returned": self.returned_quantity > 0,
            "returnedQuantity": float(self.returned_quantity),
            "returnedAmount": money_json(self.returned_amount),
            "goodwill": self.goodwill_amount != 0,
            "goodwillAmount": money_json(self.goodwill_amount),
        }


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

    def to_json(self) -> dict[str, Any]:
        return {
            "invoiceReference": self.invoice_reference,
            "invoiceDate": self.invoice_date,
            "dueDate": self.due_date,
            "dispatchDate": self.dispatch_date,
            "shipmentReference": self.shipment_reference,
            "carrier": self.carrier,
            "trackingCode": self.tracking_code,
            "items": [ln.to_json() for ln in self.lines],
            "grossAmount": money_json(self.gross),
            "vatAmount": money_json(self.vat),
            "nullified": not self.active,
            "nullifiedBy": self.nullified_by,
            "replaces": self.replaces,
            "vatCorrection": None if self.vat_correction is None else money_json(self.vat_correction),
            "internalRequestId": self.request_id,
            "createdAt": self.created_at,
        }


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

    def to_json(self) -> dict[str, Any]:
        return {
            "goodwillReference": self.goodwill_reference,
            "goodwillDate": self.goodwill_date,
            "goodwillReason": None if self.reason is None else self.reason.value,
            "invoiceReference": self.invoice_reference,
            "automatic": self.automatic,
            "items": [ln.to_json() for ln in self.lines],
            "grossAmount": money_json(self.gross),
            "internalRequestId": self.request_id,
            "createdAt": self.created_at,
        }


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

    def to_json(self) -> dict[str, Any]:
        return {
            "returnReference": self.return_reference,
            "returnDate": self.return_date,
            "returnReason": self.reason.value,
            "invoiceReference": self.invoice_reference,
            "items": [ln.to_json() for ln in self.lines],
            "grossAmount": money_json(self.gross),
            "internalRequestId": self.request_id,
            "createdAt": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class Cancellation:
    cancellation_date: str
    reason: CancellationReason
    references: tuple[int, ...]
    request_id: str
    created_at: str
    invoice_reference: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "cancellationDate": self.cancellation_date,
            "cancellationReason": self.reason.value,
            "invoiceReference": self.invoice_reference,
            "items": [{"orderItemReference": r} for r in self.references],
            "internalRequestId": self.request_id,
            "createdAt": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class Payment:
    amount: Decimal
    request_id: str
    created_at: str
    provider: str | None = None
    payment_date: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "authorizedAmount": money_json(self.amount),
            "paymentProvider": self.provider,
            "paymentDate": self.payment_date,
            "internalRequestId": self.request_id,
            "createdAt": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class Refund:
    amount: Decimal
    """Positive; notified as a negative `refundedToOriginalPaymentInstrument`."""
    cause: RequestKind
    transaction_id: str
    request_id: str
    created_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "refundedToOriginalPaymentInstrument": money_json(-self.amount),
            "cause": self.cause.value,
            "transactionId": self.transaction_id,
            "internalRequestId": self.request_id,
            "createdAt": self.created_at,
        }


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

    def to_json(self) -> dict[str, Any]:
        return {
            "orderReference": self.order_reference,
            "businessCode": self.business_code,
            "customerNumber": self.customer_number,
            "version": self.version,
            "currency": self.currency,
            "orderDate": self.order_date,
            "orderChannel": self.order_channel.value,
            "orderType": self.order_type.value,
            "cancelled": self.cancelled,
            "positions": [p.to_json() for p in self.positions],
            "invoices": [i.to_json() for i in self.invoices],
            "goodwills": [g.to_json() for g in self.goodwills],
            "returns": [r.to_json() for r in self.returns],
            "cancellations": [c.to_json() for c in self.cancellations],
            "payments": [p.to_json() for p in self.payments],
            "refunds": [r.to_json() for r in self.refunds],
            "totalGross": money_json(self.total),
            "invoicedGross": money_json(self.invoiced_gross),
            "billedGross": money_json(self.billed_gross),
            "paid": money_json(self.paid),
            "refunded": money_json(self.refunded),
            "createdAt": self.created_at,
        }


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

    def to_json(self) -> dict[str, str]:
        return {"fieldName": self.field_name, "providedValue": self.provided_value,
                "ErrorDescription": self.description}  # fmt: skip


# -- seeding from Orders -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeedItem:
    """An Orders item to mirror: unit price in cents."""

    product_id: str
    name: str
    price_cents: int
    quantity: int


def positions_from_cents(
    items: Iterable[SeedItem], *, shipping_cents: int, discounts_cents: int, vat_percent: Decimal
) -> tuple[Position, ...]:
    """Mirror an Orders order as Accounting positions: `orderItemReference` 1..n in item order (SALES_ARTICLE,
    `grossUnitPrice` = cents / 100, VAT per unit), then shipping (SHIPPING_COSTS) and discounts (DISCOUNT) as one
    position each when not zero. Orders ids are cut to the reference's lengths (productId 30, description 40)."""
    vat_type = VatType.TAXLESS if vat_percent == 0 else VatType.NORMAL

    def position(reference: int, cents: int, quantity: int, kind: PositionType, pid: str | None,
                 text: str | None) -> Position:  # fmt: skip
        gross = from_cents(cents)
        return Position(reference, gross, Decimal(quantity), vat_per_unit(gross, vat_percent), vat_percent,
                        vat_type, kind, pid, text)  # fmt: skip

    out = [
        position(n, i.price_cents, i.quantity, PositionType.SALES_ARTICLE, i.product_id[:30], i.name[:40])
        for n, i in enumerate(items, start=1)
    ]
    if shipping_cents:
        out.append(position(len(out) + 1, shipping_cents, 1, PositionType.SHIPPING_COSTS, None, "Shipping"))
    if discounts_cents:
        out.append(position(len(out) + 1, discounts_cents, 1, PositionType.DISCOUNT, None, "Discounts"))
    return tuple(out)


# -- tier-2 rules --------------------------------------------------------------------------------------------


def _err(field_name: str, value: object, description: str) -> ErrorDetail:
    shown = _dec(value) if isinstance(value, Decimal) else str(value)
    return ErrorDetail(field_name, shown, description)


def problems(order: AccountingOrder | None, request: AccountingRequest) -> list[ErrorDetail]:
    """Every business rule `request` breaks, judged against `order` (None: no such order; a possibly stale
    snapshot in `snapshot` consistency). Empty: the request is accepted."""
    body = request.body
    if request.kind is RequestKind.ORDER:
        assert isinstance(body, OrderInput)
        return _order_problems(order, request, body)
    if order is None or order.business_code != request.business_code:
        return [_err("ORDERREFERENCE", request.order_reference,
                     f"Order {request.order_reference} does not exist in business {request.business_code}: create "
                     "it (and wait for its EDIErrorSent OK) before sending requests for it")]  # fmt: skip
    if order.customer_number != request.customer_number:
        if request.kind is RequestKind.UPDATE_INVOICE:
            message = (f"The customer identifier cannot be changed with update invoice: order "
                       f"{order.order_reference} belongs to customer {order.customer_number}")  # fmt: skip
        else:
            message = f"Order {order.order_reference} belongs to customer {order.customer_number}, not this one"
        return [_err("CUSTOMERNUMBER", request.customer_number, message)]
    if isinstance(body, InvoiceInput):
        return _invoice_problems(order, body)
    if isinstance(body, UpdateInvoiceInput):
        return _update_problems(order, body)
    if isinstance(body, CancellationInput):
        return _cancellation_problems(order, body)
    if isinstance(body, GoodwillInput):
        return _goodwill_problems(order, body)
    if isinstance(body, ReturnInput):
        return _return_problems(order, body)
    assert isinstance(body, PaymentInput)
    if order.cancelled:
        return [_err("ORDERREFERENCE", order.order_reference, f"Order {order.order_reference} is cancelled")]
    return []


def unique_problems(latest: AccountingOrder, request: AccountingRequest) -> list[ErrorDetail]:
    """The unique references, judged against the latest version at COMMIT (like a unique index, never stale)."""
    body = request.body
    if isinstance(body, InvoiceInput) and latest.invoice(body.invoice_reference) is not None:
        return [_duplicate_invoice(latest, body.invoice_reference)]
    if isinstance(body, UpdateInvoiceInput):
        out = []
        if latest.invoice(body.invoice_reference) is None:
            out.append(_err("INVOICEREFERENCE", body.invoice_reference,
                            f"Invoice {body.invoice_reference} of order {latest.order_reference} was nullified "
                            "meanwhile by another update"))  # fmt: skip
        if _goodwill_taken(latest, body.goodwill_reference):
            out.append(_duplicate_goodwill(latest, body.goodwill_reference))
        return out
    if isinstance(body, GoodwillInput) and _goodwill_taken(latest, body.goodwill_reference):
        return [_duplicate_goodwill(latest, body.goodwill_reference)]
    if isinstance(body, ReturnInput) and any(r.return_reference == body.return_reference for r in latest.returns):
        return [_err("RETURNREFERENCE", body.return_reference,
                     f"Return reference {body.return_reference} was already used for order "
                     f"{latest.order_reference}")]  # fmt: skip
    return []


def _duplicate_invoice(order: AccountingOrder, reference: str) -> ErrorDetail:
    return _err("INVOICEREFERENCE", reference,
                f"Invoice reference {reference} is already used by an active invoice of order "
                f"{order.order_reference}")  # fmt: skip


def _goodwill_taken(order: AccountingOrder, reference: str) -> bool:
    return any(g.goodwill_reference == reference for g in order.goodwills)


def _duplicate_goodwill(order: AccountingOrder, reference: str) -> ErrorDetail:
    return _err("GOODWILLREFERENCE", reference,
                f"Goodwill reference {reference} was already used for order {order.order_reference}")  # fmt: skip


def _item_problems(positions: Iterable[Position], *, prefix: str = "") -> list[ErrorDetail]:
    out: list[ErrorDetail] = []
    seen: set[int] = set()
    for p in positions:
        if p.reference in seen:
            out.append(_err("ORDERITEMREFERENCE", p.reference,
                            f"orderItemReference {p.reference} appears more than once; every position needs its own "
                            "reference"))  # fmt: skip
        seen.add(p.reference)
        out.extend(_line_problems(p.line()))
        if p.gross_unit_price < 0 and p.position_type not in NEGATIVE_POSITION_TYPES:
            allowed = ", ".join(sorted(t.value for t in NEGATIVE_POSITION_TYPES))
            out.append(_err("GROSSUNITPRICE", p.gross_unit_price,
                            f"Position {p.reference}: a negative grossUnitPrice is only allowed for positionType "
                            f"{allowed}, not {p.position_type.value}"))  # fmt: skip
    return out


def _line_problems(line: Line) -> list[ErrorDetail]:
    out = []
    expected = vat_per_unit(line.gross_unit_price, line.vat_percent)
    if abs(line.vat_amount - expected) > VAT_TOLERANCE:
        out.append(_err("VATAMOUNT", line.vat_amount,
                        f"Position {line.reference}: vatAmount is the VAT of one unit, round2(gross - gross / "
                        f"(1 + vatPercent / 100)) = {expected} for grossUnitPrice {_dec(line.gross_unit_price)} at "
                        f"{_dec(line.vat_percent)}%"))  # fmt: skip
    if line.vat_type is VatType.TAXLESS and line.vat_percent != 0:
        out.append(_err("VATPERCENT", line.vat_percent,
                        f"Position {line.reference}: vatType TAXLESS needs vatPercent 0"))  # fmt: skip
    return out


def _order_problems(
    existing: AccountingOrder | None, request: AccountingRequest, body: OrderInput
) -> list[ErrorDetail]:
    out = []
    if existing is not None:
        out.append(_err("ORDERREFERENCE", body.order_reference,
                        f"Order {body.order_reference} already exists (business {existing.business_code}); an "
                        "order reference can be created once"))  # fmt: skip
    for name, language in (("BILLTOLANGUAGECODE", body.bill_to_language),
                           ("SHIPTOLANGUAGECODE", body.ship_to_language)):  # fmt: skip
        if language is not None and not (language.isalpha() and language.islower()):
            out.append(_err(name, language, f"The content of field {name} may only consist of lower case letters."))
    out.extend(_item_problems(body.positions))
    return out


def _shipping_problems(order: AccountingOrder, carrier: str | None, tracking_code: str | None) -> list[ErrorDetail]:
    """`carrier` and `trackingCode` are required on invoices of physical goods (they ship)."""
    if order.order_type is not OrderType.PHYSICAL_GOODS:
        return []
    return [
        _err(name, "", f"{field} is required for an invoice of order {order.order_reference}, of PHYSICAL_GOODS "
                       "(needed for chargeback handling)")
        for name, field, value in (("CARRIER", "carrier", carrier), ("TRACKINGCODE", "trackingCode", tracking_code))
        if not value
    ]  # fmt: skip


def _invoice_problems(order: AccountingOrder, body: InvoiceInput) -> list[ErrorDetail]:
    out = _shipping_problems(order, body.carrier, body.tracking_code)
    if order.cancelled:
        out.append(_err("ORDERREFERENCE", order.order_reference,
                        f"Order {order.order_reference} is cancelled and cannot be invoiced"))  # fmt: skip
    if order.invoice(body.invoice_reference) is not None:
        out.append(_duplicate_invoice(order, body.invoice_reference))
    out.extend(_references_problems(order, body.references, "invoiced"))
    for ref in body.references:
        p = order.position(ref)
        if p is None:
            continue
        if p.state is PositionState.CANCELLED:
            out.append(_err("ORDERITEMREFERENCE", ref,
                            f"Position {ref} is cancelled; a cancelled position cannot be invoiced"))  # fmt: skip
        elif p.state is PositionState.INVOICED:
            out.append(_err("ORDERITEMREFERENCE", ref,
                            f"Position {ref} is already invoiced (invoice {p.invoice_reference}); only whole "
                            "positions not yet invoiced can be invoiced"))  # fmt: skip
    return out


def _references_problems(order: AccountingOrder, references: Iterable[int], what: str) -> list[ErrorDetail]:
    out = []
    seen: set[int] = set()
    known = ", ".join(str(p.reference) for p in order.positions)
    for ref in references:
        if ref in seen:
            out.append(_err("ORDERITEMREFERENCE", ref, f"Position {ref} is listed more than once"))
        seen.add(ref)
        if order.position(ref) is None:
            out.append(_err("ORDERITEMREFERENCE", ref,
                            f"Position {ref} is not in order {order.order_reference} (positions: {known}) and "
                            f"cannot be {what}"))  # fmt: skip
    return out


def _cancellation_problems(order: AccountingOrder, body: CancellationInput) -> list[ErrorDetail]:
    if order.cancelled:
        return [_err("ORDERREFERENCE", order.order_reference, f"Order {order.order_reference} is already cancelled")]
    if not body.references:
        if not any(p.state is PositionState.OPEN for p in order.positions):
            return [_err("ORDERREFERENCE", order.order_reference,
                         f"Order {order.order_reference} has no position left to cancel: every one is invoiced or "
                         "cancelled")]  # fmt: skip
        return []
    out = _references_problems(order, body.references, "cancelled")
    for ref in body.references:
        p = order.position(ref)
        if p is None:
            continue
        if p.state is PositionState.INVOICED:
            out.append(_err("ORDERITEMREFERENCE", ref,
                            f"Position {ref} is invoiced (invoice {p.invoice_reference}); only positions not yet "
                            "invoiced can be cancelled — use a return or a goodwill"))  # fmt: skip
        elif p.state is PositionState.CANCELLED:
            out.append(_err("ORDERITEMREFERENCE", ref, f"Position {ref} is already cancelled"))
    return out


def _credit_lines_problems(order: AccountingOrder, lines: Iterable[Line], what: str) -> list[ErrorDetail]:
    """Goodwill and return lines: invoiced positions only, amounts consistent."""
    lines = tuple(lines)
    out = _references_problems(order, (ln.reference for ln in lines), f"given a {what}")
    for ln in lines:
        p = order.position(ln.reference)
        if p is None:
            continue
        if p.state is not PositionState.INVOICED:
            out.append(_err("ORDERITEMREFERENCE", ln.reference,
                            f"Position {ln.reference} is {p.state.value}, not invoiced; a {what} needs an invoiced "
                            "position"))  # fmt: skip
        out.extend(_line_problems(ln))
    return out


def _goodwill_problems(order: AccountingOrder, body: GoodwillInput) -> list[ErrorDetail]:
    out = []
    if _goodwill_taken(order, body.goodwill_reference):
        out.append(_duplicate_goodwill(order, body.goodwill_reference))
    out.extend(_credit_lines_problems(order, body.lines, "goodwill"))
    for ln in body.lines:
        p = order.position(ln.reference)
        if p is None or p.state is not PositionState.INVOICED:
            continue
        left = p.gross - p.returned_amount - p.goodwill_amount
        if ln.gross <= 0:
            out.append(_err("GROSSUNITPRICE", ln.gross_unit_price,
                            f"Position {ln.reference}: a goodwill credits a positive amount"))  # fmt: skip
        elif ln.gross > left:
            out.append(_err("GROSSUNITPRICE", ln.gross_unit_price,
                            f"Position {ln.reference}: a goodwill of {ln.gross} exceeds the {left} of the position "
                            "not yet returned or credited"))  # fmt: skip
    return out


def _return_problems(order: AccountingOrder, body: ReturnInput) -> list[ErrorDetail]:
    out = []
    if any(r.return_reference == body.return_reference for r in order.returns):
        out.append(_err("RETURNREFERENCE", body.return_reference,
                        f"Return reference {body.return_reference} was already used for order "
                        f"{order.order_reference}"))  # fmt: skip
    out.extend(_credit_lines_problems(order, body.lines, "return"))
    for ln in body.lines:
        p = order.position(ln.reference)
        if p is None or p.state is not PositionState.INVOICED:
            continue
        left = p.quantity - p.returned_quantity
        if ln.quantity > left:
            out.append(_err("QUANTITY", ln.quantity,
                            f"Position {ln.reference}: {_dec(ln.quantity)} returned exceeds the {_dec(left)} "
                            "invoiced and not yet returned"))  # fmt: skip
        elif ln.gross > p.gross - p.returned_amount - p.goodwill_amount:
            out.append(_err("GROSSUNITPRICE", ln.gross_unit_price,
                            f"Position {ln.reference}: the return's gross {ln.gross} exceeds what is left of the "
                            "position"))  # fmt: skip
    return out


def _update_problems(order: AccountingOrder, body: UpdateInvoiceInput) -> list[ErrorDetail]:
    """Update invoice (seed: riverty-update-invoice). Rule 1 (customer) is judged in `problems()`."""
    out: list[ErrorDetail] = []
    original = order.invoice(body.invoice_reference)
    if original is None:
        nullified = any(i.invoice_reference == body.invoice_reference for i in order.invoices)
        why = "was nullified by an earlier update" if nullified else "does not exist"
        return [_err("INVOICEREFERENCE", body.invoice_reference,
                     f"Invoice {body.invoice_reference} of order {order.order_reference} {why}")]  # fmt: skip
    if body.order.order_reference != order.order_reference:
        out.append(_err("ORDERREFERENCE", body.order.order_reference,
                        f"order.orderReference must be {order.order_reference}, the order being updated"))  # fmt: skip
    if body.order.currency != order.currency:
        out.append(_err("CURRENCY", body.order.currency,
                        f"The currency of order {order.order_reference} is {order.currency}; an update cannot "
                        "change it"))  # fmt: skip
    # Rule 2: nothing returned or credited, every position delivered (invoiced) or cancelled.
    for p in order.positions:
        if p.reduced:
            what = "was returned" if p.returned_quantity > 0 else "received a goodwill"
            out.append(_err("ORDERITEMREFERENCE", p.reference,
                            f"Position {p.reference} {what}: an invoice can only be updated while no position of the "
                            "order has been returned or received a goodwill"))  # fmt: skip
        elif p.state is PositionState.OPEN:
            out.append(_err("ORDERITEMREFERENCE", p.reference,
                            f"Position {p.reference} is neither invoiced nor cancelled: an invoice can only be "
                            "updated once every position is delivered (invoiced) or cancelled"))  # fmt: skip
    if _goodwill_taken(order, body.goodwill_reference):
        out.append(_duplicate_goodwill(order, body.goodwill_reference))
    out.extend(_shipping_problems(order, body.invoice.carrier or original.carrier,
                                  body.invoice.tracking_code or original.tracking_code))  # fmt: skip
    new_ref = body.invoice.invoice_reference
    if new_ref != original.invoice_reference and order.invoice(new_ref) is not None:
        out.append(_duplicate_invoice(order, new_ref))
    on_invoice = [ln.reference for ln in original.lines]
    if sorted(body.invoice.references) != sorted(on_invoice):
        listed = ", ".join(str(r) for r in on_invoice)
        out.append(_err("ORDERITEMREFERENCE", ",".join(str(r) for r in body.invoice.references),
                        f"invoice.items must list the positions of invoice {original.invoice_reference} ({listed}): "
                        "an update re-issues the same positions"))  # fmt: skip
    out.extend(_item_problems(body.order.positions))
    # Rule 3: per position, the gross may go down, never up.
    old_lines = {ln.reference: ln for ln in original.lines}
    for p in body.order.positions:
        old = old_lines.get(p.reference)
        if old is None:
            out.append(_err("ORDERITEMREFERENCE", p.reference,
                            f"Position {p.reference} is not on invoice {original.invoice_reference}; an update can "
                            "only change the positions of the invoice it updates"))  # fmt: skip
        elif p.gross > old.gross:
            out.append(_err("GROSSUNITPRICE", p.gross_unit_price,
                            f"Position {p.reference}: the gross may be reduced but not increased; it was "
                            f"{_dec(old.gross_unit_price)} x {_dec(old.quantity)} = {old.gross}, the update gives "
                            f"{_dec(p.gross_unit_price)} x {_dec(p.quantity)} = {p.gross}"))  # fmt: skip
    return out


# -- effects -------------------------------------------------------------------------------------------------


def new_order(request: AccountingRequest, *, at: str) -> AccountingOrder:
    body = request.body
    assert isinstance(body, OrderInput)
    return AccountingOrder(
        order_reference=body.order_reference,
        business_code=request.business_code,
        customer_number=request.customer_number,
        version=1,
        currency=body.currency,
        positions=body.positions,
        created_at=at,
        order_date=body.order_date,
        order_channel=body.order_channel,
        order_type=body.order_type,
        supplying_country=body.supplying_country,
        vat_declaration_country=body.vat_declaration_country,
        payment_method_name=body.payment_method_name,
    )


def apply(order: AccountingOrder, request: AccountingRequest, *, at: str, refund_id: str) -> AccountingOrder:
    """The effect of an accepted request on `order` (the latest version, or the snapshot in `write: document`
    mode). `refund_id` names the refund if the request leaves the customer overpaid."""
    body = request.body
    rid = request.internal_request_id
    if isinstance(body, InvoiceInput):
        return _apply_invoice(order, body, rid, at)
    if isinstance(body, UpdateInvoiceInput):
        updated = _apply_update(order, body, rid, at)
    elif isinstance(body, CancellationInput):
        refs = set(body.references) or {p.reference for p in order.positions if p.state is PositionState.OPEN}
        updated = order.evolve(
            positions=tuple(
                _with(p, state=PositionState.CANCELLED) if p.reference in refs else p for p in order.positions
            ),
            cancellations=(
                *order.cancellations,
                Cancellation(body.cancellation_date, body.reason, tuple(sorted(refs)), rid, at, body.invoice_reference),
            ),
        )
    elif isinstance(body, GoodwillInput):
        updated = _apply_goodwill(order, body, rid, at)
    elif isinstance(body, ReturnInput):
        updated = _apply_return(order, body, rid, at)
    else:
        assert isinstance(body, PaymentInput)
        payment = Payment(body.amount, rid, at, body.provider, body.payment_date)
        return order.evolve(payments=(*order.payments, payment))  # an overpayment is kept as a credit
    return _settle(updated, request, at=at, refund_id=refund_id)


def _with(p: Position, **changes: Any) -> Position:
    values = {f.name: changes.get(f.name, getattr(p, f.name)) for f in fields(Position)}
    return Position(**values)


def _by_reference(lines: Iterable[Line]) -> dict[int, list[Line]]:
    out: dict[int, list[Line]] = {}
    for ln in lines:
        out.setdefault(ln.reference, []).append(ln)
    return out


def _apply_invoice(order: AccountingOrder, body: InvoiceInput, rid: str, at: str) -> AccountingOrder:
    refs = set(body.references)
    lines = tuple(p.line() for p in order.positions if p.reference in refs)
    invoice = Invoice(body.invoice_reference, body.invoice_date, lines, rid, at, body.due_date, body.dispatch_date,
                      body.shipment_reference, body.carrier, body.tracking_code)  # fmt: skip
    positions = tuple(
        _with(p, state=PositionState.INVOICED, invoice_reference=body.invoice_reference) if p.reference in refs else p
        for p in order.positions
    )
    return order.evolve(positions=positions, invoices=(*order.invoices, invoice))


def _apply_goodwill(order: AccountingOrder, body: GoodwillInput, rid: str, at: str) -> AccountingOrder:
    credit = _by_reference(body.lines)

    def credited(p: Position) -> Position:
        lines = credit.get(p.reference)
        if not lines:
            return p
        return _with(p, goodwill_amount=p.goodwill_amount + sum((ln.gross for ln in lines), ZERO))

    goodwill = Goodwill(body.goodwill_reference, body.goodwill_date, body.reason, body.lines, rid, at,
                        body.invoice_reference)  # fmt: skip
    return order.evolve(positions=tuple(credited(p) for p in order.positions),
                        goodwills=(*order.goodwills, goodwill))  # fmt: skip


def _apply_return(order: AccountingOrder, body: ReturnInput, rid: str, at: str) -> AccountingOrder:
    back = _by_reference(body.lines)

    def returned(p: Position) -> Position:
        lines = back.get(p.reference)
        if not lines:
            return p
        return _with(p, returned_quantity=p.returned_quantity + sum((ln.quantity for ln in lines), ZERO),
                     returned_amount=p.returned_amount + sum((ln.gross for ln in lines), ZERO))  # fmt: skip

    ret = Return(body.return_reference, body.return_date, body.reason, body.lines, rid, at, body.invoice_reference)
    return order.evolve(positions=tuple(returned(p) for p in order.positions), returns=(*order.returns, ret))


def _apply_update(order: AccountingOrder, body: UpdateInvoiceInput, rid: str, at: str) -> AccountingOrder:
    original = order.invoice(body.invoice_reference)
    assert original is not None, "checked by unique_problems() at COMMIT"
    new_data = {p.reference: p for p in body.order.positions}

    def corrected(p: Position) -> Position:
        n = new_data.get(p.reference)
        if n is None:
            on_original = p.invoice_reference == original.invoice_reference
            return _with(p, invoice_reference=body.invoice.invoice_reference) if on_original else p
        return _with(p, gross_unit_price=n.gross_unit_price, quantity=n.quantity, vat_amount=n.vat_amount,
                     vat_percent=n.vat_percent, vat_type=n.vat_type, position_type=n.position_type,
                     product_id=n.product_id if n.product_id is not None else p.product_id,
                     description=n.description if n.description is not None else p.description,
                     invoice_reference=body.invoice.invoice_reference)  # fmt: skip

    positions = tuple(corrected(p) for p in order.positions)
    refs = set(body.invoice.references)
    lines = tuple(p.line() for p in positions if p.reference in refs)
    inv = body.invoice
    issued = Invoice(inv.invoice_reference, inv.invoice_date, lines, rid, at, inv.due_date, inv.dispatch_date,
                     inv.shipment_reference, inv.carrier or original.carrier,
                     inv.tracking_code or original.tracking_code, replaces=original.invoice_reference,
                     vat_correction=sum((ln.vat for ln in lines), ZERO) - original.vat)  # fmt: skip
    nullify = Goodwill(body.goodwill_reference, at[:10], GoodwillReason.CORRECTION_PRICE, original.lines, rid, at,
                       original.invoice_reference, automatic=True)  # fmt: skip
    invoices = tuple(_nullified(i, body.goodwill_reference) if i is original else i for i in order.invoices)
    return order.evolve(positions=positions, invoices=(*invoices, issued), goodwills=(*order.goodwills, nullify))


def _nullified(invoice: Invoice, goodwill_reference: str) -> Invoice:
    values = {f.name: getattr(invoice, f.name) for f in fields(Invoice)}
    values["nullified_by"] = goodwill_reference
    return Invoice(**values)


def _settle(order: AccountingOrder, request: AccountingRequest, *, at: str, refund_id: str) -> AccountingOrder:
    """Refund whatever was paid beyond what is now owed (the reference: refunds happen when already paid)."""
    excess = order.paid - order.refunded - max(order.due, ZERO)
    if excess <= 0:
        return order
    refund = Refund(round2(excess), request.kind, refund_id, request.internal_request_id, at)
    return order.evolve(refunds=(*order.refunds, refund))


def update_summary(
    before: AccountingOrder | None, after: AccountingOrder | None, request: AccountingRequest, result: str
) -> dict[str, Any]:
    """One entry of the inspection's `updates[]` (what the harness's `update-invoice-rules` checker reads).

    `before` is the version the update was judged against (refused) or the latest version just before its COMMIT
    (accepted): in `snapshot` consistency a goodwill committed meanwhile shows up as `afterGoodwillOrReturn`.
    """
    body = request.body
    assert isinstance(body, UpdateInvoiceInput)
    original = before.invoice(body.invoice_reference) if before is not None else None
    issued = None
    if after is not None:
        issued = next((i for i in after.invoices if i.request_id == request.internal_request_id), None)
    return {
        "internalRequestId": request.internal_request_id,
        "invoiceReference": body.invoice_reference,
        "newInvoiceReference": body.invoice.invoice_reference,
        "goodwillReference": body.goodwill_reference,
        "result": result,
        "oldGross": None if original is None else money_json(original.gross),
        "newGross": None if issued is None else money_json(issued.gross),
        "customerChanged": before is not None and before.customer_number != request.customer_number,
        "afterGoodwillOrReturn": before is not None and any(p.reduced for p in before.positions),
    }
