"""What an imported contract's schema implies: which inputs take files, which outputs hold images,
videos, audio, meshes or other files, which input fields govern them, and which outputs are text.

The importer writes these as ``file:`` keys and ``semantics:``, where a person can read and correct
them; each guess is checked with the loader's own rules before it is kept.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from harness.contracts._model import Contract, FieldSpec, MediaSemantics, ObjectSpec, Semantics
from harness.contracts._semantics import KIND_KEYS, field_problem
from harness.contracts._types import ListOf, Ref, Scalar

__all__ = ["infer_semantics"]

#: fields of an object that make it a file (fal's File, Image, Video, Audio types)
_FILE_KEYS = frozenset({"content_type", "file_name", "file_size", "width", "height", "duration", "fps",
                        "num_frames", "sample_rate", "channels", "file_data"})

_NOT_FILES = re.compile(r"lora|weights?|checkpoint|ckpt|safetensors|webhook|callback|embedding|model_name|repo")
_INPUT_KINDS = (
    ("archive", re.compile(r"zip|archive|images_data|training_data|data_url|dataset")),
    ("video", re.compile(r"video|clip|movie|footage")),
    ("audio", re.compile(r"audio|voice|speech|music|sound|song|wav|mp3")),
    ("mesh", re.compile(r"mesh|glb|3d|obj_|model_url|model_file")),
    ("image", re.compile(r"image|mask|face|frame|photo|picture|style|reference|ref_|canny|depth|pose|"
                         r"normal|segmentation|teed|sketch|control|subject|garment|person|product|logo|"
                         r"background|foreground|start|end|tail|first|last")),
)

_OUTPUT_KINDS = (
    ("mesh", re.compile(r"mesh|glb|model_3d|3d|obj|ply|stl|gltf")),
    ("video", re.compile(r"video")),
    ("audio", re.compile(r"audio|speech|voice|music|sound|song|wav|mp3")),
    ("image", re.compile(r"image|mask|picture|photo|frame|texture|thumbnail|depth|map")),
)
_CATEGORY_KINDS = {"image": "image", "video": "video", "audio": "audio", "speech": "audio", "3d": "mesh",
                   "vision": "image", "training": "file"}

#: input field names that govern a media key, most specific first
_GOVERNORS: dict[str, tuple[str, ...]] = {
    "count": ("num_{field}", "num_images", "num_videos", "num_outputs", "num_samples", "batch_size"),
    "size": ("{singular}_size", "image_size", "video_size", "size", "canvas_size", "output_size"),
    "aspect_ratio": ("aspect_ratio",),
    "resolution": ("resolution", "output_resolution", "video_resolution", "image_resolution"),
    "format": ("{singular}_format", "output_format", "format", "image_format", "video_format", "audio_format",
               "output_file_format", "geometry_file_format", "mesh_format", "file_format", "container"),
    "duration": ("duration", "duration_seconds", "seconds", "video_duration", "audio_duration", "length",
                 "video_length", "audio_length", "total_seconds"),
    "frames": ("num_frames", "frames", "frame_count", "number_of_frames"),
    "fps": ("fps", "frames_per_second", "frame_rate", "framerate"),
    "sample_rate": ("sample_rate", "output_sample_rate", "sampling_rate"),
}
_TEXT_NAMES = ("output", "text", "response", "answer", "caption", "description", "transcript", "transcription",
               "content", "result", "reasoning", "summary", "translation", "message", "completion")


def infer_semantics(contract: Contract, category: str | None = None) -> Contract:
    """The contract with file inputs marked and semantics filled in where the schema implies them
    (what the contract already says is kept)."""
    c = _mark_file_inputs(contract)
    semantics = c.semantics
    media = [m for m in (_media(c, f, category) for f in c.output.fields) if m is not None]
    images = semantics.images
    others: dict[str, MediaSemantics] = dict(semantics.media)
    taken = {images.field} if images else set()
    taken |= set(others)
    used_governors: set[str] = set()
    for m in media:
        if m.field in taken:
            continue
        m = _governed(c, m, used_governors)
        if m.kind == "image" and images is None:
            images = m
        else:
            others[m.field] = m
    text = semantics.text or tuple(_text_fields(c, images is not None or bool(others)))
    seed = semantics.seed
    if seed is None and c.input.get("seed") is not None and c.output.get("seed") is not None:
        seed = "seed"
    nsfw = semantics.nsfw_flags
    flags = c.output.get("has_nsfw_concepts")
    if nsfw is None and images is not None and flags is not None and flags.type == ListOf(Scalar("boolean")):
        nsfw = "has_nsfw_concepts"
    echo = dict(semantics.echo)
    prompt_out, prompt_in = c.output.get("prompt"), c.input.get("prompt")
    if not echo and prompt_out is not None and prompt_in is not None and prompt_out.type == Scalar("string"):
        echo = {"prompt": "prompt"}
    sync = semantics.sync_mode
    sync_field = c.input.get("sync_mode")
    if sync is None and sync_field is not None and "boolean" in sync_field.scalar_kinds() and (images or others):
        sync = "sync_mode"
    return dataclasses.replace(c, semantics=Semantics(images=images, media=others, text=text, seed=seed,
                                                      nsfw_flags=nsfw, echo=echo, sync_mode=sync))


# -- inputs ------------------------------------------------------------------------------------


def _is_url_field(f: FieldSpec) -> bool:
    name = f.name.lower()
    if not (name.endswith(("_url", "_urls")) or name in ("image", "images", "video", "audio", "mask")):
        return False
    if _NOT_FILES.search(name):
        return False
    strings = "string" in f.scalar_kinds()
    lists = any(isinstance(o, ListOf) and o.item == Scalar("string") for o in f.options)
    return strings or lists


def _input_kind(name: str) -> str:
    lowered = name.lower()
    for kind, pattern in _INPUT_KINDS:
        if pattern.search(lowered):
            return kind
    return "any"


def _mark_file_inputs(c: Contract) -> Contract:
    if any(f.file for f in c.input.fields):
        return c  # the contract already says which inputs take files
    fields = tuple(dataclasses.replace(f, file=_input_kind(f.name)) if _is_url_field(f) else f
                   for f in c.input.fields)
    return dataclasses.replace(c, input=dataclasses.replace(c.input, fields=fields))


# -- outputs -----------------------------------------------------------------------------------


def _file_type(c: Contract, f: FieldSpec) -> ObjectSpec | None:
    """The file-like object type a field holds (itself or as list items), if any."""
    for option in f.options:
        inner = option.item if isinstance(option, ListOf) else option
        if isinstance(inner, Ref) and inner.name in c.types:
            spec = c.types[inner.name]
            names = set(spec.field_names)
            if "url" in names and names & _FILE_KEYS:
                return spec
    return None


def _media(c: Contract, f: FieldSpec, category: str | None) -> MediaSemantics | None:
    spec = _file_type(c, f)
    if spec is None:
        return None
    return MediaSemantics(field=f.name, kind=output_kind(f.name, spec, category))


def output_kind(name: str, spec: ObjectSpec, category: str | None) -> str:
    """The kind of file an output object of this name holds (image, video, audio, mesh or file)."""
    lowered = name.lower()
    for kind, pattern in _OUTPUT_KINDS:
        if pattern.search(lowered):
            return kind
    type_name = spec.name.lower()
    for kind, pattern in _OUTPUT_KINDS:
        if pattern.search(type_name):
            return kind
    names = set(spec.field_names)
    if names & {"fps", "num_frames"}:
        return "video"
    if names & {"sample_rate", "channels"} or ("duration" in names and "width" not in names):
        return "audio"
    if {"width", "height"} <= names:
        return "image"
    return _CATEGORY_KINDS.get(category or "", "file")


def _candidates(key: str, m: MediaSemantics) -> Iterable[str]:
    singular = m.field[:-1] if m.field.endswith("s") else m.field
    for pattern in _GOVERNORS[key]:
        yield pattern.format(field=m.field, singular=singular)


def _governed(c: Contract, m: MediaSemantics, used: set[str]) -> MediaSemantics:
    """The media semantics with each input field that governs them, where one fits."""
    found: dict[str, str] = {}
    is_list = any(isinstance(o, ListOf) for o in c.output.field(m.field).options)
    for key in _GOVERNORS:
        if key not in KIND_KEYS[m.kind] or (key == "count" and not is_list):
            continue
        for name in _candidates(key, m):
            f = c.input.get(name)
            if f is None or name in used:
                continue
            if field_problem(m.kind, key, f, m) is None:
                found[key] = name
                break
    width, height = c.input.get("width"), c.input.get("height")
    if ("width" in KIND_KEYS[m.kind] and "size" not in found and width is not None and height is not None
            and {"integer"} & width.scalar_kinds() and {"integer"} & height.scalar_kinds()):
        found["width"], found["height"] = "width", "height"
    # A format field names one kind's formats: the first media it fits takes it.
    used.update(v for k, v in found.items() if k == "format")
    # Each key names a field of MediaSemantics that holds the name of the input field governing it.
    return dataclasses.replace(m, **found)  # type: ignore[arg-type]


def _text_fields(c: Contract, has_media: bool) -> list[str]:
    out = []
    for f in c.output.fields:
        if f.type != Scalar("string") or f.enum is not None:
            continue
        if f.name in _TEXT_NAMES and (f.name in c.output.required or not has_media):
            out.append(f.name)
    return out
