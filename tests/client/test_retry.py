"""The default retry policy decides and waits exactly as fal's official Python client does: the same
delays for the same random draws, and the same verdict on every answer and transport error.

fal-client's own functions are the reference, called side by side with the policy."""

from __future__ import annotations

import itertools
import random

import httpx
import pytest
from fal_client import client as fal

from harness.client import RetryPolicy
from harness.client._retry import FAL_PYTHON, REQUEST_TIMEOUT_HEADER, REQUEST_TIMEOUT_TYPE_HEADER

URL = "http://127.0.0.1:9/fal-ai/flux-pro"


@pytest.mark.parametrize("seed", range(12))
def test_delays_are_fal_clients_for_the_same_draws(seed: int) -> None:
    random.seed(seed)
    theirs = [fal._get_retry_delay(n, fal.BASE_DELAY, fal.MAX_DELAY, "exponential", True)
              for n in range(1, fal.MAX_ATTEMPTS)]
    policy = RetryPolicy(rng=random.Random(seed))
    assert [policy.delay(n) for n in range(1, fal.MAX_ATTEMPTS)] == pytest.approx(theirs, rel=1e-12)
    assert (FAL_PYTHON.max_attempts, FAL_PYTHON.base_delay, FAL_PYTHON.max_delay) == (
        fal.MAX_ATTEMPTS, fal.BASE_DELAY, fal.MAX_DELAY)


def test_the_delay_doubles_from_the_base_and_stops_at_the_cap_without_jitter() -> None:
    policy = RetryPolicy(jitter=(1.0, 1.0))
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == pytest.approx([0.1, 0.2, 0.4, 0.8])
    assert policy.delay(30) == 30.0


def test_jitter_spreads_the_delay_over_its_whole_range() -> None:
    policy = RetryPolicy(rng=random.Random(3))
    draws = [policy.delay(2) for _ in range(2000)]
    assert min(draws) >= 0.1 and max(draws) <= 0.3
    assert min(draws) < 0.11 and max(draws) > 0.29  # 0.2 s times U(0.5, 1.5), not a fixed 0.2 s


BODIES = {"nginx": b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
          "api": b'{"detail": "Internal Server Error"}'}


def _answers() -> list[tuple[int, bool, bool, str]]:
    statuses = (200, 400, 404, 408, 409, 422, 429, 500, 502, 503, 504)
    return list(itertools.product(statuses, (False, True), (False, True), BODIES))


@pytest.mark.parametrize(("status", "request_id", "timeout_type", "body"), _answers())
def test_an_answer_is_retried_when_fal_client_retries_it(status: int, request_id: bool, timeout_type: bool,
                                                         body: str) -> None:
    headers = {}
    if request_id:
        headers["x-fal-request-id"] = "r1"
    if timeout_type:
        headers[REQUEST_TIMEOUT_TYPE_HEADER] = "user"
    response = httpx.Response(status, headers=headers, content=BODIES[body],
                              request=httpx.Request("POST", URL))
    assert FAL_PYTHON.should_retry_response(response, BODIES[body]) is fal._should_retry_response(response)


def test_a_504_for_the_callers_own_start_timeout_is_never_retried() -> None:
    # the one answer that looks like the load balancer's (no request id, nginx body) but is not retried
    response = httpx.Response(504, headers={REQUEST_TIMEOUT_TYPE_HEADER: "user"}, content=BODIES["nginx"])
    assert FAL_PYTHON.should_retry_response(response, BODIES["nginx"]) is False
    plain = httpx.Response(504, content=BODIES["nginx"])
    assert FAL_PYTHON.should_retry_response(plain, BODIES["nginx"]) is True


@pytest.mark.parametrize("start_timeout", [False, True])
@pytest.mark.parametrize("error", [httpx.ReadTimeout, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ConnectError,
                                   httpx.ReadError, httpx.RemoteProtocolError])
def test_a_transport_error_is_retried_when_fal_client_retries_it(error: type[httpx.TransportError],
                                                                 start_timeout: bool) -> None:
    headers = {REQUEST_TIMEOUT_HEADER: "5"} if start_timeout else {}
    request = httpx.Request("POST", URL, headers=headers)
    exc = error("boom", request=request)
    assert FAL_PYTHON.should_retry_error(exc, request) is fal._should_retry(exc)
    if start_timeout and issubclass(error, httpx.TimeoutException):
        assert FAL_PYTHON.should_retry_error(exc, request) is False  # the caller asked for that deadline
