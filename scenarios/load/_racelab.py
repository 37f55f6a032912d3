"""racelab's locust users: the race between an invoice and a Change, fired at scale and judged under load.

Owns the locust side of `harness.load`: one user class per integration strategy (`NaiveUser`, `WorkaroundUser`,
`RobustUser`), a transport on locust's `FastHttpSession`, and the event hooks that add racelab's options, count judged
runs across workers and turn the thresholds into the process's exit code. The profiles in this folder import it; its
name starts with `_`, so `locust -f scenarios/load/` does not load it as a profile of its own.

Each task iteration of a user is one run of the scenario (`--scenario`, default `scenarios/over-invoice.yaml`): it
seeds an order of its own (`POST /_sim/orders`), fires each step at its offset from the scenario's window (a greenlet
per step, so the Change really races the invoice), lets the integration react with blocking calls (cooperative
under gevent), waits for the simulator to settle (`/_sim/quiesce`), reads the final state and judges it with the
harness's checkers (`harness.checkers`, the same pure functions `racelab run` uses). The verdict is reported as a
request of type `RACE` named after the integration: a violation is a locust failure whose message is the checker's
explanation (the order id replaced by `<order>`, so runs that broke the same way share one row).

Imports: locust and gevent (this is a locustfile), `harness.load`, `harness.integrations.flow`, `harness.errors`.
Never asyncio or aiohttp.
"""

from __future__ import annotations

import itertools
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import gevent
import gevent.pool
import locust.stats
from locust import FastHttpUser, constant, events, task
from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import WorkerRunner

from harness.errors import InvalidScenario
from harness.integrations.flow import decode
from harness.load import (
    DEFAULT_SCENARIO,
    RACE_TYPE,
    STRATEGIES,
    Answer,
    EndpointStats,
    LoadPlan,
    LoadTally,
    Thresholds,
    add_load_arguments,
    credential_headers,
    load_blocking,
    run_race,
    thresholds_from,
    verdict,
)
from harness.model.records import Verdict

__all__ = ["NaiveRetryUser", "NaiveUser", "RaceUser", "RobustUser", "Undecided", "Violation", "WorkaroundUser"]

log = logging.getLogger("racelab")

TALLY = LoadTally()
"""This process's judged runs; on the master, every worker's too."""

_plans: dict[tuple[str, int], LoadPlan] = {}
_counters: dict[str, itertools.count[int]] = {name: itertools.count() for name in STRATEGIES}
_thresholds: list[Thresholds] = []
_default_scenario: list[str] = []


def default_scenario(path: str) -> None:
    """Make `path` the scenario a profile runs when neither `--scenario` nor `RACELAB_SCENARIO` names one. (When
    several profiles are loaded together, e.g. `locust -f scenarios/load/`, the last one imported wins: name the
    scenario then.)"""
    _default_scenario.append(path)


class Violation(Exception):
    """A run broke an invariant its scenario expects."""


class Undecided(Exception):
    """A run could not be judged: a harness or connection error, or an order that did not settle in time."""


def _plan(options: Any) -> LoadPlan:
    """The scenario, loaded once per process (a worker learns `--scenario` from the master when the test starts)."""
    key = (str(options.scenario), int(options.seed))
    if key not in _plans:
        _plans[key] = LoadPlan.load(options.scenario, seed=options.seed)
    return _plans[key]


# -- options, checks before anything runs, thresholds ------------------------------------------------------------


@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any, **_: Any) -> None:
    add_load_arguments(parser, scenario=_default_scenario[-1] if _default_scenario else DEFAULT_SCENARIO)


@events.init.add_listener
def _check_options(environment: Environment, **_: Any) -> None:
    """On the master (or a single process): load the scenario and parse the thresholds now, so bad input stops the
    test before it starts, with exit code 2 and one line saying what is wrong."""
    if isinstance(environment.runner, WorkerRunner) or environment.parsed_options is None:
        return
    try:
        plan = _plan(environment.parsed_options)
        _thresholds.append(thresholds_from(environment.parsed_options, plan.scenario, integrations=STRATEGIES))
    except InvalidScenario as exc:
        print(f"racelab: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)


@events.report_to_master.add_listener
def _report_tally(client_id: str, data: dict[str, Any], **_: Any) -> None:
    data["racelab"] = TALLY.drain()


@events.worker_report.add_listener
def _merge_tally(client_id: str, data: dict[str, Any], **_: Any) -> None:
    if "racelab" in data:
        TALLY.merge(data["racelab"])


@events.test_start.add_listener
def _watch_iterations(environment: Environment, **_: Any) -> None:
    """With `--iterations N`: end the test once every user has run N races (counted on the master from the
    workers' reports, so the final numbers are in before it quits)."""
    options = environment.parsed_options
    if isinstance(environment.runner, WorkerRunner) or options is None or not options.iterations:
        return
    expected = int(options.num_users or 1) * int(options.iterations)

    def watch() -> None:
        while TALLY.iterations < expected:
            gevent.sleep(0.2)
        log.info("racelab: every user ran its %d races (%d in all); stopping", options.iterations, expected)
        if environment.runner is not None:
            environment.runner.quit()

    gevent.spawn(watch)


@events.quitting.add_listener
def _decide(environment: Environment, **_: Any) -> None:
    """The thresholds decide the exit code (0 held, 1 failed); the verdict goes to `--racelab-report` if given."""
    if isinstance(environment.runner, WorkerRunner) or not _thresholds or environment.parsed_options is None:
        return
    endpoints = [
        EndpointStats(
            method=str(e.method),
            name=e.name,
            requests=e.num_requests,
            failures=e.num_failures,
            p95_ms=e.get_response_time_percentile(0.95) if e.num_requests else None,
        )
        for e in environment.stats.entries.values()
        if e.method != RACE_TYPE
    ]
    plan = _plan(environment.parsed_options)
    outcome = verdict(_thresholds[-1], TALLY, endpoints, scenario=plan.scenario.name)
    for result in outcome["thresholds"]:
        (log.info if result["passed"] else log.error)(
            "racelab: %s %s: %s", "PASS" if result["passed"] else "FAIL", result["threshold"], result["reason"]
        )
    for key, text in list(outcome["tally"]["examples"].items())[:6]:
        log.info("racelab: e.g. %s: %s", key, text)
    environment.process_exit_code = 0 if outcome["passed"] else 1
    if getattr(environment.parsed_options, "csv_prefix", None):
        # Locust rewrites its CSV files once a second and does not refresh them on exit: wait for one more write, so
        # `<prefix>_stats.csv` holds the final numbers (the ones this verdict was computed from).
        gevent.sleep(locust.stats.CSV_STATS_INTERVAL_SEC + 0.1)
    report = environment.parsed_options.racelab_report
    if report:
        path = Path(report)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(outcome, indent=2) + "\n")


# -- the users ------------------------------------------------------------------------------------------------------


class _Transport:
    """`harness.drive.blocking.Transport` on locust's sessions: the integration's requests on the user's client (10 s
    timeout), a call with its own bound (`timeout_s`, e.g. the robust integration's 1.5 s) on a session with that
    timeout, and the harness's own requests (seeding, quiesce, final state) on a session whose timeout outlasts
    the settle timeout.

    A 4xx from the services is an answer (an invoice or a Change refused is part of the race), so locust counts it
    a success; a 5xx, a timeout or a connection error is a failure, and so is any non-2xx from the control API. A
    request that could not even connect was never sent.
    """

    def __init__(self, user: RaceUser, *, control_timeout_s: float) -> None:
        self.user = user
        self.sessions: dict[float, FastHttpSession] = {user.network_timeout: user.client}
        self.control = self._session(control_timeout_s, concurrency=2)

    def _session(self, timeout_s: float, *, concurrency: int = 10) -> FastHttpSession:
        return FastHttpSession(
            base_url=self.user.host,
            request_event=self.user.environment.events.request,
            user=self.user,
            network_timeout=timeout_s,
            connection_timeout=min(timeout_s, 10.0),
            concurrency=concurrency,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        name: str,
        json: Any = None,
        headers: Any = None,
        control: bool = False,
        timeout_s: float | None = None,
    ) -> Answer:
        if control:
            session = self.control
        else:
            bound = self.user.network_timeout if timeout_s is None else timeout_s
            if bound not in self.sessions:
                self.sessions[bound] = self._session(bound)
            session = self.sessions[bound]
        with session.request(
            method, path, name=name, json=json, headers=dict(headers or {}), catch_response=True
        ) as resp:
            status = resp.status_code or None
            error = getattr(resp, "error", None)
            if status is None:
                resp.failure(error or "no answer")
                sent = not isinstance(error, ConnectionRefusedError)
                return Answer(None, None, f"{type(error).__name__}: {error}", sent=sent)
            if status >= 500 or (control and status >= 400):
                resp.failure(f"{status} {(resp.text or '')[:200]}")
            else:
                resp.success()
            return Answer(status, decode(resp.text))


class _Greenlet:
    __slots__ = ("greenlet",)

    def __init__(self, greenlet: gevent.Greenlet) -> None:
        self.greenlet = greenlet

    def wait(self, timeout: float) -> bool:
        self.greenlet.join(timeout)
        return bool(self.greenlet.dead)


class RaceUser(FastHttpUser):
    """One integration, racing: each task iteration is one run of the scenario on an order of its own."""

    abstract = True
    integration: ClassVar[str] = ""
    wait_time = constant(0)
    network_timeout = 10.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.plan = _plan(options)
        self.strategy = load_blocking(self.integration)
        self.settle_s = float(options.settle_timeout)
        self.iterations = int(options.iterations)
        self.done = 0
        self.steps = gevent.pool.Group()
        self.orders_headers, self.control_headers = credential_headers()
        self.transport = _Transport(self, control_timeout_s=self.settle_s + 10.0)

    def on_stop(self) -> None:
        steps = getattr(self, "steps", None)
        if steps is not None:
            steps.kill(block=False)  # the test ended mid-run: its step greenlets go with it

    @task
    def race(self) -> None:
        if self.iterations and self.done >= self.iterations:
            raise StopUser()
        spec = self.plan.spec(self.integration, next(_counters[self.integration]))
        started = time.monotonic()
        runner = self.environment.runner
        source = runner.client_id if isinstance(runner, WorkerRunner) else "local"
        exception: Exception | None = None
        try:
            outcome = run_race(
                spec,
                self.transport,
                self.strategy,
                settle_timeout_s=self.settle_s,
                spawn=lambda fn: _Greenlet(self.steps.spawn(fn)),
                orders_headers=self.orders_headers,
                control_headers=self.control_headers,
                sleep=gevent.sleep,
            )
        except Exception as exc:  # a bug of ours: the run counts as one that could not be judged, and says why
            log.exception("racelab: run %s of %s failed", spec.order_id, self.integration)
            TALLY.add_error(spec, f"{type(exc).__name__}: {exc}", source=source)
            exception = Undecided(f"the harness failed: {type(exc).__name__}: {exc}")
        else:
            TALLY.add(outcome, source=source)
            if outcome.verdict is Verdict.INVALID:
                exception = Violation(outcome.failure_text())
            elif outcome.verdict is Verdict.UNKNOWN:
                exception = Undecided(outcome.failure_text())
        self.done += 1
        self._report(exception, (time.monotonic() - started) * 1000.0)
        if self.iterations and self.done >= self.iterations:
            raise StopUser()

    def _report(self, exception: Exception | None, elapsed_ms: float) -> None:
        self.environment.events.request.fire(
            request_type=RACE_TYPE,
            name=self.integration,
            response_time=elapsed_ms,
            response_length=0,
            exception=exception,
            context={},
        )


class NaiveUser(RaceUser):
    """Reads the order and invoices its value when the schedule says so; sends the Change the moment it is due."""

    integration = "naive"


class NaiveRetryUser(RaceUser):
    """`naive` with a blind retry: on a 5xx, a reset or a timeout it invoices again with a new invoice document. Under
    the `faults` profile it invoices some orders twice."""

    integration = "naive-retry"


class WorkaroundUser(RaceUser):
    """The known issue's workaround: waits until the Change reports `finished: true`, re-reads, then invoices."""

    integration = "workaround"


class RobustUser(RaceUser):
    """The workaround, plus idempotent invoice retries and re-reads until the order reflects the Change."""

    integration = "robust"
