"""Control-free external runs (`racelab run --mode external --orders-url URL --orders-from FILE`) against the
stand-in platform (`racelab serve --no-control`): the over-invoice scenario reproduces against `snapshot` and not
against `serializable` (whose canary gate then fails, exit 1); a run whose order is not `ready-for-handling` is
reported and skipped; no request goes to `/_sim/`; every request racelab sends draws from one rate limiter; a 429 to
one of racelab's own requests is retried after its `Retry-After`, a 429 to the integration's call is recorded as it
came; credentials are never written; `--resume` never reuses an order.

A small reverse proxy (`Front`) stands between racelab and the stand-in: it records every request (time, method,
path, headers) and answers 429 to the requests a test picks, before forwarding the rest.

Imports: tests.support, harness, aiohttp.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from rich.console import Console

from harness.drive.public import PublicControl, RateLimiter, limited_connector, public_spec, retry_after
from harness.drive.runner import RunnerOptions, drive_control, run_specs
from harness.drive.suite import SuiteOptions, run_suite
from harness.drive.suite import _check_hooks as check_hooks
from harness.drive.transport import ControlClient, Endpoints
from harness.errors import UsageError
from harness.integrations import control
from harness.model.codec import run_lines
from harness.model.records import RunSpec, Step
from harness.scenarios import expand, load_scenario
from tests.support.cli import ROOT, only_result
from tests.support.standin import standin, standin_orders

pytestmark = pytest.mark.slow

KEY = "h2-app-key-5f1c0e77"
TOKEN = "h2-app-token-9b7d2a41"
SUBSCRIPTION = "h2-subscription-3c8e"
CONTROL_TOKEN = "h2-control-token-a0d4"
SECRETS = (KEY, TOKEN, SUBSCRIPTION, CONTROL_TOKEN)
AUTH = {"auth": {"orders_app_key": KEY, "orders_app_token": TOKEN}}
"""The stand-in refuses a request without the key pair (401): a run that passes sent them."""
CREDENTIALS = {"X-VTEX-API-AppKey": KEY, "X-VTEX-API-AppToken": TOKEN}
OVER_INVOICE = ROOT / "scenarios" / "over-invoice.yaml"
RUNS = 20
"""`over-invoice.yaml` with `--runs 1 --integration naive`: one run per offset, 50 to 1000 ms."""


@dataclass
class Seen:
    """One request as the front proxy saw it (`t`: when it arrived, on the loop's clock)."""

    t: float
    method: str
    path: str
    headers: dict[str, str]
    status: int


@dataclass
class Front:
    """A reverse proxy in front of the stand-in: records every request; `refuse(method, path)` says whether to
    answer it instead of forwarding it: 429 with that `Retry-After` (a string), or that status (a number)."""

    upstream: str
    refuse: Callable[[str, str], str | int | None] = lambda method, path: None
    seen: list[Seen] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request, session: aiohttp.ClientSession) -> web.StreamResponse:
        arrived = asyncio.get_running_loop().time()
        path = request.rel_url.path
        headers = dict(request.headers)
        refused = self.refuse(request.method, path)
        if isinstance(refused, int):
            self.seen.append(Seen(arrived, request.method, path, headers, refused))
            return web.json_response({"error": {"code": str(refused), "message": "not now"}}, status=refused)
        if refused is not None:
            self.seen.append(Seen(arrived, request.method, path, headers, 429))
            return web.json_response(
                {"error": {"code": "429", "message": "slow down"}}, status=429, headers={"Retry-After": refused}
            )
        body = await request.read()
        forward = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with session.request(
            request.method, self.upstream + str(request.rel_url), data=body or None, headers=forward
        ) as resp:
            data = await resp.read()
            status = resp.status
            ctype = resp.headers.get("Content-Type")
        self.seen.append(Seen(arrived, request.method, path, headers, status))
        response = web.Response(status=status, body=data)
        if ctype:
            response.headers["Content-Type"] = ctype
        return response

    def paths(self) -> Counter[str]:
        return Counter(f"{s.method} {s.path}" for s in self.seen)


@asynccontextmanager
async def front(upstream: str, refuse: Callable[[str, str], str | int | None] | None = None) -> AsyncIterator[Front]:
    proxy = Front(upstream) if refuse is None else Front(upstream, refuse)
    async with aiohttp.ClientSession() as session:

        async def handle(request: web.Request) -> web.StreamResponse:
            return await proxy.handle(request, session)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        proxy.url = str(server.make_url("")).rstrip("/")
        try:
            yield proxy
        finally:
            await server.close()


def ids_file(path: Path, ids: Sequence[str]) -> Path:
    path.write_text("# test orders of the staging account\n\n" + "\n".join(f"{i}  # one run" for i in ids) + "\n")
    return path


async def racelab_run(*args: str | Path, env: dict[str, str] | None = None, timeout_s: float = 150) -> tuple[int, str]:
    """The real `racelab run ...` as a child process (the test's loop keeps serving the front proxy meanwhile)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "harness.cli",
        "run",
        *map(str, args),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        start_new_session=True,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def assert_no_secret_written(root: Path) -> None:
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in data, f"{secret} written in {path}"


def assert_public_only(seen: Sequence[Seen]) -> None:
    assert seen
    assert [s.path for s in seen if s.path.startswith("/_sim")] == []
    for s in seen:
        names = {k.lower() for k in s.headers}
        assert "x-racelab-token" not in names, s
        assert "x-racelab-control" not in names, s


def sweep_env() -> dict[str, str]:
    return {
        "RACELAB_APP_TOKEN": TOKEN,
        "RACELAB_SUBSCRIPTION_KEY": SUBSCRIPTION,
        "RACELAB_CONTROL_TOKEN": CONTROL_TOKEN,
    }


async def test_naive_reproduces_against_snapshot_with_no_control_api_and_skips_an_order_in_another_status(
    tmp_path: Path,
) -> None:
    orders = standin_orders(RUNS + 1, prefix="oi")
    orders[3]["status"] = "handling"  # another run's order, say: never judged, never touched
    retried_at: dict[str, list[float]] = {}

    def refuse(method: str, path: str) -> str | None:
        if method == "POST" and path.endswith("/start-handling"):  # racelab's own: retried after Retry-After
            retried_at.setdefault(path, []).append(time.monotonic())
            return "1" if len(retried_at[path]) == 1 else None
        if method == "POST" and path == "/api/orders/pvt/document/oi-0/invoices":  # the integration's: recorded
            return "1"
        return None

    async with standin(orders, profile="fixed", overrides=AUTH) as url, front(url, refuse) as proxy:
        code, out = await racelab_run(
            OVER_INVOICE,
            "--mode",
            "external",
            "--orders-url",
            proxy.url,
            "--orders-from",
            ids_file(tmp_path / "orders.txt", [o["orderId"] for o in orders]),
            "--runs",
            "1",
            "--integration",
            "naive",
            "--app-key",
            KEY,
            "--out",
            tmp_path / "results",
            env=sweep_env(),
        )
    assert code == 0, out
    folder = only_result(tmp_path / "results")
    lines = {line["order_id"]: line for line in run_lines(folder)}
    assert sorted(lines) == sorted(f"oi-{i}" for i in range(RUNS))  # one order per run, in plan order; oi-20 spare
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["invalid"] > 0
    invalid = [line for line in lines.values() if line["verdict"] == "invalid"]
    assert invalid
    assert all(
        r["verdict"] == "invalid" for line in invalid for r in line["results"] if r["checker"] == "no-over-invoice"
    )
    # The order in another status: reported and skipped, never judged, never touched.
    skipped = lines["oi-3"]
    assert skipped["error"] == "skipped: order oi-3 is in status handling, not ready-for-handling"
    assert skipped["verdict"] == "unknown"
    assert skipped["history"] == []
    assert skipped["final"]["order"] == {}
    assert {r["verdict"] for r in skipped["results"]} == {"unknown"}
    assert "racelab: skipped run 0003-0000-naive: order oi-3 is in status handling, not ready-for-handling" in out
    assert [f"{s.method} {s.path}" for s in proxy.seen if "oi-3" in s.path] == ["GET /api/oms/pvt/orders/oi-3"]
    assert not [s for s in proxy.seen if "oi-20" in s.path]
    # Read from outside: the invariant that needs the journal says unknown, and why.
    judged = [line for order_id, line in lines.items() if order_id != "oi-3"]
    for line in judged:
        assert line["final"]["public"] is True
        assert line["journal"] == []
        assert line["final"]["versions"] == []
        (change,) = [r for r in line["results"] if r["checker"] == "change-respects-invoices"]
        assert change["verdict"] == "unknown"
        assert "journal" in change["explanation"]
    # Nothing to /_sim/, no control header or token to the platform.
    assert_public_only(proxy.seen)
    # racelab's own 429: retried once each, after the second Retry-After asked for.
    assert len(retried_at) == RUNS - 1
    for path, times in retried_at.items():
        assert len(times) == 2, path
        assert times[1] - times[0] >= 0.95, (path, times)
    # The integration's 429: recorded as the platform answered it, not retried.
    assert proxy.paths()["POST /api/orders/pvt/document/oi-0/invoices"] == 1
    (invoice,) = [op for op in lines["oi-0"]["history"] if op["f"] == "invoice"]
    assert invoice["status"] == 429
    assert invoice["outcome"] == "fail"
    # Requests by path, for a run that went through: racelab's own reads, start-handling (429, then again), the
    # integration's read, invoice and Change, the settling polls and the final state.
    paths = proxy.paths()
    assert paths["POST /api/oms/pvt/orders/oi-5/start-handling"] == 2
    assert paths["PATCH /api/order-system/orders/oi-5/changes"] == 1
    assert paths["POST /api/orders/pvt/document/oi-5/invoices"] == 1
    assert paths["GET /api/oms/pvt/orders/oi-5"] >= 5  # pre-check, before moving, naive's read, settling, final
    assert paths["GET /api/order-system/orders/oi-5/changes"] >= 2  # settling, final
    assert (folder / "report.html").is_file()
    assert_no_secret_written(tmp_path / "results")
    assert KEY not in out
    assert TOKEN not in out


async def test_against_serializable_nothing_reproduces_and_the_canary_gate_fails(tmp_path: Path) -> None:
    orders = standin_orders(RUNS, prefix="se")
    async with standin(orders, profile="fixed", consistency="serializable", overrides=AUTH) as url, front(url) as proxy:
        code, out = await racelab_run(
            OVER_INVOICE,
            "--mode",
            "external",
            "--orders-url",
            proxy.url,
            "--orders-from",
            ids_file(tmp_path / "orders.txt", [o["orderId"] for o in orders]),
            "--runs",
            "1",
            "--integration",
            "naive",
            "--app-key",
            KEY,
            "--out",
            tmp_path / "results",
            env=sweep_env(),
        )
    assert code == 1, out
    folder = only_result(tmp_path / "results")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["runs"] == RUNS
    assert summary["invalid"] == 0
    (gate,) = summary["gates"]
    assert gate["integration"] == "naive"
    assert gate["passed"] is False
    assert "FAIL over-invoice · naive" in out
    lines = list(run_lines(folder))
    assert all(line["error"] is None and line["final"]["order"]["status"] for line in lines)
    assert_public_only(proxy.seen)
    assert_no_secret_written(tmp_path / "results")


async def test_too_few_order_ids_is_a_usage_error_before_any_request(tmp_path: Path) -> None:
    async with front("http://127.0.0.1:9") as proxy:  # nothing must get even this far
        code, out = await racelab_run(
            OVER_INVOICE,
            "--mode",
            "external",
            "--orders-url",
            proxy.url,
            "--orders-from",
            ids_file(tmp_path / "orders.txt", ["a-1", "a-2", "a-3"]),
            "--runs",
            "1",
            "--integration",
            "naive",
            "--out",
            tmp_path / "results",
        )
    assert code == 2, out
    assert "lists 3 order ids, but 20 runs are planned" in out
    assert "add 17 more" in out
    assert proxy.seen == []
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("o-1\n\no-2 # again\no-1\n", "orders.txt:4: order o-1 is listed twice (first on line 1)"),
        ("o-1\n../_sim/reset\n", "orders.txt:2: '../_sim/reset' is not an order id"),
        ("# nothing\n\n", "lists no order id"),
    ],
)
async def test_a_bad_orders_file_is_a_usage_error_naming_the_line(tmp_path: Path, text: str, says: str) -> None:
    (tmp_path / "orders.txt").write_text(text)
    orders = tmp_path / "orders.txt"
    code, out = await racelab_run(
        OVER_INVOICE, "--mode", "external", "--orders-url", "http://127.0.0.1:9", "--orders-from", orders
    )
    assert code == 2, out
    assert says in out


async def test_orders_from_needs_external_mode(tmp_path: Path) -> None:
    code, out = await racelab_run(
        OVER_INVOICE, "--orders-from", ids_file(tmp_path / "orders.txt", ["o-1"]), "--out", tmp_path / "results"
    )
    assert code == 2, out
    assert "--orders-from races existing orders of a platform" in out


def one_offset_scenario(tmp_path: Path, *, runs: int) -> Path:
    """over-invoice with one offset (100 ms) and `runs` runs of naive: a small control-free sweep."""
    text = OVER_INVOICE.read_text(encoding="utf-8")
    text = text.replace("{at: {from: 50ms, to: 1000ms, step: 50ms}, do: change", "{at: 100ms, do: change")
    text = text.replace("runs: 10", f"runs: {runs}").replace(
        "integrations: [naive, workaround]", "integrations: [naive]"
    )
    text = text.replace("  workaround: {violations: 0}\n", "")
    assert "at: 100ms" in text
    assert f"runs: {runs}" in text
    path = tmp_path / "scenarios" / "over-invoice.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


async def test_resume_never_reuses_an_order(tmp_path: Path) -> None:
    orders = standin_orders(4, prefix="rs")
    scenario = one_offset_scenario(tmp_path, runs=2)
    async with standin(orders, profile="fixed") as url:
        endpoints = Endpoints(orders=url, accounting=url, control=url)
        options = SuiteOptions(
            [scenario],
            mode="external",
            out=tmp_path / "results",
            endpoints=endpoints,
            orders=["rs-0", "rs-1"],
            orders_from=tmp_path / "orders.txt",
            quiet_s=0.3,
        )
        result = await run_suite(options, Console(quiet=True))
        plan = json.loads((result.folder / "plan.json").read_text())
        assert plan["control_free"]["used"] == ["rs-0", "rs-1"]
        # The CLI: a control-free sweep resumed without fresh orders is refused with a sentence.
        code, out = await racelab_run("--resume", result.folder)
        assert code == 2, out
        assert "resuming never reuses an order" in out
        assert "--orders-from" in out
        # Fresh ids that include a used one: refused, naming it.
        code, out = await racelab_run(
            "--resume", result.folder, "--orders-from", ids_file(tmp_path / "again.txt", ["rs-2", "rs-1"])
        )
        assert code == 2, out
        assert "order rs-1 was used by this sweep already" in out
        # In process: the runs missing from runs.jsonl get fresh orders, and the plan says they are used.
        runs = result.folder / "runs.jsonl"  # as if the sweep had been cut before rs-1's run was written
        runs.write_text(
            "".join(line for line in runs.read_text().splitlines(True) if json.loads(line)["order_id"] == "rs-0")
        )
        resumed = await run_suite(
            SuiteOptions(
                [],
                mode="external",
                endpoints=endpoints,
                resume=result.folder,
                orders=["rs-2"],
                orders_from=tmp_path / "again.txt",
                quiet_s=0.3,
            ),
            Console(quiet=True),
        )
    assert {line["order_id"] for line in run_lines(resumed.folder)} == {"rs-0", "rs-2"}
    plan = json.loads((resumed.folder / "plan.json").read_text())
    assert plan["control_free"]["used"] == ["rs-0", "rs-1", "rs-2"]


async def test_every_request_draws_from_one_limiter(tmp_path: Path) -> None:
    """The integration's calls (through the runner's connector) and racelab's own (PublicControl) take tokens from
    the same bucket: as many tokens as requests reached the platform, and never more in a window than the bucket
    lets through."""
    orders = standin_orders(3, prefix="rl")
    rate, burst = 20.0, 4.0
    limiter = RateLimiter(rate, burst=burst)
    async with standin(orders, profile="fixed") as url, front(url) as proxy:
        endpoints = Endpoints(orders=proxy.url, accounting=proxy.url, control=proxy.url)

        def make_control(session: aiohttp.ClientSession, endpoints: Endpoints) -> ControlClient:
            return PublicControl(session, endpoints, limiter=limiter, quiet_s=0.3)

        specs = [
            RunSpec(
                run_id=f"r{i}",
                scenario="over-invoice",
                integration="naive",
                cell={},
                repetition=i,
                seed=i,
                order_id=f"rl-{i}",
                order={"status": "handling"},
                steps=(Step(0.0, "invoice"), Step(100.0, "change", {"remove": [{"id": "sku-2", "quantity": 1}]})),
                expect=("no-over-invoice",),
            )
            for i in range(3)
        ]
        outcomes = await run_specs(
            specs,
            endpoints,
            options=RunnerOptions(max_rate=rate, settle_timeout_s=10.0),
            control=make_control,
            connector=limited_connector(limiter),
        )
    assert [o.record.error for o in outcomes] == [None, None, None]
    assert all(o.record.final.settled for o in outcomes)
    assert limiter.sent == len(proxy.seen) > 3 * 6
    times = sorted(s.t for s in proxy.seen)
    slack = 1  # a request's arrival at the proxy trails its token by a little network time
    for i in range(len(times)):
        for j in range(i, len(times)):
            assert j - i + 1 <= burst + rate * (times[j] - times[i]) + slack, (i, j, times[j] - times[i])


async def test_a_final_state_read_from_outside_for_an_order_racelab_did_not_plan() -> None:
    """`public_spec` + `PublicControl`: what `racelab proxy judge` does for each order it saw."""
    async with standin(standin_orders(1, prefix="pj"), overrides=AUTH) as url, front(url) as proxy:
        endpoints = Endpoints(orders=proxy.url, accounting=proxy.url, control=proxy.url, orders_headers=CREDENTIALS)
        async with aiohttp.ClientSession() as session:
            client = PublicControl(session, endpoints, limiter=RateLimiter(50.0), quiet_s=0.2)
            final, journal = await drive_control(control.final_state(public_spec("pj-0"), settle_s=5.0), client)
    assert final.settled
    assert final.public
    assert final.status == "ready-for-handling"
    assert journal == ()
    assert_public_only(proxy.seen)
    assert {s.status for s in proxy.seen} == {200}  # the credentials went with every request


@pytest.mark.parametrize(
    ("header", "expected"),
    [("3", 3.0), ("0", 0.0), (None, None), ("soon", None), (formatdate(1_000_010.0, usegmt=True), 10.0)],
)
def test_retry_after_reads_seconds_and_http_dates(header: str | None, expected: float | None) -> None:
    assert retry_after(header, now=1_000_000.0) == expected


async def test_a_retry_after_as_an_http_date_is_honoured() -> None:
    asked: list[float] = []

    def refuse(method: str, path: str) -> str | None:
        if path.endswith("/changes") and not asked:
            asked.append(time.monotonic())
            return formatdate(time.time() + 2, usegmt=True)
        return None

    async with standin(standin_orders(1, prefix="hd")) as url, front(url, refuse) as proxy:
        endpoints = Endpoints(orders=proxy.url, accounting=proxy.url, control=proxy.url)
        async with aiohttp.ClientSession() as session:
            client = PublicControl(session, endpoints, limiter=RateLimiter(50.0))
            answer = await client.perform(control.inspect_order("hd-0"))
    assert answer.status == 200
    assert answer.body["public"] is True
    assert client.retried == 1
    (retry,) = [s for s in proxy.seen if s.path.endswith("/changes") and s.status == 200]
    assert retry.t - proxy.seen[0].t >= 0.9  # an HTTP date has whole seconds: "now + 2 s" is 1-2 s away


def test_a_hook_racelab_hosts_is_refused_against_a_platform_off_this_machine(tmp_path: Path) -> None:
    """The built-in hook-driven integrations receive the hook on loopback: a real account could not call it, and
    configuring it would replace the account's hook. Checked before any request (called directly: a test never
    sends anything off this machine)."""
    scenario = one_offset_scenario(tmp_path, runs=1)
    staging = Endpoints(orders="https://staging.example.com", accounting="https://staging.example.com", control="")
    options = SuiteOptions([scenario], mode="external", endpoints=staging, orders=["o-1"])
    (loaded,) = [load_scenario(scenario)]
    for name, refused in (("hook-naive", True), ("naive", False), ("external:http://127.0.0.1:9/hook", False)):
        plans = [(loaded, expand(loaded, seed=1, integrations=[name]))]
        if refused:
            with pytest.raises(UsageError, match="receives the order hook on this machine's loopback"):
                check_hooks(plans, options)
        else:
            check_hooks(plans, options)
    local = dataclasses.replace(options, endpoints=dataclasses.replace(staging, orders="http://127.0.0.1:8080"))
    check_hooks([(loaded, expand(loaded, seed=1, integrations=["hook-naive"]))], local)


async def test_a_read_that_meets_a_gateway_error_is_tried_again_and_a_write_is_not() -> None:
    refused: Counter[str] = Counter()

    def refuse(method: str, path: str) -> int | None:
        refused[f"{method} {path}"] += 1
        return 503 if refused[f"{method} {path}"] == 1 else None

    async with standin(standin_orders(1, prefix="gw")) as url, front(url, refuse) as proxy:
        endpoints = Endpoints(orders=proxy.url, accounting=proxy.url, control=proxy.url)
        async with aiohttp.ClientSession() as session:
            client = PublicControl(session, endpoints, limiter=RateLimiter(50.0))
            read = await client.perform(control.get_order("gw-0"))
            moved = await client.perform(control.move_status("gw-0", "handling"))
    assert read.status == 200
    assert moved.status == 503  # start-handling may have been applied: never sent twice
    assert client.retried == 1
    assert proxy.paths() == {"GET /api/oms/pvt/orders/gw-0": 2, "POST /api/oms/pvt/orders/gw-0/start-handling": 1}
