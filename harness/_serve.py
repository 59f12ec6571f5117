"""Serving an ASGI app on this machine, done one way for every server the harness runs (the emulator,
the local file host, the webhook receiver): uvicorn on bound sockets, in a background thread with
its own event loop, started and stopped on events rather than polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from typing import Literal, TypeVar

import uvicorn

from harness._errors import ConfigError

__all__ = ["ASGIApp", "ServedApp", "bind", "serve_loopback"]

_T = TypeVar("_T")

#: an ASGI application: ``app(scope, receive, send)``
ASGIApp = Callable[
    [MutableMapping[str, object], Callable[[], Awaitable[MutableMapping[str, object]]],
     Callable[[MutableMapping[str, object]], Awaitable[None]]],
    Awaitable[None],
]

#: how long a server may take to accept requests before starting it is a failure
START_TIMEOUT = 20.0


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0: any free port); a refusal is a one-line ConfigError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY on accepted sockets only when the listening
    # socket says so, and without it small responses wait on delayed ACKs (40 ms each).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


class _Server(uvicorn.Server):
    """uvicorn, telling a thread when it accepts requests and told to stop by an event rather than
    found stopped by its tenth-of-a-second poll."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self.stop_requested: asyncio.Event | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()

    async def main_loop(self) -> None:
        self.stop_requested = asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000  # a tick a second keeps the Date header current
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_requested.wait(), 1.0)
            self.should_exit = self.should_exit or self.stop_requested.is_set()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's shutdown, where the open connections are waited for as they close rather than
        after a fixed tenth of a second first: a server that stops between every two tests would
        otherwise spend most of its stop asleep."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.config.timeout_graceful_shutdown or 2)
        while self.server_state.connections and loop.time() < deadline:
            await asyncio.sleep(0.002)
        # What is still running answers nobody now (a fault's delay whose client gave up): end it.
        for task in self.server_state.tasks:
            task.cancel(msg="the server stopped")
        if not self.force_exit:
            await self.lifespan.shutdown()


class ServedApp:
    """An ASGI app served by uvicorn on ``sockets`` from a thread of its own (the keyword options are
    uvicorn's). Use as a context manager, or call :meth:`start` and :meth:`stop`; the sockets are
    closed on stop."""

    def __init__(self, app: ASGIApp, sockets: list[socket.socket], *, name: str, lifespan: Literal["on", "off"] = "off",
                 http: type[asyncio.Protocol] | str = "auto", ws: type[asyncio.Protocol] | str = "auto",
                 ws_max_size: int = 16 * 1024 * 1024, timeout_graceful_shutdown: int | None = None) -> None:
        self.sockets = sockets
        self.name = name
        self._server = _Server(uvicorn.Config(
            app, log_level="warning", access_log=False, server_header=False, proxy_headers=False, loop="asyncio",
            lifespan=lifespan, http=http, ws=ws, ws_max_size=ws_max_size,
            timeout_graceful_shutdown=timeout_graceful_shutdown,
        ))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)

    @property
    def ports(self) -> list[int]:
        """The port of each socket, in order."""
        return [int(s.getsockname()[1]) for s in self.sockets]

    def start(self) -> ServedApp:
        """Serve on its own thread; returns once it accepts requests (a ConfigError if it cannot)."""
        self._thread.start()
        if not self._server.ready.wait(START_TIMEOUT) or not self._server.started:
            self.stop()
            raise ConfigError(f"the {self.name} server did not start: {self._error or 'timed out'}")
        return self

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the server's loop (to begin its own shutdown, say); nothing once stopped."""
        loop = self._loop
        if loop is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop may close between the check and the call
                loop.call_soon_threadsafe(callback)

    def run(self, coro: Coroutine[object, object, _T], timeout: float = 10) -> _T:
        """The result of ``coro`` run on the server's loop (to read state its handlers change)."""
        if self._loop is None or not self._thread.is_alive():
            coro.close()
            raise ConfigError(f"the {self.name} server is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=timeout)

    def stop(self) -> None:
        """Stop serving and close the sockets; safe to call twice."""
        stop_requested = self._server.stop_requested
        if stop_requested is not None:
            self.call_soon(stop_requested.set)
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        for sock in self.sockets:
            sock.close()

    def _serve(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            await self._server.serve(sockets=self.sockets)

        try:
            asyncio.run(main())
        except BaseException as exc:  # startup failures end in SystemExit inside uvicorn
            self._error = exc
        finally:
            self._server.ready.set()  # a server that never started wakes its starter too

    def __enter__(self) -> ServedApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_loopback(app: ASGIApp, *, name: str) -> ServedApp:
    """``app`` served on a free port of 127.0.0.1, started; its address is
    ``http://127.0.0.1:{served.ports[0]}``."""
    return ServedApp(app, [bind("127.0.0.1", 0)], name=name).start()
