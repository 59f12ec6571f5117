"""What a contract's semantics promise for a given input: how many files, of what size, format,
duration, frame rate and sample rate.

The emulator produces outputs from these answers and the checks hold real outputs to them, so
both read the same rules. The loader uses the same readers to refuse semantics that name a field
whose values mean nothing here (``size: aspect_ratio``, ``default_format: mp4`` on images).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from harness._json import Json, is_integer, is_number
from harness.contracts._model import Contract, FieldSpec, MediaSemantics
from harness.contracts._types import ListOf, Scalar

__all__ = [
    "DEFAULTS",
    "FAL_IMAGE_SIZE_PRESETS",
    "FORMATS",
    "KINDS",
    "KIND_KEYS",
    "MEDIA_TYPES",
    "Expected",
    "aspect_of",
    "expected_count",
    "expected_format",
    "expected_media",
    "expected_size",
    "field_problem",
    "format_of",
    "media_type",
    "resolution_of",
    "seconds_of",
]

#: fal toolkit presets (fal-protocol.md, "Image sizes"): name to (width, height)
FAL_IMAGE_SIZE_PRESETS: dict[str, tuple[int, int]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}

KINDS = ("image", "video", "audio", "mesh", "file")

#: format names each kind knows, with the media type of a file in that format
FORMATS: dict[str, dict[str, str]] = {
    "image": {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "webp": "image/webp"},
    "video": {"mp4": "video/mp4", "webm": "video/webm", "mov": "video/quicktime"},
    "audio": {"wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac", "ogg": "audio/ogg",
              "m4a": "audio/mp4"},
    "mesh": {"glb": "model/gltf-binary", "obj": "model/obj", "ply": "model/ply", "stl": "model/stl"},
    "file": {"zip": "application/zip", "safetensors": "application/octet-stream", "json": "application/json",
             "txt": "text/plain", "srt": "application/x-subrip", "bin": "application/octet-stream"},
}

#: image format names to media types (the image checks' table)
MEDIA_TYPES = FORMATS["image"]

_COMMON = {"field", "kind", "count", "format", "default_format"}
_PIXELS = {"size", "default_size", "presets", "aspect_ratio", "resolution", "width", "height"}
_TIME = {"duration", "default_duration"}
#: the semantics keys each kind acts on; any other is an error
KIND_KEYS: dict[str, frozenset[str]] = {
    "image": frozenset(_COMMON | _PIXELS),
    "video": frozenset(_COMMON | _PIXELS | _TIME | {"frames", "fps", "default_fps"}),
    "audio": frozenset(_COMMON | _TIME | {"sample_rate", "default_sample_rate"}),
    "mesh": frozenset(_COMMON),
    "file": frozenset(_COMMON | {"content_type"}),
}


@dataclass(frozen=True)
class _Defaults:
    size: tuple[int, int]
    format: str
    duration: float
    fps: float
    sample_rate: int


#: what the emulator makes when neither the input nor the semantics decide. A video no input sizes
#: is small and one no input gives a frame rate runs at 8 fps, so a default clip encodes in tens of
#: milliseconds; the container states that size and rate truthfully.
DEFAULTS: dict[str, _Defaults] = {
    "image": _Defaults((1024, 1024), "png", 0.0, 0.0, 0),
    "video": _Defaults((640, 360), "mp4", 5.0, 8.0, 0),
    "audio": _Defaults((0, 0), "mp3", 3.0, 0.0, 44100),
    "mesh": _Defaults((0, 0), "glb", 0.0, 0.0, 0),
    "file": _Defaults((0, 0), "bin", 0.0, 0.0, 0),
}

_ALIASES = {"jpg": "jpeg", "h264": "mp4", "mpeg4": "mp4", "vp9": "webm", "vp8": "webm", "quicktime": "mov",
            "wave": "wav", "pcm": "wav", "mpeg": "mp3", "vorbis": "ogg", "aac": "m4a", "gltf": "glb",
            "gltf-binary": "glb"}


def format_of(kind: str, value: object) -> tuple[str, int | None] | None:
    """(format, sample rate or None) an input value names for a kind, or None when it names none
    this harness knows: ``"mp3_44100_128"`` -> ``("mp3", 44100)``, ``"PNG"`` -> ``("png", None)``."""
    if not isinstance(value, str) or not value:
        return None
    parts = [p for p in re.split(r"[_\-\s/.]+", value.lower()) if p]
    if not parts:
        return None
    known = FORMATS.get(kind, {})
    name = _ALIASES.get(parts[0], parts[0])
    if kind == "image" and name == "jpeg":
        name = "jpeg"
    if name not in known:
        return None
    rate = next((int(p) for p in parts[1:] if p.isdigit() and 8000 <= int(p) <= 384000), None)
    return name, rate


def media_type(kind: str, fmt: str) -> str:
    """The media type of a file of this kind in this format."""
    return FORMATS.get(kind, {}).get(fmt, "application/octet-stream")


def resolution_of(value: Json) -> tuple[str, int] | None:
    """``("short", 720)`` for ``"720p"``, ``("long", 2048)`` for ``"2K"``, ``("short", 2160)`` for
    ``"4k"``/``"2160p"``; None for anything else (``"auto"``)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    m = re.fullmatch(r"(\d{3,4})[pP]", text)
    if m:
        return "short", int(m.group(1))
    if text.lower() in ("4k", "uhd"):
        return "short", 2160
    m = re.fullmatch(r"(\d)K", text)
    if m:
        return "long", int(m.group(1)) * 1024
    if text.lower() in ("hd",):
        return "short", 720
    if text.lower() in ("fhd", "full_hd"):
        return "short", 1080
    return None


def aspect_of(value: Json) -> tuple[int, int] | None:
    """(w, h) for ``"16:9"`` (also ``"16/9"``, ``"16x9"``); None otherwise (``"auto"``)."""
    if not isinstance(value, str):
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*[:/x]\s*(\d+(?:\.\d+)?)\s*", value)
    if not m:
        return None
    w, h = float(m.group(1)), float(m.group(2))
    if w <= 0 or h <= 0:
        return None
    scale = 1 if w.is_integer() and h.is_integer() else 100
    return int(w * scale), int(h * scale)


def seconds_of(value: Json) -> float | None:
    """Seconds a duration value gives: ``5``, ``5.5``, ``"5"``, ``"5s"``, ``"10 seconds"``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value > 0 and math.isfinite(value) else None
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?)?\s*", value.lower())
        if m and float(m.group(1)) > 0:
            return float(m.group(1))
    return None


def _number(value: Json) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        n = float(value)
    except ValueError:
        return None
    return n if n > 0 and math.isfinite(n) else None


@dataclass(frozen=True)
class Expected:
    """What one media field's files must be for a given input; ``None`` means the input does not
    decide (the emulator then uses the semantics' defaults, and the checks do not judge it)."""

    kind: str
    count: int | None = None
    size: tuple[int, int] | None = None
    """Exact pixels asked for (a preset, ``{width, height}`` or width and height fields)."""
    aspect: tuple[int, int] | None = None
    """An aspect ratio asked for, without exact pixels."""
    resolution: tuple[str, int] | None = None
    """A resolution class asked for: (``short`` or ``long`` side, pixels)."""
    format: str | None = None
    duration: float | None = None
    frames: int | None = None
    fps: float | None = None
    sample_rate: int | None = None


def expected_media(contract: Contract, media: MediaSemantics, effective: Mapping[str, Json]) -> Expected:
    """Everything the input asks of this media field's files."""

    def value(name: str | None) -> Json:
        return effective.get(name) if name is not None else None

    kind = media.kind
    count: int | None = 1
    if media.count is not None:
        raw = value(media.count)
        count = int(raw) if is_number(raw) else None
    fmt_rate = format_of(kind, value(media.format))
    size = _size(contract, media, effective)
    aspect = aspect_of(value(media.aspect_ratio)) if size is None else None
    resolution = resolution_of(value(media.resolution)) if size is None else None
    fps = _number(value(media.fps)) if media.fps else None
    frames_raw = value(media.frames)
    frames = int(frames_raw) if is_integer(frames_raw) and frames_raw > 0 else None
    duration = seconds_of(value(media.duration)) if media.duration else None
    rate_raw = value(media.sample_rate)
    sample_rate = int(rate_raw) if is_integer(rate_raw) and rate_raw > 0 else None
    if sample_rate is None and fmt_rate is not None:
        sample_rate = fmt_rate[1]
    return Expected(kind, count, size, aspect, resolution, fmt_rate[0] if fmt_rate else None, duration, frames,
                    fps, sample_rate)


def _size(contract: Contract, media: MediaSemantics, effective: Mapping[str, Json]) -> tuple[int, int] | None:
    if media.width is not None and media.height is not None:
        w, h = effective.get(media.width), effective.get(media.height)
        if isinstance(w, int) and isinstance(h, int) and not isinstance(w, bool) and not isinstance(h, bool):
            return w, h
    if media.size is None:
        return None
    value = effective.get(media.size)
    if isinstance(value, str):
        presets = media.presets or FAL_IMAGE_SIZE_PRESETS
        return presets.get(value)
    if isinstance(value, Sequence) and not isinstance(value, str):  # [width, height] (bria's canvas_size)
        if len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
            return int(value[0]), int(value[1])  # type: ignore[arg-type]
        return None
    if isinstance(value, Mapping):
        width: object = value.get("width")
        height: object = value.get("height")
        spec = contract.input.get(media.size)
        size_type = contract.types.get(next(iter(sorted(spec.refs())), "")) if spec else None
        if size_type is not None:  # a custom size may omit a side and take the type's default
            if width is None and (wf := size_type.get("width")) is not None and wf.has_default:
                width = wf.default
            if height is None and (hf := size_type.get("height")) is not None and hf.has_default:
                height = hf.default
        if isinstance(width, int) and isinstance(height, int):
            return width, height
    return None


def dimensions(expected: Expected, default: tuple[int, int], *, even: bool = False) -> tuple[int, int]:
    """The pixels to make: the exact size asked, else the aspect and resolution asked applied to
    the default (the default's own aspect and short side fill what is not asked)."""
    w: float
    h: float
    if expected.size is not None:
        w, h = expected.size
    else:
        dw, dh = default
        aw, ah = expected.aspect or (dw, dh)
        side, pixels = expected.resolution or ("short", min(dw, dh))
        ratio = aw / ah
        if side == "short":
            w, h = (pixels * ratio, pixels) if ratio >= 1 else (pixels, pixels / ratio)
        else:
            w, h = (pixels, pixels / ratio) if ratio >= 1 else (pixels * ratio, pixels)
        w, h = round(w), round(h)
    if even:
        w, h = w + (w % 2), h + (h % 2)
    return max(1, int(w)), max(1, int(h))


def _enum_strings(f: FieldSpec) -> list[Json]:
    return [v for v in (f.enum or ()) if v is not None]


def _is_pair(f: FieldSpec) -> bool:
    """A list of integers, read as ``[width, height]``."""
    return any(isinstance(o, ListOf) and o.item == Scalar("integer") for o in f.options)


def field_problem(kind: str, key: str, f: FieldSpec, m: MediaSemantics) -> str | None:
    """Why the input field ``f`` cannot say what semantics key ``key`` of a ``kind`` output reads
    from it (``size: aspect_ratio``), or None when it can."""
    scalars = f.scalar_kinds()
    numeric = bool(scalars & {"integer", "float"})
    values = _enum_strings(f)
    if key in ("count", "width", "height", "frames", "sample_rate"):
        return None if numeric else f"is {f.type}; {key} reads a number"
    if key == "fps":
        if numeric or (values and all(seconds_of(v) for v in values)):
            return None
        return f"is {f.type}; fps reads a number"
    if key == "duration":
        if numeric or (values and any(seconds_of(v) for v in values)) or ("string" in scalars and not values):
            return None
        return f"holds no durations ({', '.join(map(repr, values[:4]))}); duration reads seconds"
    readers = {"format": lambda v: format_of(kind, v), "aspect_ratio": aspect_of,
               "resolution": resolution_of,
               "size": lambda v: v in (m.presets or FAL_IMAGE_SIZE_PRESETS)}
    read: Callable[[Json], Json] = readers[key]
    if key == "size" and (f.refs() or _is_pair(f)):
        return None
    if "string" not in scalars:
        return f"is {f.type}; {key} reads a string"
    if values and not any(read(v) for v in values):
        what = {"format": f"{kind} formats ({', '.join(FORMATS[kind])})", "aspect_ratio": "ratios such as 16:9",
                "resolution": "resolutions such as 720p or 2K",
                "size": "size presets, {width, height} or [width, height]"}[key]
        return f"holds none of the {what}: {', '.join(map(repr, values[:6]))}"
    if key == "size" and not values:
        return "is a free string; size reads a preset name, {width, height} or [width, height]"
    return None


# -- the image semantics' answers (the image checks read these) ---------------------------------


def expected_count(contract: Contract, effective: Mapping[str, Json]) -> int | None:
    """How many images the output must hold (``None`` when the contract has no images)."""
    images = contract.semantics.images
    if images is None:
        return None
    if images.count is None:
        return 1
    value = effective.get(images.count)
    return int(value) if is_number(value) else None


def expected_size(contract: Contract, effective: Mapping[str, Json]) -> tuple[int, int] | None:
    """(width, height) each image must have when the input decides it exactly, else ``None``."""
    images = contract.semantics.images
    if images is None:
        return None
    return _size(contract, images, effective)


def default_size(contract: Contract) -> tuple[int, int] | None:
    """The size an endpoint produces when its input cannot say (the emulator uses it)."""
    images = contract.semantics.images
    return images.default_size if images else None


def expected_format(contract: Contract, effective: Mapping[str, Json]) -> str | None:
    """The format name the input asks for (``png``, ``jpeg``...), or ``None`` when it cannot ask."""
    images = contract.semantics.images
    if images is None or images.format is None:
        return None
    value = effective.get(images.format)
    return value if isinstance(value, str) else None
