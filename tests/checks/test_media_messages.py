"""What the media checks say: each broken promise about a video, audio, 3D or other file named with
its field, index and the two values that disagree, at the edge of each tolerance; the content types
each format may be declared as; and why a check had nothing to judge."""

from __future__ import annotations

import functools
import hashlib
from typing import Any

import pybase64
import pytest

from harness.checks import run_checks
from harness.client import Download, Observation
from harness.contracts import Contract, parse_contract
from harness.emulator._media import MediaFile, MediaPlan, make_media

DIGEST = hashlib.blake2b(b"media messages", digest_size=64).digest()
FILE_FIELDS = ("url", "content_type", "file_name", "file_size", "width", "height", "duration", "fps", "num_frames",
               "sample_rate")
FILE = {"fields": {name: {"type": {"duration": "float", "fps": "float"}.get(
    name, "integer" if name in ("file_size", "width", "height", "num_frames", "sample_rate") else "string")}
    for name in FILE_FIELDS}, "required": ["url"]}


def contract(semantics: dict[str, Any], required: tuple[str, ...] = ()) -> Contract:
    return parse_contract({
        "format_version": 1, "endpoint": "acme/media",
        "input": {"required": ["prompt"], "fields": {
            "prompt": {"type": "string"}, "seconds": {"type": "string"}, "fps": {"type": "float"},
            "resolution": {"type": "string"}, "aspect": {"type": "string"}, "width": {"type": "integer"},
            "height": {"type": "integer"}, "frames": {"type": "integer"}, "audio_format": {"type": "string"},
            "rate": {"type": "integer"}, "clips": {"type": "integer"}, "sync": {"type": "boolean"}}},
        "output": {"required": list(required), "fields": {
            "video": {"type": "File"}, "clips": {"type": "list<File>"}, "audio": {"type": "File"},
            "mesh": {"type": "File"}, "weights": {"type": "File"}, "images": {"type": "list<File>"},
            "meta": {"type": "Meta"}, "text": {"type": "string"}, "caption": {"type": "string"}}},
        "types": {"File": FILE, "Meta": {"fields": {"preview": {"type": "File"}, "extras": {"type": "list<File>"}}}},
        "semantics": semantics,
    })


ALL = contract({
    "media": {"video": {"kind": "video", "duration": "seconds", "fps": "fps", "resolution": "resolution",
                        "aspect_ratio": "aspect", "width": "width", "height": "height", "frames": "frames"},
              "clips": {"kind": "video", "count": "clips"},
              "audio": {"kind": "audio", "format": "audio_format", "sample_rate": "rate"},
              "mesh": {"kind": "mesh"}, "weights": {"kind": "file"}},
    "images": {"field": "images", "aspect_ratio": "aspect"},
    "text": ["text", "caption"], "sync_mode": "sync"}, required=("text",))


@functools.cache
def made(kind: str, fmt: str, width: int = 64, height: int = 48, frames: int = 6, fps: float = 12.0,
         duration: float = 0.5, sample_rate: int = 16000) -> MediaFile:
    return make_media(MediaPlan(kind, fmt, DIGEST, width, height, frames, fps, duration, sample_rate))


def file_object(name: str, f: MediaFile, **declared: Any) -> tuple[dict[str, Any], Download]:
    url = f"http://127.0.0.1:9/files/{name}.{f.extension}"
    obj = {"url": url, "content_type": f.content_type, "file_size": len(f.data),
           **{k: v for k, v in f.properties.items() if k in FILE_FIELDS}, **declared}
    return obj, Download(url, 1, 2, 200, len(f.data), f.content_type, f.data)


def observation(sent: dict[str, Any] | None = None, **outputs: Any) -> Observation:
    """An observation whose output holds ``outputs`` (file objects, lists of them, or other values) and
    the downloads of every file object."""
    output: dict[str, Any] = {"text": "An answer."}
    downloads: list[Download] = []
    for name, value in outputs.items():
        items = value if isinstance(value, list) else [value]
        objects = []
        for item in items:
            if isinstance(item, tuple):
                objects.append(item[0])
                downloads.append(item[1])
            else:
                objects.append(item)
        output[name] = objects if isinstance(value, list) else objects[0]
    return Observation(endpoint="acme/media", target="test", input={"prompt": "p", **(sent or {})}, output=output,
                       result_status=200, downloads=downloads)


def messages(obs: Observation, check: str, c: Contract = ALL) -> tuple[str, ...]:
    (result,) = run_checks(obs, c, only=[check])
    return result.messages


def everything() -> dict[str, Any]:
    return {"video": file_object("video", made("video", "mp4")), "clips": [file_object("clip", made("video", "webm"))],
            "audio": file_object("audio", made("audio", "wav")), "mesh": file_object("mesh", made("mesh", "glb")),
            "weights": file_object("weights", made("file", "safetensors"))}


def test_true_files_pass_every_media_check() -> None:
    obs = observation(**everything())
    assert {r.check: r.messages for r in run_checks(obs, ALL) if r.check.startswith(("output.media", "output.text",
                                                                                      "output.file-d"))} == {
        "output.media-count": (), "output.media-truthful": (), "output.text-nonempty": (),
        "output.file-downloads": (),
        "output.media-as-asked": ("not applicable: the input decides none of the decoded properties",),
        "output.media-sync-mode": ("not applicable: sync_mode was not asked for",)}


# -- output.media-count ---------------------------------------------------------------------------------------


def test_each_missing_file_or_url_and_a_count_other_than_asked_is_named() -> None:
    files = everything()
    del files["mesh"]
    files["clips"] = [files["clips"][0], {"url": ""}, "not an object"]
    assert messages(observation({"clips": 2}, **files), "output.media-count") == (
        "clips: 3 video file(s) returned, 2 asked for", "clips[1] has no URL to download",
        "clips[2] has no URL to download", "mesh: no mesh in the output")
    files["clips"] = files["clips"][:1]
    assert messages(observation({"clips": 1}, **files), "output.media-count") == ("mesh: no mesh in the output",)
    # without a count asked, one or more is right
    files["mesh"] = file_object("mesh", made("mesh", "glb"))
    files["clips"] = [files["clips"][0], files["clips"][0]]
    assert messages(observation(**files), "output.media-count") == ()


def test_media_checks_with_no_media_declared_say_so() -> None:
    bare = contract({"text": ["text"]})
    reasons = {r.check: r.messages for r in run_checks(observation(), bare) if r.check.startswith("output.media")}
    assert reasons == {
        "output.media-count": ("not applicable: the contract declares no video, audio, 3D or other file outputs",),
        "output.media-truthful": ("not applicable: the contract declares no video, audio, 3D or other file outputs",),
        "output.media-as-asked": ("not applicable: the contract declares no video, audio, 3D or other file outputs",),
        "output.media-sync-mode": ("not applicable: sync_mode was not asked for",)}


# -- output.media-truthful ------------------------------------------------------------------------------------

ALIASES = [("audio", "wav", "audio/x-wav"), ("audio", "wav", "audio/wave"), ("audio", "wav", "audio/vnd.wave"),
           ("audio", "wav", "audio/wav"), ("audio", "mp3", "audio/mp3"), ("audio", "mp3", "audio/mpeg"),
           ("audio", "m4a", "audio/m4a"), ("audio", "m4a", "audio/x-m4a"), ("audio", "m4a", "audio/mp4"),
           ("mesh", "ply", "application/ply"), ("mesh", "ply", "model/ply"), ("mesh", "stl", "application/sla"),
           ("mesh", "stl", "model/stl"), ("video", "mp4", "Video/MP4; codecs=avc1")]


@pytest.mark.parametrize(("kind", "fmt", "declared"), ALIASES, ids=[a[2] for a in ALIASES])
def test_a_file_may_be_declared_as_any_name_of_its_type(kind: str, fmt: str, declared: str) -> None:
    field = {"audio": "audio", "mesh": "mesh", "video": "video"}[kind]
    obs = observation(**{field: file_object(field, made(kind, fmt), content_type=declared)})
    assert messages(obs, "output.media-truthful") == ()


def test_an_image_may_be_declared_image_jpg() -> None:
    c = contract({"images": {"field": "images"}, "media": {"clips": {"kind": "image"}}})
    obs = observation(clips=[file_object("a", made("image", "jpeg"), content_type="image/jpg")])
    assert messages(obs, "output.media-truthful", c) == ()


@pytest.mark.parametrize(("field", "kind", "fmt", "declared", "real"), [
    ("audio", "audio", "wav", "audio/mpeg", "audio/wav"), ("audio", "audio", "mp3", "audio/wav", "audio/mpeg"),
    ("audio", "audio", "m4a", "audio/mpeg", "audio/mp4"), ("mesh", "mesh", "ply", "model/stl", "model/ply"),
    ("mesh", "mesh", "stl", "model/ply", "model/stl"), ("video", "video", "webm", "video/mp4", "video/webm"),
])
def test_a_file_declared_as_another_type_is_named_with_what_its_bytes_are(field: str, kind: str, fmt: str,
                                                                         declared: str, real: str) -> None:
    obs = observation(**{field: file_object(field, made(kind, fmt), content_type=declared)})
    assert messages(obs, "output.media-truthful") == (f"{field}[0] declares {declared} but its bytes are {fmt} "
                                                      f"({real})",)


def test_a_generic_file_may_be_declared_as_anything() -> None:
    obs = observation(weights=file_object("weights", made("file", "zip"), content_type="application/x-lora"))
    assert messages(obs, "output.media-truthful") == ()


@pytest.mark.parametrize(("declared", "expected"), [
    ({"width": 65}, "video[0] declares width 65, the file has 64"),
    ({"height": 47}, "video[0] declares height 47, the file has 48"),
    ({"num_frames": 7}, "video[0] declares num_frames 7, the file has 6"),
    ({"duration": 0.61}, "video[0] declares duration 0.61 s, the file lasts 0.500 s"),  # over 0.1 s off
    ({"duration": 0.39}, "video[0] declares duration 0.39 s, the file lasts 0.500 s"),
    ({"fps": 12.2}, "video[0] declares fps 12.2, the file runs at 12.000"),  # over 1 % off
    ({"fps": 11.8}, "video[0] declares fps 11.8, the file runs at 12.000"),
])
def test_a_declared_property_the_file_contradicts_is_named(declared: dict[str, Any], expected: str) -> None:
    obs = observation(video=file_object("video", made("video", "mp4"), **declared))
    assert messages(obs, "output.media-truthful") == (expected,)


@pytest.mark.parametrize("declared", [{"duration": 0.6}, {"duration": 0.4}, {"fps": 12.1}, {"fps": 11.9},
                                      {"width": "64"}, {"duration": True}, {"fps": None}, {"num_frames": 6.0}])
def test_a_declared_property_within_its_tolerance_or_not_a_number_passes(declared: dict[str, Any]) -> None:
    obs = observation(video=file_object("video", made("video", "mp4"), **declared))
    assert messages(obs, "output.media-truthful") == ()


def test_a_long_file_is_allowed_two_percent_of_its_duration() -> None:
    long = made("audio", "wav", duration=10.0, sample_rate=8000)
    assert messages(observation(audio=file_object("audio", long, duration=10.2)), "output.media-truthful") == ()
    assert messages(observation(audio=file_object("audio", long, duration=10.25)), "output.media-truthful") == (
        "audio[0] declares duration 10.25 s, the file lasts 10.000 s",)
    assert messages(observation(audio=file_object("audio", long, sample_rate=44100)), "output.media-truthful") == (
        "audio[0] declares sample_rate 44100, the file has 8000",)


def test_a_file_not_downloaded_or_not_decoded_is_named_and_the_rest_still_judged() -> None:
    video, download = file_object("video", made("video", "mp4"))
    clip, clip_download = file_object("clip", made("video", "webm"), width=1)
    broken, broken_download = file_object("broken", made("video", "mp4"))
    broken_download.data = b""
    obs = observation(clips=["not an object", {"url": "http://x/missing.mp4"}, (broken, broken_download),
                             (clip, clip_download)], video=(video, download))
    download.status = 404
    assert messages(obs, "output.media-truthful") == (
        "video[0]: download answered HTTP 404", "clips[1]: 'http://x/missing.mp4' was not downloaded",
        "clips[2]: the file is empty", "clips[3] declares width 1, the file has 64")


def test_a_file_object_without_a_content_type_is_decoded_as_it_was_served() -> None:
    # a binary STL read by its served type; the object says nothing of its type
    mesh, download = file_object("mesh", made("mesh", "stl"))
    del mesh["content_type"]
    download.content_type = "model/stl"
    assert messages(observation(mesh=(mesh, download)), "output.media-truthful") == ()


# -- output.media-as-asked ------------------------------------------------------------------------------------

ASKED_VIDEO = made("video", "mp4", width=160, height=120, frames=12, fps=12.0, duration=1.0)


@pytest.mark.parametrize(("sent", "expected"), [
    ({"seconds": "2"}, ("video[0] lasts 1.000 s, 2 s asked for",)),
    ({"seconds": "1.09"}, ()),  # within 0.1 s
    ({"seconds": "1.11"}, ("video[0] lasts 1.000 s, 1.11 s asked for",)),
    ({"frames": 24, "fps": 12}, ("video[0] lasts 1.000 s, 2 s asked for", "video[0] has 12 frames, 24 asked for")),
    ({"frames": 12, "fps": 12}, ()),
    ({"frames": 13}, ("video[0] has 12 frames, 13 asked for",)),
    ({"fps": 24}, ("video[0] runs at 12.000 fps, 24 asked for",)),
    ({"fps": 12.1}, ()),  # within 1 %
    ({"fps": 12.2}, ("video[0] runs at 12.000 fps, 12.2 asked for",)),
    ({"width": 160, "height": 120}, ()),
    ({"width": 160, "height": 90}, ("video[0] is 160x120, 160x90 asked for",)),
    ({"aspect": "4:3"}, ()),
    ({"aspect": "16:9"}, ("video[0] is 160x120, aspect ratio 16:9 asked for",)),
    ({"aspect": "1.3:1"}, ()),  # 1.333 is within 3 % of 1.3
    ({"aspect": "1.2:1"}, ("video[0] is 160x120, aspect ratio 120:100 asked for",)),
    ({"resolution": "130p"}, ()),  # the short side 120 is within 10 %
    ({"resolution": "140p"}, ("video[0] is 160x120, its short side 120 px where 140 px was asked for",)),
    ({"resolution": "1K"}, ("video[0] is 160x120, its long side 160 px where 1024 px was asked for",)),
    ({"resolution": "140p", "width": 160, "height": 120}, ()),  # exact pixels asked: the resolution says nothing
])
def test_a_video_other_than_asked_is_named(sent: dict[str, Any], expected: tuple[str, ...]) -> None:
    obs = observation(sent, video=file_object("video", ASKED_VIDEO))
    assert messages(obs, "output.media-as-asked") == expected


@pytest.mark.parametrize(("sent", "expected"), [
    ({"audio_format": "wav"}, ()),
    ({"audio_format": "mp3"}, ("audio[0] is wav, mp3 asked for",)),
    ({"rate": 16000}, ()),
    ({"rate": 44100}, ("audio[0] is sampled at 16000 Hz, 44100 asked for",)),
    ({"audio_format": "wav_22050"}, ("audio[0] is sampled at 16000 Hz, 22050 asked for",)),
])
def test_an_audio_file_other_than_asked_is_named(sent: dict[str, Any], expected: tuple[str, ...]) -> None:
    obs = observation(sent, audio=file_object("audio", made("audio", "wav")))
    assert messages(obs, "output.media-as-asked") == expected


def test_the_image_fields_aspect_is_judged_here_its_size_and_format_by_the_image_checks() -> None:
    image = file_object("image", made("image", "png", width=64, height=48), content_type="image/png")
    obs = observation({"aspect": "4:3"}, images=[image])
    assert messages(obs, "output.media-as-asked") == ()
    obs = observation({"aspect": "1:1"}, images=[image])
    assert messages(obs, "output.media-as-asked") == ("images[0] is 64x48, aspect ratio 1:1 asked for",)


def test_files_not_downloaded_or_not_decoded_are_not_judged_as_asked() -> None:
    video, download = file_object("video", ASKED_VIDEO)
    download.data = b"junk"
    obs = observation({"seconds": "9"}, video=(video, download), clips=[{"url": "http://x/none.mp4"}, "x"])
    assert messages(obs, "output.media-as-asked") == (
        "not applicable: the input decides none of the decoded properties",)


# -- output.file-downloads ------------------------------------------------------------------------------------


def test_every_file_url_in_the_output_is_downloaded_with_its_declared_size() -> None:
    weights, weights_download = file_object("weights", made("file", "safetensors"), file_size=1)
    preview, preview_download = file_object("preview", made("image", "png"))
    extra, extra_download = file_object("extra", made("file", "json"))
    extra_download.status = 500
    long_url = "http://127.0.0.1:9/files/" + "x" * 100 + ".bin"
    obs = observation(weights=(weights, weights_download))
    obs.output["meta"] = {"preview": preview, "extras": [extra, {"url": long_url, "file_name": "x.bin"}],
                          "link": {"url": "http://x/not-a-file"}}
    obs.downloads += [preview_download, extra_download]
    assert messages(obs, "output.file-downloads") == (
        f"$.weights declares file_size 1, {len(made('file', 'safetensors').data)} bytes were downloaded",
        "$.meta.extras[0]: download answered HTTP 500",
        f"$.meta.extras[1]: {long_url[:80]!r} was not downloaded")


def test_the_image_fields_files_are_left_to_output_file_size() -> None:
    image, download = file_object("image", made("image", "png"), file_size=1)
    obs = observation(images=[(image, download)])
    assert messages(obs, "output.file-downloads") == (
        "not applicable: the output holds no file URLs beyond the images",)
    images = contract({"images": {"field": "images"}})
    assert messages(observation(images=[(image, download)]), "output.file-downloads", images) == (
        "not applicable: the output holds no file URLs beyond the images",)
    no_images = contract({"text": ["text"]})
    assert messages(observation(images=[(image, download)]), "output.file-downloads", no_images) == (
        f"$.images[0] declares file_size 1, {len(made('image', 'png').data)} bytes were downloaded",)


# -- output.media-sync-mode -----------------------------------------------------------------------------------


def _inline(f: MediaFile, media: str | None = None) -> dict[str, Any]:
    return {"url": f"data:{media or f.content_type};base64,{pybase64.b64encode(f.data).decode()}",
            "content_type": f.content_type}


def test_with_sync_mode_every_file_comes_inline_as_its_declared_type() -> None:
    wav, mesh = made("audio", "wav"), made("mesh", "glb")
    long_url = "http://127.0.0.1:9/files/" + "v" * 80 + ".mp4"
    obs = observation({"sync": True}, audio=_inline(wav), mesh=_inline(mesh, "model/obj"),
                      clips=[{"url": long_url}, {"url": None}])
    assert messages(obs, "output.media-sync-mode") == (
        f"clips[0]: sync_mode asked, but the file is at {long_url[:60]!r}, not a data URI",
        "clips[1]: sync_mode asked, but the file is at 'None', not a data URI",
        "mesh[0] is a data URI of 'model/obj', its content_type says 'model/gltf-binary'")
    undeclared = {**_inline(mesh, "model/obj"), "content_type": None}
    assert messages(observation({"sync": True}, mesh=undeclared), "output.media-sync-mode") == ()
    assert messages(observation({"sync": False}, mesh=undeclared), "output.media-sync-mode") == (
        "not applicable: sync_mode was not asked for",)


# -- output.text-nonempty -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("output", "expected"), [
    ({"text": "An answer.", "caption": "A caption."}, ()),
    ({"text": "An answer."}, ()),  # an optional text field may be left out
    ({"caption": "A caption."}, ("text is None, not text",)),  # a required one may not
    ({"text": " \n", "caption": 5}, ("text is ' \\n', not text", "caption is 5, not text")),
])
def test_each_text_output_holds_text(output: dict[str, Any], expected: tuple[str, ...]) -> None:
    obs = observation()
    obs.output = output
    assert messages(obs, "output.text-nonempty") == expected


def test_a_contract_without_text_outputs_says_so() -> None:
    assert messages(observation(), "output.text-nonempty", contract({"media": {"mesh": {"kind": "mesh"}}})) == (
        "not applicable: the contract declares no text outputs",)


# -- past the first file, at each tolerance's exact edge, and types as declared or as served ------------------


def test_a_field_without_a_count_may_hold_several_files() -> None:
    c = contract({"media": {"video": {"kind": "video"}}})
    video = file_object("video", made("video", "mp4"))
    assert messages(observation(video=[video, video]), "output.media-count", c) == ()


def test_a_failed_download_does_not_stop_the_files_after_it() -> None:
    first, first_download = file_object("a", made("video", "webm"))
    first_download.status = 503
    second = file_object("b", made("video", "webm"), height=1)
    assert messages(observation(clips=[(first, first_download), second]), "output.media-truthful") == (
        "clips[0]: download answered HTTP 503", "clips[1] declares height 1, the file has 48")


def test_a_file_is_decoded_as_its_object_declares_it_or_else_as_it_was_served() -> None:
    declared, download = file_object("weights", made("file", "bin"), content_type="application/json")
    download.data = b"{not json"
    found = messages(observation(weights=(declared, download)), "output.media-truthful")
    assert len(found) == 1 and found[0].startswith("weights[0]: does not decode as file: JSONDecodeError: ")
    undeclared, download = file_object("weights", made("file", "bin"))
    del undeclared["content_type"]
    download.data, download.content_type = b"{not json", "application/json"
    found = messages(observation(weights=(undeclared, download)), "output.media-truthful")
    assert len(found) == 1 and found[0].startswith("weights[0]: does not decode as file: JSONDecodeError: ")


def test_a_media_image_may_be_declared_image_jpeg() -> None:
    c = contract({"images": {"field": "images"}, "media": {"clips": {"kind": "image"}}})
    obs = observation(clips=[file_object("a", made("image", "jpeg"), content_type="image/jpeg")])
    assert messages(obs, "output.media-truthful", c) == ()


def test_tolerances_include_their_edge() -> None:
    fast = made("video", "mp4", fps=99.0, frames=3)
    # a declared fps 1 % off the file's (99 against 100)
    assert messages(observation(video=file_object("video", fast, fps=100)), "output.media-truthful") == ()
    # a declared duration 2 % off (49 s against 50)
    long = made("audio", "wav", duration=49.0, sample_rate=8000)
    assert messages(observation(audio=file_object("audio", long, duration=50)), "output.media-truthful") == ()
    assert messages(observation({"fps": 100}, video=file_object("video", fast)), "output.media-as-asked") == ()
    # a short side 10 % off (132 px for 120p), an aspect ratio 3 % off (206x8 is 25.75:1, 25:1 asked)
    assert messages(observation({"resolution": "120p"}, video=file_object("video", made(
        "video", "mp4", width=176, height=132, frames=2))), "output.media-as-asked") == ()
    assert messages(observation({"aspect": "25:1"}, video=file_object("video", made(
        "video", "mp4", width=206, height=8, frames=2))), "output.media-as-asked") == ()


def test_each_file_is_judged_as_asked_past_one_not_downloaded_or_broken() -> None:
    broken, broken_download = file_object("broken", made("video", "webm"))
    broken_download.data = b"junk"
    good = file_object("good", made("video", "webm"))
    c = contract({"media": {"clips": {"kind": "video", "fps": "fps"}}})
    obs = observation({"fps": 24}, clips=[{"url": "http://x/none.webm"}, (broken, broken_download), good])
    assert messages(obs, "output.media-as-asked", c) == ("clips[2] runs at 12.000 fps, 24 asked for",)


def test_a_generic_files_format_is_judged_as_its_object_declares_it() -> None:
    c = contract({"media": {"weights": {"kind": "file", "format": "audio_format"}}})
    obj, download = file_object("weights", made("file", "json"))
    download.content_type = "application/octet-stream"
    assert messages(observation({"audio_format": "json"}, weights=(obj, download)), "output.media-as-asked", c) == ()
    assert messages(observation({"audio_format": "zip"}, weights=(obj, download)), "output.media-as-asked", c) == (
        "weights[0] is json, zip asked for",)


def test_the_image_fields_format_is_left_to_output_content_type() -> None:
    c = contract({"images": {"field": "images", "format": "audio_format"}})
    image = file_object("image", made("image", "png"))
    assert messages(observation({"audio_format": "jpeg"}, images=[image]), "output.media-as-asked", c) == (
        "not applicable: the input decides none of the decoded properties",)


def test_an_optional_text_left_out_does_not_stop_the_required_one_being_judged() -> None:
    c = contract({"text": ["caption", "text"]}, required=("text",))
    obs = observation()
    obs.output = {}
    assert messages(obs, "output.text-nonempty", c) == ("text is None, not text",)


def test_files_inside_a_single_image_object_are_the_image_checks() -> None:
    image, download = file_object("image", made("image", "png"))
    image["thumbnail"] = {"url": "http://x/thumb.png", "content_type": "image/png"}
    obs = observation(images=(image, download))
    assert messages(obs, "output.file-downloads") == (
        "not applicable: the output holds no file URLs beyond the images",)


def test_sync_mode_names_a_file_that_is_no_object_and_reads_a_text_data_uri_to_its_first_comma() -> None:
    text = {"url": "data:text/plain,a, b, c", "content_type": "text/plain"}
    assert messages(observation({"sync": True}, weights=text, clips=["not an object"]), "output.media-sync-mode") == (
        "clips[0]: sync_mode asked, but the file is at 'None', not a data URI",)
