"""When a response's bytes reached this machine, not when the client got round to reading them.

A client running many lifecycles on one event loop reads a status event when the loop is free,
which on a busy machine is milliseconds after the event arrived. For targets on this machine (the
emulator, a server on loopback) the connections are made by :class:`ArrivalBackend`: it reads each
socket with ``recvmsg`` and asks the kernel (``SO_TIMESTAMPNS``) when the last packet it read
arrived; :func:`arrival_ns` gives that time, on the monotonic clock the observations and the
emulator's ground truth use, for the response that was just read. Elsewhere (another platform, a
TLS connection) there is no kernel time and callers stamp the read themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import ssl
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

import httpcore
import httpx

__all__ = ["ARRIVAL_SUPPORTED", "ArrivalBackend", "arrival_ns", "arrival_transport"]

#: Linux's socket option (and control message type) for nanosecond receive times; Python's socket
#: module does not name it
_SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@ll")
_CMSG_SPACE = socket.CMSG_SPACE(_TIMESPEC.size)
#: where the kernel can say when each read's bytes arrived
ARRIVAL_SUPPORTED = sys.platform == "linux"


def arrival_ns(response: httpx.Response) -> int | None:
    """When the last bytes read for ``response`` arrived (``time.monotonic_ns()`` clock), if its
    connection was made by :class:`ArrivalBackend` over plain TCP; ``None`` otherwise."""
    stream = response.extensions.get("network_stream")
    return stream.arrived_ns() if isinstance(stream, _ArrivalStream) else None


def arrival_transport(*, verify: ssl.SSLContext, limits: httpx.Limits,
                      backend: ArrivalBackend | None = None) -> httpx.AsyncHTTPTransport:
    """httpx's async transport (no proxy: loopback only) whose connections ``backend`` (a new
    :class:`ArrivalBackend` by default) makes."""
    transport = httpx.AsyncHTTPTransport(verify=verify, trust_env=False, limits=limits)
    # httpx offers no parameter for the connection backend: its pool is rebuilt with the same settings.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=verify, max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections, keepalive_expiry=limits.keepalive_expiry,
        network_backend=backend or ArrivalBackend(),
    )
    return transport


def _kernel_time(ancdata: list[tuple[int, int, bytes]]) -> int | None:
    """The kernel's receive time in ``ancdata`` (wall clock, ns), if it holds one."""
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            sec, nsec = _TIMESPEC.unpack_from(data)
            return int(sec) * 1_000_000_000 + int(nsec)
    return None


def _wall_offset(tries: int = 3, wall: Callable[[], int] = time.time_ns,
                 mono_clock: Callable[[], int] = time.monotonic_ns) -> int:
    """The wall clock less the monotonic clock, now. The monotonic reading is taken between two wall
    readings and the narrowest of a few such brackets is kept: a thread preempted between two
    readings would otherwise move every arrival by as long as it waited."""
    best_width, best = 0, 0
    for n in range(tries):
        before = wall()
        mono = mono_clock()
        after = wall()
        width = after - before
        if n == 0 or width < best_width:
            best_width, best = width, (before + after) // 2 - mono
        if width < 2_000:
            break
    return best


def _readable(sock: socket.socket | Any) -> bool:
    """Whether reading would not block (an idle keep-alive connection is readable only when the
    server closed it)."""
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


class ArrivalBackend(httpcore.AsyncNetworkBackend):
    """TCP connections for httpcore on the running asyncio loop, each read stamped by the kernel."""

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
                error: OSError | None = None
                for family, kind, proto, _name, address in infos:
                    sock = socket.socket(family, kind, proto)
                    try:
                        sock.setblocking(False)
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
                        for option in socket_options or ():
                            sock.setsockopt(*option)
                        if local_address is not None:
                            sock.bind((local_address, 0))
                        await loop.sock_connect(sock, address)
                    except OSError as exc:
                        sock.close()
                        error = exc
                        continue
                    except BaseException:
                        sock.close()
                        raise
                    return _ArrivalStream(sock)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        raise httpcore.ConnectError(str(error) if error else f"no address for {host}:{port}")

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("Unix sockets are not served by this backend")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _ArrivalStream(httpcore.AsyncNetworkStream):
    """One TCP connection read with ``recvmsg``; :meth:`arrived_ns` is its last read's arrival."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._kernel_ns: int | None = None
        self._read_ns: int | None = None

    def arrived_ns(self) -> int | None:
        """When the last read's bytes arrived, on the monotonic clock: the kernel's time moved over
        when asked for (a download's many reads pay nothing for it), never later than the read."""
        if self._kernel_ns is None:
            return self._read_ns
        return min(self._kernel_ns - _wall_offset(), time.monotonic_ns())

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        sock = self._sock
        while True:
            try:
                data, ancdata, _flags, _address = sock.recvmsg(max_bytes, _CMSG_SPACE)
            except (BlockingIOError, InterruptedError):
                await self._wait_readable(timeout)
                continue
            except OSError as exc:
                raise httpcore.ReadError(str(exc)) from exc
            self._kernel_ns = _kernel_time(ancdata)
            self._read_ns = None if self._kernel_ns is not None else time.monotonic_ns()
            return data

    async def _wait_readable(self, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        fd = self._sock.fileno()
        if fd < 0:
            raise httpcore.ReadError("the connection is closed")

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, wake)
        try:
            async with asyncio.timeout(timeout):
                await ready
        except TimeoutError:
            raise httpcore.ReadTimeout("reading the response timed out") from None
        finally:
            loop.remove_reader(fd)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                await asyncio.get_running_loop().sock_sendall(self._sock, buffer)
        except TimeoutError:
            raise httpcore.WriteTimeout("sending the request timed out") from None
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from exc

    async def aclose(self) -> None:
        self._sock.close()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        # TLS is read by asyncio's own streams: the kernel's time is that of the ciphertext, not of
        # the records, so a TLS connection's reads are stamped by the caller.
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(sock=self._sock, ssl=ssl_context,
                                                               server_hostname=server_hostname)
        except TimeoutError:
            self._sock.close()
            raise httpcore.ConnectTimeout("the TLS handshake timed out") from None
        except (OSError, ssl.SSLError) as exc:
            self._sock.close()
            raise httpcore.ConnectError(str(exc)) from exc
        return _TlsStream(reader, writer)

    def get_extra_info(self, info: str) -> Any:
        if info == "socket":
            return self._sock
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "is_readable":
            return _readable(self._sock)
        return None


class _TlsStream(httpcore.AsyncNetworkStream):
    """A TLS connection over asyncio's streams (no arrival times)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError:
            raise httpcore.ReadTimeout("reading the response timed out") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpcore.ReadError(str(exc)) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except TimeoutError:
            raise httpcore.WriteTimeout("sending the request timed out") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpcore.WriteError(str(exc)) from exc

    async def aclose(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await self._writer.wait_closed()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("TLS inside TLS (an HTTPS proxy) is not served by this backend")

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "socket":
            return self._writer.get_extra_info("socket")
        if info == "is_readable":
            return self._reader.at_eof() or _readable(self._writer.get_extra_info("socket"))
        return None
