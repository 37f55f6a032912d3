"""Typed application keys: where the app keeps its services (aiohttp `web.AppKey`)."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import ClientSession, web

from ..engine import Core
from ..orders.service import OrdersService
from .routing import Route

__all__ = ["CORE", "HTTP", "ORDERS", "ROUTES", "STATS"]

CORE = web.AppKey("core", Core)
ORDERS = web.AppKey("orders", OrdersService)
HTTP = web.AppKey("http", ClientSession)
ROUTES = web.AppKey("routes", Sequence[Route])
STATS = web.AppKey("stats", dict[str, int])
