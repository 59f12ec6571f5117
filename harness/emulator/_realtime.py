"""fal's realtime API: short-lived tokens from ``POST /tokens/``, the ``/{endpoint}/realtime``
websocket (msgpack or JSON, one result per request message) and the runner websocket at
``/{endpoint}`` that carries the HTTP API over frames.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

import msgpack  # type: ignore[import-untyped]
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from harness._data import value_bounds_problem
from harness.emulator._http import MAX_JSON_DEPTH, BodyError, detail, json_response, read_json
from harness.emulator._queue import Endpoint, Job, Scheduler

__all__ = ["MAX_TOKEN_SECONDS", "RealtimeApi", "TokenIssuer"]

#: the longest-lived token the emulator issues (fal's own bound is not documented)
MAX_TOKEN_SECONDS = 86_400

#: the error codes the realtime socket sends in ``{"type": "x-fal-error", "error", "reason"}``
_ERRORS = {422: "VALIDATION_ERROR", 413: "PAYLOAD_TOO_LARGE", 503: "RUNNER_UNAVAILABLE"}


class TokenIssuer:
    """Signs and checks realtime tokens: the apps (aliases) they open and when they expire."""

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)

    def issue(self, apps: list[str], seconds: int) -> str:
        claims = {"apps": apps, "exp": int(time.time()) + seconds}
        payload = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(b"=").decode()
        return f"{payload}.{self._sign(payload)}"

    def allows(self, token: str, alias: str) -> str | None:
        """Why ``token`` does not open ``alias``, or None when it does."""
        payload, _, signature = token.partition(".")
        if not hmac.compare_digest(signature, self._sign(payload)):
            return "the token is not one this emulator issued"
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            return "the token is malformed"
        if int(claims.get("exp", 0)) <= time.time():
            return "the token has expired"
        if alias not in claims.get("apps", []):
            return f"the token does not allow the app {alias!r}"
        return None

    def _sign(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()[:40]


class RealtimeApi:
    """The token route (REST address) and the websockets (run address)."""

    def __init__(self, scheduler: Scheduler, endpoints: Mapping[str, Endpoint],
                 refuse_key: Callable[[str], Response | None], authorize: Callable[[Request], Response | None],
                 max_body_bytes: int) -> None:
        self.scheduler = scheduler
        self.endpoints = endpoints
        self.refuse_key = refuse_key
        self.authorize = authorize
        self.max_body = max_body_bytes
        self.tokens = TokenIssuer()

    async def token(self, request: Request) -> Response:
        denied = self.authorize(request)
        if denied is not None:
            return denied
        try:
            body = await read_json(request, self.max_body)
        except BodyError as exc:
            return exc.response
        problems: list[dict[str, Any]] = []
        apps = body.get("allowed_apps") if isinstance(body, dict) else None
        if not isinstance(apps, list) or not apps or not all(isinstance(a, str) and a for a in apps):
            problems.append({"loc": ["body", "allowed_apps"], "msg": "Input should be a non-empty list of app names",
                             "type": "list_type"})
        seconds = body.get("token_expiration", 120) if isinstance(body, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= MAX_TOKEN_SECONDS:
            problems.append({"loc": ["body", "token_expiration"], "type": "int_range",
                             "msg": f"Input should be a whole number of seconds from 1 to {MAX_TOKEN_SECONDS}"})
        if problems:
            return json_response({"detail": problems}, 422)
        assert isinstance(apps, list) and isinstance(seconds, int)
        return json_response(self.tokens.issue(apps, seconds), 201)

    async def socket(self, ws: WebSocket) -> None:
        """``/{endpoint}/realtime`` (fal's realtime protocol) or ``/{endpoint}`` (HTTP over frames)."""
        path = ws.url.path.strip("/")
        endpoint = self.endpoints.get(path)
        realtime = endpoint is None and path.endswith("/realtime")
        if realtime:
            endpoint = self.endpoints.get(path[: -len("/realtime")])
        if endpoint is None:
            await ws.send_denial_response(detail(404, f"Path /{path} not found"))
            return
        refused = self._refuse(ws, endpoint)
        if refused is not None:
            await ws.send_denial_response(refused)
            return
        if realtime and not endpoint.model.contract.realtime:
            await ws.send_denial_response(detail(404, "Path /realtime not found"))
            return
        await ws.accept()
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                binary = message.get("bytes") is not None
                if realtime:
                    await self._realtime_message(ws, endpoint, message, binary)
                else:
                    await self._http_message(ws, endpoint, message)
        except WebSocketDisconnect:
            return

    def _refuse(self, ws: WebSocket, endpoint: Endpoint) -> Response | None:
        token = ws.query_params.get("fal_jwt_token")
        if token is not None:
            why = self.tokens.allows(token, endpoint.app_root.split("/")[-1])
            return None if why is None else detail(401, f"Unauthorized: {why}")
        scheme, _, key = ws.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "key" or not key.strip():
            return detail(401, "Unauthorized: send fal_jwt_token (POST /tokens/) or 'Authorization: Key <key>'")
        return self.refuse_key(key.strip())

    async def _run(self, endpoint: Endpoint, payload: Any, mode: str) -> Job:
        job = self.scheduler.submit(endpoint, payload, mode)
        await job.done.wait()
        return job

    async def _realtime_message(self, ws: WebSocket, endpoint: Endpoint, message: Mapping[str, Any],
                                binary: bool) -> None:
        if len(message["bytes"] if binary else message["text"]) > self.max_body:
            await _send_error(ws, _ERRORS[413], f"the message is larger than {self.max_body} bytes")
            return
        try:
            payload = msgpack.unpackb(message["bytes"], raw=False) if binary else json.loads(message["text"])
        except (ValueError, msgpack.UnpackException, RecursionError):
            await _send_error(ws, "INVALID_MESSAGE", "the message is not valid msgpack or JSON")
            return
        problem = value_bounds_problem(payload, MAX_JSON_DEPTH)
        if problem is not None:
            await _send_error(ws, "INVALID_MESSAGE", f"the message is {problem}")
            return
        if not isinstance(payload, dict):
            await _send_error(ws, "INVALID_MESSAGE", "a request message is a map of input fields")
            return
        request_id = payload.get("request_id")
        job = await self._run(endpoint, payload, "realtime")
        outcome = job.outcome
        if outcome is None:
            await _send_error(ws, _ERRORS[503], "the emulator is shutting down")
            return
        body = json.loads(outcome.body) if outcome.body else None
        if outcome.status >= 400:
            code = _ERRORS.get(outcome.status, "REQUEST_FAILED")
            await _send_error(ws, code, outcome.error or f"status {outcome.status}",
                              detail=body.get("detail") if isinstance(body, dict) else None, request_id=request_id)
            return
        result: dict[str, Any] = body if isinstance(body, dict) else {"output": body}
        if request_id is not None:
            result["request_id"] = request_id
        job.timeline["result_served_ns"].append(time.monotonic_ns())
        if binary:
            await ws.send_bytes(msgpack.packb(result, use_bin_type=True))
        else:
            await ws.send_text(json.dumps(result))

    async def _http_message(self, ws: WebSocket, endpoint: Endpoint, message: Mapping[str, Any]) -> None:
        """fal's HTTP-over-websocket frames: ``start`` (status, headers), the body, ``end``."""
        text = message.get("text")
        raw: str = text if isinstance(text, str) else bytes(message.get("bytes") or b"").decode(errors="replace")
        try:
            payload = json.loads(raw)
        except (ValueError, RecursionError):
            payload = None
        if value_bounds_problem(payload, MAX_JSON_DEPTH) is not None:
            payload = None
        if not isinstance(payload, dict):
            await ws.send_text(json.dumps({"type": "start", "request_id": None, "status": 422,
                                           "headers": {"content-type": "application/json"}}))
            await ws.send_text(json.dumps({"detail": [{"loc": ["body"], "msg": "JSON object expected",
                                                       "type": "json_invalid"}]}))
            await ws.send_text(json.dumps({"type": "end", "request_id": None, "status": 422}))
            return
        started = time.monotonic_ns()
        job = await self._run(endpoint, payload, "realtime")
        outcome = job.outcome
        status = outcome.status if outcome is not None else 503
        headers = {"content-type": "application/json", **(outcome.headers if outcome is not None else {})}
        await ws.send_text(json.dumps({"type": "start", "request_id": job.id, "status": status, "headers": headers}))
        await ws.send_text(outcome.body.decode() if outcome is not None else '{"detail": "shutting down"}')
        job.timeline["result_served_ns"].append(time.monotonic_ns())
        await ws.send_text(json.dumps({"type": "end", "request_id": job.id, "status": status,
                                       "time_to_first_byte_seconds": (time.monotonic_ns() - started) / 1e9}))


async def _send_error(ws: WebSocket, error: str, reason: str, **extra: Any) -> None:
    # As JSON text: both official clients raise x-fal-error only from text frames.
    body = {"type": "x-fal-error", "error": error, "reason": reason}
    body.update({k: v for k, v in extra.items() if v is not None})
    await ws.send_text(json.dumps(body))
