"""racelab's simulator: mock Orders (OMS) and Accounting (AaaS) services with a phase-by-phase timing model.

General layout (imports point down this list, never up):

    web/          aiohttp transport: app factory, route table, request models, control API, OpenAPI
    orders/       the Orders domain: records and rules (model), documents, the service (pipelines, workflow)
    accounting/   the Accounting domain: positions, invoices, update invoice's rules, notifications
    engine.py     the timing model's runtime: Core (clock, RNG streams, journal, gates, work), Op, transactions
    config.py     SimConfig and profiles        timing.py   distributions and seeded RNG streams
    journal.py    the journal                    gates.py    named checkpoints that tests hold and release
    errors.py     the error tree and its HTTP table

The domain (everything but `web/`) imports no aiohttp; `tests/unit/test_layers.py` keeps it so.

    from simulator import create_app, load_profile
    app = create_app(load_profile("default"))
"""

from .config import Consistency, SimConfig, load_profile, merge_patch
from .errors import ApiError, ConfigError, SimulatorError
from .web.app import create_app, open_server

__all__ = [
    "ApiError",
    "ConfigError",
    "Consistency",
    "SimConfig",
    "SimulatorError",
    "create_app",
    "load_profile",
    "merge_patch",
    "open_server",
]
