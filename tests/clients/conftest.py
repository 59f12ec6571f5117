"""The client suite's shared parts: one emulator per module with zero-latency runs and a held
endpoint, a socket guard that fails any attempt to leave this machine, a webhook receiver, and
fal's JavaScript clients installed from the registry (pinned by a lock file)."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from nacl.signing import VerifyKey

from harness.client import ssl_context
from harness.emulator import Emulator, start_emulator

#: the one TLS context for the loopback clients here (a client building its own loads the CA bundle)
TLS = ssl_context(trust_env=False)

#: runs take no time; streams keep a little gap between events, as real ones do; sd-loras holds
#: every request in the queue, so a cancel lands on a queued request
CONFIG: dict[str, Any] = {
    "time_scale": 1.0,
    "defaults": {"queue_wait": 0, "run_time": 0, "log_lines": 2, "first_event": 0.005, "event_gap": 0.02},
    "endpoints": {"fal-ai/sd-loras": {"queue_wait": 3600}},
    "limits": {"max_stored_bytes": 768 * 1024 * 1024},
}
HELD = ("fal-ai/sd-loras", {"prompt": "held", "model_name": "stabilityai/stable-diffusion-xl-base-1.0"})
STREAMED = ("openrouter/router", {"prompt": "Write a haiku about a lighthouse.", "model": "google/gemini-2.5-flash"})
REALTIME = ("fal-ai/fast-lcm-diffusion", {"prompt": "a sunset over mountains", "image_size": "square"})
#: a file above the JS client's 90 MiB multipart threshold
BIG_BYTES = 95 * 1024 * 1024 + 4096


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with start_emulator(CONFIG) as running:
        yield running


def loopback(host: object) -> bool:
    if host in ("localhost", None, ""):
        return True
    try:
        return ipaddress.ip_address(str(host).strip("[]").split("%")[0]).is_loopback
    except ValueError:
        return False


class SocketGuard:
    """Refuses, and lists, every name lookup and connection that is not loopback."""

    def __init__(self) -> None:
        self.looked_up: list[str] = []
        self.refused: list[tuple[str, str]] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_getaddrinfo = socket.getaddrinfo
        real_connect = socket.socket.connect

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            name = host.decode() if isinstance(host, bytes) else str(host)
            self.looked_up.append(name)
            if not loopback(name):
                self.refused.append(("resolve", name))
                raise socket.gaierror(socket.EAI_NONAME, f"socket guard: {name} is not on this machine")
            return real_getaddrinfo(host, *args, **kwargs)

        def connect(sock: socket.socket, address: Any) -> Any:
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not loopback(address[0]):
                self.refused.append(("connect", str(address[0])))
                raise ConnectionRefusedError(f"socket guard: {address[0]} is not on this machine")
            return real_connect(sock, address)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture(autouse=True)
def guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[SocketGuard]:
    g = SocketGuard()
    g.install(monkeypatch)
    yield g
    assert g.refused == [], f"attempts to leave this machine: {g.refused}"


class Receiver:
    """A loopback webhook endpoint; ``wait_for(request_id)`` returns that request's delivery."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                with receiver.arrived:
                    receiver.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    receiver.arrived.notify_all()
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()

    def wait_for(self, request_id: str, timeout: float = 20.0) -> tuple[dict[str, str], dict[str, Any]]:
        def found() -> tuple[dict[str, str], bytes] | None:
            return next(((h, b) for h, b in self.calls if h.get("x-fal-webhook-request-id") == request_id), None)

        with self.arrived:
            assert self.arrived.wait_for(lambda: found() is not None, timeout), f"no webhook for {request_id}"
            headers, body = found() or ({}, b"")
        return headers, {"raw": body, **json.loads(body)}


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def verify_webhook(emulator: Emulator, headers: dict[str, str], raw: bytes) -> None:
    """The delivery's Ed25519 signature checks against the emulator's published JWKS."""
    jwks = httpx.get(f"{emulator.queue_url}/.well-known/jwks.json", trust_env=False, verify=TLS).json()
    message = "\n".join([headers["x-fal-webhook-request-id"], headers["x-fal-webhook-user-id"],
                         headers["x-fal-webhook-timestamp"], hashlib.sha256(raw).hexdigest()]).encode()
    (key,) = [k for k in jwks["keys"] if k["crv"] == "Ed25519"]
    VerifyKey(base64.urlsafe_b64decode(key["x"] + "=" * (-len(key["x"]) % 4))).verify(
        message, bytes.fromhex(headers["x-fal-webhook-signature"]))
    assert abs(int(headers["x-fal-webhook-timestamp"]) - time.time()) < 300


def patterned(size: int) -> bytes:
    """The same deterministic bytes the JS scripts upload: each 4-byte word is its index."""
    import numpy as np

    words = np.arange((size + 3) // 4, dtype="<u4").tobytes()
    return words[:size]


def fetch(url: str) -> httpx.Response:
    return httpx.get(url, trust_env=False, verify=TLS, timeout=60)


@pytest.fixture(scope="session")
def js_modules() -> Path:
    from .install_js import InstallError, ensure_js_clients

    try:
        return ensure_js_clients()
    except InstallError as exc:
        pytest.fail(f"fal's JS clients could not be installed: {exc}")
