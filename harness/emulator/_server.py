"""A running emulator, hosted one way: its one Starlette app served by uvicorn on two loopback sockets
in a background thread with its own event loop (:class:`Emulator`; a child process runs the same, see
``_process``), or driven in this process through ``httpx.ASGITransport`` with no socket at all
(:class:`InProcessEmulator`, for async tests that need no real connection). Either handle reads the
ground truth; ``patch_fal_client`` points fal-client at a served one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, cast

import httpx
from asgi_lifespan import LifespanManager

from harness._errors import ConfigError, DataFileError
from harness._json import Json
from harness._serve import ServedApp, bind
from harness.contracts import Contract, load_contracts
from harness.emulator._app import ADMIN_HEADER, Runtime, build_app
from harness.emulator._config import DEFAULT_KEY, EmulatorConfig, parse_emulator_config
from harness.emulator._guard import guarded_protocol
from harness.emulator._http import dumps
from harness.sandbox import fal_client_urls, patch_fal_client

__all__ = ["IN_PROCESS_URLS", "MAX_PORT", "Emulator", "InProcessEmulator", "fal_client_urls", "patch_fal_client",
           "start_emulator"]

#: the highest TCP port number
MAX_PORT = 65535
#: where an in-process emulator says it lives (queue, run): names that never resolve, told apart by Host
IN_PROCESS_URLS = ("http://queue.emulator.invalid", "http://run.emulator.invalid")


class _Hosted:
    """What every hosted emulator offers: its config, its key, its admin key and its ground truth."""

    config: EmulatorConfig
    _runtime: Runtime

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
        """The endpoint ids it serves (one per contract)."""
        return tuple(self._runtime.endpoints)

    def timeline(self, request_id: str) -> dict[str, Any]:
        """The ground truth for one request (see the README for its fields); KeyError if unknown."""
        found = self._snapshot(lambda: self._runtime.scheduler.timelines.get(request_id))
        if found is None:
            raise KeyError(request_id)
        return cast(dict[str, Any], found)

    def timelines(self) -> list[dict[str, Any]]:
        """Every request's ground truth, oldest first."""
        return cast(list[dict[str, Any]], self._snapshot(lambda: list(self._runtime.scheduler.timelines.values())))

    def _snapshot(self, read: Callable[[], object]) -> Json:
        """A copy of what ``read`` returns, as JSON data (a served emulator takes it on its own loop)."""
        copied: Json = json.loads(dumps(read()))
        return copied


class Emulator(_Hosted):
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
        sockets = [bind(host, port)]
        try:
            sockets.append(bind(host, run_port))
            url_host = _url_host(host)
            self.queue_url = f"http://{url_host}:{sockets[0].getsockname()[1]}"
            self.run_url = f"http://{url_host}:{sockets[1].getsockname()[1]}"
            self._runtime = Runtime(config, contracts, self.queue_url, self.run_url)
        except BaseException:
            for sock in sockets:
                sock.close()
            raise
        self._served = ServedApp(
            build_app(self._runtime), sockets, name="emulator", lifespan="on", ws="websockets-sansio",
            ws_max_size=config.limits.max_body_bytes, http=guarded_protocol(config.limits),
            timeout_graceful_shutdown=2,
        )

    def start(self) -> Emulator:
        """Serve on the emulator's own thread; returns once it accepts requests."""
        self._served.start()
        return self

    def stop(self) -> None:
        """Stop serving, end background work and close the sockets; safe to call twice."""
        self._served.call_soon(self._runtime.begin_close)
        self._served.stop()

    def jwks(self) -> dict[str, Any]:
        """The public keys its webhook signatures verify with."""
        return self._runtime.webhooks.jwks()

    def _snapshot(self, read: Callable[[], object]) -> Json:
        # Read on the emulator's own loop so a half-updated record is never seen; copy it out.
        async def snapshot() -> Json:
            copied: Json = json.loads(dumps(read()))
            return copied

        return self._served.run(snapshot())

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<Emulator queue={self.queue_url} run={self.run_url}>"


class InProcessEmulator(_Hosted):
    """The emulator's app in this process behind ``httpx.ASGITransport``: no socket, no server thread.

    For async tests that need no real connection; use it as an async context manager (it runs the
    app's startup and shutdown) and send requests with :meth:`client` or through :attr:`transport`.
    The connection faults (``connection_reset``, ``slow_headers``) need a real connection to break:
    here a reset is a broken response."""

    def __init__(self, config: EmulatorConfig | Mapping[str, Any] | None = None) -> None:
        self.config = _config_of(config)
        contracts = load_contracts(self.config.contracts_dir)
        _check_endpoints(self.config, contracts)
        self.queue_url, self.run_url = IN_PROCESS_URLS
        self._runtime = Runtime(self.config, contracts, self.queue_url, self.run_url)
        self._lifespan = LifespanManager(build_app(self._runtime))
        self.transport = httpx.ASGITransport(app=self._lifespan.app)
        """What an ``httpx.AsyncClient`` (or the harness's client) sends its requests through."""

    def client(self, **options: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` on the queue address carrying the emulator's key."""
        headers = {"Authorization": f"Key {self.key}", **options.pop("headers", {})}
        return httpx.AsyncClient(transport=self.transport, base_url=self.queue_url, headers=headers, **options)

    async def __aenter__(self) -> InProcessEmulator:
        await self._lifespan.__aenter__()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._runtime.begin_close()
        await self._lifespan.__aexit__(exc_type, exc, tb)

    def __repr__(self) -> str:
        return f"<InProcessEmulator queue={self.queue_url} run={self.run_url}>"


def _config_of(config: EmulatorConfig | Mapping[str, Any] | None) -> EmulatorConfig:
    if config is None:
        return EmulatorConfig()
    return config if isinstance(config, EmulatorConfig) else parse_emulator_config(config)


def start_emulator(config: EmulatorConfig | Mapping[str, Any] | None = None, *, host: str = "127.0.0.1",
                   port: int = 0, run_port: int = 0) -> Emulator:
    """Start an emulator (port 0: any free port) and return its handle once it accepts requests."""
    return Emulator(_config_of(config), host=host, port=port, run_port=run_port).start()


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


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
