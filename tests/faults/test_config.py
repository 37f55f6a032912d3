"""The `faults` section of the simulator's configuration: defaults, validation messages, merge patches, profiles, and
how one uniform draw picks a fault. Pure: no server."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.config import FAULT_CLASSES, FaultKind, RouteFaults, SimConfig, load_profile, merge_patch
from simulator.contract import Fixed, Uniform
from simulator.errors import ConfigError


def test_there_are_no_faults_by_default() -> None:
    faults = SimConfig().faults
    assert faults.active == frozenset()
    for cls in FAULT_CLASSES:
        spec = faults.of(cls)
        assert not spec.any
        assert spec.pick(0.0) is None


@pytest.mark.parametrize("profile", ["default", "fixed", "instant"])
def test_the_existing_profiles_inject_nothing(profile: str) -> None:
    assert load_profile(profile).faults.active == frozenset()


def test_the_faults_profile_faults_only_the_invoice_route() -> None:
    config = load_profile("faults")
    assert config.faults.active == {"invoice"}
    invoice = config.faults.invoice
    assert invoice.hold == Fixed(ms=2500)
    assert 0.3 <= sum(getattr(invoice, k.value) for k in FaultKind) <= 0.5
    assert config.orders.invoice.read_lag == Uniform(kind="uniform", min_ms=2000, max_ms=3000)


def test_a_patch_sets_one_class_and_keeps_the_others() -> None:
    config = merge_patch(SimConfig(), {"faults": {"invoice": {"error_after": 0.25, "hold": "3s"}}})
    assert config.faults.active == {"invoice"}
    assert (config.faults.invoice.error_after, config.faults.invoice.hold) == (0.25, Fixed(ms=3000))
    config = merge_patch(config, {"faults": {"get_order": {"timeout": 0.1}}})
    assert config.faults.active == {"invoice", "get_order"}
    config = merge_patch(config, {"faults": {"invoice": {"hold": {"kind": "uniform", "min_ms": 2000, "max_ms": 4000}}}})
    assert config.faults.invoice.hold == Uniform(kind="uniform", min_ms=2000, max_ms=4000)
    assert config.faults.invoice.error_after == 0.25  # a distribution replaces the old one; siblings stay
    assert merge_patch(config, {"faults": None}).faults.active == frozenset()


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"invoise": {"error_after": 0.1}}, "config patch: faults.invoise: Extra inputs are not permitted"),
        ({"invoice": {"error_afterwards": 0.1}}, "faults.invoice.error_afterwards: Extra inputs are not permitted"),
        ({"invoice": {"error_after": 1.5}}, "faults.invoice.error_after: Input should be less than or equal to 1"),
        ({"invoice": {"reset_before": -0.1}}, "faults.invoice.reset_before: Input should be greater than or equal"),
        ({"invoice": {"status": 418}}, "faults.invoice.status: Input should be 500, 502, 503 or 504"),
        ({"invoice": {"hold": "forever"}}, "faults.invoice.hold"),
        ({"invoice": {"error_after": 0.6, "hang": 0.6}}, "faults.invoice: Value error, the fault rates add up to 1.2"),
    ],
)
def test_a_bad_fault_setting_is_refused_with_its_field(patch: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        merge_patch(SimConfig(), {"faults": patch})
    assert message in str(info.value)


def test_a_profile_with_a_bad_fault_names_the_file_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("faults:\n  invoice: {timeout: 2}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    assert str(info.value).startswith(f"{path}: faults.invoice.timeout: Input should be less than or equal to 1")


def test_one_draw_picks_at_most_one_fault_in_the_order_of_the_kinds() -> None:
    spec = RouteFaults(error_before=0.1, error_after=0.2, reset_before=0.1, reset_after=0.1, timeout=0.1, hang=0.1)
    # Each kind owns a slice of [0, 1) as wide as its rate, in FaultKind order; past them, no fault.
    picks = {u: spec.pick(u) for u in (0.0, 0.099, 0.101, 0.299, 0.301, 0.45, 0.55, 0.65, 0.701, 0.99)}
    assert picks == {
        0.0: FaultKind.ERROR_BEFORE,
        0.099: FaultKind.ERROR_BEFORE,
        0.101: FaultKind.ERROR_AFTER,
        0.299: FaultKind.ERROR_AFTER,
        0.301: FaultKind.RESET_BEFORE,
        0.45: FaultKind.RESET_AFTER,
        0.55: FaultKind.TIMEOUT,
        0.65: FaultKind.HANG,
        0.701: None,
        0.99: None,
    }


def test_a_rate_of_one_always_faults() -> None:
    spec = RouteFaults(hang=1.0)
    assert all(spec.pick(u / 100) is FaultKind.HANG for u in range(100))


def test_faults_survive_the_json_round_trip_of_get_config() -> None:
    config = merge_patch(SimConfig(), {"faults": {"accounting": {"reset_after": 0.5, "status": 502}}})
    again = SimConfig.model_validate(config.to_json())
    assert again == config
    assert again.faults.active == {"accounting"}
