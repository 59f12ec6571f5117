"""The emulator's own benchmark: full lifecycles (submit, status until complete, result) per second
at zero configured latency from many concurrent clients, and the time the emulator adds per request.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit

import orjson

from harness._suite import select_contracts
from harness.contracts import load_contracts
from harness.emulator._app import ADMIN_HEADER
from harness.emulator._config import EmulatorConfig, parse_emulator_config
from harness.emulator._server import start_emulator

__all__ = ["BenchResult", "bench_config", "run_bench"]

#: a cheap valid input, so the figures measure the emulator rather than image encoding
DEFAULT_INPUT: Mapping[str, Any] = {"prompt": "bench", "image_size": {"width": 64, "height": 64}}
#: what a queue submit answers with; without them there is no lifecycle to follow
_HANDLE_KEYS = ("request_id", "status_url", "response_url")


@dataclass(frozen=True)
class BenchResult:
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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def bench_config(concurrency: int, requests: int) -> EmulatorConfig:
    """Zero latency, a runner per client and room for every request."""
    return parse_emulator_config({
        "time_scale": 0,
        "defaults": {"runners": max(1, concurrency), "queue_wait": 0, "run_time": 0},
        "limits": {"max_live_requests": requests + concurrency + 10, "max_timelines": requests + concurrency + 10},
    })


def run_bench(*, requests: int = 2000, concurrency: int = 50, endpoint: str = "fal-ai/flux-pro",
              payload: Mapping[str, Any] | None = None, in_process: bool = False) -> BenchResult:
    """Start a zero-latency emulator (in a child process unless ``in_process``) and drive it.
    An endpoint without a contract is a ConfigError, raised before anything starts."""
    config = bench_config(concurrency, requests)
    select_contracts(load_contracts(config.contracts_dir), [endpoint])
    body = dict(payload if payload is not None else DEFAULT_INPUT)
    if in_process:
        with start_emulator(config) as emulator:
            return asyncio.run(_drive(emulator.queue_url, emulator.key, endpoint, body, requests, concurrency,
                                      emulator.admin_key))
    # A child process keeps the clients' work from sharing the emulator's interpreter lock.
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_serve_child, args=(concurrency, requests, child), daemon=True)
    process.start()
    try:
        if not parent.poll(60):
            raise RuntimeError("the benchmark's emulator did not start")
        queue_url, key, admin_key = parent.recv()
        return asyncio.run(_drive(queue_url, key, endpoint, body, requests, concurrency, admin_key))
    finally:
        parent.send("stop")
        process.join(timeout=15)
        if process.is_alive():
            process.terminate()


def _serve_child(concurrency: int, requests: int, conn: Connection) -> None:
    with start_emulator(bench_config(concurrency, requests)) as emulator:
        conn.send((emulator.queue_url, emulator.key, emulator.admin_key))
        conn.recv()


async def _drive(queue_url: str, key: str, endpoint: str, body: dict[str, Any], requests: int,
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
                status_path, result_path = urlsplit(handle["status_url"]).path, urlsplit(handle["response_url"]).path
                while (await http.call("GET", status_path))[0] == 202:
                    pass
                code, _ = await http.call("GET", result_path)
                client_ms.append((time.perf_counter() - started) * 1000)
                ids.append(handle["request_id"])
                failures += code != 200

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    async with _Connection(host, port, key, admin_key) as http:
        code, listed = await http.call("GET", "/_emulator/requests")
    truth = listed["requests"] if code == 200 and isinstance(listed, dict) else []  # no admin key, no truth
    wanted = set(ids)
    added = [_added_ms(t) for t in truth if t["request_id"] in wanted and t["completed_ns"] is not None]
    return BenchResult(requests, concurrency, endpoint, elapsed, requests / elapsed, _pct(client_ms, 50),
                       _pct(client_ms, 99), _pct(added, 50), _pct(added, 99), failures)


class _Connection:
    """One keep-alive HTTP/1.1 connection speaking just what the emulator answers (JSON with a
    Content-Length). httpx's async pool, not the emulator, would set the pace at 50 connections."""

    def __init__(self, host: str, port: int, key: str, admin_key: str | None = None) -> None:
        self.host, self.port = host, port
        self.head = f"Host: {host}:{port}\r\nAuthorization: Key {key}\r\n"
        if admin_key is not None:
            self.head += f"{ADMIN_HEADER}: {admin_key}\r\n"

    async def __aenter__(self) -> _Connection:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.writer.close()

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        payload = orjson.dumps(body) if body is not None else b""
        extra = f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n" if body is not None else ""
        self.writer.write(f"{method} {path} HTTP/1.1\r\n{self.head}{extra}\r\n".encode() + payload)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = next(int(line.split(b":", 1)[1]) for line in lines if line.lower().startswith(b"content-length:"))
        data = await self.reader.readexactly(length)
        try:
            return status, orjson.loads(data) if data else None
        except orjson.JSONDecodeError:
            return status, None


def _added_ms(timeline: Mapping[str, Any]) -> float:
    sampled = timeline["sampled"]
    inside = (timeline["completed_ns"] - timeline["received_ns"]) / 1e6
    return float(inside - 1000 * (sampled["queue_wait_s"] + sampled["run_time_s"]))


def _pct(values: list[float], p: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]
