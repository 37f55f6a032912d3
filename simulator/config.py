"""The simulator's configuration: consistency mode, per-operation phase timings, auth, limits; profiles.

Owns: `SimConfig` (validated with pydantic, immutable once built), `load_profile()` (YAML files found by name in
the project's `scenarios/profiles/` or racelab's own, `known_profiles()`, or by path), and `merge_patch()` used by
`PATCH /_sim/config`; `FaultsConfig`, the faults the HTTP edge injects per class of route (`FAULT_CLASSES`), and
`FaultKind`.

Imports: stdlib, pydantic, yaml and `simulator.contract`. No asyncio, no aiohttp.

Timing vocabulary (DESIGN §3.2). A mutating operation goes through

    arrive → [ingress] → validate input → (sync)  [queue] → READ → [process] → COMMIT → [respond] → answer
                                        → (async) [respond] → answer,  and a worker: [queue] → READ → [process] → COMMIT

where READ sees the order as it was `read_lag` ago (in `snapshot` consistency) and COMMIT writes what was computed
from that read.
"""

from __future__ import annotations

import copy
import functools
import importlib.resources
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .contract.timing import Delay, Fixed
from .errors import ConfigError

__all__ = [
    "FAULT_CLASSES",
    "PROFILE_PATH_ENV",
    "AccountingConfig",
    "AuthConfig",
    "Consistency",
    "FaultKind",
    "FaultsConfig",
    "HookTiming",
    "KnownProfile",
    "LimitsConfig",
    "OrdersConfig",
    "ReadTiming",
    "RouteFaults",
    "SimConfig",
    "WorkflowTiming",
    "WriteTiming",
    "builtin_profile_dir",
    "format_validation_error",
    "known_profiles",
    "load_profile",
    "merge_patch",
    "profile_dirs",
]


class Consistency(StrEnum):
    """What READ and COMMIT mean (DESIGN §3.2)."""

    SNAPSHOT = "snapshot"
    """READ sees a possibly stale version; COMMIT writes what was computed from it (write skew is possible)."""
    SERIALIZABLE = "serializable"
    """READ→COMMIT of one order is atomic under a per-order lock and always reads the latest version."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReadTiming(_Model):
    """A read-only operation (GET order, GET change details...)."""

    ingress: Delay = Fixed()
    read_lag: Delay = Fixed()
    """How stale the version served is: the order as it was this long before the read (replica lag)."""
    respond: Delay = Fixed()


class WriteTiming(_Model):
    """A mutating operation and its phases."""

    mode: Literal["sync", "async"] = "sync"
    """`sync`: READ/validate/COMMIT before the answer. `async`: answer at once (202), a worker does the rest."""
    ingress: Delay = Fixed()
    queue: Delay = Fixed()
    read_lag: Delay = Fixed()
    process: Delay = Fixed()
    """The window between READ and COMMIT."""
    respond: Delay = Fixed()
    write: Literal["merge", "document"] = "merge"
    """`merge`: COMMIT applies the computed change to the latest version (write skew). `document`: COMMIT writes
    the whole document computed from the snapshot, dropping what others committed since (lost update)."""


class WorkflowTiming(_Model):
    """The order workflow's "is it fully invoiced?" check (failure B lives here)."""

    after_invoice: Delay = Fixed()
    """Delay from an invoice's COMMIT to the check it triggers (the platform's 'Verifying invoice' time)."""
    after_change: Delay = Fixed()
    """Delay from a Change's end to the check it re-triggers (superseding any pending check)."""
    invoice_view_lag: Delay = Fixed()
    """How stale the invoice view is that a Change-triggered check reads."""
    after_cancel: Delay = Fixed()
    """Delay from a seller's cancel (the order moves to `cancel`) to the order reaching `canceled`."""


class HookTiming(_Model):
    """Order-status hook delivery (at least once)."""

    delay: Delay = Fixed()
    timeout_ms: float = Field(default=5000.0, gt=0, le=60_000)
    max_attempts: int = Field(default=5, ge=1, le=50)
    retry_backoff_ms: float = Field(default=200.0, ge=0, le=60_000)
    duplicate_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    """Probability that a delivered hook is delivered once more (at-least-once delivery, made visible)."""
    ping_on_config: bool = True
    """Like the platform, POST `{"hookConfig": "ping"}` to the URL when a hook is configured; refuse it unless 200."""


class CatalogItem(_Model):
    """A SKU the catalog knows: what a Change v2 adding it with only `id` and `quantity` gets."""

    price: int = Field(ge=0, le=10**10)
    """Unit selling price, cents."""
    name: str | None = Field(default=None, max_length=200)
    measurement_unit: str = Field(default="un", max_length=20)
    unit_multiplier: float = Field(default=1.0, gt=0, le=1_000_000)


class OrdersConfig(_Model):
    account: str = Field(default="racelab", min_length=1, max_length=64)
    get_order: ReadTiming = ReadTiming()
    reads: ReadTiming = ReadTiming()
    """Every other read: Change details and history, change summary, feed."""
    invoice: WriteTiming = WriteTiming()
    tracking: WriteTiming = WriteTiming()
    change: WriteTiming = WriteTiming(mode="async")
    change_v1: WriteTiming = WriteTiming()
    """Change v1 (`POST /api/oms/pvt/orders/{orderId}/changes`): synchronous (`mode` may only be `sync`)."""
    start_handling: WriteTiming = WriteTiming()
    cancel: WriteTiming = WriteTiming()
    workflow: WorkflowTiming = WorkflowTiming()
    hook: HookTiming = HookTiming()
    change_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    """Probability that one attempt of a Change's worker hits a system failure (and is retried)."""
    change_max_attempts: int = Field(default=5, ge=1, le=50)
    """Attempts before an unfinished Change waits for `POST .../retry` (the platform retries up to 5 times)."""
    catalog: dict[str, CatalogItem] = Field(default_factory=dict)
    """SKU id → its catalog entry. A Change v2 may add an item with only `id` and `quantity`: its price comes from
    the request, else the order (an item already in it), else this catalog; an unknown SKU cancels the Change."""

    @field_validator("change_v1")
    @classmethod
    def _v1_is_sync(cls, v: WriteTiming) -> WriteTiming:
        if v.mode != "sync":
            raise ValueError("Change v1 is synchronous: mode must be sync")
        return v


class AccountingConfig(_Model):
    """The Accounting service: every write answers 200 `internalRequestId` at once; with `write.mode: async` (the
    default) a worker does READ → business rules → COMMIT later, and the result arrives as notifications."""

    write: WriteTiming = WriteTiming(mode="async")
    notify: Delay = Fixed()
    """Delay from COMMIT (or rejection) to the notification's delivery."""
    notify_timeout_ms: float = Field(default=5000.0, gt=0, le=60_000)
    notify_max_attempts: int = Field(default=3, ge=1, le=50)
    notify_backoff_ms: float = Field(default=200.0, ge=0, le=60_000)
    """Wait before the second delivery attempt; doubled before each further one."""


class AuthConfig(_Model):
    """Credentials are checked only when configured (None: open, as a local mock should be).

    The Orders API, once `orders_app_key` and `orders_app_token` (or `orders_user_token`) are set, takes either
    credential the platform takes: the application key pair in `X-VTEX-API-AppKey` + `X-VTEX-API-AppToken`, or a
    user token in `VtexIdclientAutCookie` (the cookie VTEX ID sets at login, or the header of that name that
    back-end clients and VTEX IO apps send). None sent: 401; a wrong one: 403.
    """

    orders_app_key: str | None = None
    orders_app_token: str | None = None
    orders_user_token: str | None = None
    """The user token (VTEX ID's `VtexIdclientAutCookie`) the Orders API accepts instead of the key pair."""
    accounting_subscription_key: str | None = None
    control_token: str | None = None
    """Lets non-loopback clients use `/_sim/` with header `X-Racelab-Token`; without it they are refused."""
    faithful_errors: bool = False
    """Answer a missing Accounting subscription key with 500, as the real service is documented to."""

    @model_validator(mode="after")
    def _key_with_token(self) -> AuthConfig:
        if (self.orders_app_key is None) != (self.orders_app_token is None):
            raise ValueError("set orders_app_key and orders_app_token together: an application key and its token")
        return self

    @property
    def orders_checked(self) -> bool:
        """Whether the Orders API checks credentials (an application key or a user token is configured)."""
        return self.orders_app_key is not None or self.orders_user_token is not None


class LimitsConfig(_Model):
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, le=64 * 1024 * 1024)
    max_orders: int = Field(default=100_000, ge=1)
    """Settled orders beyond this many are forgotten, oldest first (memory stays bounded in a soak)."""
    journal_max_entries: int = Field(default=1_000_000, ge=1000)
    history_horizon_ms: float = Field(default=60_000.0, gt=0)
    """How far back snapshot reads can reach; older versions are pruned."""


class FaultKind(StrEnum):
    """What the HTTP edge can do to a request instead of answering it normally (DESIGN §6)."""

    ERROR_BEFORE = "error_before"
    """Answer a 5xx without running the handler: nothing is applied."""
    ERROR_AFTER = "error_after"
    """Run the handler (it commits), then answer a 5xx instead of its answer: applied, reported as failed."""
    RESET_BEFORE = "reset_before"
    """Reset the connection (TCP RST) without running the handler: nothing is applied."""
    RESET_AFTER = "reset_after"
    """Run the handler (it commits), then reset the connection instead of answering."""
    TIMEOUT = "timeout"
    """Run the handler (it commits), then hold its answer for `hold` before sending it: the client has given up."""
    HANG = "hang"
    """Run the handler (it commits), then never answer: the connection stays open until the client closes it or
    the server stops."""


FAULT_CLASSES = (
    "get_order",
    "reads",
    "invoice",
    "change",
    "tracking",
    "start_handling",
    "cancel",
    "hook_config",
    "feed",
    "accounting",
)
"""The classes of routes faults are configured for (see `FaultsConfig`)."""

Rate = Annotated[float, Field(ge=0.0, le=1.0)]


class RouteFaults(_Model):
    """Fault rates for one class of routes. Each request of the class draws once from its order's seeded stream
    and meets at most one fault: `error_before` with probability `error_before`, else `error_after`, and so on.

    RouteFaults(error_after=0.2, timeout=0.1, hold="3s")
    """

    error_before: Rate = 0.0
    error_after: Rate = 0.0
    reset_before: Rate = 0.0
    reset_after: Rate = 0.0
    timeout: Rate = 0.0
    hang: Rate = 0.0
    status: Literal[500, 502, 503, 504] = 503
    """The status of an injected error (the body is the answering service's documented error shape)."""
    hold: Delay = Fixed(ms=30_000.0)
    """How long a `timeout` holds the answer; choose it longer than the client's timeout."""

    @model_validator(mode="after")
    def _at_most_one(self) -> RouteFaults:
        total = sum(getattr(self, k.value) for k in FaultKind)
        if total > 1.0 + 1e-9:
            raise ValueError(f"the fault rates add up to {total:g}; a request meets at most one fault, so at most 1")
        return self

    @property
    def any(self) -> bool:
        return any(getattr(self, k.value) for k in FaultKind)

    def pick(self, u: float) -> FaultKind | None:
        """The fault for a uniform draw `u` in [0, 1): each kind owns a slice of the unit interval as wide as its
        rate, in the order of `FaultKind`; past them all, no fault."""
        edge = 0.0
        for kind in FaultKind:
            edge += getattr(self, kind.value)
            if u < edge:
                return kind
        return None


class FaultsConfig(_Model):
    """Faults injected at the HTTP edge, per class of route. Default: none. The control API is never faulted, and
    neither is a request sent with `X-Racelab-Control` by a client the control API would answer (the harness's own
    reads of the final state). Duplicate hook deliveries are `orders.hook.duplicate_rate`.

    faults = FaultsConfig(invoice=RouteFaults(error_after=0.2))
    """

    get_order: RouteFaults = RouteFaults()
    """The order reads: GET order, its PII version, and the order list."""
    reads: RouteFaults = RouteFaults()
    """Change details and history, change summary, Change preview, Change settings (GET)."""
    invoice: RouteFaults = RouteFaults()
    """Both invoice routes (OMS form and document form)."""
    change: RouteFaults = RouteFaults()
    """Create a Change (v2 and v1), retry it, cancel it; Change settings (PUT)."""
    tracking: RouteFaults = RouteFaults()
    """The tracking PATCH and the tracking-status PUT."""
    start_handling: RouteFaults = RouteFaults()
    cancel: RouteFaults = RouteFaults()
    hook_config: RouteFaults = RouteFaults()
    feed: RouteFaults = RouteFaults()
    """The feed's items, commits and configuration, and the JSONata test route."""
    accounting: RouteFaults = RouteFaults()
    """Every Accounting route (writes and notification callbacks)."""

    @functools.cached_property
    def active(self) -> frozenset[str]:
        """The classes with a fault rate above zero (empty: the edge skips fault handling entirely). Read on every
        request: cached on the (frozen) instance, a plain attribute read instead of pydantic's private-attribute
        lookup (~1.8 µs, 5% of a GET)."""
        return frozenset(c for c in FAULT_CLASSES if getattr(self, c).any)

    def of(self, fault_class: str) -> RouteFaults:
        spec: RouteFaults = getattr(self, fault_class)
        return spec


class SimConfig(_Model):
    """Everything tunable about the simulator. Build it from a profile, patch it live through `/_sim/config`.

    config = load_profile("default")
    config = merge_patch(config, {"consistency": "serializable"})
    """

    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    consistency: Consistency = Consistency.SNAPSHOT
    orders: OrdersConfig = OrdersConfig()
    accounting: AccountingConfig = AccountingConfig()
    auth: AuthConfig = AuthConfig()
    limits: LimitsConfig = LimitsConfig()
    faults: FaultsConfig = FaultsConfig()
    """Injected 5xx, connection resets and timeouts per class of route (none by default)."""
    epoch: datetime | None = None
    """Wall-clock time at the simulator's start, for the dates it writes; None: the real time (set it for runs
    whose answers must be identical byte for byte)."""
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def format_validation_error(exc: ValidationError, *, source: str = "config") -> str:
    """One line per problem: where (dotted path) and what was expected."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"] if not (isinstance(p, str) and p in _UNION_TAGS))
        lines.append(f"{source}: {loc or '(top level)'}: {err['msg']}")
    return "\n".join(lines)


_UNION_TAGS = {"fixed", "uniform", "normal", "lognormal", "exponential", "pareto", "empirical", "function-before"}


def _validate(data: object, source: str) -> SimConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a profile must be a mapping of settings, got {type(data).__name__}")
    try:
        return SimConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source=source)) from None


PROFILE_PATH_ENV = "RACELAB_PROFILE_PATH"
"""Folders of profiles (separated as in PATH) looked up before the project's and racelab's own."""


@dataclass(frozen=True, slots=True)
class KnownProfile:
    """A profile file a name can reach, and where it comes from: `RACELAB_PROFILE_PATH`, `project` or `built-in`.

        for p in known_profiles(): print(p.name, p.origin, p.path)

    The first of a name is the one `load_profile` uses; later ones of the same name are shadowed by it.
    """

    name: str
    path: Path
    origin: str


def builtin_profile_dir() -> Path:
    """racelab's own profiles: the installed package's `simulator/profiles/` (the wheel's copy of the repository's
    `scenarios/profiles/`, see pyproject's hatch settings), else `scenarios/profiles/` of the checkout this module
    runs from, the one source of both."""
    installed = importlib.resources.files(__package__ or "simulator").joinpath("profiles")
    if isinstance(installed, Path) and installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent / "scenarios" / "profiles"


def _profile_sources(search: Sequence[Path]) -> list[tuple[Path, str]]:
    env = [Path(p) for p in os.environ.get(PROFILE_PATH_ENV, "").split(os.pathsep) if p]
    ordered = [(Path(d), "project") for d in search]
    ordered += [(d, PROFILE_PATH_ENV) for d in env]
    ordered += [(Path.cwd() / "scenarios" / "profiles", "project"), (builtin_profile_dir(), "built-in")]
    unique: dict[Path, tuple[Path, str]] = {}
    for folder, origin in ordered:
        key = folder.resolve()
        if key in unique and origin == "built-in":  # the checkout's own folder, reached as ./scenarios/profiles too
            unique[key] = (unique[key][0], origin)
        unique.setdefault(key, (folder, origin))
    return list(unique.values())


def profile_dirs(*, search: Sequence[Path] = ()) -> list[Path]:
    """Where profile names are looked up, first match wins: `search`, the folders of `RACELAB_PROFILE_PATH`,
    `./scenarios/profiles` (the project's), then racelab's own (`builtin_profile_dir()`)."""
    return [folder for folder, _ in _profile_sources(search)]


def known_profiles(*, search: Sequence[Path] = ()) -> list[KnownProfile]:
    """Every profile a name reaches, in lookup order; a name listed twice is the first one's (the rest shadowed)."""
    return [
        KnownProfile(p.stem, p, origin)
        for folder, origin in _profile_sources(search)
        if folder.is_dir()
        for p in sorted(folder.glob("*.yaml"))
    ]


def load_profile(
    name_or_path: str | Path, *, overrides: dict[str, Any] | None = None, search: Sequence[Path] = ()
) -> SimConfig:
    """Load a profile by name (`default`, `instant`...) or by path to a YAML file, then apply `overrides`.

    A name is looked up in `profile_dirs(search=search)`: a project's profile of the same name as a built-in one
    replaces it.

    Raises:
        ConfigError: unknown name, unreadable file, bad YAML, or a setting that does not validate; the message
            names the file and the field.
    """
    path = Path(name_or_path)
    if not path.suffix and not path.is_file():
        found = next((p.path for p in known_profiles(search=search) if p.name == str(name_or_path)), None)
        if found is None:
            known = sorted({p.name for p in known_profiles(search=search)})
            raise ConfigError(f"no profile named {str(name_or_path)!r}; known profiles: {', '.join(known) or 'none'}")
        path = found
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read profile: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if overrides:
        if data is not None and not isinstance(data, dict):
            raise ConfigError(f"{path}: a profile must be a mapping of settings, got {type(data).__name__}")
        data = _deep_merge(data or {}, overrides)
    return _validate(data, f"{path} (with overrides)" if overrides else str(path))


def merge_patch(config: SimConfig, patch: object) -> SimConfig:
    """Apply a JSON merge patch (RFC 7386) to `config` and validate the result as a whole.

    Raises:
        ConfigError: the patched configuration does not validate; `config` is unchanged.
    """
    if not isinstance(patch, dict):
        raise ConfigError(f"config patch: expected a JSON object, got {type(patch).__name__}")
    return _validate(_deep_merge(config.to_json(), patch), "config patch")


def _deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict) and not {"kind", "ms"} & value.keys():
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
