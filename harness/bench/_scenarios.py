"""The built-in scenarios, each a small plan function registered by name, with the emulator latency
model it runs against by default (known, so the ground truth can be reported next to each figure).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping

from harness._errors import ConfigError
from harness.bench._registry import PlanContext, Series, scenario
from harness.bench._summary import Figure, SeriesSummary
from harness.bench._work import (
    BareVersusHarness,
    DataUriBuild,
    Lifecycle,
    StreamLifecycle,
    fresh_allocations,
    padded_png,
    require_fal_client,
)
from harness.client import FileInput, FileMode, Files
from harness.contracts import Contract

__all__ = ["BENCH_EMULATOR", "DEFAULT_SIZES", "DETECTIONS", "MiB", "bench_input", "small_input"]

KiB, MiB = 1024, 1024 * 1024

_LIMITS = {"max_live_requests": 100_000, "max_timelines": 100_000}

#: the emulator behind ``bench --target emulator``: lognormal queue waits and run times, quick but
#: far from trivial, with enough runners that 20 concurrent requests never wait for one
_BENCH_DEFAULTS: Mapping[str, object] = {
    "runners": 64,
    "queue_wait": {"kind": "lognormal", "median": 0.15, "sigma": 0.5, "max": 1.0},
    "run_time": {"kind": "lognormal", "median": 0.4, "sigma": 0.25, "max": 1.5},
    "log_lines": 3,
}
BENCH_EMULATOR: Mapping[str, object] = {"seed": 0, "time_scale": 1.0, "defaults": _BENCH_DEFAULTS, "limits": _LIMITS}

#: upload paths differ by milliseconds: fixed model delays keep them from drowning in random ones;
#: room for 32 MiB files inline and uploaded, which expire quickly so memory stays bounded
UPLOAD_EMULATOR: Mapping[str, object] = {
    "seed": 0,
    "time_scale": 1.0,
    "defaults": {"runners": 8, "queue_wait": 0.05, "run_time": 0.1, "log_lines": 0},
    "limits": {**_LIMITS, "max_body_bytes": 64 * MiB, "max_file_bytes": 64 * MiB, "max_stored_bytes": 2048 * MiB,
               "file_ttl_seconds": 60.0},
}

#: eight runners per endpoint: past about 14 requests a second requests wait for one, which is
#: what a load test should be able to show
LOAD_EMULATOR: Mapping[str, object] = {**BENCH_EMULATOR, "defaults": {**_BENCH_DEFAULTS, "runners": 8}}

#: no model delays at all: what is left is the cost of the HTTP calls on both sides
ZERO_EMULATOR: Mapping[str, object] = {
    "seed": 0, "time_scale": 0.0, "defaults": {"runners": 8, "queue_wait": 0, "run_time": 0, "log_lines": 0},
    "limits": _LIMITS,
}

#: streams straight to a runner: a lognormal time to the first event and between events
STREAM_EMULATOR: Mapping[str, object] = {
    "seed": 0,
    "time_scale": 1.0,
    "defaults": {
        "runners": 64, "queue_wait": 0, "run_time": 0, "log_lines": 0,
        "first_event": {"kind": "lognormal", "median": 0.2, "sigma": 0.4, "max": 1.0},
        "event_gap": {"kind": "lognormal", "median": 0.04, "sigma": 0.3, "max": 0.3},
    },
    "limits": _LIMITS,
}

DEFAULT_SIZES: tuple[int, ...] = (64 * KiB, 1 * MiB, 8 * MiB, 32 * MiB)
DATA_URI_SIZES: tuple[int, ...] = (1 * MiB, 10 * MiB, 32 * MiB)
DETECTIONS: tuple[tuple[str, str, float], ...] = (("stream", "stream", 0.0), ("poll-0.1s", "poll", 0.1),
                                                  ("poll-0.5s", "poll", 0.5))
_SMALL_INPUT_ENDPOINT = "fal-ai/flux-pro"
_FILE_MODES = (FileMode.UPLOAD, FileMode.DATA_URI, FileMode.URL)


def size_label(size: int) -> str:
    if size % MiB == 0:
        return f"{size // MiB}MiB"
    if size % KiB == 0:
        return f"{size // KiB}KiB"
    return f"{size}B"


def bench_input(contract: Contract, payload: Mapping[str, object] | None = None
                ) -> tuple[dict[str, object], Files]:
    """The input a benchmark sends to an endpoint: ``payload`` when the user gave one (``--input``),
    else its first scenario meant to succeed (the page's example, with its bundled files)."""
    if payload is not None:
        return copy.deepcopy(dict(payload)), {}
    for case in contract.scenarios:
        if case.expect_status == 200:
            return copy.deepcopy(dict(case.input)), dict(case.files)
    raise ConfigError(f"{contract.endpoint} has no scenario meant to succeed to benchmark with")


def small_input(contract: Contract, payload: Mapping[str, object] | None = None
                ) -> tuple[dict[str, object], Files]:
    """The benchmark input asking for one 64x64 picture where the contract lets the input choose:
    for measuring the client, where drawing a megapixel stand-in would only add the emulator's CPU."""
    found, files = bench_input(contract, payload)
    images = contract.semantics.images
    if payload is None and images is not None:
        if images.size:
            found[images.size] = {"width": 64, "height": 64}
        if images.count:
            found[images.count] = 1
    return found, files


def _default_endpoint(ctx: PlanContext) -> str:
    if ctx.options.endpoints:
        return ctx.endpoints()[0]
    return _SMALL_INPUT_ENDPOINT if _SMALL_INPUT_ENDPOINT in ctx.contracts else next(iter(ctx.contracts))


def _detect(ctx: PlanContext) -> tuple[str, float]:
    detect = ctx.options.detect or "stream"
    if detect not in ("stream", "poll"):
        raise ConfigError(f"--detect must be stream or poll, not {detect!r}")
    return detect, ctx.options.poll_interval or 0.1


@scenario("queue", emulator=BENCH_EMULATOR)
def queue(ctx: PlanContext) -> list[Series]:
    """Per-phase latency of full lifecycles (submit, queue wait, run, result, download, end to end), per endpoint."""
    opts = ctx.options
    concurrency = opts.concurrency or 20
    detect, interval = _detect(ctx)
    series = []
    choose = small_input if opts.small_inputs else bench_input
    for endpoint in ctx.endpoints():
        payload, files = choose(ctx.contracts[endpoint], ctx.options.payload)
        series.append(Series(
            name=endpoint, endpoint=endpoint, labels={"endpoint": endpoint, "detect": detect},
            work=Lifecycle(endpoint, payload, files, FileMode.DATA_URI, detect, interval),
            requests=opts.requests or 200, warmup=opts.warmup if opts.warmup is not None else concurrency,
            concurrency=concurrency,
        ))
    return series


@scenario("stream", emulator=STREAM_EMULATOR)
def stream(ctx: PlanContext) -> list[Series]:
    """Streams (POST .../stream): time to the first event, the gap between events and the whole stream."""
    opts = ctx.options
    streaming = tuple(e for e, c in ctx.contracts.items() if c.streaming is not None)
    if not streaming and not opts.endpoints:
        raise ConfigError("no contract declares streaming: give an endpoint with a streaming: section")
    series = []
    for endpoint in ctx.endpoints(streaming):
        if ctx.contracts[endpoint].streaming is None:
            raise ConfigError(f"{endpoint} does not stream (its contract has no streaming: section)")
        payload, files = bench_input(ctx.contracts[endpoint], opts.payload)
        concurrency = opts.concurrency or 10
        series.append(Series(
            name=endpoint, endpoint=endpoint, labels={"endpoint": endpoint, "mode": "stream"},
            work=StreamLifecycle(endpoint, payload, files), requests=opts.requests or 100,
            warmup=opts.warmup if opts.warmup is not None else concurrency, concurrency=concurrency,
        ))
    return series


@scenario("upload-paths", emulator=UPLOAD_EMULATOR)
def upload_paths(ctx: PlanContext) -> list[Series]:
    """One request with its file passed by storage upload, data URI and hosted URL, at several sizes."""
    opts = ctx.options
    endpoint = ctx.endpoints(_file_endpoints(ctx))[0]
    contract = ctx.contracts[endpoint]
    field = next((f.name for f in contract.input.fields if f.file == "image"), None)
    if field is None:
        raise ConfigError(f"{endpoint} takes no image file input to pass by the three paths")
    payload, _ = bench_input(contract, opts.payload)
    modes: tuple[FileMode, ...] = _FILE_MODES
    if not ctx.hosted_files:
        modes = tuple(m for m in _FILE_MODES if m is not FileMode.URL)
        ctx.notes.append("the hosted-URL path was left out: a live target needs --hosted-base-url where "
                         "face-<size>.png files of these sizes are published")
    series = []
    for size in opts.sizes or DEFAULT_SIZES:
        file = padded_png(size)
        for mode in modes:
            series.append(Series(
                name=f"{mode.value}/{size_label(size)}", endpoint=endpoint,
                labels={"endpoint": endpoint, "mode": mode.value, "size_bytes": size},
                work=Lifecycle(endpoint, payload, {field: file}, mode, "stream"),
                requests=opts.requests or 10, warmup=opts.warmup if opts.warmup is not None else 1,
                concurrency=opts.concurrency or 1,
            ))
    return series


def _file_endpoints(ctx: PlanContext) -> tuple[str, ...]:
    found = tuple(e for e, c in ctx.contracts.items() if any(f.file == "image" for f in c.input.fields))
    if not found:
        raise ConfigError("no contract has an image file input to benchmark upload paths with")
    return found


def _data_uri_figures(series: list[SeriesSummary]) -> list[Figure]:
    figures = []
    for s in series:
        harness, reference = s.phase_stat("harness", "p50"), s.phase_stat("reference", "p50")
        limit = s.phase_stat("limit", "p50")
        size = s.labels.get("size_bytes", 0)
        mib = size / MiB if isinstance(size, int | float) else 0
        if not harness or not reference or not mib:
            continue
        figures += [
            Figure(f"data-uri/{s.name}/speedup", "x", reference / harness, "bigger"),
            Figure(f"data-uri/{s.name}/harness_per_mib", "ms/MiB", harness / mib, "smaller"),
            Figure(f"data-uri/{s.name}/reference_per_mib", "ms/MiB", reference / mib, "smaller"),
        ]
        if limit:
            figures.append(Figure(f"data-uri/{s.name}/over_limit", "x", harness / limit, "smaller"))
    return figures


@scenario("data-uri", emulator=None, derive=_data_uri_figures)
def data_uri(ctx: PlanContext) -> list[Series]:
    """Data-URI request body cost per MiB: the harness's path against fal_client.encode + json.dumps
    and against the limit (pybase64's encode and one copy), each body in freshly mapped pages."""
    require_fal_client()
    with fresh_allocations() as pinned:
        allocation = "fresh" if pinned else "allocator default"
    opts = ctx.options
    contract = ctx.contracts.get("fal-ai/instantid/lcm")
    payload = bench_input(contract)[0] if contract is not None else {"prompt": "a portrait"}
    payload.pop("face_image_url", None)
    series = []
    for size in opts.sizes or DATA_URI_SIZES:
        # Random bytes: what a photo's compressed data looks like to base64 and JSON.
        work = DataUriBuild(payload, "face_image_url", FileInput(os.urandom(size), "image/png", "bench.png"))
        work.check_same()
        series.append(Series(name=size_label(size), labels={"size_bytes": size, "allocation": allocation}, work=work,
                             requests=opts.requests or 20, warmup=opts.warmup if opts.warmup is not None else 2,
                             sends=0))
    return series


def _detection_figures(series: list[SeriesSummary]) -> list[Figure]:
    stream = next((s for s in series if s.labels.get("detect") == "stream"), None)
    base = stream.phase_stat("completion", "p50") if stream else None
    figures = []
    for s in series:
        completion = s.phases.get("completion")
        error = completion.error if completion is not None else None
        if error is not None:
            # per request, measured minus true: what detecting completion this way adds
            figures.append(Figure(f"detection/{s.name}/added_p50", "ms", error.p50, "smaller"))
            figures.append(Figure(f"detection/{s.name}/abs_error_p99", "ms", error.p99_abs, "smaller"))
        p50 = completion.p50 if completion is not None else None
        if base is not None and s is not stream and p50 is not None:
            figures.append(Figure(f"detection/{s.name}/added_vs_stream_p50", "ms", p50 - base, "smaller"))
    return figures


@scenario("detection", emulator=BENCH_EMULATOR, derive=_detection_figures)
def detection(ctx: PlanContext) -> list[Series]:
    """Completion detected by the status stream against polling at 0.1 s and 0.5 s: what each adds."""
    opts = ctx.options
    endpoint = _default_endpoint(ctx)
    payload, files = bench_input(ctx.contracts[endpoint], ctx.options.payload)
    concurrency = opts.concurrency or 20
    return [
        Series(name=name, endpoint=endpoint, labels={"endpoint": endpoint, "detect": detect, "poll_interval": interval},
               work=Lifecycle(endpoint, payload, files, FileMode.DATA_URI, detect, interval or 0.1),
               requests=opts.requests or 200, warmup=opts.warmup if opts.warmup is not None else concurrency,
               concurrency=concurrency)
        for name, detect, interval in DETECTIONS
    ]


@scenario("load", emulator=LOAD_EMULATOR)
def load(ctx: PlanContext) -> list[Series]:
    """A closed loop at N concurrent and an open loop at a Poisson arrival rate, timed from each intended start."""
    opts = ctx.options
    endpoint = _default_endpoint(ctx)
    payload, files = bench_input(ctx.contracts[endpoint], ctx.options.payload)
    detect, interval = _detect(ctx)
    work = Lifecycle(endpoint, payload, files, FileMode.DATA_URI, detect, interval)
    concurrency = opts.concurrency or 16
    rate = opts.rate or 10.0
    requests = opts.requests or 200
    return [
        Series(name=f"closed-{concurrency}", endpoint=endpoint, work=work, requests=requests,
               warmup=opts.warmup if opts.warmup is not None else concurrency, concurrency=concurrency,
               labels={"endpoint": endpoint, "loop": "closed", "concurrency": concurrency}, hdr=True),
        Series(name=f"open-{rate:g}rps", endpoint=endpoint, work=work, requests=requests,
               warmup=opts.warmup if opts.warmup is not None else int(rate), rate=rate,
               labels={"endpoint": endpoint, "loop": "open", "rate": rate}, hdr=True),
    ]


def _overhead_figures(series: list[SeriesSummary]) -> list[Figure]:
    figures = []
    for s in series:
        for stat in ("p50", "mean"):
            harness, bare = s.phase_stat("harness", stat), s.phase_stat("httpx", stat)
            if harness and bare:
                figures.append(Figure(f"overhead/{s.name}/ratio_{stat}", "x", harness / bare, "smaller"))
    return figures


@scenario("overhead", emulator=ZERO_EMULATOR, derive=_overhead_figures)
def overhead(ctx: PlanContext) -> list[Series]:
    """One full lifecycle through the harness client against the same requests sent by bare httpx."""
    opts = ctx.options
    endpoint = _default_endpoint(ctx)
    payload, files = small_input(ctx.contracts[endpoint], ctx.options.payload)
    if files:
        raise ConfigError(f"the overhead scenario needs an endpoint without file inputs, not {endpoint}")
    return [Series(name=endpoint, endpoint=endpoint, labels={"endpoint": endpoint},
                   work=BareVersusHarness(endpoint, payload), requests=opts.requests or 200,
                   warmup=opts.warmup if opts.warmup is not None else 10, concurrency=opts.concurrency or 1, sends=2,
                   latency=False)]
