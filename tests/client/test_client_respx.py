"""Client behaviour a real server cannot produce on demand, driven through respx mocks.

Everything else the client does is tested against the real emulator on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random

import httpx
import pytest
import respx

from harness import BudgetExceeded
from harness.client import AsyncQueueClient, Budget, FileInput, FileMode, RetryPolicy, Target, build_body
from harness.client._files import ENCODE_STEP

BASE = "https://queue.test"
ENDPOINT = "acme/painter/v2"
STATUS = f"{BASE}/acme/painter/requests/r1/status"
RESULT = f"{BASE}/acme/painter/requests/r1"
SUBMITTED = {
    "status": "IN_QUEUE", "request_id": "r1", "response_url": RESULT, "status_url": STATUS,
    "cancel_url": f"{RESULT}/cancel", "queue_position": 0, "logs": None, "metrics": {},
}
OUTPUT = {"images": [{"url": "https://cdn.test/a.png", "content_type": "image/png", "width": 1, "height": 1}],
          "seed": 3}
FAST = RetryPolicy(base_delay=0.001, max_delay=0.002, rng=random.Random(1))


def target(budget: Budget | None = None) -> Target:
    return Target("test", BASE, "https://run.test", "https://rest.test", "https://cdn.test", key="k-123",
                  budget=budget)


def sse(*events: dict[str, object]) -> bytes:
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@respx.mock
def test_respx_partial_sse_stream_falls_back_to_polling() -> None:
    respx.post(f"{BASE}/{ENDPOINT}").respond(200, json=SUBMITTED)
    # The stream says IN_QUEUE and then the connection ends before COMPLETED.
    respx.get(f"{STATUS}/stream").respond(200, headers={"content-type": "text/event-stream"},
                                         content=sse({"status": "IN_QUEUE", "queue_position": 0}))
    respx.get(STATUS).respond(200, json={"status": "COMPLETED", "logs": None, "metrics": {}})
    respx.get(RESULT).respond(200, json=OUTPUT)
    respx.get("https://cdn.test/a.png").respond(200, content=b"png", headers={"content-type": "image/png"})

    async def go():  # type: ignore[no-untyped-def]
        async with AsyncQueueClient(target(), retry=FAST) as client:
            return await client.lifecycle(ENDPOINT, {"prompt": "x"})

    obs = run(go())
    assert obs.ok, obs.error
    assert obs.tags["stream_fallback"] == "closed before COMPLETED"
    assert [(s.status, s.via) for s in obs.statuses] == [("IN_QUEUE", "stream"), ("COMPLETED", "poll")]
    assert obs.output == OUTPUT
    assert obs.downloads[0].size == 3


@respx.mock
def test_respx_stream_refused_falls_back_to_polling() -> None:
    respx.post(f"{BASE}/{ENDPOINT}").respond(200, json=SUBMITTED)
    respx.get(f"{STATUS}/stream").respond(404, json={"detail": "Path not found"})
    respx.get(STATUS).respond(200, json={"status": "COMPLETED", "logs": None, "metrics": {}})
    respx.get(RESULT).respond(200, json={"seed": 1})

    async def go():  # type: ignore[no-untyped-def]
        async with AsyncQueueClient(target(), retry=FAST) as client:
            return await client.lifecycle(ENDPOINT, {"prompt": "x"})

    obs = run(go())
    assert obs.ok
    assert obs.tags["stream_fallback"] == "stream answered HTTP 404"


@respx.mock
def test_respx_ingress_502_is_retried_and_every_retry_recorded() -> None:
    nginx = b"<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"
    route = respx.post(f"{BASE}/{ENDPOINT}")
    route.side_effect = [httpx.Response(502, content=nginx), httpx.Response(502, content=nginx),
                         httpx.Response(200, json=SUBMITTED)]

    async def go():  # type: ignore[no-untyped-def]
        async with AsyncQueueClient(target(), retry=FAST) as client:
            from harness.client import Observation, observing
            with observing(Observation(endpoint=ENDPOINT, target="test")) as obs:
                await client.submit(ENDPOINT, {"prompt": "x"})
            return obs

    obs = run(go())
    assert [e.status for e in obs.exchanges] == [502, 502, 200]
    assert obs.retries == 2
    assert all(e.retry_delay_s is not None for e in obs.exchanges[:2])
    assert obs.submit_sent_ns == obs.exchanges[0].sent_ns  # submit sent = the first attempt


@respx.mock
def test_respx_502_with_a_request_id_is_the_api_and_not_retried() -> None:
    respx.post(f"{BASE}/{ENDPOINT}").respond(502, content=b"nginx", headers={"x-fal-request-id": "r9"})

    async def go():  # type: ignore[no-untyped-def]
        async with AsyncQueueClient(target(), retry=FAST) as client:
            return await client.lifecycle(ENDPOINT, {"prompt": "x"})

    obs = run(go())
    assert len(obs.exchanges) == 1
    assert obs.error is not None and obs.error.kind == "vendor" and obs.error.status == 502
    assert obs.error.request_id == "r9"


@respx.mock
def test_respx_user_timeout_504_is_never_retried() -> None:
    respx.post(f"{BASE}/{ENDPOINT}").respond(
        504, json={"detail": "Request timed out", "error_type": "request_timeout"},
        headers={"x-fal-request-timeout-type": "user"})

    async def go():  # type: ignore[no-untyped-def]
        async with AsyncQueueClient(target(), retry=FAST) as client:
            return await client.lifecycle(ENDPOINT, {"prompt": "x"})

    obs = run(go())
    assert len(obs.exchanges) == 1
    assert obs.error is not None and obs.error.error_type == "request_timeout"


@respx.mock
def test_respx_429_retries_until_attempts_run_out() -> None:
    respx.post(f"{BASE}/{ENDPOINT}").respond(429, json={"detail": "Too many requests"})

    async def go():  # type: ignore[no-untyped-def]
        async with AsyncQueueClient(target(), retry=dataclasses.replace(FAST, max_attempts=4)) as client:
            return await client.lifecycle(ENDPOINT, {"prompt": "x"})

    obs = run(go())
    assert [e.status for e in obs.exchanges] == [429] * 4
    assert obs.retries == 3 and obs.error is not None and obs.error.status == 429


@respx.mock
def test_respx_malformed_json_status_is_a_vendor_error_not_a_crash() -> None:
    respx.post(f"{BASE}/{ENDPOINT}").respond(200, json=SUBMITTED)
    respx.get(f"{STATUS}/stream").respond(200, headers={"content-type": "text/event-stream"},
                                         content=b"data: {not json\n\n")
    respx.get(STATUS).respond(200, content=b"{not json", headers={"content-type": "application/json"})

    async def go():  # type: ignore[no-untyped-def]
        async with AsyncQueueClient(target(), retry=FAST) as client:
            return await client.lifecycle(ENDPOINT, {"prompt": "x"})

    obs = run(go())
    assert obs.tags["stream_fallback"] == "stream broke: JSONDecodeError"
    assert obs.error is not None and "not JSON" in obs.error.message


@respx.mock
def test_respx_422_becomes_a_validation_error_with_fields() -> None:
    respx.post(f"{BASE}/{ENDPOINT}").respond(
        422, json={"detail": [{"loc": ["body", "image_size", "width"], "msg": "too big", "type": "less_than_equal"}]},
        headers={"x-fal-billable-units": "0"})

    async def go():  # type: ignore[no-untyped-def]
        async with AsyncQueueClient(target(), retry=FAST) as client:
            return await client.lifecycle(ENDPOINT, {"prompt": "x"})

    obs = run(go())
    assert obs.error is not None and obs.error.kind == "validation"
    assert obs.error.fields == ["image_size.width"]
    assert obs.exchanges[0].headers["x-fal-billable-units"] == "0"


@respx.mock
def test_respx_completed_with_error_is_a_model_failure() -> None:
    respx.post(f"{BASE}/{ENDPOINT}").respond(200, json=SUBMITTED)
    respx.get(f"{STATUS}/stream").respond(200, headers={"content-type": "text/event-stream"}, content=sse(
        {"status": "IN_PROGRESS", "logs": None},
        {"status": "COMPLETED", "logs": None, "error": "Runner disconnected", "error_type": "runner_disconnected"}))
    respx.get(RESULT).respond(500, json={"detail": "Runner disconnected"})

    async def go():  # type: ignore[no-untyped-def]
        async with AsyncQueueClient(target(), retry=FAST) as client:
            return await client.lifecycle(ENDPOINT, {"prompt": "x"})

    obs = run(go())
    assert obs.error is not None and obs.error.kind == "model"
    assert obs.error.error_type == "runner_disconnected"
    assert obs.result_status == 500 and obs.output == {"detail": "Runner disconnected"}


@respx.mock
def test_respx_credentials_go_only_to_fal_hosts() -> None:
    respx.post(f"{BASE}/{ENDPOINT}").respond(200, json=SUBMITTED)
    respx.get(f"{STATUS}/stream").respond(200, headers={"content-type": "text/event-stream"},
                                         content=sse({"status": "COMPLETED", "logs": None}))
    respx.get(RESULT).respond(200, json=OUTPUT)
    download = respx.get("https://cdn.test/a.png").respond(200, content=b"png")

    async def go():  # type: ignore[no-untyped-def]
        async with AsyncQueueClient(target(), retry=FAST) as client:
            return await client.lifecycle(ENDPOINT, {"prompt": "x"})

    obs = run(go())
    assert obs.ok
    sent = {c.request.url.host: c.request.headers.get("authorization") for c in respx.calls}
    assert sent["queue.test"] == "Key k-123"
    assert sent["cdn.test"] is None
    assert download.called


@respx.mock
def test_respx_budget_refuses_the_request_before_sending() -> None:
    submit = respx.post(f"{BASE}/{ENDPOINT}").respond(200, json=SUBMITTED)

    async def go():  # type: ignore[no-untyped-def]
        async with AsyncQueueClient(target(Budget(0)), retry=FAST) as client:
            await client.submit(ENDPOINT, {"prompt": "x"})

    with pytest.raises(BudgetExceeded):
        run(go())
    assert not submit.called


def test_data_uri_body_is_the_same_json_as_the_slow_way() -> None:
    import base64

    face = FileInput.from_fixture("face.png")
    body = build_body({"prompt": "a \"quoted\" é", "n": 2}, {"face_image_url": face})
    expected = {"prompt": "a \"quoted\" é", "n": 2,
                "face_image_url": "data:image/png;base64," + base64.b64encode(face.data).decode()}
    assert json.loads(body) == expected



@pytest.mark.parametrize("size", [0, 1, 2, 3, ENCODE_STEP - 1, ENCODE_STEP, ENCODE_STEP + 1, 3 * ENCODE_STEP + 2])
def test_a_data_uri_body_of_any_size_decodes_to_the_same_bytes_and_is_valid_json(size: int) -> None:
    import base64

    data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    files = [FileInput(data, "image/png", "a.png"), FileInput(b"\x00\xff", "audio/wav", "b.wav")]
    body = build_body({"prompt": "x", "image_urls": "replaced", "n": 1}, {"image_urls": files, "mask_url": files[1]})
    assert isinstance(body, bytes)
    sent = json.loads(body)  # raises on anything that is not one JSON document
    assert set(sent) == {"prompt", "image_urls", "n", "mask_url"} and sent["prompt"] == "x" and sent["n"] == 1
    heads = [u.partition(",")[0] for u in sent["image_urls"]]
    assert heads == ["data:image/png;base64", "data:audio/wav;base64"]
    assert [base64.b64decode(u.partition(",")[2], validate=True) for u in sent["image_urls"]] == [data, b"\x00\xff"]
    assert sent["mask_url"] == sent["image_urls"][1]


def test_file_modes_are_named() -> None:
    assert {m.value for m in FileMode} == {"upload", "data-uri", "url"}


@respx.mock
def test_respx_a_complete_stream_needs_no_fallback_and_is_closed() -> None:
    respx.post(f"{BASE}/{ENDPOINT}").respond(200, json=SUBMITTED)
    respx.get(f"{STATUS}/stream").respond(200, headers={"content-type": "text/event-stream"}, content=sse(
        {"status": "IN_QUEUE", "queue_position": 1}, {"status": "IN_PROGRESS", "logs": None},
        {"status": "COMPLETED", "logs": None}))
    poll = respx.get(STATUS).respond(200, json={"status": "COMPLETED"})
    respx.get(RESULT).respond(200, json={"seed": 1})

    async def go():  # type: ignore[no-untyped-def]
        async with AsyncQueueClient(target(), retry=FAST) as client:
            return await client.lifecycle(ENDPOINT, {"prompt": "x"})

    obs = run(go())
    assert "stream_fallback" not in obs.tags
    assert not poll.called
    stream = next(e for e in obs.exchanges if e.phase == "stream")
    assert stream.done_ns is not None  # closed when COMPLETED arrived, not whenever GC ran


@respx.mock
def test_respx_a_422_from_the_result_url_is_a_validation_error() -> None:
    # fal's queue accepts any JSON; the app's 422 arrives through the result URL.
    respx.post(f"{BASE}/{ENDPOINT}").respond(200, json=SUBMITTED)
    respx.get(f"{STATUS}/stream").respond(200, headers={"content-type": "text/event-stream"},
                                         content=sse({"status": "COMPLETED", "logs": None}))
    respx.get(RESULT).respond(422, json={"detail": [{"loc": ["body", "num_images"], "msg": "too many",
                                                    "type": "less_than_equal"}]})

    async def go():  # type: ignore[no-untyped-def]
        async with AsyncQueueClient(target(), retry=FAST) as client:
            return await client.lifecycle(ENDPOINT, {"prompt": "x", "num_images": 9})

    obs = run(go())
    assert obs.error is not None
    assert (obs.error.kind, obs.error.fields) == ("validation", ["num_images"])


@respx.mock
def test_respx_a_token_answer_without_its_fields_is_a_vendor_error_not_a_crash() -> None:
    respx.post("https://rest.test/storage/auth/token").respond(200, json={"token_type": "Bearer"})

    async def go():  # type: ignore[no-untyped-def]
        async with AsyncQueueClient(target(), retry=FAST) as client:
            return await client.lifecycle(ENDPOINT, {"prompt": "x"}, files={"image_url": "face.png"},
                                          file_mode=FileMode.UPLOAD)

    obs = run(go())
    assert obs.error is not None
    assert obs.error.kind == "vendor"
    assert "token answer lacks token, expires_at" in obs.error.message


@respx.mock
def test_respx_a_422_with_odd_locations_is_still_a_validation_error() -> None:
    respx.post(f"{BASE}/{ENDPOINT}").respond(422, json={"detail": [{"loc": None, "msg": "bad"}, "not an entry"]})

    async def go():  # type: ignore[no-untyped-def]
        async with AsyncQueueClient(target(), retry=FAST) as client:
            return await client.lifecycle(ENDPOINT, {"prompt": "x"})

    obs = run(go())
    assert obs.error is not None
    assert (obs.error.kind, obs.error.fields) == ("validation", [""])


@respx.mock
def test_respx_every_retried_attempt_of_a_billable_request_is_spent() -> None:
    route = respx.post(f"{BASE}/{ENDPOINT}")
    route.side_effect = [httpx.ConnectError("reset"), httpx.ConnectError("reset"), httpx.Response(200, json=SUBMITTED)]
    budget = Budget(2)

    async def go():  # type: ignore[no-untyped-def]
        async with AsyncQueueClient(target(budget), retry=FAST) as client:
            await client.submit(ENDPOINT, {"prompt": "x"})

    with pytest.raises(BudgetExceeded):
        run(go())
    assert route.call_count == 2  # the third attempt would have been a third billed request
    assert budget.spent == 2


@respx.mock
def test_fal_itself_is_not_sent_the_submit_token() -> None:
    route = respx.post(f"{BASE}/{ENDPOINT}").respond(200, json=SUBMITTED)

    async def go(name: str) -> str | None:
        spec = Target(name, BASE, "https://run.test", "https://rest.test", "https://cdn.test", key="k-123")
        async with AsyncQueueClient(spec, retry=FAST) as client:
            await client.submit(ENDPOINT, {"prompt": "x"})
        return route.calls.last.request.headers.get("x-fal-harness-submit")

    for name in ("emulator", "http://127.0.0.1:8000"):  # an emulator, embedded or at a URL, keeps it
        token = run(go(name))
        assert isinstance(token, str) and len(token) == 32
    assert run(go("live")) is None
