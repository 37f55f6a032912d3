"""Profiles and live configuration (`simulator.config`): loading, validation messages, overrides, merge patches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulator.config import Consistency, SimConfig, load_profile, merge_patch
from simulator.contract import Fixed, LogNormal, Uniform
from simulator.errors import ConfigError, SimulatorError

PROFILES = Path(__file__).resolve().parents[2] / "scenarios" / "profiles"


def write(tmp_path: Path, text: str, name: str = "profile.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(*args: Any, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load_profile(*args, **kwargs)
    return str(info.value)


# -- by name ---------------------------------------------------------------------------------------------


def test_default_profile_is_snapshot_with_lagging_change_reads() -> None:
    config = load_profile("default")
    assert config.seed == 1
    assert config.consistency is Consistency.SNAPSHOT
    assert config.orders.change.mode == "async"
    assert config.orders.change.read_lag == LogNormal(kind="lognormal", median_ms=250, sigma=1.0, cap_ms=4000)
    assert config.orders.get_order.ingress == Uniform(kind="uniform", min_ms=1, max_ms=3)


def test_instant_profile_has_every_delay_zero() -> None:
    config = load_profile("instant")
    for timing in (config.orders.invoice, config.orders.change, config.accounting.write):
        for phase in ("ingress", "queue", "read_lag", "process", "respond"):
            assert getattr(timing, phase).is_zero, phase


def test_fixed_profile_reads_its_shorthand_delays() -> None:
    change = load_profile("fixed").orders.change
    assert (change.queue, change.read_lag, change.process) == (Fixed(ms=20), Fixed(ms=600), Fixed(ms=50))


def test_unknown_name_lists_the_known_profiles() -> None:
    message = config_error("no-such-profile")
    assert "no profile named 'no-such-profile'" in message
    known = message.partition("; known profiles: ")[2].split(", ")
    assert known == sorted(known)
    assert {"default", "fixed", "instant"} <= set(known)


def test_a_profile_in_the_working_directory_is_found_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = tmp_path / "scenarios" / "profiles"
    local.mkdir(parents=True)
    write(local, "seed: 42\n", name="default.yaml")
    write(local, "seed: 43\n", name="mine.yaml")
    monkeypatch.chdir(tmp_path)

    assert load_profile("default").seed == 42
    assert load_profile("mine").seed == 43
    assert load_profile("fixed").orders.change.read_lag == Fixed(ms=600)  # still finds the project's own
    assert {"default", "fixed", "instant", "mine"} <= set(
        config_error("nope").split("; known profiles: ")[1].split(", ")
    )


# -- by path ---------------------------------------------------------------------------------------------


def test_profile_is_loaded_from_a_path(tmp_path: Path) -> None:
    path = write(tmp_path, "seed: 7\nconsistency: serializable\norders:\n  invoice: {process: 1.5s}\n")
    config = load_profile(path)
    assert config.seed == 7
    assert config.consistency is Consistency.SERIALIZABLE
    assert config.orders.invoice.process == Fixed(ms=1500)
    assert load_profile(str(path)) == config


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    assert load_profile(write(tmp_path, "")) == SimConfig()


def test_missing_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    assert config_error(path).startswith(f"{path}: cannot read profile")


def test_directory_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "dir.yaml"
    path.mkdir()
    assert config_error(path).startswith(f"{path}: cannot read profile")


def test_invalid_yaml_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "orders: [\n")
    assert config_error(path).startswith(f"{path}: not valid YAML")


def test_non_mapping_profile_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "- 1\n- 2\n")
    assert config_error(path) == f"{path}: a profile must be a mapping of settings, got list"


def test_non_mapping_profile_is_rejected_even_with_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, "- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_profile(path, overrides={"seed": 1})


def test_existing_path_without_suffix_is_loaded_as_a_path(tmp_path: Path) -> None:
    path = write(tmp_path, "seed: 7\n", name="profile")
    assert load_profile(path).seed == 7


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("seed: x\n", "seed", "valid integer"),
        ("seed: -1\n", "seed", "greater than or equal to 0"),
        ("consistency: eventual\n", "consistency", "'snapshot' or 'serializable'"),
        ("limits: {max_orders: 0}\n", "limits.max_orders", "greater than or equal to 1"),
        ("orders: {change: {mode: later}}\n", "orders.change.mode", "'sync' or 'async'"),
        ("orders: {change: {read_lag: fast}}\n", "orders.change.read_lag.ms", "expected a duration"),
        ("orders: {invoice: {process: -3}}\n", "orders.invoice.process.ms", "between 0 and 3600000 ms"),
        (
            "orders: {change: {queue: {kind: uniform, min_ms: 5, max_ms: 1}}}\n",
            "orders.change.queue",
            "max_ms (1) must not be below min_ms (5)",
        ),
        (
            "orders: {workflow: {after_invoice: {kind: lognormal, median_ms: 0, sigma: 1}}}\n",
            "orders.workflow.after_invoice.median_ms",
            "greater than 0",
        ),
    ],
)
def test_invalid_setting_names_the_file_and_the_dotted_field(tmp_path: Path, text: str, where: str, what: str) -> None:
    path = write(tmp_path, text)
    line = config_error(path)
    assert line.startswith(f"{path}: {where}: "), line
    assert what in line


def test_each_problem_gets_its_own_line(tmp_path: Path) -> None:
    path = write(tmp_path, "seed: x\nlimits: {max_orders: 0}\n")
    assert config_error(path).splitlines() == [
        f"{path}: seed: Input should be a valid integer, unable to parse string as an integer",
        f"{path}: limits.max_orders: Input should be greater than or equal to 1",
    ]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("sede: 1\n", "sede"),
        ("orders: {chnage: {queue: 5}}\n", "orders.chnage"),
        ("orders: {change: {lag: 5}}\n", "orders.change.lag"),
        ("orders: {change: {queue: {kind: fixed, ms: 5, jitter: 1}}}\n", "orders.change.queue.jitter"),
    ],
)
def test_unknown_keys_are_rejected(tmp_path: Path, text: str, where: str) -> None:
    path = write(tmp_path, text)
    assert config_error(path) == f"{path}: {where}: Extra inputs are not permitted"


def test_config_error_is_a_simulator_error_and_a_value_error() -> None:
    with pytest.raises(ValueError, match="no profile named"):
        load_profile("no-such-profile")
    assert issubclass(ConfigError, SimulatorError)


def test_config_is_immutable() -> None:
    config = load_profile("instant")
    with pytest.raises(ValueError, match="frozen"):
        config.seed = 3  # type: ignore[misc]


# -- overrides -------------------------------------------------------------------------------------------


def test_overrides_are_deep_merged_into_the_profile() -> None:
    config = load_profile("fixed", overrides={"consistency": "serializable", "orders": {"change": {"queue": 5}}})
    assert config.consistency is Consistency.SERIALIZABLE
    assert config.orders.change.queue == Fixed(ms=5)
    assert config.orders.change.read_lag == Fixed(ms=600)  # the rest of the section is kept
    assert config.orders.workflow.after_invoice == Fixed(ms=2000)


def test_null_override_restores_the_default() -> None:
    assert load_profile("fixed", overrides={"seed": None}).seed == 0


def test_invalid_override_names_the_profile_file() -> None:
    message = config_error("fixed", overrides={"orders": {"change": {"queue": "soon"}}})
    source, field, what = message.split(": ", 2)
    assert source.startswith(str(PROFILES / "fixed.yaml"))  # it may add a note about the overrides
    assert field == "orders.change.queue.ms"
    assert "expected a duration" in what


# -- merge_patch -----------------------------------------------------------------------------------------


def test_merge_patch_changes_only_what_it_names() -> None:
    base = load_profile("default")
    patched = merge_patch(base, {"consistency": "serializable", "orders": {"change": {"process": 10}}})
    assert patched.consistency is Consistency.SERIALIZABLE
    assert patched.orders.change.process == Fixed(ms=10)
    assert patched.orders.change.read_lag == base.orders.change.read_lag
    assert patched.orders.invoice == base.orders.invoice
    assert patched.seed == base.seed


def test_empty_patch_round_trips_the_config() -> None:
    base = load_profile("default", overrides={"epoch": "2026-01-01T00:00:00Z", "auth": {"control_token": "t"}})
    assert merge_patch(base, {}) == base


def test_patch_with_a_kind_replaces_the_distribution_wholesale() -> None:
    base = load_profile("default")
    patched = merge_patch(base, {"orders": {"change": {"read_lag": {"kind": "uniform", "min_ms": 1, "max_ms": 2}}}})
    # Merged key by key, the lognormal's median_ms/sigma/cap_ms would have been left over and rejected.
    assert patched.orders.change.read_lag == Uniform(kind="uniform", min_ms=1, max_ms=2)


def test_patch_with_ms_replaces_the_distribution_by_a_fixed_delay() -> None:
    patched = merge_patch(load_profile("default"), {"orders": {"change": {"read_lag": {"ms": 5}}}})
    assert patched.orders.change.read_lag == Fixed(ms=5)


def test_patch_without_a_kind_tweaks_one_parameter_of_the_distribution() -> None:
    patched = merge_patch(load_profile("default"), {"orders": {"change": {"read_lag": {"median_ms": 100}}}})
    assert patched.orders.change.read_lag == LogNormal(kind="lognormal", median_ms=100, sigma=1.0, cap_ms=4000)


def test_null_deletes_a_setting_back_to_its_default() -> None:
    base = load_profile("default")
    patched = merge_patch(base, {"consistency": None, "orders": {"change": {"read_lag": None}}, "seed": None})
    assert patched.orders.change.read_lag == Fixed()
    assert patched.seed == 0
    assert patched.orders.change.queue == base.orders.change.queue


def test_null_deletes_a_whole_section_back_to_its_defaults() -> None:
    patched = merge_patch(load_profile("default"), {"orders": {"change": None}})
    assert patched.orders.change.mode == "async"  # the section's own default, not WriteTiming()'s
    assert patched.orders.change.read_lag.is_zero


def test_invalid_patch_raises_and_leaves_the_config_untouched() -> None:
    base = load_profile("default")
    before = base.to_json()
    with pytest.raises(ConfigError) as info:
        merge_patch(base, {"consistency": "serializable", "limits": {"max_orders": 0}})
    assert str(info.value) == "config patch: limits.max_orders: Input should be greater than or equal to 1"
    assert base.to_json() == before
    assert base.consistency is Consistency.SNAPSHOT


def test_patch_with_unknown_key_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"^config patch: orders\.chnage: Extra inputs are not permitted$"):
        merge_patch(SimConfig(), {"orders": {"chnage": {}}})


@pytest.mark.parametrize("patch", [[1], "seed=1", None, 3])
def test_patch_must_be_an_object(patch: object) -> None:
    with pytest.raises(ConfigError, match="config patch: expected a JSON object"):
        merge_patch(SimConfig(), patch)
