"""Webhook delivery as fal does it: the OK/ERROR body, Ed25519-signed headers, a JWKS, retries.

Deliveries go to loopback addresses only; the submit route refuses any other webhook URL.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections.abc import Callable

import httpx
from nacl.signing import SigningKey

from harness._target import is_loopback_url
from harness.emulator._config import WebhookSettings
from harness.emulator._http import dumps

__all__ = ["WebhookSender", "webhook_body"]


def webhook_body(request_id: str, status_code: int, body: bytes) -> dict[str, object]:
    """fal's webhook payload for a finished request whose result is ``status_code`` + ``body``."""
    try:
        payload: object = json.loads(body) if body else None
    except ValueError:
        payload = None
    out: dict[str, object] = {"request_id": request_id, "gateway_request_id": request_id}
    if status_code < 400:
        out.update(status="OK", payload=payload)
    else:
        out.update(status="ERROR", error=f"Invalid status code: {status_code}", payload=payload)
    if payload is None and body:
        out["payload_error"] = "Response payload is not valid JSON"
    return out


class WebhookSender:
    """Signs and delivers webhooks; one key pair per running emulator, published as a JWKS."""

    def __init__(self, settings: WebhookSettings, time_scale: float, client: Callable[[], httpx.AsyncClient]) -> None:
        self.settings = settings
        self.time_scale = time_scale
        self._client = client
        self._key = SigningKey.generate()
        public = bytes(self._key.verify_key)
        self.kid = hashlib.sha256(public).hexdigest()[:16]
        self._jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": _b64url(public), "kid": self.kid,
                                "use": "sig", "alg": "EdDSA"}]}

    @staticmethod
    def refuse(url: str) -> str | None:
        """Why ``url`` cannot be a webhook target here, or None when it can."""
        if is_loopback_url(url):
            return None
        return ("The emulator delivers webhooks to loopback addresses only (127.0.0.1, ::1, localhost); "
                f"{url!r} is not one")

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return self._jwks

    def headers(self, request_id: str, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        user_id = self.settings.user_id
        message = f"{request_id}\n{user_id}\n{timestamp}\n{hashlib.sha256(body).hexdigest()}".encode()
        return {
            "content-type": "application/json",
            "x-fal-webhook-request-id": request_id,
            "x-fal-webhook-user-id": user_id,
            "x-fal-webhook-timestamp": timestamp,
            "x-fal-webhook-signature": self._key.sign(message).signature.hex(),
        }

    async def deliver(self, url: str, request_id: str, status_code: int, result: bytes,
                      record: dict[str, object]) -> None:
        """POST the webhook, retrying with doubling (scaled) backoff. Each attempt lands in
        ``record["deliveries"]``; ``record["outcome"]`` becomes ``delivered`` or ``gave up`` when
        no attempt is left to make."""
        body = dumps(webhook_body(request_id, status_code, result))
        delay = self.settings.backoff_seconds
        deliveries = record["deliveries"]
        assert isinstance(deliveries, list)
        for attempt in range(1, self.settings.max_attempts + 1):
            entry: dict[str, object] = {"attempt": attempt, "at_ns": time.monotonic_ns()}
            deliveries.append(entry)
            try:
                response = await self._client().post(url, content=body, headers=self.headers(request_id, body),
                                                     timeout=self.settings.timeout_seconds)
                entry["status_code"] = response.status_code
                if response.is_success:
                    record["outcome"] = "delivered"
                    return
            except httpx.HTTPError as exc:
                entry["error"] = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if attempt < self.settings.max_attempts:
                await asyncio.sleep(delay * self.time_scale)
                delay *= 2
        record["outcome"] = "gave up"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
