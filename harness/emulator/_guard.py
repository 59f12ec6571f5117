"""Connection hygiene for the emulator's HTTP server: a connection must send its headers, and then its
body, in bounded time, and the number of open connections is bounded by dropping the oldest that is
still waiting for headers, so half-open connections can never starve real callers of descriptors."""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from harness.emulator._config import Limits
from harness.emulator._faults import CONNECTION_RESET

__all__ = ["guarded_protocol"]


def guarded_protocol(limits: Limits) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with header and body deadlines and a connection bound (one
    class per server, so each server counts its own connections)."""

    waiting: dict[Guarded, None] = {}  # connections with no request in progress, oldest first

    class Guarded(HttpToolsProtocol):
        _timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:  # asyncio's naming
            super().connection_made(transport)
            waiting[self] = None
            self._arm(limits.header_timeout_seconds)
            if len(self.connections) > limits.max_connections:
                oldest = next((c for c in waiting if c is not self), None)
                (oldest or self)._drop()

        def connection_lost(self, exc: Exception | None) -> None:
            waiting.pop(self, None)
            self._disarm()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            # The fault plan's connection_reset asks the server for a reset through the scope.
            self.scope["extensions"] = {CONNECTION_RESET: {"reset": self._reset}}
            if self._timer is None:
                self._arm(limits.header_timeout_seconds)

        def on_headers_complete(self) -> None:
            waiting.pop(self, None)
            if self.parser.should_upgrade() and self._should_upgrade():
                self._disarm()  # a websocket: its own protocol takes the connection over, untimed
            else:
                self._arm(limits.body_timeout_seconds)
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._disarm()
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                waiting[self] = None  # idle until its next request: uvicorn's keep-alive timeout applies

        def _arm(self, seconds: float) -> None:
            self._disarm()
            self._timer = self.loop.call_later(seconds, self._drop)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _reset(self) -> None:
            """End the connection with a TCP reset: a zero linger time makes close() send RST, not FIN."""
            if self.transport is None or self.transport.is_closing():
                return
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.transport.abort()

        def _drop(self) -> None:
            self._timer = None
            waiting.pop(self, None)
            if self.transport is not None and not self.transport.is_closing():
                self.transport.close()

    return Guarded
