"""Webhooks: fal's OK/ERROR bodies, Ed25519 signatures checked against the served JWKS, retries."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from harness._serve import serve_loopback
from harness.client import ssl_context
from harness.emulator import Emulator

from .helpers import Factory, client, submit

#: the one TLS context for the loopback clients here (a client building its own loads the CA bundle)
TLS = ssl_context(trust_env=False)


class Receiver:
    """A loopback webhook endpoint that records every delivery and fails the first ``fail`` of them."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self._arrived = threading.Condition()

        async def hook(request: Request) -> Response:
            body = await request.body()
            with self._arrived:
                self.calls.append((dict(request.headers), body))
                failed = len(self.calls) <= self.fail
                self._arrived.notify_all()
            return Response(status_code=500 if failed else 200)

        self.served = serve_loopback(Starlette(routes=[Route("/hook", hook, methods=["POST"])]), name="webhooks")
        self.url = f"http://127.0.0.1:{self.served.ports[0]}/hook"

    def wait(self, count: int, timeout: float = 10.0) -> None:
        with self._arrived:
            arrived = self._arrived.wait_for(lambda: len(self.calls) >= count, timeout)
        assert arrived, f"{len(self.calls)} of {count} deliveries arrived"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.served.stop()


def _verify(emulator: Emulator, headers: dict[str, str], body: bytes) -> None:
    jwks = httpx.get(f"{emulator.queue_url}/.well-known/jwks.json", trust_env=False, verify=TLS).json()
    message = "\n".join([headers["x-fal-webhook-request-id"], headers["x-fal-webhook-user-id"],
                         headers["x-fal-webhook-timestamp"], hashlib.sha256(body).hexdigest()]).encode()
    signature = bytes.fromhex(headers["x-fal-webhook-signature"])
    keys = [k for k in jwks["keys"] if (k["kty"], k["crv"]) == ("OKP", "Ed25519")]
    assert keys
    for key in keys:
        raw = base64.urlsafe_b64decode(key["x"] + "=" * (-len(key["x"]) % 4))
        VerifyKey(raw).verify(message, signature)  # raises BadSignatureError when it does not match
    assert abs(int(headers["x-fal-webhook-timestamp"]) - time.time()) < 300


def test_success_webhook_is_signed_and_carries_the_output(fal_emulator: Emulator, receiver: Receiver) -> None:
    with client(fal_emulator) as http:
        handle = submit(http, fal_emulator, "fal-ai/flux-pro", {"prompt": "hook", "seed": 1},
                        params={"fal_webhook": receiver.url})
        assert handle["gateway_request_id"] == handle["request_id"]
        receiver.wait(1)
        result = http.get(handle["response_url"]).json()
    headers, body = receiver.calls[0]
    _verify(fal_emulator, headers, body)
    with pytest.raises(BadSignatureError):
        _verify(fal_emulator, headers, body.replace(b'"OK"', b'"ok"'))
    payload = json.loads(body)
    assert payload == {"request_id": handle["request_id"], "gateway_request_id": handle["request_id"],
                       "status": "OK", "payload": result}
    assert headers["x-fal-webhook-request-id"] == handle["request_id"]


def test_error_webhook_names_the_status_and_carries_the_detail(fal_emulator: Emulator, receiver: Receiver) -> None:
    with client(fal_emulator) as http:
        handle = submit(http, fal_emulator, "fal-ai/flux-pro", {"prompt": "hook", "num_images": 7},
                        params={"fal_webhook": receiver.url})
        receiver.wait(1)
    headers, body = receiver.calls[0]
    _verify(fal_emulator, headers, body)
    payload = json.loads(body)
    assert payload["request_id"] == handle["request_id"]
    assert (payload["status"], payload["error"]) == ("ERROR", "Invalid status code: 422")
    assert payload["payload"]["detail"][0]["loc"] == ["body", "num_images"]


def test_a_failed_delivery_is_retried(fal_emulator_factory: Factory) -> None:
    emulator = fal_emulator_factory({"time_scale": 0.01, "webhooks": {"max_attempts": 3, "backoff_seconds": 1}})
    receiver = Receiver(fail=1)
    try:
        with client(emulator) as http:
            handle = submit(http, emulator, "fal-ai/flux-pro", {"prompt": "retry"},
                            params={"fal_webhook": receiver.url})
            receiver.wait(2)
    finally:
        receiver.served.stop()
    first, second = receiver.calls
    assert first[1] == second[1]
    _verify(emulator, *second)
    record = _webhook_outcome(emulator, handle["request_id"])
    delivered = record["deliveries"]
    assert record["outcome"] == "delivered" and [d["status_code"] for d in delivered] == [500, 200]
    assert delivered[1]["at_ns"] - delivered[0]["at_ns"] >= 0.01 * 1e9  # 1 s of backoff, scaled


def _webhook_outcome(emulator: Emulator, request_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """The webhook's record once the emulator has no attempt left to make."""
    deadline = time.monotonic() + timeout
    while (record := emulator.timeline(request_id).get("webhook") or {}).get("outcome") is None:
        assert time.monotonic() < deadline, f"the webhook is still being delivered: {record}"
        time.sleep(0.01)
    return record


def test_retries_stop_at_max_attempts(fal_emulator_factory: Factory) -> None:
    emulator = fal_emulator_factory({"webhooks": {"max_attempts": 2, "backoff_seconds": 0.1}})
    receiver = Receiver(fail=10)
    try:
        with client(emulator) as http:
            handle = submit(http, emulator, "fal-ai/flux-pro", {"prompt": "give up"},
                            params={"fal_webhook": receiver.url})
            record = _webhook_outcome(emulator, handle["request_id"])
    finally:
        receiver.served.stop()
    assert record["outcome"] == "gave up" and [d["status_code"] for d in record["deliveries"]] == [500, 500]
    assert len(receiver.calls) == 2


def test_webhooks_off_this_machine_are_refused_at_submit(http: httpx.Client, fal_emulator: Emulator) -> None:
    response = http.post(f"{fal_emulator.queue_url}/fal-ai/flux-pro", json={"prompt": "x"},
                         params={"fal_webhook": "https://example.com/hook"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "fal_webhook"]
