"""The stand-in model: from a contract and an input, the output a real model would give.

Everything is read from the contract's semantics (image field, count, size, format, seed, echo),
worked out once per contract; a request only plans its images and fills in the output.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.contracts import UNSET, Contract, ListOf, ObjectSpec, Ref, Scalar, TypeExpr, Union
from harness.contracts._semantics import default_size, expected_count, expected_format, expected_size
from harness.emulator._config import Limits
from harness.emulator._images import FORMATS, ImageFile

__all__ = ["ImagePlan", "RunPlan", "StandInModel"]

_FALLBACK_SIZE = (1024, 1024)
_ZERO: Mapping[str, Any] = {"string": "", "integer": 0, "float": 0.0, "boolean": False}


@dataclass(frozen=True)
class ImagePlan:
    width: int
    height: int
    fmt: str
    digest: bytes


@dataclass(frozen=True)
class RunPlan:
    """What one run will produce, fixed before it starts."""

    seed: Any
    effective: Mapping[str, Any]
    images: tuple[ImagePlan, ...]
    digest: bytes = b""
    """Fixed by the endpoint and the effective input (files by content): the run's look."""
    text: str = ""
    """The streamed text field's final value (partial-output streams), else empty."""


class StandInModel:
    """One endpoint's output shape, derived from its contract."""

    def __init__(self, contract: Contract, limits: Limits) -> None:
        self.contract = contract
        self.endpoint = contract.endpoint
        self.limits = limits
        sem = contract.semantics
        images = sem.images
        self.image_field = images.field if images else None
        out_field = contract.output.get(self.image_field) if self.image_field else None
        self.single = out_field is not None and not isinstance(out_field.type, ListOf)
        self.image_keys = _image_keys(contract, out_field.type) if out_field is not None else None
        self.count_field = images.count if images else None
        self.size_field = images.size if images else None
        self.default_size = default_size(contract) or _FALLBACK_SIZE
        self.default_format = (images.default_format if images and images.default_format else "png").lower()
        self.seed_field = sem.seed
        self.nsfw_field = sem.nsfw_flags
        self.echo = dict(sem.echo)
        self.has_timings = contract.output.get("timings") is not None
        streaming = contract.streaming
        partial = streaming is not None and streaming.events == "partial"
        self.text_field = streaming.field if partial and streaming is not None else None
        self.flag_field = streaming.flag if partial and streaming is not None else None
        self.sync_field = sem.sync_mode
        covered = {self.image_field, self.seed_field, self.nsfw_field, "timings", self.text_field, *self.echo}
        self.fillers = {
            name: _filler(contract, contract.output.field(name).type, contract.output.field(name).default)
            for name in contract.output.required
            if name not in covered
        }

    def plan(self, payload: Mapping[str, Any], file_digests: Mapping[str, str], rng: random.Random
             ) -> RunPlan | list[dict[str, Any]]:
        """The run's seed and images, or model errors (fal's detail entries) when a limit refuses it."""
        effective = self.contract.apply_defaults(payload)
        seed: Any = None
        if self.seed_field is not None:
            seed = effective.get(self.seed_field)
            if not isinstance(seed, int) or isinstance(seed, bool):
                seed = rng.randrange(2**31)
            effective[self.seed_field] = seed
        hashed = {**effective, **{name: f"sha256:{digest}" for name, digest in file_digests.items()}}
        canonical = json.dumps(hashed, sort_keys=True, separators=(",", ":"), default=str).encode()
        base = hashlib.blake2b(self.endpoint.encode() + b"\0" + canonical, digest_size=64).digest()
        text = _text(base) if self.text_field is not None else ""
        if self.image_field is None:
            return RunPlan(seed, effective, (), base, text)
        # The same reading of the semantics as the checks that judge real outputs.
        count = 1 if self.single else expected_count(self.contract, effective) or 1
        width, height = expected_size(self.contract, effective) or self.default_size
        fmt = (expected_format(self.contract, effective) or self.default_format).lower()
        if fmt not in FORMATS:
            fmt = "png"
        errors = self._limit_errors(count, width, height)
        if errors:
            return errors
        plans = tuple(
            ImagePlan(width, height, fmt, hashlib.blake2b(base + i.to_bytes(4, "big"), digest_size=64).digest())
            for i in range(count)
        )
        return RunPlan(seed, effective, plans, base, text)

    def inline_files(self, plan: RunPlan) -> bool:
        """Whether this run returns its files inline (the contract's ``sync_mode`` field is true)."""
        return self.sync_field is not None and plan.effective.get(self.sync_field) is True

    def partial_output(self, output: Mapping[str, Any], text: str) -> dict[str, Any]:
        """One partial event of a partial-output stream: the output with its text cut to ``text``."""
        assert self.text_field is not None and self.flag_field is not None
        return {**output, self.text_field: text, self.flag_field: True}

    def output(self, plan: RunPlan, files: list[tuple[str, str, ImageFile]], run_seconds: float) -> dict[str, Any]:
        """The model's answer; ``files`` holds (url, file name, image) for each planned image."""
        out: dict[str, Any] = {}
        if self.image_field is not None:
            objects = [self._image_object(url, name, image) for url, name, image in files]
            out[self.image_field] = objects[0] if self.single and objects else objects
        if self.seed_field is not None and self.contract.output.get(self.seed_field) is not None:
            out[self.seed_field] = plan.seed
        if self.nsfw_field is not None:
            out[self.nsfw_field] = [False] * len(files)
        for out_name, in_name in self.echo.items():
            if in_name in plan.effective:
                out[out_name] = plan.effective[in_name]
        if self.has_timings:
            out["timings"] = {"inference": round(run_seconds, 6)}
        if self.text_field is not None and self.flag_field is not None:
            out[self.text_field] = plan.text
            out[self.flag_field] = False
        for name, value in self.fillers.items():
            out.setdefault(name, value)
        return out

    def _limit_errors(self, count: int, width: int, height: int) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = []
        if count > self.limits.max_images:
            errors.append({
                "loc": ["body", self.count_field or self.image_field],
                "msg": f"The emulator makes at most {self.limits.max_images} images per request "
                       "(limits.max_images)",
                "type": "less_than_equal",
                "ctx": {"le": self.limits.max_images},
                "input": count,
            })
        if width <= 0 or height <= 0 or width * height > self.limits.max_image_pixels:
            errors.append({
                "loc": ["body", self.size_field] if self.size_field else ["body"],
                "msg": f"Image of {width}x{height} pixels is above the emulator's limit of "
                       f"{self.limits.max_image_pixels} pixels per image (limits.max_image_pixels)",
                "type": "image_too_large",
                "url": "https://docs.fal.ai/errors/#image_too_large",
                "ctx": {"max_pixels": self.limits.max_image_pixels, "width": width, "height": height},
            })
        return errors

    def _image_object(self, url: str, name: str, image: ImageFile) -> dict[str, Any]:
        full = {"url": url, "content_type": image.content_type, "file_name": name, "file_size": len(image.data),
                "width": image.width, "height": image.height}
        if self.image_keys is None:
            return full
        return {k: v for k, v in full.items() if k in self.image_keys}


def _options(t: TypeExpr) -> tuple[TypeExpr, ...]:
    return t.options if isinstance(t, Union) else (t,)


def _object_of(contract: Contract, t: TypeExpr) -> ObjectSpec | None:
    for option in _options(t.item if isinstance(t, ListOf) else t):
        if isinstance(option, Ref) and option.name in contract.types:
            return contract.types[option.name]
    return None


def _image_keys(contract: Contract, t: TypeExpr) -> frozenset[str] | None:
    spec = _object_of(contract, t)
    return frozenset(spec.field_names) if spec is not None and spec.fields else None


def _filler(contract: Contract, t: TypeExpr, default: Any) -> Any:
    """A value of type ``t`` for a required output field the semantics do not produce."""
    if default is not UNSET:
        return default
    first = _options(t)[0]
    if isinstance(first, Scalar):
        return _ZERO.get(first.name, "")
    if isinstance(first, ListOf):
        return []
    spec = contract.types.get(first.name) if isinstance(first, Ref) else None
    if spec is None:
        return {}
    return {name: _filler(contract, spec.field(name).type, spec.field(name).default) for name in spec.required}


_WORDS = (
    "the", "light", "turns", "over", "water", "while", "a", "keeper", "climbs", "stair", "and", "counts",
    "ships", "that", "pass", "in", "silence", "under", "sky", "of", "slate", "salt", "where", "gulls", "lean",
    "on", "wind", "every", "wave", "returns", "with", "news", "from", "far", "harbours", "bright", "cold",
)


def _text(digest: bytes, words: int = 24) -> str:
    """A deterministic answer of ``words`` words picked by ``digest``: a stand-in model's text."""
    picked = [_WORDS[b % len(_WORDS)] for b in digest[:words]]
    return " ".join(picked).capitalize() + "."
