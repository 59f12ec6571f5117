"""The synchronous client drives the async one on its caller's thread over httpx's synchronous
pool: what it sends and records is the async client's, from a plain thread, from several threads at
once, and from inside a running event loop."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from harness.client import BlockingTransport, QueueClient, emulator_target
from harness.emulator import Emulator

PAYLOAD = {"prompt": "x", "image_size": {"width": 64, "height": 64}}


def test_a_lifecycle_runs_on_the_calling_thread_over_the_synchronous_pool(fal_emulator: Emulator) -> None:
    sent_from: list[str] = []
    pool = httpx.HTTPTransport()
    original = pool.handle_request

    def spy(request: httpx.Request) -> httpx.Response:
        sent_from.append(threading.current_thread().name)
        return original(request)

    pool.handle_request = spy  # type: ignore[method-assign]
    with QueueClient(emulator_target(fal_emulator), transport=BlockingTransport(pool)) as client:
        obs = client.lifecycle("fal-ai/flux-pro", PAYLOAD)
    assert obs.ok, obs.error
    assert [s.status for s in obs.statuses][-1] == "COMPLETED" and obs.downloads  # streamed, then downloaded
    assert len(sent_from) == len(obs.exchanges) >= 4  # submit, stream, result, the picture
    assert set(sent_from) == {threading.current_thread().name}


def test_the_default_client_sends_with_httpx_synchronous_pool(fal_emulator: Emulator) -> None:
    with QueueClient(emulator_target(fal_emulator)) as client:
        transport = client.aio.transport.inner
        assert isinstance(transport, BlockingTransport) and isinstance(transport.inner, httpx.HTTPTransport)
        assert client.lifecycle("fal-ai/flux-pro", PAYLOAD).ok


def test_threads_share_one_client(fal_emulator: Emulator) -> None:
    with QueueClient(emulator_target(fal_emulator)) as client, ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda n: client.lifecycle("fal-ai/flux-pro", {**PAYLOAD, "seed": n}), range(8)))
    assert all(o.ok for o in found)
    assert len({o.request_id for o in found}) == 8


def test_a_call_from_inside_a_running_loop_runs_on_a_helper_thread(fal_emulator: Emulator) -> None:
    with QueueClient(emulator_target(fal_emulator)) as client:
        async def inside() -> bool:
            return client.lifecycle("fal-ai/flux-pro", PAYLOAD).ok  # blocks this loop, as a sync call does

        assert asyncio.run(inside())


def test_closing_closes_every_loop_and_finishes_what_it_still_holds(
        fal_emulator: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    held = [QueueClient(emulator_target(fal_emulator))]
    with ThreadPoolExecutor(2) as pool:  # a loop on each of three threads
        assert all(pool.map(lambda _: held[0].lifecycle("fal-ai/flux-pro", PAYLOAD).ok, range(4)))
    assert held[0].lifecycle("fal-ai/flux-pro", PAYLOAD).ok
    with caplog.at_level(logging.ERROR, logger="asyncio"), warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        held[0].close()
        held[0].close()  # twice is fine
        held.clear()
        gc.collect()
    assert not [w for w in seen if issubclass(w.category, ResourceWarning)]  # an unclosed loop warns so
    assert not [r for r in caplog.records if "destroyed" in r.getMessage()]
