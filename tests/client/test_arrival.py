"""On a target on this machine, a response is timed from when its bytes arrived, which the kernel
says, not from when a busy event loop got round to reading them; what the loop added is kept apart.

Every figure here follows from causality (bytes arrive after they were sent and before the socket is
readable; a read after a sleep is at least that sleep later), never from how fast the machine is."""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx
import pytest
import trustme

from harness._tls import ssl_context
from harness.client import AsyncQueueClient, Observation, emulator_target, observing
from harness.client._arrival import ARRIVAL_SUPPORTED, ArrivalBackend, arrival_ns, arrival_transport
from harness.client._retry import FAL_PYTHON
from harness.client._transport import CALL, Call, InstrumentedTransport
from harness.emulator import Emulator

pytestmark = pytest.mark.skipif(not ARRIVAL_SUPPORTED, reason="the kernel's receive times are Linux's")

HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n"
BLOCKED_S = 0.03


@dataclass
class _Server:
    """A loopback HTTP server that sends a response's head, then its body only when told to, noting
    the monotonic time around the body's send."""

    port: int = 0
    got: threading.Event = field(default_factory=threading.Event)
    go: threading.Event = field(default_factory=threading.Event)
    sent: threading.Event = field(default_factory=threading.Event)
    send_started_ns: int = 0
    send_done_ns: int = 0
    wrap: ssl.SSLContext | None = None


def _serve(server: _Server, listener: socket.socket) -> None:
    conn, _ = listener.accept()
    with conn:
        if server.wrap is not None:
            conn = server.wrap.wrap_socket(conn, server_side=True)
        request = b""
        while b"\r\n\r\n" not in request:
            request += conn.recv(4096)
        server.got.set()
        conn.sendall(HEADERS)
        server.go.wait(10)
        server.send_started_ns = time.monotonic_ns()
        conn.sendall(b"hello")
        server.send_done_ns = time.monotonic_ns()
        server.sent.set()
        conn.recv(1)  # until the client closes


@pytest.fixture
def server() -> Iterator[_Server]:
    listener = socket.create_server(("127.0.0.1", 0))
    found = _Server(port=listener.getsockname()[1])
    thread = threading.Thread(target=_serve, args=(found, listener), daemon=True)
    thread.start()
    yield found
    found.go.set()
    thread.join(10)
    listener.close()


async def _read_late(url: str, transport: httpx.AsyncBaseTransport, server: _Server,
                     verify: ssl.SSLContext | None = None) -> tuple[bytes, int | None, int, int]:
    """The body read ``BLOCKED_S`` after it is in the socket, the event loop blocked meanwhile (as a
    busy loop is); returns it, its arrival, when it was known to be in and when it was read."""
    async with httpx.AsyncClient(transport=transport) as http, http.stream("GET", url) as response:
        server.go.set()
        assert server.sent.wait(10)
        sock = response.extensions["network_stream"].get_extra_info("socket")
        if verify is None:  # plain TCP: readable once the body is in the socket's buffer
            assert select.select([sock], [], [], 10)[0]
        in_ns = time.monotonic_ns()
        time.sleep(BLOCKED_S)  # the loop is busy elsewhere: nobody reads
        body = await response.aread()
        read_ns = time.monotonic_ns()
        return body, arrival_ns(response), in_ns, read_ns


def test_a_response_is_timed_from_when_its_bytes_arrived_not_from_when_they_were_read(server: _Server) -> None:
    transport = arrival_transport(verify=ssl_context(), limits=httpx.Limits())
    body, arrived, in_ns, read_ns = asyncio.run(_read_late(f"http://127.0.0.1:{server.port}/", transport, server))
    assert body == b"hello" and arrived is not None
    assert server.send_started_ns <= arrived <= in_ns  # after it was sent, before it was known to be in
    assert read_ns - arrived >= BLOCKED_S * 1e9  # the blocked loop's wait is not in it


def test_httpxs_own_transport_says_nothing_of_arrival(server: _Server) -> None:
    body, arrived, _, _ = asyncio.run(_read_late(f"http://127.0.0.1:{server.port}/", httpx.AsyncHTTPTransport(),
                                                 server))
    assert body == b"hello" and arrived is None


def test_a_tls_connection_works_and_is_timed_by_its_reader(server: _Server) -> None:
    authority = trustme.CA()
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(served)
    server.wrap = served
    trusted = ssl.create_default_context()
    authority.configure_trust(trusted)
    transport = arrival_transport(verify=trusted, limits=httpx.Limits())
    body, arrived, _, _ = asyncio.run(_read_late(f"https://localhost:{server.port}/", transport, server, trusted))
    assert body == b"hello" and arrived is None  # TLS records are read by asyncio: no kernel time for them


def test_an_emulator_lifecycle_is_timed_from_arrival_with_the_loops_wait_kept_apart(fal_emulator: Emulator) -> None:
    async def go() -> Observation:
        async with AsyncQueueClient(emulator_target(fal_emulator)) as client:
            with observing(Observation("fal-ai/flux-pro", "emulator")) as obs:
                handle = await client.submit("fal-ai/flux-pro", {"prompt": "a lighthouse"})
                async for _ in client.iter_status(handle):
                    pass
                await client.result(handle)
            return obs

    obs = asyncio.run(go())
    assert [s.status for s in obs.statuses][-1] == "COMPLETED"
    for seen in obs.statuses:
        assert seen.read_ns is not None and seen.read_ns >= seen.t_ns
    for exchange in obs.exchanges:
        if exchange.phase != "stream":
            assert exchange.read_ns is not None and exchange.done_ns is not None
            assert exchange.sent_ns <= exchange.done_ns <= exchange.read_ns
    submit = next(e for e in obs.exchanges if e.phase == "submit")
    assert obs.submit_ack_ns == submit.done_ns  # the submit is acknowledged when its answer arrived


class _Recording(ArrivalBackend):
    """The backend, keeping each connection it made (to see when a body is in its socket)."""

    def __init__(self) -> None:
        self.streams: list[httpcore.AsyncNetworkStream] = []

    async def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        stream = await super().connect_tcp(*args, **kwargs)
        self.streams.append(stream)
        return stream


def test_an_attempt_is_done_when_its_body_arrived_and_read_when_the_loop_got_to_it(server: _Server) -> None:
    backend = _Recording()
    transport = InstrumentedTransport(arrival_transport(verify=ssl_context(), limits=httpx.Limits(), backend=backend),
                                      FAL_PYTHON, None)

    async def go() -> tuple[Call, int]:
        call = Call("result")
        async with httpx.AsyncClient(transport=transport) as http:
            sending = asyncio.ensure_future(http.get(f"http://127.0.0.1:{server.port}/", extensions={CALL: call}))
            while not server.got.is_set():  # the request is sent; its answer's head is coming
                await asyncio.sleep(0.001)
            server.go.set()
            assert server.sent.wait(10)
            assert select.select([backend.streams[0].get_extra_info("socket")], [], [], 10)[0]
            in_ns = time.monotonic_ns()
            time.sleep(BLOCKED_S)  # the body is in; the loop is busy elsewhere
            assert (await sending).content == b"hello"
        return call, in_ns

    call, in_ns = asyncio.run(go())
    (exchange,) = call.exchanges
    assert exchange.done_ns is not None and exchange.read_ns is not None
    assert server.send_started_ns <= exchange.done_ns <= in_ns
    assert exchange.read_ns - exchange.done_ns >= BLOCKED_S * 1e9


def test_the_clocks_offset_is_read_between_two_wall_readings_and_a_preempted_try_is_dropped() -> None:
    # A controlled clock: the first try is preempted for 40 us between its monotonic and its second
    # wall reading; the second is not. The offset is the second try's, not shifted by the wait.
    from harness.client._arrival import _wall_offset

    walls = iter([1_000_000, 1_040_500, 2_000_000, 2_000_400])
    monos = iter([500, 1_000_200])
    assert _wall_offset(wall=lambda: next(walls), mono_clock=lambda: next(monos)) == 2_000_200 - 1_000_200
