"""Checks on every kind of output file (videos, audio, meshes, other files, and images beyond the
first image field), on text answers, and on every file URL an output holds.

Files are judged by decoders that did not make them: FFmpeg's demuxers and decoders (PyAV) for
video, the standard library's ``wave`` and mutagen's parsers for audio, trimesh's loaders for 3D,
Pillow for pictures, and each generic format's own reader. Each check is registered by a call after its
function, not by a decorator, so that mutation testing reaches its body (docs/testing.md). Each
decoder is imported by the check that needs it: a run with no video never loads FFmpeg.
"""

from __future__ import annotations

import hashlib
import io
import json
import wave
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pybase64

from harness._json import is_number
from harness.checks._registry import CheckContext, Failure, NotApplicable, check
from harness.client import Download
from harness.contracts import FORMATS, MediaSemantics, expected_media, media_type

__all__ = ["Decoded", "decode", "download_for"]

#: declared and decoded durations may differ by this much (an MP3 frame, an encoder's padding)
DURATION_TOLERANCE_S = 0.1
DURATION_TOLERANCE = 0.02
FPS_TOLERANCE = 0.01
#: an aspect ratio asked for, and the short or long side a resolution names, as far as fal rounds them
ASPECT_TOLERANCE = 0.03
SIDE_TOLERANCE = 0.10


@dataclass
class Decoded:
    """What a decoder found in a file's bytes."""

    kind: str
    format: str | None = None
    """The format name, as the contracts name formats (``mp4``, ``mp3``, ``glb``, ``png``)."""
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    fps: float | None = None
    frames: int | None = None
    sample_rate: int | None = None
    channels: int | None = None
    problem: str | None = None
    """Why the bytes do not decode, when they do not."""
    extra: dict[str, Any] = field(default_factory=dict)


def _media(ctx: CheckContext, *, images: bool = False) -> list[MediaSemantics]:
    """The media semantics these checks judge: every one but the first image field's (which the
    image checks judge), unless ``images``."""
    ctx.need_success()
    sem = ctx.contract.semantics
    media = list(sem.all_media() if images else sem.media.values())
    if not media:
        raise NotApplicable("the contract declares no video, audio, 3D or other file outputs")
    return media


def _objects(ctx: CheckContext, m: MediaSemantics) -> list[Any]:
    value = ctx.output.get(m.field)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _download(ctx: CheckContext, url: Any) -> Download | None:
    return download_for(ctx.obs.downloads, url)


def download_for(downloads: list[Download], url: Any) -> Download | None:
    """The download of a file URL. Recorded URLs have their query values redacted (they may hold a
    signed token), so URLs are matched without their query; data URIs keep only their header, so a
    data URI is matched by its bytes."""
    if not isinstance(url, str) or not url:
        return None
    if url.startswith("data:"):
        header, _, payload = url.partition(",")
        try:
            data = pybase64.b64decode(payload) if header.endswith(";base64") else payload.encode()
        except ValueError:
            return None
        return next((d for d in downloads if d.url == header + ",..." and d.data == data), None)
    return next((d for d in downloads if d.url.split("?")[0] == url.split("?")[0]), None)


def output_media_count(ctx: CheckContext) -> Iterator[Failure]:
    """Each declared video, audio, 3D or file output is present, as many as the input asked for."""
    for m in _media(ctx):
        objects = _objects(ctx, m)
        wanted = expected_media(ctx.contract, m, ctx.effective).count if m.count else None
        if not objects:
            yield Failure(f"{m.field}: no {m.kind} in the output", m.field, wanted, 0)
        elif wanted is not None and len(objects) != wanted:
            yield Failure(f"{m.field}: {len(objects)} {m.kind} file(s) returned, {wanted} asked for", m.field, wanted,
                          len(objects))
        for i, obj in enumerate(objects):
            if not isinstance(obj, dict) or not isinstance(obj.get("url"), str) or not obj.get("url"):
                yield Failure(f"{m.field}[{i}] has no URL to download", f"{m.field}[{i}].url")


check("output.media-count")(output_media_count)


def output_media_truthful(ctx: CheckContext) -> Iterator[Failure]:
    """Each declared media file downloads and decodes as its kind and its content_type; the
    width, height, duration, frame rate and sample rate its object declares are those decoded."""
    for m in _media(ctx):
        for i, obj in enumerate(_objects(ctx, m)):
            where = f"{m.field}[{i}]"
            if not isinstance(obj, dict):
                continue
            d = _download(ctx, obj.get("url"))
            if d is None:
                yield Failure(f"{where}: {obj.get('url')!r} was not downloaded", f"{where}.url")
                continue
            if d.status is not None and d.status != 200:
                yield Failure(f"{where}: download answered HTTP {d.status}", f"{where}.url", 200, d.status)
                continue
            decoded = decoded_for(ctx, d, m.kind, obj.get("content_type"))
            if decoded.problem:
                yield Failure(f"{where}: {decoded.problem}", where)
                continue
            yield from _declared(where, m.kind, obj, decoded)


check("output.media-truthful")(output_media_truthful)


def _declared(where: str, kind: str, obj: dict[str, Any], decoded: Decoded) -> Iterator[Failure]:
    """What the file object says about itself against what its bytes decode as (expected: the bytes)."""
    declared = obj.get("content_type")
    if isinstance(declared, str) and decoded.format is not None and kind != "file":
        real = media_type(kind, decoded.format)
        if declared.split(";")[0].strip().lower() not in _same_types(real):
            yield Failure(f"{where} declares {declared} but its bytes are {decoded.format} ({real})",
                          f"{where}.content_type", real, declared)
    for key, value in (("width", decoded.width), ("height", decoded.height), ("sample_rate", decoded.sample_rate)):
        if isinstance(obj.get(key), int) and value is not None and obj[key] != value:
            yield Failure(f"{where} declares {key} {obj[key]}, the file has {value}", f"{where}.{key}", value,
                          obj[key])
    if isinstance(obj.get("num_frames"), int) and decoded.frames is not None and obj["num_frames"] != decoded.frames:
        yield Failure(f"{where} declares num_frames {obj['num_frames']}, the file has {decoded.frames}",
                      f"{where}.num_frames", decoded.frames, obj["num_frames"])
    declared = obj.get("duration")
    if is_number(declared) and decoded.duration is not None and not _close(declared, decoded.duration):
        yield Failure(f"{where} declares duration {declared} s, the file lasts {decoded.duration:.3f} s",
                      f"{where}.duration", decoded.duration, declared)
    fps = obj.get("fps")
    if is_number(fps) and decoded.fps is not None and abs(fps - decoded.fps) > FPS_TOLERANCE * fps:
        yield Failure(f"{where} declares fps {obj['fps']}, the file runs at {decoded.fps:.3f}", f"{where}.fps",
                      decoded.fps, fps)


def output_media_as_asked(ctx: CheckContext) -> Iterator[Failure]:
    """Media files have the size, aspect ratio, resolution, format, duration, frame count, frame
    rate and sample rate the input asked for, as decoded from their bytes."""
    judged = False
    for m in _media(ctx, images=True):
        want = expected_media(ctx.contract, m, ctx.effective)
        if m is ctx.contract.semantics.images:  # output.image-size and output.content-type judge the rest
            want = replace(want, size=None, format=None)
        for i, obj in enumerate(_objects(ctx, m)):
            d = _download(ctx, obj.get("url")) if isinstance(obj, dict) else None
            if d is None or d.data is None:
                continue
            got = decoded_for(ctx, d, m.kind, obj.get("content_type"))
            if got.problem:
                continue
            where = f"{m.field}[{i}]"
            for problem in _asked(where, m.kind, want, got):
                judged = True
                if problem:
                    yield Failure(problem, where)
    if not judged:
        raise NotApplicable("the input decides none of the decoded properties")


check("output.media-as-asked")(output_media_as_asked)


def _asked(where: str, kind: str, want: Any, got: Decoded) -> Iterator[str]:
    """Yields a message per broken promise and an empty string per kept one."""
    if want.format is not None and got.format is not None:
        asked = media_type(kind, want.format)
        yield "" if media_type(kind, got.format) in _same_types(asked) else (
            f"{where} is {got.format}, {want.format} asked for")
    if want.size is not None and got.width is not None:
        yield "" if (got.width, got.height) == want.size else (
            f"{where} is {got.width}x{got.height}, {want.size[0]}x{want.size[1]} asked for")
    if want.aspect is not None and got.width and got.height:
        ratio, asked_ratio = got.width / got.height, want.aspect[0] / want.aspect[1]
        yield "" if abs(ratio - asked_ratio) <= ASPECT_TOLERANCE * asked_ratio else (
            f"{where} is {got.width}x{got.height}, aspect ratio {want.aspect[0]}:{want.aspect[1]} asked for")
    if want.resolution is not None and got.width and got.height:
        side, pixels = want.resolution
        measured = min(got.width, got.height) if side == "short" else max(got.width, got.height)
        yield "" if abs(measured - pixels) <= SIDE_TOLERANCE * pixels else (
            f"{where} is {got.width}x{got.height}, its {side} side {measured} px where {pixels} px was asked for")
    seconds = want.duration
    if want.frames is not None and want.fps:
        seconds = want.frames / want.fps
    if seconds is not None and got.duration is not None:
        yield "" if _close(seconds, got.duration) else f"{where} lasts {got.duration:.3f} s, {seconds:g} s asked for"
    if want.frames is not None and got.frames is not None:
        yield "" if got.frames == want.frames else f"{where} has {got.frames} frames, {want.frames} asked for"
    if want.fps is not None and got.fps is not None:
        yield "" if abs(got.fps - want.fps) <= FPS_TOLERANCE * want.fps else (
            f"{where} runs at {got.fps:.3f} fps, {want.fps:g} asked for")
    if want.sample_rate is not None and got.sample_rate is not None:
        yield "" if got.sample_rate == want.sample_rate else (
            f"{where} is sampled at {got.sample_rate} Hz, {want.sample_rate} asked for")


def output_text_nonempty(ctx: CheckContext) -> Iterator[str]:
    """Each output field the contract names as the model's text answer holds text."""
    ctx.need_success()
    names = ctx.contract.semantics.text
    if not names:
        raise NotApplicable("the contract declares no text outputs")
    for name in names:
        value = ctx.output.get(name)
        if name not in ctx.output and name not in ctx.contract.output.required:
            continue
        if not isinstance(value, str) or not value.strip():
            yield f"{name} is {value!r}, not text"


check("output.text-nonempty")(output_text_nonempty)


def output_file_downloads(ctx: CheckContext) -> Iterator[Failure]:
    """Every file URL in the output downloads (HTTP 200, or a data URI) with the bytes its file_size
    declares (the image field's files are output.file-size's)."""
    ctx.need_success()
    images = ctx.contract.semantics.images
    skip = f"$.{images.field}" if images else None
    objects = [(w, o) for w, o in _file_objects(ctx.output)
               if skip is None or not (w == skip or w.startswith((skip + "[", skip + ".")))]
    if not objects:
        raise NotApplicable("the output holds no file URLs beyond the images")
    for where, obj in objects:
        d = _download(ctx, obj.get("url"))
        if d is None:
            yield Failure(f"{where}: {str(obj.get('url'))[:80]!r} was not downloaded", f"{where}.url")
        elif d.status is not None and d.status != 200:
            yield Failure(f"{where}: download answered HTTP {d.status}", f"{where}.url", 200, d.status)
        elif isinstance(obj.get("file_size"), int) and obj["file_size"] != d.size:
            yield Failure(f"{where} declares file_size {obj['file_size']}, {d.size} bytes were downloaded",
                          f"{where}.file_size", d.size, obj["file_size"])


check("output.file-downloads")(output_file_downloads)


def output_media_sync_mode(ctx: CheckContext) -> Iterator[Failure]:
    """With sync_mode asked, every video, audio, 3D and other file comes inline as a data URI of its
    declared type (output.sync-mode judges the images)."""
    name = ctx.contract.semantics.sync_mode
    if name is None or ctx.effective.get(name) is not True:
        raise NotApplicable("sync_mode was not asked for")
    for m in _media(ctx):
        for i, obj in enumerate(_objects(ctx, m)):
            url = obj.get("url") if isinstance(obj, dict) else None
            if not (isinstance(url, str) and url.startswith("data:")):
                yield Failure(f"{m.field}[{i}]: sync_mode asked, but the file is at {str(url)[:60]!r}, not a data URI",
                              f"{m.field}[{i}].url")
                continue
            media = url[5:].partition(",")[0].split(";")[0]
            declared = obj.get("content_type")
            if isinstance(declared, str) and media != declared:
                yield Failure(f"{m.field}[{i}] is a data URI of {media!r}, its content_type says {declared!r}",
                              f"{m.field}[{i}].content_type", media, declared)


check("output.media-sync-mode")(output_media_sync_mode)


#: the keys beside ``url`` that make an object a file (the client downloads exactly these)
_FILE_MARKS = frozenset({"content_type", "file_name", "file_size", "width"})


def _file_objects(value: Any, where: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    """(JSON path, object) of every file object in an output, as the client finds them."""
    if isinstance(value, dict):
        if isinstance(value.get("url"), str) and value["url"] and _FILE_MARKS & value.keys():
            yield where, value
        for k, v in value.items():
            if isinstance(v, dict | list):
                yield from _file_objects(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _file_objects(v, f"{where}[{i}]")


# -- decoders -------------------------------------------------------------------------------------


def decoded_for(ctx: CheckContext, d: Download, kind: str, content_type: Any) -> Decoded:
    """The decoding of a download, done once per observation."""
    cache: dict[tuple[str, str], Decoded] = ctx.obs.__dict__.setdefault("_decoded", {})
    key = (d.url, kind)
    if key not in cache:
        cache[key] = decode(d.data or b"", kind, content_type if isinstance(content_type, str) else d.content_type)
    return cache[key]


#: how many decodings a process keeps, by the bytes' digest: cassettes of one scenario's variants
#: (and runs of one seed) hold the same file, and decoding a megapixel picture costs milliseconds
DECODED_KEPT = 256
_decoded: dict[tuple[bytes, str, str], Decoded] = {}


def decode(data: bytes, kind: str, content_type: str | None = None) -> Decoded:
    """Decode a file of a kind with a decoder independent of whatever made it (the same bytes are
    decoded once per process)."""
    if not data:
        return Decoded(kind, problem="the file is empty")
    key = (hashlib.blake2b(data, digest_size=20).digest(), kind, content_type or "")
    found = _decoded.get(key)
    if found is None:
        found = _decode(data, kind, content_type or "")
        if len(_decoded) >= DECODED_KEPT:
            _decoded.pop(next(iter(_decoded)), None)
        _decoded[key] = found
    return found


def _decode(data: bytes, kind: str, content_type: str) -> Decoded:
    try:
        return _DECODERS[kind](data, content_type)
    except Exception as exc:  # every decoder raises its own kinds for bytes it cannot read
        return Decoded(kind, problem=f"does not decode as {kind}: {type(exc).__name__}: {str(exc)[:120]}")


_AV_FORMATS = {"mov,mp4,m4a,3gp,3g2,mj2": None, "matroska,webm": "webm", "mp3": "mp3", "flac": "flac",
               "ogg": "ogg", "wav": "wav"}


def _video(data: bytes, content_type: str) -> Decoded:
    import av

    with av.open(io.BytesIO(data), "r") as container:
        if not container.streams.video:
            return Decoded("video", problem="the file holds no video stream")
        stream = container.streams.video[0]
        fmt = _container_format(container.format.name, data)
        frames = 0
        first = None
        for frame in container.decode(video=0):
            frames += 1
            if first is None:
                first = frame
        if first is None:
            return Decoded("video", problem="no frame decodes")
        duration = float(container.duration) / 1e6 if container.duration else None
        rate = stream.average_rate
        return Decoded("video", fmt, first.width, first.height, duration, float(rate) if rate else None, frames)


def _container_format(name: str, data: bytes) -> str | None:
    if name.startswith("mov,mp4"):
        brand = data[8:12]
        return "mov" if brand == b"qt  " else "mp4"
    return _AV_FORMATS.get(name, name)


def _audio(data: bytes, content_type: str) -> Decoded:
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        with wave.open(io.BytesIO(data)) as w:
            rate, frames = w.getframerate(), w.getnframes()
            return Decoded("audio", "wav", duration=frames / rate if rate else None, sample_rate=rate,
                           channels=w.getnchannels())
    import mutagen

    found = mutagen.File(io.BytesIO(data))
    if found is None:
        return Decoded("audio", problem="the file is no audio format mutagen reads (MP3, FLAC, Ogg, MP4, WAV)")
    info = found.info
    # (WAV never gets here: its RIFF header is read above, and mutagen reads no other WAV)
    names = {"MP3": "mp3", "FLAC": "flac", "OggVorbis": "ogg", "OggOpus": "ogg", "OggFLAC": "ogg", "MP4": "m4a"}
    fmt = names.get(type(found).__name__)
    rate = getattr(info, "sample_rate", None)
    return Decoded("audio", fmt, duration=float(info.length), sample_rate=int(rate) if rate else None,
                   channels=getattr(info, "channels", None))


_MESH_TYPES = {"model/gltf-binary": "glb", "model/obj": "obj", "model/ply": "ply", "application/ply": "ply",
               "model/stl": "stl", "application/sla": "stl", "model/gltf+json": "gltf"}


def _mesh(data: bytes, content_type: str) -> Decoded:
    import trimesh

    # The bytes decide where they can (so a file declared as another format is read as what it is), then
    # the declared type; OBJ, plain text, has no signature.
    signatures = ((b"glTF", "glb"), (b"ply", "ply"), (b"solid", "stl"))
    fmt = next((name for magic, name in signatures if data.startswith(magic)), None)
    # A binary STL has no magic: an 80-byte header, a triangle count, then 50 bytes per triangle.
    if fmt is None and len(data) >= 84 and 84 + 50 * int.from_bytes(data[80:84], "little") == len(data):
        fmt = "stl"
    fmt = fmt or _MESH_TYPES.get(content_type.split(";")[0].strip().lower()) or "obj"
    loaded: Any = trimesh.load(io.BytesIO(data), file_type=fmt, force="mesh")
    vertices, faces = len(loaded.vertices), len(loaded.faces)
    if not vertices or not faces:
        return Decoded("mesh", fmt, problem=f"the {fmt} file holds no geometry ({vertices} vertices, {faces} faces)")
    return Decoded("mesh", fmt, extra={"vertices": vertices, "faces": faces})


def _image(data: bytes, content_type: str) -> Decoded:
    from PIL import Image, UnidentifiedImageError

    try:
        opened = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:  # its text names the address of an in-memory buffer
        return Decoded("image", problem="the bytes are no image format Pillow reads")
    with opened as img:
        img.load()
        fmt = (img.format or "").lower()
        return Decoded("image", fmt, img.width, img.height)


def _file(data: bytes, content_type: str) -> Decoded:
    media = content_type.split(";")[0].strip().lower()
    if media == "application/zip" or data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            bad = archive.testzip()
            if bad is not None:
                return Decoded("file", "zip", problem=f"zip member {bad} is corrupt")
            return Decoded("file", "zip", extra={"members": len(archive.infolist())})
    if media == "application/json":
        json.loads(data)
        return Decoded("file", "json")
    if media.startswith("text/") or media == "application/x-subrip":
        if not data.decode("utf-8").strip():
            return Decoded("file", "txt", problem="the text file holds only whitespace")
        return Decoded("file", "txt")
    if data[:8] and int.from_bytes(data[:8], "little") < len(data) and data[8:9] == b"{":
        from safetensors.numpy import load

        tensors = load(data)
        return Decoded("file", "safetensors", extra={"tensors": len(tensors)})
    return Decoded("file", None)


_DECODERS = {"video": _video, "audio": _audio, "mesh": _mesh, "image": _image, "file": _file}


def _same_types(media: str) -> set[str]:
    aliases = {"audio/wav": {"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"},
               "audio/mpeg": {"audio/mpeg", "audio/mp3"}, "model/ply": {"model/ply", "application/ply"},
               "model/stl": {"model/stl", "application/sla"}, "image/jpeg": {"image/jpeg", "image/jpg"},
               "audio/mp4": {"audio/mp4", "audio/m4a", "audio/x-m4a"}}
    return aliases.get(media, {media})


def _close(expected: float, got: float) -> bool:
    return abs(expected - got) <= max(DURATION_TOLERANCE_S, DURATION_TOLERANCE * expected)


assert set(_DECODERS) == set(FORMATS)
