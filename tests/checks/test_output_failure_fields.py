"""An output check's failure says where (``images[1].width``), what was expected and what came:
pinned field by field, since reports and run.json carry them."""

from __future__ import annotations

import io

from PIL import Image
from test_checks import FLUX, good, jpeg

from harness.checks import Failure, run_checks
from harness.client import Observation
from harness.contracts import Contract, get_contract


def _failures(check: str, obs: Observation, contract: Contract = FLUX) -> list[Failure]:
    (result,) = run_checks(obs, contract, only=[check])
    return [Failure(f.message, f.path, f.expected, f.got) for f in result.failures]


def test_a_wrong_count_names_the_image_field_and_both_numbers() -> None:
    obs = good()
    obs.input["num_images"] = 3
    assert _failures("output.image-count", obs) == [Failure("2 image(s) returned, 3 asked for", "images", 3, 2)]
    obs.input["num_images"] = 1
    assert _failures("output.image-count", obs) == [Failure("2 image(s) returned, 1 asked for", "images", 1, 2)]
    assert _failures("output.image-count", good()) == []


def test_a_wrong_size_names_the_image_and_both_sizes() -> None:
    obs = good()
    obs.output["images"][1].update(width=640, height=481)
    assert _failures("output.image-size", obs) == [
        Failure("image 1 is 640x481, 640x480 asked for", "images[1]", [640, 480], [640, 481])]
    obs.output["images"][1].update(width=641, height=480)
    assert _failures("output.image-size", obs) == [
        Failure("image 1 is 641x480, 640x480 asked for", "images[1]", [640, 480], [641, 480])]


def test_a_wrong_content_type_names_the_key_and_both_types() -> None:
    obs = good()
    obs.endpoint = "fal-ai/fast-lcm-diffusion"
    obs.input["format"] = "png"
    assert _failures("output.content-type", obs, get_contract("fal-ai/fast-lcm-diffusion")) == [
        Failure(f"image {i} has content_type 'image/jpeg', 'image/png' asked for", f"images[{i}].content_type",
                "image/png", "image/jpeg") for i in (0, 1)]


def test_a_wrong_file_size_names_the_key_the_bytes_and_the_declaration() -> None:
    obs = good()
    real = obs.downloads[1].size
    obs.output["images"][1]["file_size"] = real + 1
    assert _failures("output.file-size", obs) == [
        Failure(f"image 1 declares file_size {real + 1}, {real} bytes were downloaded", "images[1].file_size", real,
                real + 1)]
    obs.output["images"][1]["file_size"] = real - 1
    assert _failures("output.file-size", obs)[0].got == real - 1


def test_a_picture_that_is_not_what_it_declares_names_each_difference() -> None:
    obs = good()
    buf = io.BytesIO()
    Image.new("RGB", (320, 200)).save(buf, format="PNG")
    obs.downloads[1].data = buf.getvalue()
    assert _failures("output.image-truthful", obs) == [
        Failure("image 1 declares image/jpeg but its bytes are png", "images[1].content_type", "image/png",
                "image/jpeg"),
        Failure("image 1 declares 640x480 but decodes as 320x200", "images[1]", [320, 200], [640, 480])]
    obs.downloads[1].data = jpeg(640, 480)
    assert _failures("output.image-truthful", obs) == []


def test_a_seed_not_echoed_and_a_schema_break_name_their_place() -> None:
    obs = good()
    obs.output["seed"] = 99
    assert _failures("output.seed-echoed", obs) == [Failure("seed sent 1234, output says 99", "seed", 1234, 99)]
    obs = good()
    obs.output["images"][0]["width"] = "wide"
    (found,) = _failures("output.schema", obs)
    assert (found.path, found.got) == ("$.images[0].width", "wide") and found.message.startswith("$.images[0].width: ")
