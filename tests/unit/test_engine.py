"""The runtime of the commit-point timing model, without HTTP: versions, journal, gates, background work, and what
READ and COMMIT mean in each consistency mode (`simulator.engine`, `.journal`, `.gates`).

Interleavings are forced with gates and waited for on conditions; time passes only on looptime's virtual clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import pytest

from simulator.config import SimConfig, WriteTiming
from simulator.contract import Fixed
from simulator.engine import Core, Versioned, VersionedStore, Work
from simulator.gates import Gates
from simulator.journal import Journal

# -- helpers ---------------------------------------------------------------------------------------------

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Doc:
    """The smallest state a transaction can version: which writers touched it."""

    version: int
    tags: tuple[str, ...] = ()


def tagged(tag: str) -> Callable[[Doc], Doc]:
    return lambda doc: replace(doc, tags=(*doc.tags, tag))


async def settle() -> None:
    """Let every runnable task run until it blocks (yields to the loop; no time passes)."""
    for _ in range(20):
        await asyncio.sleep(0)


async def finished(awaitable: Awaitable[T]) -> T:
    """Wait for a task (or gather); fail rather than hang if it never ends."""
    return await asyncio.wait_for(awaitable, timeout=5)


async def until_parked(gates: Gates, order_id: str, point: str, *, count: int = 1) -> None:
    """Wait until `count` operations are parked at a held gate; fail rather than hang."""
    await asyncio.wait_for(gates.wait_parked(order_id, point, count=count), timeout=5)


def phases(core: Core, key: str = "K") -> list[tuple[str, str]]:
    return [(e.op, e.phase) for e in core.journal.for_order(key)]


def entry(core: Core, op: str, phase: str, key: str = "K") -> Any:
    return next(e for e in core.journal.for_order(key) if e.op == op and e.phase == phase)


async def started_core(**settings: Any) -> tuple[Core, VersionedStore[Doc]]:
    core = Core(SimConfig(**settings))
    await core.start()
    store: VersionedStore[Doc] = VersionedStore()
    store.create("K", Doc(1), core.now())
    return core, store


async def transact(
    core: Core, store: VersionedStore[Doc], name: str, timing: WriteTiming, apply: Callable[[Doc], Doc], **kwargs: Any
) -> tuple[Doc, Doc]:
    """One READ→COMMIT; returns (what was read, what was committed)."""
    op = core.op(name, "K", f"{name}-id")
    async with core.transaction(store, "K", op, timing) as tx:
        seen = await tx.read()
        return seen, await tx.commit(apply, **kwargs)


NO_LAG = WriteTiming()
LAG_500 = WriteTiming(read_lag=Fixed(ms=500))


# -- Versioned and VersionedStore ------------------------------------------------------------------------


def history() -> Versioned[Doc]:
    return Versioned([1.0, 2.0, 3.0], [Doc(1), Doc(2), Doc(3)])


def test_as_of_before_the_first_version_is_the_oldest() -> None:
    assert history().as_of(0.5) == Doc(1)


@pytest.mark.parametrize(("t", "version"), [(1.0, 1), (1.99, 1), (2.0, 2), (2.5, 2), (3.0, 3), (99.0, 3)])
def test_as_of_is_the_version_committed_at_or_before_t(t: float, version: int) -> None:
    assert history().as_of(t).version == version


def test_append_prunes_but_keeps_the_newest_version_older_than_the_horizon() -> None:
    h = history()
    h.append(10.0, Doc(4), horizon=5.0)  # horizon starts at t=5: v3 (t=3) is still needed for reads at 5..10
    assert h.times == [3.0, 10.0]
    assert [d.version for d in h.states] == [3, 4]
    assert h.as_of(5.0) == Doc(3)
    assert h.latest() == Doc(4)


def test_append_prunes_a_single_expired_version() -> None:
    h = history()
    h.append(7.0, Doc(4), horizon=5.0)  # horizon starts at t=2: only v1 is no longer needed
    assert h.times == [2.0, 3.0, 7.0]


def test_append_within_the_horizon_keeps_every_version() -> None:
    h = history()
    h.append(4.0, Doc(4), horizon=10.0)
    assert [d.version for d in h.states] == [1, 2, 3, 4]


def test_versioned_store_keeps_keys_in_creation_order() -> None:
    store: VersionedStore[Doc] = VersionedStore()
    store.create("B", Doc(1), 0.0)
    store.create("A", Doc(1), 0.0)
    assert store.ids() == ["B", "A"]
    assert "A" in store
    assert len(store) == 2
    store.forget("B")
    store.forget("never")
    assert store.ids() == ["A"]
    assert store.get("B") is None
    assert store.get("A") == Doc(1)


# -- Journal ---------------------------------------------------------------------------------------------


def filled_journal(max_entries: int = 1000) -> Journal:
    journal = Journal(max_entries=max_entries)
    journal.record(0.1, "A", "invoice", "read", "i1", version=1)
    journal.record(0.2, "B", "change", "read", "c1", version=1)
    journal.record(0.3, "A", "invoice", "commit", "i1", version=2, detail={"based_on": 1})
    journal.record(0.4, "B", "change", "commit", "c1", version=2)
    return journal


def test_entries_across_orders_are_in_sequence_order() -> None:
    journal = filled_journal()
    assert [(e.seq, e.order_id, e.phase) for e in journal.entries()] == [
        (1, "A", "read"),
        (2, "B", "read"),
        (3, "A", "commit"),
        (4, "B", "commit"),
    ]
    assert len(journal) == 4


def test_entry_serialises_every_field() -> None:
    assert filled_journal().entries()[2].to_json() == {
        "seq": 3,
        "t": 0.3,
        "order_id": "A",
        "op": "invoice",
        "phase": "commit",
        "op_id": "i1",
        "version": 2,
        "detail": {"based_on": 1},
    }


def test_entries_since_and_limit_page_through_the_journal() -> None:
    journal = filled_journal()
    assert [e.seq for e in journal.entries(since=1, limit=2)] == [2, 3]
    assert [e.seq for e in journal.entries(since=3)] == [4]
    assert journal.entries(since=4) == []
    assert [e.seq for e in journal.entries(limit=0)] == []


def test_entries_and_for_order_select_one_order() -> None:
    journal = filled_journal()
    assert [e.seq for e in journal.entries(order_id="B")] == [2, 4]
    assert [e.seq for e in journal.entries(order_id="B", since=2)] == [4]
    assert [e.seq for e in journal.for_order("A")] == [1, 3]
    assert journal.for_order("nobody") == []


def test_for_order_returns_a_copy() -> None:
    journal = filled_journal()
    journal.for_order("A").clear()
    assert len(journal.for_order("A")) == 2


def test_forget_drops_one_orders_entries() -> None:
    journal = filled_journal()
    journal.forget("A")
    journal.forget("nobody")
    assert [e.order_id for e in journal.entries()] == ["B", "B"]
    assert len(journal) == 2


def test_over_capacity_the_order_journaled_first_is_dropped_whole() -> None:
    journal = filled_journal(max_entries=4)
    journal.record(0.5, "C", "invoice", "read")
    assert journal.for_order("A") == []
    assert [e.order_id for e in journal.entries()] == ["B", "B", "C"]
    assert len(journal) == 3


def test_sequence_numbers_keep_growing_after_eviction() -> None:
    journal = filled_journal(max_entries=4)
    journal.record(0.5, "C", "invoice", "read")
    assert journal.entries(order_id="C")[0].seq == 5


def test_clear_empties_the_journal() -> None:
    journal = filled_journal()
    journal.clear()
    assert journal.entries() == []
    assert len(journal) == 0


# -- Gates -----------------------------------------------------------------------------------------------


async def test_checkpoint_without_a_gate_passes_at_once() -> None:
    gates = Gates()
    assert not gates.active
    assert await gates.checkpoint("ORD-1", "change.after_read") is False


async def test_held_gate_parks_until_released() -> None:
    gates = Gates()
    gates.hold("ORD-1", "change.after_read")
    assert gates.active
    parked = asyncio.create_task(gates.checkpoint("ORD-1", "change.after_read"))
    await until_parked(gates, "ORD-1", "change.after_read")
    assert gates.held() == [{"order_id": "ORD-1", "point": "change.after_read", "parked": 1}]
    assert not parked.done()

    assert gates.release("ORD-1", "change.after_read") is True
    assert await finished(parked) is True
    assert not gates.active


async def test_gate_only_parks_its_own_order_and_point() -> None:
    gates = Gates()
    gates.hold("ORD-1", "change.after_read")
    assert await gates.checkpoint("ORD-2", "change.after_read") is False
    assert await gates.checkpoint("ORD-1", "invoice.after_read") is False


async def test_release_wakes_every_parked_operation() -> None:
    gates = Gates()
    gates.hold("ORD-1", "invoice.before_commit")
    parked = [asyncio.create_task(gates.checkpoint("ORD-1", "invoice.before_commit")) for _ in range(3)]
    await until_parked(gates, "ORD-1", "invoice.before_commit", count=3)
    gates.release("ORD-1", "invoice.before_commit")
    assert await finished(asyncio.gather(*parked)) == [True, True, True]


async def test_wildcard_gate_parks_every_order() -> None:
    gates = Gates()
    gates.hold("*", "change.after_read")
    parked = [asyncio.create_task(gates.checkpoint(o, "change.after_read")) for o in ("ORD-1", "ORD-2")]
    await until_parked(gates, "*", "change.after_read", count=2)
    gates.release("*", "change.after_read")
    assert await finished(asyncio.gather(*parked)) == [True, True]


async def test_order_gate_is_used_before_the_wildcard() -> None:
    gates = Gates()
    gates.hold("*", "change.after_read")
    gates.hold("ORD-1", "change.after_read")
    parked = asyncio.create_task(gates.checkpoint("ORD-1", "change.after_read"))
    await until_parked(gates, "ORD-1", "change.after_read")
    gates.release("ORD-1", "change.after_read")
    assert await finished(parked) is True
    assert gates.held() == [{"order_id": "*", "point": "change.after_read", "parked": 0}]


async def test_wait_parked_waits_for_the_count() -> None:
    gates = Gates()
    gates.hold("ORD-1", "change.after_read")
    waiter = asyncio.create_task(gates.wait_parked("ORD-1", "change.after_read", count=2))
    first = asyncio.create_task(gates.checkpoint("ORD-1", "change.after_read"))
    await settle()
    assert not waiter.done()
    second = asyncio.create_task(gates.checkpoint("ORD-1", "change.after_read"))
    await finished(waiter)
    gates.release_all()
    await finished(asyncio.gather(first, second))


async def test_wait_parked_without_a_held_gate_is_a_lookup_error() -> None:
    with pytest.raises(LookupError, match=r"^no gate is held at change\.after_read for order ORD-1$"):
        await Gates().wait_parked("ORD-1", "change.after_read")


async def test_release_of_a_gate_not_held_returns_false() -> None:
    assert Gates().release("ORD-1", "change.after_read") is False


async def test_release_all_opens_every_gate() -> None:
    gates = Gates()
    gates.hold("ORD-1", "change.after_read")
    gates.hold("*", "invoice.before_commit")
    parked = [
        asyncio.create_task(gates.checkpoint("ORD-1", "change.after_read")),
        asyncio.create_task(gates.checkpoint("ORD-2", "invoice.before_commit")),
    ]
    await until_parked(gates, "*", "invoice.before_commit")
    await until_parked(gates, "ORD-1", "change.after_read")
    assert gates.release_all() == 2
    assert await finished(asyncio.gather(*parked)) == [True, True]
    assert not gates.active
    assert gates.held() == []


# -- Work ------------------------------------------------------------------------------------------------


def test_enter_and_leave_count_pending_work_per_key() -> None:
    work = Work()
    work.enter("A")
    work.enter("A")
    work.enter("B")
    assert (work.pending(), work.pending("A"), work.pending("B"), work.pending("C")) == (3, 2, 1, 0)
    assert work.pending_by_key() == {"A": 2, "B": 1}
    work.leave("A")
    work.leave("A")
    assert work.pending_by_key() == {"B": 1}
    assert work.pending() == 1


async def test_wait_idle_returns_at_once_when_nothing_is_pending() -> None:
    work = Work()
    await work.wait_idle()
    await work.wait_idle("A")


async def test_wait_idle_per_key_and_globally() -> None:
    work = Work()
    work.enter("A")
    work.enter("B")
    idle_a = asyncio.create_task(work.wait_idle("A"))
    idle_all = asyncio.create_task(work.wait_idle())
    await settle()
    assert not idle_a.done()

    work.leave("A")
    await finished(idle_a)
    assert not idle_all.done()

    work.leave("B")
    await finished(idle_all)


async def test_spawn_counts_the_task_as_pending_work_of_its_key() -> None:
    work = Work()
    go = asyncio.Event()
    work.spawn("A", go.wait(), name="waiter")
    assert work.pending("A") == 1
    go.set()
    await work.wait_idle("A")
    assert work.pending() == 0
    assert work.errors == 0


async def test_spawn_counts_and_logs_a_failing_task(caplog: pytest.LogCaptureFixture) -> None:
    async def boom() -> None:
        raise RuntimeError("boom")

    work = Work()
    with caplog.at_level(logging.ERROR, logger="simulator"):
        work.spawn("A", boom(), name="worker-A")
        await work.wait_idle("A")
    assert work.errors == 1
    [record] = [r for r in caplog.records if r.name == "simulator"]
    assert record.getMessage() == "background task worker-A failed"
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "boom"


async def test_aclose_cancels_background_tasks_without_counting_errors() -> None:
    work = Work()
    work.spawn("A", asyncio.Event().wait(), name="forever")
    await work.aclose()
    await work.wait_idle()
    assert work.errors == 0


# -- Core: ids, phases -----------------------------------------------------------------------------------


async def test_new_ids_are_reproducible_from_the_seed() -> None:
    a, b, c = Core(SimConfig(seed=4)), Core(SimConfig(seed=4)), Core(SimConfig(seed=5))
    ids_a = [a.new_id("ORD-1", "change") for _ in range(3)]
    assert ids_a == [b.new_id("ORD-1", "change") for _ in range(3)]
    assert ids_a[0] != c.new_id("ORD-1", "change")
    assert len(set(ids_a)) == 3


@pytest.mark.looptime
async def test_op_delay_waits_the_drawn_delay_on_the_loop_clock() -> None:
    core, _ = await started_core()
    op = core.op("invoice", "K", "i1")
    t0 = core.now()
    assert await op.delay("process", Fixed(ms=250)) == 250.0
    assert core.now() - t0 == pytest.approx(0.25)
    assert await op.delay("respond", Fixed()) == 0.0
    assert core.now() - t0 == pytest.approx(0.25)


async def test_op_checkpoint_is_journaled_when_it_parked() -> None:
    core, _ = await started_core()
    core.gates.hold("K", "change.after_read")
    op = core.op("change", "K", "c1")
    parked = asyncio.create_task(op.checkpoint("after_read"))
    await until_parked(core.gates, "K", "change.after_read")
    core.gates.release("K", "change.after_read")
    await finished(parked)
    assert phases(core) == [("change", "released")]
    assert entry(core, "change", "released").detail == {"point": "change.after_read"}


# -- Core.transaction: snapshot --------------------------------------------------------------------------


@pytest.mark.looptime
async def test_snapshot_read_without_lag_sees_the_latest_version() -> None:
    core, store = await started_core()
    await transact(core, store, "invoice", NO_LAG, tagged("a"))
    seen, committed = await transact(core, store, "change", NO_LAG, tagged("b"))
    assert seen == Doc(2, ("a",))
    assert committed == Doc(3, ("a", "b"))


@pytest.mark.looptime
async def test_snapshot_read_with_lag_sees_the_version_current_that_long_ago() -> None:
    core, store = await started_core()
    await asyncio.sleep(1)
    await transact(core, store, "invoice", NO_LAG, tagged("a"))  # v2 at t=1s
    seen, _ = await transact(core, store, "change", LAG_500, tagged("b"))
    assert seen == Doc(1)
    read = entry(core, "change", "read")
    assert (read.version, read.detail) == (1, {"lag_ms": 500.0, "latest": 2})


@pytest.mark.looptime
async def test_snapshot_read_lag_passes_once_the_commit_is_old_enough() -> None:
    core, store = await started_core()
    await asyncio.sleep(1)
    await transact(core, store, "invoice", NO_LAG, tagged("a"))
    await asyncio.sleep(0.6)
    seen, _ = await transact(core, store, "change", LAG_500, tagged("b"))
    assert seen == Doc(2, ("a",))


@pytest.mark.looptime
async def test_snapshot_merge_commit_applies_to_the_latest_version_write_skew() -> None:
    """The Change decided on v1 (no invoice) but its result is applied on top of v2 (with the invoice)."""
    core, store = await started_core()
    await asyncio.sleep(1)
    await transact(core, store, "invoice", NO_LAG, tagged("invoice"))
    seen, committed = await transact(core, store, "change", LAG_500, tagged("change"))
    assert seen.tags == ()
    assert committed == Doc(3, ("invoice", "change"))
    assert store.get("K") == committed
    commit = entry(core, "change", "commit")
    assert (commit.version, commit.detail) == (3, {"based_on": 2})


@pytest.mark.looptime
async def test_snapshot_document_commit_overwrites_a_concurrent_commit_lost_update() -> None:
    core, store = await started_core()
    await asyncio.sleep(1)
    await transact(core, store, "invoice", NO_LAG, tagged("invoice"))
    document = WriteTiming(read_lag=Fixed(ms=500), write="document")
    _, committed = await transact(core, store, "change", document, tagged("change"))
    assert committed == Doc(3, ("change",))  # the invoice's v2 is lost
    commit = entry(core, "change", "commit")
    assert (commit.version, commit.detail) == (3, {"based_on": 1, "overwrote": [2]})


@pytest.mark.looptime
async def test_snapshot_document_commit_over_its_own_read_overwrites_nothing() -> None:
    core, store = await started_core()
    document = WriteTiming(write="document")
    _, committed = await transact(core, store, "change", document, tagged("change"))
    assert committed == Doc(2, ("change",))
    assert entry(core, "change", "commit").detail == {"based_on": 1}


async def test_snapshot_commit_does_not_wait_for_a_transaction_parked_between_read_and_commit() -> None:
    core, store = await started_core()
    core.gates.hold("K", "change.after_read")
    change = asyncio.create_task(transact(core, store, "change", NO_LAG, tagged("change")))
    await until_parked(core.gates, "K", "change.after_read")

    _, invoice = await transact(core, store, "invoice", NO_LAG, tagged("invoice"))  # no lock: goes straight through
    assert invoice == Doc(2, ("invoice",))

    core.gates.release("K", "change.after_read")
    seen, committed = await finished(change)
    assert seen == Doc(1)
    assert committed == Doc(3, ("invoice", "change"))
    assert ("invoice", "lock_wait") not in phases(core)


@pytest.mark.looptime
async def test_precheck_failure_aborts_without_writing() -> None:
    core, store = await started_core()

    def refuse(latest: Doc) -> None:
        raise ValueError(f"v{latest.version} is canceled")

    with pytest.raises(ValueError, match="v1 is canceled"):
        await transact(core, store, "invoice", NO_LAG, tagged("invoice"), precheck=refuse)
    assert store.get("K") == Doc(1)
    assert len(store.history("K").states) == 1
    abort = entry(core, "invoice", "abort")
    assert (abort.version, abort.detail) == (1, {"reason": "v1 is canceled"})
    assert ("invoice", "commit") not in phases(core)


@pytest.mark.looptime
async def test_precheck_is_judged_against_the_latest_version_not_the_snapshot() -> None:
    core, store = await started_core()
    await asyncio.sleep(1)
    await transact(core, store, "invoice", NO_LAG, tagged("invoice"))
    judged: list[Doc] = []
    seen, _ = await transact(core, store, "change", LAG_500, tagged("change"), precheck=judged.append)
    assert seen.version == 1
    assert judged == [Doc(2, ("invoice",))]


@pytest.mark.looptime
async def test_commit_records_its_detail_and_remembers_the_previous_version() -> None:
    core, store = await started_core()
    op = core.op("invoice", "K", "i1")
    async with core.transaction(store, "K", op, NO_LAG) as tx:
        await tx.read()
        await tx.commit(tagged("a"), invoice="NF-1")
    assert tx.previous == Doc(1)
    assert entry(core, "invoice", "commit").detail == {"based_on": 1, "invoice": "NF-1"}
    assert entry(core, "invoice", "commit").op_id == "i1"


# -- Core.transaction: serializable ----------------------------------------------------------------------


@pytest.mark.looptime
async def test_serializable_second_transaction_waits_for_the_first_and_reads_the_latest() -> None:
    core, store = await started_core(consistency="serializable")
    core.gates.hold("K", "change.after_read")
    change = asyncio.create_task(transact(core, store, "change", LAG_500, tagged("change")))
    await until_parked(core.gates, "K", "change.after_read")

    invoice = asyncio.create_task(transact(core, store, "invoice", LAG_500, tagged("invoice")))
    await settle()
    assert ("invoice", "lock_wait") in phases(core)
    assert not invoice.done()
    assert store.get("K") == Doc(1)

    core.gates.release("K", "change.after_read")
    assert await finished(change) == (Doc(1), Doc(2, ("change",)))
    assert await finished(invoice) == (Doc(2, ("change",)), Doc(3, ("change", "invoice")))  # read lag ignored: latest
    assert phases(core) == [
        ("change", "read"),
        ("invoice", "lock_wait"),
        ("change", "released"),
        ("change", "commit"),
        ("invoice", "read"),
        ("invoice", "commit"),
    ]


@pytest.mark.looptime
async def test_serializable_read_ignores_the_read_lag() -> None:
    core, store = await started_core(consistency="serializable")
    await asyncio.sleep(1)
    await transact(core, store, "invoice", NO_LAG, tagged("a"))
    seen, _ = await transact(core, store, "change", LAG_500, tagged("b"))
    assert seen == Doc(2, ("a",))
    assert entry(core, "change", "read").detail == {"lag_ms": 0.0, "latest": 2}


@pytest.mark.looptime
async def test_serializable_document_write_overwrites_nothing() -> None:
    core, store = await started_core(consistency="serializable")
    await asyncio.sleep(1)
    await transact(core, store, "invoice", NO_LAG, tagged("invoice"))
    document = WriteTiming(read_lag=Fixed(ms=500), write="document")
    _, committed = await transact(core, store, "change", document, tagged("change"))
    assert committed == Doc(3, ("invoice", "change"))
    assert entry(core, "change", "commit").detail == {"based_on": 2}


@pytest.mark.looptime
async def test_serializable_lock_is_per_key() -> None:
    core, store = await started_core(consistency="serializable")
    store.create("L", Doc(1), core.now())
    core.gates.hold("K", "change.after_read")
    change = asyncio.create_task(transact(core, store, "change", NO_LAG, tagged("change")))
    await until_parked(core.gates, "K", "change.after_read")

    op = core.op("invoice", "L", "i1")
    async with core.transaction(store, "L", op, NO_LAG) as tx:  # another key: no wait
        await tx.read()
        assert await tx.commit(tagged("invoice")) == Doc(2, ("invoice",))
    assert [e.phase for e in core.journal.for_order("L")] == ["read", "commit"]

    core.gates.release_all()
    await finished(change)
