"""The instrumented transport is the one place an attempt is charged, timed, recorded and retried:
streams and uploads go through it like every other request, and the sync client is the async one.

respx stands in for answers a real server cannot give on demand (a load balancer's 503 page)."""

from __future__ import annotations

import asyncio
import inspect
import json
import random

import httpx
import pytest
import respx

from harness import BudgetExceeded
from harness.client import (
    AsyncQueueClient,
    Budget,
    FileInput,
    Observation,
    QueueClient,
    RetryPolicy,
    Target,
    observing,
)

BASE = "https://queue.test"
RUN = "https://run.test"
ENDPOINT = "acme/writer"
FAST = RetryPolicy(base_delay=0.001, max_delay=0.002, rng=random.Random(2))
NGINX_503 = b"<html><head><title>503 Service Temporarily Unavailable</title></head><body>nginx</body></html>"


def target(budget: Budget | None = None) -> Target:
    return Target("test", BASE, RUN, "https://rest.test", "https://cdn.test", key="k-456", budget=budget)


def events(*data: dict[str, object]) -> bytes:
    return b"".join(b"data: " + json.dumps(d).encode() + b"\n\n" for d in data)


@respx.mock
def test_respx_the_run_stream_is_charged_timed_and_counted_by_the_transport() -> None:
    body = events({"text": "a", "partial": True}, {"text": "ab", "partial": False})
    respx.post(f"{RUN}/{ENDPOINT}/stream").respond(200, headers={"content-type": "text/event-stream",
                                                                 "x-fal-request-id": "s1"}, content=body)
    budget = Budget(1)

    async def go() -> Observation:
        async with AsyncQueueClient(target(budget), retry=FAST) as client:
            return await client.stream_lifecycle(ENDPOINT, {"prompt": "x"})

    obs = asyncio.run(go())
    assert obs.ok, obs.error
    assert budget.spent == 1
    [exchange] = obs.exchanges
    assert (exchange.phase, exchange.status, exchange.request_id) == ("stream", 200, "s1")
    assert exchange.bytes_down == len(body)
    assert exchange.done_ns is not None and exchange.done_ns >= obs.events[-1].t_ns >= exchange.sent_ns
    assert obs.output == {"text": "ab", "partial": False}


@respx.mock
def test_respx_a_spent_budget_refuses_the_run_stream_before_it_is_sent() -> None:
    route = respx.post(f"{RUN}/{ENDPOINT}/stream").respond(200, content=events({"x": 1}))

    async def go() -> Observation:
        async with AsyncQueueClient(target(Budget(0)), retry=FAST) as client:
            return await client.stream_lifecycle(ENDPOINT, {"prompt": "x"})

    with pytest.raises(BudgetExceeded):
        asyncio.run(go())
    assert not route.called


@respx.mock
def test_respx_an_upload_refused_by_the_load_balancer_is_retried_and_every_attempt_recorded() -> None:
    respx.post("https://rest.test/storage/auth/token").respond(200, json={
        "token": "t", "token_type": "Bearer", "base_url": "https://cdn.test", "expires_at": "2999-01-01T00:00:00Z"})
    upload = respx.post("https://cdn.test/files/upload")
    upload.side_effect = [httpx.Response(503, content=NGINX_503),
                          httpx.Response(200, json={"access_url": "https://cdn.test/f/face.png"})]

    async def go() -> tuple[str, Observation]:
        async with AsyncQueueClient(target(), retry=FAST) as client:
            with observing(Observation(endpoint=ENDPOINT, target="test")) as obs:
                url = await client.upload(FileInput(b"\x89PNG....", "image/png", "face.png"))
            return url, obs

    url, obs = asyncio.run(go())
    assert url == "https://cdn.test/f/face.png"
    assert [(e.phase, e.status, e.attempt) for e in obs.exchanges] == [
        ("token", 200, 1), ("upload", 503, 1), ("upload", 200, 2)]
    assert obs.exchanges[1].retried and not obs.exchanges[2].retried
    assert obs.exchanges[1].bytes_up == len(b"\x89PNG....")


@respx.mock
def test_respx_requests_outside_an_observation_are_recorded_nowhere() -> None:
    respx.get(f"{BASE}/r/status").respond(200, json={"status": "COMPLETED"})

    async def go() -> tuple[Observation, Observation]:
        from harness.client import SubmitHandle

        handle = SubmitHandle(ENDPOINT, "r", f"{BASE}/r", f"{BASE}/r/status", f"{BASE}/r/cancel")
        async with AsyncQueueClient(target(), retry=FAST) as client:
            first = Observation(endpoint=ENDPOINT, target="test")
            with observing(first):
                await client.status(handle)
            await client.status(handle)  # no observation: the answer is returned, nothing is kept
            second = Observation(endpoint=ENDPOINT, target="test")
            with observing(second):
                await asyncio.gather(client.status(handle), client.status(handle))  # tasks share it
            return first, second

    first, second = asyncio.run(go())
    assert [e.phase for e in first.exchanges] == ["status"] and len(first.statuses) == 1
    assert len(second.exchanges) == 2 and len(second.statuses) == 2


def test_the_sync_client_offers_each_request_method_of_the_async_one_with_its_signature() -> None:
    with QueueClient(target()) as client:
        for name in ("submit", "status", "result", "cancel", "run", "stream", "upload", "download", "lifecycle",
                     "sync_lifecycle", "stream_lifecycle"):
            theirs = getattr(AsyncQueueClient, name)
            ours = getattr(client, name)
            assert ours.__doc__ == theirs.__doc__ and ours.__name__ == name
            assert list(inspect.signature(ours).parameters.values()) == list(
                inspect.signature(theirs).parameters.values())[1:], name
