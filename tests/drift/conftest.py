"""Fixtures for the drift tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from drift_http import LocalServer
from drift_http import local_server as serve


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    """A real HTTP server on 127.0.0.1 that serves ``pages`` and records POSTs."""
    with serve() as server:
        yield server
