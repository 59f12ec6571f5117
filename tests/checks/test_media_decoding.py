"""The decoders behind the media checks, on real files of every format the contracts name (made small,
as the emulator makes them) and on broken ones: what each decoder finds, and what it says when it
cannot read a file."""

from __future__ import annotations

import functools
import hashlib
import io
import zipfile
from typing import Any

import pybase64
import pytest
import trimesh

from harness.checks._media import Decoded, decode, download_for
from harness.client import Download
from harness.emulator._media import MediaFile, MediaPlan, make_media

DIGEST = hashlib.blake2b(b"decoders", digest_size=64).digest()


@functools.cache
def made(kind: str, fmt: str, *, width: int = 64, height: int = 48, frames: int = 6, fps: float = 12.0,
         duration: float = 0.5, sample_rate: int = 16000) -> MediaFile:
    return make_media(MediaPlan(kind, fmt, DIGEST, width, height, frames, fps, duration, sample_rate))


VIDEO = {"width": 64, "height": 48, "duration": 0.5, "fps": 12.0, "frames": 6}
MESH = {"extra": {"vertices": 42, "faces": 80}}

#: (kind, format, what the decoder finds besides the kind and format)
TRUE_FILES: list[tuple[str, str, dict[str, Any]]] = [
    ("video", "mp4", VIDEO), ("video", "webm", VIDEO), ("video", "mov", VIDEO),
    ("audio", "wav", {"duration": 0.5, "sample_rate": 16000, "channels": 1}),
    ("audio", "mp3", {"duration": pytest.approx(0.5, abs=0.1), "sample_rate": 16000, "channels": 1}),
    ("audio", "flac", {"duration": 0.5, "sample_rate": 16000, "channels": 1}),
    ("audio", "ogg", {"duration": 0.5, "sample_rate": 16000, "channels": 2}),
    ("audio", "m4a", {"duration": pytest.approx(0.5, abs=0.1), "sample_rate": 16000, "channels": 1}),
    ("mesh", "glb", MESH), ("mesh", "obj", MESH), ("mesh", "ply", MESH), ("mesh", "stl", MESH),
    ("file", "zip", {"extra": {"members": 2}}), ("file", "safetensors", {"extra": {"tensors": 2}}),
    ("file", "json", {}), ("file", "txt", {}), ("file", "srt", {"format": "txt"}), ("file", "bin", {"format": None}),
    ("image", "png", {"width": 64, "height": 48}), ("image", "jpeg", {"width": 64, "height": 48}),
    ("image", "webp", {"width": 64, "height": 48}),
]


@pytest.mark.parametrize(("kind", "fmt", "found"), TRUE_FILES, ids=[f"{k}-{f}" for k, f, _ in TRUE_FILES])
def test_a_true_file_decodes_as_its_kind_with_its_properties(kind: str, fmt: str, found: dict[str, Any]) -> None:
    f = made(kind, fmt)
    decoded = decode(f.data, kind, f.content_type)
    expected = {"kind": kind, "format": fmt, "width": None, "height": None, "duration": None, "fps": None,
                "frames": None, "sample_rate": None, "channels": None, "problem": None, "extra": {}, **found}
    assert decoded.__dict__ == expected


@pytest.mark.parametrize(("kind", "fmt"), [("mesh", "glb"), ("mesh", "ply"), ("mesh", "obj"), ("mesh", "stl"),
                                           ("file", "zip"), ("file", "safetensors")])
def test_a_file_without_a_content_type_is_known_by_its_bytes(kind: str, fmt: str) -> None:
    decoded = decode(made(kind, fmt).data, kind, "")
    assert (decoded.format, decoded.problem) == (fmt, None)


def test_an_ascii_stl_is_known_by_its_first_word() -> None:
    text = trimesh.creation.icosphere(subdivisions=0).export(file_type="stl_ascii")
    decoded = decode(text.encode() if isinstance(text, str) else text, "mesh")
    assert (decoded.format, decoded.extra) == ("stl", {"vertices": 12, "faces": 20})


@pytest.mark.parametrize(("content_type", "fmt"), [
    ("model/gltf-binary", "glb"), ("model/obj", "obj"), ("model/ply", "ply"), ("application/ply", "ply"),
    ("model/stl", "stl"), ("Application/SLA; charset=binary", "stl")])
def test_a_mesh_with_any_of_its_content_types_is_read_as_its_format(content_type: str, fmt: str) -> None:
    decoded = decode(made("mesh", fmt).data, "mesh", content_type)
    assert (decoded.format, decoded.problem) == (fmt, None)


def test_a_gltf_json_mesh_is_read_as_gltf() -> None:
    # a format the harness reads but does not make; this one holds no mesh
    decoded = decode(b'{"asset": {"version": "2.0"}}', "mesh", "model/gltf+json")
    assert (decoded.format, decoded.problem) == ("gltf", "the gltf file holds no geometry (0 vertices, 0 faces)")


@pytest.mark.parametrize(("content_type", "fmt"), [("application/zip", "zip"), ("application/json", "json"),
                                                   ("text/plain; charset=utf-8", "txt"), ("TEXT/VTT", "txt"),
                                                   ("application/x-subrip", "txt")])
def test_a_generic_file_is_read_as_its_content_type_says(content_type: str, fmt: str) -> None:
    data = {"zip": made("file", "zip").data, "json": b'{"a": 1}', "txt": b"WEBVTT\n\nhello\n"}[fmt]
    assert decode(data, "file", content_type).format == fmt


def _corrupt_zip() -> bytes:
    data = bytearray(made("file", "zip").data)
    at = data.find(b"result.txt") + len("result.txt") + 3  # a byte of the stored member's data
    data[at] ^= 0xFF
    return bytes(data)


#: (kind, bytes, content type, the format read, the problem, or its start where a library's own words follow)
BROKEN: list[tuple[str, bytes, str, str | None, str]] = [
    ("video", b"", "video/mp4", None, "the file is empty"),
    ("video", b"\x00" * 2000, "video/mp4", None, "does not decode as video: InvalidDataError: "),
    ("audio", b"junk" * 100, "audio/mpeg", None,
     "the file is no audio format mutagen reads (MP3, FLAC, Ogg, MP4, WAV)"),
    ("audio", b"RIFF\x00\x00\x00\x00WAVEjunk", "audio/wav", None, "does not decode as audio: Error: "),
    # RIFF, but not a WAVE: left to mutagen, whose own error (class "error") says so
    ("audio", b"RIFF\x10\x00\x00\x00WEBPVP8 ", "audio/wav", None, "does not decode as audio: error: "),
    ("mesh", b"# nothing here\n", "model/obj", "obj", "the obj file holds no geometry (0 vertices, 0 faces)"),
    ("mesh", b"\0" * 80 + bytes(4), "", "stl", "the stl file holds no geometry (0 vertices, 0 faces)"),
    ("mesh", b"glTF and then nothing", "", None, "does not decode as mesh: "),
    ("image", b"junk", "image/png", None, "the bytes are no image format Pillow reads"),
    ("file", b"{nope", "application/json", None, "does not decode as file: JSONDecodeError: "),
    ("file", b"not a zip at all", "application/zip", None,
     "does not decode as file: BadZipFile: File is not a zip file"),
    ("file", b"  \n\t", "text/plain", "txt", "the text file holds only whitespace"),
    ("file", b"\xff\xfe", "text/plain", None, "does not decode as file: UnicodeDecodeError: "),
    ("file", b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage", "application/octet-stream", None,
     "does not decode as file: SafetensorError: "),
]


@pytest.mark.parametrize(("kind", "data", "content_type", "fmt", "problem"), BROKEN,
                         ids=[f"{b[0]}-{i}" for i, b in enumerate(BROKEN)])
def test_a_broken_file_says_why_it_does_not_decode(kind: str, data: bytes, content_type: str, fmt: str | None,
                                                   problem: str) -> None:
    decoded = decode(data, kind, content_type)
    assert (decoded.kind, decoded.format) == (kind, fmt)
    found = decoded.problem
    assert found is not None
    if problem.endswith(": "):  # the library's own words follow, whatever they are
        assert found.startswith(problem) and len(found) > len(problem) and found[len(problem):] != "None", found
    else:
        assert found == problem
    assert " at 0x" not in found  # no object addresses


def test_a_zip_with_a_corrupt_member_names_it() -> None:
    decoded = decode(_corrupt_zip(), "file", "application/zip")
    assert (decoded.kind, decoded.format, decoded.problem) == ("file", "zip", "zip member result.txt is corrupt")


def test_a_format_the_contracts_do_not_name_is_given_by_its_container() -> None:
    from PIL import Image

    buf = io.BytesIO()
    frames = [Image.new("RGB", (16, 16), (i * 40, 0, 0)) for i in range(3)]
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    decoded = decode(buf.getvalue(), "video", "image/gif")
    assert (decoded.format, decoded.width, decoded.frames, decoded.problem) == ("gif", 16, 3, None)


def test_opus_in_ogg_is_an_ogg_file() -> None:
    import av
    import numpy as np

    buf = io.BytesIO()
    with av.open(buf, "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=48000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 9600), dtype=np.int16), format="s16", layout="mono")
        frame.sample_rate = 48000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    decoded = decode(buf.getvalue(), "audio", "audio/ogg")
    # mutagen states no rate for Opus (it always plays at 48 kHz): none is claimed
    assert (decoded.format, decoded.sample_rate, decoded.problem) == ("ogg", None, None)
    assert decoded.duration == pytest.approx(0.2, abs=0.05)


def test_content_type_parameters_do_not_hide_the_type() -> None:
    assert decode(b'{"a": 1}', "file", "application/json; charset=utf-8").format == "json"
    assert decode(b'{"asset": {"version": "2.0"}}', "mesh", "model/gltf+json; charset=utf-8").format == "gltf"


def test_a_long_library_error_is_cut_to_a_line() -> None:
    decoded = decode(b"{" + b'"k": ' * 200, "file", "application/json")
    head = "does not decode as file: JSONDecodeError: "
    assert decoded.problem is not None and decoded.problem.startswith(head) and len(decoded.problem) <= len(head) + 120


def test_audio_alone_is_no_video() -> None:
    f = made("audio", "m4a")
    assert decode(f.data, "video", "video/mp4") == Decoded("video", problem="the file holds no video stream")


def test_a_quicktime_brand_is_a_mov_and_any_other_an_mp4() -> None:
    mov, mp4 = made("video", "mov").data, made("video", "mp4").data
    assert mov[8:12] == b"qt  " and mp4[8:12] != b"qt  "
    assert decode(mov, "video").format == "mov" and decode(mp4, "video").format == "mp4"
    relabelled = mp4[:8] + b"qt  " + mp4[12:]
    assert decode(relabelled, "video").format == "mov"


# -- which download holds a file ------------------------------------------------------------------


def test_a_file_url_is_matched_to_its_download_without_the_query() -> None:
    downloads = [Download("http://x/a.png", 1, 2, 200, 3, "image/png", b"abc"),
                 Download("http://x/b.png", 1, 2, 200, 3, "image/png", b"def")]
    assert download_for(downloads, "http://x/b.png?token=secret") is downloads[1]
    assert download_for(downloads, "http://x/c.png") is None
    assert download_for(downloads, "") is None and download_for(downloads, None) is None
    assert download_for(downloads, 5) is None
    # the client records a signed URL with its query redacted
    signed = [Download("http://x/a.png?token=%3Credacted%3E", 1, 2, 200, 3, "image/png", b"abc")]
    assert download_for(signed, "http://x/a.png?token=secret") is signed[0]


def test_an_inline_file_is_matched_by_its_header_and_its_bytes() -> None:
    one, two = b"first file", b"second file"
    downloads = [Download("data:audio/wav;base64,...", 1, 2, None, len(one), "audio/wav", one),
                 Download("data:audio/wav;base64,...", 1, 2, None, len(two), "audio/wav", two),
                 Download("data:text/plain,...", 1, 2, None, 5, "text/plain", b"hello")]
    assert download_for(downloads, "data:audio/wav;base64," + pybase64.b64encode(two).decode()) is downloads[1]
    assert download_for(downloads, "data:audio/mpeg;base64," + pybase64.b64encode(two).decode()) is None
    assert download_for(downloads, "data:text/plain,hello") is downloads[2]
    commas = [Download("data:text/plain,...", 1, 2, None, 9, "text/plain", b"a, b, c")]
    assert download_for(commas, "data:text/plain,a, b, c") is commas[0]
    assert download_for(downloads, "data:audio/wav;base64,not base64!") is None


@pytest.mark.parametrize("data", [b"\xff" * 8 + b'{"a": 1}', b"\x09" + bytes(7) + b"{"],
                         ids=["header-longer-than-the-file", "header-as-long-as-the-file"])
def test_bytes_that_only_look_like_safetensors_are_a_generic_file(data: bytes) -> None:
    # a safetensors file starts with its JSON header's length, shorter than the file, then "{"
    assert decode(data, "file", "application/octet-stream") == Decoded("file")


def test_zip_members_are_counted() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name in ("a.txt", "b.txt", "c.txt"):
            archive.writestr(name, name)
    assert decode(buf.getvalue(), "file", "application/zip").extra == {"members": 3}


def test_the_same_bytes_decode_once_and_changed_bytes_decode_again() -> None:
    good = made("image", "png").data
    first = decode(good, "image", "image/png")
    assert decode(bytes(good), "image", "image/png") is first  # equal bytes, another object: kept
    broken = good[:-40] + bytes(40)
    found = decode(broken, "image", "image/png")
    assert first.problem is None and found.problem is not None
    assert decode(good, "file", "image/png") is not first  # another kind is another decoding
