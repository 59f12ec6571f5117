"""Units of work the scenarios time: a lifecycle through the harness client, the same lifecycle
through bare httpx, building a data-URI request body two ways, and inputs padded to a size.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import json
import struct
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field

import orjson
import pybase64

from harness._errors import ConfigError
from harness._json import JsonObject
from harness._resources import fixture
from harness.bench._records import Measured, measured_from_observation
from harness.bench._registry import RunContext, WorkItem
from harness.client import FileInput, FileMode, Files, build_body

__all__ = ["BareVersusHarness", "DataUriBuild", "Lifecycle", "StreamLifecycle", "fresh_allocations", "padded_png"]


@dataclass(frozen=True)
class Lifecycle:
    """Submit, follow the status to COMPLETED, fetch the result, download its files."""

    endpoint: str
    payload: Mapping[str, object]
    files: Files = field(default_factory=dict)
    file_mode: FileMode | str = FileMode.DATA_URI
    detect: str = "stream"
    poll_interval: float = 0.1

    async def __call__(self, ctx: RunContext, item: WorkItem) -> Measured:
        started = time.monotonic_ns()
        obs = await ctx.client.lifecycle(
            self.endpoint, dict(self.payload), files=dict(self.files), file_mode=self.file_mode, detect=self.detect,
            poll_interval=self.poll_interval, scenario="bench", tags=item.tags, timeout=ctx.options.timeout,
        )
        return measured_from_observation(obs, started, time.monotonic_ns())


@dataclass(frozen=True)
class StreamLifecycle:
    """POST to the streaming API and read every event to the output, each one timed."""

    endpoint: str
    payload: Mapping[str, object]
    files: Files = field(default_factory=dict)

    async def __call__(self, ctx: RunContext, item: WorkItem) -> Measured:
        started = time.monotonic_ns()
        obs = await ctx.client.stream_lifecycle(self.endpoint, dict(self.payload), files=dict(self.files),
                                                scenario="bench", tags=item.tags)
        return measured_from_observation(obs, started, time.monotonic_ns())


@dataclass(frozen=True)
class BareVersusHarness:
    """The same lifecycle (submit, status stream to COMPLETED, result, output downloads) through
    the harness client and through bare httpx, one after the other, alternating which goes first
    so a drift in the machine's speed falls on both equally."""

    endpoint: str
    payload: Mapping[str, object]

    async def __call__(self, ctx: RunContext, item: WorkItem) -> Measured:
        started = time.monotonic_ns()
        if item.index % 2:
            bare, bare_id, bare_error = await self._bare(ctx)
            harness, obs_ids, harness_error = await self._harness(ctx, item)
        else:
            harness, obs_ids, harness_error = await self._harness(ctx, item)
            bare, bare_id, bare_error = await self._bare(ctx)
        error = harness_error or bare_error
        ids = tuple(i for i in (obs_ids, bare_id) if i)
        return Measured(started_ns=started, ended_ns=time.monotonic_ns(),
                        phases_ns={"harness": harness, "httpx": bare}, error=error, request_id=obs_ids,
                        endpoint=self.endpoint, request_ids=ids)

    async def _harness(self, ctx: RunContext, item: WorkItem) -> tuple[int, str | None, JsonObject | None]:
        t0 = time.perf_counter_ns()
        obs = await ctx.client.lifecycle(self.endpoint, dict(self.payload), tags=item.tags, timeout=ctx.options.timeout)
        took = time.perf_counter_ns() - t0
        error = asdict(obs.error) if obs.error is not None else None
        return took, obs.request_id, error

    async def _bare(self, ctx: RunContext) -> tuple[int, str | None, JsonObject | None]:
        http = ctx.bare_http
        target = ctx.target
        assert target is not None  # bare_http has checked
        t0 = time.perf_counter_ns()
        submitted = await http.post(f"{target.queue_url}/{self.endpoint}", content=orjson.dumps(dict(self.payload)),
                                    headers={"Content-Type": "application/json"})
        if submitted.status_code != 200:
            return time.perf_counter_ns() - t0, None, {"kind": "vendor", "status": submitted.status_code,
                                                       "message": "bare submit failed"}
        handle = submitted.json()
        async with http.stream("GET", f"{handle['status_url']}/stream", params={"logs": "0"},
                               headers={"Accept": "text/event-stream"}) as stream:
            async for line in stream.aiter_lines():
                if line.startswith("data:") and json.loads(line[5:]).get("status") == "COMPLETED":
                    break
        result = await http.get(handle["response_url"])
        output = result.json()
        for url in _image_urls(output):
            await http.get(url)
        took = time.perf_counter_ns() - t0
        error: JsonObject | None = None
        if result.status_code != 200:
            error = {"kind": "vendor", "status": result.status_code, "message": "bare result failed"}
        return took, str(handle["request_id"]), error


def _image_urls(output: object) -> list[str]:
    """The output file URLs the harness client downloads too (``images[].url``, ``image.url``)."""
    found: list[str] = []
    if isinstance(output, dict):
        for value in output.values():
            items = value if isinstance(value, list) else [value]
            found += [i["url"] for i in items if isinstance(i, dict) and isinstance(i.get("url"), str)]
    return found


@dataclass(frozen=True)
class DataUriBuild:
    """The JSON request body carrying a file as a data URI, built by the harness (pybase64, orjson,
    one buffer of the final size), by the reference path (``fal_client.encode`` then
    ``json.dumps``) and at the limit (the file's whole base64 from pybase64, copied once into a
    body): timed in turn, each from a fresh allocation when :func:`fresh_allocations` holds."""

    payload: Mapping[str, object]
    field: str
    file: FileInput

    def check_same(self) -> None:
        """Both paths must build the same JSON document, or the timing compares different work."""
        if orjson.loads(self._harness()) != orjson.loads(self._reference()):
            raise AssertionError("the harness and reference data-URI bodies differ")

    def _harness(self) -> bytes:
        return build_body(self.payload, {self.field: self.file})

    def _limit(self) -> bytes:
        return b"".join((b'{"f":"data:', self.file.content_type.encode(), b";base64,",
                         pybase64.b64encode(self.file.data), b'"}'))

    def _reference(self) -> bytes:
        import fal_client

        body = {**self.payload, self.field: fal_client.encode(self.file.data, self.file.content_type)}
        return json.dumps(body).encode("utf-8")

    async def __call__(self, ctx: RunContext, item: WorkItem) -> Measured:
        started = time.monotonic_ns()
        order = (("harness", self._harness), ("limit", self._limit), ("reference", self._reference))
        phases: dict[str, int | None] = {}
        with fresh_allocations():
            for name, build in order if item.index % 2 == 0 else order[::-1]:
                t0 = time.perf_counter_ns()
                body = build()
                phases[name] = time.perf_counter_ns() - t0
                del body  # freed before the next build, which then allocates as the first did
        return Measured(started_ns=started, ended_ns=time.monotonic_ns(), phases_ns=phases)


#: glibc's ``mallopt`` parameter for the size above which a block is a fresh mapping
_M_MMAP_THRESHOLD = -3
#: glibc's starting threshold, pinned while a body is timed: freeing a large body raises it, and
#: later bodies then come back in pages already touched, which a first build never gets
FRESH_THRESHOLD = 128 * 1024
#: where glibc's own adjustment of the threshold stops (64-bit), set again afterwards
RAISED_THRESHOLD = 32 * 1024 * 1024


@functools.cache
def _mallopt() -> Callable[[int, int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        found: Callable[[int, int], int] = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        return None
    return found


@contextlib.contextmanager
def fresh_allocations() -> Iterator[bool]:
    """While open, every block over 128 KiB is a fresh mapping (glibc only), so a data-URI body's
    timing includes touching its pages as a real first build does; yields ``False`` where the C
    library offers no such switch. Afterwards the threshold is where glibc would have raised it."""
    mallopt = _mallopt()
    pinned = mallopt is not None and bool(mallopt(_M_MMAP_THRESHOLD, FRESH_THRESHOLD))
    try:
        yield pinned
    finally:
        if pinned and mallopt is not None:
            mallopt(_M_MMAP_THRESHOLD, RAISED_THRESHOLD)


def require_fal_client() -> None:
    try:
        import fal_client  # noqa: F401
    except ImportError:
        raise ConfigError("the data-uri scenario compares against fal-client: pip install 'fal-harness[test]'") \
            from None


def padded_png(size: int, name: str = "face.png") -> FileInput:
    """A real PNG (the bundled face) grown to ``size`` bytes with a private ancillary chunk, which
    decoders skip: every file path carries the same bytes and the model still sees an image."""
    png = fixture(name).read_bytes()
    iend = png.rindex(b"IEND") - 4
    pad = max(0, size - len(png) - 12)
    kind = b"prVt"
    data = bytes(pad)
    chunk = struct.pack(">I", pad) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)) & 0xFFFFFFFF)
    return FileInput(png[:iend] + chunk + png[iend:], "image/png", f"face-{size}.png")
