"""Delay distributions, their shorthand and validation, and the seeded RNG streams (`simulator.timing`).

Distributions are validated the way profiles use them: as a `Delay` field of a pydantic model.
"""

from __future__ import annotations

import math
import random
import statistics
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from simulator.timing import (
    Delay,
    Empirical,
    Exponential,
    Fixed,
    LogNormal,
    Normal,
    Pareto,
    RngStreams,
    Uniform,
    parse_duration_ms,
)

SAMPLES = 2000


class Holder(BaseModel):
    """A model with one `Delay` field, as every timing section of a profile has."""

    delay: Delay


def delay(value: Any) -> Any:
    return Holder(delay=value).delay


def draws(dist: Any, n: int = SAMPLES, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [dist.draw_ms(rng) for _ in range(n)]


def error_text(value: Any) -> str:
    with pytest.raises(ValidationError) as info:
        Holder(delay=value)
    return str(info.value)


# -- durations -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ms"),
    [(20, 20.0), (20.5, 20.5), ("20ms", 20.0), ("20", 20.0), ("1.5s", 1500.0), (" 3 s ", 3000.0), (0, 0.0)],
)
def test_parse_duration_accepts_numbers_and_unit_strings(value: object, ms: float) -> None:
    assert parse_duration_ms(value) == ms


@pytest.mark.parametrize("value", ["fast", "1e3", "20 minutes", "", True, None, [20]])
def test_parse_duration_rejects_other_forms_and_shows_accepted_ones(value: object) -> None:
    with pytest.raises(ValueError, match=r"expected a duration such as 20, '20ms' or '1\.5s'"):
        parse_duration_ms(value)


@pytest.mark.parametrize("value", [-1, "-5ms", 3_600_001, "3601s", math.inf, math.nan])
def test_parse_duration_rejects_values_outside_zero_to_one_hour(value: object) -> None:
    with pytest.raises(ValueError, match="between 0 and 3600000 ms"):
        parse_duration_ms(value)


# -- shorthand -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ms"), [(20, 20.0), ("20ms", 20.0), ("1.5s", 1500.0), ({"ms": 5}, 5.0), ({"ms": "2s"}, 2000.0)]
)
def test_shorthand_means_a_fixed_delay(value: Any, ms: float) -> None:
    assert delay(value) == Fixed(ms=ms)


def test_each_kind_is_parsed_to_its_model() -> None:
    specs: list[tuple[dict[str, Any], type]] = [
        ({"kind": "fixed", "ms": 3}, Fixed),
        ({"kind": "uniform", "min_ms": 1, "max_ms": "2ms"}, Uniform),
        ({"kind": "normal", "mean_ms": 100, "sd_ms": 20, "max_ms": 500}, Normal),
        ({"kind": "lognormal", "median_ms": 250, "sigma": 1.0, "cap_ms": "4s"}, LogNormal),
        ({"kind": "exponential", "mean_ms": 100, "cap_ms": 2000}, Exponential),
        ({"kind": "pareto", "scale_ms": 20, "alpha": 1.5, "cap_ms": 5000}, Pareto),
        ({"kind": "empirical", "values_ms": [12, "15ms", "0.5s"]}, Empirical),
    ]
    for spec, model in specs:
        assert type(delay(spec)) is model, spec


def test_duration_strings_are_accepted_inside_every_ms_field() -> None:
    assert delay({"kind": "lognormal", "median_ms": "0.25s", "sigma": 1, "cap_ms": "4s"}) == LogNormal(
        kind="lognormal", median_ms=250, sigma=1.0, cap_ms=4000
    )
    assert delay({"kind": "empirical", "values_ms": ["1s", 3]}).values_ms == [1000.0, 3.0]


# -- validation ------------------------------------------------------------------------------------------


def test_negative_delay_is_rejected_with_the_allowed_range() -> None:
    assert "a duration must lie between 0 and 3600000 ms, got -1 ms" in error_text(-1)


def test_unparsable_delay_string_shows_the_accepted_forms() -> None:
    assert "expected a duration such as 20, '20ms' or '1.5s', got 'fast'" in error_text("fast")


@pytest.mark.parametrize("kind", ["uniform", "normal"])
def test_max_below_min_is_rejected_naming_both_bounds(kind: str) -> None:
    extra = {"mean_ms": 3, "sd_ms": 1} if kind == "normal" else {}
    text = error_text({"kind": kind, "min_ms": 5, "max_ms": 1, **extra})
    assert "max_ms (1) must not be below min_ms (5)" in text


def test_unknown_kind_lists_the_known_kinds() -> None:
    text = error_text({"kind": "gamma", "ms": 3})
    assert "'gamma'" in text
    for kind in ("fixed", "uniform", "normal", "lognormal", "exponential", "pareto", "empirical"):
        assert f"'{kind}'" in text


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "fixed", "ms": 1, "max_ms": 2},  # unknown field
        {"kind": "lognormal", "median_ms": 0, "sigma": 1},  # median must be > 0
        {"kind": "lognormal", "median_ms": 10, "sigma": 6},  # sigma <= 5
        {"kind": "exponential", "mean_ms": 0},
        {"kind": "pareto", "scale_ms": 20, "alpha": 0},
        {"kind": "empirical", "values_ms": []},
        {"kind": "empirical", "values_ms": [1, -2]},
        {"ms": 5, "sigma": 1},  # not the shorthand, and no kind
        True,
    ],
)
def test_invalid_distribution_is_rejected(spec: Any) -> None:
    with pytest.raises(ValidationError):
        Holder(delay=spec)


def test_distributions_are_immutable() -> None:
    dist = Fixed(ms=5)
    with pytest.raises(ValidationError):
        dist.ms = 6  # type: ignore[misc]


# -- is_zero ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "zero"),
    [
        (0, True),
        ("0ms", True),
        (1, False),
        ({"kind": "uniform", "min_ms": 0, "max_ms": 0}, True),
        ({"kind": "uniform", "min_ms": 0, "max_ms": 1}, False),
        ({"kind": "empirical", "values_ms": [0, 0]}, True),
        ({"kind": "empirical", "values_ms": [0, 1]}, False),
        ({"kind": "lognormal", "median_ms": 1, "sigma": 0}, False),
        ({"kind": "exponential", "mean_ms": 1}, False),
    ],
)
def test_is_zero_only_when_every_draw_is_zero(spec: Any, zero: bool) -> None:
    assert delay(spec).is_zero is zero


def test_default_fixed_delay_is_zero() -> None:
    assert Fixed().is_zero
    assert draws(Fixed(), n=3) == [0.0, 0.0, 0.0]


# -- draws -----------------------------------------------------------------------------------------------


def test_fixed_always_draws_its_value() -> None:
    assert set(draws(Fixed(ms=20))) == {20.0}


def test_uniform_spreads_over_its_whole_range() -> None:
    xs = draws(Uniform(kind="uniform", min_ms=50, max_ms=1000))
    assert 50 <= min(xs) < 100
    assert 950 < max(xs) <= 1000
    assert 500 < statistics.mean(xs) < 550


def test_normal_is_truncated_to_its_window() -> None:
    xs = draws(Normal(kind="normal", mean_ms=100, sd_ms=50, min_ms=80, max_ms=120))
    assert all(80 <= x <= 120 for x in xs)
    assert len(set(xs)) > SAMPLES // 2  # rejection sampling, not clamping


def test_normal_with_window_far_from_mean_falls_back_to_the_nearest_bound() -> None:
    dist = Normal(kind="normal", mean_ms=1000, sd_ms=1, min_ms=0, max_ms=10)
    assert set(draws(dist, n=20)) == {10.0}


def test_normal_without_max_is_bounded_below_only() -> None:
    xs = draws(Normal(kind="normal", mean_ms=10, sd_ms=20))
    assert min(xs) >= 0
    assert max(xs) > 50


def test_lognormal_median_is_near_its_parameter_and_cap_bounds_the_tail() -> None:
    uncapped = draws(LogNormal(kind="lognormal", median_ms=250, sigma=1.0))
    assert 200 < statistics.median(uncapped) < 310
    assert max(uncapped) > 2000
    capped = draws(LogNormal(kind="lognormal", median_ms=250, sigma=1.0, cap_ms=2000))
    assert max(capped) == 2000.0


def test_exponential_mean_is_near_its_parameter_and_cap_bounds_the_tail() -> None:
    uncapped = draws(Exponential(kind="exponential", mean_ms=100))
    assert 90 < statistics.mean(uncapped) < 110
    capped = draws(Exponential(kind="exponential", mean_ms=100, cap_ms=150))
    assert max(capped) == 150.0
    assert min(capped) >= 0


def test_pareto_stays_above_its_scale_and_cap_bounds_the_tail() -> None:
    uncapped = draws(Pareto(kind="pareto", scale_ms=20, alpha=1.5))
    assert min(uncapped) >= 20
    assert max(uncapped) > 500
    capped = draws(Pareto(kind="pareto", scale_ms=20, alpha=1.5, cap_ms=100))
    assert max(capped) == 100.0
    assert min(capped) >= 20


def test_empirical_draws_only_and_all_of_its_values() -> None:
    xs = draws(Empirical(kind="empirical", values_ms=[12, 15, 40, 300]))
    assert set(xs) == {12.0, 15.0, 40.0, 300.0}


ms_values = st.floats(min_value=0, max_value=10_000, allow_nan=False)


@given(lo=ms_values, span=ms_values, seed=st.integers(0, 2**32))
def test_uniform_draws_stay_within_bounds(lo: float, span: float, seed: int) -> None:
    dist = Uniform(kind="uniform", min_ms=lo, max_ms=lo + span)
    assert all(lo <= x <= lo + span for x in draws(dist, n=50, seed=seed))


@given(
    mean=ms_values,
    sd=st.floats(min_value=0, max_value=5_000),
    lo=ms_values,
    span=ms_values,
    seed=st.integers(0, 2**32),
)
def test_normal_draws_stay_within_bounds(mean: float, sd: float, lo: float, span: float, seed: int) -> None:
    dist = Normal(kind="normal", mean_ms=mean, sd_ms=sd, min_ms=lo, max_ms=lo + span)
    assert all(lo <= x <= lo + span for x in draws(dist, n=50, seed=seed))


@given(
    kind=st.sampled_from(["lognormal", "exponential", "pareto"]),
    center=st.floats(min_value=0.001, max_value=10_000),
    shape=st.floats(min_value=0.5, max_value=5),
    cap=ms_values,
    seed=st.integers(0, 2**32),
)
def test_capped_draws_never_exceed_the_cap(kind: str, center: float, shape: float, cap: float, seed: int) -> None:
    spec: dict[str, Any] = {
        "lognormal": {"median_ms": center, "sigma": shape},
        "exponential": {"mean_ms": center},
        "pareto": {"scale_ms": center, "alpha": shape},
    }[kind]
    dist = delay({"kind": kind, "cap_ms": cap, **spec})
    assert all(0 <= x <= cap for x in draws(dist, n=50, seed=seed))


class AlmostOne(random.Random):
    """A stream whose next uniform draw is 0.9999: the far tail of every inverse-transform sampler."""

    def random(self) -> float:
        return 0.9999


def test_pareto_with_small_alpha_draws_the_cap_instead_of_overflowing() -> None:
    dist = Pareto(kind="pareto", scale_ms=20, alpha=0.01, cap_ms=5000)
    assert dist.draw_ms(AlmostOne()) == 5000.0


@given(values=st.lists(ms_values, min_size=1, max_size=20), seed=st.integers(0, 2**32))
def test_empirical_draws_come_from_its_values(values: list[float], seed: int) -> None:
    dist = Empirical(kind="empirical", values_ms=values)
    assert set(draws(dist, n=50, seed=seed)) <= set(values)


# -- RngStreams ------------------------------------------------------------------------------------------


def sequence(rng: random.Random, n: int = 5) -> list[float]:
    return [rng.random() for _ in range(n)]


def test_same_seed_key_op_phase_gives_the_same_sequence() -> None:
    a = sequence(RngStreams(seed=7).get("ORD-1", "change", "read_lag"))
    b = sequence(RngStreams(seed=7).get("ORD-1", "change", "read_lag"))
    assert a == b


@pytest.mark.parametrize(
    "other", [(8, "ORD-1", "change", "read_lag"), (7, "ORD-2", "change", "read_lag"),
              (7, "ORD-1", "invoice", "read_lag"), (7, "ORD-1", "change", "process")],
)  # fmt: skip
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
