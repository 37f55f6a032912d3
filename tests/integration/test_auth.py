"""Credentials as the platform checks them, when the configuration sets them.

Orders (developers.vtex.com, "API authentication using application keys" and "... using user tokens"; the official
Orders API document's `securitySchemes` `appKey`, `appToken`, `VtexIdclientAutCookie`): the application key pair in
`X-VTEX-API-AppKey` + `X-VTEX-API-AppToken`, or a user token in `VtexIdclientAutCookie`, sent as the cookie VTEX ID
sets at login or as the header of that name. Nothing sent: 401 ("Invalid or missing authentication"); a wrong key
pair or token: 403 ("The credentials are not enabled to access the service"). Open when nothing is configured.
`/openapi.json` declares the schemes exactly when they are checked. The key a request authenticated with is what
the handlers see (`app_key_of`), for a hook's `Origin.Key`.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from simulator import ConfigError, create_app, load_profile
from simulator.web._orders_common import app_key_of
from tests.conftest import Sim, SimFactory

ORDER = "/api/oms/pvt/orders/ORD-1"
KEY, TOKEN, USER = "vtexappkey-racelab-ABCDEF", "app-token-secret", "user-token-jwt"
PAIR = {"X-VTEX-API-AppKey": KEY, "X-VTEX-API-AppToken": TOKEN}
AUTH = {"orders_app_key": KEY, "orders_app_token": TOKEN, "orders_user_token": USER}


@pytest.fixture
async def guarded(make_sim: SimFactory) -> Sim:
    sim = await make_sim("instant", auth=AUTH)
    await sim.seed()
    return sim


def code(body: Any) -> str:
    return str(body["error"]["code"])


@pytest.mark.parametrize(
    "headers",
    [
        PAIR,
        {"VtexIdclientAutCookie": USER},
        {"Cookie": f"VtexIdclientAutCookie={USER}"},
        {**PAIR, "X-VTEX-API-AppToken": "wrong", "VtexIdclientAutCookie": USER},  # one valid credential is enough
        {"X-VTEX-API-AppKey": "other", "X-VTEX-API-AppToken": "x", "Cookie": f"VtexIdclientAutCookie={USER}"},
    ],
    ids=["key-pair", "user-token-header", "user-token-cookie", "wrong-pair-valid-token", "wrong-pair-valid-cookie"],
)
async def test_either_credential_the_platform_takes_is_accepted(guarded: Sim, headers: dict[str, str]) -> None:
    _, order = await guarded.call("GET", ORDER, headers=headers, expect=200)
    assert order["orderId"] == "ORD-1"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-VTEX-API-AppKey": KEY},
        {"X-VTEX-API-AppToken": TOKEN},
        {"X-VTEX-API-AppKey": "", "X-VTEX-API-AppToken": ""},
        {"VtexIdclientAutCookie": ""},
    ],
    ids=["nothing", "key-without-token", "token-without-key", "empty-pair", "empty-user-token"],
)
async def test_no_credential_is_401(guarded: Sim, headers: dict[str, str]) -> None:
    status, body = await guarded.call("GET", ORDER, headers=headers)
    assert (status, code(body)) == (401, "UNAUTHORIZED")
    assert "X-VTEX-API-AppKey" in body["error"]["message"]


@pytest.mark.parametrize(
    "headers",
    [
        {**PAIR, "X-VTEX-API-AppToken": "wrong"},
        {**PAIR, "X-VTEX-API-AppKey": "vtexappkey-other"},
        {"X-VTEX-API-AppKey": TOKEN, "X-VTEX-API-AppToken": KEY},
        {"VtexIdclientAutCookie": "expired"},
        {"Cookie": "VtexIdclientAutCookie=expired"},
        {"VtexIdclientAutCookie": TOKEN},
    ],
    ids=["wrong-token", "wrong-key", "swapped", "wrong-user-token", "wrong-cookie", "app-token-as-user-token"],
)
async def test_a_wrong_credential_is_403_and_nothing_happens(guarded: Sim, headers: dict[str, str]) -> None:
    body = {
        "type": "Output",
        "issuedDate": "2026-11-21",
        "invoiceNumber": "NF-1",
        "invoiceValue": 500,
        "items": [{"itemIndex": 0, "price": 500, "quantity": 1}],
    }
    status, answer = await guarded.call("POST", "/api/orders/pvt/document/ORD-1/invoices", body=body, headers=headers)
    assert (status, code(answer)) == (403, "FORBIDDEN")
    assert answer["error"]["message"] == "The credentials are not enabled to access the service"
    _, order = await guarded.call("GET", ORDER, headers=PAIR, expect=200)
    assert order["packageAttachment"]["packages"] == []


async def test_only_the_orders_api_is_guarded_by_the_orders_credentials(guarded: Sim) -> None:
    await guarded.call("GET", "/_sim/health", expect=200)  # control API: loopback
    await guarded.call("GET", "/openapi.json", expect=200)


async def test_a_user_token_alone_can_be_configured(make_sim: SimFactory) -> None:
    sim = await make_sim("instant", auth={"orders_user_token": USER})
    await sim.seed()
    await sim.call("GET", ORDER, headers={"VtexIdclientAutCookie": USER}, expect=200)
    status, _ = await sim.call("GET", ORDER, headers=PAIR)
    assert status == 403  # no application key is configured: none is valid


async def test_open_when_nothing_is_configured(sim: Sim) -> None:
    await sim.seed()
    await sim.call("GET", ORDER, expect=200)
    await sim.call("GET", ORDER, headers={"X-VTEX-API-AppKey": "anything"}, expect=200)


def test_a_key_without_its_token_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="orders_app_key and orders_app_token together"):
        load_profile("instant", overrides={"auth": {"orders_app_key": KEY}})


async def test_the_document_declares_the_schemes_exactly_when_they_are_checked(make_sim: SimFactory) -> None:
    open_sim = await make_sim("instant")
    _, spec = await open_sim.call("GET", "/openapi.json", expect=200)
    assert "securitySchemes" not in spec["components"]
    assert "security" not in spec["paths"]["/api/oms/pvt/orders/{orderId}"]["get"]

    sim = await make_sim("instant", auth={**AUTH, "accounting_subscription_key": "sub"})
    _, spec = await sim.call("GET", "/openapi.json", expect=200)
    schemes = spec["components"]["securitySchemes"]
    assert schemes["appKey"] == {"type": "apiKey", "in": "header", "name": "X-VTEX-API-AppKey"}
    assert schemes["appToken"] == {"type": "apiKey", "in": "header", "name": "X-VTEX-API-AppToken"}
    assert schemes["VtexIdclientAutCookie"] == {"type": "apiKey", "in": "header", "name": "VtexIdclientAutCookie"}
    assert schemes["VtexIdclientAutCookieCookie"]["in"] == "cookie"
    assert spec["paths"]["/api/oms/pvt/orders/{orderId}"]["get"]["security"] == [
        {"appKey": [], "appToken": []},
        {"VtexIdclientAutCookie": []},
        {"VtexIdclientAutCookieCookie": []},
    ]
    accounting = spec["paths"]["/accounting/v1/businesses/{businessCode}/customers/{customerNumber}/orders"]["post"]
    assert accounting["security"] == [{"subscriptionKey": []}]
    assert "security" not in spec["paths"]["/_sim/health"]["get"]


async def test_handlers_see_the_app_key_a_request_authenticated_with() -> None:
    """What the events module puts in a hook's `Origin.Key`: the key that authenticated, none for a user token,
    and the key sent (unchecked) when credentials are not configured."""
    seen: list[str | None] = []

    async def spy(request: web.Request) -> web.Response:
        seen.append(app_key_of(request))
        return web.json_response({})

    for auth in (AUTH, {}):
        app = create_app(load_profile("instant", overrides={"auth": auth}))
        app.router.add_get("/api/oms/pvt/spy", spy)  # in the Orders namespace: the edge middleware checks it
        async with TestClient(TestServer(app)) as client:
            for headers in (PAIR, {"VtexIdclientAutCookie": USER}, {"X-VTEX-API-AppKey": "unchecked"}):
                async with client.get("/api/oms/pvt/spy", headers=headers) as resp:
                    assert resp.status == (
                        401
                        if auth and "X-VTEX-API-AppToken" not in headers and "VtexIdclientAutCookie" not in headers
                        else 200
                    )
    assert seen == [KEY, None, KEY, None, "unchecked"]
