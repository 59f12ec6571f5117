"""The stand-in model: from a contract and an input, the output a real model would give.

Everything is read from the contract's semantics (which fields hold images, videos, audio, meshes
or files, and which input fields decide their count, size, format, duration, frame rate and sample
rate; the seed; echoed fields; text answers), worked out once per contract. A request plans its
files before it runs; producing them makes the bytes and fills in every field of the output.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pybase64
import rstr

from harness._json import is_integer
from harness.contracts import (
    ANY,
    DEFAULTS,
    FORMATS,
    UNSET,
    Contract,
    Expected,
    FieldSpec,
    ListOf,
    MapOf,
    MediaSemantics,
    ObjectSpec,
    Ref,
    Scalar,
    TypeExpr,
    dimensions,
    expected_media,
    options_of,
    output_kind,
)
from harness.emulator._config import Limits
from harness.emulator._media import MediaFile, MediaPlan, make_media, sentence

__all__ = ["FilePlan", "Produced", "RunPlan", "StandInModel"]

_FILE_KEYS = frozenset({"content_type", "file_name", "file_size", "width", "height", "duration", "fps",
                        "num_frames", "sample_rate", "channels"})
_MAX_FRAMES = 2000
_MAX_SECONDS = 600.0
_GENERIC_FORMATS = (("lora", "safetensors"), ("weights", "safetensors"), ("safetensors", "safetensors"),
                    ("zip", "zip"), ("archive", "zip"), ("config", "json"), ("json", "json"), ("srt", "srt"),
                    ("subtitle", "srt"), ("caption", "srt"), ("transcript", "txt"), ("text", "txt"),
                    ("log", "txt"))


@dataclass(frozen=True)
class FilePlan:
    """One output file: which field it belongs to and what to make."""

    field: str
    media: MediaPlan


@dataclass(frozen=True)
class RunPlan:
    """What one run will produce, fixed before it starts."""

    seed: object
    effective: Mapping[str, object]
    files: tuple[FilePlan, ...]
    digest: bytes
    inline: bool = False
    """Files come back as data URIs (``sync_mode``), not as hosted URLs."""
    text: str = ""
    """The streamed text field's final value (partial-output streams), else empty."""

    @property
    def pixels(self) -> int:
        return sum(p.media.width * p.media.height * max(1, p.media.frames) for p in self.files)


@dataclass
class Produced:
    """A run's output, and the files to store under their keys."""

    output: dict[str, object]
    stored: list[tuple[str, MediaFile]] = field(default_factory=list)
    """Each made file under its storage key."""
    count: int = 0


class StandInModel:
    """One endpoint's output shape, derived from its contract."""

    def __init__(self, contract: Contract, limits: Limits) -> None:
        self.contract = contract
        self.endpoint = contract.endpoint
        self.limits = limits
        sem = contract.semantics
        self.media = sem.all_media()
        self.singles = {m.field: not any(isinstance(o, ListOf) for o in contract.output.field(m.field).options)
                        for m in self.media}
        self.keys = {m.field: _object_keys(contract, contract.output.field(m.field).type) for m in self.media}
        self.seed_field = sem.seed
        self.nsfw_field = sem.nsfw_flags
        self.echo = dict(sem.echo)
        self.text = set(sem.text)
        self.has_timings = contract.output.get("timings") is not None
        streaming = contract.streaming
        partial = streaming is not None and streaming.events == "partial"
        self.text_field = streaming.field if partial and streaming is not None else None
        self.flag_field = streaming.flag if partial and streaming is not None else None
        self.sync_field = sem.sync_mode

    # -- planning ---------------------------------------------------------------------------------

    def plan(self, payload: Mapping[str, object], file_digests: Mapping[str, str], rng: random.Random
             ) -> RunPlan | list[dict[str, object]]:
        """The run's seed and files, or model errors (fal's detail entries) when a limit refuses it."""
        effective = self.contract.apply_defaults(payload)
        seed: object = None
        if self.seed_field is not None:
            seed = effective.get(self.seed_field)
            if not is_integer(seed):
                seed = rng.randrange(2**31)
            effective[self.seed_field] = seed
        hashed = {**effective, **{name: f"sha256:{digest}" for name, digest in file_digests.items()}}
        canonical = json.dumps(hashed, sort_keys=True, separators=(",", ":"), default=str).encode()
        base = hashlib.blake2b(self.endpoint.encode() + b"\0" + canonical, digest_size=64).digest()
        plans: list[FilePlan] = []
        errors: list[dict[str, object]] = []
        for m in self.media:
            expected = expected_media(self.contract, m, effective)
            count = 1 if self.singles[m.field] else (expected.count if expected.count is not None else 1)
            if count > self.limits.max_images:
                errors.append(_limit_error(m.count or m.field, count, self.limits.max_images))
                continue
            for i in range(max(count, 0)):
                digest = hashlib.blake2b(base + m.field.encode() + i.to_bytes(4, "big"), digest_size=64).digest()
                if m is self.contract.semantics.images:  # the images keep the digests they always had
                    digest = hashlib.blake2b(base + i.to_bytes(4, "big"), digest_size=64).digest()
                media = self._media_plan(m, expected, digest)
                problem = self._too_big(m, media)
                if problem is not None:
                    errors.append(problem)
                    break
                plans.append(FilePlan(m.field, media))
        if errors:
            return errors
        text = sentence(base, 24) if self.text_field is not None else ""
        inline = self.sync_field is not None and effective.get(self.sync_field) is True
        return RunPlan(seed, effective, tuple(plans), base, inline=inline, text=text)

    def inline_files(self, plan: RunPlan) -> bool:
        """Whether this run returns its files inline (the contract's ``sync_mode`` field is true)."""
        return plan.inline

    def partial_output(self, output: Mapping[str, object], text: str) -> dict[str, object]:
        """One partial event of a partial-output stream: the output with its text cut to ``text``."""
        assert self.text_field is not None and self.flag_field is not None
        return {**output, self.text_field: text, self.flag_field: True}

    def _media_plan(self, m: MediaSemantics, expected: Expected, digest: bytes) -> MediaPlan:
        kind = m.kind
        fallback = DEFAULTS[kind]
        fmt = (expected.format or m.default_format or _generic_format(m) or fallback.format).lower()
        if fmt not in FORMATS[kind]:
            fmt = fallback.format
        if kind == "image":
            width, height = dimensions(expected, m.default_size or fallback.size)
            return MediaPlan(kind, "jpeg" if fmt == "jpg" else fmt, digest, width, height, hint=m.field)
        if kind == "video":
            width, height = dimensions(expected, m.default_size or fallback.size, even=True)
            fps = expected.fps or m.default_fps or fallback.fps
            if expected.frames is not None:
                frames = expected.frames
            else:
                seconds = expected.duration or m.default_duration or fallback.duration
                frames = max(1, round(seconds * fps))
            return MediaPlan(kind, fmt, digest, width, height, frames, fps, frames / fps, hint=m.field)
        if kind == "audio":
            seconds = expected.duration or m.default_duration or fallback.duration
            rate = expected.sample_rate or m.default_sample_rate or fallback.sample_rate
            return MediaPlan(kind, fmt, digest, duration=seconds, sample_rate=rate, hint=m.field)
        return MediaPlan(kind, fmt, digest, hint=m.field)

    def _too_big(self, m: MediaSemantics, plan: MediaPlan) -> dict[str, object] | None:
        limit = self.limits.max_image_pixels
        where = m.size or m.resolution or m.aspect_ratio or m.width or m.field
        pixels = plan.width * plan.height
        if plan.kind in ("image", "video") and (plan.width <= 0 or plan.height <= 0 or pixels > limit):
            return {
                "loc": ["body", where],
                "msg": f"{plan.kind.capitalize()} of {plan.width}x{plan.height} pixels is above the emulator's limit "
                       f"of {limit} pixels (limits.max_image_pixels)",
                "type": "image_too_large",
                "url": "https://docs.fal.ai/errors/#image_too_large",
                "ctx": {"max_pixels": limit, "width": plan.width, "height": plan.height},
            }
        if plan.frames > _MAX_FRAMES or plan.duration > _MAX_SECONDS:
            return {"loc": ["body", m.frames or m.duration or m.field],
                    "msg": f"The emulator makes at most {_MAX_FRAMES} frames and {_MAX_SECONDS:.0f} s per file",
                    "type": "less_than_equal", "ctx": {"le": _MAX_FRAMES}}
        return None

    # -- producing --------------------------------------------------------------------------------

    def produce(self, plan: RunPlan, files_base: str, run_seconds: float,
                name_key: Callable[[str], str], *, with_files: bool = True) -> Produced:
        """Make every planned file and the whole output (without ``with_files``, the output a stream
        previews: no files). ``name_key`` turns a file name into its storage key. Safe to run on a
        worker thread: it touches nothing shared."""
        produced = Produced({})
        objects: dict[str, list[dict[str, object]]] = {}
        for fp in plan.files if with_files else ():
            made = make_media(fp.media)
            objects.setdefault(fp.field, []).append(self._file_object(fp, made, plan, files_base, name_key, produced))
        out = produced.output
        for m in self.media:
            items = objects.get(m.field, [])
            out[m.field] = (items[0] if items else None) if self.singles[m.field] else items
            if self.singles[m.field] and not items:
                del out[m.field]
        if self.seed_field is not None and self.contract.output.get(self.seed_field) is not None:
            out[self.seed_field] = plan.seed
        images = self.contract.semantics.images
        if self.nsfw_field is not None:
            out[self.nsfw_field] = [False] * len(objects.get(images.field, []) if images else [])
        for out_name, in_name in self.echo.items():
            if in_name in plan.effective:
                out[out_name] = plan.effective[in_name]
        if self.has_timings and "timings" not in out:
            out["timings"] = {"inference": round(run_seconds, 6)}
        if self.text_field is not None and self.flag_field is not None:
            out[self.text_field] = plan.text
            out[self.flag_field] = False
        filler = _Filler(self.contract, plan, files_base, name_key, produced, self)
        for f in self.contract.output.fields:
            if f.name not in out and (with_files or f.name in self.contract.output.required):
                value = filler.field(f, 0, f.name in self.contract.output.required)
                if value is not UNSET:
                    out[f.name] = value
        produced.count = max(1, len(plan.files))
        return produced

    def _file_object(self, fp: FilePlan, made: MediaFile, plan: RunPlan, files_base: str,
                     name_key: Callable[[str], str], produced: Produced) -> dict[str, object]:
        name = made.file_name
        if plan.inline:
            url = f"data:{made.content_type};base64," + pybase64.b64encode(made.data).decode("ascii")
        else:
            key = name_key(name)
            _ = made.etag  # worked out here, on the thread that made the file, not on the event loop
            produced.stored.append((key, made))
            url = files_base + key
        full: dict[str, object] = {"url": url, "content_type": made.content_type, "file_name": name,
                                "file_size": len(made.data), **made.properties}
        keys = self.keys.get(fp.field)
        if keys is None:
            return {k: v for k, v in full.items() if k in ("url", "content_type", "file_name", "file_size")}
        return {k: v for k, v in full.items() if k in keys}


def _limit_error(where: str, count: int, limit: int) -> dict[str, object]:
    return {"loc": ["body", where],
            "msg": f"The emulator makes at most {limit} files per output field (limits.max_images)",
            "type": "less_than_equal", "ctx": {"le": limit}, "input": count}


def _generic_format(m: MediaSemantics) -> str | None:
    if m.kind != "file":
        return None
    if m.content_type:
        for fmt, media in FORMATS["file"].items():
            if media == m.content_type:
                return fmt
    lowered = m.field.lower()
    return next((fmt for word, fmt in _GENERIC_FORMATS if word in lowered), None)



def _object_of(contract: Contract, t: TypeExpr) -> ObjectSpec | None:
    for option in options_of(t):
        inner = option.item if isinstance(option, ListOf) else option
        for o in options_of(inner):
            if isinstance(o, Ref) and o.name in contract.types:
                return contract.types[o.name]
    return None


def _object_keys(contract: Contract, t: TypeExpr) -> frozenset[str] | None:
    spec = _object_of(contract, t)
    return frozenset(spec.field_names) if spec is not None and spec.fields else None


class _Filler:
    """Plausible values for every output field the semantics do not produce: within enums and
    bounds, text that reads as text, and real files for file objects found anywhere."""

    def __init__(self, contract: Contract, plan: RunPlan, files_base: str, name_key: Callable[[str], str],
                 produced: Produced, model: StandInModel) -> None:
        self.c = contract
        self.plan = plan
        self.files_base = files_base
        self.name_key = name_key
        self.produced = produced
        self.model = model
        self.n = 0

    def digest(self) -> bytes:
        self.n += 1
        return hashlib.blake2b(self.plan.digest + b"fill" + self.n.to_bytes(4, "big"), digest_size=64).digest()

    def field(self, f: FieldSpec, depth: int, required: bool) -> object:
        if f.has_default and f.default is not None:
            return f.default
        if f.enum is not None:
            values = [v for v in f.enum if v is not None]
            if values:
                return values[self.digest()[0] % len(values)]
        if depth > 3 and not required:
            return UNSET
        specs = list(f.branches) if f.branches is not None else [f] * len(f.options)
        for option, spec in zip(f.options, specs, strict=True):
            value = self.typed(option, spec, f.name, depth)
            if value is not UNSET:
                return value
        return None if f.nullable else UNSET

    def typed(self, t: TypeExpr, f: FieldSpec, name: str, depth: int) -> object:
        if isinstance(t, Scalar):
            return self.scalar(t.name, f, name)
        if isinstance(t, Ref):
            spec = self.c.types.get(t.name)
            if spec is None:
                return UNSET
            if {"url"} <= set(spec.field_names) and set(spec.field_names) & _FILE_KEYS:
                return self.file(spec, name)
            return self.object_value(spec, depth + 1)
        if isinstance(t, ListOf):
            if f.max_items == 0 or depth > 3:
                return []
            count = max(f.min_items or 0, 1)
            item = self.field(_as(f.items, t.item, name), depth + 1, True)
            return [] if item is UNSET else [item] * count if not isinstance(item, dict) else [
                item, *[self.field(_as(f.items, t.item, name), depth + 1, True) for _ in range(count - 1)]]
        if isinstance(t, MapOf):
            value = self.field(_as(f.items, t.value, name), depth + 1, True)
            return {} if value is UNSET else {"value": value}
        return UNSET

    def object_value(self, spec: ObjectSpec, depth: int) -> object:
        out: dict[str, object] = {}
        for f in spec.fields:
            value = self.field(f, depth, f.name in spec.required)
            if value is UNSET:
                if f.name in spec.required:
                    return UNSET
                continue
            out[f.name] = value
        return out

    def scalar(self, kind: str, f: FieldSpec, name: str) -> object:
        digest = self.digest()
        lowered = name.lower()
        if kind == "boolean":
            return False
        if kind in ("integer", "float"):
            lo = f.minimum if f.minimum is not None else f.exclusive_minimum
            hi = f.maximum if f.maximum is not None else f.exclusive_maximum
            low = lo if lo is not None else 0
            high = hi if hi is not None else low + 100
            if kind == "integer":
                start = int(low) + (1 if f.exclusive_minimum is not None and f.minimum is None else 0)
                end = int(high) - (1 if f.exclusive_maximum is not None and f.maximum is None else 0)
                return start + digest[0] % max(1, end - start + 1) if end >= start else start
            fraction = digest[0] / 255
            value = low + (high - low) * (0.25 + fraction / 2)
            return round(float(value), 4)
        if kind == ANY:
            return sentence(digest, 4)
        if f.pattern is not None:
            text = _matching(f, digest)
            return UNSET if text is None else text
        if lowered.endswith("_id") or lowered == "id":
            return digest[:8].hex()
        if "reason" in lowered:
            return "stop"
        if lowered.endswith("url"):
            return self.files_base + digest[:10].hex()
        text = sentence(digest, 8 if lowered in self.model.text else 5)
        if f.max_length is not None:
            text = text[: f.max_length]
        return text

    def file(self, spec: ObjectSpec, name: str) -> dict[str, object]:
        kind = output_kind(name, spec, None)
        media = MediaSemantics(field=name, kind=kind)
        fallback = DEFAULTS[kind]
        digest = self.digest()
        if kind in ("image", "video"):
            size = (256, 256) if kind == "image" else fallback.size
            plan = MediaPlan(kind, fallback.format, digest, size[0], size[1], 8, fallback.fps, 1.0, hint=name)
        elif kind == "audio":
            plan = MediaPlan(kind, fallback.format, digest, duration=1.0, sample_rate=fallback.sample_rate, hint=name)
        else:
            plan = MediaPlan(kind, _generic_format(media) or fallback.format, digest, hint=name)
        made = make_media(plan)
        keys = frozenset(spec.field_names)
        obj = self.model._file_object(FilePlan(name, plan), made, self.plan, self.files_base, self.name_key,
                                      self.produced)
        full = {**obj, **{k: v for k, v in made.properties.items() if k in keys}}
        return {k: v for k, v in full.items() if k in keys}


def _as(items: FieldSpec | None, t: TypeExpr, name: str) -> FieldSpec:
    if items is not None:
        return items
    return FieldSpec(name, t)


def _matching(f: FieldSpec, digest: bytes) -> str | None:
    """A string with a match of the field's pattern, the same for the same digest, within its length
    bounds; None when none is found (a pattern the generator cannot read, bounds it rarely meets)."""
    assert f.pattern is not None
    try:
        compiled = re.compile(f.pattern)
        generator = rstr.Rstr(random.Random(digest))
        for _ in range(16):
            text = generator.xeger(compiled)
            if compiled.search(text) and (f.min_length or 0) <= len(text) <= (f.max_length or len(text)):
                return text
    except (re.error, ValueError, TypeError, IndexError):
        pass
    return None
