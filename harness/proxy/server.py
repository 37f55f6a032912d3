"""The shaping reverse proxy: forwards every request to one upstream, unchanged, shapes it by the rules, and records
every exchange.

Owns `open_proxy()` (the async context manager that serves it) and `Proxy` (its URL, its record, its counters). What
it guarantees:

- Forwarding: the method, the path and query as sent, the headers minus the hop-by-hop ones (and `Host`, which is
  the upstream's), the body as bytes; the answer's status, reason, headers (minus hop-by-hop) and body as bytes (no
  decompression). No redirect is followed, no cookie kept between callers.
- Never an open proxy: it forwards only to `upstream`. A request target in absolute form (`GET http://host/ ...`),
  in authority form (`CONNECT host:443`) or `*` is refused (400, or 405 for CONNECT) and never forwarded; a `Host`
  header is ignored. It listens where told (loopback by default).
- The record: every exchange, refused ones included, is one line of `DIR/exchanges.jsonl` when it ends
  (`harness.proxy.record`), with its four times and redacted credentials.
- Rules (`harness.proxy.rules`): the first that matches delays the exchange, holds it until another exchange of the
  same order reached a phase (plus an offset; forwarded anyway at the timeout, and said so), or injects a fault
  before forwarding (the caller gets it, the upstream nothing) or after (the upstream acted; the caller gets the
  fault: an outcome it cannot know).
- Stopping (leaving the context): it stops accepting, lets the exchanges in flight finish for `drain_s` (holds and
  `timeout` faults are cut at once: they would wait for nothing), cuts the rest, writes every line and closes the
  record.

Imports: stdlib, aiohttp, yarl, `harness.errors`, `harness.proxy` (rules, record), `simulator.contract`.

    async with open_proxy("http://127.0.0.1:8080", out=Path("out")) as proxy:
        proxy.url   # http://127.0.0.1:PORT: call it instead of the upstream
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import socket
import ssl
import struct
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from harness.errors import HarnessConnectionError, UsageError
from harness.proxy.record import Exchange, ExchangeLog, Redactor
from harness.proxy.rules import Delay, Fault, HoldUntil, Rule, RuleSet, Timing, describe_offset, load_rules
from simulator.contract.operations import match_operation

__all__ = ["HOP_BY_HOP", "Proxy", "check_upstream", "is_loopback", "open_proxy"]

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
"""RFC 9110 §7.6.1: headers that concern one connection, never forwarded (nor any the `Connection` header names)."""
_NOT_COPIED = frozenset({"host", "content-length", "expect"})
"""Set by the proxy's own client for the upstream connection: the upstream's host, the length of the body sent."""
_NOT_FORWARDED = HOP_BY_HOP | _NOT_COPIED
_NOT_ANSWERED = HOP_BY_HOP | {"content-length"}
"""What each direction drops besides the headers `Connection` names (built once, not per exchange)."""
_FAULT_STATUS = {"500": 500, "502": 502, "503": 503}
_POLL_S = 0.2
"""How often a `timeout` fault looks whether its caller has gone."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_upstream(upstream: str) -> URL:
    """The upstream's base URL, checked: http or https, a host, no query, fragment or credentials.

    Raises:
        UsageError: it is none of that.
    """
    url = URL(upstream)
    if url.scheme not in ("http", "https") or not url.host:
        raise UsageError(f"--upstream {upstream}: expected an http:// or https:// URL with a host")
    if url.query_string or url.fragment or url.user or url.password:
        raise UsageError(f"--upstream {upstream}: expected a base URL without query, fragment or credentials")
    return url


@dataclass(slots=True)
class _Reached:
    exchange: int
    at: float


class _Phases:
    """When each exchange of each order reached each phase, and a wake-up for whoever waits on one."""

    def __init__(self, *, kept: bool) -> None:
        self._kept = kept
        """False when no rule holds: nobody will ask, so nothing is kept."""
        self._seen: dict[tuple[str, str, str], list[_Reached]] = {}
        self._changed = asyncio.Event()

    def reach(self, order_id: str | None, route: str | None, phase: str, exchange: int, at: float) -> None:
        if not self._kept or order_id is None or route is None:
            return
        self._seen.setdefault((order_id, route, phase), []).append(_Reached(exchange, at))
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def first(self, order_id: str, route: str, phase: str, *, other_than: int) -> _Reached | None:
        return next((r for r in self._seen.get((order_id, route, phase), ()) if r.exchange != other_than), None)

    async def wait(
        self, order_id: str, route: str, phase: str, *, other_than: int, timeout_s: float
    ) -> _Reached | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while (found := self.first(order_id, route, phase, other_than=other_than)) is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return found


class _Cut(Exception):
    """The proxy is stopping: the exchange is cut where it stands."""


class Proxy:
    """A running proxy: `url` to call instead of the upstream, `record` the file it writes."""

    def __init__(
        self,
        upstream: URL,
        *,
        log: ExchangeLog,
        rules: RuleSet,
        redactor: Redactor,
        seed: int,
        session: aiohttp.ClientSession,
        ssl_context: ssl.SSLContext | None,
        started: tuple[float, float],
    ) -> None:
        self.upstream = upstream
        self.url = ""
        self.record = log.path
        self._base = str(upstream).rstrip("/")
        self._log = log
        self._rules = rules
        self._redactor = redactor
        self._session = session
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._timing = {r.index: Timing(seed=seed, index=r.index) for r in rules.rules}
        self._phases = _Phases(kept=any(isinstance(r.action, HoldUntil) for r in rules.rules))
        self._ids = itertools.count(1)
        self._t0, self.started_wall = started
        """The record's zero: the monotonic clock's reading and the wall clock's at the same instant."""
        self.stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.exchanges = 0
        """Exchanges recorded so far."""

    def now(self) -> float:
        return time.monotonic() - self._t0

    @property
    def in_flight(self) -> int:
        """Exchanges that have arrived and not yet ended (not yet in the record)."""
        return len(self._tasks)

    # -- one exchange -------------------------------------------------------------------------------------------

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        arrived = self.now()
        raw = request.raw_path
        path, _, query = raw.partition("?")
        ex = Exchange(next(self._ids), request.method, path, self._redactor.query(query), arrived)
        try:
            return await self._exchange(request, ex, raw, path)
        except _Cut:
            ex.error = "cut: the proxy stopped before the exchange ended"
            _reset(request)
            return web.Response(status=503)  # never sent: the connection is gone
        except asyncio.CancelledError:
            ex.error = ex.error or "cut: the proxy stopped before the exchange ended"
            raise
        except Exception as exc:  # the caller's connection broke mid-request, or a bug: recorded, then aiohttp's
            ex.error = self._redactor.text(f"proxy: {type(exc).__name__}: {exc}")
            raise
        finally:
            self._log.write(ex)
            self.exchanges += 1
            if task is not None:
                self._tasks.discard(task)

    async def _exchange(self, request: web.BaseRequest, ex: Exchange, raw: str, path: str) -> web.StreamResponse:
        self._redactor.learn(request.headers.items())
        refused = _refusal(request.method, raw)
        if refused is not None:
            status, why = refused
            ex.path = self._redactor.text(raw)[:200]
            ex.query = ""
            ex.request = {"headers": self._redactor.headers(request.headers.items()), "body": None}
            ex.error = f"refused: {why}"
            return await self._answer(request, ex, self._own(ex, _error(status, f"racelab proxy: {why}")))
        body = await request.read()
        ex.request = {
            "headers": self._redactor.headers(request.headers.items()),
            "body": self._redactor.body(
                body, request.headers.get("Content-Type"), request.headers.get("Content-Encoding")
            ),
        }
        ex.path = self._redactor.text(path)
        found = match_operation(request.method, path)
        if found is not None:
            op, params = found
            ex.route, ex.order_id = op.name, op.order_id(params)
        self._phases.reach(ex.order_id, ex.route, "arrived", ex.id, ex.arrived)
        rule = self._rules.first(ex.route, ex.method, ex.order_id)
        fault: Fault | None = None
        if rule is not None:
            fault = await self._before(rule, ex)
            if fault is not None and fault.when == "before":
                return await self._fault(request, ex, fault, None)
        upstream = await self._forward(request, ex, raw, body)
        if fault is not None:  # after: the upstream has acted (or not: `error` says); the caller gets the fault
            return await self._fault(request, ex, fault, upstream)
        return await self._answer(request, ex, upstream)

    async def _before(self, rule: Rule, ex: Exchange) -> Fault | None:
        """Apply the rule's action up to forwarding; the fault to inject, if it is one."""
        action = rule.action
        timing = self._timing[rule.index]
        if isinstance(action, Fault):
            ex.rule = {"index": rule.index, "action": "fault", "detail": f"{action.kind} {action.when} forwarding"}
            ex.fault = action.kind
            return action
        if isinstance(action, Delay):
            ms = timing.draw_ms(action.offset, order_id=ex.order_id)
            ex.rule = {"index": rule.index, "action": "delay", "detail": _delay_detail(action.offset, ms)}
            await self._sleep(ms / 1000.0, cut=False)
            return None
        assert isinstance(action, HoldUntil)
        offset_ms = timing.draw_ms(action.offset, order_id=ex.order_id)
        waited = f"until {action.route} {action.phase} + {offset_ms:g} ms"
        ex.rule = {"index": rule.index, "action": "hold_until", "detail": waited}
        if ex.order_id is None:
            ex.rule["detail"] = f"{waited}: not held, the exchange names no order"
            return None
        reached = await self._wait(
            self._phases.wait(
                ex.order_id, action.route, action.phase, other_than=ex.id, timeout_s=action.timeout_ms / 1000.0
            )
        )
        if reached is None:
            ex.rule["detail"] = f"{waited}: timed out after {action.timeout_ms:g} ms, forwarded anyway"
            ex.error = f"hold_until timed out after {action.timeout_ms:g} ms: forwarded anyway"
            return None
        release = reached.at + offset_ms / 1000.0
        ex.rule["detail"] = f"{waited}: exchange {reached.exchange} {action.phase} at {reached.at:.6f} s"
        await self._sleep(release - self.now(), cut=True)
        return None

    async def _wait(self, waiting: Any) -> Any:
        """`waiting`, cut short (`_Cut`) when the proxy stops."""
        task = asyncio.ensure_future(waiting)
        stop = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise _Cut
        return task.result()

    async def _sleep(self, seconds: float, *, cut: bool) -> None:
        if seconds <= 0:
            return
        if cut:
            await self._wait(asyncio.sleep(seconds))
        else:
            await asyncio.sleep(seconds)

    async def _forward(self, request: web.BaseRequest, ex: Exchange, raw: str, body: bytes) -> web.Response:
        """Send the request to the upstream; its answer, as the caller is to get it (or a 502/504 of the proxy's)."""

        def sent() -> None:  # the request's headers are on the wire: the instant it was forwarded
            ex.forwarded = self.now()
            self._phases.reach(ex.order_id, ex.route, "forwarded", ex.id, ex.forwarded)

        try:
            async with self._session.request(
                request.method,
                URL(self._base + raw, encoded=True),
                headers=_forwarded_headers(request.headers.items()),
                data=body if body else None,
                allow_redirects=False,
                ssl=self._ssl,
                trace_request_ctx=SimpleNamespace(sent=sent),
            ) as resp:
                payload = await resp.read()
                ex.upstream_answered = self.now()
                ex.response = {
                    "headers": self._redactor.headers(resp.headers.items()),
                    "body": self._redactor.body(
                        payload, resp.headers.get("Content-Type"), resp.headers.get("Content-Encoding")
                    ),
                }
                headers = _answer_headers(resp.headers.items())
                return web.Response(status=resp.status, reason=resp.reason, body=payload, headers=headers)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            ex.error = self._redactor.text(f"upstream: {what}")
            status = 504 if isinstance(exc, TimeoutError) else 502
            return self._own(ex, _error(status, f"racelab proxy: the upstream did not answer ({type(exc).__name__})"))

    def _own(self, ex: Exchange, answer: web.Response) -> web.Response:
        """`answer`, the proxy's own (not the upstream's), recorded as the exchange's response."""
        body = answer.body if isinstance(answer.body, bytes) else b""
        ex.response = {"headers": dict(answer.headers), "body": self._redactor.body(body, answer.content_type)}
        return answer

    async def _fault(
        self, request: web.BaseRequest, ex: Exchange, fault: Fault, upstream: web.Response | None
    ) -> web.StreamResponse:
        """Give the caller `fault` instead of an answer (`upstream`: what the upstream answered, after forwarding)."""
        if fault.when == "after":
            said = (
                "the upstream did not answer"
                if ex.upstream_answered is None or upstream is None
                else (f"the upstream answered {upstream.status}")
            )
            ex.error = (ex.error + "; " if ex.error else "") + f"{said}; the caller got {fault.kind}"
        ex.response = None
        if fault.kind in _FAULT_STATUS:
            message = f"racelab proxy: injected fault {fault.kind} {fault.when} forwarding"
            return await self._answer(request, ex, self._own(ex, _error(_FAULT_STATUS[fault.kind], message)))
        if fault.kind == "timeout":
            # Never answered: held until the caller gives up (its connection closes) or the proxy stops.
            while not self.stopping.is_set():
                transport = request.transport
                if transport is None or transport.is_closing():
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), _POLL_S)
        _reset(request)
        return web.Response(status=204)  # never sent: the connection is gone

    async def _answer(self, request: web.BaseRequest, ex: Exchange, answer: web.Response) -> web.StreamResponse:
        try:
            await answer.prepare(request)
            await answer.write_eof()
        except (ConnectionError, RuntimeError) as exc:  # the caller went away: it never got the answer
            what = str(exc) or type(exc).__name__
            ex.error = (ex.error + "; " if ex.error else "") + f"the answer could not be written ({what})"
            return answer
        ex.status = answer.status
        ex.answered = self.now()
        self._phases.reach(ex.order_id, ex.route, "answered", ex.id, ex.answered)
        return answer

    # -- stopping ------------------------------------------------------------------------------------------------

    async def drain(self, drain_s: float) -> None:
        """Cut holds and hanging faults at once, let the rest finish for `drain_s`, then cancel what still runs."""
        self.stopping.set()
        pending = {t for t in self._tasks if not t.done()}
        if pending:
            _, pending = await asyncio.wait(pending, timeout=drain_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5.0)


def _delay_detail(offset: Any, ms: float) -> str:
    if isinstance(offset, float | int):
        return f"{ms:g} ms"
    return f"{ms:.3f} ms, drawn from {describe_offset(offset)}"


def _refusal(method: str, raw: str) -> tuple[int, str] | None:
    """Why a request must not be forwarded: (status, reason); None when it may be."""
    if method.upper() == "CONNECT":
        return 405, "CONNECT is refused: this proxy forwards only to its upstream"
    if not raw.startswith("/"):
        return 400, "a request target must be a path (origin form): this proxy forwards only to its upstream"
    return None


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"code": "racelab-proxy", "message": message, "exception": None}}, status=status)


def _connection_named(headers: Iterable[tuple[str, str]]) -> set[str]:
    return {
        token.strip().lower() for name, value in headers if name.lower() == "connection" for token in value.split(",")
    }


def _forwarded_headers(items: Iterable[tuple[str, str]]) -> CIMultiDict[str]:
    items = list(items)
    drop = _NOT_FORWARDED | _connection_named(items)
    return CIMultiDict((k, v) for k, v in items if k.lower() not in drop)


def _answer_headers(items: Iterable[tuple[str, str]]) -> CIMultiDict[str]:
    items = list(items)
    drop = _NOT_ANSWERED | _connection_named(items)
    return CIMultiDict((k, v) for k, v in items if k.lower() not in drop)


def _reset(request: web.BaseRequest) -> None:
    """Abort the caller's connection with a TCP reset (SO_LINGER 0): it reads ECONNRESET."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _on_headers_sent(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestHeadersSentParams
) -> None:
    ctx = context.trace_request_ctx
    if isinstance(ctx, SimpleNamespace):
        ctx.sent()


def _ssl_context(upstream_ca: Path | None) -> ssl.SSLContext | None:
    if upstream_ca is None:
        return None
    try:
        return ssl.create_default_context(cafile=str(upstream_ca))
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"--upstream-ca {upstream_ca}: not a readable PEM certificate file ({exc})") from None


@asynccontextmanager
async def open_proxy(
    upstream: str,
    *,
    out: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    rules: RuleSet | Path | None = None,
    upstream_ca: Path | None = None,
    secrets: Iterable[str] = (),
    seed: int = 1,
    drain_s: float = 5.0,
    extra_header: Mapping[str, Any] | None = None,
) -> AsyncIterator[Proxy]:
    """Serve the proxy on `host:port` (0: a free port) in front of `upstream`, recording into `out`; yield it.

    Args:
        upstream: the base URL every request goes to (http or https).
        out: the folder of `exchanges.jsonl` (created; must not hold one already).
        host: the address to listen on (loopback unless told otherwise).
        port: the port (0: any free one; `proxy.url` says which).
        rules: the rules, or their YAML file.
        upstream_ca: a PEM file of the certificate authority that signed an https upstream's certificate.
        secrets: values never to write, wherever they appear (credential headers are hidden anyway).
        seed: seeds every rule's draws.
        drain_s: on exit, how long the exchanges in flight may take to finish before they are cut.
        extra_header: more fields for the record's header line.

    Raises:
        UsageError: a bad upstream, rules file, CA file or `out`.
        HarnessConnectionError: the address cannot be listened on.
    """
    base = check_upstream(upstream)
    ruleset = load_rules(rules) if isinstance(rules, Path) else rules or RuleSet()
    redactor = Redactor(secrets)
    context = _ssl_context(upstream_ca)
    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(_on_headers_sent)
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=1000, ssl=context if context is not None else True),
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        timeout=aiohttp.ClientTimeout(total=None, connect=30.0, sock_read=300.0),
        trace_configs=[trace],
    )
    runner: web.ServerRunner | None = None
    log: ExchangeLog | None = None
    proxy: Proxy | None = None
    try:
        sock = _listen(host, port)
        bound = sock.getsockname()
        shown = f"[{bound[0]}]" if ":" in str(bound[0]) else str(bound[0])
        listen = f"http://{shown}:{bound[1]}"
        started = (time.monotonic(), time.time())
        header = {
            "upstream": str(base),
            "listen": listen,
            "started_wall": round(started[1], 6),
            "rules": None if ruleset.path is None else str(ruleset.path),
            "seed": seed,
            **(extra_header or {}),
        }
        try:
            log = ExchangeLog.create(out, header)
        except BaseException:
            sock.close()
            raise
        proxy = Proxy(
            base,
            log=log,
            rules=ruleset,
            redactor=redactor,
            seed=seed,
            session=session,
            ssl_context=context,
            started=started,
        )
        proxy.url = listen
        runner = web.ServerRunner(web.Server(proxy.handle, access_log=None), handle_signals=False)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        yield proxy
    finally:
        if runner is not None:
            for site in list(runner.sites):
                await site.stop()  # stop accepting first
            if proxy is not None:
                await proxy.drain(drain_s)
            await runner.cleanup()
        await session.close()
        if log is not None:
            log.close()


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on `host:port`.

    Raises:
        HarnessConnectionError: the address cannot be listened on (taken, not this machine's).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise HarnessConnectionError(f"racelab proxy: cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(1024)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise HarnessConnectionError(f"racelab proxy: cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock
