"""A retry policy's options do what they say: transport errors not retried when switched off, and
the statuses it retries whatever their body."""

from __future__ import annotations

import httpx

from harness.client import RetryPolicy
from harness.client._retry import FAL_JS, NO_RETRY

URL = "http://127.0.0.1:9/fal-ai/flux-pro"


def test_transport_errors_are_not_retried_when_switched_off() -> None:
    request = httpx.Request("POST", URL)
    policy = RetryPolicy(retry_transport_errors=False)
    for error in (httpx.ConnectError("refused", request=request), httpx.ReadTimeout("slow", request=request)):
        assert policy.should_retry_error(error, request) is False
        assert RetryPolicy().should_retry_error(error, request) is True
    assert RetryPolicy().should_retry_error(ValueError("not a transport error"), request) is False
    assert RetryPolicy().should_retry_error(httpx.ReadTimeout("slow"), None) is True


def test_the_js_policy_retries_gateway_errors_whatever_their_body_and_no_retry_never_retries() -> None:
    for status in (429, 502, 503, 504):
        answer = httpx.Response(status, headers={"x-fal-request-id": "r1"}, content=b'{"detail": "busy"}')
        assert FAL_JS.should_retry_response(answer, b'{"detail": "busy"}') is True
    assert FAL_JS.should_retry_response(httpx.Response(408), b"") is False
    assert NO_RETRY.max_attempts == 1
