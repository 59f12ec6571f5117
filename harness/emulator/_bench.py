"""The emulator's own benchmark: full lifecycles (submit, status until complete, result) per second
at zero configured latency from many concurrent clients, and the time the emulator adds per request.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Coroutine, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import httptools
import orjson

from harness._errors import ConfigError
from harness._json import JsonObject, JsonValue
from harness.bench import describe
from harness.contracts import load_contracts
from harness.emulator._app import ADMIN_HEADER
from harness.emulator._config import EmulatorConfig, parse_emulator_config
from harness.emulator._process import EmulatorProcess, ReferenceProcess
from harness.emulator._reference import ReferenceServer
from harness.emulator._server import start_emulator

__all__ = ["BenchResult", "bench_config", "run_bench"]

#: a cheap valid input, so the figures measure the emulator rather than image encoding
DEFAULT_INPUT: Mapping[str, JsonValue] = {"prompt": "bench", "image_size": {"width": 64, "height": 64}}
#: what a queue submit answers with; without them there is no lifecycle to follow
_HANDLE_KEYS = ("request_id", "status_url", "response_url")


@dataclass(frozen=True)
class BenchResult:
    """What the emulator's self-benchmark measured, beside the reference app measured alike."""

    requests: int
    concurrency: int
    endpoint: str
    seconds: float
    lifecycles_per_second: float
    client_p50_ms: float
    client_p99_ms: float
    """Submit sent to result read, as the client saw it (three or more HTTP calls)."""
    added_p50_ms: float
    added_p99_ms: float
    """Ground truth: received to completed inside the emulator, minus the sampled delays (zero here)."""
    failures: int
    rounds: int = 1
    """Interleaved rounds (emulator, reference, emulator...); each figure is the median over them."""
    reference_lifecycles_per_second: float | None = None
    reference_client_p50_ms: float | None = None
    reference_client_p99_ms: float | None = None
    """The same figures for a bare Starlette app answering the same routes with constant JSON
    (``None`` when the reference was not run)."""
    cpu_ms_per_lifecycle: float | None = None
    reference_cpu_ms_per_lifecycle: float | None = None
    """CPU time the server process spent per lifecycle (every thread): unlike throughput, hardly
    moved by other work on the machine. ``None`` in process, where the client shares the count."""

    @property
    def cpu_ratio(self) -> float | None:
        """Reference CPU per lifecycle over the emulator's: the throughput ratio on a free core."""
        own, ref = self.cpu_ms_per_lifecycle, self.reference_cpu_ms_per_lifecycle
        return ref / own if own and ref else None

    @property
    def throughput_ratio(self) -> float | None:
        """Emulator lifecycles/s over the reference's: how near the emulator is to the floor."""
        ref = self.reference_lifecycles_per_second
        return self.lifecycles_per_second / ref if ref else None

    @property
    def added_p99_vs_reference_ms(self) -> float | None:
        """The client's lifecycle p99 on the emulator minus that on the reference."""
        ref = self.reference_client_p99_ms
        return self.client_p99_ms - ref if ref is not None else None

    def as_dict(self) -> dict[str, Any]:
        """The figures as plain data, the two comparisons with the reference included."""
        return {**asdict(self), "throughput_ratio": self.throughput_ratio,
                "added_p99_vs_reference_ms": self.added_p99_vs_reference_ms, "cpu_ratio": self.cpu_ratio}


def _limits(concurrency: int, requests: int) -> dict[str, object]:
    return {
        "time_scale": 0,
        "defaults": {"runners": max(1, concurrency), "queue_wait": 0, "run_time": 0},
        "limits": {"max_live_requests": requests + concurrency + 10, "max_timelines": requests + concurrency + 10},
    }


def bench_config(concurrency: int, requests: int) -> EmulatorConfig:
    """Zero latency, a runner per client and room for every request."""
    return parse_emulator_config(_limits(concurrency, requests))


def run_bench(*, requests: int = 2000, concurrency: int = 50, endpoint: str = "fal-ai/flux-pro",
              payload: Mapping[str, JsonValue] | None = None, in_process: bool = False, reference: bool = True,
              rounds: int = 1) -> BenchResult:
    """Start a zero-latency emulator (in a child process unless ``in_process``) and drive it; with
    ``reference``, drive the reference app hosted the same way too, round for round interleaved.
    An endpoint without a contract is a ConfigError, raised before anything starts."""
    if rounds < 1:
        raise ConfigError(f"rounds must be at least 1, got {rounds}")
    config = bench_config(concurrency, requests)
    contracts = load_contracts(config.contracts_dir)
    if endpoint not in contracts:
        raise ConfigError(f"unknown endpoint {endpoint!r} (known: {', '.join(contracts)})")
    body = dict(payload if payload is not None else DEFAULT_INPUT)
    own: list[BenchResult] = []
    floor: list[BenchResult] = []
    for _ in range(rounds):
        own.append(_one_round(config, endpoint, body, requests, concurrency, in_process))
        if reference:
            floor.append(_reference_round(endpoint, body, requests, concurrency, in_process))
    return _combine(own, floor)


def _one_round(config: EmulatorConfig, endpoint: str, body: JsonObject, requests: int, concurrency: int,
               in_process: bool) -> BenchResult:
    if in_process:
        with start_emulator(config) as emulator:
            return asyncio.run(_drive(emulator.queue_url, emulator.key, endpoint, body, requests, concurrency,
                                      emulator.admin_key))
    # A child process keeps the clients' work from sharing the emulator's interpreter lock.
    with EmulatorProcess(_limits(concurrency, requests)) as child:
        return _counted(child, _drive(child.queue_url, child.key, endpoint, body, requests, concurrency,
                                      child.admin_key))


def _reference_round(endpoint: str, body: JsonObject, requests: int, concurrency: int,
                     in_process: bool) -> BenchResult:
    if in_process:
        server = ReferenceServer().start()
        try:
            return asyncio.run(_drive(server.queue_url, "reference:key", endpoint, body, requests, concurrency))
        finally:
            server.stop()
    with ReferenceProcess() as child:
        return _counted(child, _drive(child.queue_url, child.key, endpoint, body, requests, concurrency))


def _counted(child: EmulatorProcess, drive: Coroutine[Any, Any, BenchResult]) -> BenchResult:
    """Drive the child and note the CPU time it spent per lifecycle meanwhile."""
    before = child.cpu_seconds()
    result = asyncio.run(drive)
    spent = child.cpu_seconds() - before
    return replace(result, cpu_ms_per_lifecycle=1000 * spent / result.requests)


def _combine(own: list[BenchResult], floor: list[BenchResult]) -> BenchResult:
    """The median of each figure over the rounds, the reference's beside the emulator's."""
    first = own[0]

    def median(results: list[BenchResult], name: str) -> float:
        return float(statistics.median(getattr(r, name) for r in results))

    return BenchResult(
        first.requests, first.concurrency, first.endpoint, median(own, "seconds"),
        median(own, "lifecycles_per_second"), median(own, "client_p50_ms"), median(own, "client_p99_ms"),
        median(own, "added_p50_ms"), median(own, "added_p99_ms"), sum(r.failures for r in own), len(own),
        median(floor, "lifecycles_per_second") if floor else None,
        median(floor, "client_p50_ms") if floor else None,
        median(floor, "client_p99_ms") if floor else None,
        _median_of(own, "cpu_ms_per_lifecycle"), _median_of(floor, "cpu_ms_per_lifecycle"),
    )


def _median_of(results: list[BenchResult], name: str) -> float | None:
    values = [v for r in results if (v := getattr(r, name)) is not None]
    return float(statistics.median(values)) if values else None


async def _drive(queue_url: str, key: str, endpoint: str, body: JsonObject, requests: int,
                 concurrency: int, admin_key: str | None = None) -> BenchResult:
    host, port = urlsplit(queue_url).hostname or "127.0.0.1", urlsplit(queue_url).port or 80
    client_ms: list[float] = []
    ids: list[str] = []
    failures = 0
    remaining = iter(range(requests))

    async def worker() -> None:
        nonlocal failures
        async with _Connection(host, port, key) as http:
            for i in remaining:
                started = time.perf_counter()
                code, handle = await http.call("POST", f"/{endpoint}", {**body, "seed": i})
                if code != 200 or not isinstance(handle, dict) or not all(
                        isinstance(handle.get(k), str) for k in _HANDLE_KEYS):
                    failures += 1  # refused, or not a queue handle: nothing to follow
                    continue
                status_path = urlsplit(str(handle["status_url"])).path
                result_path = urlsplit(str(handle["response_url"])).path
                while (await http.call("GET", status_path))[0] == 202:
                    pass
                code, _ = await http.call("GET", result_path)
                client_ms.append((time.perf_counter() - started) * 1000)
                ids.append(str(handle["request_id"]))
                failures += code != 200

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    found = None
    if admin_key is not None:  # no admin key, no truth (the reference has none to give)
        async with _Connection(host, port, key, admin_key) as http:
            code, listed = await http.call("GET", "/_emulator/requests")
        found = listed.get("requests") if code == 200 and isinstance(listed, dict) else None
    wanted = set(ids)
    added = [_added_ms(t) for t in (found if isinstance(found, list) else [])
             if isinstance(t, dict) and t.get("request_id") in wanted and t.get("completed_ns") is not None]
    return BenchResult(requests, concurrency, endpoint, elapsed, requests / elapsed, _pct(client_ms, 50),
                       _pct(client_ms, 99), _pct(added, 50), _pct(added, 99), failures)


class _Connection:
    """One keep-alive HTTP/1.1 connection, its answers parsed by httptools (the parser uvicorn uses).

    Not httpx: at 50 connections its per-request work (h11, anyio, the request and URL models) needs
    about three times the CPU the emulator spends answering, so the client, not the emulator, would
    set the pace on a two-core machine."""

    def __init__(self, host: str, port: int, key: str, admin_key: str | None = None) -> None:
        self.host, self.port = host, port
        self.head = f"Host: {host}:{port}\r\nAuthorization: Key {key}\r\n"
        if admin_key is not None:
            self.head += f"{ADMIN_HEADER}: {admin_key}\r\n"
        self._body: list[bytes] = []
        self._done = False

    async def __aenter__(self) -> _Connection:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.writer.close()

    # httptools callbacks
    def on_body(self, data: bytes) -> None:
        self._body.append(data)

    def on_message_complete(self) -> None:
        self._done = True

    async def call(self, method: str, path: str, body: JsonValue = None) -> tuple[int, JsonValue]:
        """Send one request and read its answer: the status and the JSON body (``None`` if not JSON)."""
        payload = orjson.dumps(body) if body is not None else b""
        extra = f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n" if body is not None else ""
        self.writer.write(f"{method} {path} HTTP/1.1\r\n{self.head}{extra}\r\n".encode() + payload)
        parser = httptools.HttpResponseParser(self)
        self._body, self._done = [], False
        while not self._done:
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("the emulator closed the connection")
            parser.feed_data(data)
        data = b"".join(self._body)
        try:
            return parser.get_status_code(), orjson.loads(data) if data else None
        except orjson.JSONDecodeError:
            return parser.get_status_code(), None


def _added_ms(timeline: Mapping[str, JsonValue]) -> float:
    sampled = timeline.get("sampled")
    completed, received = timeline.get("completed_ns"), timeline.get("received_ns")
    if not isinstance(sampled, dict) or not isinstance(completed, int) or not isinstance(received, int):
        return float("nan")
    delays = [v for v in (sampled.get("queue_wait_s"), sampled.get("run_time_s")) if isinstance(v, int | float)]
    return (completed - received) / 1e6 - 1000 * sum(delays)


def _pct(values: list[float], p: int) -> float:
    """The ``p``-th percentile, as every figure of the harness is computed (``nan`` without values)."""
    value = describe(values, ci_resamples=0).percentiles.get(f"p{p}")
    return float("nan") if value is None else value
