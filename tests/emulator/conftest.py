"""Fixtures for the emulator tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from harness.emulator import Emulator

from .helpers import client


@pytest.fixture
def http(fal_emulator: Emulator) -> Iterator[httpx.Client]:
    """An HTTP client carrying a key the session emulator accepts."""
    with client(fal_emulator) as c:
        yield c
