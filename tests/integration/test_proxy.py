"""`racelab proxy` (`harness.proxy.open_proxy`) in front of real servers: forwarding unchanged, never an open proxy,
the record and its redaction, the rules (delay, hold_until, fault), an https upstream with a CA made here, the
stand-in platform, and the command stopped by SIGINT/SIGTERM with everything written.

The upstream of most tests is a small aiohttp server in this process that records what it received and answers
what the request asks for (`X-Answer-Status`); the stand-in platform (`tests.support.standin`) is the real
`racelab serve --no-control` in a child.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web

from harness.errors import UsageError
from harness.proxy import open_proxy, parse_rules, read_exchanges
from tests.support.standin import standin, standin_orders

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

APP_KEY = "vtexappkey-test-4f1c9e"
APP_TOKEN = "TOKEN-never-written-7d2a"
SECRET = "configured-secret-91b3"


# -- helpers -----------------------------------------------------------------------------------------------------


async def until(check: Callable[[], T | None], *, what: str, timeout_s: float = 10.0) -> T:
    """Poll `check` until it is truthy (the event loop keeps running); fail at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout_s:g} s for {what}")
        await asyncio.sleep(0.01)
    return found


@dataclass
class Upstream:
    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    """What a request with `X-Hang` waits for before it is answered."""


async def _echo(request: web.Request) -> web.StreamResponse:
    upstream: Upstream = request.app[UPSTREAM]
    body = await request.read()
    upstream.received.append(
        {
            "method": request.method,
            "raw_path": request.raw_path,
            "headers": list(request.headers.items()),
            "body": body,
        }
    )
    if request.headers.get("X-Hang"):
        await upstream.release.wait()
    status = int(request.headers.get("X-Answer-Status", "200"))
    answer = web.Response(
        status=status,
        reason="Custom Reason" if status == 299 else None,
        body=json.dumps({"got": request.raw_path, "echo": body.decode(errors="replace")}).encode(),
        content_type="application/json",
        headers={"X-Upstream": "yes"},
    )
    answer.set_cookie("first", "1")
    answer.set_cookie("second", "2")
    return answer


UPSTREAM = web.AppKey("upstream", Upstream)


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    async with _serve_echo(None) as up:
        yield up


class _EchoServer:
    def __init__(self, context: ssl.SSLContext | None) -> None:
        self.context = context

    async def __aenter__(self) -> Upstream:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", _echo)
        up = Upstream("")
        app[UPSTREAM] = up
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=self.context)
        await site.start()
        port = self.runner.addresses[0][1]
        up.url = f"{'https' if self.context else 'http'}://127.0.0.1:{port}"
        return up

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


def _serve_echo(context: ssl.SSLContext | None) -> _EchoServer:
    return _EchoServer(context)


def exchanges(out: Path) -> list[dict[str, Any]]:
    return read_exchanges(out)[1]


async def raw_request(url: str, data: bytes) -> bytes:
    """Send `data` as is on a new connection to `url`'s host and port; everything the server answers."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(data)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(65536), 10)
    writer.close()
    return answer


def grep_tree(folder: Path, *needles: str) -> list[str]:
    """Every (file, needle) where a needle appears in a file under `folder`."""
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {n}" for n in needles if n.encode() in data]
    return found


# -- forwarding --------------------------------------------------------------------------------------------------


async def test_requests_and_answers_pass_unchanged(upstream: Upstream, tmp_path: Path) -> None:
    out = tmp_path / "out"
    body = b'{"invoiceNumber": "N-1", "invoiceValue": 100}'
    headers = {
        "Content-Type": "application/json",
        "X-Custom": "kept",
        "X-Answer-Status": "299",
        "Connection": "keep-alive, X-Per-Hop",
        "X-Per-Hop": "dropped",
        "Host": "evil.example",
    }
    async with open_proxy(upstream.url, out=out) as proxy, aiohttp.ClientSession() as client:
        url = f"{proxy.url}/api/oms/pvt/orders/o-1/invoice?a=1&b=%20x"
        resp = await client.post(url, data=body, headers=headers)
        answer = await resp.read()
        status, reason = resp.status, resp.reason
        cookies = resp.headers.getall("Set-Cookie")
        upstream_header = resp.headers.get("X-Upstream")
    assert (status, reason) == (299, "Custom Reason")
    assert json.loads(answer) == {"got": "/api/oms/pvt/orders/o-1/invoice?a=1&b=%20x", "echo": body.decode()}
    assert sorted(c.split(";")[0] for c in cookies) == ["first=1", "second=2"]
    assert upstream_header == "yes"
    (got,) = upstream.received
    assert got["method"] == "POST"
    assert got["raw_path"] == "/api/oms/pvt/orders/o-1/invoice?a=1&b=%20x"
    assert got["body"] == body
    headers = dict(got["headers"])
    assert headers["X-Custom"] == "kept"
    assert headers["Content-Type"] == "application/json"
    assert "X-Per-Hop" not in headers
    assert headers["Host"] == upstream.url.removeprefix("http://")  # the caller's Host is ignored
    (ex,) = exchanges(out)
    assert (ex["route"], ex["order_id"], ex["method"], ex["status"], ex["outcome"]) == (
        "invoice-notification",
        "o-1",
        "POST",
        299,
        "ok",
    )
    assert ex["query"] == "a=1&b=%20x"
    times = ex["times"]
    assert 0 <= times["arrived"] <= times["forwarded"] <= times["upstream_answered"] <= times["answered"]
    assert ex["request"]["body"] == {"invoiceNumber": "N-1", "invoiceValue": 100}


async def test_methods_and_outcomes_are_recorded_as_the_history_says(upstream: Upstream, tmp_path: Path) -> None:
    out = tmp_path / "out"
    async with open_proxy(upstream.url, out=out) as proxy, aiohttp.ClientSession() as client:
        for method, path, status in [
            ("GET", "/api/oms/pvt/orders/o-2", "200"),
            ("PATCH", "/api/order-system/orders/o-2/changes", "404"),
            ("DELETE", "/api/orders/hook/config", "503"),
            ("PUT", "/not/an/operation", "201"),
        ]:
            async with client.request(method, proxy.url + path, headers={"X-Answer-Status": status}) as resp:
                assert resp.status == int(status)
    got = [(e["method"], e["route"], e["order_id"], e["status"], e["outcome"]) for e in exchanges(out)]
    assert got == [
        ("GET", "get-order", "o-2", 200, "ok"),
        ("PATCH", "create-change", "o-2", 404, "fail"),
        ("DELETE", "delete-hook-configuration", None, 503, "info"),
        ("PUT", None, None, 201, "ok"),
    ]
    assert [u["method"] for u in upstream.received] == ["GET", "PATCH", "DELETE", "PUT"]


async def test_an_unreachable_upstream_is_a_502_that_surely_did_nothing(tmp_path: Path) -> None:
    async with _serve_echo(None) as gone:
        url = gone.url
    out = tmp_path / "out"
    async with open_proxy(url, out=out) as proxy, aiohttp.ClientSession() as client:
        resp = await client.get(proxy.url + "/api/oms/pvt/orders/o-1")
        resp.release()
    assert resp.status == 502
    (ex,) = exchanges(out)
    assert (ex["status"], ex["outcome"], ex["times"]["forwarded"]) == (502, "fail", None)
    assert ex["error"].startswith("upstream: ")


# -- never an open proxy -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        ("GET http://127.0.0.2:{port}/api/oms/pvt/orders/o-1 HTTP/1.1", b"400"),
        ("CONNECT 127.0.0.2:{port} HTTP/1.1", b"405"),
        ("OPTIONS * HTTP/1.1", b"400"),
    ],
)
async def test_a_target_the_caller_names_is_refused(
    upstream: Upstream, tmp_path: Path, request_line: str, status: bytes
) -> None:
    out = tmp_path / "out"
    port = upstream.url.rsplit(":", 1)[1]
    async with open_proxy(upstream.url, out=out) as proxy:
        line = request_line.format(port=port)
        answer = await raw_request(proxy.url, f"{line}\r\nHost: 127.0.0.2:{port}\r\nConnection: close\r\n\r\n".encode())
    assert answer.split(b" ", 2)[1] == status, answer[:200]
    assert upstream.received == []
    (ex,) = exchanges(out)
    assert ex["error"].startswith("refused: ")
    assert (ex["outcome"], ex["times"]["forwarded"]) == ("fail", None)


async def test_a_host_header_does_not_choose_the_upstream(upstream: Upstream, tmp_path: Path) -> None:
    out = tmp_path / "out"
    async with open_proxy(upstream.url, out=out) as proxy:
        answer = await raw_request(
            proxy.url,
            b"GET /api/oms/pvt/orders/o-9 HTTP/1.1\r\nHost: 192.0.2.1:80\r\nConnection: close\r\n\r\n",
        )
    assert answer.startswith(b"HTTP/1.1 200")
    (got,) = upstream.received
    assert dict(got["headers"])["Host"] == upstream.url.removeprefix("http://")


async def test_a_bad_upstream_or_out_is_a_usage_error(upstream: Upstream, tmp_path: Path) -> None:
    for bad in ("ftp://127.0.0.1", "http://127.0.0.1/?q=1", "http://user:pw@127.0.0.1", "127.0.0.1:80"):
        with pytest.raises(UsageError, match="--upstream"):
            async with open_proxy(bad, out=tmp_path / "x"):
                pass
    out = tmp_path / "out"
    async with open_proxy(upstream.url, out=out):
        pass
    with pytest.raises(UsageError, match=r"already holds exchanges\.jsonl"):
        async with open_proxy(upstream.url, out=out):
            pass


# -- the record, redacted -----------------------------------------------------------------------------------------


async def test_no_credential_or_secret_is_written_anywhere(upstream: Upstream, tmp_path: Path) -> None:
    out = tmp_path / "out"
    hook = {"hook": {"url": "http://127.0.0.1:1/hook", "headers": {"X-Hook-Key": "hook-credential-55e1"}}}
    async with open_proxy(upstream.url, out=out, secrets=[SECRET]) as proxy, aiohttp.ClientSession() as client:
        headers = {
            "X-VTEX-API-AppKey": APP_KEY,
            "X-VTEX-API-AppToken": APP_TOKEN,
            "Authorization": "Bearer bearer-cred-3c4d",
            "Cookie": "VtexIdclientAutCookie=cookie-cred-8e8e",
            "X-Subscription-Key": "sub-cred-6a6a",
        }
        async with client.post(proxy.url + "/api/orders/hook/config", json=hook, headers=headers) as resp:
            assert resp.status == 200
        async with client.get(
            f"{proxy.url}/api/oms/pvt/orders/o-1?appToken={APP_TOKEN}&note={SECRET}",
            headers={**headers, "X-Note": f"says {SECRET}"},
            data=f"body with {APP_KEY} and {SECRET}".encode(),
        ) as resp:
            assert resp.status == 200
    assert len(upstream.received) == 2
    assert dict(upstream.received[0]["headers"])["X-VTEX-API-AppToken"] == APP_TOKEN  # forwarded, never written
    needles = (APP_KEY, APP_TOKEN, SECRET, "bearer-cred-3c4d", "cookie-cred-8e8e", "sub-cred-6a6a", "hook-credential")
    assert grep_tree(out, *needles) == []
    first, second = exchanges(out)
    assert first["request"]["headers"]["X-VTEX-API-AppToken"] == "[redacted]"
    assert second["query"].startswith("appToken=%5Bredacted%5D") or "redacted" in second["query"]


# -- the rules ------------------------------------------------------------------------------------------------------


async def test_a_delay_rule_adds_its_delay_to_the_matching_exchanges_only(upstream: Upstream, tmp_path: Path) -> None:
    out = tmp_path / "out"
    rules = parse_rules("rules: [{match: {route: get-order}, delay: 300ms}]")
    async with open_proxy(upstream.url, out=out, rules=rules) as proxy, aiohttp.ClientSession() as client:
        for path in ("/api/oms/pvt/orders/o-1", "/api/oms/pvt/orders/o-1/invoice"):
            async with client.request("GET" if path.endswith("o-1") else "POST", proxy.url + path) as resp:
                assert resp.status == 200
    delayed, other = exchanges(out)
    assert delayed["rule"] == {"index": 0, "action": "delay", "detail": "300 ms"}
    assert delayed["times"]["forwarded"] - delayed["times"]["arrived"] >= 0.3
    assert other["rule"] is None
    assert other["times"]["forwarded"] - other["times"]["arrived"] < 0.3


async def test_a_distribution_delay_is_drawn_from_the_seed(upstream: Upstream, tmp_path: Path) -> None:
    rules = parse_rules("rules: [{delay: {kind: uniform, min_ms: 1, max_ms: 40}}]")
    details = []
    for run, seed in enumerate((5, 5, 6)):
        out = tmp_path / f"out-{run}"
        async with open_proxy(upstream.url, out=out, rules=rules, seed=seed) as proxy, aiohttp.ClientSession() as c:
            for _ in range(3):
                async with c.get(proxy.url + "/api/oms/pvt/orders/o-1") as resp:
                    assert resp.status == 200
        details.append([e["rule"]["detail"] for e in exchanges(out)])
    assert details[0] == details[1]
    assert details[0] != details[2]
    assert all("drawn from uniform(min_ms=1, max_ms=40)" in d for d in details[0])


async def test_hold_until_releases_after_the_other_exchange_reaches_its_phase_plus_the_offset(
    upstream: Upstream, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    rules = parse_rules(
        "rules:\n"
        "  - match: {route: invoice-notification}\n"
        "    hold_until: {route: create-change, phase: answered, offset: 100ms, timeout: 10s}\n"
    )
    async with open_proxy(upstream.url, out=out, rules=rules) as proxy, aiohttp.ClientSession() as client:
        invoice = asyncio.ensure_future(client.post(proxy.url + "/api/oms/pvt/orders/o-7/invoice", data=b"{}"))
        await until(lambda: proxy.in_flight == 1, what="the invoice held")
        assert upstream.received == []
        # The invoice is held: nothing has reached the upstream until the Change of the same order has been answered.
        other = await client.patch(proxy.url + "/api/order-system/orders/o-other/changes", data=b"{}")
        other.release()
        change = await client.patch(proxy.url + "/api/order-system/orders/o-7/changes", data=b"{}")
        change.release()
        held = await invoice
        held.release()
    by_route = {(e["route"], e["order_id"]): e for e in exchanges(out)}
    inv = by_route[("invoice-notification", "o-7")]
    chg = by_route[("create-change", "o-7")]
    assert inv["times"]["arrived"] < chg["times"]["arrived"]
    assert inv["times"]["forwarded"] >= chg["times"]["answered"] + 0.1
    assert inv["rule"]["action"] == "hold_until"
    assert f"exchange {chg['id']} answered" in inv["rule"]["detail"]
    assert [u["raw_path"].rsplit("/", 1)[-1] for u in upstream.received] == ["changes", "changes", "invoice"]


async def test_hold_until_forwards_anyway_at_its_timeout_and_says_so(upstream: Upstream, tmp_path: Path) -> None:
    out = tmp_path / "out"
    rules = parse_rules(
        "rules: [{match: {route: invoice-notification},"
        " hold_until: {route: create-change, phase: forwarded, timeout: 200ms}}]"
    )
    async with open_proxy(upstream.url, out=out, rules=rules) as proxy, aiohttp.ClientSession() as client:
        resp = await client.post(proxy.url + "/api/oms/pvt/orders/o-3/invoice", data=b"{}")
        resp.release()
    assert resp.status == 200
    (ex,) = exchanges(out)
    assert ex["times"]["forwarded"] - ex["times"]["arrived"] >= 0.2
    assert "timed out after 200 ms, forwarded anyway" in ex["rule"]["detail"]
    assert ex["error"] == "hold_until timed out after 200 ms: forwarded anyway"
    assert ex["outcome"] == "ok"


@pytest.mark.parametrize(
    ("kind", "when", "caller_status", "reached_upstream", "outcome"),
    [
        ("503", "before", 503, False, "fail"),
        ("500", "after", 500, True, "info"),
        ("reset", "before", None, False, "fail"),
        ("reset", "after", None, True, "info"),
    ],
)
async def test_a_fault_before_or_after_forwarding(
    upstream: Upstream,
    tmp_path: Path,
    kind: str,
    when: str,
    caller_status: int | None,
    reached_upstream: bool,
    outcome: str,
) -> None:
    out = tmp_path / "out"
    rules = parse_rules(f"rules: [{{match: {{route: invoice-notification}}, fault: {{when: {when}, kind: {kind}}}}}]")
    async with open_proxy(upstream.url, out=out, rules=rules) as proxy, aiohttp.ClientSession() as client:
        status: int | None = None
        try:
            async with client.post(proxy.url + "/api/oms/pvt/orders/o-4/invoice", data=b"{}") as resp:
                status = resp.status
                await resp.read()
        except aiohttp.ClientError:
            status = None
        await until(lambda: proxy.exchanges == 1, what="the exchange recorded")
    assert status == caller_status
    assert (len(upstream.received) == 1) is reached_upstream
    (ex,) = exchanges(out)
    assert (ex["fault"], ex["outcome"], ex["status"]) == (kind, outcome, caller_status)
    assert (ex["times"]["forwarded"] is not None) is reached_upstream
    if when == "after":
        assert ex["times"]["upstream_answered"] is not None
        assert f"the upstream answered 200; the caller got {kind}" in ex["error"]
    if caller_status is not None:
        assert ex["response"]["body"]["error"]["code"] == "racelab-proxy"


async def test_a_timeout_fault_never_answers_and_is_recorded_when_the_caller_gives_up(
    upstream: Upstream, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    rules = parse_rules("rules: [{match: {route: get-order}, fault: {when: after, kind: timeout}}]")
    async with open_proxy(upstream.url, out=out, rules=rules) as proxy:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.3)) as client:
            with pytest.raises(TimeoutError):
                async with client.get(proxy.url + "/api/oms/pvt/orders/o-5"):
                    pass
        await until(lambda: proxy.exchanges == 1, what="the timed-out exchange recorded")
    (ex,) = exchanges(out)
    assert (ex["fault"], ex["outcome"], ex["status"], ex["times"]["answered"]) == ("timeout", "info", None, None)
    assert len(upstream.received) == 1


# -- https ------------------------------------------------------------------------------------------------------


def _certificates(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A private CA made here, and a server context for 127.0.0.1 signed by it: (server context, CA PEM file)."""
    ca_file = folder / "ca.pem"
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    if importlib.util.find_spec("trustme") is not None:
        import trustme

        ca = trustme.CA()
        ca.cert_pem.write_to_path(str(ca_file))
        ca.issue_cert("127.0.0.1").configure_cert(server)
        return server, ca_file
    openssl = shutil.which("openssl")
    assert openssl is not None, "neither trustme nor the openssl command is installed: cannot make a certificate"

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=folder, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n", encoding="utf-8")
    run(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    )
    server.load_cert_chain(folder / "server.pem", folder / "server.key")
    return server, ca_file


async def test_an_https_upstream_signed_by_a_private_ca(tmp_path: Path) -> None:
    server_context, ca_file = _certificates(tmp_path)
    async with _serve_echo(server_context) as secure:
        out = tmp_path / "out"
        async with open_proxy(secure.url, out=out, upstream_ca=ca_file) as proxy, aiohttp.ClientSession() as c:
            resp = await c.get(proxy.url + "/api/oms/pvt/orders/o-1")
            assert resp.status == 200
            assert json.loads(await resp.read())["got"] == "/api/oms/pvt/orders/o-1"
        # Without the CA the upstream's certificate is not trusted: the caller gets a 502, nothing is forwarded.
        out2 = tmp_path / "out2"
        async with open_proxy(secure.url, out=out2) as proxy, aiohttp.ClientSession() as c:
            resp = await c.get(proxy.url + "/api/oms/pvt/orders/o-1")
            resp.release()
            assert resp.status == 502
    assert len(secure.received) == 1
    assert exchanges(out)[0]["outcome"] == "ok"
    assert "certificate" in exchanges(out2)[0]["error"].lower()


# -- the stand-in platform ---------------------------------------------------------------------------------------------


async def test_through_the_stand_in_platform(tmp_path: Path) -> None:
    out = tmp_path / "out"
    orders = standin_orders(1, prefix="px")
    async with (
        standin(orders, profile="instant") as url,
        open_proxy(url, out=out) as proxy,
        aiohttp.ClientSession() as c,
    ):
        async with c.get(proxy.url + "/api/oms/pvt/orders/px-0") as resp:
            assert resp.status == 200
            assert (await resp.json())["status"] == "ready-for-handling"
        async with c.post(proxy.url + "/api/oms/pvt/orders/px-0/start-handling") as resp:
            assert resp.status == 204
        async with c.get(proxy.url + "/_sim/orders/px-0") as resp:
            assert resp.status == 404
    got = [(e["route"], e["order_id"], e["status"], e["outcome"]) for e in exchanges(out)]
    assert got == [
        ("get-order", "px-0", 200, "ok"),
        ("start-handling", "px-0", 204, "ok"),
        (None, None, 404, "fail"),
    ]


# -- stopping ------------------------------------------------------------------------------------------------------


async def test_stopping_cuts_holds_and_what_outlives_the_drain_and_writes_them(
    upstream: Upstream, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    rules = parse_rules(
        "rules: [{match: {route: invoice-notification}, hold_until: {route: create-change, phase: answered}}]"
    )
    async with aiohttp.ClientSession() as client:
        async with open_proxy(upstream.url, out=out, rules=rules, drain_s=0.2) as proxy:
            held = asyncio.ensure_future(client.post(proxy.url + "/api/oms/pvt/orders/o-1/invoice", data=b"{}"))
            hung = asyncio.ensure_future(client.get(proxy.url + "/api/oms/pvt/orders/o-2", headers={"X-Hang": "1"}))
            await until(lambda: proxy.in_flight == 2 and len(upstream.received) == 1, what="one held, one hung")
        for call in (held, hung):
            with pytest.raises(aiohttp.ClientError):
                (await call).release()
        upstream.release.set()
    by_order = {e["order_id"]: e for e in exchanges(out)}
    assert by_order["o-1"]["error"].startswith("cut: ")
    assert (by_order["o-1"]["times"]["forwarded"], by_order["o-1"]["outcome"]) == (None, "fail")
    assert by_order["o-2"]["error"].startswith("cut: ")
    assert by_order["o-2"]["times"]["forwarded"] is not None
    assert by_order["o-2"]["outcome"] == "info"


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
async def test_the_command_stops_on_a_signal_and_finishes_what_is_in_flight(
    upstream: Upstream, tmp_path: Path, signum: signal.Signals, code: int
) -> None:
    out = tmp_path / "out"
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - match: {route: get-order}\n    delay: 1ms\n", encoding="utf-8")
    argv = [
        sys.executable,
        "-m",
        "harness.cli",
        "proxy",
        "--upstream",
        upstream.url,
        "--listen",
        "127.0.0.1:0",
        "--out",
        str(out),
        "--rules",
        str(rules),
        "--secret",
        SECRET,
    ]
    log = tmp_path / "stdout.txt"
    with log.open("wb") as stdout:
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=ROOT, stdout=stdout, stderr=subprocess.STDOUT, start_new_session=True
        )

    def said(text: str) -> str | None:
        return next((line for line in log.read_text().splitlines() if text in line), None)

    try:
        ready = await until(lambda: said("proxy listening on"), what="the ready line", timeout_s=30)
        url = ready.rsplit(" ", 1)[1]
        async with aiohttp.ClientSession() as client:
            async with client.get(url + "/api/oms/pvt/orders/o-1", headers={"X-Note": SECRET}) as resp:
                assert resp.status == 200
            in_flight = asyncio.ensure_future(
                client.post(url + "/api/oms/pvt/orders/o-2/invoice", data=b"{}", headers={"X-Hang": "1"})
            )
            await until(lambda: len(upstream.received) == 2, what="the invoice forwarded and hanging")
            proc.send_signal(signum)
            await until(lambda: said(f"{signum.name}: stopping"), what="the proxy stopping")
            upstream.release.set()  # the upstream answers now: the exchange in flight finishes
            answer = await in_flight
            assert answer.status == 200
            answer.release()
        assert await asyncio.wait_for(proc.wait(), 20) == code
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
    header, recorded = read_exchanges(out)
    assert header["listen"] == url
    assert header["rules"] == str(rules)
    assert [(e["route"], e["status"], e["error"]) for e in recorded] == [
        ("get-order", 200, None),
        ("invoice-notification", 200, None),
    ]
    assert recorded[1]["times"]["answered"] is not None
    assert recorded[0]["rule"]["detail"] == "1 ms"
    assert (out / "exchanges.jsonl").read_bytes().endswith(b"\n")
    assert grep_tree(tmp_path, SECRET) == []
    assert "2 exchanges written" in log.read_text()


async def test_the_command_refuses_bad_rules_with_the_file_line_and_field(upstream: Upstream, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - match: {route: get-order}\n    delay: soon\n", encoding="utf-8")
    argv = [
        sys.executable,
        "-m",
        "harness.cli",
        "proxy",
        "--upstream",
        upstream.url,
        "--listen",
        "127.0.0.1:0",
        "--out",
        str(tmp_path / "out"),
        "--rules",
        str(rules),
    ]
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert f"{rules}:3: rules[0].delay: expected a duration" in err.decode()
    assert not (tmp_path / "out").exists()
