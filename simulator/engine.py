"""The runtime of the commit-point timing model, shared by the Orders and Accounting services.

Owns:
- `Core`: the live configuration, the clock, seeded RNG streams, the journal, the gates, background work;
- `Op`: one operation moving through its phases (delays drawn per phase, checkpoints, journal records);
- `VersionedStore` + `Core.transaction()`: what READ and COMMIT mean under each consistency mode.

Consistency (DESIGN §3.2):
- `snapshot`: READ returns the version that was current `read_lag` ago; COMMIT applies what was computed from that
  read to the latest version (`write: merge`, write skew possible) or overwrites it with the document computed from
  the snapshot (`write: document`, lost update possible). No lock.
- `serializable`: READ→COMMIT of one key holds a per-key lock and READ always returns the latest version; no anomaly.

Imports: stdlib (asyncio), `simulator.config`, `.contract`, `.journal`, `.gates`, `.timing`. No aiohttp.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from typing import Any, Generic, Protocol, TypeVar, cast

from .config import Consistency, SimConfig, WriteTiming
from .contract.timing import Distribution
from .gates import Gates
from .journal import Journal
from .timing import RngStreams

__all__ = ["Core", "Op", "Tx", "Versioned", "VersionedStore"]

log = logging.getLogger("simulator")

_UUID_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID_V4 = (0x8000 << 48) | (4 << 76)
"""What `uuid.UUID(int=..., version=4)` clears and sets: the RFC 4122 variant and version bits."""


class _HasVersion(Protocol):
    @property
    def version(self) -> int: ...


S = TypeVar("S", bound=_HasVersion)


@dataclass(slots=True)
class Versioned(Generic[S]):
    """The committed versions of one entity, oldest first, with their commit times."""

    times: list[float]
    states: list[S]

    def latest(self) -> S:
        return self.states[-1]

    def as_of(self, t: float) -> S:
        """The version current at time `t` (the oldest one if `t` is before the entity existed)."""
        i = bisect.bisect_right(self.times, t) - 1
        return self.states[max(i, 0)]

    def lagging(self, now: float, lag_ms: float) -> S:
        """What a reader `lag_ms` behind sees at `now` (the latest version when there is no lag)."""
        return self.states[-1] if lag_ms == 0.0 else self.as_of(now - lag_ms / 1000.0)

    def append(self, t: float, state: S, horizon: float) -> None:
        self.times.append(t)
        self.states.append(state)
        # Keep the newest version older than the horizon: a read that lags that far still finds its version.
        cut = bisect.bisect_right(self.times, t - horizon) - 1
        if cut > 0:
            del self.times[:cut]
            del self.states[:cut]


class VersionedStore(Generic[S]):
    """Entities by key, each with its recent versions, so a read can be served as of any recent time."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: dict[str, Versioned[S]] = {}

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def ids(self) -> list[str]:
        """The keys, oldest first (a copy: safe to forget entities while iterating)."""
        return list(self._items)

    def get(self, key: str) -> S | None:
        v = self._items.get(key)
        return v.states[-1] if v is not None else None

    def history(self, key: str) -> Versioned[S]:
        return self._items[key]

    def create(self, key: str, state: S, t: float) -> None:
        self._items[key] = Versioned([t], [state])

    def forget(self, key: str) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()


class Work:
    """Counts pending work (requests in progress, workers, deliveries) per key, so `/_sim/quiesce` can wait on it."""

    __slots__ = ("_pending", "_tasks", "_total", "_waiters", "errors", "on_idle")

    def __init__(self) -> None:
        self.on_idle: Callable[[str], None] | None = None
        """Called with a key when its last pending piece of work ends."""
        self._pending: dict[str, int] = {}
        self._total = 0
        self._waiters: dict[str | None, list[asyncio.Future[None]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.errors = 0

    def enter(self, key: str) -> None:
        self._pending[key] = self._pending.get(key, 0) + 1
        self._total += 1

    def leave(self, key: str) -> None:
        n = self._pending[key] - 1
        self._total -= 1
        if n:
            self._pending[key] = n
        else:
            del self._pending[key]
            self._wake(key)
            if self.on_idle is not None:
                self.on_idle(key)
        if not self._total:
            self._wake(None)

    def pending(self, key: str | None = None) -> int:
        return self._total if key is None else self._pending.get(key, 0)

    def pending_by_key(self) -> dict[str, int]:
        return dict(self._pending)

    def spawn(self, key: str, coro: Coroutine[Any, Any, Any], *, name: str) -> None:
        """Run `coro` in the background as pending work of `key`. Failures are logged and counted, never lost."""
        self.enter(key)
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(key, t))

    def _done(self, key: str, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self.leave(key)
        if not task.cancelled() and (exc := task.exception()) is not None:
            self.errors += 1
            log.error("background task %s failed", task.get_name(), exc_info=exc)

    async def wait_idle(self, key: str | None = None) -> None:
        if self.pending(key) == 0:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, []).append(fut)
        await fut

    def _wake(self, key: str | None) -> None:
        for fut in self._waiters.pop(key, ()):
            if not fut.done():
                fut.set_result(None)

    async def aclose(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class Core:
    """What both services share: live config, clock, RNG streams, journal, gates, background work, locks.

    core = Core(load_profile("default"))
    await core.start()            # binds the running event loop's clock
    op = core.op("invoice", "ORD-1", core.new_id("ORD-1", "invoice"))
    """

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.rng = RngStreams(config.seed)
        self.journal = Journal(max_entries=config.limits.journal_max_entries)
        self.gates = Gates()
        self.work = Work()
        self.work.on_idle = self._idle
        self.stores: list[VersionedStore[Any]] = []
        """Every service's store registers here, so a key none of them keeps can be let go (`_idle`)."""
        self._locks: dict[str, asyncio.Lock] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._t0 = 0.0
        self._wall0 = 0.0
        self._iso_second = -1
        self._iso_prefix = ""
        self._done_zero: asyncio.Future[float] | None = None
        self._done_none: asyncio.Future[None] | None = None
        """Futures already done (0 ms, None): what `Op.delay` and `Op.checkpoint` give when there is nothing to wait
        for. Awaiting a done future returns its result at once; many awaiting the same one is fine."""

    # -- clock -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._done_zero = self._loop.create_future()
        self._done_zero.set_result(0.0)
        self._done_none = self._loop.create_future()
        self._done_none.set_result(None)
        self._t0 = self._loop.time()
        self._wall0 = self.config.epoch.timestamp() if self.config.epoch else time.time()

    async def aclose(self) -> None:
        self.gates.release_all()
        await self.work.aclose()

    def now(self) -> float:
        """Monotonic seconds on the event loop's clock (virtual under a virtual clock)."""
        assert self._loop is not None, "Core.start() was not awaited"
        return self._loop.time()

    def iso(self, t: float | None = None) -> str:
        """The wall-clock date of monotonic time `t` (now by default), ISO 8601 with a Z."""
        t = self.now() if t is None else t
        wall = self._wall0 + (t - self._t0)
        seconds = int(wall // 1)
        micros = round((wall - seconds) * 1_000_000)
        if micros == 1_000_000:
            seconds, micros = seconds + 1, 0
        if seconds != self._iso_second:  # an invoice asks several times a second: format the second once
            self._iso_second = seconds
            self._iso_prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        return f"{self._iso_prefix}.{micros:06d}Z"

    def ms_since_start(self, t: float) -> float:
        return (t - self._t0) * 1000.0

    # -- configuration -----------------------------------------------------------------------------------
    def reconfigure(self, config: SimConfig) -> None:
        if config.seed != self.config.seed:
            self.rng.reset(config.seed)
        self.journal.max_entries = config.limits.journal_max_entries
        self.config = config

    @property
    def serializable(self) -> bool:
        return self.config.consistency is Consistency.SERIALIZABLE

    # -- ids and records ---------------------------------------------------------------------------------
    def new_id(self, key: str, kind: str) -> str:
        """A UUID drawn from the key's seeded stream: the same run gives the same ids.

        The same string as `str(uuid.UUID(int=bits, version=4))`, formatted directly (this is on the request path).
        """
        bits = self.rng.get(key, kind, "id").getrandbits(128) & _UUID_CLEAR | _UUID_V4
        h = f"{bits:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def op(self, name: str, key: str, op_id: str) -> Op:
        return Op(self, name, key, op_id)

    def _idle(self, key: str) -> None:
        """A request for a key no service keeps (an unknown order) leaves no RNG stream or lock behind: its ids
        and delays are drawn before the existence check, and only retention would drop them otherwise."""
        if not any(key in store for store in self.stores):
            self.rng.drop(key)
            self._locks.pop(key, None)

    def forget(self, key: str) -> None:
        """Drop everything kept for `key` (retention)."""
        self.rng.drop(key)
        self.journal.forget(key)
        self._locks.pop(key, None)

    def reset(self) -> None:
        self.gates.release_all()
        self.journal.clear()
        self.rng.reset(self.config.seed)
        self._locks.clear()

    # -- consistency -------------------------------------------------------------------------------------
    def transaction(
        self, store: VersionedStore[S], key: str, op: Op, timing: WriteTiming
    ) -> AbstractAsyncContextManager[Tx[S]]:
        """READ→COMMIT of one key. In `serializable` mode the whole block holds the key's lock.

        async with core.transaction(store, "ORD-1", op, timing) as tx:
            order = await tx.read()
            await tx.commit(lambda o: o.evolve(status="invoice"))
        """
        return _Transaction(self, store, key, op, timing)


class _Transaction(Generic[S]):
    """`Core.transaction()`'s context manager: a class rather than `@asynccontextmanager`, whose generator costs
    more on every READ→COMMIT (two per invoice)."""

    __slots__ = ("_lock", "core", "key", "op", "store", "timing")

    def __init__(self, core: Core, store: VersionedStore[S], key: str, op: Op, timing: WriteTiming) -> None:
        self.core = core
        self.store = store
        self.key = key
        self.op = op
        self.timing = timing
        self._lock: asyncio.Lock | None = None

    async def __aenter__(self) -> Tx[S]:
        core = self.core
        if not core.serializable:
            return Tx(core, self.store, self.key, self.op, self.timing, serial=False)
        lock = core._locks.get(self.key)
        if lock is None:
            lock = core._locks[self.key] = asyncio.Lock()
        if lock.locked():
            self.op.record("lock_wait")  # a timeline shows who waited for whom
        await lock.acquire()
        self._lock = lock
        return Tx(core, self.store, self.key, self.op, self.timing, serial=True)

    async def __aexit__(self, *exc_info: object) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


class Op:
    """One operation instance: draws its phase delays, passes its checkpoints, journals what it does."""

    __slots__ = ("core", "key", "name", "op_id")

    def __init__(self, core: Core, name: str, key: str, op_id: str) -> None:
        self.core = core
        self.name = name
        self.key = key
        self.op_id = op_id

    def delay(self, phase: str, dist: Distribution) -> Awaitable[float]:
        """Wait the phase's drawn delay; awaiting it gives the delay in ms.

        A zero delay (most phases of the `instant` profile, on every request) gives an already-done future: no
        coroutine to create, no suspension.
        """
        if dist.is_zero and (done := self.core._done_zero) is not None:
            return done
        return self._sleep(phase, dist)

    async def _sleep(self, phase: str, dist: Distribution) -> float:
        if dist.is_zero:
            return 0.0
        ms = dist.draw_ms(self.core.rng.get(self.key, self.name, phase))
        if ms > 0.0:
            await asyncio.sleep(ms / 1000.0)
        return ms

    def draw(self, phase: str, dist: Distribution) -> float:
        """Draw a phase value (ms) without waiting, e.g. a read lag."""
        return 0.0 if dist.is_zero else dist.draw_ms(self.core.rng.get(self.key, self.name, phase))

    def checkpoint(self, point: str) -> Awaitable[None]:
        """Park here while a gate holds `<op>.<point>` for this order. With no gate held anywhere (the usual case,
        on every request) it gives an already-done future: no coroutine, no suspension."""
        if not self.core.gates.active and (done := self.core._done_none) is not None:
            return done
        return self._checkpoint(point)

    async def _checkpoint(self, point: str) -> None:
        gates = self.core.gates
        if gates.active:
            name = f"{self.name}.{point}"
            if await gates.checkpoint(self.key, name):
                self.record("released", point=name)

    def record(self, phase: str, *, version: int | None = None, **detail: Any) -> None:
        self.core.journal.record(
            self.core.now(), self.key, self.name, phase, self.op_id, version=version, detail=detail or None
        )


def _with_version(state: S, version: int, *, fresh: bool) -> S:
    """`state` as version `version`. A `fresh` state (a record `apply` has just built, which nothing else holds
    yet) is stamped in place instead of copied a second time: a COMMIT is on every write's path."""
    if fresh:
        object.__setattr__(state, "version", version)
        return state
    evolve = getattr(state, "evolve", None)  # records on the hot path offer a faster copy than `replace`
    if evolve is not None:
        return cast(S, evolve(version=version))
    return replace(state, version=version)  # type: ignore[type-var]


class Tx(Generic[S]):
    """The READ and COMMIT of one transaction; see `Core.transaction()`."""

    __slots__ = ("_snapshot", "core", "key", "op", "previous", "serial", "store", "timing")

    def __init__(
        self, core: Core, store: VersionedStore[S], key: str, op: Op, timing: WriteTiming, *, serial: bool
    ) -> None:
        self.core = core
        self.store = store
        self.key = key
        self.op = op
        self.timing = timing
        self.serial = serial
        self._snapshot: S | None = None
        self.previous: S | None = None
        """The latest version just before this transaction's COMMIT replaced it."""

    async def read(self) -> S:
        """READ: the latest version (serializable) or the one current `read_lag` ago (snapshot)."""
        op = self.op
        await op.checkpoint("before_read")
        history = self.store.history(self.key)
        lag_ms = 0.0 if self.serial else op.draw("read_lag", self.timing.read_lag)
        state = history.lagging(self.core.now(), lag_ms)
        self._snapshot = state
        op.record("read", version=state.version, lag_ms=round(lag_ms, 3), latest=history.latest().version)
        await op.checkpoint("after_read")
        return state

    async def commit(self, apply: Callable[[S], S], *, precheck: Callable[[S], None] | None = None, **detail: Any) -> S:
        """COMMIT: write `apply(base)` as the next version; the base depends on the write mode (module doc).

        Args:
            apply: computes the new version from the base version: a new record, or its argument unchanged
                (never a record kept elsewhere: a new one is stamped with its version in place).
            precheck: judged against the latest version at the instant of COMMIT (a unique index, a cancel flag);
                if it raises, nothing is written and the exception propagates.
            **detail: journaled with the commit.
        """
        op = self.op
        await op.checkpoint("before_commit")
        history = self.store.history(self.key)
        latest = history.latest()
        if precheck is not None:
            try:
                precheck(latest)
            except Exception as exc:
                op.record("abort", version=latest.version, reason=str(exc))
                raise
        self.previous = latest
        document = not self.serial and self.timing.write == "document" and self._snapshot is not None
        base = self._snapshot if document and self._snapshot is not None else latest
        new = apply(base)
        state = _with_version(new, latest.version + 1, fresh=new is not base and new is not latest)
        now = self.core.now()
        history.append(now, state, self.core.config.limits.history_horizon_ms / 1000.0)
        if document and base.version != latest.version:
            detail["overwrote"] = list(range(base.version + 1, latest.version + 1))
        op.record("commit", version=state.version, based_on=base.version, **detail)
        await op.checkpoint("after_commit")
        return state
