"""The Orders (OMS) domain: records, rules, documents, and the service that runs them through the timing model.

General layout (each module imports only modules above it in this list; none imports aiohttp):

    model.py             records (`Order`, `Item`, `Package`, `ChangeRequest`) and the pure rules (money in cents)
    profile.py           an order's seed-time profile: the published defaults, a scenario's overrides merged over them
    documents.py         the order document (GetOrder, and the PII version's GetOrder2), its items and packages
    order_list.py        the order list (ListOrders): filters, sort, page, stats
    change_documents.py  a Change, the Change history and the change summary as the routes answer them
    events.py            the order hook and the feed (`OrderEvents`)
    state.py             `OrdersState`: the store, the Change records, the caches, lookups and reads
    workflow.py          `OrderWorkflow`: status moves and the invoiced-check (failure B)
    invoices.py          `InvoicePipeline`: invoice notifications and tracking (failure A, the invoice's side)
    changes.py           `ChangePipeline`: Change v2 (worker, cancel, retry, preview) and Change v1 (failure A)
    service.py           `OrdersService`, the one face the HTTP layer calls; seeding

Nothing is re-exported here: importing `simulator.orders.model` must not load the service.
"""
