"""The runner keeps the garbage collector from pausing a real-time sweep: nothing is collected during the runs, and
the collector is as it was afterwards (also after an error)."""

from __future__ import annotations

import gc

import pytest

from harness.drive.embedded import simulator_argv
from harness.drive.runner import _quiet_gc


def test_no_collection_during_the_sweep_and_the_collector_restored_after() -> None:
    collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    assert gc.isenabled()
    gc.callbacks.append(count)
    try:
        with _quiet_gc():
            assert gc.get_freeze_count() > 0
            collections.clear()  # the freeze's own collection is before the sweep
            garbage = [[i] for i in range(200_000)]  # far past every generation's threshold
            assert collections == []
        del garbage
        assert gc.isenabled()
        assert gc.get_freeze_count() == 0
        [[i] for i in range(200_000)]
        assert collections  # collected again after
    finally:
        gc.callbacks.remove(count)


def test_restored_after_an_error_and_left_off_when_it_was_off() -> None:
    with pytest.raises(RuntimeError), _quiet_gc():
        raise RuntimeError("a run failed")
    assert gc.isenabled()
    gc.disable()
    try:
        with _quiet_gc():
            pass
        assert not gc.isenabled()  # the caller's choice stands
    finally:
        gc.enable()


def test_a_sweep_s_simulator_never_collects_a_load_test_s_does() -> None:
    assert "--no-gc" in simulator_argv("default", no_gc=True)
    assert "--no-gc" not in simulator_argv("default")
