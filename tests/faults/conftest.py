"""The fault suite's fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from simulator import Simulator
from tests.support.gateway import Gateway, open_gateway


@pytest.fixture
async def gateway(simulator: Simulator, session: aiohttp.ClientSession) -> AsyncIterator[Gateway]:
    """A real proxy in front of the simulator (tests/support/gateway.py)."""
    async with open_gateway(simulator.base_url, session) as proxy:
        yield proxy
