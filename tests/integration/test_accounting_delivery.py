"""When and how the Accounting API's outcomes arrive, over real HTTP: callback registration and its type filter,
delivery retried until a 2xx, notifications kept without callbacks; the timing model (writes answer at once and
commit later, or process first in sync mode), the journal, and gates that force an interleaving.

Notifications are awaited with `POST /_sim/quiesce` (pending work includes their delivery), never with sleeps;
the gate test waits on the journal in virtual time (looptime).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.conftest import Sim, SimFactory
from tests.support.accounting import Receiver, inspect, invoice_body, subscribe, write
from tests.support.accounting_samples import seeded, states
from tests.support.race import wait_journal

# -- callbacks and delivery ---------------------------------------------------------------------------------


async def test_callback_registration_answer_and_type_filter(sim: Sim, receiver: Receiver) -> None:
    answer = await subscribe(sim, receiver, ["accounting/refundCompleted"])
    assert answer["callbackUrl"] == receiver.url
    assert answer["notificationTypes"] == ["accounting/refundCompleted"]
    uuid.UUID(answer["id"])
    await seeded(sim)
    await write(sim, "/invoices", invoice_body("INV-1", (1,)))
    await sim.quiesce()
    assert [n["type"] for n in receiver.received] == ["accounting/EDIErrorSent"]  # always on; invoiceCreated not

    again = await subscribe(sim, receiver, ["accounting/invoiceCreated"])  # the same URL: types replaced
    assert again["id"] == answer["id"]
    await write(sim, "/invoices", invoice_body("INV-2", (2,)))
    await sim.quiesce()
    assert [n["type"] for n in receiver.received][1:] == ["accounting/EDIErrorSent", "accounting/invoiceCreated"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"callbackUrl": "ftp://x/", "notificationTypes": []}, "Path:callbackUrl"),
        ({"callbackUrl": "http://x/", "notificationTypes": ["accounting/everything"]}, "Path:notificationTypes[0]"),
    ],
)
async def test_callback_registration_bad_input(sim: Sim, body: dict[str, Any], where: str) -> None:
    status, answer = await sim.call("POST", "/administration/v1/notification-callbacks", body=body)
    assert status == 400
    assert where in answer["description"]


async def test_delivery_is_retried_until_a_2xx(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver, [])  # EDIErrorSent only (always on): one notification to retry
    await sim.patch_config({"accounting": {"notify_backoff_ms": 1}})
    receiver.answers = [500, 503]
    await seeded(sim)
    await write(sim, "/payments", {"authorizedAmount": 1})
    await sim.quiesce()

    edis = [n for n in receiver.received if n["type"] == "accounting/EDIErrorSent"]
    assert len(edis) == 3  # at least once: the same notification until a 2xx
    attempts = [
        e["detail"]["status"]
        for e in await sim.journal("ORD1")
        if e["op"] == "accounting.notify"
        and e["phase"] == "deliver"
        and e["detail"]["type"] == "accounting/EDIErrorSent"
    ]
    assert attempts == [500, 503, 200]


async def test_notifications_are_kept_without_callbacks(sim: Sim) -> None:
    await seeded(sim)
    await write(sim, "/invoices", invoice_body("INV-1", (7,)))
    await sim.quiesce()
    _, notes = await sim.call("GET", "/_sim/accounting/notifications?orderReference=ORD1", expect=200)
    (edi,) = notes["notifications"]
    assert edi["payload"]["parameters"]["details"]["result"] == "ERROR_IN_FILE"
    assert edi["deliveries"] == []


# -- the timing model, the journal and gates ----------------------------------------------------------------


@pytest.mark.looptime
async def test_writes_answer_at_once_and_commit_later(sim: Sim, receiver: Receiver) -> None:
    await subscribe(sim, receiver)
    await sim.patch_config({"accounting": {"write": {"queue": 20, "process": 100, "respond": 2}, "notify": 5}})
    await seeded(sim)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    rid = await write(sim, "/invoices", invoice_body("INV-1", (1,)))
    answered = loop.time() - t0
    assert states(await inspect(sim))[1] == "open"  # answered before the worker's COMMIT
    assert receiver.received == []
    await sim.quiesce()

    assert answered == pytest.approx(0.002, abs=1e-3)
    assert states(await inspect(sim))[1] == "invoiced"
    journal = await sim.journal("ORD1")
    entries = {e["phase"]: e for e in journal if e["op"] == "accounting.invoice" and e["op_id"] == rid}
    assert {"arrive", "respond", "read", "commit", "accepted"} <= set(entries)
    assert entries["commit"]["t"] - entries["respond"]["t"] == pytest.approx(0.118, abs=1e-3)  # queue + process
    assert [e["op"] for e in await sim.journal("ORD1") if e["phase"] == "deliver"] == ["accounting.notify"] * 2


@pytest.mark.looptime
@pytest.mark.parametrize("consistency", ["snapshot", "serializable"])
async def test_gates_force_an_invoice_and_a_cancellation_to_interleave(
    make_sim: SimFactory, receiver: Receiver, consistency: str
) -> None:
    """The invoice READs position 2 open; the cancellation of position 2 runs meanwhile. In snapshot consistency
    both are accepted (write skew, like failure A); in serializable consistency the cancellation waits for the
    invoice's lock, then finds the position invoiced and is refused."""
    sim = await make_sim("instant", consistency=consistency)
    await subscribe(sim, receiver)
    await seeded(sim)
    gate = {"orderId": "ORD1", "point": "accounting.invoice.after_read"}
    await sim.call("POST", "/_sim/gates", body=gate, expect=201)
    invoice = await write(sim, "/invoices", invoice_body("INV-1", (2,)))
    _, waited = await sim.call("POST", "/_sim/gates/wait", body=gate, expect=200)
    assert waited["parked"]
    cancel = {
        "cancellationDate": "2018-03-21",
        "cancellationReason": "OUT_OF_STOCK",
        "items": [{"orderItemReference": 2}],
    }
    cancellation = await write(sim, "/cancellations", cancel)
    await wait_journal(sim, "ORD1", "accounting.cancellation", "accepted" if consistency == "snapshot" else "lock_wait")
    await sim.call("POST", "/_sim/gates/release", body=gate, expect=200)
    await sim.quiesce()

    assert receiver.edi(invoice)["result"] == "OK"
    if consistency == "snapshot":
        assert receiver.edi(cancellation)["result"] == "OK"  # both accepted: the anomaly
        doc = await inspect(sim)
        assert states(doc)[2] == "invoiced"
        assert doc["cancellations"][0]["items"] == [{"orderItemReference": 2}]
    else:
        refused = receiver.edi(cancellation)
        assert "is invoiced (invoice INV-1)" in refused["errorDetails"][0]["ErrorDescription"]


async def test_unknown_gate_point_names_the_accounting_ops(sim: Sim) -> None:
    status, body = await sim.call(
        "POST", "/_sim/gates", body={"orderId": "ORD1", "point": "accounting.bill.after_read"}
    )
    assert status == 400
    assert "accounting.update_invoice" in body["error"]["message"]


async def test_sync_mode_processes_before_answering(sim: Sim) -> None:
    await sim.patch_config({"accounting": {"write": {"mode": "sync"}}})
    await seeded(sim)
    await write(sim, "/invoices", invoice_body("INV-1", (1,)))
    assert states(await inspect(sim))[1] == "invoiced"  # no quiesce needed
