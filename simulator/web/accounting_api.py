"""HTTP edge of the Accounting service (Riverty "Accounting as a Service"): request models, handlers, route table.

Tier-1 validation happens here, synchronously: a body that is not JSON, a missing mandatory field, a wrong type, an
over-long field or a value outside an enumeration answers 400 in the documented shape
`{"type": "RequestBody", "title": "IncorrectMessage", "code": 400, "description": "... Path:<field> Message: ..."}`
(rendered by `app.py`), and nothing is stored. Everything else (tier 2, the business rules) is judged later by the
service's worker and reported as an `accounting/EDIErrorSent` notification; an accepted write answers
`200 {"internalRequestId"}` at once.

Money arrives as JSON numbers in currency units (`11.9`) and becomes `Decimal` without float arithmetic (a JSON
float is read through its shortest decimal representation, `Decimal(str(x))`); strings, booleans and nulls where a
number is expected are refused. An amount has at most two decimal places (a quantity four), declared as
`multipleOf`; a float a client's arithmetic left a few units in the last place off such a value (`0.1 + 0.2` gives
`0.30000000000000004`) is read as that value, as `multipleOf` validators with a tolerance read it. Dates accept
both documented forms, `2018-11-04` and `2015-12-10T00:00:00.0000000`, and only calendar dates: the pattern in
`/openapi.json` says exactly what is accepted (February 29 in leap years included).

Credentials are checked by the middleware in `app.py`, like the other services': when
`auth.accounting_subscription_key` is configured, a missing or wrong `X-Subscription-Key` answers 401 (500 with
`auth.faithful_errors`, the real service's documented oddity).

Imports: aiohttp, pydantic, `simulator.accounting.records`, `simulator.errors`, `simulator.web.routing`, `.web._state`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Annotated, Any, Final, Protocol, TypeVar, cast

from aiohttp import web
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema

from ..accounting.records import (
    CancellationInput,
    CancellationReason,
    GoodwillInput,
    GoodwillReason,
    InvoiceInput,
    Line,
    NotificationType,
    OrderChannel,
    OrderInput,
    OrderType,
    PaymentInput,
    Position,
    PositionType,
    ProcessAfterDunning,
    RequestBody,
    RequestKind,
    ReturnInput,
    ReturnReason,
    UpdateInvoiceInput,
    VatType,
)
from ..errors import BadRequest
from ._state import ACCOUNTING, CORE
from .routing import Handler, Route, parse_body

__all__ = ["ORDER_REFERENCE_PATTERN", "Money", "Percent", "accounting_routes"]

M = TypeVar("M", bound=BaseModel)

ORDER_REFERENCE_PATTERN = r"^[A-Za-z0-9]{1,16}$"
"""Create Order's `orderReference`: "Max length: 16 ... Specific order reference from merchant (alphanumeric
characters, only)" (docs.riverty.com/accounting_as_a_service/api_reference/create_order). The same rule holds for
the `{orderReference}` of every path under an order (it names an order created with that reference)."""
_YEAR_MONTH_DAY = (
    r"(\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    r"|\d{4}-(0[13-9]|1[0-2])-(29|30)"
    r"|\d{4}-(0[13578]|1[02])-31"
    r"|([0-9]{2}(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00)-02-29)"
)  # a calendar date in the proleptic Gregorian calendar, February 29 in leap years only
_TIME = r"(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,7})?(Z|[+-][0-9]{2}:[0-9]{2})?)?"
DATE_PATTERN = f"^{_YEAR_MONTH_DAY}{_TIME}$"
"""`yyyy-MM-dd` (the reference's schemas), optionally with a time as in its examples (`2015-12-10T00:00:00.0000000`)."""


def _json_number(places: int) -> BeforeValidator:
    """Read a JSON number as a Decimal: an integer exactly; a float through its shortest repr, snapped to `places`
    decimal places when it lies within a few units in the last place of such a value (float arithmetic noise)."""
    step = Decimal(1).scaleb(-places)

    def read(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise ValueError(f"expected a JSON number, got {type(value).__name__}")
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError("expected a finite number")
            exact = Decimal(str(value))
            snapped = exact.quantize(step)
            if snapped != exact and abs(float(snapped) - value) <= 4 * math.ulp(value):
                return snapped
            return exact
        return Decimal(value)

    return BeforeValidator(read)


def _number_schema(minimum: float, maximum: float, places: int) -> WithJsonSchema:
    return WithJsonSchema({"type": "number", "minimum": minimum, "maximum": maximum, "multipleOf": 10.0**-places})


Money = Annotated[
    Decimal,
    _json_number(2),
    Field(ge=-(10**9), le=10**9, decimal_places=2, allow_inf_nan=False),
    _number_schema(-1e9, 1e9, 2),
]
"""Currency units, at most two decimal places (`11.9`, `-5`)."""
PositiveMoney = Annotated[
    Decimal,
    _json_number(2),
    Field(ge=Decimal("0.01"), le=10**9, decimal_places=2, allow_inf_nan=False),
    _number_schema(0.01, 1e9, 2),
]
Quantity = Annotated[
    Decimal,
    _json_number(4),
    Field(ge=Decimal("0.0001"), le=10**6, decimal_places=4, allow_inf_nan=False),
    _number_schema(0.0001, 1e6, 4),
]
"""Decimals allowed (2.5 kg)."""
QuantityOrZero = Annotated[
    Decimal, _json_number(4), Field(ge=0, le=10**6, decimal_places=4, allow_inf_nan=False), _number_schema(0, 1e6, 4)
]
Percent = Annotated[
    Decimal, _json_number(2), Field(ge=0, le=100, decimal_places=2, allow_inf_nan=False), _number_schema(0, 100, 2)
]
ItemReference = Annotated[int, Field(ge=1, le=999_999)]
DateText = Annotated[str, Field(pattern=DATE_PATTERN)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
OrderReference = Annotated[str, Field(pattern=ORDER_REFERENCE_PATTERN)]
Reference30 = Annotated[str, Field(min_length=1, max_length=30)]
Text10 = Annotated[str, Field(max_length=10)]
Text20 = Annotated[str, Field(max_length=20)]
Text30 = Annotated[str, Field(max_length=30)]
Text32 = Annotated[str, Field(max_length=32)]
Text40 = Annotated[str, Field(max_length=40)]
Text50 = Annotated[str, Field(max_length=50)]
Text100 = Annotated[str, Field(max_length=100)]
Text200 = Annotated[str, Field(max_length=200)]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# -- request bodies ------------------------------------------------------------------------------------------


class Address(_In):
    salutation: Text20 | None = None
    title: Text20 | None = None
    firstName: Text50 | None = None
    lastName: Text50 | None = None
    careOf: Text50 | None = None
    street: Text100 | None = None
    streetNumber: Text10 | None = None
    postalCode: Text10 | None = None
    postalPlace: Text100 | None = None
    state: Text10 | None = None
    countryCode: Country | None = None
    language: Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")] | None = None
    """Two letters; lower case is a business rule (ERROR_IN_FILE `BILLTOLANGUAGECODE`), as in the reference."""
    email: Annotated[str, Field(max_length=100, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    phone: Text30 | None = None
    birthDate: DateText | None = None
    nationality: Country | None = None
    customerGroup: Text50 | None = None
    taxIdentificationNumber: Text30 | None = None


class PaymentReference(_In):
    paymentMethodName: Text50 | None = None
    paymentDetails: dict[str, Any] | None = None


class OrderItem(_In):
    orderItemReference: ItemReference
    grossUnitPrice: Money
    """Incl. VAT, per unit."""
    quantity: Quantity
    vatAmount: Money
    """Per unit: round2(gross - gross / (1 + vatPercent / 100))."""
    vatPercent: Percent
    vatType: VatType
    productId: Text30 | None = None
    description: Text40 | None = None
    positionType: PositionType = PositionType.SALES_ARTICLE

    def to_domain(self) -> Position:
        return Position(
            self.orderItemReference,
            self.grossUnitPrice,
            self.quantity,
            self.vatAmount,
            self.vatPercent,
            self.vatType,
            self.positionType,
            self.productId,
            self.description,
        )


class UpdateOrderItem(OrderItem):
    quantity: QuantityOrZero
    """0 removes the position's amount from the re-issued invoice."""


class _OrderFields(_In):
    orderReference: OrderReference
    currency: Currency
    orderChannel: OrderChannel
    orderDate: DateText
    orderType: OrderType
    supplyingCountry: Country
    vatDeclarationCountry: Country | None = None
    processAfterDunning: ProcessAfterDunning | None = None
    billToAddress: Address | None = None
    shipToAddress: Address | None = None
    paymentReference: PaymentReference | None = None
    carrier: Text32 | None = None

    def _input(self, positions: tuple[Position, ...]) -> OrderInput:
        return OrderInput(
            order_reference=self.orderReference,
            currency=self.currency,
            order_date=self.orderDate,
            order_channel=self.orderChannel,
            order_type=self.orderType,
            positions=positions,
            supplying_country=self.supplyingCountry,
            vat_declaration_country=self.vatDeclarationCountry,
            payment_method_name=self.paymentReference.paymentMethodName if self.paymentReference else None,
            bill_to_language=self.billToAddress.language if self.billToAddress else None,
            ship_to_language=self.shipToAddress.language if self.shipToAddress else None,
        )


class CreateOrderBody(_OrderFields):
    """Create webshop order: `POST .../orders`."""

    items: Annotated[list[OrderItem], Field(min_length=1, max_length=999)]

    def to_domain(self) -> OrderInput:
        return self._input(tuple(i.to_domain() for i in self.items))


class UpdateOrderBody(_OrderFields):
    """The `order` block of an update invoice: create-order fields; a position's quantity may be 0."""

    items: Annotated[list[UpdateOrderItem], Field(min_length=1, max_length=999)]

    def to_domain(self) -> OrderInput:
        return self._input(tuple(i.to_domain() for i in self.items))


class ItemRef(_In):
    orderItemReference: ItemReference


class CreateInvoiceBody(_In):
    """Create invoice: `POST .../orders/{orderReference}/invoices` (whole positions only)."""

    invoiceReference: Reference30
    invoiceDate: DateText
    dueDate: DateText
    dispatchDate: DateText
    shipmentReference: Reference30
    carrier: Text32 | None = None
    """Only for physical goods that are shipped (the reference's schema calls it required, its samples omit it)."""
    trackingCode: Text100 | None = None
    items: Annotated[list[ItemRef], Field(min_length=1, max_length=999)]

    def to_domain(self) -> InvoiceInput:
        return InvoiceInput(
            self.invoiceReference,
            self.invoiceDate,
            tuple(i.orderItemReference for i in self.items),
            self.dueDate,
            self.dispatchDate,
            self.shipmentReference,
            self.carrier,
            self.trackingCode,
        )


class UpdateInvoiceBody(_In):
    """Update invoice (seed: riverty-update-invoice): `PUT` (or `POST`) `.../invoices/{invoiceReference}`."""

    goodwillReference: Reference30 | None = None
    """Reference of the goodwill created to nullify the original invoice (generated when absent)."""
    invoice: CreateInvoiceBody
    order: UpdateOrderBody


class CancellationBody(_In):
    cancellationDate: DateText
    cancellationReason: CancellationReason
    invoiceReference: Reference30 | None = None
    items: Annotated[list[ItemRef], Field(max_length=999)] | None = None
    """The positions to cancel; absent or empty: the whole order (every position not invoiced)."""
    bankDetails: dict[str, Any] | None = None

    def to_domain(self) -> CancellationInput:
        refs = tuple(i.orderItemReference for i in self.items or ())
        return CancellationInput(self.cancellationDate, self.cancellationReason, refs, self.invoiceReference)


class CreditItem(_In):
    orderItemReference: ItemReference
    grossUnitPrice: Money
    quantity: Quantity
    vatAmount: Money
    vatPercent: Percent
    vatType: VatType

    def to_domain(self) -> Line:
        return Line(
            self.orderItemReference, self.grossUnitPrice, self.quantity, self.vatAmount, self.vatPercent, self.vatType
        )


class GoodwillBody(_In):
    goodwillReference: Reference30
    goodwillDate: DateText
    goodwillReason: GoodwillReason | None = None
    invoiceReference: Reference30 | None = None
    creditDate: DateText | None = None
    bankDetails: dict[str, Any] | None = None
    items: Annotated[list[CreditItem], Field(min_length=1, max_length=999)]

    def to_domain(self) -> GoodwillInput:
        return GoodwillInput(
            self.goodwillReference,
            self.goodwillDate,
            self.goodwillReason,
            tuple(i.to_domain() for i in self.items),
            self.invoiceReference,
        )


class ReturnBody(_In):
    returnReference: Reference30
    returnDate: DateText
    returnReason: ReturnReason
    invoiceReference: Reference30 | None = None
    items: Annotated[list[CreditItem], Field(min_length=1, max_length=999)]

    def to_domain(self) -> ReturnInput:
        return ReturnInput(
            self.returnReference,
            self.returnDate,
            self.returnReason,
            tuple(i.to_domain() for i in self.items),
            self.invoiceReference,
        )


class PaymentBody(_In):
    """Add payment (e.g. paid in a store): `{"authorizedAmount": 5.00, "paymentProvider": "ACME"}`."""

    authorizedAmount: PositiveMoney
    paymentProvider: Text100 | None = None
    paymentDate: DateText | None = None

    def to_domain(self) -> PaymentInput:
        return PaymentInput(self.authorizedAmount, self.paymentProvider, self.paymentDate)


class CallbackBody(_In):
    callbackUrl: Annotated[str, Field(pattern=r"^https?://[^\s]{1,2000}$")]
    notificationTypes: Annotated[list[NotificationType], Field(max_length=len(NotificationType))]
    """`accounting/EDIErrorSent` is always delivered, listed or not."""
    description: Text200 | None = None


# -- answers (documentation in /openapi.json) ----------------------------------------------------------------


class AcceptedAnswer(BaseModel):
    internalRequestId: str


class CallbackAnswer(BaseModel):
    id: str
    callbackUrl: str
    description: str | None
    notificationTypes: list[str]


# -- edge helpers --------------------------------------------------------------------------------------------

_PATH = {
    "businessCode": (re.compile(r"^[A-Za-z0-9]{1,10}$"), "1 to 10 letters or digits, e.g. 1000"),
    "customerNumber": (
        re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,49}$"),
        "1 to 50 letters, digits or _ . : -, e.g. TFI2021072801",
    ),
    "orderReference": (re.compile(ORDER_REFERENCE_PATTERN), "1 to 16 letters or digits, e.g. ODE12345678901"),
    "invoiceReference": (re.compile(r"^[^\s/]{1,30}$"), "1 to 30 characters, e.g. IDE12345678901"),
}
_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,100}$")
_PATH_SCHEMAS = {name: {"type": "string", "pattern": rule[0].pattern} for name, rule in _PATH.items()}
"""What `_context` checks, as `/openapi.json` declares it."""


@dataclass(frozen=True, slots=True)
class _Context:
    business_code: str
    customer_number: str
    order_reference: str
    request_id: str | None


def _context(request: web.Request) -> _Context:
    """Path parameters and X-Request-ID, checked before the body (credentials: the app's middleware)."""
    for name, value in request.match_info.items():
        rule = _PATH.get(name)
        if rule is not None and not rule[0].match(value):
            raise BadRequest(
                f"Request does not conform to the schema. Path:{name} Message: expected {rule[1]}, got {value!r}"
            )
    request_id = request.headers.get("X-Request-ID")
    if request_id is not None and not _REQUEST_ID.match(request_id):
        raise BadRequest(
            "Request does not conform to the schema. Path:X-Request-ID Message: expected 1 to 100 "
            "visible ASCII characters"
        )
    return _Context(
        request.match_info["businessCode"],
        request.match_info["customerNumber"],
        request.match_info.get("orderReference", ""),
        request_id,
    )


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


def describe(exc: ValidationError) -> str:
    """The reference's tier-1 description: `... Path:<field> Message: <what was expected>` per problem."""
    problems = [f"Path:{_path(tuple(e['loc']))} Message: {e['msg']}" for e in exc.errors(include_url=False)]
    return "Body of the request does not conform to the schema. " + "; ".join(problems)


async def _parse(request: web.Request, model: type[M]) -> M:
    return await parse_body(request, model, describe=describe, missing=_MISSING_BODY)


_MISSING_BODY = "Body of the request does not conform to the schema. Path:(body) Message: a JSON object is required"


async def _submit(request: web.Request, ctx: _Context, kind: RequestKind, body: RequestBody) -> web.Response:
    internal_id = await request.app[ACCOUNTING].submit(
        kind,
        business_code=ctx.business_code,
        customer_number=ctx.customer_number,
        order_reference=ctx.order_reference,
        body=body,
        request_id=ctx.request_id,
    )
    return web.json_response({"internalRequestId": internal_id})


class _ToDomain(Protocol):
    def to_domain(self) -> RequestBody: ...


W = TypeVar("W", bound=BaseModel)


def _write(kind: RequestKind, model: type[W]) -> Handler:
    """The handler of a write whose body converts straight to the domain: context, body, submit, 200."""

    async def handle(request: web.Request) -> web.Response:
        ctx = _context(request)
        # Every write body has `to_domain()`; typing cannot say "a BaseModel that has it", hence the cast.
        body = cast(_ToDomain, await _parse(request, model))
        return await _submit(request, ctx, kind, body.to_domain())

    return handle


# -- handlers ------------------------------------------------------------------------------------------------


async def post_order(request: web.Request) -> web.Response:
    ctx = _context(request)
    body = await _parse(request, CreateOrderBody)
    return await _submit(
        request, replace(ctx, order_reference=body.orderReference), RequestKind.ORDER, body.to_domain()
    )


async def update_invoice(request: web.Request) -> web.Response:
    ctx = _context(request)
    body = await _parse(request, UpdateInvoiceBody)
    goodwill = body.goodwillReference
    if goodwill is None:
        goodwill = "GW" + request.app[CORE].new_id(ctx.order_reference, "goodwill").replace("-", "")[:28]
    update = UpdateInvoiceInput(
        request.match_info["invoiceReference"], goodwill, body.invoice.to_domain(), body.order.to_domain()
    )
    return await _submit(request, ctx, RequestKind.UPDATE_INVOICE, update)


async def post_callback(request: web.Request) -> web.Response:
    body = await _parse(request, CallbackBody)
    callback = request.app[ACCOUNTING].register_callback(
        body.callbackUrl, frozenset(body.notificationTypes), body.description
    )
    return web.json_response(callback.to_json())


BASE = "/accounting/v1/businesses/{businessCode}/customers/{customerNumber}"
_ORDER = BASE + "/orders/{orderReference}"


def accounting_routes() -> list[Route]:
    a: Final = "accounting"
    ok: dict[int, type[BaseModel] | dict[str, Any] | None] = {200: AcceptedAnswer}
    later = " (tier-1 checks answer 400; business results arrive as an EDIErrorSent notification)"

    def route(method: str, path: str, handler: Handler, body: type[BaseModel], summary: str, op_id: str) -> Route:
        """A write under a business and customer: 200 at once, its business result later."""
        return Route(
            method,
            path,
            handler,
            a,
            summary + later,
            op_id,
            body=body,
            responses=ok,
            tags=(a,),
            path_params=_PATH_SCHEMAS,
        )

    def write(path: str, kind: RequestKind, body: type[BaseModel], summary: str, op_id: str) -> Route:
        return route("POST", _ORDER + path, _write(kind, body), body, summary, op_id)

    invoice = _ORDER + "/invoices/{invoiceReference}"
    update = "Update invoice"
    return [
        route("POST", BASE + "/orders", post_order, CreateOrderBody, "Create webshop order", "accountingCreateOrder"),
        write(
            "/invoices",
            RequestKind.INVOICE,
            CreateInvoiceBody,
            "Create invoice (whole positions)",
            "accountingCreateInvoice",
        ),
        route("PUT", invoice, update_invoice, UpdateInvoiceBody, update, "accountingUpdateInvoice"),
        route(
            "POST",
            invoice,
            update_invoice,
            UpdateInvoiceBody,
            update + " (the form of the seed's sample request)",
            "accountingUpdateInvoicePost",
        ),
        write(
            "/cancellations",
            RequestKind.CANCELLATION,
            CancellationBody,
            "Cancel positions not yet invoiced",
            "accountingCancel",
        ),
        write("/goodwills", RequestKind.GOODWILL, GoodwillBody, "Goodwill on invoiced positions", "accountingGoodwill"),
        write("/returns", RequestKind.RETURN, ReturnBody, "Return invoiced positions", "accountingReturn"),
        write("/payments", RequestKind.PAYMENT, PaymentBody, "Add payment", "accountingAddPayment"),
        Route(
            "POST",
            "/administration/v1/notification-callbacks",
            post_callback,
            a,
            "Register a notification callback (EDIErrorSent is always delivered)",
            "accountingRegisterCallback",
            body=CallbackBody,
            responses={200: CallbackAnswer},
            tags=(a,),
        ),
    ]
