"""A running emulator: uvicorn on two loopback sockets in a background thread with its own event
loop, and a handle to read its ground truth and stop it (``patch_fal_client`` points fal-client at it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, cast

import uvicorn

from harness._errors import ConfigError, DataFileError
from harness.contracts import Contract, load_contracts
from harness.emulator._app import ADMIN_HEADER, Runtime, build_app
from harness.emulator._config import DEFAULT_KEY, EmulatorConfig, parse_emulator_config
from harness.emulator._guard import guarded_protocol
from harness.emulator._http import dumps
from harness.sandbox import fal_client_urls, patch_fal_client

__all__ = ["MAX_PORT", "Emulator", "fal_client_urls", "patch_fal_client", "start_emulator"]

_START_TIMEOUT = 20.0
#: the highest TCP port number
MAX_PORT = 65535


class Emulator:
    """A started emulator. Use as a context manager, or call :meth:`stop`."""

    def __init__(self, config: EmulatorConfig, *, host: str = "127.0.0.1", port: int = 0, run_port: int = 0) -> None:
        _check_port("port", port)
        _check_port("run_port", run_port)
        if port and port == run_port:
            raise ConfigError(f"port and run_port must differ (both are {port}): the queue and the run API "
                              "each need their own port")
        self.config = config
        contracts = load_contracts(config.contracts_dir)
        _check_endpoints(config, contracts)
        self._sockets = [_bind(host, port)]
        try:
            self._sockets.append(_bind(host, run_port))
            url_host = _url_host(host)
            self.queue_url = f"http://{url_host}:{self._sockets[0].getsockname()[1]}"
            self.run_url = f"http://{url_host}:{self._sockets[1].getsockname()[1]}"
            self._runtime = Runtime(config, contracts, self.queue_url, self.run_url)
        except BaseException:
            for sock in self._sockets:
                sock.close()
            raise
        uv_config = uvicorn.Config(
            build_app(self._runtime), log_level="warning", access_log=False, lifespan="on", proxy_headers=False,
            server_header=False, ws="websockets-sansio", ws_max_size=config.limits.max_body_bytes,
            http=guarded_protocol(config.limits), loop="asyncio", timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(uv_config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="fal-emulator", daemon=True)

    @property
    def key(self) -> str:
        """A key the emulator accepts (``Authorization: Key <key>``)."""
        return self.config.keys[0] if self.config.keys else DEFAULT_KEY

    @property
    def admin_key(self) -> str:
        """The key ``/_emulator/requests`` and ``/_emulator/faults`` want (see :attr:`admin_headers`)."""
        return self._runtime.admin_key

    @property
    def admin_headers(self) -> dict[str, str]:
        """The header that opens the emulator-only routes: ``{ADMIN_HEADER: admin_key}``."""
        return {ADMIN_HEADER: self._runtime.admin_key}

    @property
    def endpoints(self) -> tuple[str, ...]:
        return tuple(self._runtime.endpoints)

    def start(self) -> Emulator:
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ConfigError(f"the emulator did not start: {self._error or 'timed out'}")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving, end background work and close the sockets; safe to call twice."""
        loop = self._loop
        if loop is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop may close between the check and the call
                loop.call_soon_threadsafe(self._runtime.begin_close)
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        for sock in self._sockets:
            sock.close()

    def timeline(self, request_id: str) -> dict[str, Any]:
        """The ground truth for one request (see the README for its fields); KeyError if unknown."""
        found = self._call(lambda: self._runtime.scheduler.timelines.get(request_id))
        if found is None:
            raise KeyError(request_id)
        return cast(dict[str, Any], found)

    def timelines(self) -> list[dict[str, Any]]:
        """Every request's ground truth, oldest first."""
        return cast(list[dict[str, Any]], self._call(lambda: list(self._runtime.scheduler.timelines.values())))

    def jwks(self) -> dict[str, Any]:
        return self._runtime.webhooks.jwks()

    def _call(self, read: Callable[[], Any]) -> Any:
        # Read on the emulator's own loop so a half-updated record is never seen; copy it out.
        async def snapshot() -> Any:
            return json.loads(dumps(read()))

        if self._loop is None:
            raise ConfigError("the emulator is not running")
        return asyncio.run_coroutine_threadsafe(snapshot(), self._loop).result(timeout=10)

    def _serve(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            await self._server.serve(sockets=self._sockets)

        try:
            asyncio.run(main())
        except BaseException as exc:  # startup failures end in SystemExit inside uvicorn
            self._error = exc

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<Emulator queue={self.queue_url} run={self.run_url}>"


def start_emulator(config: EmulatorConfig | Mapping[str, Any] | None = None, *, host: str = "127.0.0.1",
                   port: int = 0, run_port: int = 0) -> Emulator:
    """Start an emulator (port 0: any free port) and return its handle once it accepts requests."""
    if config is None:
        config = EmulatorConfig()
    elif not isinstance(config, EmulatorConfig):
        config = parse_emulator_config(config)
    return Emulator(config, host=host, port=port, run_port=run_port).start()


def _check_endpoints(config: EmulatorConfig, contracts: Mapping[str, Contract]) -> None:
    known = ", ".join(contracts) or "none"
    source = config.source or "<emulator config>"
    for name in config.endpoints:
        if name not in contracts:
            raise DataFileError(source, f"endpoints.{name}", f"no contract for this endpoint (known: {known})")
    for i, rule in enumerate(config.faults):
        if rule.endpoint is not None and rule.endpoint not in contracts:
            raise DataFileError(source, f"faults[{i}].endpoint", f"no contract for {rule.endpoint!r} (known: {known})")


def _check_port(name: str, port: object) -> None:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= MAX_PORT:
        raise ConfigError(f"{name} must be a whole number from 0 to {MAX_PORT} (0: any free port), got {port!r}")


def _bind(host: str, port: int) -> socket.socket:
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


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
