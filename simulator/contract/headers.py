"""The HTTP header names racelab adds to the platform's API, which the simulator reads and the harness sends.

Owns `CONTROL_HEADER` (`X-Racelab-Control: 1` marks the harness's own reads and seeds: the simulator never injects a
fault into them, so the final state a run is judged on is never a fault) and `CONTROL_TOKEN_HEADER` (the secret
that lets a non-loopback client use the control API `/_sim/`, when `auth.control_token` is configured).

Imports: nothing (part of the contract both the simulator and the harness import).
"""

from __future__ import annotations

__all__ = ["CONTROL_HEADER", "CONTROL_TOKEN_HEADER"]

CONTROL_HEADER = "X-Racelab-Control"
"""Sent with value `1` on the harness's control requests; a fault is never injected into them."""

CONTROL_TOKEN_HEADER = "X-Racelab-Token"
"""Carries `auth.control_token`, without which only loopback clients may use the control API."""
