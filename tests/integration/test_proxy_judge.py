"""`racelab proxy judge`, end to end: the hook-driven Node.js example calls the stand-in platform through the real
proxy, and the proxy's record is judged against the stand-in's public API.

Every race here is built the same way (`race()`): the stand-in (`racelab serve --no-control --orders FILE`, the
`fixed` profile, credentials required) holds two `ready-for-handling` orders; the proxy stands in front of it; the
example (`scenarios/examples/node/hook-invoicer.mjs`, naive) calls the proxy; the hook is configured through the
proxy's public route; the test starts handling each order through the public API and sends each order's Change
through the proxy at once, where a `delay: 600ms` rule holds it: the Change reaches the platform 600 ms after
handling began, as `scenarios/examples/node-hook.yaml`'s Change does (and the record shows the delay, which is the
`delay` rule's test: recorded times, no wall sleeps).

- `snapshot`: the Change reads a replica 600 ms behind, in which the order is not invoiced yet, and is applied after
  the invoice: `proxy judge` finds both orders over-invoiced (exit 1).
- `serializable`: the Change sees the invoice and is refused: nothing found (exit 0).
- `snapshot` with a `hold_until` rule that keeps the invoice until 200 ms after the Change was answered: the Change is
  applied first, and the invoice of the order's old value is refused: nothing found, the outcome turned.

Each test greps every file the proxy and the judge wrote for the credentials and the configured secret. Waits are on
conditions with deadlines (the example's log lines, the order's state through the public API), never sleeps.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiohttp
import pytest
import yaml

from harness.drive.embedded import stop_process
from harness.errors import HarnessConnectionError, UsageError
from harness.integrations.bodies import change_body
from harness.model.codec import read_runs
from harness.model.records import CheckResult, RunRecord, Step, Verdict
from harness.model.summary import Summary
from harness.proxy.judge import judge_folder, read_exchanges
from harness.proxy.server import open_proxy
from tests.support.processes import Running, running_process
from tests.support.standin import standin, standin_orders

ROOT = Path(__file__).resolve().parents[2]
HOOK_EXAMPLE = ROOT / "scenarios" / "examples" / "node" / "hook-invoicer.mjs"
NODE = os.environ.get("NODE") or shutil.which("node") or "/usr/bin/node"
NODE_FOUND = Path(NODE).is_file()
RACELAB = Path(sys.executable).with_name("racelab")  # the console script, as CI runs it

APP_KEY = "vtexappkey-h4judge-KEY7781"
APP_TOKEN = "H4JUDGETOKEN-6b1d0c2f9e8a7b6c5d4e"
HOOK_SECRET = "hook-secret-h4judge-51c0ffee"
SECRETS = (APP_KEY, APP_TOKEN, HOOK_SECRET)
CREDENTIALS = {"X-VTEX-API-AppKey": APP_KEY, "X-VTEX-API-AppToken": APP_TOKEN}
CLI_CREDENTIALS = {"RACELAB_APP_KEY": APP_KEY, "RACELAB_APP_TOKEN": APP_TOKEN}
AUTH = {"auth": {"orders_app_key": APP_KEY, "orders_app_token": APP_TOKEN}}

VALUE, VALUE_AFTER_CHANGE = 12480, 10980
ORDER = "/api/oms/pvt/orders/{}"
CHANGE_AT = {"match": {"route": "create-change"}, "delay": "600ms"}
HOLD_INVOICE = {
    "match": {"route": "invoice-notification"},
    "hold_until": {"route": "create-change", "phase": "answered", "offset": "200ms", "timeout": "5s"},
}

pytestmark = pytest.mark.slow  # the fixed profile: a few seconds of real time per race


# -- the race ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Race:
    """What one race left behind: the proxy's folder (its record), the judge's folder, the judge's exit code, summary
    and runs (as it wrote them), what it printed, the record's exchanges as JSON lines, the example's log lines."""

    record: Path
    out: Path
    exit_code: int
    summary: Summary
    judged: list[tuple[RunRecord, tuple[CheckResult, ...]]]
    printed: str
    exchanges: list[dict[str, Any]]
    example: list[str]

    def of(self, order_id: str, route: str) -> list[dict[str, Any]]:
        return [e for e in self.exchanges if e["order_id"] == order_id and e["route"] == route]

    def verdicts(self, checker: str) -> dict[str, Verdict]:
        return {
            record.spec.order_id: next(r.verdict for r in results if r.checker == checker)
            for record, results in self.judged
        }


Settled = Callable[[Mapping[str, Any]], bool]


async def _order(session: aiohttp.ClientSession, url: str, order_id: str) -> Mapping[str, Any]:
    async with session.get(url + ORDER.format(order_id)) as resp:
        assert resp.status == 200, await resp.text()
        body = await resp.json()
    assert isinstance(body, dict)
    return body


async def _wait(check: Callable[[], Awaitable[bool]], *, what: str, timeout_s: float = 20.0) -> None:
    """Wait until `check()` holds: polled (the platform tells no one), bounded by `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        await asyncio.sleep(0.05)


def _invoices(order: Mapping[str, Any]) -> list[int]:
    return [int(p["invoiceValue"]) for p in (order.get("packageAttachment") or {}).get("packages") or ()]


async def race(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    prefix: str,
    consistency: Literal["snapshot", "serializable"],
    rules: list[dict[str, Any]],
    settled: Settled,
    cli: bool,
) -> Race:
    """Run the race (see the module docstring) until every order is `settled`, then judge the proxy's record: with
    the real `racelab proxy judge` (`cli`; its credentials from the environment) or `judge_folder` in process."""
    assert NODE_FOUND, f"no Node.js at {NODE}: `make test` installs Debian's nodejs"
    specs = standin_orders(2, prefix=prefix)
    orders = [o["orderId"] for o in specs]
    record, out = tmp_path / "proxy", tmp_path / "judged"
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump({"rules": rules}, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("VTEX_APP_KEY", APP_KEY)  # the example's credentials: it sends them through the proxy
    monkeypatch.setenv("VTEX_APP_TOKEN", APP_TOKEN)
    async with (
        standin(specs, consistency=consistency, profile="fixed", overrides=AUTH) as url,
        aiohttp.ClientSession(headers=CREDENTIALS) as session,
    ):
        async with open_proxy(url, out=record, rules=rules_file, secrets=[HOOK_SECRET]) as proxy:
            argv = [NODE, str(HOOK_EXAMPLE), "--orders-url", proxy.url, "--port", "0", "--mode", "naive"]
            async with running_process(argv, ready="listening on ", name="hook-invoicer.mjs") as example:
                await _configure_hook(session, proxy.url, example)
                for order_id in orders:  # the platform's workflow, not the integration's: straight to the stand-in
                    async with session.post(url + ORDER.format(order_id) + "/start-handling") as resp:
                        assert resp.status < 300, await resp.text()
                await asyncio.gather(*(_change(session, proxy.url, order_id) for order_id in orders))
                for order_id in orders:
                    await example.wait_for_line(f"POST invoice {order_id} ", timeout_s=20.0)
                for order_id in orders:

                    async def done(order_id: str = order_id) -> bool:
                        return settled(await _order(session, url, order_id))

                    await _wait(done, what=f"order {order_id} settled")
                lines = list(example.lines)
        if cli:
            argv = ["proxy", "judge", str(record), "--upstream", url, "--out", str(out), "--settle-timeout", "15"]
            exit_code, printed = await _racelab(*argv, env=CLI_CREDENTIALS)
        else:
            outcome = await judge_folder(
                record, upstream=url, out=out, settle_s=15.0, app_key=APP_KEY, app_token=APP_TOKEN
            )
            exit_code, printed = outcome.exit_code, ""
    exchanges = [json.loads(line) for line in (record / "exchanges.jsonl").read_text().splitlines()[1:]]
    found = _credentials_in(tmp_path)
    assert not found, f"credentials written: {found}"
    summary = Summary.from_json(json.loads((out / "summary.json").read_text()))
    return Race(record, out, exit_code, summary, list(read_runs(out)), printed, exchanges, lines)


async def _racelab(*args: str, env: Mapping[str, str] | None = None) -> tuple[int, str]:
    """Run the real `racelab` (the console script, as CI runs it); its exit code and what it printed."""
    proc = await asyncio.create_subprocess_exec(
        str(RACELAB),
        *args,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        stdout, _ = await asyncio.wait_for(proc.communicate(), 120)
    finally:
        await stop_process(proc)
    assert proc.returncode is not None
    return proc.returncode, stdout.decode()


async def _configure_hook(session: aiohttp.ClientSession, proxy: str, example: Running) -> None:
    """Point the stand-in's order hook (status `handling`) at the example, through the proxy's public route, with a
    secret header the platform sends with every hook (configured as a secret: the record must hide it)."""
    hook = example.ready.removeprefix("listening on ").strip()
    body = {
        "filter": {"type": "FromWorkflow", "status": ["handling"]},
        "hook": {"url": hook, "headers": {"X-Hook-Secret": HOOK_SECRET}},
    }
    async with session.post(proxy + "/api/orders/hook/config", json=body) as resp:
        assert resp.status == 200, await resp.text()
    await example.wait_for_line("ping: answered 200")


async def _change(session: aiohttp.ClientSession, proxy: str, order_id: str) -> None:
    """The partial cancellation of `node-hook.yaml` (remove sku-2), sent through the proxy: its rule delays it."""
    body = change_body(Step(600.0, "change", {"remove": [{"id": "sku-2", "quantity": 1}]}))
    async with session.patch(f"{proxy}/api/order-system/orders/{order_id}/changes", json=body) as resp:
        assert resp.status < 300, await resp.text()


def _credentials_in(root: Path) -> list[str]:
    """Every (file, secret) where a secret appears in a file under `root`: the proxy's record, the judge's results,
    the rules; everything racelab wrote."""
    found = []
    files = [p for p in root.rglob("*") if p.is_file()]
    assert any(p.name == "exchanges.jsonl" for p in files)
    for path in files:
        data = path.read_bytes()
        found += [f"{path.relative_to(root)}: {secret}" for secret in SECRETS if secret.encode() in data]
    return found


def _times(exchange: Mapping[str, Any]) -> Mapping[str, float]:
    return exchange["times"]  # type: ignore[no-any-return]


def _assert_the_change_was_delayed(r: Race, order_id: str) -> None:
    """The `delay` rule: forwarded 600 ms after it arrived, by the record's times (and so in the judged run)."""
    (change,) = r.of(order_id, "create-change")
    times = _times(change)
    assert change["rule"]["action"] == "delay", change["rule"]
    assert times["forwarded"] - times["arrived"] >= 0.6
    assert times["arrived"] <= times["forwarded"] <= times["upstream_answered"] <= times["answered"]
    (read,) = r.of(order_id, "get-order")  # no rule: forwarded at once
    assert read["rule"] is None
    assert _times(read)["forwarded"] - _times(read)["arrived"] < 0.3


# -- the races --------------------------------------------------------------------------------------------------------


def _over_invoiced(order: Mapping[str, Any]) -> bool:
    return order["value"] == VALUE_AFTER_CHANGE and _invoices(order) == [VALUE]


async def test_judge_finds_the_over_invoices_against_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = await race(
        tmp_path,
        monkeypatch,
        prefix="snap",
        consistency="snapshot",
        rules=[CHANGE_AT],
        settled=_over_invoiced,
        cli=True,
    )
    assert r.exit_code == 1, r.printed
    assert (r.summary.runs, r.summary.invalid, r.summary.unknown) == (2, 2, 0)
    assert r.verdicts("no-over-invoice") == {"snap-0": Verdict.INVALID, "snap-1": Verdict.INVALID}
    assert "judged 2 orders through the proxy" in r.printed
    assert "(1 exchanges about no one order, not judged)" in r.printed  # the hook's configuration
    assert "snap-0: no-over-invoice invalid: Order snap-0 is invoiced 124.80" in r.printed
    for order_id in ("snap-0", "snap-1"):
        _assert_the_change_was_delayed(r, order_id)
        (invoice,) = r.of(order_id, "invoice-notification")
        assert (invoice["status"], invoice["outcome"]) == (200, "ok")
        assert invoice["request"]["headers"]["X-VTEX-API-AppToken"] == "[redacted]"
    # The results: the files `racelab run` writes, each order a run whose history is its exchanges, by arrival.
    assert {p.name for p in r.out.iterdir()} >= {"summary.json", "runs.jsonl", "junit.xml", "report.html"}
    assert not (r.out.parent / "latest").exists()  # a proxy's folder points no `latest` at itself
    runs = {record.spec.order_id: record for record, _ in r.judged}
    history = runs["snap-0"].history
    assert sorted(op.f for op in history) == ["change", "get_order", "invoice"]
    assert [op.t_invoke for op in history] == sorted(op.t_invoke for op in history)
    change = next(op for op in history if op.f == "change")
    times = change.request["proxy"]["times"]
    assert times["forwarded"] - times["arrived"] >= 600.0  # ms from the order's first exchange
    assert (change.t_invoke, change.t_complete) == (times["arrived"], times["answered"])
    assert runs["snap-0"].final.order["value"] == VALUE_AFTER_CHANGE
    assert (r.summary.mode, r.summary.passed) == ("proxy", False)
    assert r.summary.command is not None
    assert list(r.summary.command)[:4] == ["racelab", "proxy", "judge", str(r.record)]  # judges it again
    assert 'failures="1"' in (r.out / "junit.xml").read_text()
    report = (r.out / "report.html").read_text()
    assert "arrived at the proxy" in report  # the four times, per exchange
    assert "forwarded upstream" in report
    assert "held at the proxy" in report  # the chart's legend: the Change's 600 ms at the proxy
    assert "judged again" in report
    assert "racelab replay" not in report


async def test_judge_finds_nothing_against_serializable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def invoiced(order: Mapping[str, Any]) -> bool:  # the workflow's invoiced-check ran (2 s after the invoice)
        return bool(order["status"] == "invoiced")

    r = await race(
        tmp_path, monkeypatch, prefix="ser", consistency="serializable", rules=[CHANGE_AT], settled=invoiced, cli=True
    )
    assert r.exit_code == 0, r.printed
    assert (r.summary.runs, r.summary.invalid, r.summary.unknown, r.summary.passed) == (2, 0, 0, True)
    for order_id in ("ser-0", "ser-1"):
        _assert_the_change_was_delayed(r, order_id)
    for record, _ in r.judged:
        assert (record.final.value, record.final.invoiced) == (VALUE, VALUE)


async def test_holding_the_invoice_until_after_the_change_turns_the_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against `snapshot`, where the naive example over-invoices: the invoice held until 200 ms after the Change was
    answered reaches the platform after the Change committed, and the invoice of the old order is refused."""

    def changed(order: Mapping[str, Any]) -> bool:
        return bool(order["value"] == VALUE_AFTER_CHANGE)

    rules: list[dict[str, Any]] = [CHANGE_AT, HOLD_INVOICE]
    r = await race(
        tmp_path, monkeypatch, prefix="held", consistency="snapshot", rules=rules, settled=changed, cli=False
    )
    assert r.exit_code == 0
    assert (r.summary.runs, r.summary.invalid, r.summary.unknown) == (2, 0, 0)
    assert r.verdicts("no-over-invoice") == {"held-0": Verdict.VALID, "held-1": Verdict.VALID}
    for order_id in ("held-0", "held-1"):
        (invoice,) = r.of(order_id, "invoice-notification")
        (change,) = r.of(order_id, "create-change")
        assert invoice["rule"]["action"] == "hold_until", invoice["rule"]
        assert _times(invoice)["arrived"] < _times(change)["forwarded"]  # it came first, and was held
        assert _times(invoice)["forwarded"] >= _times(change)["answered"] + 0.2
        assert 400 <= invoice["status"] < 500
        assert invoice["outcome"] == "fail"
    for record, _ in r.judged:
        assert record.final.invoices == ()
        (invoice_op,) = record.ops("invoice")
        held = invoice_op.request["proxy"]["times"]
        assert held["forwarded"] - held["arrived"] >= 200.0


# -- bad input and an unreachable upstream ----------------------------------------------------------------------------

HEADER = {"proxy": {"version": 1, "upstream": "http://127.0.0.1:9", "listen": "http://127.0.0.1:8", "seed": 1}}


def _exchange(**fields: Any) -> dict[str, Any]:
    line = {
        "id": 0,
        "order_id": "o-1",
        "route": "get-order",
        "method": "GET",
        "path": "/api/oms/pvt/orders/o-1",
        "query": "",
        "times": {"arrived": 1.0, "forwarded": 1.3, "upstream_answered": 1.35, "answered": 1.36},
        "status": 200,
        "outcome": "ok",
        "rule": {"index": 0, "action": "delay", "detail": "300 ms"},
        "fault": None,
        "error": None,
        "request": {"headers": {}, "body": None},
        "response": {"headers": {}, "body": {"orderId": "o-1", "value": 100, "status": "handling"}},
    }
    return {**line, **fields}


def _write(folder: Path, *lines: Any, tail: bytes = b"") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(line) + "\n" for line in lines)
    (folder / "exchanges.jsonl").write_bytes(text.encode() + tail)
    return folder


async def test_no_record_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"exchanges\.jsonl: no such file"):
        await judge_folder(tmp_path, upstream="http://127.0.0.1:9")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (_exchange(id="seven"), r"exchanges\.jsonl:2: id: expected int"),
        (_exchange(outcome="maybe"), r"exchanges\.jsonl:2: outcome: expected one of ok, fail, info"),
        (_exchange(times={"forwarded": 1.0}), r"exchanges\.jsonl:2: times\.arrived: expected seconds"),
        (_exchange(status=99), r"exchanges\.jsonl:2: status: expected an HTTP status"),
        ([1, 2], r"exchanges\.jsonl:2: \(line\): expected a JSON object"),
    ],
)
def test_a_damaged_exchange_is_named_by_line_and_field(tmp_path: Path, line: Any, expected: str) -> None:
    with pytest.raises(UsageError, match=expected):
        read_exchanges(_write(tmp_path, HEADER, line))


def test_the_first_line_must_be_the_proxys(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"exchanges\.jsonl:1: proxy: missing"):
        read_exchanges(_write(tmp_path, _exchange()))
    with pytest.raises(UsageError, match=r"exchanges\.jsonl:1: proxy\.version: expected 1, got 2"):
        read_exchanges(_write(tmp_path, {"proxy": {"version": 2}}))


def test_a_torn_last_line_is_skipped_and_a_damaged_middle_line_is_not(tmp_path: Path) -> None:
    record = read_exchanges(_write(tmp_path, HEADER, _exchange(), tail=b'{"id": 1, "order_'))
    assert (len(record.exchanges), record.torn) == (1, True)
    (tmp_path / "exchanges.jsonl").write_bytes(
        (json.dumps(HEADER) + "\n{not json\n" + json.dumps(_exchange()) + "\n").encode()
    )
    with pytest.raises(UsageError, match=r"exchanges\.jsonl:2: not a JSON line"):
        read_exchanges(tmp_path)


async def test_a_record_without_an_order_is_bad_input(tmp_path: Path) -> None:
    folder = _write(tmp_path, HEADER, _exchange(order_id=None, route="hook-configuration"))
    with pytest.raises(UsageError, match="no exchange names an order"):
        await judge_folder(folder, upstream="http://127.0.0.1:9")


async def test_an_upstream_that_cannot_be_reached(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = _write(tmp_path / "rec", HEADER, _exchange())
    with pytest.raises(HarnessConnectionError, match=f"cannot reach the upstream http://127.0.0.1:{port}"):
        await judge_folder(folder, upstream=f"http://127.0.0.1:{port}", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing judged, nothing written


async def test_the_command_exits_2_on_bad_input_and_3_when_the_upstream_cannot_be_reached(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    upstream = f"http://127.0.0.1:{port}"
    code, printed = await _racelab("proxy", "judge", str(tmp_path / "nothing"), "--upstream", upstream)
    assert code == 2, printed
    assert "nothing: no such folder; give the proxy's --out folder" in printed
    damaged = _write(tmp_path / "damaged", HEADER, _exchange(outcome="maybe"))
    code, printed = await _racelab("proxy", "judge", str(damaged), "--upstream", upstream)
    assert code == 2, printed
    assert "exchanges.jsonl:2: outcome: expected one of ok, fail, info" in printed
    code, printed = await _racelab("proxy", "judge", str(damaged), "--upstream", "http://key:s3cret@127.0.0.1:9")
    assert code == 2, printed
    assert "give no credentials in the URL" in printed
    record = _write(tmp_path / "record", HEADER, _exchange())
    code, printed = await _racelab("proxy", "judge", str(record), "--upstream", upstream)
    assert code == 3, printed
    assert f"cannot reach the upstream {upstream}" in printed
    assert not (record / "summary.json").exists()
