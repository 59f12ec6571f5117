"""What each check says when it fails: the exact lines a report and a pytest failure show, on a correct
flux-pro (or sd-loras) observation broken in one way. The messages are the product's interface: each
names the image, field, status or value at fault, and what was expected instead."""

from __future__ import annotations

import copy
import io
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pybase64
import pytest
from PIL import Image

from harness.checks import Expectation, run_checks
from harness.client import Download, ErrorInfo, Exchange, Observation, StatusSeen
from harness.contracts import get_contract, parse_contract

FLUX = get_contract("fal-ai/flux-pro")
SD = get_contract("fal-ai/sd-loras")
ROOT = "http://127.0.0.1:9/fal-ai/flux-pro/requests/r1"


def picture(width: int, height: int, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(buf, format=fmt)
    return buf.getvalue()


def flux() -> Observation:
    """A correct flux-pro run: two 64x48 JPEGs (as asked), seed and prompt echoed, polled statuses."""
    data = [picture(64, 48), picture(64, 48)]
    images = [{"url": f"http://127.0.0.1:9/files/{i}.jpeg?token=t", "content_type": "image/jpeg",
               "file_size": len(d), "width": 64, "height": 48} for i, d in enumerate(data)]
    return Observation(
        endpoint="fal-ai/flux-pro", target="test", scenario="custom-size", detection="poll",
        input={"prompt": "a lighthouse", "image_size": {"width": 64, "height": 48}, "num_images": 2, "seed": 1234},
        request_id="r1",
        submit_response={"status": "IN_QUEUE", "request_id": "r1", "response_url": ROOT,
                         "status_url": ROOT + "/status", "cancel_url": ROOT + "/cancel", "queue_position": 1},
        statuses=[StatusSeen("IN_QUEUE", 5, "poll", 1, 202), StatusSeen("IN_QUEUE", 6, "poll", 0, 202),
                  StatusSeen("IN_PROGRESS", 7, "poll", None, 202), StatusSeen("COMPLETED", 9, "poll", None, 200)],
        result_status=200,
        output={"images": images, "timings": {"inference": 0.1}, "seed": 1234, "has_nsfw_concepts": [False, False],
                "prompt": "a lighthouse"},
        downloads=[Download(f"http://127.0.0.1:9/files/{i}.jpeg", 13, 14, 200, len(d), "image/jpeg", d)
                   for i, d in enumerate(data)],
        exchanges=[Exchange("submit", "POST", "x", 1, 1, 3, 200, request_id="r1"),
                   Exchange("status", "GET", "x", 1, 4, 6, 202, request_id="r1"),
                   Exchange("result", "GET", "x", 1, 10, 12, 200, request_id="r1")])


def sd_loras(**image: Any) -> Observation:
    """A correct sd-loras run with every output-deciding field omitted: one 1024x1024 PNG, its defaults."""
    png = picture(1024, 1024, "PNG")
    declared = {"url": "http://x/a.png", "content_type": "image/png", "width": 1024, "height": 1024,
                "file_size": len(png), **image}
    return Observation(endpoint="fal-ai/sd-loras", target="test", input={"model_name": "m", "prompt": "p"},
                       request_id="r2", result_status=200, output={"images": [declared], "seed": 5},
                       downloads=[Download("http://x/a.png", 1, 2, 200, len(png), "image/png", png)])


def messages(obs: Observation, check: str, contract: Any = FLUX, expect: Expectation | None = None) -> tuple[str, ...]:
    (result,) = run_checks(obs, contract, expect=expect, only=[check])
    return result.messages


def _image(index: int, **changes: Any) -> Callable[[Observation], None]:
    def change(obs: Observation) -> None:
        obs.output["images"][index].update(changes)
    return change


def _output(**changes: Any) -> Callable[[Observation], None]:
    def change(obs: Observation) -> None:
        obs.output.update(changes)
    return change


def _bytes(index: int, data: bytes) -> Callable[[Observation], None]:
    def change(obs: Observation) -> None:
        obs.downloads[index].data, obs.downloads[index].size = data, len(data)
        obs.output["images"][index]["file_size"] = len(data)
    return change


def _drop_image(obs: Observation) -> None:
    del obs.output["images"][1]


def _download_status(obs: Observation) -> None:
    obs.downloads[1].status = 404


def _submit_wrong(obs: Observation) -> None:
    assert obs.submit_response is not None
    obs.submit_response.update(status="IN_PROGRESS", status_url="", cancel_url=None)


def _foreign_cancel_url(obs: Observation) -> None:
    assert obs.submit_response is not None
    obs.submit_response["cancel_url"] = "http://x/other/app/requests/r1/cancel"


def _statuses(*statuses: StatusSeen) -> Callable[[Observation], None]:
    def change(obs: Observation) -> None:
        obs.statuses = list(statuses)
    return change


def _positions(*positions: int | None) -> Callable[[Observation], None]:
    return _statuses(*(StatusSeen("IN_QUEUE", i, "poll", p, 202) for i, p in enumerate(positions)),
                     StatusSeen("COMPLETED", 9, "poll", None, 200))


def _obs(**changes: Any) -> Callable[[Observation], None]:
    def change(obs: Observation) -> None:
        for name, value in changes.items():
            setattr(obs, name, value)
    return change


def _ids_missing(obs: Observation) -> None:
    obs.exchanges[0].request_id = obs.exchanges[2].request_id = None


Q, P, C = "IN_QUEUE", "IN_PROGRESS", "COMPLETED"

#: (check, what is broken, the messages it gives)
FLUX_MESSAGES: list[tuple[str, Callable[[Observation], None], tuple[str, ...]]] = [
    ("output.schema", _output(timings="fast"), ("$.timings: expected object, got string 'fast' [type]",)),
    ("output.seed-echoed", _output(seed=99), ("seed sent 1234, output says 99",)),
    ("output.seed-echoed", lambda o: o.output.pop("seed"), ("seed sent 1234, output says None",)),
    ("output.image-count", _drop_image, ("1 image(s) returned, 2 asked for",)),
    ("output.image-size", _image(1, height=47), ("image 1 is 64x47, 64x48 asked for",)),
    ("output.image-size", _image(0, width=None), ("image 0 is Nonex48, 64x48 asked for",)),
    ("output.nsfw-flags", _output(has_nsfw_concepts=[False]), ("has_nsfw_concepts has 1 entries for 2 images",)),
    ("output.nsfw-flags", _output(has_nsfw_concepts="no"), ("has_nsfw_concepts has 'no' entries for 2 images",)),
    ("output.echo", _output(prompt="a lamp"), ("prompt is 'a lamp', input prompt was 'a lighthouse'",)),
    ("output.file-size", _image(0, file_size=1), (f"image 0 declares file_size 1, {len(picture(64, 48))} bytes "
                                                   "were downloaded",)),
    ("output.file-size", _download_status, ("image 1 download answered HTTP 404",)),
    ("output.image-truthful", _bytes(0, b"not a picture"),
     ("image 0 does not decode as an image",)),
    ("output.image-truthful", _image(1, content_type="image/png"),
     ("image 1 declares image/png but its bytes are jpeg",)),
    ("output.image-truthful", _image(0, width=32), ("image 0 declares 32x48 but decodes as 64x48",)),
    ("submit.response-shape", _submit_wrong,
     ("submit response has no status_url", "submit response has no cancel_url",
      "submit response status is 'IN_PROGRESS', expected 'IN_QUEUE'")),
    ("submit.urls-use-app-root", _foreign_cancel_url,
     ("cancel_url 'http://x/other/app/requests/r1/cancel' is not under /fal-ai/flux-pro/requests/",)),
    ("status.sequence", _statuses(StatusSeen(Q, 1, "poll", 0, 202), StatusSeen(P, 2, "poll", None, 202),
                                  StatusSeen(Q, 3, "poll", 0, 202), StatusSeen(P, 4, "poll", None, 202),
                                  StatusSeen(Q, 5, "poll", 0, 202), StatusSeen(C, 6, "poll", None, 200)),
     ("status went back: IN_QUEUE -> IN_PROGRESS -> IN_QUEUE -> IN_PROGRESS -> IN_QUEUE -> COMPLETED",)),
    ("status.sequence", _statuses(StatusSeen("RUNNING", 1, "poll", None, 202), StatusSeen("DONE", 2, "poll", None, 200),
                                  StatusSeen("RUNNING", 3, "poll", None, 202)),
     ("unknown status value(s): DONE, RUNNING (expected IN_QUEUE, IN_PROGRESS, COMPLETED)",
      "a result was fetched but COMPLETED was never seen")),
    ("status.queue-position", _positions(None, 2), ("IN_QUEUE status without queue_position",)),
    ("status.queue-position", _positions(1, 3, 2, 4), ("queue_position increased: 1 -> 3 -> 2 -> 4",)),
    ("status.queue-position", _positions(0, -2, -3), ("negative queue_position: -3",)),
    ("status.http-codes", _statuses(StatusSeen(Q, 1, "poll", 0, 200), StatusSeen(P, 2, "poll", None, 200),
                                    StatusSeen(C, 3, "stream", None, 200), StatusSeen(C, 4, "poll", None, 202)),
     ("status IN_QUEUE answered HTTP 200, expected 202", "status IN_PROGRESS answered HTTP 200, expected 202",
      "status COMPLETED answered HTTP 202, expected 200")),
    ("result.available", _obs(result_status=500), ("result answered HTTP 500",)),
    ("result.available", _obs(output=[1]), ("result is not a JSON object: list",)),
    ("run.completed-without-error",
     _obs(error=ErrorInfo("model", "Runner disconnected", status=500, error_type="runner_disconnected")),
     ("vendor failure: the run COMPLETED with error_type='runner_disconnected': Runner disconnected",)),
    ("run.completed-without-error", _obs(error=ErrorInfo("validation", "rejected", status=422,
                                                         fields=["prompt", "seed"])),
     ("a valid input was rejected with 422: prompt, seed",)),
    ("run.completed-without-error", _obs(error=ErrorInfo("validation", "Unprocessable", status=422)),
     ("a valid input was rejected with 422: Unprocessable",)),
    ("run.completed-without-error", _obs(error=ErrorInfo("timeout", "no answer in 30 s")),
     ("timeout error: no answer in 30 s",)),
    ("response.request-id", _ids_missing, ("no x-fal-request-id on result, submit answers",)),
]


@pytest.mark.parametrize(("check", "change", "expected"), FLUX_MESSAGES,
                         ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(FLUX_MESSAGES)])
def test_a_failing_check_says_what_is_wrong(check: str, change: Callable[[Observation], None],
                                            expected: tuple[str, ...]) -> None:
    assert messages(flux(), check) == ()
    obs = flux()
    change(obs)
    (result,) = run_checks(obs, FLUX, only=[check])
    assert (result.outcome, result.messages) == ("failed", expected)


@pytest.mark.parametrize(("image", "expected"), [
    ({"content_type": "image/jpeg"}, ("image_format omitted: default 'png' not applied to image 0",)),
    ({"width": 512}, ("image_size omitted: default 'square_hd' not applied to image 0",)),
    ({"height": 512, "content_type": "image/webp"}, ("image_size omitted: default 'square_hd' not applied to image 0",
                                                     "image_format omitted: default 'png' not applied to image 0")),
])
def test_an_omitted_field_whose_default_is_not_applied_is_named(image: dict[str, Any],
                                                                 expected: tuple[str, ...]) -> None:
    assert messages(sd_loras(), "output.defaults-applied", SD) == ()
    assert messages(sd_loras(**image), "output.defaults-applied", SD) == expected


def test_an_omitted_count_whose_default_is_not_applied_is_named() -> None:
    obs = sd_loras()
    obs.output["images"].append(dict(obs.output["images"][0]))
    assert messages(obs, "output.defaults-applied", SD) == ("num_images omitted: default 1 not applied (2 images)",)
    # a count that was sent is output.image-count's to judge
    obs.input["num_images"] = 1
    assert messages(obs, "output.defaults-applied", SD) == ()
    assert messages(obs, "output.image-count", SD) == ("2 image(s) returned, 1 asked for",)


def test_a_truncated_image_says_what_the_decoder_said() -> None:
    obs = flux()
    _bytes(1, picture(64, 48)[:200])(obs)
    (message,) = messages(obs, "output.image-truthful")
    assert message.startswith("image 1 does not decode: ") and "BytesIO" not in message


def test_a_content_type_other_than_asked_is_named() -> None:
    obs = sd_loras(content_type="image/jpeg")
    obs.input["image_format"] = "png"
    assert messages(obs, "output.content-type", SD) == ("image 0 has content_type 'image/jpeg', 'image/png' asked for",)
    obs.input["image_format"] = "jpeg"
    assert messages(obs, "output.content-type", SD) == ()


INVALID = Expectation(status=422, invalid_loc=("num_images",), rule="maximum")


def rejected(fields: list[str], billable: str | None = "0", error: ErrorInfo | None = None) -> Observation:
    headers = {} if billable is None else {"x-fal-billable-units": billable}
    return Observation(endpoint="fal-ai/flux-pro", target="test", input={"prompt": "x", "num_images": 9},
                       exchanges=[Exchange("submit", "POST", "x", 1, 1, 3, 422, headers=headers)],
                       error=error or ErrorInfo("validation", "rejected", status=422, fields=fields))


@pytest.mark.parametrize("fields", [["num_images"], ["num_images.0"], ["body.num_images", "num_images"]])
def test_a_422_naming_the_broken_field_or_a_place_inside_it_passes(fields: list[str]) -> None:
    assert messages(rejected(fields), "validation.rejected", expect=INVALID) == ()


@pytest.mark.parametrize("fields", [["prompt"], ["body"], ["num_images_x"], ["num"]])
def test_a_422_naming_another_field_says_which_it_named(fields: list[str]) -> None:
    assert messages(rejected(fields), "validation.rejected", expect=INVALID) == (
        f"422 names {fields}, not the broken field num_images",)


def test_a_422_inside_a_list_item_is_named_by_its_whole_place() -> None:
    expect = Expectation(status=422, invalid_loc=("loras", 0, "scale"))
    assert messages(rejected(["loras.0.scale"]), "validation.rejected", expect=expect) == ()
    assert messages(rejected(["loras"]), "validation.rejected", expect=expect) == ()  # the list holding it
    assert messages(rejected(["loras.1.scale"]), "validation.rejected", expect=expect) == (
        "422 names ['loras.1.scale'], not the broken field loras.0.scale",)


def test_an_invalid_input_that_was_not_rejected_says_what_happened_instead() -> None:
    accepted = rejected([])
    accepted.error = None
    assert messages(accepted, "validation.rejected", expect=INVALID) == (
        "expected 422 for an invalid input, but it was accepted",)
    failed = rejected([], error=ErrorInfo("vendor", "HTTP 500", status=500))
    assert messages(failed, "validation.rejected", expect=INVALID) == (
        "expected 422 for an invalid input, but vendor error: HTTP 500",)


def test_a_charged_422_says_what_it_was_charged() -> None:
    assert messages(rejected(["num_images"]), "validation.billable-units", expect=INVALID) == ()
    assert messages(rejected(["num_images"], billable="1"), "validation.billable-units", expect=INVALID) == (
        "422 on submit has x-fal-billable-units='1'",)
    assert messages(rejected(["num_images"], billable=None), "validation.billable-units", expect=INVALID) == (
        "422 on submit has x-fal-billable-units=None",)


def test_a_check_with_nothing_to_judge_says_why() -> None:
    obs = flux()
    obs.submit_response, obs.statuses, obs.exchanges, obs.downloads = None, [], [], []
    del obs.input["seed"]
    reasons = {r.check: r.messages for r in run_checks(obs, FLUX) if r.outcome == "skipped"}
    assert {k: v for k, v in reasons.items() if not k.startswith(("output.media", "output.text", "output.file-d",
                                                                  "stream."))} == {
        "submit.response-shape": ("not applicable: nothing was submitted to the queue",),
        "submit.urls-use-app-root": ("not applicable: nothing was submitted to the queue",),
        "status.sequence": ("not applicable: no status was observed",),
        "status.queue-position": ("not applicable: never seen in the queue",),
        "status.http-codes": ("not applicable: no status was polled",),
        "response.request-id": ("not applicable: no successful queue answer",),
        "validation.rejected": ("not applicable: the input was valid",),
        "validation.billable-units": ("not applicable: no 422",),
        "output.seed-echoed": ("not applicable: no seed was given",),
        "output.content-type": ("not applicable: the input does not decide the format",),
        "output.defaults-applied": ("not applicable: no defaulted field decides the output",),
        "output.file-size": ("not applicable: no downloaded image declares file_size",),
        "output.image-truthful": ("not applicable: no image was downloaded",),
    }


def test_a_contract_without_images_or_an_output_without_them_says_so() -> None:
    obs = flux()
    del obs.output["images"]
    (count,) = run_checks(obs, FLUX, only=["output.image-count"])
    assert count.messages == ("not applicable: output has no images",)
    router = get_contract("openrouter/router")
    (count,) = run_checks(copy.deepcopy(obs), router, only=["output.image-count"])
    assert count.messages == ("not applicable: the contract declares no images",)


# -- a small contract of our own: a count without a default, a size or format only when asked, gif ------------

PICTURES = parse_contract({
    "format_version": 1, "endpoint": "acme/pictures",
    "input": {"required": ["prompt"], "fields": {
        "prompt": {"type": "string"}, "n": {"type": "integer"}, "size": {"type": "string", "enum": ["tiny"]},
        "fmt": {"type": "string", "enum": ["gif", "png"], "default": "gif"}, "inline": {"type": "boolean"}}},
    "output": {"required": ["images"], "fields": {
        "images": {"type": "list<Image>"}, "flags": {"type": "list<boolean>"}}},
    "types": {"Image": {"fields": {"url": {"type": "string"}, "content_type": {"type": "string"},
                                   "width": {"type": "integer"}, "height": {"type": "integer"},
                                   "file_size": {"type": "integer"}}}},
    "semantics": {"images": {"field": "images", "count": "n", "size": "size", "format": "fmt",
                             "presets": {"tiny": {"width": 8, "height": 8}}},
                  "nsfw_flags": "flags", "sync_mode": "inline"},
})


def pictures(*images: dict[str, Any], downloads: list[Download] | None = None, **sent: Any) -> Observation:
    return Observation(endpoint="acme/pictures", target="test", input={"prompt": "p", **sent}, request_id="r3",
                       result_status=200, output={"images": list(images)}, downloads=downloads or [])


GIF = {"url": "http://x/a.gif", "content_type": "image/gif", "width": 8, "height": 8}


def test_a_format_outside_the_known_media_types_is_asked_for_as_image_slash_its_name() -> None:
    assert messages(pictures(GIF, fmt="gif"), "output.content-type", PICTURES) == ()
    assert messages(pictures({**GIF, "content_type": "image/png"}, fmt="gif"), "output.content-type", PICTURES) == (
        "image 0 has content_type 'image/png', 'image/gif' asked for",)
    # the default format, when it is omitted
    assert messages(pictures(GIF), "output.defaults-applied", PICTURES) == ()
    assert messages(pictures({**GIF, "content_type": "image/png"}), "output.defaults-applied", PICTURES) == (
        "fmt omitted: default 'gif' not applied to image 0",)


def test_checks_the_input_cannot_decide_say_so() -> None:
    obs = pictures(GIF, GIF)
    reasons = {r.check: r.messages for r in run_checks(obs, PICTURES, only=[
        "output.image-count", "output.image-size", "output.nsfw-flags", "output.echo", "output.seed-echoed"])}
    assert reasons == {
        "output.image-count": ("not applicable: the input does not decide the count",),
        "output.image-size": ("not applicable: the input does not decide the size",),
        "output.nsfw-flags": ("not applicable: no NSFW flags in this output",),
        "output.echo": ("not applicable: nothing to echo",),
        "output.seed-echoed": ("not applicable: no seed was given",),
    }
    (sync,) = run_checks(obs, replace(PICTURES, semantics=replace(PICTURES.semantics, sync_mode=None)),
                         only=["output.sync-mode"])
    assert sync.messages == ("not applicable: the contract declares no sync_mode field",)


def test_a_size_preset_of_the_contracts_own_is_the_size_asked_for() -> None:
    assert messages(pictures(GIF, GIF, n=2, size="tiny"), "output.image-count", PICTURES) == ()
    assert messages(pictures(GIF, GIF, n=2, size="tiny"), "output.image-size", PICTURES) == ()
    assert messages(pictures(GIF, {**GIF, "width": 9}, n=2, size="tiny"), "output.image-size", PICTURES) == (
        "image 1 is 9x8, 8x8 asked for",)


def test_file_sizes_are_judged_for_every_image_that_declares_one() -> None:
    data = picture(8, 8, "GIF")
    first, second = {**GIF, "url": "http://x/0.gif"}, {**GIF, "url": "http://x/1.gif", "file_size": 3}
    downloads = [Download(i["url"], 1, 2, 200, len(data), "image/gif", data) for i in (first, second)]
    assert messages(pictures(first, second, downloads=downloads), "output.file-size", PICTURES) == (
        f"image 1 declares file_size 3, {len(data)} bytes were downloaded",)


def test_every_downloaded_image_is_decoded_past_one_that_was_not_or_did_not_decode() -> None:
    gif, png = picture(8, 8, "GIF"), picture(8, 8, "PNG")
    images = [{**GIF, "url": f"http://x/{i}.gif"} for i in range(4)]
    downloads = [Download("http://x/0.gif", 1, 2, 404, 9, "text/html", b"<h1>404</h1>"),  # file-size's to report
                 Download("http://x/1.gif", 1, 2, 200, 0, "image/gif", None),  # not kept
                 Download("http://x/2.gif", 1, 2, 200, 5, "image/gif", b"junk!"),
                 Download("http://x/3.gif", 1, 2, 200, len(png), "image/gif", png)]
    assert messages(pictures(*images, downloads=downloads), "output.image-truthful", PICTURES) == (
        "image 2 does not decode as an image", "image 3 declares image/gif but its bytes are png")
    downloads[2] = Download("http://x/2.gif", 1, 2, 200, len(gif), "image/gif", gif)
    images[2]["height"] = 9
    assert messages(pictures(*images, downloads=downloads), "output.image-truthful", PICTURES) == (
        "image 2 declares 8x9 but decodes as 8x8", "image 3 declares image/gif but its bytes are png")


def _inline(data: bytes, media: str) -> str:
    return f"data:{media};base64,{pybase64.b64encode(data).decode()}"


def test_inline_images_of_one_type_pair_with_their_inline_downloads_in_order() -> None:
    gif, png = picture(8, 8, "GIF"), picture(8, 8, "PNG")
    images = [{**GIF, "url": _inline(gif, "image/gif")}, {**GIF, "url": "http://x/b.gif"},
              {**GIF, "url": _inline(png, "image/gif")}]
    downloads = [Download("data:image/gif;base64,...", 1, 2, None, len(gif), "image/gif", gif),
                 Download("http://x/b.gif", 1, 2, 200, len(gif), "image/gif", gif),
                 Download("data:image/gif;base64,...", 1, 2, None, len(png), "image/gif", png)]
    obs = pictures(*images, downloads=downloads)
    assert messages(obs, "output.image-truthful", PICTURES) == ("image 2 declares image/gif but its bytes are png",)
    # an inline image whose download was not recorded is not judged
    obs.downloads = downloads[:2]
    assert messages(obs, "output.image-truthful", PICTURES) == ()


def test_sync_mode_names_each_image_not_inline_or_inline_of_another_type() -> None:
    gif, png = picture(8, 8, "GIF"), picture(8, 8, "PNG")
    images = [{**GIF, "url": "http://x/a.gif?token=secret"}, {**GIF, "url": None},
              {**GIF, "url": _inline(gif, "image/gif")}, {**GIF, "url": _inline(gif, "image/png")},
              {**GIF, "url": _inline(png, "image/gif"), "content_type": None}, {**GIF, "url": "http://x/c.gif"}]
    downloads = [Download("data:image/gif;base64,...", 1, 2, None, len(gif), "image/gif", gif),
                 Download("data:image/png;base64,...", 1, 2, None, len(gif), "image/png", gif),
                 Download("data:image/gif;base64,...", 1, 2, None, len(png), "image/gif", png)]
    assert messages(pictures(*images, downloads=downloads, inline=True), "output.sync-mode", PICTURES) == (
        "image 0 is 'http://x/a.gif', not inline: inline is true",
        "image 3 is a data URI of 'image/png', its content_type says 'image/gif'",
        "image 3's inline bytes are image/gif, the data URI says image/png",
        "image 4's inline bytes are image/png, the data URI says image/gif",
        "image 5 is 'http://x/c.gif', not inline: inline is true")
    # asked not to inline: each inline image is named, each URL passes
    assert messages(pictures(*images, downloads=downloads, inline=False), "output.sync-mode", PICTURES) == (
        "image 2 came inline although inline is false", "image 3 came inline although inline is false",
        "image 4 came inline although inline is false")


def test_sync_mode_names_inline_bytes_that_are_no_image_and_judges_those_after() -> None:
    png = picture(8, 8, "PNG")
    images = [{**GIF, "url": _inline(b"junk", "image/gif")}, {**GIF, "url": _inline(png, "image/gif")},
              {**GIF, "url": _inline(png, "image/png"), "content_type": "image/png"}]
    downloads = [Download("data:image/gif;base64,...", 1, 2, None, 4, "image/gif", b"junk"),
                 Download("data:image/gif;base64,...", 1, 2, None, len(png), "image/gif", png)]
    assert messages(pictures(*images, downloads=downloads, inline=True), "output.sync-mode", PICTURES) == (
        "image 0's inline bytes do not decode as an image", "image 1's inline bytes are image/png, the data URI "
        "says image/gif")


# -- the queue protocol, past the first problem ---------------------------------------------------------------


def test_every_url_of_the_submit_answer_is_held_to_the_app_root() -> None:
    obs = flux()
    assert obs.submit_response is not None
    obs.submit_response["response_url"] = "http://127.0.0.1:9/other/requests/r1"
    assert messages(obs, "submit.urls-use-app-root") == (
        "response_url 'http://127.0.0.1:9/other/requests/r1' is not under /fal-ai/flux-pro/requests/",)


def test_a_sequence_that_goes_back_and_never_completes_says_both() -> None:
    obs = flux()
    obs.statuses = [StatusSeen(P, 1, "poll", None, 202), StatusSeen(Q, 2, "poll", 0, 202)]
    assert messages(obs, "status.sequence") == ("status went back: IN_PROGRESS -> IN_QUEUE",
                                                "a result was fetched but COMPLETED was never seen")


def test_a_queue_position_that_grows_and_goes_negative_says_both() -> None:
    obs = flux()
    _positions(1, 3, -1)(obs)
    assert messages(obs, "status.queue-position") == ("queue_position increased: 1 -> 3 -> -1",
                                                      "negative queue_position: -1")


def test_only_polled_answers_are_held_to_their_http_codes() -> None:
    obs = flux()
    obs.statuses = [StatusSeen(Q, 1, "stream", 0, 200), StatusSeen(P, 2, "stream", None, 200),
                    StatusSeen(C, 3, "poll", None, 200)]
    assert messages(obs, "status.http-codes") == ()
    obs.statuses = obs.statuses[:2]
    assert messages(obs, "status.http-codes") == ("not applicable: no status was polled",)


def test_a_result_is_judged_only_for_a_valid_input_whose_model_did_not_fail() -> None:
    obs = flux()
    assert messages(obs, "result.available", expect=Expectation(status=422)) == (
        "not applicable: no result was fetched for a valid input",)
    assert messages(obs, "run.completed-without-error", expect=Expectation(status=422)) == (
        "not applicable: the input was meant to be rejected",)
    obs.error = ErrorInfo("model", "Runner disconnected", status=500)
    obs.output = {"detail": "Runner disconnected"}
    assert messages(obs, "result.available") == (
        "not applicable: the model failed; run.completed-without-error reports it",)
    obs.error = ErrorInfo("vendor", "HTTP 500", status=500)
    obs.result_status, obs.output = 500, None
    assert messages(obs, "result.available") == ("result answered HTTP 500",)


@pytest.mark.parametrize(("phases", "missing"), [
    (("status",), "status"), (("run",), "run"), (("submit", "result"), "result, submit")])
def test_each_queue_answer_without_a_request_id_is_named_by_phase(phases: tuple[str, ...], missing: str) -> None:
    obs = flux()
    obs.exchanges = [Exchange(p, "GET", "x", 1, 1, 3, 200, request_id=None) for p in phases]
    assert messages(obs, "response.request-id") == (f"no x-fal-request-id on {missing} answers",)


def test_answers_of_400_and_above_and_file_downloads_need_no_request_id() -> None:
    obs = flux()
    obs.exchanges = [Exchange("submit", "POST", "x", 1, 1, 3, 200, request_id="r1"),
                     Exchange("status", "GET", "x", 1, 4, 6, 400, request_id=None),
                     Exchange("result", "GET", "x", 1, 4, 6, 404, request_id=None),
                     Exchange("download", "GET", "x", 1, 4, 6, 200, request_id=None)]
    assert messages(obs, "response.request-id") == ()
    obs.exchanges[1].status = 399
    assert messages(obs, "response.request-id") == ("no x-fal-request-id on status answers",)


# -- streams ------------------------------------------------------------------------------------------------

ROUTER = get_contract("openrouter/router")
PROGRESS = parse_contract({
    "format_version": 1, "endpoint": "acme/progress",
    "input": {"required": ["prompt"], "fields": {"prompt": {"type": "string"}}},
    "output": {"required": ["text"], "fields": {"text": {"type": "string"}}},
    "streaming": {"events": "progress"},
})


def stream(contract: Any, events: list[Any], **fields: Any) -> Observation:
    from harness.client import StreamEvent

    return Observation(endpoint=contract.endpoint, target="test", mode="stream", request_id="r",
                       input={"prompt": "p", "model": "m"}, output=events[-1] if events else None, result_status=200,
                       events=[StreamEvent(i, 10, e, None) if not isinstance(e, bytes) else
                               StreamEvent(i, len(e), None, "not JSON") for i, e in enumerate(events)], **fields)


def stream_messages(contract: Any, events: list[Any], check: str = "stream.progression") -> tuple[str, ...]:
    return messages(stream(contract, events), check, contract, Expectation(status=200))


def test_each_event_that_is_not_a_json_object_is_named() -> None:
    events = [b"oops", ["a"], "b", {"output": "x", "partial": False}]
    assert stream_messages(ROUTER, events, "stream.events-json") == (
        "event 0 is not JSON (4 bytes)", "event 1 is a JSON list, not an object",
        "event 2 is a JSON str, not an object")
    assert stream_messages(ROUTER, [{"output": "x", "partial": True}, ["x"]], "stream.final-output") == (
        "the last event is not a JSON object",)
    assert stream_messages(ROUTER, [{"output": 5, "partial": False}], "stream.final-output") == (
        "last event: $.output: expected string, got integer 5 [type]",)


@pytest.mark.parametrize(("events", "expected"), [
    # the flag is true until the last event, which says false (or nothing)
    ([{"output": "A", "partial": True}, {"output": "A b", "partial": True}],
     ("the last event has partial=True, not false",)),
    ([{"output": "A", "partial": True}, {"output": "A b"}], ()),
    ([{"output": "A", "partial": False}, {"output": "A", "partial": None}, {"output": "A b", "partial": False}],
     ("event 0 has partial=False before the last event", "event 1 has partial=None before the last event")),
    # each text continues the one before
    ([{"output": "A b", "partial": True}, {"output": "A", "partial": True}, {"output": "A c", "partial": False}],
     ("event 1's output does not continue event 0's",)),
    ([{"output": "A", "partial": True}, {"partial": True}, {"output": "A b", "partial": False}],
     ("event 1's output does not continue event 0's", "event 2's output does not continue event 1's")),
    ([{"output": "A", "partial": False}], ()),
])
def test_a_partial_stream_names_each_event_out_of_order(events: list[Any], expected: tuple[str, ...]) -> None:
    assert stream_messages(ROUTER, events) == expected


@pytest.mark.parametrize(("events", "expected"), [
    ([{"progress": 0.0}, {"progress": 0.5}, {"progress": 1}, {"text": "done"}], ()),
    ([{"progress": 0.5}, {"progress": 0.5}, {"text": "done"}], ()),  # standing still is not going back
    ([{"text": "done"}], ("no progress event came before the output",)),
    ([{"message": "warming up"}, {"text": "done", "progress": 1.0}], ("no progress event came before the output",)),
    ([{"progress": -0.1}, {"progress": "half"}, {"progress": 1.5}, {"text": "done"}],
     ("progress event 0 has progress -0.1, outside 0..1", "progress event 1 has progress 'half', outside 0..1",
      "progress event 2 has progress 1.5, outside 0..1")),
    ([{"progress": 0.6}, {"progress": "x"}, {"progress": 0.7}, {"text": "done"}],
     ("progress event 1 has progress 'x', outside 0..1",)),
    ([{"progress": 0.6}, {"progress": 0.4}, {"progress": 0.9}, {"text": "done"}],
     ("progress went back: [0.6, 0.4, 0.9]",)),
])
def test_a_progress_stream_moves_forward_within_0_and_1(events: list[Any], expected: tuple[str, ...]) -> None:
    assert stream_messages(PROGRESS, events) == expected


def test_stream_checks_with_nothing_to_judge_say_why() -> None:
    reasons = {r.check: r.messages for r in run_checks(flux(), FLUX) if r.check.startswith("stream.")}
    assert set(reasons.values()) == {("not applicable: not a stream",)}
    rejected_stream = stream(ROUTER, [{"output": "A", "partial": False}])
    assert messages(rejected_stream, "stream.events-json", ROUTER, Expectation(status=422)) == (
        "not applicable: the input was meant to be rejected",)
    assert stream_messages(ROUTER, [], "stream.final-output") == ("not applicable: the stream sent no event",)
    assert stream_messages(FLUX, [{"images": []}]) == ("not applicable: the contract declares no streaming",)


# -- past the first image, and URLs as the client records them ------------------------------------------------

JPG = replace(PICTURES, input=replace(PICTURES.input, fields=tuple(
    replace(f, enum=("jpg", "png"), default="jpg") if f.name == "fmt" else f for f in PICTURES.input.fields)))
JPEG_IMAGE = {**GIF, "url": "http://x/a.jpg", "content_type": "image/jpeg"}


def test_jpg_is_asked_for_as_image_jpeg() -> None:
    assert messages(pictures(JPEG_IMAGE, fmt="jpg"), "output.content-type", JPG) == ()
    assert messages(pictures(JPEG_IMAGE), "output.defaults-applied", JPG) == ()
    assert messages(pictures({**JPEG_IMAGE, "content_type": "image/jpg"}, fmt="jpg"), "output.content-type", JPG) == (
        "image 0 has content_type 'image/jpg', 'image/jpeg' asked for",)


def test_a_truncated_image_does_not_stop_the_images_after_it() -> None:
    cut, png = picture(64, 48)[:200], picture(8, 8, "PNG")
    images = [{**JPEG_IMAGE, "url": "http://x/0.jpg", "width": 64, "height": 48}, {**GIF, "url": "http://x/1.gif"}]
    downloads = [Download("http://x/0.jpg", 1, 2, 200, 200, "image/jpeg", cut),
                 Download("http://x/1.gif", 1, 2, 200, len(png), "image/gif", png)]
    found = messages(pictures(*images, downloads=downloads), "output.image-truthful", PICTURES)
    assert len(found) == 2 and found[0].startswith("image 0 does not decode: ")
    assert found[1] == "image 1 declares image/gif but its bytes are png"


def test_a_recorded_url_with_its_query_redacted_is_the_download_of_the_signed_url() -> None:
    data = picture(8, 8, "GIF")
    image = {**GIF, "url": "http://x/a.gif?token=secret", "file_size": 1}
    downloads = [Download("http://x/a.gif?token=%3Credacted%3E", 1, 2, 200, len(data), "image/gif", data)]
    assert messages(pictures(image, downloads=downloads), "output.file-size", PICTURES) == (
        f"image 0 declares file_size 1, {len(data)} bytes were downloaded",)


def test_an_inline_image_written_without_base64_is_read_up_to_its_first_comma() -> None:
    # "data:image/gif,..." keeps its payload as text; a comma inside it belongs to the payload
    image = {**GIF, "url": "data:image/gif,GIF89a,not,an,image"}
    downloads = [Download("data:image/gif,...", 1, 2, None, 22, "image/gif", b"GIF89a,not,an,image")]
    assert messages(pictures(image, downloads=downloads, inline=True), "output.sync-mode", PICTURES) == (
        "image 0's inline bytes do not decode as an image",)
    assert messages(pictures(image, inline=True), "output.sync-mode", PICTURES) == ()


def test_the_last_partial_flag_is_the_last_events() -> None:
    events = [{"output": "A", "partial": True}, {"output": "A b", "partial": None},
              {"output": "A b c", "partial": True}]
    assert stream_messages(ROUTER, events) == ("the last event has partial=True, not false",
                                               "event 1 has partial=None before the last event")
