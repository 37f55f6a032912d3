"""The Accounting service's documents as the reference spells them (camelCase, money as JSON numbers), built from
domain records.

Owns the inspection document of an accounting order (`order_document()`, what `GET /_sim/accounting/orders/
{orderReference}` shows: the real API has no GET), the `errorDetails[]` shape (`error_details()`), the entries of
the inspection's `updates[]` (`update_summary()`, what the harness's `update-invoice-rules` checker reads) and the
`parameters` of each notification the service sends (`edi_error_sent()`, `invoice_created()`, `payment_received()`,
`refund_completed()`). The request bodies are read at the HTTP edge (`simulator.web.accounting_api`).

    order_document(order)["positions"][0]["state"] == "open"

Money stays `Decimal` up to here; `money_json()` turns it into a JSON number only in these documents.

Imports: stdlib, `simulator.contract.money` and `.records`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..contract.money import money_json
from .records import (
    AccountingOrder,
    AccountingRequest,
    Cancellation,
    ErrorDetail,
    Goodwill,
    Invoice,
    Line,
    Payment,
    Position,
    Refund,
    Return,
    UpdateInvoiceInput,
)

__all__ = [
    "edi_error_sent",
    "error_details",
    "invoice_created",
    "order_document",
    "payment_received",
    "refund_completed",
    "update_summary",
]


# -- the inspection document ---------------------------------------------------------------------------------


def order_document(order: AccountingOrder) -> dict[str, Any]:
    """One version of an accounting order with everything that happened to it, and its sums.

    Args:
        order: The version to show (the latest, for the inspection endpoint).

    Returns:
        The JSON document, positions, invoices (nullified ones included), goodwills, returns, cancellations,
        payments and refunds in the order they happened.
    """
    return {
        "orderReference": order.order_reference,
        "businessCode": order.business_code,
        "customerNumber": order.customer_number,
        "version": order.version,
        "currency": order.currency,
        "orderDate": order.order_date,
        "orderChannel": order.order_channel.value,
        "orderType": order.order_type.value,
        "cancelled": order.cancelled,
        "positions": [_position(p) for p in order.positions],
        "invoices": [_invoice(i) for i in order.invoices],
        "goodwills": [_goodwill(g) for g in order.goodwills],
        "returns": [_return(r) for r in order.returns],
        "cancellations": [_cancellation(c) for c in order.cancellations],
        "payments": [_payment(p) for p in order.payments],
        "refunds": [_refund(r) for r in order.refunds],
        "totalGross": money_json(order.total),
        "invoicedGross": money_json(order.invoiced_gross),
        "billedGross": money_json(order.billed_gross),
        "paid": money_json(order.paid),
        "refunded": money_json(order.refunded),
        "createdAt": order.created_at,
    }


def _line(line: Line) -> dict[str, Any]:
    return {
        "orderItemReference": line.reference,
        "grossUnitPrice": money_json(line.gross_unit_price),
        "quantity": float(line.quantity),
        "vatAmount": money_json(line.vat_amount),
        "vatPercent": float(line.vat_percent),
        "vatType": line.vat_type.value,
        "grossAmount": money_json(line.gross),
    }


def _position(p: Position) -> dict[str, Any]:
    return {
        **_line(p.line()),
        "positionType": p.position_type.value,
        "productId": p.product_id,
        "description": p.description,
        "state": p.state.value,
        "invoiceReference": p.invoice_reference,
        "returned": p.returned_quantity > 0,
        "returnedQuantity": float(p.returned_quantity),
        "returnedAmount": money_json(p.returned_amount),
        "goodwill": p.goodwill_amount != 0,
        "goodwillAmount": money_json(p.goodwill_amount),
    }


def _invoice(invoice: Invoice) -> dict[str, Any]:
    return {
        "invoiceReference": invoice.invoice_reference,
        "invoiceDate": invoice.invoice_date,
        "dueDate": invoice.due_date,
        "dispatchDate": invoice.dispatch_date,
        "shipmentReference": invoice.shipment_reference,
        "carrier": invoice.carrier,
        "trackingCode": invoice.tracking_code,
        "items": [_line(ln) for ln in invoice.lines],
        "grossAmount": money_json(invoice.gross),
        "vatAmount": money_json(invoice.vat),
        "nullified": not invoice.active,
        "nullifiedBy": invoice.nullified_by,
        "replaces": invoice.replaces,
        "vatCorrection": None if invoice.vat_correction is None else money_json(invoice.vat_correction),
        "internalRequestId": invoice.request_id,
        "createdAt": invoice.created_at,
    }


def _goodwill(goodwill: Goodwill) -> dict[str, Any]:
    return {
        "goodwillReference": goodwill.goodwill_reference,
        "goodwillDate": goodwill.goodwill_date,
        "goodwillReason": None if goodwill.reason is None else goodwill.reason.value,
        "invoiceReference": goodwill.invoice_reference,
        "automatic": goodwill.automatic,
        "items": [_line(ln) for ln in goodwill.lines],
        "grossAmount": money_json(goodwill.gross),
        "internalRequestId": goodwill.request_id,
        "createdAt": goodwill.created_at,
    }


def _return(ret: Return) -> dict[str, Any]:
    return {
        "returnReference": ret.return_reference,
        "returnDate": ret.return_date,
        "returnReason": ret.reason.value,
        "invoiceReference": ret.invoice_reference,
        "items": [_line(ln) for ln in ret.lines],
        "grossAmount": money_json(ret.gross),
        "internalRequestId": ret.request_id,
        "createdAt": ret.created_at,
    }


def _cancellation(cancellation: Cancellation) -> dict[str, Any]:
    return {
        "cancellationDate": cancellation.cancellation_date,
        "cancellationReason": cancellation.reason.value,
        "invoiceReference": cancellation.invoice_reference,
        "items": [{"orderItemReference": r} for r in cancellation.references],
        "internalRequestId": cancellation.request_id,
        "createdAt": cancellation.created_at,
    }


def _payment(payment: Payment) -> dict[str, Any]:
    return {
        "authorizedAmount": money_json(payment.amount),
        "paymentProvider": payment.provider,
        "paymentDate": payment.payment_date,
        "internalRequestId": payment.request_id,
        "createdAt": payment.created_at,
    }


def _refund(refund: Refund) -> dict[str, Any]:
    return {
        "refundedToOriginalPaymentInstrument": money_json(-refund.amount),
        "cause": refund.cause.value,
        "transactionId": refund.transaction_id,
        "internalRequestId": refund.request_id,
        "createdAt": refund.created_at,
    }


def update_summary(
    before: AccountingOrder | None, after: AccountingOrder | None, request: AccountingRequest, result: str
) -> dict[str, Any]:
    """One entry of the inspection's `updates[]` (what the harness's `update-invoice-rules` checker reads).

    Args:
        before: The version the update was judged against (refused) or the latest version just before its COMMIT
            (accepted): in `snapshot` consistency a goodwill committed meanwhile shows up as `afterGoodwillOrReturn`.
        after: The version the update committed, None when it was refused.
        request: The update-invoice request.
        result: `OK` or `ERROR_IN_FILE`, as its EDIErrorSent notification says.

    Returns:
        The entry: references, result, old and new gross, and whether rules 1 and 2 were in play.
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


# -- notifications -------------------------------------------------------------------------------------------


def error_details(found: Iterable[ErrorDetail]) -> list[dict[str, str]]:
    """An EDIErrorSent `errorDetails[]` (also what the journal records of a refused write)."""
    return [
        {"fieldName": p.field_name, "providedValue": p.provided_value, "ErrorDescription": p.description} for p in found
    ]


def edi_error_sent(request: AccountingRequest, found: list[ErrorDetail]) -> dict[str, Any]:
    """The `parameters` of the qualitative response every request gets: `OK`, or `ERROR_IN_FILE` with `found`."""
    return {
        "requestType": request.kind.request_type,
        "transactionId": request.transaction_id,
        "internalRequestId": request.internal_request_id,
        "businessCode": request.business_code,
        "customerNumber": request.customer_number,
        "details": {
            "orderNo": request.order_reference,
            "result": "ERROR_IN_FILE" if found else "OK",
            "errorDetails": error_details(found),
        },
    }


def invoice_created(request: AccountingRequest, order: AccountingOrder, invoice: Invoice) -> dict[str, Any]:
    """The `parameters` of `accounting/invoiceCreated`, for an invoice issued by a create or an update."""
    return {
        **_who(request, order),
        "invoiceReference": invoice.invoice_reference,
        "invoiceDate": invoice.invoice_date,
        "grossAmount": money_json(invoice.gross),
        "vatAmount": money_json(invoice.vat),
        "replaces": invoice.replaces,
        "transactionId": request.transaction_id,
    }


def payment_received(request: AccountingRequest, order: AccountingOrder, payment: Payment) -> dict[str, Any]:
    """The `parameters` of `accounting/paymentReceived`."""
    return {**_who(request, order), "amount": money_json(payment.amount), "transactionId": request.transaction_id}


def refund_completed(request: AccountingRequest, order: AccountingOrder, refund: Refund) -> dict[str, Any]:
    """The `parameters` of `accounting/refundCompleted` (the amount is negative: money going back)."""
    return {
        **_who(request, order),
        "refundedToOriginalPaymentInstrument": money_json(-refund.amount),
        "transactionId": refund.transaction_id,
    }


def _who(request: AccountingRequest, order: AccountingOrder) -> dict[str, Any]:
    return {
        "businessCode": request.business_code,
        "currency": order.currency,
        "customerNumber": request.customer_number,
        "orderReference": order.order_reference,
    }
