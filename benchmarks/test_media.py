"""How long the emulator takes to make each kind of output file, and how long ``fal-harness run`` takes
over fal's 24 sample schemas: ``pytest benchmarks/test_media.py --benchmark-json media.json``.

Figures only; the promises they back (tens of milliseconds for a default file, under a minute for
the run) are printed against them at the end of the session, and nothing here fails on a time.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.conftest import Promises
from harness.cli import main
from harness.contracts._semantics import DEFAULTS
from harness.emulator._media import MediaPlan, make_media

DIGEST = hashlib.blake2b(b"benchmark", digest_size=64).digest()
SAMPLES = Path(__file__).parents[1] / "tests" / "data" / "fal-openapi-samples"
VIDEO = DEFAULTS["video"]


def _video(fmt: str, width: int, height: int, fps: float, seconds: float) -> MediaPlan:
    frames = round(fps * seconds)
    return MediaPlan("video", fmt, DIGEST, width, height, frames, fps, frames / fps)


#: the file the emulator makes when no input decides ("default"), and heavier ones inputs ask for
PLANS: dict[str, MediaPlan] = {
    "image/png default": MediaPlan("image", "png", DIGEST, *DEFAULTS["image"].size),
    "video/mp4 default": _video("mp4", *VIDEO.size, VIDEO.fps, VIDEO.duration),
    "video/mp4 720p 5 s 24 fps": _video("mp4", 1280, 720, 24.0, 5.0),
    "video/webm 360p 5 s 8 fps": _video("webm", 640, 360, 8.0, 5.0),
    "audio/mp3 default": MediaPlan("audio", "mp3", DIGEST, duration=DEFAULTS["audio"].duration, sample_rate=44100),
    "audio/wav 3 s": MediaPlan("audio", "wav", DIGEST, duration=3.0, sample_rate=44100),
    "audio/flac 3 s": MediaPlan("audio", "flac", DIGEST, duration=3.0, sample_rate=44100),
    "audio/ogg 3 s": MediaPlan("audio", "ogg", DIGEST, duration=3.0, sample_rate=44100),
    "mesh/glb default": MediaPlan("mesh", "glb", DIGEST),
    "mesh/ply": MediaPlan("mesh", "ply", DIGEST),
    "file/zip": MediaPlan("file", "zip", DIGEST),
    "file/safetensors": MediaPlan("file", "safetensors", DIGEST),
}

#: tens of milliseconds for a file no input sizes (docs/emulator.md)
DEFAULT_FILE_MS = 50.0
RUN_SECONDS = 60.0


@pytest.mark.parametrize("name", list(PLANS))
def test_media_generation(benchmark: BenchmarkFixture, promises: Promises, name: str) -> None:
    benchmark.group = "emulator media"
    plan = PLANS[name]
    make_media(plan)  # warm: the codec libraries load once per process
    made = benchmark.pedantic(make_media, args=(plan,), rounds=10, iterations=1)
    benchmark.extra_info.update({"bytes": len(made.data), "content_type": made.content_type, **made.properties})
    assert made.data
    if name.endswith("default"):
        promises.add(f"making a default {name.split()[0]}", benchmark.stats.stats.median * 1000, DEFAULT_FILE_MS, "ms")


@pytest.mark.parametrize("bench_requests", [0, 10])
def test_fal_harness_run_over_the_24_samples(benchmark: BenchmarkFixture, promises: Promises, tmp_path: Path,
                                             bench_requests: int) -> None:
    """Import the samples, then time one ``fal-harness run`` over them on the emulator's own latency
    model (scaled, as the main job scales it), without the latency benchmark and with its default."""
    benchmark.group = "fal-harness run"
    contracts = tmp_path / "contracts"
    assert main(["contracts", "import-openapi", str(SAMPLES), "--into", str(contracts)]) == 0
    runs = iter(range(100))

    def run() -> int:
        return main(["run", "--contracts-dir", str(contracts), "--bench-requests", str(bench_requests),
                     "--out", str(tmp_path / f"run-{next(runs)}")])

    started = time.perf_counter()
    code = benchmark.pedantic(run, rounds=1, iterations=1)
    wall = time.perf_counter() - started
    benchmark.extra_info.update({"samples": 24, "bench_requests": bench_requests, "wall_s": round(wall, 2)})
    promises.add(f"fal-harness run over the 24 samples, --bench-requests {bench_requests}", wall, RUN_SECONDS, "s")
    assert code == 0
