"""Seeded random streams: where the simulator's delay draws come from.

Owns `RngStreams`, which hands out one `random.Random` per (seed, key, operation, phase) so that the draws made for
one order never depend on what happened to another. The delay distributions a profile names, and the durations they
are written in, are the contract's (`simulator.contract.timing`), shared draw for draw with the harness's scenarios.

Imports: stdlib only (no asyncio, no aiohttp).
"""

from __future__ import annotations

import random

__all__ = ["RngStreams"]


class RngStreams:
    """One independent, reproducible `random.Random` per (seed, key, operation, phase).

    Streams are created on first use and kept per key (an order id) so they can be dropped with the order.

        streams = RngStreams(seed=7)
        lag_ms = profile_delay.draw_ms(streams.get("ORD-1", "change", "read_lag"))
    """

    __slots__ = ("_by_key", "seed")

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._by_key: dict[str, dict[tuple[str, str], random.Random]] = {}

    def get(self, key: str, op: str, phase: str) -> random.Random:
        """The stream of (`key`, `op`, `phase`) under this seed, created on first use; later calls continue it."""
        streams = self._by_key.get(key)
        if streams is None:
            streams = self._by_key[key] = {}
        rng = streams.get((op, phase))
        if rng is None:
            # A string seed is hashed with SHA-512 by `random`, so streams are stable across processes
            # and independent of PYTHONHASHSEED.
            rng = streams[(op, phase)] = random.Random(f"{self.seed}|{key}|{op}|{phase}")
        return rng

    def drop(self, key: str) -> None:
        """Forget `key`'s streams (its order is gone); a later `get` starts them afresh."""
        self._by_key.pop(key, None)

    def reset(self, seed: int) -> None:
        """Forget every stream and hand out those of `seed` from now on."""
        self.seed = seed
        self._by_key.clear()
