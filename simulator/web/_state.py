"""Typed application keys: where the app keeps its services (aiohttp `web.AppKey`)."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import ClientSession, web

from ..accounting.service import AccountingService
from ..engine import Core
from ..orders.service import OrdersService
from .routing import Route

__all__ = ["ACCOUNTING", "CORE", "HTTP", "ORDERS", "ROUTES", "STATS"]

CORE = web.AppKey("core", Core)
ORDERS = web.AppKey("orders", OrdersService)
ACCOUNTING = web.AppKey("accounting", AccountingService)
HTTP = web.AppKey("http", ClientSession)
ROUTES = web.AppKey("routes", Sequence[Route])
STATS = web.AppKey("stats", dict[str, int])
