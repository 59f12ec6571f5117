"""The fault plan: which call fails how, chosen by rate or by call index, deterministic per seed.

HTTP faults replace or disturb the response here; lifecycle faults (an errored completion, a stuck
request, an expired result) are returned to the route, which applies them to the request.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from harness.emulator._config import FaultRule
from harness.emulator._http import detail

__all__ = ["CONNECTION_RESET", "LIFECYCLE_FAULTS", "FaultPlan", "apply_fault"]

#: faults the route applies to the request instead of to the HTTP response
LIFECYCLE_FAULTS = frozenset({"completed_with_error", "stuck_queue", "result_expired"})

#: scope key under which the outermost ASGI layer keeps the server's own ``send``
#: the ASGI scope extension (``scope["extensions"]``) whose ``reset`` the server offers to end a
#: connection with a TCP reset
CONNECTION_RESET = "fal_emulator.connection.reset"

_NGINX = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}


class FaultPlan:
    """Decides, call by call, whether a rule strikes; keeps a bounded log of every strike."""

    def __init__(self, rules: tuple[FaultRule, ...], seed: int) -> None:
        self.rules = rules
        self._rngs = [random.Random(f"{seed}:fault:{i}") for i in range(len(rules))]
        self._seen = [0] * len(rules)
        self.log: deque[dict[str, Any]] = deque(maxlen=10_000)

    def pick(self, stage: str, endpoint: str | None, request_id: str | None = None) -> FaultRule | None:
        if not self.rules:
            return None
        chosen: FaultRule | None = None
        for i, rule in enumerate(self.rules):
            if stage not in rule.stages or (rule.endpoint is not None and rule.endpoint != endpoint):
                continue
            index = self._seen[i]
            self._seen[i] += 1
            by_index = rule.requests is not None and index in rule.requests
            hit = by_index or (rule.rate is not None and self._rngs[i].random() < rule.rate)
            if hit and chosen is None:
                chosen = rule
        if chosen is not None:
            self.log.append({"fault": chosen.fault, "stage": stage, "endpoint": endpoint,
                             "request_id": request_id, "at_ns": time.monotonic_ns()})
        return chosen


async def apply_fault(rule: FaultRule | None, time_scale: float, handler: Callable[[], Awaitable[Response]],
                      request_id: str | None = None) -> Response:
    """Run ``handler`` under an HTTP fault (or none); lifecycle faults pass through to the route."""
    if rule is None or rule.fault in LIFECYCLE_FAULTS:
        return await handler()
    kind = rule.fault
    if kind == "slow_headers":
        await asyncio.sleep(float(rule.params.get("seconds", 5.0)) * time_scale)
        return await handler()
    if kind == "connection_reset":
        if rule.params.get("when") == "after":
            await handler()
        return _Reset()
    if kind == "malformed_json":
        response = await handler()
        body = bytes(response.body)
        cut = body[: len(body) // 2] if len(body) > 1 else b"{"
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "etag")}
        return Response(cut, status_code=response.status_code, headers=headers, media_type="application/json")
    rid = request_id or str(uuid.uuid4())
    if kind == "http_429":
        return detail(429, "Too many requests, please retry later")
    if kind == "http_500":
        return detail(500, "Internal Server Error", {"x-fal-request-id": rid})
    if kind == "timeout_504_user":
        return detail(504, "Request timed out", {"x-fal-request-id": rid, "x-fal-error-type": "request_timeout",
                                                  "x-fal-request-timeout-type": "user"},
                      error_type="request_timeout")
    status = int(kind.rsplit("_", 1)[1])
    return _nginx(status)


def _nginx(status: int) -> Response:
    # The load balancer's page: HTML that names nginx and carries no x-fal-request-id, which is
    # exactly how fal's clients tell an ingress error (retryable) from the API's own.
    title = f"{status} {_NGINX[status]}"
    html = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
            "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
    return Response(html, status_code=status, media_type="text/html")


class _Reset(Response):
    """Drops the TCP connection with a reset instead of answering, through the server's
    ``connection.reset`` extension (the emulator's HTTP protocol offers it in the ASGI scope)."""

    def __init__(self) -> None:
        super().__init__(b"", status_code=500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        extension = (scope.get("extensions") or {}).get(CONNECTION_RESET)
        reset = extension.get("reset") if isinstance(extension, dict) else None
        if not callable(reset):
            # A server without the extension (an in-process ASGI transport): start a response and
            # break it off, which a client also sees as a broken connection.
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]})
            raise ConnectionResetError("fault plan: connection_reset")
        reset()
        # Let the server see the lost connection before this call returns, so it neither logs a
        # missing response nor tries to write a 500 into the closed socket.
        for _ in range(3):
            await asyncio.sleep(0)
