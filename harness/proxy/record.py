"""The proxy's exchange record, `DIR/exchanges.jsonl`, and the redaction of everything written to it.

Owns `Redactor` (credential headers and configured secrets -> `"[redacted]"` in headers, bodies and queries),
`Exchange` (one request and its answer as they happen, with the four times), `ExchangeLog` (the writer: a header
line, then one line per exchange when it ends, flushed) and `read_exchanges` (the reader; a torn last line is
ignored). The format, which `racelab proxy judge` reads:

    {"proxy": {"version": 1, "upstream": URL, "listen": URL, "started_wall": <epoch s>, "rules": PATH|null, "seed": N}}
    {"id": 17, "order_id": "o-1", "route": "invoice-notification", "method": "POST", "path": "...", "query": "",
     "times": {"arrived": 1.23, "forwarded": 1.53, "upstream_answered": 1.61, "answered": 1.611}, "status": 200,
     "outcome": "ok", "rule": {"index": 0, "action": "delay", "detail": "300 ms"}, "fault": null, "error": null,
     "request": {"headers": {...}, "body": ...}, "response": {"headers": {...}, "body": ...}}

Times are seconds on the proxy's monotonic clock since it started (`started_wall` is that instant's wall clock).
`status`, `response` and `outcome` are what the caller got (the harness's history: `ok` a 2xx, `fail` surely did
nothing, `info` unknown); what the upstream answered instead of an injected fault is said in `error`.

Imports: stdlib, `harness.errors`, `simulator.contract` (the header names).

    log = ExchangeLog.create(Path("out"), header)
    log.write(exchange)
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

from harness.errors import UsageError
from simulator.contract import CONTROL_TOKEN_HEADER

__all__ = [
    "CREDENTIAL_HEADERS",
    "EXCHANGES",
    "MIN_SECRET",
    "REDACTED",
    "Exchange",
    "ExchangeLog",
    "Outcome",
    "Redactor",
    "outcome_of",
    "read_exchanges",
]

EXCHANGES = "exchanges.jsonl"
REDACTED = "[redacted]"
VERSION = 1
MIN_SECRET = 4
"""The shortest value replaced wherever it appears: a shorter one would blot out the record (every `a`) and hides
nothing anyway. A credential header's value is replaced whole whatever its length."""
MAX_BODY = 256 * 1024
"""Bodies longer than this are recorded as a sentence (`<300000 bytes>`), not in full."""

CREDENTIAL_HEADERS = frozenset(
    h.lower()
    for h in (
        "X-VTEX-API-AppKey",
        "X-VTEX-API-AppToken",
        "VtexIdclientAutCookie",
        "Authorization",
        "Proxy-Authorization",
        "X-Subscription-Key",
        "Ocp-Apim-Subscription-Key",
        CONTROL_TOKEN_HEADER,
        "Cookie",
        "Set-Cookie",
    )
)
"""Headers whose values are credentials: never written (lower case). `Cookie` may carry `VtexIdclientAutCookie`."""

_SECRET_KEY = re.compile(r"(?i)(token|secret|password|passwd|apikey|app-?key|authorization|cookie|subscription)")
"""A JSON key or query parameter whose value is a credential by its name (`appToken`, `password`, ...)."""

_AFTER_KEY = re.compile(r"\s*:\s*[^\s\[{n]")
"""What follows a JSON key whose value is a scalar (not an object, an array or null)."""


_SECRET_WORDS = (
    "token",
    "secret",
    "password",
    "passwd",
    "apikey",
    "appkey",
    "app-key",
    "authorization",
    "cookie",
    "subscription",
)
"""`_SECRET_KEY`'s words, for `str.find` over a lower-cased text (the case-insensitive pattern over a 7.5 KB order
document took ~0.5 ms, `str.find` ~0.04 ms)."""


def _credential_scalar(text: str) -> bool:
    """Whether a JSON text has a credential-like key (`_SECRET_KEY`) with a scalar value: what the walk replaces.
    A key like `subscriptionData` or `authorizationPolicyData` (objects; the order document has both) is walked
    into, never replaced whole, so it alone does not need the walk. Looks only around the few places where a word
    of the key pattern occurs (a regular expression over the whole text cost more than the rest of an exchange)."""
    low = text.lower()
    for word in _SECRET_WORDS:
        at = low.find(word)
        while at >= 0:
            opening, closing = text.rfind('"', 0, at), text.find('"', at + len(word))
            if opening >= 0 and closing >= 0:
                if "\\" in text[opening:closing]:
                    return True  # an escaped quote or character: let the walk decide
                if _AFTER_KEY.match(text, closing + 1):
                    return True
            at = low.find(word, at + 1)
    return False


Outcome = Literal["ok", "fail", "info"]


def outcome_of(status: int | None, *, forwarded: bool) -> Outcome:
    """The history's word for what the caller got: `ok` a 2xx; `fail` a 4xx, or no answer that was never forwarded
    (it surely did nothing); `info` anything else (a 5xx, a cut connection after forwarding: unknown)."""
    if status is not None and 200 <= status < 300:
        return "ok"
    if (status is not None and 400 <= status < 500) or not forwarded:
        return "fail"
    return "info"


class Redactor:
    """Replaces credentials with `"[redacted]"`: the values of credential headers (learnt from each request, and
    then hidden wherever else they appear), configured secrets, and values under credential-like names.

        r = Redactor(["s3cret-value"])
        r.headers({"X-VTEX-API-AppToken": "tok-123"})   # {"X-VTEX-API-AppToken": "[redacted]"}
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for s in secrets:
            if len(s) < MIN_SECRET:
                raise UsageError(f"--secret: a secret must be at least {MIN_SECRET} characters long (got {len(s)})")
            self._secrets.add(s)
        self._pattern: re.Pattern[str] | None = None
        self._compile()

    def _compile(self) -> None:
        ordered = sorted(self._secrets, key=len, reverse=True)  # the longest first: one secret may contain another
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def learn(self, headers: Iterable[tuple[str, str]]) -> None:
        """Remember the credential values these headers carry, to hide them in bodies and queries too."""
        self._add(
            part
            for name, value in headers
            if name.lower() in CREDENTIAL_HEADERS
            for part in _credential_parts(name, value)
        )

    def _add(self, values: Iterable[str]) -> None:
        new = {v for v in values if len(v) >= MIN_SECRET} - self._secrets
        if new:
            self._secrets |= new
            self._compile()

    def text(self, value: str) -> str:
        return value if self._pattern is None else self._pattern.sub(REDACTED, value)

    def headers(self, headers: Iterable[tuple[str, str]]) -> dict[str, str]:
        """Headers as a mapping (a repeated header's values joined with `, `), credentials replaced."""
        out: dict[str, str] = {}
        for name, value in headers:
            shown = REDACTED if _is_credential_header(name) else self.text(value)
            out[name] = f"{out[name]}, {shown}" if name in out else shown
        return out

    def query(self, query: str) -> str:
        if not query:
            return ""
        pairs = parse_qsl(query, keep_blank_values=True)
        if not pairs:
            return self.text(query)
        if not any(_SECRET_KEY.search(k) for k, _ in pairs) and all(self.text(v) == v for _, v in pairs):
            return self.text(query)  # nothing to hide: as sent
        return urlencode([(k, REDACTED if _SECRET_KEY.search(k) else self.text(v)) for k, v in pairs], safe="[]:/,*")

    def json(self, value: Any) -> Any:
        """A JSON value with every string redacted, and the values of credential-like keys (and of any `headers`
        mapping, e.g. a hook's) replaced whole."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for k, v in value.items():
                key = self.text(str(k))
                # A credential by its name, or a header a hook is to send: hidden here, and learnt so that it is
                # hidden wherever it appears next (an answer that echoes it).
                if _SECRET_KEY.search(str(k)) and v is not None and not isinstance(v, dict | list):
                    self._add([v] if isinstance(v, str) else [])
                    out[key] = REDACTED
                elif str(k).lower() == "headers" and isinstance(v, dict):
                    self._add(str(hv) for hv in v.values() if not isinstance(hv, dict | list))
                    out[key] = {self.text(str(hk)): REDACTED for hk in v}
                else:
                    out[key] = self.json(v)
            return out
        return value

    def body(self, raw: bytes, content_type: str | None, content_encoding: str | None = None) -> Any:
        """A body as recorded: its JSON (redacted) when it is JSON, its text (redacted) when it is text, else a
        sentence saying what it was; None when empty."""
        if not raw:
            return None
        if content_encoding and content_encoding.lower() != "identity":
            return f"<{len(raw)} bytes, {content_encoding}>"
        if len(raw) > MAX_BODY:
            return f"<{len(raw)} bytes>"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return f"<{len(raw)} bytes, {content_type or 'binary'}>"
        if content_type is None or "json" in content_type or text.lstrip()[:1] in ("{", "["):
            try:
                value = json.loads(text)
            except ValueError:
                pass
            else:
                # The walk costs more than the rest of an exchange: only when there may be something to hide.
                # A key written with escapes (`\u0074oken`) is seen only by the walk: then it walks.
                clean = (
                    (self._pattern is None or self._pattern.search(text) is None)
                    and not _credential_scalar(text)
                    and "\\u" not in text
                    and '"headers"' not in text.lower()
                )
                return value if clean else self.json(value)
        return self.text(text)


@functools.lru_cache(maxsize=1024)
def _is_credential_header(name: str) -> bool:
    return name.lower() in CREDENTIAL_HEADERS or _SECRET_KEY.search(name) is not None


def _credential_parts(name: str, value: str) -> list[str]:
    """The secret parts of a credential header's value: the whole, the token after an `Authorization` scheme, each
    cookie's value."""
    parts = [value.strip()]
    lower = name.lower()
    if lower in ("authorization", "proxy-authorization") and " " in value.strip():
        parts.append(value.strip().split(None, 1)[1])
    if lower in ("cookie", "set-cookie"):
        for item in value.split(";"):
            if "=" in item:
                parts.append(item.split("=", 1)[1].strip())
    return parts


@dataclass(slots=True)
class Exchange:
    """One exchange as it happens; `to_json` is its line. Times are seconds since the proxy started."""

    id: int
    method: str
    path: str
    query: str
    arrived: float
    order_id: str | None = None
    route: str | None = None
    forwarded: float | None = None
    upstream_answered: float | None = None
    answered: float | None = None
    status: int | None = None
    rule: dict[str, Any] | None = None
    fault: str | None = None
    error: str | None = None
    request: dict[str, Any] = field(default_factory=dict)
    response: dict[str, Any] | None = None

    @property
    def outcome(self) -> Outcome:
        # An injected status (a fault before forwarding) surely did nothing, whatever its number.
        if self.forwarded is None and self.status is not None and self.status >= 500:
            return "fail"
        if self.fault is not None and self.forwarded is not None:
            return "info"
        return outcome_of(self.status, forwarded=self.forwarded is not None)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "order_id": self.order_id,
            "route": self.route,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "times": {
                "arrived": _t(self.arrived),
                "forwarded": _t(self.forwarded),
                "upstream_answered": _t(self.upstream_answered),
                "answered": _t(self.answered),
            },
            "status": self.status,
            "outcome": self.outcome,
            "rule": self.rule,
            "fault": self.fault,
            "error": self.error,
            "request": self.request,
            "response": self.response,
        }


def _t(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


class ExchangeLog:
    """The writer of `DIR/exchanges.jsonl`: the header line at creation, then one line per exchange, each flushed
    as it is written (a crash loses at most a torn last line, which readers ignore)."""

    def __init__(self, path: Path, header: Mapping[str, Any]) -> None:
        self.path = path
        self._file = path.open("x", encoding="utf-8")
        self._line({"proxy": {"version": VERSION, **header}})

    @classmethod
    def create(cls, folder: Path, header: Mapping[str, Any]) -> ExchangeLog:
        """Create `folder` (and its parents) and a new `exchanges.jsonl` in it.

        Raises:
            UsageError: `folder` is a file, or already holds an `exchanges.jsonl` (a record is never overwritten).
        """
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"--out {folder}: is a file; give a folder for exchanges.jsonl")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / EXCHANGES
        try:
            return cls(path, header)
        except FileExistsError:
            raise UsageError(
                f"--out {folder}: already holds {EXCHANGES}; give a new folder (a record is never overwritten)"
            ) from None

    def write(self, exchange: Exchange) -> None:
        self._line(exchange.to_json())

    def _line(self, value: Mapping[str, Any]) -> None:
        self._file.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


def read_exchanges(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and the exchanges of an `exchanges.jsonl` (or of the folder that holds one), in the order they
    ended. A torn last line (no newline, not JSON) is ignored.

    Raises:
        UsageError: no such file, no header line, or a line (other than a torn last one) that is not JSON.
    """
    if path.is_dir():
        path = path / EXCHANGES
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    lines = data.split(b"\n")
    torn = lines.pop() if lines else b""  # after the last newline: empty, or a torn line
    header: dict[str, Any] | None = None
    exchanges: list[dict[str, Any]] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            raise UsageError(f"{path}:{number}: not a JSON line") from None
        if number == 1:
            if not isinstance(value, dict) or not isinstance(value.get("proxy"), dict):
                raise UsageError(f'{path}:1: expected the proxy\'s header line {{"proxy": {{...}}}}')
            header = value["proxy"]
        elif isinstance(value, dict):
            exchanges.append(value)
        else:
            raise UsageError(f"{path}:{number}: expected an exchange (a JSON object)")
    if torn.strip():
        try:
            value = json.loads(torn)
        except ValueError:
            value = None  # torn: the exchange did not finish being written
        if isinstance(value, dict):
            if header is None and isinstance(value.get("proxy"), dict):
                header = value["proxy"]
            elif header is not None:
                exchanges.append(value)
    if header is None:
        raise UsageError(f"{path}: empty; expected the proxy's header line first")
    return header, exchanges
