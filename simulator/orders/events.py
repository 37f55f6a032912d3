"""How integrations learn about orders: the order hook, the Feed v3 queue, and their JSONata filters.

Owns `OrderEvents`. `OrdersService` hands it every committed version (`emit(before, after)`); it journals status
changes, posts the order hook of every app key whose filter matches (at least once, through the `HookSender` the
HTTP layer provides) and enqueues a feed item in every app key's feed whose filter matches.

What the platform documents, and this models (VTEX Developer Portal guide "Feed v3", `docs/guides/Orders/
orders-feed.md` in vtexdocs/dev-portal-content, and the Orders API paths `/api/orders/hook/config`,
`/api/orders/feed/config`, `/api/orders/feed`, `/api/orders/expressions/jsonata`):

- Each app key configures at most one hook and one feed; the two are independent.
- A filter is `FromWorkflow` (a status change to one of `status`) or `FromOrders` (a JSONata `expression` evaluated
  against the order document after any change). With `disableSingleFire: false` an order is sent only the first time
  it matches; with `true`, after every change that matches.
- A feed item read with `GET /api/orders/feed` is invisible for `visibilityTimeoutInSeconds`, then visible again
  unless committed; items older than `MessageRetentionPeriodInSeconds` are dropped; a feed that receives no event for
  that long loses its configuration. A hook with no notification for three days loses its configuration.
- The feed's handle is an Amazon SQS receipt handle (the documented example decodes to one): each read gives a new
  handle and only the latest one deletes the item, as in SQS.

Imports: stdlib, `jsonata`, `simulator.engine`, `.errors`, `.orders.model`, `.orders.documents`. No aiohttp.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import jsonata  # type: ignore[import-untyped]  # no py.typed; its API is used in `Expression` only

from ..engine import Core, Op
from ..errors import BadRequest, NotFound, RuleViolation
from .documents import order_document
from .model import Order

__all__ = [
    "DEFAULT_APP_KEY",
    "EventFilter",
    "Expression",
    "FeedConfig",
    "FeedItem",
    "FilterType",
    "HookConfig",
    "HookSender",
    "OrderEvent",
    "OrderEvents",
    "QueueConfig",
]

DEFAULT_APP_KEY = "vtexappkey-racelab"
"""Whose hook or feed a request addresses when it sends no `X-VTEX-API-AppKey` (auth off, or a user cookie)."""

DOMAIN = "Fulfillment"
"""`Domain` of every event (official doc: `/paths/~1api~1orders~1hook~1config/post/responses/200` example)."""

HOOK_IDLE_S = 3 * 86_400
"""orders-feed.md, "Hook notifications": "If the hook has no notifications for three days, your configuration will be
removed"."""

RETENTION_MIN_S, RETENTION_MAX_S = 60, 1_209_600
"""`MessageRetentionPeriodInSeconds`: the maximum is documented (official doc: `/paths/~1api~1orders~1feed~1config/
post/requestBody/content/application~1json/schema/properties/queue/properties/MessageRetentionPeriodInSeconds`);
the minimum is Amazon SQS's, which the feed is built on."""

VISIBILITY_MAX_S = 43_200
"""`visibilityTimeoutInSeconds`: undocumented; Amazon SQS's limit (0 to 12 hours)."""

_FEED_MAX = 100_000
"""Items one feed keeps (the oldest are dropped beyond it): memory stays bounded in a soak."""
_MAX_APP_KEYS = 16
"""Hooks (and feeds) configured at once: each app key may have one, and keys are whatever clients send."""
_EVAL_TIMEOUT_MS, _EVAL_MAX_DEPTH = 100, 200
"""A runaway expression (deep recursion, an endless loop, `$count([1..10000000])`) fails instead of blocking the
simulator: evaluation runs on the event loop, for every committed version, per filter. A filter on an order document
takes well under 10 ms."""


class HookSender(Protocol):
    """Delivers one hook POST; returns the HTTP status, raises on a connection error or timeout."""

    async def post_json(self, url: str, headers: Mapping[str, str], payload: Any, timeout_s: float) -> int: ...


# -- filters -------------------------------------------------------------------------------------------------------


class FilterType(StrEnum):
    FROM_WORKFLOW = "FromWorkflow"
    FROM_ORDERS = "FromOrders"


class Expression:
    """A JSONata expression, compiled once.

    expr = Expression('status = "invoiced"')   # raises BadRequest if it does not compile
    expr.matches({"status": "invoiced"})       # True
    """

    __slots__ = ("_compiled", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._compiled = _compile(text)

    def evaluate(self, document: Any) -> Any:
        """The expression's value on `document`; raises `jsonata.JException` on a runtime error."""
        bounds = jsonata.Jsonata.Frame(None)
        bounds.set_runtime_bounds(_EVAL_TIMEOUT_MS, _EVAL_MAX_DEPTH)
        return self._compiled.evaluate(document, bounds)

    def matches(self, document: Any) -> bool:
        """Whether the document meets the expression: JSONata's effective boolean of its value; an expression that
        fails on this document (a type error, say) does not match."""
        try:
            return bool(jsonata.Jsonata.boolize(self.evaluate(document)))
        except Exception:  # jsonata raises JException and, on some inputs, plain Python errors
            return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expression) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


def _compile(text: str) -> jsonata.Jsonata:
    """Compile `text`; a text escaped once more than JSON needs (`status = \\"canceled\\"`, as the documented example
    of `POST /api/orders/expressions/jsonata` and orders-feed.md's "all JSONata expressions have to be escaped" show)
    is read unescaped when that compiles."""
    error: Exception | None = None
    for candidate in (_unescaped(text), text):
        if candidate is None:
            continue
        try:
            return jsonata.Jsonata(candidate)
        except Exception as exc:  # JException, and RecursionError on absurd nesting
            error = error or exc
    raise BadRequest(f"invalid JSONata expression: {error}", code="OMS-JSONATA")


def _unescaped(text: str) -> str | None:
    if '\\"' not in text:
        return None
    try:
        decoded = json.loads(f'"{text}"')
    except ValueError:
        return None
    return decoded if isinstance(decoded, str) and decoded != text else None


def parse_document(text: str) -> Any:
    """The JSON document `POST /api/orders/expressions/jsonata` receives as a string, read as `_compile` reads an
    expression (escaped once more than JSON needs, as its documented example is)."""
    for candidate in (text, _unescaped(text)):
        if candidate is None:
            continue
        try:
            return json.loads(candidate)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
            continue
    raise BadRequest("Document must be a JSON document in a string", code="OMS-JSONATA")


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a hook or feed receives.

    EventFilter.from_workflow(["handling", "invoiced"])
    EventFilter.from_orders(Expression("value > 100"), disable_single_fire=False)
    """

    type: FilterType
    statuses: tuple[str, ...] | None = None
    """FromWorkflow: the statuses, as configured; None: every status change (a feed configured without a filter)."""
    expression: Expression | None = None
    disable_single_fire: bool = False
    _wanted: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    @classmethod
    def from_workflow(cls, statuses: Sequence[str] | None) -> EventFilter:
        kept = None if statuses is None else tuple(statuses)
        return cls(FilterType.FROM_WORKFLOW, statuses=kept, _wanted=frozenset(kept or ()))

    @classmethod
    def from_orders(cls, expression: Expression, *, disable_single_fire: bool) -> EventFilter:
        return cls(FilterType.FROM_ORDERS, expression=expression, disable_single_fire=disable_single_fire)

    def wants_status(self, status: str) -> bool:
        return self.statuses is None or status in self._wanted

    def to_json(self) -> dict[str, Any]:
        if self.type is FilterType.FROM_ORDERS:
            assert self.expression is not None
            return {
                "type": self.type.value,
                "expression": self.expression.text,
                "disableSingleFire": self.disable_single_fire,
            }
        if self.statuses is None:
            return {"type": self.type.value}
        return {"type": self.type.value, "status": list(self.statuses)}


EVERY_STATUS_CHANGE = EventFilter.from_workflow(None)
"""orders-feed.md: "If the `filter` is not configured, the `FromWorkflow` type is used, and all status changes will
appear in the feed"."""


@dataclass(frozen=True, slots=True)
class HookConfig:
    filter: EventFilter
    url: str
    headers: dict[str, str]
    app_key: str = DEFAULT_APP_KEY
    """Whose hook this is: `Origin.Key` of every notification."""

    def to_json(self) -> dict[str, Any]:
        return {"filter": self.filter.to_json(), "hook": {"url": self.url, "headers": self.headers}}


@dataclass(frozen=True, slots=True)
class QueueConfig:
    visibility_timeout_s: int
    retention_s: int

    def to_json(self) -> dict[str, int]:
        # the casing of the official GET example and orders-feed.md (the POST schema spells it with a capital M)
        return {
            "visibilityTimeoutInSeconds": self.visibility_timeout_s,
            "messageRetentionPeriodInSeconds": self.retention_s,
        }


@dataclass(frozen=True, slots=True)
class FeedConfig:
    filter: EventFilter
    queue: QueueConfig
    app_key: str = DEFAULT_APP_KEY


# -- events and feed items -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One change of one order, as hooks and feeds carry it."""

    event_id: str
    order_id: str
    state: str
    last_state: str
    last_change: str
    current_change: str
    domain: str = DOMAIN

    def hook_payload(self, account: str, app_key: str) -> dict[str, Any]:
        return {
            "Domain": self.domain,
            "OrderId": self.order_id,
            "State": self.state,
            "LastState": self.last_state,
            "LastChange": self.last_change,
            "CurrentChange": self.current_change,
            "Origin": {"Account": account, "Key": app_key},
        }


@dataclass(frozen=True, slots=True)
class FeedItem:
    """An event as one read of the feed returns it, with the handle that commits it."""

    event: OrderEvent
    handle: str

    @property
    def order_id(self) -> str:
        return self.event.order_id

    def to_json(self) -> dict[str, Any]:
        e = self.event
        return {
            "eventId": e.event_id,
            "handle": self.handle,
            "domain": e.domain,
            "state": e.state,
            "lastState": e.last_state,
            "orderId": e.order_id,
            "lastChange": e.last_change,
            "currentChange": e.current_change,
        }


@dataclass(slots=True)
class _Message:
    event: OrderEvent
    enqueued_at: float
    visible_at: float
    handle: str | None = None
    """The handle of the latest read: only it deletes the message (an SQS receipt handle)."""
    reads: int = 0


class _Feed:
    """One app key's queue: its configuration, its messages (oldest first), the orders it has already fired for."""

    def __init__(self, config: FeedConfig, now: float) -> None:
        self.config = config
        self.messages: OrderedDict[str, _Message] = OrderedDict()
        """Event id → message. An OrderedDict: dropping the oldest is O(1)."""
        self.by_handle: dict[str, str] = {}
        """The latest handle of each read message → its event id."""
        self.by_order: dict[str, list[str]] = {}
        """Order id → its messages' event ids, to forget them with the order."""
        self.fired: set[str] = set()
        """Orders a single-fire `FromOrders` filter has sent."""
        self.last_event_at = now

    def put(self, event: OrderEvent, now: float) -> None:
        self.messages[event.event_id] = _Message(event, enqueued_at=now, visible_at=now)
        self.by_order.setdefault(event.order_id, []).append(event.event_id)
        self.last_event_at = now
        if len(self.messages) > _FEED_MAX:
            self._drop(next(iter(self.messages)))

    def expire(self, now: float) -> None:
        horizon = now - self.config.queue.retention_s
        while self.messages:
            oldest = next(iter(self.messages.values()))
            if oldest.enqueued_at > horizon:
                return
            self._drop(oldest.event.event_id)

    def read(self, maxlot: int, now: float) -> list[FeedItem]:
        self.expire(now)
        out: list[FeedItem] = []
        for message in self.messages.values():
            if len(out) == maxlot:
                break
            if message.visible_at > now:
                continue
            if message.handle is not None:
                self.by_handle.pop(message.handle, None)
            message.reads += 1
            message.handle = f"{message.event.event_id}.{message.reads}"
            message.visible_at = now + self.config.queue.visibility_timeout_s
            self.by_handle[message.handle] = message.event.event_id
            out.append(FeedItem(message.event, message.handle))
        return out

    def commit(self, handles: list[str]) -> int:
        done = 0
        for handle in handles:
            event_id = self.by_handle.get(handle)
            if event_id is not None:
                self._drop(event_id)
                done += 1
        return done

    def forget(self, order_id: str) -> None:
        for event_id in self.by_order.pop(order_id, ()):
            self._drop(event_id, keep_index=True)
        self.fired.discard(order_id)

    def _drop(self, event_id: str, *, keep_index: bool = False) -> None:
        message = self.messages.pop(event_id, None)
        if message is None:
            return
        if message.handle is not None:
            self.by_handle.pop(message.handle, None)
        if not keep_index:
            ids = self.by_order.get(message.event.order_id)
            if ids is not None:
                ids.remove(event_id)
                if not ids:
                    del self.by_order[message.event.order_id]

    def describe(self, now: float) -> dict[str, Any]:
        self.expire(now)
        oldest = next(iter(self.messages.values()), None)
        return {
            "filter": self.config.filter.to_json(),
            "queue": self.config.queue.to_json(),
            "quantity": len(self.messages),
            "approximateAgeOfOldestMessageInSeconds": 0.0 if oldest is None else now - oldest.enqueued_at,
        }


@dataclass(slots=True)
class _Hook:
    config: HookConfig
    last_notified_at: float
    fired: set[str] = field(default_factory=set)


# -- the service ---------------------------------------------------------------------------------------------------


class OrderEvents:
    """The order hooks and feeds over a `Core`, one of each per app key.

    events = OrderEvents(core, sender)
    events.emit(before, after)  # after each committed version: journals a status change, fires hooks, feeds feeds
    """

    def __init__(self, core: Core, sender: HookSender) -> None:
        self.core = core
        self.sender = sender
        self._hooks: dict[str, _Hook] = {}
        self._feeds: dict[str, _Feed] = {}
        self._numbers = itertools.count(1)

    # -- state -----------------------------------------------------------------------------------------------------
    def forget(self, order_id: str) -> None:
        for feed in self._feeds.values():
            feed.forget(order_id)
        for hook in self._hooks.values():
            hook.fired.discard(order_id)

    def reset(self) -> None:
        self._hooks.clear()
        self._feeds.clear()

    def footprint(self) -> dict[str, int]:
        """The size of what grows with traffic (for soak tests)."""
        return {
            "hooks": len(self._hooks),
            "feeds": len(self._feeds),
            "feed items": sum(len(f.messages) for f in self._feeds.values()),
            "fired orders": sum(len(h.fired) for h in self._hooks.values())
            + sum(len(f.fired) for f in self._feeds.values()),
        }

    def snapshot(self) -> dict[str, Any]:
        """Everything configured and queued, comparable by value (for tests that check a request stored nothing)."""
        return {
            "hooks": {k: h.config for k, h in self._hooks.items()},
            "feeds": {k: (f.config, list(f.messages)) for k, f in self._feeds.items()},
        }

    def queued(self, app_key: str = DEFAULT_APP_KEY) -> list[OrderEvent]:
        """The events in the app key's feed, oldest first, visible or not, without reading them ([] without a feed)."""
        feed = self._feeds.get(app_key)
        return [] if feed is None else [m.event for m in feed.messages.values()]

    # -- emit ------------------------------------------------------------------------------------------------------
    def emit(self, before: Order | None, after: Order) -> None:
        """One committed version: a status change is journaled; matching hooks are posted and feeds fed.

        Only the default path's work happens without a `FromOrders` filter: one event number per status change, as
        before, so virtual runs stay byte-identical."""
        if before is None:
            return
        status_changed = before.status != after.status
        if status_changed:
            detail = {"from": before.status, "to": after.status}
            self.core.journal.record(
                self.core.now(), after.order_id, "status", "change", after.status, version=after.version, detail=detail
            )
        elif not self._any_from_orders():
            return
        if not self._feeds and not self._hooks:  # nobody listens (the usual run): only the event's number is spent
            next(self._numbers)
            return
        now = self.core.now()
        self._expire(now)
        document: dict[str, Any] | None = None

        def matches(flt: EventFilter, fired: set[str]) -> bool:
            nonlocal document
            if flt.type is FilterType.FROM_WORKFLOW:
                return status_changed and flt.wants_status(after.status)
            assert flt.expression is not None
            if not flt.disable_single_fire and after.order_id in fired:
                return False
            if document is None:
                document = order_document(after)
            if not flt.expression.matches(document):
                return False
            fired.add(after.order_id)
            return True

        event: OrderEvent | None = None
        n = 0

        def the_event() -> OrderEvent:
            nonlocal event, n
            if event is None:
                n = next(self._numbers)
                event = OrderEvent(
                    event_id=f"evt-{n}",
                    order_id=after.order_id,
                    state=after.status,
                    last_state=before.status,
                    last_change=before.last_change,
                    current_change=after.last_change,
                )
            return event

        if status_changed:
            the_event()  # numbered whether or not anyone listens, as it always was
        for feed in self._feeds.values():
            if matches(feed.config.filter, feed.fired):
                feed.put(the_event(), now)
        sent = 0
        for hook in self._hooks.values():
            if not matches(hook.config.filter, hook.fired):
                continue
            payload = the_event().hook_payload(self.core.config.orders.account, hook.config.app_key)
            op_id = f"hook-{n}" if not sent else f"hook-{n}.{sent + 1}"  # the first keeps the historical id
            sent += 1
            hook.last_notified_at = now
            op = self.core.op("hook", after.order_id, op_id)
            self.core.work.spawn(after.order_id, self._deliver(op, hook.config, payload), name=f"hook {after.order_id}")

    def _any_from_orders(self) -> bool:
        return any(h.config.filter.type is FilterType.FROM_ORDERS for h in self._hooks.values()) or any(
            f.config.filter.type is FilterType.FROM_ORDERS for f in self._feeds.values()
        )

    def _expire(self, now: float) -> None:
        """Drop hooks idle for three days and feeds that received nothing for their retention period."""
        for key in [k for k, h in self._hooks.items() if now - h.last_notified_at >= HOOK_IDLE_S]:
            del self._hooks[key]
        for key in [k for k, f in self._feeds.items() if now - f.last_event_at >= f.config.queue.retention_s]:
            del self._feeds[key]

    # -- hooks -----------------------------------------------------------------------------------------------------
    async def _deliver(self, op: Op, hook: HookConfig, payload: dict[str, Any]) -> None:
        """At-least-once delivery: retried with exponential backoff until a 200 or `max_attempts`."""
        cfg = self.core.config.orders.hook
        await op.delay("delay", cfg.delay)
        for attempt in range(1, cfg.max_attempts + 1):
            status: int | None = None
            error = None
            try:
                status = await self.sender.post_json(hook.url, hook.headers, payload, cfg.timeout_ms / 1000.0)
            except Exception as exc:  # a subscriber that is down must not stop the simulator
                error = f"{type(exc).__name__}: {exc}"
            op.record("deliver", attempt=attempt, status=status, error=error, state=payload["State"])
            if status == 200:
                rate = cfg.duplicate_rate
                if rate and self.core.rng.get(op.key, "hook", "duplicate").random() < rate:
                    await op.delay("delay", cfg.delay)
                    try:  # at least once: the same event again, as a subscriber must expect
                        again = await self.sender.post_json(hook.url, hook.headers, payload, cfg.timeout_ms / 1000.0)
                    except Exception as exc:
                        again, error = None, f"{type(exc).__name__}: {exc}"
                    op.record("duplicate", status=again, error=error, state=payload["State"])
                return
            if attempt < cfg.max_attempts:
                await asyncio.sleep(cfg.retry_backoff_ms * 2 ** (attempt - 1) / 1000.0)
        op.record("gave_up", attempts=cfg.max_attempts)

    def hook(self, app_key: str) -> HookConfig | None:
        self._expire(self.core.now())
        hook = self._hooks.get(app_key)
        return None if hook is None else hook.config

    async def configure_hook(self, config: HookConfig) -> None:
        """Ping the URL (it must answer 200), then store the hook; it replaces the app key's previous one."""
        if config.app_key not in self._hooks and len(self._hooks) >= _MAX_APP_KEYS:
            raise BadRequest(
                f"at most {_MAX_APP_KEYS} app keys may have a hook at once in the simulator", code="OMS-HOOK-LIMIT"
            )
        cfg = self.core.config.orders.hook
        if cfg.ping_on_config:
            try:
                status = await self.sender.post_json(
                    config.url, config.headers, {"hookConfig": "ping"}, cfg.timeout_ms / 1000.0
                )
            except Exception as exc:
                raise RuleViolation(
                    f"The hook URL did not answer the ping: {type(exc).__name__}: {exc}", code="OMS-HOOK-PING"
                ) from None
            if status != 200:
                raise RuleViolation(
                    f"The hook URL answered the ping with {status}; it must answer 200", code="OMS-HOOK-PING"
                )
        self._hooks[config.app_key] = _Hook(config, last_notified_at=self.core.now())

    def delete_hook(self, app_key: str) -> None:
        if self.hook(app_key) is None:
            raise NotFound("No hook is configured", code="OMS-HOOK-NOT-FOUND")
        del self._hooks[app_key]

    # -- feeds -----------------------------------------------------------------------------------------------------
    def _feed(self, app_key: str) -> _Feed:
        self._expire(self.core.now())
        feed = self._feeds.get(app_key)
        if feed is None:
            raise NotFound("No feed is configured for this app key", code="OMS-FEED-NOT-FOUND")
        return feed

    def configure_feed(self, config: FeedConfig) -> None:
        """Create or replace the app key's feed configuration. A reconfigured feed keeps its queue (orders-feed.md:
        "events from the former queue will remain in the feed until they are committed or until the retention
        period expires")."""
        now = self.core.now()
        self._expire(now)
        feed = self._feeds.get(config.app_key)
        if feed is None:
            if len(self._feeds) >= _MAX_APP_KEYS:
                raise BadRequest(
                    f"at most {_MAX_APP_KEYS} app keys may have a feed at once in the simulator", code="OMS-FEED-LIMIT"
                )
            self._feeds[config.app_key] = _Feed(config, now)
            return
        if config.filter != feed.config.filter:
            feed.fired.clear()
        feed.config = config
        feed.last_event_at = now

    def feed_config(self, app_key: str) -> dict[str, Any]:
        return self._feed(app_key).describe(self.core.now())

    def delete_feed(self, app_key: str) -> None:
        self._feed(app_key)
        del self._feeds[app_key]

    def feed_read(self, app_key: str, maxlot: int) -> list[FeedItem]:
        """Up to `maxlot` visible items, oldest first; each becomes invisible for the visibility timeout."""
        return self._feed(app_key).read(maxlot, self.core.now())

    def feed_commit(self, app_key: str, handles: list[str]) -> int:
        """Delete the items whose latest handles these are; others (unknown, or superseded by a later read) stay."""
        return self._feed(app_key).commit(handles)
