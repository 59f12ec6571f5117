"""The official Python fal-client 1.0.3, sync and async, unchanged, against the emulator through
``patch_fal_client``: every operation a user meets, with the socket guard refusing anything that
is not this machine."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from typing import Any

import fal_client
import fal_client.client
import httpx
import httpx_sse
import pytest

from harness.client import ssl_context
from harness.contracts import get_contract, validate_output
from harness.emulator import Emulator, patch_fal_client

from .conftest import BIG_BYTES, HELD, REALTIME, STREAMED, Receiver, SocketGuard, fetch, patterned, verify_webhook

#: the one TLS context for the loopback clients here (a client building its own loads the CA bundle)
TLS = ssl_context(trust_env=False)

IMAGE = "fal-ai/flux-pro"
PROMPT = {"prompt": "a lighthouse at dusk", "image_size": "square"}


@pytest.fixture
def patched(emulator: Emulator) -> Any:
    with patch_fal_client(emulator):
        yield fal_client


def _valid(endpoint: str, output: dict[str, Any]) -> None:
    assert validate_output(get_contract(endpoint), output) == []


def test_sync_run_subscribe_and_queue_operations(patched: Any, emulator: Emulator) -> None:
    ran = patched.run(IMAGE, PROMPT)
    _valid(IMAGE, ran)
    assert fetch(ran["images"][0]["url"]).content[:2] == b"\xff\xd8"

    updates: list[Any] = []
    subscribed = patched.subscribe(IMAGE, PROMPT, with_logs=True, on_queue_update=updates.append)
    _valid(IMAGE, subscribed)
    assert isinstance(updates[-1], fal_client.Completed) and updates[-1].logs

    handle = patched.submit(IMAGE, PROMPT, priority="low", hint="runner-1")
    assert isinstance(handle.status(with_logs=True), fal_client.Queued | fal_client.InProgress | fal_client.Completed)
    _valid(IMAGE, handle.get())
    assert patched.result(IMAGE, handle.request_id) == handle.get()
    with pytest.raises(fal_client.FalClientHTTPError) as done:
        handle.cancel()
    assert (done.value.status_code, done.value.response.json()) == (400, {"status": "ALREADY_COMPLETED"})
    assert emulator.timeline(handle.request_id)["headers"] == {"x-fal-queue-priority": "low",
                                                               "x-fal-runner-hint": "runner-1"}

    held = patched.submit(*HELD)
    assert isinstance(held.status(), fal_client.Queued)
    held.cancel()
    final = next(e for e in held.iter_events(interval=0.01) if isinstance(e, fal_client.Completed))
    assert final.error_type == "client_cancelled"


def test_sync_uploads_small_and_95_mib_arrive_intact(patched: Any) -> None:
    small = patterned(4096)
    url = patched.upload(small, "application/octet-stream", "small.bin")
    assert fetch(url).content == small
    big = patterned(BIG_BYTES)
    url = patched.upload(big, "application/octet-stream", "big.bin")
    got = fetch(url).content
    assert len(got) == BIG_BYTES and got == big


def _check_stream(events: list[dict[str, Any]]) -> None:
    contract = get_contract(STREAMED[0])
    assert len(events) == (contract.streaming.count if contract.streaming else 0) + 1
    assert [e["partial"] for e in events] == [True] * (len(events) - 1) + [False]
    texts = [e["output"] for e in events]
    assert all(b.startswith(a) and len(b) > len(a) for a, b in itertools.pairwise(texts))
    _valid(STREAMED[0], events[-1])


def test_sync_stream_sends_growing_partial_outputs_then_the_output(patched: Any) -> None:
    _check_stream(list(patched.stream(*STREAMED)))


def test_a_stream_of_an_endpoint_that_does_not_stream_is_404(patched: Any, emulator: Emulator) -> None:
    # fal-client reads the answer as a stream without checking its status; the answer is fal's 404.
    with pytest.raises(httpx_sse.SSEError, match="application/json"):
        list(patched.stream(IMAGE, PROMPT))
    answer = httpx.post(f"{emulator.run_url}/{IMAGE}/stream", json=PROMPT, trust_env=False, verify=TLS,
                        headers={"Authorization": f"Key {emulator.key}"})
    assert (answer.status_code, answer.json()) == (404, {"detail": "Path /stream not found"})


def test_sync_realtime_answers_msgpack_and_json_and_validates(patched: Any) -> None:
    endpoint, payload = REALTIME
    with patched.realtime(endpoint) as connection:
        connection.send({**payload, "request_id": "py-1"})
        result = connection.recv()
        assert result is not None and result["request_id"] == "py-1"
        _valid(endpoint, {k: v for k, v in result.items() if k != "request_id"})
        assert result["images"][0]["url"].startswith("data:image/jpeg;base64,")
        connection.send({**payload, "num_inference_steps": 99})
        with pytest.raises(fal_client.client.RealtimeError) as refused:
            connection.recv()
        assert refused.value.error == "VALIDATION_ERROR"
        assert refused.value.payload["detail"][0]["loc"] == ["body", "num_inference_steps"]
    with patched.realtime(endpoint, encode_message=json.dumps) as connection:
        connection.send(payload)
        answer = connection.recv()
        assert answer is not None and answer["images"][0]["url"].startswith("data:image/jpeg")


def test_the_runner_websocket_carries_the_http_api(patched: Any) -> None:
    with patched.ws_connect(IMAGE) as ws:
        ws.send(json.dumps(PROMPT))
        start, body, end = (json.loads(ws.recv()) for _ in range(3))
    assert (start["type"], start["status"], end["type"]) == ("start", 200, "end")
    _valid(IMAGE, body)


def test_realtime_without_a_valid_token_or_key_is_refused(emulator: Emulator) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    base = "ws" + emulator.run_url[4:]
    for url in (f"{base}/{REALTIME[0]}/realtime?fal_jwt_token=forged.token", f"{base}/{REALTIME[0]}/realtime"):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, open_timeout=10).close()
        assert refused.value.response.status_code == 401
    token = httpx.post(f"{emulator.queue_url}/tokens/", json={"allowed_apps": ["flux-pro"]},
                       headers={"Authorization": f"Key {emulator.key}"}, trust_env=False, verify=TLS).json()
    with pytest.raises(InvalidStatus) as other_app:
        connect(f"{base}/{REALTIME[0]}/realtime?fal_jwt_token={token}", open_timeout=10).close()
    assert other_app.value.response.status_code == 401


def test_webhooks_arrive_signed(patched: Any, emulator: Emulator, receiver: Receiver) -> None:
    handle = patched.submit(IMAGE, PROMPT, webhook_url=receiver.url)
    headers, body = receiver.wait_for(handle.request_id)
    verify_webhook(emulator, headers, body["raw"])
    assert body["status"] == "OK"
    _valid(IMAGE, body["payload"])


def test_wrong_keys_get_fals_own_answers(emulator: Emulator) -> None:
    with patch_fal_client(emulator, set_key=False):
        for key, detail in (("nobody:nothing", "No user found for Key ID and Secret"),
                            ("no-colon", "Invalid Key Authorization header format. Expected "
                                         "'<key_id>:<key_secret>'.")):
            with pytest.raises(fal_client.FalClientHTTPError) as refused:
                fal_client.SyncClient(key=key).run(IMAGE, PROMPT)
            assert (refused.value.status_code, str(refused.value)) == (401, detail)


def test_async_client_runs_streams_uploads_and_realtime(patched: Any, emulator: Emulator) -> None:
    async def scenario() -> None:
        _valid(IMAGE, await patched.run_async(IMAGE, PROMPT))
        updates: list[Any] = []
        _valid(IMAGE, await patched.subscribe_async(IMAGE, PROMPT, with_logs=True, on_queue_update=updates.append))
        assert isinstance(updates[-1], fal_client.Completed)
        handle = await patched.submit_async(IMAGE, PROMPT)
        assert await handle.get() == await patched.result_async(IMAGE, handle.request_id)
        held = await patched.submit_async(*HELD)
        assert isinstance(await held.status(), fal_client.Queued)
        await held.cancel()
        _check_stream([e async for e in patched.stream_async(*STREAMED)])
        data = patterned(8192)
        assert fetch(await patched.upload_async(data, "application/octet-stream")).content == data
        async with patched.realtime_async(REALTIME[0]) as connection:
            await connection.send({**REALTIME[1], "request_id": "py-async"})
            result = await connection.recv()
            assert result is not None and result["request_id"] == "py-async"

    asyncio.run(scenario())


def test_nothing_under_the_patch_resolves_a_name_off_this_machine(patched: Any, emulator: Emulator,
                                                                  guard: SocketGuard) -> None:
    with pytest.raises(socket.gaierror):  # the guard is live: a fal host cannot be resolved here
        socket.getaddrinfo("fal.run", 443)
    guard.refused.clear()
    guard.looked_up.clear()
    patched.run(IMAGE, PROMPT)
    patched.subscribe(IMAGE, PROMPT, with_logs=True)
    patched.status(IMAGE, patched.submit(IMAGE, PROMPT).request_id)
    list(patched.stream(*STREAMED))
    patched.upload(b"x" * 10, "text/plain")
    patched.upload(b"x" * 10, "text/plain", repository="fal")
    with patched.realtime(REALTIME[0]) as connection:
        connection.send(REALTIME[1])
        connection.recv()
    with patched.ws_connect(IMAGE) as ws:
        ws.send(json.dumps(PROMPT))
        ws.recv()
    assert guard.looked_up and set(guard.looked_up) <= {"127.0.0.1"}, guard.looked_up
