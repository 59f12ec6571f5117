"""The bare-httpx reference client of the overhead scenario: loopback benchmark traffic (with the
key in its Authorization header) never goes to a proxy named in the environment."""

from __future__ import annotations

import asyncio
import socket

import pytest

from harness.bench import BenchOptions, RunContext
from harness.client import Target, emulator_target
from harness.emulator import Emulator

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def _dead_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


@pytest.fixture
def dead_proxy(monkeypatch: pytest.MonkeyPatch) -> str:
    address = _dead_address()
    for name in _PROXY_VARIABLES:
        monkeypatch.setenv(name, address)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    return address


@pytest.mark.usefixtures("dead_proxy")
def test_the_bare_client_reaches_a_loopback_target_past_a_dead_proxy(fal_emulator: Emulator) -> None:
    target = emulator_target(fal_emulator)

    async def health() -> int:
        ctx = RunContext(BenchOptions(), target)
        try:
            response = await ctx.bare_http.get(f"{target.queue_url}/_emulator/health")
            return response.status_code
        finally:
            await ctx.aclose()

    assert asyncio.run(health()) == 200


@pytest.mark.usefixtures("dead_proxy")
def test_the_bare_client_still_honours_the_environment_for_a_remote_target() -> None:
    target = Target(name="live", queue_url="https://queue.fal.run", run_url="https://fal.run",
                    rest_url="https://rest.alpha.fal.ai", cdn_url="https://v3.fal.media", key="", live=True)

    async def trusts() -> bool:
        ctx = RunContext(BenchOptions(), target)
        try:
            return ctx.bare_http.trust_env
        finally:
            await ctx.aclose()

    assert asyncio.run(trusts()) is True
