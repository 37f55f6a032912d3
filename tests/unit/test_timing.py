"""The seeded RNG streams the simulator draws its delays from (`simulator.timing`).

The distributions drawn from them are the contract's, tested in `test_contract.py`.
"""

from __future__ import annotations

import random

import pytest

from simulator.contract import LogNormal
from simulator.timing import RngStreams

# -- RngStreams ------------------------------------------------------------------------------------------


def sequence(rng: random.Random, n: int = 5) -> list[float]:
    return [rng.random() for _ in range(n)]


def test_same_seed_key_op_phase_gives_the_same_sequence() -> None:
    a = sequence(RngStreams(seed=7).get("ORD-1", "change", "read_lag"))
    b = sequence(RngStreams(seed=7).get("ORD-1", "change", "read_lag"))
    assert a == b


@pytest.mark.parametrize(
    "other",
    [
        (8, "ORD-1", "change", "read_lag"),
        (7, "ORD-2", "change", "read_lag"),
        (7, "ORD-1", "invoice", "read_lag"),
        (7, "ORD-1", "change", "process"),
    ],
)
def test_changing_any_part_of_the_stream_name_gives_another_sequence(other: tuple[int, str, str, str]) -> None:
    seed, key, op, phase = other
    base = sequence(RngStreams(seed=7).get("ORD-1", "change", "read_lag"))
    assert sequence(RngStreams(seed=seed).get(key, op, phase)) != base


def test_get_returns_the_same_stream_object_so_draws_continue() -> None:
    streams = RngStreams(seed=7)
    first = streams.get("ORD-1", "change", "read_lag")
    assert streams.get("ORD-1", "change", "read_lag") is first
    expected = sequence(RngStreams(seed=7).get("ORD-1", "change", "read_lag"), 4)
    assert sequence(first, 2) + sequence(streams.get("ORD-1", "change", "read_lag"), 2) == expected


def test_draws_for_one_key_do_not_depend_on_another_keys_draws() -> None:
    quiet = RngStreams(seed=3)
    busy = RngStreams(seed=3)
    sequence(busy.get("ORD-2", "change", "read_lag"), 100)
    assert sequence(busy.get("ORD-1", "change", "read_lag")) == sequence(quiet.get("ORD-1", "change", "read_lag"))


def test_streams_do_not_depend_on_creation_order() -> None:
    names = [("ORD-1", "change", "queue"), ("ORD-2", "invoice", "process"), ("ORD-1", "invoice", "id")]
    forward, backward = RngStreams(seed=5), RngStreams(seed=5)
    got_forward = {n: sequence(forward.get(*n)) for n in names}
    got_backward = {n: sequence(backward.get(*n)) for n in reversed(names)}
    assert got_forward == got_backward


def test_drop_restarts_only_that_keys_streams() -> None:
    streams = RngStreams(seed=9)
    start_1 = sequence(streams.get("ORD-1", "change", "read_lag"))
    start_2 = sequence(streams.get("ORD-2", "change", "read_lag"))
    streams.drop("ORD-1")
    streams.drop("never-seen")  # dropping an unknown key is harmless
    assert sequence(streams.get("ORD-1", "change", "read_lag")) == start_1
    assert sequence(streams.get("ORD-2", "change", "read_lag")) != start_2  # ORD-2 went on


def test_reset_restarts_every_stream_under_the_new_seed() -> None:
    streams = RngStreams(seed=1)
    sequence(streams.get("ORD-1", "change", "read_lag"))
    streams.reset(2)
    assert streams.seed == 2
    assert sequence(streams.get("ORD-1", "change", "read_lag")) == sequence(
        RngStreams(seed=2).get("ORD-1", "change", "read_lag")
    )


def test_distribution_draws_are_reproducible_through_streams() -> None:
    dist = LogNormal(kind="lognormal", median_ms=250, sigma=1.0, cap_ms=4000)
    a = [dist.draw_ms(RngStreams(seed=1).get(f"ORD-{i}", "change", "read_lag")) for i in range(10)]
    b = [dist.draw_ms(RngStreams(seed=1).get(f"ORD-{i}", "change", "read_lag")) for i in range(10)]
    assert a == b
    assert len(set(a)) == 10
