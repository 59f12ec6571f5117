"""The emulator's per-request work kept off its event loop or done once: the same media plan drawn
once (a bounded cache), the same input file checked once, and pictures drawn on a worker thread
while the loop keeps answering. Judged by identity, by counts and by causality, never by a clock."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from cachetools import LRUCache

from harness.emulator import InProcessEmulator, _media
from harness.emulator._files import FileResolver
from harness.emulator._media import MediaFile, MediaPlan, make_media

from .helpers import data_uri

ENDPOINT = "fal-ai/fast-lcm-diffusion"
SMALL = {"prompt": "a lighthouse", "image_size": {"width": 64, "height": 64}, "num_images": 1}
#: big enough to be drawn on a worker thread
BIG = {**SMALL, "image_size": {"width": 256, "height": 256}}


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[MediaPlan]:
    """An empty media cache of its own, and every plan the image maker was really called for."""
    calls: list[MediaPlan] = []
    real = _media._MAKERS["image"]

    def counting(plan: MediaPlan) -> MediaFile:
        calls.append(plan)
        return real(plan)

    monkeypatch.setattr(_media, "_CACHE", LRUCache(maxsize=_media.MEDIA_CACHE_BYTES, getsizeof=_media._size))
    monkeypatch.setitem(_media._MAKERS, "image", counting)
    return calls


def _plan(n: int, size: int = 32) -> MediaPlan:
    return MediaPlan("image", "png", bytes([n]) * 64, size, size)


def test_the_same_plan_is_drawn_once_and_then_served_from_the_cache(drawn: list[MediaPlan]) -> None:
    first = make_media(_plan(1))
    assert make_media(_plan(1)) is first  # an equal plan, not the same object: the same file
    assert make_media(_plan(2)) is not first
    assert drawn == [_plan(1), _plan(2)]
    assert first.file_name.endswith(".png") and first.etag.startswith('"')


def test_the_cache_is_bounded_in_bytes(drawn: list[MediaPlan], monkeypatch: pytest.MonkeyPatch) -> None:
    one = len(make_media(_plan(1)).data)
    monkeypatch.setattr(_media, "_CACHE", LRUCache(maxsize=2 * one + one // 2, getsizeof=_media._size))
    for n in (1, 2, 3):  # room for two: the first is dropped when the third comes
        make_media(_plan(n))
    drawn.clear()
    make_media(_plan(3))
    make_media(_plan(1))
    assert drawn == [_plan(1)]
    big = _plan(9, size=512)  # bigger than the whole cache: made every time, never kept
    make_media(big)
    make_media(big)
    assert drawn.count(big) == 2


def test_a_repeated_request_draws_its_pictures_once(drawn: list[MediaPlan]) -> None:
    async def go() -> list[Any]:
        async with InProcessEmulator({"time_scale": 0}) as emulator, emulator.client() as client:
            urls = []
            for _ in range(3):
                handle = (await client.post(f"/{ENDPOINT}", json={**SMALL, "seed": 7})).json()
                await client.get(f"{handle['status_url']}/stream")
                urls.append((await client.get(handle["response_url"])).json()["images"][0]["url"])
            return urls

    urls = asyncio.run(go())
    assert len(drawn) == 1 and len(urls) == 3 and len(set(urls)) == 1  # one drawing, three answers


def test_the_same_input_file_is_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    checks: list[str] = []
    real = FileResolver._check

    def counting(self: FileResolver, kind: str, data: bytes) -> None:
        checks.append(kind)
        real(self, kind, data)

    monkeypatch.setattr(FileResolver, "_check", counting)
    face, other = data_uri("face.png"), data_uri("initial.png")

    async def go() -> list[int]:
        async with InProcessEmulator({"time_scale": 0}) as emulator, emulator.client() as client:
            codes = []
            for url in (face, face, other, face, "data:image/png;base64,AAAA", "data:image/png;base64,AAAA"):
                handle = (await client.post("/fal-ai/instantid/lcm",
                                            json={"prompt": "a portrait", "face_image_url": url})).json()
                await client.get(f"{handle['status_url']}/stream")
                codes.append((await client.get(handle["response_url"])).status_code)
            return codes

    codes = asyncio.run(go())
    assert codes == [200, 200, 200, 200, 422, 422]  # a bad file is refused every time, never remembered
    assert checks == ["image"] * 4  # face once, the other once, the bad one on each request


def test_the_loop_answers_status_while_a_picture_is_being_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    """A picture above 128x128 is drawn on a worker thread. The drawing blocks until the test has
    had a status answer: were it drawn on the event loop, no answer could come until the draw gave
    up waiting."""
    monkeypatch.setattr(_media, "_CACHE", LRUCache(maxsize=_media.MEDIA_CACHE_BYTES, getsizeof=_media._size))
    started, answered = threading.Event(), threading.Event()
    in_time: list[bool] = []
    real = _media._MAKERS["image"]

    def blocked(plan: MediaPlan) -> MediaFile:
        started.set()
        in_time.append(answered.wait(timeout=5))
        return real(plan)

    monkeypatch.setitem(_media._MAKERS, "image", blocked)

    async def go() -> tuple[int, str, bool, int]:
        async with InProcessEmulator({"time_scale": 0}) as emulator, emulator.client() as client:
            handle = (await client.post(f"/{ENDPOINT}", json=BIG)).json()
            while not started.is_set():  # the run reaches its drawing
                await asyncio.sleep(0)
            status = await client.get(handle["status_url"])
            during_draw = not answered.is_set()
            answered.set()
            await client.get(f"{handle['status_url']}/stream")
            result = await client.get(handle["response_url"])
            return status.status_code, status.json()["status"], during_draw, result.status_code

    assert asyncio.run(go()) == (202, "IN_PROGRESS", True, 200)
    assert in_time == [True]  # the draw was still waiting when the status was answered


def test_status_answers_note_when_each_status_was_first_written() -> None:
    async def go() -> tuple[str, str, dict[str, Any]]:
        async with InProcessEmulator({"time_scale": 0}) as emulator, emulator.client() as client:
            handle = (await client.post(f"/{ENDPOINT}", json=SMALL)).json()
            polled = (await client.get(handle["status_url"])).json()["status"]
            await client.get(f"{handle['status_url']}/stream")  # to the end of the run
            again = (await client.get(handle["status_url"])).json()["status"]
            await client.get(handle["response_url"])
            return polled, again, emulator.timeline(handle["request_id"])

    polled, again, timeline = asyncio.run(go())
    written = timeline["written_ns"]
    changed = {"IN_QUEUE": "received_ns", "IN_PROGRESS": "started_ns", "COMPLETED": "completed_ns"}
    assert polled in written and again == "COMPLETED"
    assert timeline[changed[polled]] <= written[polled] <= written["COMPLETED"]
    assert timeline["received_ns"] <= written["IN_QUEUE"]
    assert timeline["completed_ns"] <= written["COMPLETED"] <= timeline["result_served_ns"][0]
    assert set(written) <= set(changed)


def test_a_runs_pictures_are_drawn_while_its_run_time_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's sampled time is a sleep that ends only once the drawing has begun: drawn after the
    sleep, as a run that spends its time and then draws would, the run could never end. The run
    time is then what the latency model says, with the drawing hidden in it."""
    from harness.emulator._runner import Runner

    monkeypatch.setattr(_media, "_CACHE", LRUCache(maxsize=_media.MEDIA_CACHE_BYTES, getsizeof=_media._size))
    drawing = threading.Event()
    real = _media._MAKERS["image"]

    def noted(plan: MediaPlan) -> MediaFile:
        drawing.set()
        return real(plan)

    async def spend_until_drawing(self: Runner, job: Any, plan: Any) -> None:
        began = await asyncio.to_thread(drawing.wait, 10)
        assert began, "the run's time passed with no drawing begun"

    monkeypatch.setitem(_media._MAKERS, "image", noted)
    monkeypatch.setattr(Runner, "_spend", spend_until_drawing)

    async def go() -> tuple[int, int]:
        async with InProcessEmulator({"time_scale": 0}) as emulator, emulator.client() as client:
            handle = (await client.post(f"/{ENDPOINT}", json=BIG)).json()
            await client.get(f"{handle['status_url']}/stream")
            result = await client.get(handle["response_url"])
            return result.status_code, len(result.json()["images"])

    assert asyncio.run(go()) == (200, 1)


def test_a_run_failed_by_its_fault_stores_none_of_the_pictures_drawn_meanwhile() -> None:
    fault = {"faults": [{"fault": "completed_with_error", "endpoint": ENDPOINT, "rate": 1.0}]}

    async def go() -> tuple[int, int]:
        async with InProcessEmulator({"time_scale": 0, **fault}) as emulator, emulator.client() as client:
            handle = (await client.post(f"/{ENDPOINT}", json=BIG)).json()
            await client.get(f"{handle['status_url']}/stream")
            result = await client.get(handle["response_url"])
            return result.status_code, len(emulator._runtime.store)

    status, stored = asyncio.run(go())
    assert status >= 500 and stored == 0
