"""racelab's simulator: mock Orders (OMS) and Accounting (AaaS) services with a phase-by-phase timing model.

General layout (imports point down this list, never up; the rule is docs/architecture.md, enforced by
tests/unit/test_layers.py):

    web/          aiohttp transport: app factory, route table, request models, control API, OpenAPI
    orders/       the Orders domain: records and rules (model), documents, the service (pipelines, workflow)
    accounting/   the Accounting domain: positions, invoices, update invoice's rules, notifications
    engine.py     the timing model's runtime: Core (clock, RNG streams, journal, gates, work), Op, transactions
    config.py     SimConfig and profiles        timing.py   the seeded RNG streams delays are drawn from
    journal.py    the journal                    gates.py    named checkpoints that tests hold and release
    errors.py     the error tree
    contract/     what the harness speaks too: durations and distributions, order statuses, header names, money
                  (pure; imports nothing else of racelab, and is the only part of the simulator the harness's
                  pure modules import)

Importing this package imports nothing but itself, so `import simulator.contract` stays as light as the contract:
every name below is loaded on first use.

    from simulator import create_app, load_profile
    app = create_app(load_profile("default"))

Embedding it in process (the harness's virtual mode): `open_runner(config)` sets the app up without serving it,
`LocalAnswers(app)` answers the control API's requests without a socket, `reset_state(app)` forgets every order.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the names below are, for the type checker; at run time they are loaded on first use
    from .config import Consistency, SimConfig, known_profiles, load_profile, merge_patch
    from .errors import ApiError, ConfigError, SimulatorError
    from .web.app import create_app, open_runner, open_server
    from .web.control_api import reset_state
    from .web.local import LocalAnswers

_LAZY = {
    "ApiError": "errors",
    "ConfigError": "errors",
    "Consistency": "config",
    "LocalAnswers": "web.local",
    "SimConfig": "config",
    "SimulatorError": "errors",
    "create_app": "web.app",
    "known_profiles": "config",
    "load_profile": "config",
    "merge_patch": "config",
    "open_runner": "web.app",
    "open_server": "web.app",
    "reset_state": "web.control_api",
}

__all__ = [
    "ApiError",
    "ConfigError",
    "Consistency",
    "LocalAnswers",
    "SimConfig",
    "SimulatorError",
    "create_app",
    "known_profiles",
    "load_profile",
    "merge_patch",
    "open_runner",
    "open_server",
    "reset_state",
]


def __getattr__(name: str) -> Any:
    """The simulator's public names, imported from their modules when first asked for (then kept as attributes)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'simulator' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
