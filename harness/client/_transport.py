"""Every HTTP attempt the client makes, in one place: an httpx transport that charges the budget,
times the attempt, records it and retries it by policy, around the transport that really sends.

A request carries a :class:`Call` in ``request.extensions`` saying what it is (its phase, whether
it is billed, its retry policy, whether its body streams); each attempt becomes an
:class:`Exchange` on the call and on the observation being recorded (see :func:`observing`).
Retries are recorded, never hidden.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx

from harness._secrets import redact_url
from harness._target import Budget
from harness._tls import ssl_context
from harness.client._arrival import arrival_ns
from harness.client._observations import Exchange, Observation
from harness.client._retry import RetryPolicy

__all__ = [
    "CALL",
    "BlockingTransport",
    "Call",
    "InstrumentedTransport",
    "current_observation",
    "environment_proxy",
    "kept_headers",
    "observing",
    "safe_url",
    "ssl_context",
]

#: the request extension holding a request's :class:`Call`
CALL = "fal_harness.call"
_KEPT_HEADER_PREFIXES = ("x-fal-",)
_KEPT_HEADERS = ("content-type", "etag", "retry-after")
_OBSERVATION: contextvars.ContextVar[Observation | None] = contextvars.ContextVar("fal_harness_observation",
                                                                                   default=None)


@dataclass(slots=True)
class Call:
    """What one request is, for the transport, and the attempts it took."""

    phase: str
    """submit, status, stream, result, cancel, run, token, upload, download, ..."""
    billable: bool = False
    """Each attempt may reach the model and be billed: it is spent from the budget before it is sent."""
    retry: RetryPolicy | None = None
    """This request's policy (``None``: the client's)."""
    stream: bool = False
    """The body is handed back unread, as it arrives (server-sent events); otherwise it is read
    in full before the attempt counts as done, so a body that breaks off is retried too."""
    max_bytes: int | None = None
    """A body longer than this is not read to the end: the request fails."""
    exchanges: list[Exchange] = field(default_factory=list)
    """Every attempt, in order (a redirect's hops too)."""

    @property
    def first(self) -> Exchange:
        return self.exchanges[0]

    @property
    def last(self) -> Exchange:
        return self.exchanges[-1]


class BodyTooLarge(httpx.HTTPError):
    """A response body passed its :attr:`Call.max_bytes`; reading stopped."""


def current_observation() -> Observation | None:
    """The observation requests are being recorded on in this context, if any."""
    return _OBSERVATION.get()


class observing:
    """Record every attempt made in this context (tasks started in it included) on ``obs``."""

    def __init__(self, obs: Observation) -> None:
        self.obs = obs
        self._token: contextvars.Token[Observation | None] | None = None

    def __enter__(self) -> Observation:
        self._token = _OBSERVATION.set(self.obs)
        return self.obs

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> None:
        if self._token is not None:
            _OBSERVATION.reset(self._token)
            self._token = None


class InstrumentedTransport(httpx.AsyncBaseTransport):
    """Wraps the transport that sends (a connection pool, a mock, an ASGI app, a recorder)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, retry: RetryPolicy, budget: Budget | None) -> None:
        self.inner = inner
        self.retry = retry
        self.budget = budget

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        call = request.extensions.get(CALL)
        if not isinstance(call, Call):
            call = Call(request.method.lower())
        policy = call.retry or self.retry
        obs = _OBSERVATION.get()
        hop = bool(call.exchanges)  # a redirect's next hop: the same request, billed once
        try:
            bytes_up = len(request.content)
        except httpx.RequestNotRead:  # a streamed body: its size is the header's, when it has one
            bytes_up = int(request.headers.get("content-length") or 0)
        url = safe_url(request.url)  # every attempt of a request goes to the same URL
        attempt = 0
        while True:
            attempt += 1
            if call.billable and self.budget is not None and (attempt > 1 or not hop):
                self.budget.spend()
            exchange = Exchange(phase=call.phase, method=request.method, url=url, attempt=attempt,
                                sent_ns=time.monotonic_ns(), bytes_up=bytes_up)
            call.exchanges.append(exchange)
            if obs is not None:
                obs.exchanges.append(exchange)
            try:
                response = await self.inner.handle_async_request(request)
                body, arrived = (None, None) if call.stream and response.status_code < 400 \
                    else await _read(response, call.max_bytes)
            except httpx.TransportError as error:
                exchange.done_ns = time.monotonic_ns()
                exchange.error = type(error).__name__
                if attempt < policy.max_attempts and policy.should_retry_error(error, request):
                    exchange.retry_delay_s = policy.delay(attempt)
                    await asyncio.sleep(exchange.retry_delay_s)
                    continue
                raise
            exchange.status = response.status_code
            exchange.request_id = response.headers.get("x-fal-request-id")
            exchange.headers = kept_headers(response.headers)
            if body is None:
                # The body streams on to the caller: the attempt ends when it is closed.
                response.stream = _Watched(response.stream, exchange)
                return response
            read = time.monotonic_ns()
            exchange.done_ns, exchange.read_ns = (read, None) if arrived is None else (arrived, read)
            exchange.bytes_down = len(body)
            if attempt < policy.max_attempts and response.status_code >= 400 \
                    and policy.should_retry_response(response, _decoded(response, body)):
                exchange.retry_delay_s = policy.delay(attempt)
                await asyncio.sleep(exchange.retry_delay_s)
                continue
            response.stream = httpx.ByteStream(body)  # read again, from memory, by the client
            return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _read(response: httpx.Response, max_bytes: int | None) -> tuple[bytes, int | None]:
    """The whole body as sent (still encoded) and when its last bytes arrived (where the kernel
    says), the connection released whatever happens."""
    stream = response.stream
    assert isinstance(stream, httpx.AsyncByteStream)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in stream:
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise BodyTooLarge(f"the body is larger than {max_bytes} bytes; stopped reading")
            chunks.append(chunk)
        arrived = arrival_ns(response)  # before the connection can serve another request
    finally:
        await stream.aclose()  # the connection goes back to the pool
    return (chunks[0] if len(chunks) == 1 else b"".join(chunks)), arrived


def _decoded(response: httpx.Response, body: bytes) -> bytes:
    """The body as the API wrote it (a load balancer's page may come compressed)."""
    if "content-encoding" not in response.headers:
        return body
    try:
        return httpx.Response(response.status_code, headers=response.headers, content=body).read()
    except httpx.DecodingError:
        return body


class BlockingTransport(httpx.AsyncBaseTransport):
    """httpx's synchronous connection pool offered as an async transport: awaiting a request runs it
    to its end on the awaiting thread, and reading the body reads the socket there too.

    The synchronous client drives the async one over this on its caller's own thread: a request then
    costs what it costs with ``httpx.Client`` (no event loop in between, no second thread), and
    every attempt still goes through :class:`InstrumentedTransport` above it."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        stream = response.stream
        assert isinstance(stream, httpx.SyncByteStream)
        response.stream = _BlockingStream(stream)
        return response

    async def aclose(self) -> None:
        self.inner.close()


class _BlockingStream(httpx.AsyncByteStream):
    __slots__ = ("_inner",)

    def __init__(self, inner: httpx.SyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        self._inner.close()


class _Watched(httpx.AsyncByteStream):
    """A streaming body, counted as it is read; its attempt is done when it is closed."""

    __slots__ = ("_exchange", "_inner")

    def __init__(self, inner: httpx.SyncByteStream | httpx.AsyncByteStream, exchange: Exchange) -> None:
        assert isinstance(inner, httpx.AsyncByteStream)
        self._inner = inner
        self._exchange = exchange

    async def __aiter__(self) -> AsyncIterator[bytes]:
        exchange = self._exchange
        try:
            async for chunk in self._inner:
                exchange.bytes_down += len(chunk)
                yield chunk
        except httpx.TransportError as error:
            exchange.error = type(error).__name__
            raise

    async def aclose(self) -> None:
        if self._exchange.done_ns is None:
            self._exchange.done_ns = time.monotonic_ns()
        await self._inner.aclose()


def kept_headers(headers: httpx.Headers) -> dict[str, str]:
    """The response headers checks and reports read; nothing that can carry a credential."""
    return {k: v for k, v in headers.items()
            if k in _KEPT_HEADERS or k.startswith(_KEPT_HEADER_PREFIXES)}


def safe_url(url: httpx.URL) -> str:
    """The URL as written into observations: query values other than known-safe ones redacted."""
    return redact_url(str(url))


def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY``, ``ALL_PROXY``..., unless
    ``NO_PROXY`` covers its host), as the standard library reads the environment."""
    parsed = httpx.URL(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parsed.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parsed.host):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"
