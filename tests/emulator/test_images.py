"""Output images: deterministic from the input and seed, and truthful about what is served."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image

from harness._resources import fixture
from harness.client import ssl_context
from harness.emulator import Emulator

from .helpers import data_uri

#: the one TLS context for the loopback clients here (a client building its own loads the CA bundle)
TLS = ssl_context(trust_env=False)

_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}


def _run(http: httpx.Client, emulator: Emulator, endpoint: str, payload: dict[str, Any]) -> dict[str, Any]:
    response = http.post(f"{emulator.run_url}/{endpoint}", json=payload)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _bytes(output: dict[str, Any], field: str = "images") -> list[bytes]:
    found = output[field]
    files = found if isinstance(found, list) else [found]
    return [httpx.get(i["url"], trust_env=False, verify=TLS).content for i in files]


def test_same_input_and_seed_give_byte_identical_images(http: httpx.Client, fal_emulator: Emulator) -> None:
    payload = {"prompt": "a red fox", "image_size": "square", "num_images": 2, "seed": 1234}
    first, second = _run(http, fal_emulator, "fal-ai/flux-pro", payload), _run(http, fal_emulator,
                                                                             "fal-ai/flux-pro", payload)
    assert first["images"][0]["url"] != second["images"][0]["url"]
    assert _bytes(first) == _bytes(second)
    assert _bytes(first)[0] != _bytes(first)[1]  # each image of a batch differs


@pytest.mark.parametrize("change", [{"seed": 1235}, {"prompt": "a blue fox"}, {"guidance_scale": 4.0}])
def test_a_different_seed_or_input_gives_different_images(http: httpx.Client, fal_emulator: Emulator,
                                                          change: dict[str, Any]) -> None:
    payload = {"prompt": "a red fox", "image_size": "square", "seed": 1234}
    base = _bytes(_run(http, fal_emulator, "fal-ai/flux-pro", payload))
    assert _bytes(_run(http, fal_emulator, "fal-ai/flux-pro", {**payload, **change})) != base


def test_a_missing_seed_is_drawn_echoed_and_reproducible(http: httpx.Client, fal_emulator: Emulator) -> None:
    drawn = _run(http, fal_emulator, "fal-ai/sd-loras", {"model_name": "m", "prompt": "p", "image_size": "square"})
    assert isinstance(drawn["seed"], int)
    again = _run(http, fal_emulator, "fal-ai/sd-loras",
                 {"model_name": "m", "prompt": "p", "image_size": "square", "seed": drawn["seed"]})
    assert _bytes(again) == _bytes(drawn)


def test_file_inputs_count_by_content_not_by_url(http: httpx.Client, fal_emulator: Emulator) -> None:
    token = http.post(f"{fal_emulator.queue_url}/storage/auth/token", json={}).json()
    url = httpx.post(f"{token['base_url']}/files/upload", content=fixture("face.png").read_bytes(),
                     trust_env=False, verify=TLS,
                     headers={"Authorization": f"Bearer {token['token']}", "Content-Type": "image/png"}
                     ).json()["access_url"]
    by_uri = _run(http, fal_emulator, "fal-ai/instantid/lcm",
                  {"prompt": "p", "seed": 1, "face_image_url": data_uri("face.png")})
    by_url = _run(http, fal_emulator, "fal-ai/instantid/lcm", {"prompt": "p", "seed": 1, "face_image_url": url})
    assert _bytes(by_uri, "image") == _bytes(by_url, "image")


@pytest.mark.parametrize(("size", "expected"), [
    ("square_hd", (1024, 1024)), ("square", (512, 512)), ("portrait_4_3", (768, 1024)),
    ("portrait_16_9", (576, 1024)), ("landscape_4_3", (1024, 768)), ("landscape_16_9", (1024, 576)),
    ({"width": 640, "height": 480}, (640, 480)), ({"width": 33, "height": 17}, (33, 17)),
])
def test_declared_size_format_and_bytes_match_the_served_file(http: httpx.Client, fal_emulator: Emulator,
                                                              size: Any, expected: tuple[int, int]) -> None:
    output = _run(http, fal_emulator, "fal-ai/flux-pro", {"prompt": "truth", "image_size": size})
    _assert_truthful(output["images"][0], expected, "JPEG")


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_requested_format_is_served(http: httpx.Client, fal_emulator: Emulator, fmt: str) -> None:
    output = _run(http, fal_emulator, "fal-ai/sd-loras",
                  {"model_name": "m", "prompt": "p", "image_format": fmt, "image_size": {"width": 96, "height": 64},
                   "num_images": 3})
    assert len(output["images"]) == 3
    assert output["has_nsfw_concepts"] == [False, False, False]
    for image in output["images"]:
        _assert_truthful(image, (96, 64), fmt.upper())


def test_custom_size_defaults_come_from_the_type(http: httpx.Client, fal_emulator: Emulator) -> None:
    output = _run(http, fal_emulator, "fal-ai/flux-pro", {"prompt": "p", "image_size": {"height": 256}})
    _assert_truthful(output["images"][0], (512, 256), "JPEG")


def test_single_image_endpoint_uses_its_default_size(http: httpx.Client, fal_emulator: Emulator) -> None:
    output = _run(http, fal_emulator, "fal-ai/instantid/lcm", {"prompt": "p", "face_image_url": data_uri("face.png")})
    _assert_truthful(output["image"], (960, 1280), "PNG")


def test_timings_and_echo_are_filled_in(http: httpx.Client, fal_emulator: Emulator) -> None:
    output = _run(http, fal_emulator, "fal-ai/flux-pro", {"prompt": "echo me"})
    assert output["prompt"] == "echo me"
    assert output["timings"]["inference"] >= 0
    assert output["has_nsfw_concepts"] == [False]


def _assert_truthful(image: dict[str, Any], size: tuple[int, int], fmt: str) -> None:
    served = httpx.get(image["url"], trust_env=False, verify=TLS)
    assert served.status_code == 200
    with Image.open(io.BytesIO(served.content)) as decoded:
        decoded.load()
        assert (decoded.format, decoded.size) == (fmt, size)
    assert (image["width"], image["height"]) == size
    assert image["file_size"] == len(served.content)
    assert image["content_type"] == served.headers["content-type"] == _TYPES[fmt]
    assert image["file_name"] == image["url"].rsplit("/", 1)[-1]


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_a_picture_encoded_off_the_interpreter_lock_has_the_bytes_a_buffer_gets(fmt: str) -> None:
    # JPEGs are encoded into an in-memory file, where Pillow lets other threads run: the bytes are
    # those Pillow writes into a buffer with the same settings, so recordings keep matching.
    from harness.emulator._images import _SAVE_OPTIONS, FORMATS, picture, render

    digest = bytes(range(32))
    made = render(digest, 640, 480, fmt)
    pil_format = FORMATS[fmt][0]
    buf = io.BytesIO()
    picture(digest, 640, 480).save(buf, format=pil_format, **_SAVE_OPTIONS[pil_format])
    assert made.data == buf.getvalue()
    with Image.open(io.BytesIO(made.data)) as img:
        assert (img.format, img.size) == (pil_format, (640, 480))
