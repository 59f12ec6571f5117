"""Figures for the paths that should cost next to nothing: replaying cassettes, starting the
command, building a data-URI body and the sync client's overhead over bare httpx.

Each measurement is a small function returning its figures (medians of interleaved rounds), so
a benchmark that prints the whole table can call them; ``test_fast_paths.py`` records them.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]
RECORDED = ROOT / "cassettes"


def median_interleaved(fns: dict[str, Callable[[], object]], rounds: int,
                       clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """The median seconds of each of ``fns``, run in turn round after round so load hits all alike
    (``clock=time.process_time`` counts this process's CPU only, steadier on a busy machine)."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = clock()
            fn()
            times[name].append(clock() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def copy_cassettes(dest: Path, count: int, source: Path = RECORDED) -> Path:
    """``count`` cassettes under ``dest``: the recorded ones copied (hard-linked where possible)
    into as many sibling folders as it takes, the last one trimmed."""
    originals = sorted(p for p in source.rglob("*.yaml") if "_bodies" not in p.parts)
    made = 0
    copy = 0
    while made < count:
        folder = dest / f"copy{copy:04d}"
        shutil.copytree(source / "_bodies", folder / "_bodies", copy_function=_link)
        for p in originals:
            if made == count:
                break
            target = folder / p.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            _link(str(p), str(target))
            made += 1
        copy += 1
    return dest


def _link(src: str, dst: str) -> None:
    try:
        Path(dst).hardlink_to(src)
    except OSError:
        shutil.copy2(src, dst)


def verify_cost_per_cassette(counts: tuple[int, ...] = (10, 100, 1000), rounds: int = 3,
                             source: Path = RECORDED, clock: Callable[[], float] = time.perf_counter
                             ) -> dict[int, float]:
    """Milliseconds per cassette of ``verify_cassettes`` over ``count`` cassettes copied from
    ``source``, in this process (contracts loaded once per call, as the command does)."""
    from harness.cassettes import verify_cassettes
    from harness.checks import _media

    def verify(folder: Path) -> None:
        getattr(_media, "_decoded", {}).clear()  # each run decodes its files as a fresh process would
        verdicts = verify_cassettes([folder])
        assert all(v.ok for v in verdicts), [v.name for v in verdicts if not v.ok]

    with tempfile.TemporaryDirectory(prefix="fal-harness-verify-") as tmp:
        folders = {n: copy_cassettes(Path(tmp) / str(n), n, source) for n in counts}
        verify(folders[min(counts)])  # warm: imports and the first contracts load
        med = median_interleaved({str(n): (lambda f=folders[n]: verify(f)) for n in counts}, rounds, clock)
    return {n: med[str(n)] * 1000 / n for n in counts}


def cli_start_over_bare(rounds: int = 9, argv: tuple[str, ...] = ("--help",)) -> dict[str, float]:
    """Milliseconds: ``python -c pass``, ``fal-harness <argv>`` and the difference (median of rounds)."""
    exe = [sys.executable, "-c", "import sys; from harness.cli import main; sys.exit(main())", *argv]
    med = median_interleaved({
        "bare": lambda: subprocess.run([sys.executable, "-c", "pass"], check=True),
        "cli": lambda: subprocess.run(exe, check=True, stdout=subprocess.DEVNULL),
    }, rounds)
    return {"bare_ms": med["bare"] * 1000, "cli_ms": med["cli"] * 1000,
            "over_bare_ms": (med["cli"] - med["bare"]) * 1000}


def data_uri_over_limit(sizes_mib: tuple[int, ...] = (1, 10, 50), rounds: int = 9) -> dict[int, dict[str, float]]:
    """Per size: the harness's data-URI body build and the limit (pybase64's whole encode, then one
    copy into a body), milliseconds at the median, their ratio, and minor page faults per MiB of
    file; every body from freshly mapped pages (``fresh_allocations``)."""
    import os
    import resource

    from harness.bench._work import DataUriBuild, fresh_allocations
    from harness.client import FileInput

    out: dict[int, dict[str, float]] = {}
    for mib in sizes_mib:
        work = DataUriBuild({"prompt": "a portrait"}, "face_image_url",
                            FileInput(os.urandom(mib << 20), "image/png", "bench.png"))
        faults: dict[str, list[int]] = {"harness": [], "limit": []}

        def counted(build: Callable[[], bytes], into: list[int]) -> Callable[[], None]:
            def run() -> None:
                before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                body = build()
                into.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
                del body
            return run

        with fresh_allocations():
            med = median_interleaved({"harness": counted(work._harness, faults["harness"]),
                                      "limit": counted(work._limit, faults["limit"])}, rounds)
        out[mib] = {"harness_ms": med["harness"] * 1000, "limit_ms": med["limit"] * 1000,
                    "over_limit": med["harness"] / med["limit"],
                    "harness_faults_per_mib": statistics.median(faults["harness"]) / mib,
                    "limit_faults_per_mib": statistics.median(faults["limit"]) / mib}
    return out


def _bare_lifecycle_sync(http: Any, queue_url: str, endpoint: str, body: bytes, auth: dict[str, str]) -> None:
    """Submit, the status stream to COMPLETED, the result and its pictures, with bare ``httpx.Client``."""
    handle = http.post(f"{queue_url}/{endpoint}", content=body,
                       headers={**auth, "Content-Type": "application/json"}).json()
    with http.stream("GET", f"{handle['status_url']}/stream", params={"logs": "0"},
                     headers={**auth, "Accept": "text/event-stream"}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:") and json.loads(line[5:]).get("status") == "COMPLETED":
                break
    output = http.get(handle["response_url"], headers=auth).json()
    for url in _picture_urls(output):
        http.get(url)


async def _bare_lifecycle_async(http: Any, queue_url: str, endpoint: str, body: bytes, auth: dict[str, str]) -> None:
    """The same with bare ``httpx.AsyncClient``."""
    handle = (await http.post(f"{queue_url}/{endpoint}", content=body,
                              headers={**auth, "Content-Type": "application/json"})).json()
    async with http.stream("GET", f"{handle['status_url']}/stream", params={"logs": "0"},
                           headers={**auth, "Accept": "text/event-stream"}) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data:") and json.loads(line[5:]).get("status") == "COMPLETED":
                break
    output = (await http.get(handle["response_url"], headers=auth)).json()
    for url in _picture_urls(output):
        await http.get(url)


def _picture_urls(output: Any) -> list[str]:
    items = output.get("images", []) if isinstance(output, dict) else []
    return [i["url"] for i in items if isinstance(i, dict) and isinstance(i.get("url"), str)]


def client_over_bare_httpx(rounds: int = 60, endpoint: str = "fal-ai/flux-pro") -> dict[str, float]:
    """The harness's queue lifecycle (submit, status stream, result, pictures) over the same
    requests sent with bare httpx: ``QueueClient`` against ``httpx.Client`` and ``AsyncQueueClient``
    against ``httpx.AsyncClient``, milliseconds at the median of interleaved rounds and their
    ratios, against the zero-latency emulator in a child process (no shared interpreter lock)."""
    import asyncio

    import httpx
    import orjson

    from harness.bench._scenarios import ZERO_EMULATOR, small_input
    from harness.client import AsyncQueueClient, QueueClient, Target
    from harness.contracts import get_contract
    from harness.emulator import EmulatorProcess

    payload, _ = small_input(get_contract(endpoint))
    body = orjson.dumps(payload)
    with EmulatorProcess(dict(ZERO_EMULATOR)) as child:
        target = Target(name="emulator", queue_url=child.queue_url, run_url=child.run_url,
                        rest_url=child.queue_url, cdn_url=child.queue_url, key=child.key)
        auth = dict(target.auth_headers)
        with QueueClient(target) as client, httpx.Client(trust_env=False) as bare:
            def harness_sync() -> None:
                assert client.lifecycle(endpoint, payload).ok
            sync = median_interleaved({
                "harness": harness_sync,
                "httpx": lambda: _bare_lifecycle_sync(bare, target.queue_url, endpoint, body, auth),
            }, rounds)

        async def both() -> dict[str, float]:
            async with AsyncQueueClient(target) as aclient, httpx.AsyncClient(trust_env=False) as abare:
                times: dict[str, list[float]] = {"harness": [], "httpx": []}
                for n in range(rounds):
                    order = ("harness", "httpx") if n % 2 == 0 else ("httpx", "harness")
                    for name in order:
                        start = time.perf_counter()
                        if name == "harness":
                            assert (await aclient.lifecycle(endpoint, payload)).ok
                        else:
                            await _bare_lifecycle_async(abare, target.queue_url, endpoint, body, auth)
                        times[name].append(time.perf_counter() - start)
                return {name: statistics.median(t) for name, t in times.items()}

        asynced = asyncio.run(both())
    return {"sync_harness_ms": sync["harness"] * 1000, "sync_httpx_ms": sync["httpx"] * 1000,
            "sync_ratio": sync["harness"] / sync["httpx"],
            "async_harness_ms": asynced["harness"] * 1000, "async_httpx_ms": asynced["httpx"] * 1000,
            "async_ratio": asynced["harness"] / asynced["httpx"]}
