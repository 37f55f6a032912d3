"""The aiohttp application factory and the server opener.

`create_app(config)` builds one application serving the Orders API, the Accounting API, the control API under
`/_sim/` and `/openapi.json`. State lives under typed `web.AppKey`s; the core's clock, background work and the
outbound HTTP session are started and stopped through `cleanup_ctx`, and so are the orders it holds from the start
(`orders=`, `simulator.web.initial_orders`).

Without the control API (`control=False`, `racelab serve --no-control`: a stand-in for the real platform) no `/_sim/`
route exists: a `/_sim/` path is an unknown path of the Orders service (404 as any unknown path, credentials checked
first as for any Orders path), `/openapi.json` lists none, `X-Racelab-Token` unlocks nothing, and `X-Racelab-Control`
exempts no request from injected faults (the platform knows no such header: a client sending it gets what every
client gets); an injected error carries no `X-Racelab-Fault` header (it would tell `error_after`, applied, from
`error_before`, not applied: what a platform's client cannot know).

One middleware does all the cross-cutting work, because every middleware layer costs on the hot path: it
decides which service a path belongs to, checks credentials when they are configured, keeps the control API to
loopback clients (or token holders), answers a method a path does not serve with 405 and an `Allow` header that
lists exactly the methods `/openapi.json` documents for that path, renders every error in the answering service's
documented shape, and injects the faults the configuration asks for (`faults.<class>`, see
`simulator.config.FaultsConfig`):

- `error_before` / `reset_before`: a 5xx in the service's error shape, or a TCP reset, instead of running the handler
  (nothing is applied);
- `error_after` / `reset_after` / `timeout` / `hang`: the handler runs (and commits), then its answer is replaced by
  a 5xx, the connection is reset, the answer is held for `hold`, or it is never sent.

Credentials (when `auth` configures them), as the platform checks them:
- Orders: the application key pair `X-VTEX-API-AppKey` + `X-VTEX-API-AppToken`, or a user token in
  `VtexIdclientAutCookie` (cookie or header). None sent: 401; a wrong one: 403 (official Orders API document: 401
  "Invalid or missing authentication", 403 "The credentials are not enabled to access the service"). The key a
  request came with is kept for the handlers (`_orders_common.app_key_of`).
- Accounting: `X-Subscription-Key`; missing or wrong: 401 (500 with `auth.faithful_errors`).
- Control API: loopback clients, or `X-Racelab-Token` (when there is a control API).

Paths, as OpenAPI matches them: a concrete path wins over a templated one that also matches
(`.../changes/preview` over `.../changes/{changeRequestId}`), so `GET .../changes/preview` is a 405 (the path
serves POST), not a lookup of a Change called "preview".

Whether a request is faulted is drawn from the seeded stream (seed, order id, "fault", class), so the same seed
faults the same requests of an order. Every injected fault is journaled (op `fault`, phase = the kind) and counted
in `/_sim/metrics` under `requests` as `fault <class> <kind>`. With no fault configured the edge costs one check.

Imports: aiohttp and everything in `simulator`.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import re
import socket
import struct
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import ValidationError

from ..accounting.service import AccountingService
from ..config import AuthConfig, FaultKind, RouteFaults, SimConfig
from ..contract.headers import CONTROL_HEADER, CONTROL_TOKEN_HEADER
from ..engine import Core
from ..errors import ApiError, BadRequest, Forbidden, InjectedFault, PayloadTooLarge, Unauthorized, http_status
from ..orders.service import OrdersService
from ._orders_common import APP_KEY
from ._state import ACCOUNTING, CORE, HTTP, ORDERS, ROUTES, STATS
from .accounting_api import accounting_routes
from .control_api import control_routes
from .initial_orders import InitialOrder, initial_orders, seed_initial
from .orders_api import orders_routes
from .routing import Route, Security, Service, openapi_document, validation_message

__all__ = ["create_app", "error_answer", "open_runner", "open_server"]

log = logging.getLogger("simulator")
VERSION = "0.1.0"

_FAULT_CLASS = web.AppKey("fault_class", dict[web.AbstractRoute, str])
_STOPPING = web.AppKey("stopping", asyncio.Event)
_CONTROL = web.AppKey("control", bool)
"""Whether the control API `/_sim/` is served (and `X-Racelab-Control` honoured)."""
_INITIAL: web.AppKey[tuple[InitialOrder, ...]] = web.AppKey("initial_orders")


@dataclass(frozen=True, slots=True)
class _Paths:
    """The route table's path templates, to answer as OpenAPI matches paths: which template a request path belongs
    to (a concrete path before a templated one) and which methods that template serves."""

    methods: Mapping[str, frozenset[str]]
    patterns: Sequence[tuple[str, re.Pattern[str]]]
    """Every template and its regular expression, most concrete first."""
    shadowed: frozenset[str]
    """Templates that a more concrete template can take a request path from (`{changeRequestId}` by `preview`)."""

    @classmethod
    def of(cls, routes: Sequence[Route]) -> _Paths:
        methods: dict[str, set[str]] = {}
        for r in routes:
            methods.setdefault(r.path, set()).add(r.method.upper())
        templates = sorted(methods, key=lambda t: [_is_param(seg) for seg in t.split("/")])
        patterns = [(t, re.compile("/".join(_segment_regex(seg) for seg in t.split("/")))) for t in templates]
        shadowed = frozenset(a for a in methods for b in methods if a != b and _more_concrete(b, a))
        return cls({t: frozenset(m) for t, m in methods.items()}, patterns, shadowed)

    def template_of(self, path: str) -> str | None:
        return next((t for t, pattern in self.patterns if pattern.fullmatch(path)), None)

    def allow(self, template: str) -> str:
        return ",".join(sorted(self.methods[template]))


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def _segment_regex(segment: str) -> str:
    if not _is_param(segment):
        return re.escape(segment)
    _, _, custom = segment[1:-1].partition(":")
    return f"(?:{custom})" if custom else "[^/]+"


def _more_concrete(b: str, a: str) -> bool:
    """Whether template `b` matches some paths `a` matches, and takes them: a literal of `b` wherever `a` has one,
    and at least one where `a` has a parameter."""
    sa, sb = a.split("/"), b.split("/")
    return len(sa) == len(sb) and all(_is_param(x) or x == y for x, y in zip(sa, sb, strict=True))


_PATHS = web.AppKey("paths", _Paths)


class _AiohttpSender:
    """Hook delivery over the app's client session (the domain sees only `HookSender`)."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    async def post_json(self, url: str, headers: Mapping[str, str], payload: Any, timeout_s: float) -> int:
        session = self._app[HTTP]
        async with session.post(
            url, json=payload, headers=dict(headers), timeout=ClientTimeout(total=timeout_s)
        ) as resp:
            await resp.read()
            return resp.status


def _service_of(path: str, control: bool = True) -> str:
    if control and path.startswith("/_sim"):
        return "control"
    if path == "/openapi.json":
        return "document"  # open to every client, as the platform's published documents are
    if path.startswith(("/accounting", "/administration")):
        return "accounting"
    return "orders"


def error_answer(exc: ApiError, service: str = "control") -> tuple[int, dict[str, Any]]:
    """The status and body `exc` is answered with, in `service`'s documented shape (for callers in the same
    process, who get what HTTP would have answered)."""
    status = http_status(exc)
    return status, _error_body(service, status, exc.code, exc.message)


def _error_body(service: str, status: int, code: str, message: str) -> dict[str, Any]:
    if service == "accounting":
        title = {400: "IncorrectMessage", 401: "Unauthorized", 404: "NotFound"}.get(status, "Error")
        return {
            "type": "RequestBody" if status == 400 else "Error",
            "title": title,
            "code": status,
            "description": message,
        }
    return {"error": {"code": code, "message": message, "exception": None}}


def _is_loopback(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        return ipaddress.ip_address(remote.split("%")[0]).is_loopback
    except ValueError:
        return False


def _same(sent: str | None, expected: str | None) -> bool:
    """`sent` is the configured secret (compared in constant time)."""
    return sent is not None and expected is not None and hmac.compare_digest(sent.encode(), expected.encode())


def _check_orders(request: web.Request, auth: AuthConfig) -> None:
    """Check an Orders request's credentials and keep the application key it came with (`APP_KEY`).

    Raises:
        Unauthorized: credentials are configured and none were sent (a key without its token is none).
        Forbidden: the key pair or the user token sent is not the configured one.
    """
    key = request.headers.get("X-VTEX-API-AppKey")
    if not auth.orders_checked:
        if key:
            request[APP_KEY] = key  # unchecked: what a hook configured by this client shows as Origin.Key
        return
    token = request.headers.get("X-VTEX-API-AppToken")
    # VTEX ID sets the user token as a cookie; back-end clients and VTEX IO apps send it as a header of that name.
    user = request.headers.get("VtexIdclientAutCookie") or request.cookies.get("VtexIdclientAutCookie")
    if key and token and _same(key, auth.orders_app_key) and _same(token, auth.orders_app_token):
        request[APP_KEY] = key
        return
    if user and _same(user, auth.orders_user_token):
        return
    if not (key and token) and not user:
        raise Unauthorized(
            "Unauthorized access: send X-VTEX-API-AppKey and X-VTEX-API-AppToken, or a user token in "
            "VtexIdclientAutCookie",
            code="UNAUTHORIZED",
        )
    raise Forbidden("The credentials are not enabled to access the service", code="FORBIDDEN")


def _check_access(request: web.Request, service: str, config: SimConfig) -> None:
    auth = config.auth
    if service == "orders":
        _check_orders(request, auth)
    elif service == "accounting":
        expected = auth.accounting_subscription_key
        if expected is None:
            return
        sent = request.headers.get("X-Subscription-Key")
        if sent is None:
            raise Unauthorized("Missing header X-Subscription-Key: send one of your subscription keys")
        if not _same(sent, expected):
            raise Unauthorized("Invalid subscription key in X-Subscription-Key")
    elif service == "control":
        if _is_loopback(request.remote):
            return
        token = auth.control_token
        if token is None or request.headers.get(CONTROL_TOKEN_HEADER) != token:
            raise Forbidden(
                "The control API answers loopback clients only, or clients sending the configured "
                f"{CONTROL_TOKEN_HEADER}",
                code="CONTROL-FORBIDDEN",
            )


@web.middleware
async def _edge(request: web.Request, handler: Any) -> web.StreamResponse:
    app = request.app
    service = _service_of(request.path, app[_CONTROL])
    if app[CORE].config.faults.active and service != "control":
        fault = _draw_fault(request, service)
        if fault is not None:
            return await _inject(request, handler, service, fault)
    response = await _answer(request, handler, service)
    key = f"{service} {response.status}"
    stats = app[STATS]
    stats[key] = stats.get(key, 0) + 1
    return response


async def _answer(request: web.Request, handler: Any, service: str) -> web.StreamResponse:
    """The handler's answer, or its error in the answering service's documented shape."""
    app = request.app
    try:
        _check_access(request, service, app[CORE].config)
        resource = request.match_info.route.resource
        if resource is not None and resource.canonical in app[_PATHS].shadowed:
            _refuse_unserved(request)
        response: web.StreamResponse = await handler(request)
    except ApiError as exc:
        status = http_status(exc)
        if isinstance(exc, Unauthorized) and service == "accounting" and app[CORE].config.auth.faithful_errors:
            status = 500
        response = web.json_response(_error_body(service, status, exc.code, exc.message), status=status)
    except web.HTTPException as exc:
        # aiohttp's own refusals: no route (404), wrong method (405), body too large (413).
        if isinstance(exc, web.HTTPRequestEntityTooLarge):
            err: ApiError = PayloadTooLarge(
                f"Request body is larger than the limit of {app[CORE].config.limits.max_body_bytes} bytes"
            )
        else:
            err = BadRequest(exc.reason or exc.text or "request refused", code=f"HTTP-{exc.status}")
        response = web.json_response(_error_body(service, exc.status, err.code, err.message), status=exc.status)
        if exc.status == 405:
            paths = app[_PATHS]
            template = paths.template_of(request.rel_url.path_safe)
            response.headers["Allow"] = paths.allow(template) if template else exc.headers.get("Allow", "")
    except ValidationError as exc:  # a model validated outside parse_body
        response = web.json_response(_error_body(service, 400, "BAD-REQUEST", validation_message(exc)), status=400)
    return response


def _refuse_unserved(request: web.Request) -> None:
    """405 when the request's path belongs to a more concrete template than the route aiohttp matched, and that
    template does not serve the method (`GET .../changes/preview`: the path serves POST only).

    Raises:
        web.HTTPMethodNotAllowed: the method is not one the path's template serves.
    """
    paths = request.app[_PATHS]
    template = paths.template_of(request.rel_url.path_safe)
    if template is not None and request.method not in paths.methods[template]:
        raise web.HTTPMethodNotAllowed(request.method, sorted(paths.methods[template]))


# -- injected faults ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Fault:
    kind: FaultKind
    fault_class: str
    key: str
    """The order id (or Accounting order reference) the request is about; "" when the path names none."""
    spec: RouteFaults


def _draw_fault(request: web.Request, service: str) -> _Fault | None:
    """The fault this request meets, if any: one draw from the (seed, order, "fault", class) stream."""
    app = request.app
    fault_class = app[_FAULT_CLASS].get(request.match_info.route)
    core = app[CORE]
    faults = core.config.faults
    if fault_class is None or fault_class not in faults.active:
        return None
    if CONTROL_HEADER in request.headers and app[_CONTROL] and _may_control(request, core.config):
        return None
    match = request.match_info
    key = match.get("orderId") or match.get("orderReference") or ""
    spec = faults.of(fault_class)
    kind = spec.pick(core.rng.get(key, "fault", fault_class).random())
    return None if kind is None else _Fault(kind, fault_class, key, spec)


def _may_control(request: web.Request, config: SimConfig) -> bool:
    try:
        _check_access(request, "control", config)
    except ApiError:
        return False
    return True


async def _inject(request: web.Request, handler: Any, service: str, fault: _Fault) -> web.StreamResponse:
    """Answer `request` as `fault` says, journal the fault and count it."""
    app = request.app
    core = app[CORE]
    kind = fault.kind
    detail: dict[str, Any] = {"class": fault.fault_class, "route": f"{request.method} {request.path}"}
    answer: web.StreamResponse | None = None
    if kind not in (FaultKind.ERROR_BEFORE, FaultKind.RESET_BEFORE):
        answer = await _answer(request, handler, service)
        detail["answered"] = answer.status  # what the client would have seen
    op_id = await _op_id(request)
    if kind in (FaultKind.ERROR_BEFORE, FaultKind.ERROR_AFTER):
        exc = InjectedFault(
            f"Injected fault ({kind.value}) on {request.method} {request.path}", status=fault.spec.status
        )
        detail["status"] = exc.status
        response: web.StreamResponse = web.json_response(
            _error_body(service, exc.status, exc.code, exc.message), status=exc.status
        )
        if app[_CONTROL]:  # the platform says no such thing: a stand-in must not tell error_after from _before
            response.headers["X-Racelab-Fault"] = kind.value
    elif kind is FaultKind.TIMEOUT:
        assert answer is not None
        hold_ms = fault.spec.hold.draw_ms(core.rng.get(fault.key, "fault", f"{fault.fault_class}.hold"))
        detail["hold_ms"] = round(hold_ms, 3)
        response = answer
    else:
        response = answer or web.Response(status=204)  # never sent: the transport is gone before it is written
    core.journal.record(core.now(), fault.key, "fault", kind.value, op_id, detail=detail)
    stats = app[STATS]
    name = f"fault {fault.fault_class} {kind.value}"
    stats[name] = stats.get(name, 0) + 1
    if kind in (FaultKind.RESET_BEFORE, FaultKind.RESET_AFTER):
        _reset(request)
    elif kind is FaultKind.TIMEOUT:
        await _hold(request, detail["hold_ms"] / 1000.0)
    elif kind is FaultKind.HANG:
        await _hold(request, None)
        _reset(request)  # the server is stopping (or the client left): drop the connection unanswered
    else:
        key = f"{service} {response.status}"
        stats[key] = stats.get(key, 0) + 1
    return response


async def _op_id(request: web.Request) -> str:
    """What ties the fault to the operation in the journal: the invoice number of an invoice (the op id the
    service journals it under), else the client's `X-Request-ID`."""
    if request.body_exists:
        try:
            body = json.loads(await request.read())
        except (ValueError, web.HTTPException):
            body = None
        if isinstance(body, dict) and isinstance(body.get("invoiceNumber"), str):
            return str(body["invoiceNumber"])
    return request.headers.get("X-Request-ID", "")


def _reset(request: web.Request) -> None:
    """Abort the connection with a TCP reset (SO_LINGER 0), as a crashing proxy would: the client reads ECONNRESET."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with suppress(OSError):  # already closed by the peer: aborting is enough
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _hold(request: web.Request, seconds: float | None) -> None:
    """Wait `seconds` (None: without end) before the answer goes out; cut short when the server stops, and for an
    endless hold when the client has closed the connection (checked each second: a hung request costs a task)."""
    stopping = request.app[_STOPPING]
    if seconds is not None:
        with suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), seconds)
        return
    while not stopping.is_set():
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        with suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), 1.0)


async def _openapi(request: web.Request) -> web.Response:
    config = request.app[CORE].config
    document = openapi_document(
        request.app[ROUTES],
        title="racelab simulator",
        version=VERSION,
        security=_security(config.auth),
        max_body_bytes=config.limits.max_body_bytes,
    )
    return web.json_response(document)


def _security(auth: AuthConfig) -> dict[Service, Security]:
    """The credentials each service checks under `auth`, as `/openapi.json` declares them (the Orders schemes as
    the official Orders API document names them: `appKey`, `appToken`, `VtexIdclientAutCookie`)."""
    out: dict[Service, Security] = {}
    if auth.orders_checked:
        schemes: dict[str, dict[str, str]] = {}
        requirements: list[tuple[str, ...]] = []
        if auth.orders_app_key is not None:
            schemes["appKey"] = {"type": "apiKey", "in": "header", "name": "X-VTEX-API-AppKey"}
            schemes["appToken"] = {"type": "apiKey", "in": "header", "name": "X-VTEX-API-AppToken"}
            requirements.append(("appKey", "appToken"))
        if auth.orders_user_token is not None:
            schemes["VtexIdclientAutCookie"] = {"type": "apiKey", "in": "header", "name": "VtexIdclientAutCookie"}
            schemes["VtexIdclientAutCookieCookie"] = {"type": "apiKey", "in": "cookie", "name": "VtexIdclientAutCookie"}
            requirements += [("VtexIdclientAutCookie",), ("VtexIdclientAutCookieCookie",)]
        out["orders"] = Security(schemes, requirements)
    if auth.accounting_subscription_key is not None:
        scheme = {"type": "apiKey", "in": "header", "name": "X-Subscription-Key"}
        out["accounting"] = Security({"subscriptionKey": scheme}, [("subscriptionKey",)])
    return out


class _ClientMistakes(logging.Filter):
    """aiohttp logs bytes it cannot parse as HTTP (a NUL in a header, ...) with a traceback at ERROR, before any app
    sees them. That is the client's mistake, answered 400: log it at DEBUG without the traceback, as aiohttp does
    for a bad method. Every other record passes unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= exc.code < 500:
            record.msg, record.args = f"{record.getMessage()}: {exc.code} {exc.message}", None
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.exc_info, record.exc_text = None, None
        return True


_SERVER_LOG = logging.getLogger("aiohttp.server")
if not any(isinstance(f, _ClientMistakes) for f in _SERVER_LOG.filters):
    _SERVER_LOG.addFilter(_ClientMistakes())


def create_app(
    config: SimConfig | None = None,
    *,
    control: bool = True,
    orders: Path | Sequence[Mapping[str, Any]] = (),
) -> web.Application:
    """Build the simulator's aiohttp application.

    app = create_app(load_profile("default"))
    web.run_app(app, host="127.0.0.1", port=8080)

    Args:
        config: the configuration (None: the defaults).
        control: serve the control API under `/_sim/` (False: a stand-in for the real platform, see above).
        orders: orders it holds from its startup on: a JSON-lines file or a list, each a `POST /_sim/orders` body.

    Raises:
        ConfigError: `orders` cannot be read or one does not validate (`FILE:LINE: field: problem`); an order the
            seed route would refuse on other grounds raises it at startup.
    """
    config = config or SimConfig()
    held = initial_orders(orders)
    app = web.Application(middlewares=[_edge], client_max_size=config.limits.max_body_bytes)
    core = Core(config)
    app[CORE] = core
    app[ORDERS] = OrdersService(core, _AiohttpSender(app))
    app[ACCOUNTING] = AccountingService(core, _AiohttpSender(app))  # the same client session delivers both
    app[STATS] = {}
    routes: list[Route] = [*orders_routes(), *accounting_routes(), *(control_routes() if control else ())]
    openapi_route = Route(
        "GET", "/openapi.json", _openapi, "control", "This document", "openapi", responses={200: {"type": "object"}}
    )
    routes.append(openapi_route)
    app[ROUTES] = routes
    fault_class: dict[web.AbstractRoute, str] = {}
    for r in routes:
        added = app.router.add_route(r.method, r.path, r.handler)
        cls = "accounting" if r.service == "accounting" else r.faults
        if cls is not None:
            fault_class[added] = cls
    app[_FAULT_CLASS] = fault_class
    app[_PATHS] = _Paths.of(routes)
    app[_STOPPING] = asyncio.Event()
    app[_CONTROL] = control
    app[_INITIAL] = held
    app.on_shutdown.append(_stop_holding)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _stop_holding(app: web.Application) -> None:
    """Release every held or hung answer: the server is stopping (`on_shutdown` runs before it waits for them)."""
    app[_STOPPING].set()


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    core = app[CORE]
    await core.start()
    app[HTTP] = ClientSession(connector=TCPConnector(limit=100))
    held = app[_INITIAL]
    try:  # also when seeding fails and the server never starts
        await seed_initial(app, held)
        yield
    finally:
        await core.aclose()
        await app[HTTP].close()


@asynccontextmanager
async def open_runner(
    config: SimConfig | None = None,
    *,
    control: bool = True,
    orders: Path | Sequence[Mapping[str, Any]] = (),
) -> AsyncIterator[web.AppRunner]:
    """The simulator's app, set up (its startup has run, `orders` are held) and served nowhere yet: add a site to
    it, or connect to `runner.server` in process (virtual mode's pipes). Cleaned up on exit. `control` and
    `orders` as `create_app` takes them.

    async with open_runner(load_profile("instant")) as runner:
        runner.app, runner.server

    Raises:
        ConfigError: `orders` cannot be read, or one does not validate or would be refused by the seed route.
    """
    runner = web.AppRunner(create_app(config, control=control, orders=orders), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        yield runner
    finally:
        await runner.cleanup()


@asynccontextmanager
async def open_server(
    config: SimConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    control: bool = True,
    orders: Path | Sequence[Mapping[str, Any]] = (),
) -> AsyncIterator[tuple[web.Application, str]]:
    """Serve the simulator on `host:port` (0: an ephemeral port) and yield the app and its base URL; `orders` exist
    before it listens. `control` and `orders` as `create_app` takes them.

    async with open_server(load_profile("instant")) as (app, url):
        ...  # http://127.0.0.1:PORT

    orders = [{"orderId": "o-1", "items": [{"id": "sku-1", "price": 1000, "quantity": 1}]}]
    async with open_server(config, control=False, orders=orders) as (app, url):
        ...  # GET {url}/api/oms/pvt/orders/o-1 answers; every /_sim/ path answers 404

    Raises:
        ConfigError: `orders` cannot be read, or one does not validate or would be refused by the seed route.
    """
    async with open_runner(config, control=control, orders=orders) as runner:
        site = web.TCPSite(runner, host, port, backlog=1024)
        await site.start()
        sockets = runner.addresses
        bound_port = sockets[0][1] if sockets else port
        shown = f"[{host}]" if ":" in host else host
        yield runner.app, f"http://{shown}:{bound_port}"
