"""Scrubbing: credentials leave headers, queries, JSON bodies and URLs; loopback ports become canonical hosts."""

from __future__ import annotations

import copy
import gzip
import json

from vcr.request import Request

from harness._secrets import Secrets
from harness.cassettes._scrub import HostMap, Scrubber
from harness.cassettes._vcr import response_hook

KEY = "fal-test-KEY-7f3a9c2e:s3cr3t-0123456789abcdef"
SCRUBBER = Scrubber(Secrets([KEY]), HostMap("http://127.0.0.1:41001", "http://127.0.0.1:41002"))


def _request(uri: str, body: bytes = b"", **headers: str) -> Request:
    return Request("POST", uri, body, {"user-agent": "fal-harness/0.1.0", "content-type": "application/json",
                                       **headers})


def test_request_credentials_are_redacted_and_hosts_made_canonical() -> None:
    body = json.dumps({"prompt": f"a fox ({KEY})", "api_key": "k-123", "nested": {"token": "t-456"},
                       "image_url": "https://cdn.example/x.png?X-Amz-Signature=abc&size=2",
                       "mask_url": "http://127.0.0.1:53123/0123456789abcdef/mask.png"}).encode()
    request = SCRUBBER.request(_request(
        "http://127.0.0.1:41001/fal-ai/flux-pro?fal_webhook=http%3A%2F%2F127.0.0.1%3A9%2Fh%3Ftoken%3Dx&logs=1",
        body, authorization=f"Key {KEY}", cookie="session=abc", **{"x-fal-cdn-token": "cdn-789"}))
    assert request.uri == "http://queue.emulator.invalid/fal-ai/flux-pro?fal_webhook=<redacted>&logs=1"
    assert request.headers["authorization"] == "Key <redacted>"
    assert request.headers["cookie"] == request.headers["x-fal-cdn-token"] == "<redacted>"
    assert json.loads(request.body) == {
        "prompt": "a fox (<redacted>)", "api_key": "<redacted>", "nested": {"token": "<redacted>"},
        "image_url": "https://cdn.example/x.png?X-Amz-Signature=<redacted>&size=<redacted>",
        "mask_url": "http://files.emulator.invalid/mask.png",
    }


def test_scrubbing_is_the_same_however_often_it_runs() -> None:
    # vcrpy scrubs recorded requests and again every request matched against them.
    once = SCRUBBER.request(_request("http://127.0.0.1:41002/x?storage_type=gcs&sig=1",
                                     json.dumps({"token": "t", "prompt": KEY}).encode(), authorization="Bearer x"))
    twice = SCRUBBER.request(copy.deepcopy(once))
    assert (twice.uri, dict(twice.headers), twice.body) == (once.uri, dict(once.headers), once.body)
    assert once.uri == "http://run.emulator.invalid/x?storage_type=gcs&sig=<redacted>"


def test_another_clients_traffic_is_not_recorded() -> None:
    assert SCRUBBER.request(Request("GET", "http://127.0.0.1:9/x", b"", {"user-agent": "python-httpx/0.28"})) is None


def test_responses_are_decoded_redacted_and_canonical() -> None:
    answer = {"token": "t-1", "token_type": "Bearer", "base_url": "http://127.0.0.1:41001", "echo": KEY}
    response = response_hook(SCRUBBER)({
        "status": {"code": 200, "message": "OK"},
        "headers": {"Content-Type": ["application/json"], "Content-Encoding": ["gzip"], "Set-Cookie": ["a=b"],
                    "Content-Length": ["99"], "Date": ["today"]},
        "body": {"string": gzip.compress(json.dumps(answer).encode())},
    })
    assert response["headers"] == {"content-type": ["application/json"], "set-cookie": ["<redacted>"]}
    assert json.loads(response["body"]["string"]) == {"token": "<redacted>", "token_type": "Bearer",
                                                      "base_url": "http://queue.emulator.invalid",
                                                      "echo": "<redacted>"}


def test_status_streams_are_rewritten_as_text() -> None:
    stream = b'data: {"status_url":"http://127.0.0.1:41001/fal-ai/x/requests/1/status"}\n\n'
    response = SCRUBBER.response({"status": {"code": 200, "message": "OK"},
                                  "headers": {"content-type": ["text/event-stream"]}, "body": {"string": stream}})
    assert response["body"]["string"] == stream.replace(b"127.0.0.1:41001", b"queue.emulator.invalid")
