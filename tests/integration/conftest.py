"""Fixtures of the integration tests beyond tests/conftest.py's simulators: the Accounting API's callback receiver.

Imports: tests.support.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.accounting import Receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A notification receiver listening on loopback for the test's length."""
    r = Receiver()
    await r.server.start_server()
    yield r
    await r.server.close()
