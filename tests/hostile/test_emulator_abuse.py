"""The emulator stays healthy under abuse and keeps each caller's requests to that caller: its ground
truth needs the admin key, half-open connections are dropped, finished requests make room, deep JSON
is a 422 and a zip bomb costs a bounded amount of work."""

from __future__ import annotations

import contextlib
import io
import socket
import time
import zipfile
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from harness.client import ssl_context
from harness.emulator import Emulator

#: the one TLS context for the loopback clients here (a client building its own loads the CA bundle)
TLS = ssl_context(trust_env=False)

Factory = Callable[..., Emulator]
KEYS = ["tenant-one:s3cr3t-one-0123456789", "tenant-two:s3cr3t-two-0123456789"]
SMALL = {"prompt": "x", "image_size": {"width": 16, "height": 16}}


def _client(emulator: Emulator, key: str) -> httpx.Client:
    return httpx.Client(base_url=emulator.queue_url, headers={"Authorization": f"Key {key}"},
                        trust_env=False, verify=TLS, timeout=30)


def _finish(http: httpx.Client, handle: dict[str, Any]) -> None:
    deadline = time.monotonic() + 30
    while http.get(handle["status_url"]).json()["status"] != "COMPLETED":
        assert time.monotonic() < deadline, "the request did not complete"


def test_ground_truth_and_faults_need_the_admin_key(fal_emulator_factory: Factory) -> None:
    emulator = fal_emulator_factory({"keys": KEYS, "time_scale": 0})
    with _client(emulator, KEYS[0]) as http:
        handle = http.post("/fal-ai/flux-pro", json=SMALL, params={"fal_webhook": "http://127.0.0.1:9/hook?token="
                                                                                   + KEYS[0]}).json()
        for path in ("/_emulator/requests", f"/_emulator/requests/{handle['request_id']}", "/_emulator/faults"):
            assert http.get(path).status_code == 401, path  # a tenant's key is not the admin key
            assert httpx.get(emulator.queue_url + path, trust_env=False, verify=TLS).status_code == 401
            admitted = httpx.get(emulator.queue_url + path, headers=emulator.admin_headers, trust_env=False, verify=TLS)
            assert admitted.status_code == 200, path
        assert httpx.get(emulator.queue_url + "/_emulator/health", trust_env=False, verify=TLS).status_code == 200


def test_one_key_cannot_read_or_cancel_another_keys_request(fal_emulator_factory: Factory) -> None:
    emulator = fal_emulator_factory({"keys": KEYS, "time_scale": 1, "defaults": {"run_time": 30}})
    with _client(emulator, KEYS[0]) as owner, _client(emulator, KEYS[1]) as other:
        handle = owner.post("/fal-ai/flux-pro", json=SMALL).json()
        for method, url in (("GET", handle["status_url"]), ("GET", handle["response_url"]),
                            ("PUT", handle["cancel_url"]), ("GET", handle["status_url"] + "/stream")):
            assert other.request(method, url).status_code == 404, url
        assert owner.get(handle["status_url"]).status_code in (200, 202)
        assert owner.put(handle["cancel_url"]).status_code == 202


def test_half_open_connections_are_dropped_and_health_still_answers(fal_emulator_factory: Factory) -> None:
    emulator = fal_emulator_factory({"limits": {"max_connections": 20, "header_timeout_seconds": 0.5}})
    port = int(emulator.queue_url.rsplit(":", 1)[1])
    idle = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(60)]
    try:
        for _ in range(5):
            health = httpx.get(emulator.queue_url + "/_emulator/health", trust_env=False, verify=TLS, timeout=30)
            assert health.status_code == 200
        # A connection that never sends its headers is closed by the emulator: the read ends.
        for sock in idle:
            sock.settimeout(30)
            with contextlib.suppress(ConnectionResetError):
                assert sock.recv(1) == b""
    finally:
        for sock in idle:
            sock.close()


def test_a_body_that_never_arrives_is_dropped(fal_emulator_factory: Factory) -> None:
    emulator = fal_emulator_factory({"limits": {"body_timeout_seconds": 0.5}})
    port = int(emulator.queue_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"POST /fal-ai/flux-pro HTTP/1.1\r\nHost: x\r\nAuthorization: Key {emulator.key}\r\n"
                     "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{".encode())
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
        assert b" 200 " not in received.split(b"\r\n", 1)[0]


def test_finished_requests_make_room_at_zero_latency(fal_emulator_factory: Factory) -> None:
    emulator = fal_emulator_factory({"time_scale": 0, "limits": {"max_live_requests": 5}})
    with _client(emulator, emulator.key) as http:
        for _ in range(12):
            response = http.post("/fal-ai/flux-pro", json=SMALL)
            assert response.status_code == 200, response.text
            _finish(http, response.json())
        health = http.get("/_emulator/health").json()
        assert health["live_requests"] <= 5


def test_deep_json_is_a_422_not_a_500(fal_emulator_factory: Factory) -> None:
    emulator = fal_emulator_factory({"time_scale": 0})
    with _client(emulator, emulator.key) as http:
        for depth in (200, 5000):
            body = '{"prompt": ' + "[" * depth + "]" * depth + "}"
            response = http.post("/fal-ai/flux-pro", content=body, headers={"content-type": "application/json"})
            assert response.status_code == 422, (depth, response.text[:200])
        assert http.get("/_emulator/health").status_code == 200


LIMIT = 1024 * 1024


def _zip_bomb(kind: str) -> bytes:
    """Many members, together many times over the emulator's file limit: zeros (each inflating a
    thousandfold) or noise (each a quarter of the limit, so only the total gives it away)."""
    import random

    noise = random.Random(0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for n in range(24):
            data = b"\0" * (LIMIT - 1) if kind == "zeros" else noise.randbytes(LIMIT // 4)
            archive.writestr(f"{n}.png", data)
    return buffer.getvalue()


@pytest.fixture(scope="module", params=["zeros", "noise"])
def zip_bomb(request: pytest.FixtureRequest) -> bytes:
    return _zip_bomb(request.param)


def test_a_zip_bomb_is_refused_after_bounded_work(fal_emulator_factory: Factory, zip_bomb: bytes) -> None:
    import base64

    from harness.emulator import _files

    emulator = fal_emulator_factory({"time_scale": 0, "limits": {"max_file_bytes": LIMIT}})
    inflated = 0
    real_open = zipfile.ZipFile.open

    def counting_open(self: zipfile.ZipFile, name: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal inflated
        member = real_open(self, name, *args, **kwargs)
        real_read = member.read

        def read(n: int = -1) -> bytes:
            nonlocal inflated
            data = real_read(n)
            inflated += len(data)
            return data

        member.read = read  # type: ignore[method-assign]
        return member

    zipfile.ZipFile.open = counting_open  # type: ignore[method-assign]
    try:
        assert _files is not None
        with _client(emulator, emulator.key) as http:
            uri = "data:application/zip;base64," + base64.b64encode(zip_bomb).decode()
            response = http.post("/fal-ai/photomaker", json={"prompt": "a person img", "image_archive_url": uri})
    finally:
        zipfile.ZipFile.open = real_open  # type: ignore[method-assign]
    assert response.status_code in (200, 422), response.text[:200]
    assert inflated <= LIMIT + 64 * 1024, f"{inflated / 2**20:.1f} MiB inflated"


def test_deep_json_over_the_realtime_websocket_is_an_invalid_message(fal_emulator_factory: Factory) -> None:
    import json

    from websockets.sync.client import connect

    emulator = fal_emulator_factory({"time_scale": 0})
    url = "ws" + emulator.run_url[4:] + "/fal-ai/fast-lcm-diffusion/realtime"
    with connect(url, additional_headers={"Authorization": f"Key {emulator.key}"}, open_timeout=30) as ws:
        for depth in (200, 5000):
            ws.send('{"prompt": ' + "[" * depth + "]" * depth + "}")
            answer = json.loads(ws.recv(timeout=30))
            assert answer["type"] == "x-fal-error" and answer["error"] == "INVALID_MESSAGE", answer
    assert httpx.get(emulator.queue_url + "/_emulator/health", trust_env=False, verify=TLS).status_code == 200
