"""racelab's pytest plugin (entry point `pytest11: racelab`): race tests written as ordinary pytest tests.

Owns two fixtures:

- `racelab_simulator`: a factory. `sim = racelab_simulator("fixed")` starts the simulator (`open_server`) with that
  profile in this process, on 127.0.0.1 and a free port, and returns a `Simulator`: its `url` and async helpers to
  seed orders, invoice, send Changes, hold and release gates, wait until quiet and read the result. Every simulator
  the test started stops when the test ends.
- `racelab_run`: an async callable. `await racelab_run("scenarios/over-invoice.yaml", runs=2)` runs a scenario file
  against the embedded simulator (a child process, as `racelab run` does) and returns a `RaceResult`: the runs,
  violation counts per integration and checker, and the scenario's gates decided.

Why the in-process simulator runs on its own thread and event loop: the fixtures then work however the project
runs async tests (pytest-asyncio in strict or auto mode, anyio) and whatever loop scope it uses, because nothing of
the simulator lives on the test's loop; the helpers are plain HTTP calls made from the test's loop.

This module is imported by every pytest session of an environment where racelab is installed, so it imports only
pytest, the standard library and `harness.resources` (standard library only) at import time; `simulator`, aiohttp
and the rest of `harness` are imported when a fixture is used. It never imports locust. Imports: stdlib, pytest,
aiohttp, `simulator` (to start it in-process; only this module and the CLI may), `harness.*`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.resources import resolve_scenario_ref

if TYPE_CHECKING:
    from harness.drive.runner import RunOutcome
    from harness.integrations import Call, Control
    from harness.model.summary import GateResult
    from harness.scenarios import Scenario

__all__ = ["RaceResult", "Simulator", "racelab_run", "racelab_simulator"]

EXAMPLE_ITEMS = ({"id": "sku-1", "price": 4990, "quantity": 2}, {"id": "sku-2", "price": 1500, "quantity": 1})
"""The DESIGN's example order: 2 x 49.90 + 15.00, with 10.00 shipping: 124.80."""
EXAMPLE_SHIPPING = 1000


class _ServerThread:
    """`open_server(config)` on a thread of its own, with its own event loop, until `stop()`."""

    def __init__(self, config: Any) -> None:
        self._config = config
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.url = ""
        self._thread = threading.Thread(target=self._main, name="racelab-simulator", daemon=True)

    def start(self, *, timeout_s: float = 30.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError(f"the racelab simulator did not start within {timeout_s:g} s")
        if self._error is not None:
            raise RuntimeError(f"the racelab simulator did not start: {self._error}") from self._error

    def stop(self, *, timeout_s: float = 30.0) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed since the check: nothing left to stop
                loop.call_soon_threadsafe(stop.set)
        self._thread.join(timeout_s)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by start(); a thread must not die with an unhandled exception
            self._error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        from simulator import open_server

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with open_server(self._config, host="127.0.0.1", port=0) as (_, url):
            self.url = url
            self._ready.set()
            await self._stop.wait()


class Simulator:
    """A simulator running in this process for one test; every helper is an HTTP call from the test's loop.

        sim = racelab_simulator("fixed")
        await sim.seed_order("o-1"); await sim.invoice("o-1"); await sim.quiesce("o-1")

    Helpers that expect a particular answer (seeding, reading the order, configuring, gates) raise `AssertionError`
    with the simulator's answer when they get another, so the test fails saying why. `invoice` and `change` return
    `(status, body)`: a refusal may be what the test is about.
    """

    def __init__(self, url: str, profile: str) -> None:
        self.url = url
        self.profile = profile
        self._ids = itertools.count(1)

    def __repr__(self) -> str:
        return f"<racelab Simulator {self.url} profile={self.profile}>"

    async def request(self, method: str, path: str, *, json: Any = None, timeout_s: float = 60.0) -> tuple[int, Any]:
        """Any request to the simulator (`path` starts with `/`); returns (status, decoded JSON body or None)."""
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(method, self.url + path, json=json) as resp,
        ):
            text = await resp.text()
            return resp.status, (await resp.json(content_type=None)) if text else None

    async def send(self, request: Call | Control) -> tuple[int, Any]:
        """Send one of racelab's own request definitions (`harness.integrations.api`, `harness.integrations.control`:
        the same ones the runner sends) as it is, without the control marker."""
        timeout_s = 60.0 if request.timeout_s is None else max(60.0, request.timeout_s)
        return await self.request(request.method, request.path, json=request.json, timeout_s=timeout_s)

    async def _expect(self, status: int, method: str, path: str, *, json: Any = None, timeout_s: float = 60.0) -> Any:
        got, body = await self.request(method, path, json=json, timeout_s=timeout_s)
        if got != status:
            raise AssertionError(f"{method} {path} answered {got}, expected {status}: {body}")
        return body

    async def _expect_sent(self, status: int, request: Call | Control) -> Any:
        got, body = await self.send(request)
        if got != status:
            raise AssertionError(f"{request.method} {request.path} answered {got}, expected {status}: {body}")
        return body

    async def seed_order(
        self,
        order_id: str | None = None,
        *,
        items: Sequence[Mapping[str, Any]] = EXAMPLE_ITEMS,
        shipping: int = EXAMPLE_SHIPPING,
        status: str = "handling",
        **fields: Any,
    ) -> dict[str, Any]:
        """Put an order straight into `status` (default: the DESIGN's example order, 124.80, in `handling`).

        Args:
            order_id: default `qa-1`, `qa-2`, ...
            items: `[{"id", "price" (cents), "quantity"}, ...]`.
            shipping: cents.
            status: any order status; no hook fires for the seeding itself.
            **fields: further fields of `POST /_sim/orders` (`discounts`, `tax`, `accounting`).

        Returns:
            `{"orderId", "value", "status", ...}`.
        """
        from harness.integrations import control

        body = {
            "orderId": order_id or f"qa-{next(self._ids)}",
            "items": [dict(i) for i in items],
            "shipping": shipping,
            "status": status,
            **fields,
        }
        return dict(await self._expect_sent(201, control.seed_order(body)))

    async def order(self, order_id: str) -> dict[str, Any]:
        """The order as the Orders API shows it (`GET /api/oms/pvt/orders/{orderId}`)."""
        from harness.integrations import api

        return dict(await self._expect_sent(200, api.get_order(order_id)))

    async def invoice(self, order_id: str, *, value: int | None = None, number: str | None = None) -> tuple[int, Any]:
        """Invoice the order's current lines in the document form; `value` defaults to the order's value as read now.

        Returns:
            (status, body) of `POST /api/orders/pvt/document/{orderId}/invoices`.
        """
        from harness.integrations import api, invoice_items

        order = await self.order(order_id)
        value = int(order["value"]) if value is None else value
        return await self.send(
            api.invoice(order_id, number=number or f"NF-{order_id}", value=value, items=invoice_items(order))
        )

    async def change(
        self,
        order_id: str,
        *,
        remove: Sequence[Mapping[str, Any]] = (),
        add: Sequence[Mapping[str, Any]] = (),
        reason: str = "racelab test: change",
    ) -> tuple[int, Any]:
        """Send a Change (`remove=[{"id": "sku-2", "quantity": 1}]`); 202 and its `requestId` when accepted."""
        from harness.integrations import api

        body: dict[str, Any] = {"reason": reason}
        if remove:
            body["remove"] = {"items": [dict(i) for i in remove]}
        if add:
            body["add"] = {"items": [dict(i) for i in add]}
        return await self.send(api.change(order_id, body))

    async def quiesce(self, order_id: str | None = None, *, timeout_s: float = 30.0) -> None:
        """Return once the simulator has no work pending for the order (or at all); fail if that takes too long."""
        body: dict[str, Any] = {"timeout_ms": timeout_s * 1000}
        if order_id is not None:
            body["orderId"] = order_id
        answer = await self._expect(200, "POST", "/_sim/quiesce", json=body, timeout_s=timeout_s + 10)
        if not answer["idle"]:
            raise AssertionError(
                f"{order_id or 'the simulator'} still had {answer['pending']} pending after {timeout_s:g} s"
            )

    async def config(self, patch: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The configuration; with `patch` (a JSON merge patch, e.g. `{"consistency": "serializable"}`), changed."""
        if patch is None:
            return dict(await self._expect(200, "GET", "/_sim/config"))
        return dict(await self._expect(200, "PATCH", "/_sim/config", json=dict(patch)))

    async def hold(self, order_id: str, point: str) -> None:
        """Hold the gate `point` (`<op>.<checkpoint>`, e.g. `change.after_read`) for the order (`*`: every order)."""
        await self._expect(201, "POST", "/_sim/gates", json={"orderId": order_id, "point": point})

    async def wait_parked(self, order_id: str, point: str, *, count: int = 1, timeout_s: float = 10.0) -> None:
        """Return once `count` operations of the order are parked at the held gate `point`."""
        body = {"orderId": order_id, "point": point, "count": count, "timeout_ms": timeout_s * 1000}
        answer = await self._expect(200, "POST", "/_sim/gates/wait", json=body, timeout_s=timeout_s + 10)
        if not answer["parked"]:
            raise AssertionError(f"nothing of {order_id} parked at {point} within {timeout_s:g} s")

    async def release(self, order_id: str | None = None, point: str | None = None) -> int:
        """Release one gate (both arguments) or every gate (neither); returns how many were released."""
        body = {} if order_id is None and point is None else {"orderId": order_id, "point": point}
        return int((await self._expect(200, "POST", "/_sim/gates/release", json=body))["released"])

    async def journal(self, order_id: str | None = None) -> list[dict[str, Any]]:
        """The journal's entries (every phase of every operation), for one order or all."""
        from harness.integrations import control

        if order_id is not None:
            return list((await self._expect_sent(200, control.journal(order_id)))["entries"])
        return list((await self._expect(200, "GET", "/_sim/journal"))["entries"])


@dataclass(frozen=True, slots=True)
class RaceResult:
    """What `racelab_run` found.

    result = await racelab_run("scenarios/over-invoice.yaml", runs=2, integrations=["naive"])
    assert result.violations("naive", checker="no-over-invoice") > 0 and result.gates_passed, result
    """

    scenario: Scenario
    outcomes: tuple[RunOutcome, ...]
    """Every run, judged, in the order of the scenario's matrix."""
    gates: tuple[GateResult, ...]
    """The scenario's gates of the integrations that ran, decided."""

    @property
    def gates_passed(self) -> bool:
        """Every gate passed (True when the scenario sets none for the integrations that ran)."""
        return all(g.passed for g in self.gates)

    def runs(self, integration: str | None = None) -> tuple[RunOutcome, ...]:
        """The runs of one integration, or all."""
        return tuple(o for o in self.outcomes if integration is None or o.record.spec.integration == integration)

    def violations(self, integration: str | None = None, *, checker: str | None = None) -> int:
        """How many runs (of `integration`, or of all) are invalid: by any checker, or by `checker`."""
        from harness.model.records import Verdict

        def bad(o: RunOutcome) -> bool:
            if checker is None:
                return o.verdict is Verdict.INVALID
            return any(r.checker == checker and r.verdict is Verdict.INVALID for r in o.results)

        return sum(1 for o in self.runs(integration) if bad(o))

    def unknown(self, integration: str | None = None) -> int:
        """How many runs could not be judged (cut short, or a checker could not decide)."""
        from harness.model.records import Verdict

        return sum(1 for o in self.runs(integration) if o.verdict is Verdict.UNKNOWN)

    def __str__(self) -> str:
        lines = [f"{self.scenario.name}: {len(self.outcomes)} runs"]
        for name in dict.fromkeys(o.record.spec.integration for o in self.outcomes):
            lines.append(
                f"  {name}: {len(self.runs(name))} runs, {self.violations(name)} invalid, {self.unknown(name)} unknown"
            )
        lines += [f"  gate {'PASS' if g.passed else 'FAIL'} {g.name}: {g.reason}" for g in self.gates]
        return "\n".join(lines)


def _resolve(scenario: str | Path, rootpath: Path) -> Path:
    """`builtin:NAME` as the built-in scenario; a path as given, else relative to pytest's rootdir."""
    path = resolve_scenario_ref(scenario)
    if not path.is_absolute() and not path.exists():
        return rootpath / path
    return path


SimulatorFactory = Callable[..., Simulator]
RaceRunner = Callable[..., Awaitable[RaceResult]]


@pytest.fixture
def racelab_simulator(request: pytest.FixtureRequest) -> Iterator[SimulatorFactory]:
    """`sim = racelab_simulator("fixed", overrides={...})`: a simulator in this process (default profile `instant`).

    The profile is a path, or a name looked up in the project's `scenarios/profiles/` (under pytest's rootdir, then
    the current directory), then racelab's own (`racelab serve --list-profiles` shows them); `overrides` are merged
    over it, as `racelab serve --overrides` does. Every simulator started stops when the test ends.
    """
    from simulator import load_profile

    search = [request.config.rootpath / "scenarios" / "profiles"]
    started: list[_ServerThread] = []

    def start(profile: str = "instant", *, overrides: Mapping[str, Any] | None = None) -> Simulator:
        server = _ServerThread(load_profile(profile, overrides=dict(overrides or {}), search=search))
        started.append(server)
        server.start()
        return Simulator(server.url, profile)

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def racelab_run(request: pytest.FixtureRequest) -> RaceRunner:
    """`result = await racelab_run("scenarios/over-invoice.yaml", runs=2, integrations=["naive"], seed=1)`.

    Runs the scenario file against the embedded simulator (a child process started with the scenario's profile and
    `simulator:` settings, plus `overrides`) and returns a `RaceResult`. A relative path is taken from the current
    directory, else from pytest's rootdir. `runs` and `integrations` replace the scenario's.
    """
    rootpath = request.config.rootpath

    async def run(
        scenario: str | Path,
        *,
        runs: int | None = None,
        integrations: Sequence[str] | None = None,
        seed: int = 1,
        overrides: Mapping[str, Any] | None = None,
    ) -> RaceResult:
        from harness.drive.embedded import open_embedded
        from harness.drive.runner import run_specs
        from harness.drive.transport import Endpoints
        from harness.judge.gates import aggregate, evaluate_gates
        from harness.scenarios import expand, load_scenario

        loaded = load_scenario(_resolve(scenario, rootpath))
        specs = expand(loaded, seed=seed, runs=runs, integrations=integrations)
        settings = {**loaded.simulator, **(overrides or {}), "seed": seed}
        async with open_embedded(loaded.profile, overrides=settings) as url:
            endpoints = Endpoints(orders=url, accounting=url, control=url)
            outcomes = await run_specs(specs, endpoints, handlers=loaded.handlers)
        ran = {o.record.spec.integration for o in outcomes}
        gates = evaluate_gates(
            aggregate((o.record, o.results) for o in outcomes),
            {loaded.name: {name: gate for name, gate in loaded.gates.items() if name in ran}},
        )
        return RaceResult(scenario=loaded, outcomes=tuple(outcomes), gates=gates)

    return run
