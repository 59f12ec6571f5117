"""The instrumented request loop: send, time, count bytes, retry by policy, record every attempt.

Each attempt becomes an :class:`Exchange` on the observation; retries are recorded, never hidden.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import ssl
import time
from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from harness._errors import VendorError, VendorTimeout, VendorValidationError
from harness._secrets import redact_url
from harness.client._observations import Exchange, Observation
from harness.client._retry import RetryPolicy
from harness.client._targets import Budget

__all__ = ["Instrumented", "fields", "kept_headers", "raise_for_status", "safe_url", "ssl_context"]

_KEPT_HEADER_PREFIXES = ("x-fal-",)
_KEPT_HEADERS = ("content-type", "etag", "retry-after")


def ssl_context(*, trust_env: bool = True) -> ssl.SSLContext:
    """The verifying TLS context every client of the harness shares: building one loads the CA
    bundle (tens of milliseconds), so it is built once per CA setting (``SSL_CERT_FILE`` and
    ``SSL_CERT_DIR`` are read when ``trust_env``)."""
    if not trust_env:
        return _context(None, None, False)
    return _context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"), True)


@functools.cache
def _context(cert_file: str | None, cert_dir: str | None, trust_env: bool) -> ssl.SSLContext:
    return httpx.create_ssl_context(trust_env=trust_env)


def kept_headers(headers: httpx.Headers) -> dict[str, str]:
    """The response headers checks and reports read; nothing that can carry a credential."""
    return {k: v for k, v in headers.items()
            if k in _KEPT_HEADERS or k.startswith(_KEPT_HEADER_PREFIXES)}


def safe_url(url: httpx.URL) -> str:
    """The URL as written into observations: query values other than known-safe ones redacted."""
    return redact_url(str(url))


class Instrumented:
    """Wraps one pooled ``httpx.AsyncClient`` for a target."""

    def __init__(self, http: httpx.AsyncClient, retry: RetryPolicy, budget: Budget | None) -> None:
        self.http = http
        self.retry = retry
        self.budget = budget

    async def request(
        self,
        phase: str,
        method: str,
        url: str,
        *,
        obs: Observation | None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        billable: bool = False,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        max_bytes: int | None = None,
    ) -> tuple[httpx.Response, bytes]:
        """Send with retries; return the final response and its body (any status).

        The body is read as it streams in; past ``max_bytes`` the read stops and the request fails.
        Raises :class:`VendorTimeout` or :class:`VendorError` when no response ever arrived.
        """
        policy = retry or self.retry
        request = self.http.build_request(
            method, url, content=content, headers=headers, params=params,
            timeout=timeout if timeout is not None else self.http.timeout,
        )
        bytes_up = len(content) if content else 0
        attempt = 0
        while True:
            attempt += 1
            if billable and self.budget is not None:
                # Every attempt may reach the model and be billed, retries included.
                self.budget.spend()
            exchange = Exchange(phase=phase, method=method, url=safe_url(request.url), attempt=attempt,
                                sent_ns=time.monotonic_ns(), bytes_up=bytes_up)
            if obs is not None:
                obs.exchanges.append(exchange)
            try:
                response = await self.http.send(request, stream=True)
                exchange.headers_ns = time.monotonic_ns()
                try:
                    body = await _read(response, max_bytes)
                finally:
                    await response.aclose()
            except httpx.HTTPError as error:
                exchange.done_ns = time.monotonic_ns()
                exchange.error = type(error).__name__
                if attempt < policy.max_attempts and policy.should_retry_error(error, request):
                    exchange.retry_delay_s = policy.delay(attempt)
                    await asyncio.sleep(exchange.retry_delay_s)
                    continue
                if isinstance(error, httpx.TimeoutException):
                    raise VendorTimeout(f"{phase} timed out ({type(error).__name__})") from None
                raise VendorError(f"{phase} failed: {type(error).__name__}: {error}") from None
            exchange.done_ns = time.monotonic_ns()
            exchange.status = response.status_code
            exchange.bytes_down = len(body)
            exchange.request_id = response.headers.get("x-fal-request-id")
            exchange.headers = kept_headers(response.headers)
            if attempt < policy.max_attempts and response.status_code >= 400 \
                    and policy.should_retry_response(response, body):
                exchange.retry_delay_s = policy.delay(attempt)
                await asyncio.sleep(exchange.retry_delay_s)
                continue
            return response, body


async def _read(response: httpx.Response, max_bytes: int | None) -> bytes:
    if max_bytes is None:
        return await response.aread()
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise VendorError(f"{response.request.url.path}: the body is larger than {max_bytes} bytes; "
                              "stopped reading", status=response.status_code)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes, phase: str, response: httpx.Response) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise VendorError(
            f"{phase}: response is not JSON ({body[:60]!r})",
            status=response.status_code,
            request_id=response.headers.get("x-fal-request-id"),
        ) from None


def fields(data: Any, phase: str, response: httpx.Response, *names: str) -> list[Any]:
    """The named fields of a JSON object answer; a missing one is the API's failure, not a crash."""
    if not isinstance(data, dict) or any(name not in data for name in names):
        missing = [n for n in names if not isinstance(data, dict) or n not in data]
        raise VendorError(f"{phase} answer lacks {', '.join(missing)}", status=response.status_code,
                          request_id=response.headers.get("x-fal-request-id"))
    return [data[name] for name in names]


def raise_for_status(phase: str, response: httpx.Response, body: bytes) -> None:
    """Turn an HTTP error answer into the harness's typed error."""
    status = response.status_code
    if status < 400:
        return
    request_id = response.headers.get("x-fal-request-id")
    detail: Any = None
    error_type = response.headers.get("x-fal-error-type")
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        detail = parsed.get("detail")
        error_type = parsed.get("error_type") or error_type
    if status == 422 and isinstance(detail, list):
        locs = [".".join(str(p) for p in _loc(item)[1:]) for item in detail if isinstance(item, dict)]
        msgs = "; ".join(f"{f}: {item.get('msg')}" for f, item in zip(locs, detail, strict=False))
        raise VendorValidationError(f"{phase} rejected the input ({msgs})", fields=locs, request_id=request_id)
    text = detail if isinstance(detail, str) else _body_summary(body)
    raise VendorError(f"{phase} failed: {text}", status=status, error_type=error_type, request_id=request_id)


def _loc(item: dict[str, Any]) -> list[Any]:
    loc = item.get("loc")
    return loc if isinstance(loc, list) else []


def _body_summary(body: bytes) -> str:
    """One line for a non-JSON error body: an HTML page's title (load balancers answer with
    nginx pages), else the start of the text."""
    text = body[:2000].decode("utf-8", "replace")
    title = re.search(r"<title>(.*?)</title>", text, re.I | re.S)
    if title:
        return f"{' '.join(title.group(1).split())} (HTML page)"
    return " ".join(text.split())[:120] or "no body"
