"""The aiohttp application factory and the server opener.

`create_app(config)` builds one application serving the Orders API, the Accounting API, the control API under
`/_sim/` and `/openapi.json`. State lives under typed `web.AppKey`s; the core's clock, background work and the
outbound HTTP session are started and stopped through `cleanup_ctx`.

One middleware does all the cross-cutting work, because every middleware layer costs on the hot path: it
decides which service a path belongs to, checks credentials when they are configured, keeps the control API to
loopback clients (or token holders), and renders every error in the answering service's documented shape.

Imports: aiohttp and everything in `simulator`.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web
from pydantic import ValidationError

from ..accounting.service import AccountingService
from ..config import SimConfig
from ..engine import Core
from ..errors import ApiError, BadRequest, Forbidden, PayloadTooLarge, Unauthorized, http_status
from ..orders.service import OrdersService
from ._state import ACCOUNTING, CORE, HTTP, ORDERS, ROUTES, STATS
from .accounting_api import accounting_routes
from .control_api import control_routes
from .orders_api import orders_routes
from .routing import Route, openapi_document, validation_message

__all__ = ["create_app", "open_server"]

log = logging.getLogger("simulator")
VERSION = "0.1.0"


class _AiohttpSender:
    """Hook delivery over the app's client session (the domain sees only `HookSender`)."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    async def post_json(self, url: str, headers: Mapping[str, str], payload: Any, timeout_s: float) -> int:
        session = self._app[HTTP]
        async with session.post(url, json=payload, headers=dict(headers),
                                timeout=ClientTimeout(total=timeout_s)) as resp:  # fmt: skip
            await resp.read()
            return resp.status


def _service_of(path: str) -> str:
    if path.startswith("/_sim"):
        return "control"
    if path.startswith(("/accounting", "/administration")):
        return "accounting"
    return "orders"


def _error_body(service: str, status: int, code: str, message: str) -> dict[str, Any]:
    if service == "accounting":
        title = {400: "IncorrectMessage", 401: "Unauthorized", 404: "NotFound"}.get(status, "Error")
        return {"type": "RequestBody" if status == 400 else "Error", "title": title, "code": status,
                "description": message}  # fmt: skip
    return {"error": {"code": code, "message": message, "exception": None}}


def _is_loopback(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        return ipaddress.ip_address(remote.split("%")[0]).is_loopback
    except ValueError:
        return False


def _check_access(request: web.Request, service: str, config: SimConfig) -> None:
    auth = config.auth
    if service == "orders":
        if auth.orders_app_key is None:
            return
        key = request.headers.get("X-VTEX-API-AppKey")
        token = request.headers.get("X-VTEX-API-AppToken")
        cookie = request.cookies.get("VtexIdclientAutCookie")
        if cookie and auth.orders_app_token and cookie == auth.orders_app_token:
            return
        if not key or not token:
            raise Unauthorized("Missing X-VTEX-API-AppKey / X-VTEX-API-AppToken", code="UNAUTHORIZED")
        if key != auth.orders_app_key or token != auth.orders_app_token:
            raise Forbidden("The credentials are not valid for this account", code="FORBIDDEN")
    elif service == "accounting":
        expected = auth.accounting_subscription_key
        if expected is None:
            return
        sent = request.headers.get("X-Subscription-Key")
        if sent is None:
            raise Unauthorized("Missing header X-Subscription-Key: send one of your subscription keys")
        if sent != expected:
            raise Unauthorized("Invalid subscription key in X-Subscription-Key")
    elif service == "control":
        if _is_loopback(request.remote):
            return
        token = auth.control_token
        if token is None or request.headers.get("X-Racelab-Token") != token:
            raise Forbidden(
                "The control API answers loopback clients only, or clients sending the configured X-Racelab-Token",
                code="CONTROL-FORBIDDEN",
            )


@web.middleware
async def _edge(request: web.Request, handler: Any) -> web.StreamResponse:
    app = request.app
    path = request.path
    service = _service_of(path)
    stats = app[STATS]
    try:
        _check_access(request, service, app[CORE].config)
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
            response.headers["Allow"] = exc.headers.get("Allow", "")
    except ValidationError as exc:  # a model validated outside parse_body
        response = web.json_response(_error_body(service, 400, "BAD-REQUEST", validation_message(exc)), status=400)
    key = f"{service} {response.status}"
    stats[key] = stats.get(key, 0) + 1
    return response


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app[ROUTES], title="racelab simulator", version=VERSION))


def create_app(config: SimConfig | None = None) -> web.Application:
    """Build the simulator's aiohttp application.

    app = create_app(load_profile("default"))
    web.run_app(app, host="127.0.0.1", port=8080)
    """
    config = config or SimConfig()
    app = web.Application(middlewares=[_edge], client_max_size=config.limits.max_body_bytes)
    core = Core(config)
    app[CORE] = core
    app[ORDERS] = OrdersService(core, _AiohttpSender(app))
    app[ACCOUNTING] = AccountingService(core, _AiohttpSender(app))  # the same client session delivers both
    app[STATS] = {}
    routes: list[Route] = [*orders_routes(), *accounting_routes(), *control_routes()]
    openapi_route = Route("GET", "/openapi.json", _openapi, "control", "This document", "openapi",
                          responses={200: {"type": "object"}})  # fmt: skip
    routes.append(openapi_route)
    app[ROUTES] = routes
    for r in routes:
        app.router.add_route(r.method, r.path, r.handler)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    core = app[CORE]
    await core.start()
    app[HTTP] = ClientSession(connector=TCPConnector(limit=100))
    yield
    await core.aclose()
    await app[HTTP].close()


@asynccontextmanager
async def open_server(
    config: SimConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[tuple[web.Application, str]]:
    """Serve the simulator on `host:port` (0: an ephemeral port) and yield the app and its base URL.

    async with open_server(load_profile("instant")) as (app, url):
        ...  # http://127.0.0.1:PORT
    """
    app = create_app(config)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    sockets = runner.addresses
    bound_port = sockets[0][1] if sockets else port
    shown = f"[{host}]" if ":" in host else host
    try:
        yield app, f"http://{shown}:{bound_port}"
    finally:
        await runner.cleanup()
