"""The fault plan: every fault kind has the effect a client would see from fal."""

from __future__ import annotations

import json
import time
from typing import Any

import fal_client
import httpx
import pytest

from harness.client import ssl_context
from harness.emulator import Emulator, patch_fal_client

from .helpers import Factory, client, submit, wait_completed

#: the one TLS context for the loopback clients here (a client building its own loads the CA bundle)
TLS = ssl_context(trust_env=False)


def _with(factory: Factory, *rules: dict[str, Any], **extra: Any) -> Emulator:
    return factory({"faults": list(rules), **extra})


def _struck(emulator: Emulator) -> list[dict[str, Any]]:
    faults: list[dict[str, Any]] = httpx.get(f"{emulator.queue_url}/_emulator/faults", trust_env=False, verify=TLS,
                                             headers=emulator.admin_headers).json()["faults"]
    return faults


@pytest.mark.parametrize(("kind", "status"), [("http_429", 429), ("http_500", 500)])
def test_http_faults_replace_the_response_of_the_chosen_call(fal_emulator_factory: Factory, kind: str,
                                                             status: int) -> None:
    emulator = _with(fal_emulator_factory, {"fault": kind, "requests": [0], "on": "submit"})
    with client(emulator) as http:
        hit = http.post(f"{emulator.queue_url}/fal-ai/flux-pro", json={"prompt": "x"})
        assert hit.status_code == status
        assert isinstance(hit.json()["detail"], str)
        assert ("x-fal-request-id" in hit.headers) == (status == 500)
        assert emulator.timelines() == []  # nothing was queued
        assert http.post(f"{emulator.queue_url}/fal-ai/flux-pro", json={"prompt": "x"}).status_code == 200


@pytest.mark.parametrize("status", [502, 503, 504])
def test_ingress_errors_look_like_nginx_and_fal_client_retries_them(fal_emulator_factory: Factory,
                                                                    status: int) -> None:
    emulator = _with(fal_emulator_factory, {"fault": f"ingress_{status}", "requests": [0]})
    raw = httpx.post(f"{emulator.queue_url}/fal-ai/flux-pro", json={"prompt": "x"},
                     headers={"Authorization": f"Key {emulator.key}"}, trust_env=False, verify=TLS)
    assert raw.status_code == status
    assert "nginx" in raw.text and raw.headers["content-type"].startswith("text/html")
    assert "x-fal-request-id" not in raw.headers
    emulator = _with(fal_emulator_factory, {"fault": f"ingress_{status}", "requests": [0], "on": "submit"})
    with patch_fal_client(emulator):
        handle = fal_client.SyncClient(key=emulator.key).submit("fal-ai/flux-pro", {"prompt": "retried"})
    assert handle.get()["prompt"] == "retried"
    assert len(_struck(emulator)) == 1


def test_user_timeout_504_is_not_retried_by_fal_client(fal_emulator_factory: Factory) -> None:
    emulator = _with(fal_emulator_factory, {"fault": "timeout_504_user", "requests": [0], "on": "submit"})
    with patch_fal_client(emulator), pytest.raises(fal_client.FalClientHTTPError) as failed:
        fal_client.SyncClient(key=emulator.key).submit("fal-ai/flux-pro", {"prompt": "x"})
    assert failed.value.status_code == 504
    assert failed.value.error_type == "request_timeout"
    assert failed.value.response_headers["x-fal-request-timeout-type"] == "user"
    assert len(_struck(emulator)) == 1


NO_ANSWER = "reset by peer|without sending a response"


def test_connection_reset_before_and_after_the_work(fal_emulator_factory: Factory) -> None:
    emulator = _with(fal_emulator_factory, {"fault": "connection_reset", "requests": [0], "on": "submit"},
                     {"fault": "connection_reset", "requests": [1], "on": "submit", "when": "after"})
    with client(emulator) as http:
        # The connection ends before any answer starts (a reset the client may read as one, or as
        # the end of the stream), not part way through an answer.
        with pytest.raises(httpx.TransportError, match=NO_ANSWER):
            http.post(f"{emulator.queue_url}/fal-ai/flux-pro", json={"prompt": "lost"})
        assert emulator.timelines() == []
        with pytest.raises(httpx.TransportError, match=NO_ANSWER):
            http.post(f"{emulator.queue_url}/fal-ai/flux-pro", json={"prompt": "done but lost"})
        assert [t["status"] in ("IN_QUEUE", "IN_PROGRESS", "COMPLETED") for t in emulator.timelines()] == [True]
        assert http.get(f"{emulator.queue_url}/_emulator/health").status_code == 200  # still serving


def test_fal_client_retries_a_reset_and_may_duplicate_work(fal_emulator_factory: Factory) -> None:
    emulator = _with(fal_emulator_factory, {"fault": "connection_reset", "requests": [0], "on": "submit",
                                            "when": "after"})
    with patch_fal_client(emulator):
        handle = fal_client.SyncClient(key=emulator.key).submit("fal-ai/flux-pro", {"prompt": "twice"})
    assert handle.get()["prompt"] == "twice"
    assert len(emulator.timelines()) == 2  # the first, reset, submit was queued as well


def test_slow_headers_delay_the_response(fal_emulator_factory: Factory) -> None:
    emulator = _with(fal_emulator_factory, {"fault": "slow_headers", "requests": [0], "on": "status", "seconds": 0.3},
                     time_scale=1, defaults={"queue_wait": 0, "run_time": 0})
    with client(emulator) as http:
        handle = submit(http, emulator, "fal-ai/flux-pro", {"prompt": "x"})
        started = time.monotonic()
        assert http.get(handle["status_url"]).status_code in (200, 202)
        assert time.monotonic() - started >= 0.3
        started = time.monotonic()
        http.get(handle["status_url"])
        assert time.monotonic() - started < 0.3


def test_malformed_json_keeps_the_status_but_breaks_the_body(fal_emulator_factory: Factory) -> None:
    emulator = _with(fal_emulator_factory, {"fault": "malformed_json", "requests": [0], "on": "status"})
    with client(emulator) as http:
        handle = submit(http, emulator, "fal-ai/flux-pro", {"prompt": "x"})
        broken = http.get(handle["status_url"])
        assert broken.status_code in (200, 202)
        with pytest.raises(json.JSONDecodeError):
            json.loads(broken.content)
        wait_completed(http, handle["status_url"])


def test_completed_with_error_reports_and_returns_the_error(fal_emulator_factory: Factory) -> None:
    emulator = _with(fal_emulator_factory, {"fault": "completed_with_error", "requests": [0]})
    with client(emulator) as http:
        handle = submit(http, emulator, "fal-ai/flux-pro", {"prompt": "x"})
        status = wait_completed(http, handle["status_url"])
        assert (status["error_type"], status["error"]) == ("runner_disconnected", "Runner disconnected")
        result = http.get(handle["response_url"])
        assert result.status_code == 503
        assert result.json() == {"detail": "Runner disconnected", "error_type": "runner_disconnected"}
        assert result.headers["x-fal-error-type"] == "runner_disconnected"
        assert result.headers["x-fal-request-id"] == handle["request_id"]
        ran = http.post(f"{emulator.run_url}/fal-ai/flux-pro", json={"prompt": "x"})
        assert ran.status_code == 200  # index 0 only: the next call is healthy


def test_completed_with_error_takes_its_status_and_type(fal_emulator_factory: Factory) -> None:
    emulator = _with(fal_emulator_factory, {"fault": "completed_with_error", "rate": 1.0, "on": "run", "status": 504,
                                            "error_type": "request_timeout", "message": "Request timed out"})
    with client(emulator) as http:
        ran = http.post(f"{emulator.run_url}/fal-ai/flux-pro", json={"prompt": "x"})
    assert (ran.status_code, ran.json()["error_type"]) == (504, "request_timeout")


def test_result_expired_forgets_the_request(fal_emulator_factory: Factory) -> None:
    emulator = _with(fal_emulator_factory, {"fault": "result_expired", "requests": [0]})
    with client(emulator) as http:
        handle = submit(http, emulator, "fal-ai/flux-pro", {"prompt": "x"})
        wait_completed(http, handle["status_url"])
        assert http.get(handle["response_url"]).status_code == 404
        assert http.get(handle["status_url"]).status_code == 404
    assert emulator.timeline(handle["request_id"])["faults"] == ["result_expired"]


def test_stuck_queue_never_starts_until_the_start_timeout(fal_emulator_factory: Factory) -> None:
    emulator = _with(fal_emulator_factory, {"fault": "stuck_queue", "requests": [0, 1], "on": "submit"})
    with client(emulator) as http:
        stuck = submit(http, emulator, "fal-ai/flux-pro", {"prompt": "stuck"})
        timed = submit(http, emulator, "fal-ai/flux-pro", {"prompt": "timed"},
                       headers={"X-Fal-Request-Timeout": "1.1"})
        healthy = submit(http, emulator, "fal-ai/flux-pro", {"prompt": "fine"})
        wait_completed(http, healthy["status_url"])
        assert http.get(stuck["status_url"]).json()["status"] == "IN_QUEUE"
        status = wait_completed(http, timed["status_url"], timeout=5)
        assert status["error_type"] == "request_timeout"
        result = http.get(timed["response_url"])
        assert result.status_code == 504
        assert result.headers["x-fal-request-timeout-type"] == "user"
        assert http.get(stuck["status_url"]).json()["status"] == "IN_QUEUE"
        assert http.put(stuck["cancel_url"]).status_code == 202  # a stuck request can still be cancelled


def test_rate_faults_are_deterministic_for_a_seed(fal_emulator_factory: Factory) -> None:
    def pattern(seed: int) -> list[int]:
        emulator = _with(fal_emulator_factory, {"fault": "http_500", "rate": 0.5, "on": "status"}, seed=seed)
        with client(emulator) as http:
            handle = submit(http, emulator, "fal-ai/flux-pro", {"prompt": "x"})
            return [http.get(handle["status_url"]).status_code // 100 for _ in range(24)]

    first = pattern(7)
    assert first == pattern(7)
    assert 5 in first and 2 in first
    assert first != pattern(8)


def test_a_rule_can_target_one_endpoint_and_stage(fal_emulator_factory: Factory) -> None:
    emulator = _with(fal_emulator_factory, {"fault": "http_429", "rate": 1.0, "endpoint": "fal-ai/sd-loras",
                                            "on": ["stream", "result"]})
    with client(emulator) as http:
        handle = submit(http, emulator, "fal-ai/sd-loras", {"model_name": "m", "prompt": "x"})
        wait_completed(http, handle["status_url"])
        assert http.get(handle["response_url"]).status_code == 429
        assert http.get(handle["status_url"] + "/stream").status_code == 429
        other = submit(http, emulator, "fal-ai/flux-pro", {"prompt": "x"})
        wait_completed(http, other["status_url"])
        assert http.get(other["response_url"]).status_code == 200
