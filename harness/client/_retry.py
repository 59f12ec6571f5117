"""Retry policies: which failures are retried, how often, and how long to wait between attempts.

The default reproduces fal's official Python client (``fal-client`` 1.0.3): up to 10 attempts,
``min(0.1 * 2**(n-1), 30) * U(0.5, 1.5)`` seconds apart, retrying transport errors, timeouts
(unless a start timeout was sent), 408/409/429, and 502/503/504 only when they come from the
load balancer (no ``x-fal-request-id``, an nginx body); never a 504 carrying
``X-Fal-Request-Timeout-Type``. ``FAL_JS`` reproduces the JavaScript client.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import dataclass, field

import httpx

__all__ = ["FAL_JS", "FAL_PYTHON", "NO_RETRY", "RetryPolicy"]

REQUEST_TIMEOUT_HEADER = "x-fal-request-timeout"
REQUEST_TIMEOUT_TYPE_HEADER = "x-fal-request-timeout-type"


@dataclass(frozen=True)
class RetryPolicy:
    """Which failed attempts are tried again, how often, and how long apart (every request the
    client sends is retried by its policy, in the instrumented transport)."""

    max_attempts: int = 10
    base_delay: float = 0.1
    max_delay: float = 30.0
    factor: float = 2.0
    jitter: tuple[float, float] = (0.5, 1.5)
    """The delay is multiplied by a uniform draw from this range."""
    retry_statuses: Collection[int] = (408, 409, 429)
    """Statuses retried whatever their body says."""
    ingress_statuses: Collection[int] = (502, 503, 504)
    """Statuses retried only when they come from the load balancer (see ``is_ingress_error``)."""
    retry_transport_errors: bool = True
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        delay = min(self.base_delay * self.factor ** (attempt - 1), self.max_delay)
        low, high = self.jitter
        return min(delay * self.rng.uniform(low, high), self.max_delay)

    def should_retry_response(self, response: httpx.Response, body: bytes) -> bool:
        if response.status_code == 504 and REQUEST_TIMEOUT_TYPE_HEADER in response.headers:
            return False  # the caller's own start timeout ran out: retrying cannot help
        if response.status_code in self.retry_statuses:
            return True
        return response.status_code in self.ingress_statuses and is_ingress_error(response, body)

    def should_retry_error(self, error: Exception, request: httpx.Request | None) -> bool:
        if not self.retry_transport_errors:
            return False
        if isinstance(error, httpx.TimeoutException):
            return request is None or REQUEST_TIMEOUT_HEADER not in request.headers
        return isinstance(error, httpx.TransportError)


def is_ingress_error(response: httpx.Response, body: bytes) -> bool:
    """A 502/503/504 from fal's load balancer rather than from the API itself."""
    if "x-fal-request-id" in response.headers:
        return False
    return b"nginx" in body


FAL_PYTHON = RetryPolicy()
FAL_JS = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=30.0, jitter=(0.75, 1.25),
                     retry_statuses=(429, 502, 503, 504), ingress_statuses=())
"""The JS client: 3 retries, base 1 s, factor 2, jitter ±25%, on 429/502/503/504 regardless of body."""
NO_RETRY = RetryPolicy(max_attempts=1)
