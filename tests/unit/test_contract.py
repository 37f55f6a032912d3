"""The contract both sides speak (`simulator.contract`): durations, the delay distributions, statuses, header names.

Distributions are validated the way profiles and scenarios use them: as a `Delay` field of a pydantic model. Their
draws are pinned by properties, and by one fact that matters more than any value: a profile's delay and a scenario's
`at` that say the same thing draw the same numbers from the same seed.
"""

from __future__ import annotations

import ast
import math
import random
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

import simulator.contract as contract
from harness.scenarios import expand, load_scenario
from simulator import load_profile
from simulator.contract import (
    CONTROL_HEADER,
    CONTROL_TOKEN_HEADER,
    DISTRIBUTIONS,
    MAX_DURATION_MS,
    ORDER_STATUSES,
    BoundsError,
    Delay,
    Distribution,
    DurationError,
    Empirical,
    Exponential,
    Fixed,
    LogNormal,
    Normal,
    Pareto,
    Uniform,
    parse_duration_ms,
)
from simulator.timing import RngStreams

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = 2000


class Holder(BaseModel):
    """A model with one `Delay` field, as every timing section of a profile has."""

    delay: Delay


def delay(value: Any) -> Any:
    return Holder(delay=value).delay


def draws(dist: Distribution, n: int = SAMPLES, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [dist.draw_ms(rng) for _ in range(n)]


def error_text(value: Any) -> str:
    with pytest.raises(ValidationError) as info:
        Holder(delay=value)
    return str(info.value)


# -- the package -------------------------------------------------------------------------------------------------


def test_the_public_face_is_sorted_and_complete() -> None:
    assert contract.__all__ == sorted(contract.__all__, key=lambda n: (not n.isupper(), n[0].islower(), n))
    for name in contract.__all__:
        assert getattr(contract, name) is not None, name
    for name in ("CENT", "round2", "vat_per_unit", "from_cents", "money_json"):  # the money part, re-exported
        assert name in contract.__all__


def test_the_contract_imports_only_the_standard_library_and_pydantic() -> None:
    allowed = {"pydantic", "pydantic_core", *sys.stdlib_module_names}
    for path in sorted((ROOT / "simulator" / "contract").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level == 1:  # a sibling inside the contract
                    continue
                assert node.level == 0, f"{path.name}:{node.lineno} reaches out of the contract"
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name}:{node.lineno} imports {name}"


def test_importing_the_contract_loads_neither_aiohttp_nor_the_rest_of_racelab() -> None:
    """The harness's pure modules and the locust processes import it: the simulator's server must not come along."""
    code = textwrap.dedent(
        """
        import sys
        import simulator.contract
        print("\\n".join(sorted(sys.modules)))
        """
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [m for m in loaded if m.split(".")[0] in {"aiohttp", "asyncio", "harness", "yaml", "pydantic"}]
    # The durations and distributions (pydantic) load on first use: the blocking driver needs only headers and money.
    assert {m for m in loaded if m.startswith("simulator")} == {
        "simulator",
        "simulator.contract",
        *(
            f"simulator.contract.{p.stem}"
            for p in (ROOT / "simulator" / "contract").glob("[!_]*.py")
            if p.stem not in ("timing", "operations")  # on first use (operations: the proxy's and calibrate's table)
        ),
    }


def test_the_contracts_timing_names_load_on_first_use() -> None:
    import simulator.contract as contract
    from simulator.contract import timing

    assert contract.Pareto is timing.Pareto
    assert contract.parse_duration_ms("1.5s") == 1500.0
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = contract.Nope  # type: ignore[attr-defined]


def test_the_simulator_names_what_the_contract_names() -> None:
    from simulator.orders.model import STATUSES

    assert STATUSES == ORDER_STATUSES
    assert (CONTROL_HEADER, CONTROL_TOKEN_HEADER) == ("X-Racelab-Control", "X-Racelab-Token")


# -- durations ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ms"),
    [(20, 20.0), (20.5, 20.5), ("20ms", 20.0), ("20", 20.0), ("1.5s", 1500.0), (" 3 s ", 3000.0), (0, 0.0)],
)
def test_parse_duration_accepts_numbers_and_unit_strings(value: object, ms: float) -> None:
    assert parse_duration_ms(value) == ms


@pytest.mark.parametrize("value", ["fast", "1e3", "20 minutes", "2h", "", True, None, [20]])
def test_parse_duration_rejects_other_forms_and_shows_accepted_ones(value: object) -> None:
    with pytest.raises(DurationError, match=r"expected a duration such as 20, '20ms' or '1\.5s'") as info:
        parse_duration_ms(value)
    assert info.value.ms is None  # not a duration at all: nothing to measure
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("value", "ms"),
    [(-1, -1.0), ("-5ms", -5.0), (3_600_001, 3_600_001.0), ("3601s", 3_601_000.0), (math.inf, math.inf)],
)
def test_parse_duration_rejects_values_outside_zero_to_one_hour(value: object, ms: float) -> None:
    with pytest.raises(DurationError, match="between 0 and 3600000 ms") as info:
        parse_duration_ms(value)
    assert info.value.ms == ms  # what it spells, so that a caller can word its own message


def test_parse_duration_rejects_nan() -> None:
    with pytest.raises(DurationError, match="between 0 and 3600000 ms"):
        parse_duration_ms(math.nan)


def test_an_hour_is_the_longest_duration() -> None:
    assert parse_duration_ms("3600s") == MAX_DURATION_MS == 3_600_000.0


# -- shorthand and kinds -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ms"), [(20, 20.0), ("20ms", 20.0), ("1.5s", 1500.0), ({"ms": 5}, 5.0), ({"ms": "2s"}, 2000.0)]
)
def test_shorthand_means_a_fixed_delay(value: Any, ms: float) -> None:
    assert delay(value) == Fixed(ms=ms)


def test_each_kind_is_parsed_to_its_model() -> None:
    specs: list[dict[str, Any]] = [
        {"kind": "fixed", "ms": 3},
        {"kind": "uniform", "min_ms": 1, "max_ms": "2ms"},
        {"kind": "normal", "mean_ms": 100, "sd_ms": 20, "max_ms": 500},
        {"kind": "lognormal", "median_ms": 250, "sigma": 1.0, "cap_ms": "4s"},
        {"kind": "exponential", "mean_ms": 100, "cap_ms": 2000},
        {"kind": "pareto", "scale_ms": 20, "alpha": 1.5, "cap_ms": 5000},
        {"kind": "empirical", "values_ms": [12, "15ms", "0.5s"]},
    ]
    assert [spec["kind"] for spec in specs] == list(DISTRIBUTIONS)
    for spec in specs:
        assert type(delay(spec)) is DISTRIBUTIONS[spec["kind"]], spec


def test_duration_strings_are_accepted_inside_every_ms_field() -> None:
    assert delay({"kind": "lognormal", "median_ms": "0.25s", "sigma": 1, "cap_ms": "4s"}) == LogNormal(
        kind="lognormal", median_ms=250, sigma=1.0, cap_ms=4000
    )
    assert delay({"kind": "empirical", "values_ms": ["1s", 3]}).values_ms == [1000.0, 3.0]


# -- validation --------------------------------------------------------------------------------------------------


def test_negative_delay_is_rejected_with_the_allowed_range() -> None:
    assert "a duration must lie between 0 and 3600000 ms, got -1 ms" in error_text(-1)


def test_unparsable_delay_string_shows_the_accepted_forms() -> None:
    assert "expected a duration such as 20, '20ms' or '1.5s', got 'fast'" in error_text("fast")


@pytest.mark.parametrize("kind", ["uniform", "normal"])
def test_max_below_min_is_rejected_naming_both_bounds(kind: str) -> None:
    extra = {"mean_ms": 3, "sd_ms": 1} if kind == "normal" else {}
    text = error_text({"kind": kind, "min_ms": 5, "max_ms": 1, **extra})
    assert "max_ms (1) must not be below min_ms (5)" in text


def test_a_bounds_error_names_both_bounds_for_a_caller_to_word() -> None:
    with pytest.raises(ValidationError) as info:
        Holder(delay={"kind": "uniform", "min_ms": "1s", "max_ms": 5})
    (error,) = info.value.errors()
    cause = error["ctx"]["error"]
    assert isinstance(cause, BoundsError)
    assert isinstance(cause, ValueError)
    assert (cause.field, cause.value, cause.lower, cause.lower_value) == ("max_ms", 5.0, "min_ms", 1000.0)


def test_unknown_kind_lists_the_known_kinds() -> None:
    text = error_text({"kind": "gamma", "ms": 3})
    assert "'gamma'" in text
    for kind in DISTRIBUTIONS:
        assert f"'{kind}'" in text


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "fixed", "ms": 1, "max_ms": 2},  # unknown field
        {"kind": "lognormal", "median_ms": 0, "sigma": 1},  # median must be > 0
        {"kind": "lognormal", "median_ms": 10, "sigma": 6},  # sigma <= 5
        {"kind": "exponential", "mean_ms": 0},
        {"kind": "pareto", "scale_ms": 20, "alpha": 0},
        {"kind": "pareto", "scale_ms": 20, "alpha": 101},
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


# -- is_zero -----------------------------------------------------------------------------------------------------


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


# -- draws -------------------------------------------------------------------------------------------------------


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


def test_an_uncapped_pareto_is_held_to_an_hour() -> None:
    """A tail past any float would be `inf`, which no schedule can wait for: an hour is the longest duration."""
    dist = Pareto(kind="pareto", scale_ms=20, alpha=0.01)
    assert dist.draw_ms(AlmostOne()) == MAX_DURATION_MS
    xs = draws(Pareto(kind="pareto", scale_ms=20, alpha=0.05), n=500)
    assert max(xs) == MAX_DURATION_MS
    assert all(20 <= x <= MAX_DURATION_MS for x in xs)


@given(alpha=st.floats(min_value=1e-300, max_value=100), seed=st.integers(0, 2**32))
def test_an_uncapped_pareto_draw_is_always_a_finite_duration(alpha: float, seed: int) -> None:
    dist = Pareto(kind="pareto", scale_ms=20, alpha=alpha)
    assert all(20 <= x <= MAX_DURATION_MS for x in draws(dist, n=20, seed=seed))


@given(values=st.lists(ms_values, min_size=1, max_size=20), seed=st.integers(0, 2**32))
def test_empirical_draws_come_from_its_values(values: list[float], seed: int) -> None:
    dist = Empirical(kind="empirical", values_ms=values)
    assert set(draws(dist, n=50, seed=seed)) <= set(values)


# -- one draw for both sides -------------------------------------------------------------------------------------

SPECS: list[dict[str, Any]] = [
    {"kind": "fixed", "ms": 20},
    {"kind": "uniform", "min_ms": 50, "max_ms": 1000},
    {"kind": "normal", "mean_ms": 100, "sd_ms": 40, "min_ms": 50, "max_ms": 150},
    {"kind": "lognormal", "median_ms": "250ms", "sigma": 1.0, "cap_ms": "1s"},
    {"kind": "exponential", "mean_ms": 100, "cap_ms": 300},
    {"kind": "pareto", "scale_ms": 20, "alpha": 1.5, "cap_ms": 5000},
    {"kind": "pareto", "scale_ms": 20, "alpha": 0.05},
    {"kind": "empirical", "values_ms": [12, "15ms", 40, "0.3s"]},
]

SCENARIO = """\
name: drawn
order: {{items: [{{id: sku-1, price: 4990, quantity: 1}}]}}
integrations: [naive]
steps:
  - {{at: {at}, do: invoice}}
runs: 20
"""


def flow(spec: dict[str, Any]) -> str:
    """A spec as a YAML flow mapping, as a scenario file would write it."""
    return "{" + ", ".join(f"{k}: {v!r}".replace("'", "") for k, v in spec.items()) + "}"


@pytest.mark.parametrize("spec", SPECS, ids=[f"{s['kind']}{i}" for i, s in enumerate(SPECS)])
def test_a_profile_and_a_scenario_that_say_the_same_draw_the_same(tmp_path: Path, spec: dict[str, Any]) -> None:
    """The simulator's profile delay and the harness's step `at`, read by each side's own loader, from one seed."""
    theirs = load_profile("instant", overrides={"orders": {"change": {"read_lag": spec}}}).orders.change.read_lag
    path = tmp_path / "drawn.yaml"
    path.write_text(SCENARIO.format(at=flow(spec)), encoding="utf-8")
    ours = load_scenario(path).steps[0].at
    assert isinstance(ours, Distribution)
    for seed in range(20):
        sim = RngStreams(seed).get("ORD-1", "change", "read_lag")
        harness = random.Random(f"{seed}|ORD-1|change|read_lag")
        assert [theirs.draw_ms(sim) for _ in range(50)] == [ours.draw_ms(harness) for _ in range(50)]
        assert sim.getstate() == harness.getstate()  # and each draw consumes the stream alike


@pytest.mark.parametrize("spec", SPECS, ids=[f"{s['kind']}{i}" for i, s in enumerate(SPECS)])
def test_a_scenario_schedules_what_the_contract_draws(tmp_path: Path, spec: dict[str, Any]) -> None:
    """`expand` draws each repetition's `at` from its named stream with the contract's model."""
    path = tmp_path / "drawn.yaml"
    path.write_text(SCENARIO.format(at=flow(spec)), encoding="utf-8")
    model = delay(spec)
    specs = expand(load_scenario(path), seed=3)
    expected = [model.draw_ms(random.Random(f"3|drawn|0|{r}|0")) for r in range(20)]
    assert [s.steps[0].at_ms for s in specs] == expected
