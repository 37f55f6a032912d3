"""Integrations by name: the built-ins, the external ones, and a user's `module:Class`.

Owns `BUILTIN` and `load_integration()`.

Imports: stdlib, `harness.integrations` (contract, builtin, external), `harness.errors`.
"""

from __future__ import annotations

import importlib
import inspect

from harness.errors import InvalidScenario
from harness.integrations.builtin import HookDedupe, HookNaive, Naive, NaiveRetry, Robust, Workaround
from harness.integrations.contract import Integration
from harness.integrations.external import EXTERNAL_SOURCES, ExternalIntegration, ExternalService

__all__ = ["BUILTIN", "load_integration"]

BUILTIN: dict[str, type[Integration]] = {
    "naive": Naive,
    "naive-retry": NaiveRetry,
    "workaround": Workaround,
    "robust": Robust,
    "hook-naive": HookNaive,
    "hook-dedupe": HookDedupe,
}

_HOOKS = ("prepare", "start", "invoice", "change", "change_v1", "on_hook", "settle")


def load_integration(name: str) -> Integration:
    """A built-in by name, `external:<hook URL>`, `external-feed:<name>`, `external-poll:<name>`, or a user's class as
    `module:Class` (a subclass of `Integration`, instantiated without arguments).

    Raises:
        InvalidScenario: unknown name, unimportable module, or a class that is not an `Integration` of flows.
    """
    if name in BUILTIN:
        return BUILTIN[name]()
    if name.startswith("external:"):
        url = name.removeprefix("external:")
        if not url.startswith(("http://", "https://")):
            raise InvalidScenario(f"integration {name!r}: expected external:http://host:port/path")
        return ExternalIntegration(url)
    kind, sep, label = name.partition(":")
    if sep and kind.startswith("external-"):
        source = kind.removeprefix("external-")
        if source not in EXTERNAL_SOURCES or not label:
            raise InvalidScenario(f"integration {name!r}: expected external-feed:<name> or external-poll:<name>")
        return ExternalService(source, label)
    module_name, sep, attr = name.partition(":")
    if not sep or not module_name or not attr:
        raise InvalidScenario(
            f"unknown integration {name!r}: use one of {', '.join(BUILTIN)}, external:<hook URL>, "
            "external-feed:<name>, external-poll:<name>, or module:Class"
        )
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise InvalidScenario(f"integration {name!r}: cannot import it: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Integration)):
        raise InvalidScenario(
            f"integration {name!r}: must be a subclass of harness.integrations.Integration whose hooks are flows "
            "(def invoice(self, run, step): ... yield api.get_order(run.order_id) ...; see docs/integrations.md)"
        )
    coroutines = [h for h in _HOOKS if inspect.iscoroutinefunction(getattr(cls, h))]
    if coroutines:
        raise InvalidScenario(
            f"integration {name!r}: {', '.join(coroutines)} must be flows (generator functions that yield requests), "
            "not coroutines; see docs/integrations.md"
        )
    instance = cls()
    if not instance.name:
        instance.name = name
    return instance
