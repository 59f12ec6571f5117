"""The contract model: what one endpoint accepts, returns and promises, as typed values.

A contract is loaded from a data file (see ``_loader``) and is immutable afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness._errors import ConfigError
from harness.contracts._types import ListOf, MapOf, Ref, Scalar, TypeExpr, Union, options_of

__all__ = [
    "UNSET",
    "Contract",
    "Example",
    "FieldSpec",
    "ImageSemantics",
    "MediaSemantics",
    "ObjectSpec",
    "PageRef",
    "Provenance",
    "Scenario",
    "Semantics",
    "Streaming",
]

#: the contract file format this code reads and writes
FORMAT_VERSION = 1


class _Unset:
    """Marks an absent default (``None`` is a legal default)."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()


@dataclass(frozen=True)
class FieldSpec:
    """One property of an object: its type and every constraint the page states."""

    name: str
    type: TypeExpr
    description: str | None = None
    title: str | None = None
    default: Any = UNSET
    enum: tuple[Any, ...] | None = None
    enum_name: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    nullable: bool = False
    file: str | None = None
    """Set on fields that take a file (URL or data URI), or a list of them: ``image``, ``video``,
    ``audio``, ``mesh``, ``archive`` or ``any``."""
    pattern: str | None = None
    """A regular expression string values must contain a match of (JSON Schema ``pattern``)."""
    format: str | None = None
    """The string format the document names (``binary``, ``uri``...): kept, not enforced."""
    deprecated: bool = False
    items: FieldSpec | None = None
    """Constraints on each item of the list (or each value of the map) this field's type holds;
    its ``type`` is that item type."""
    branches: tuple[FieldSpec, ...] | None = None
    """Constraints per option of a union, when its options carry different ones (one enum on one
    string branch, another range on each numeric branch); each entry's ``type`` is its option."""
    inferred: str | None = None
    """Why the type was inferred, when the page lost the field's type line."""
    sources: Mapping[str, str] = field(default_factory=dict)
    """Where constraints the page does not state come from: constraint name to source."""

    @property
    def has_default(self) -> bool:
        return self.default is not UNSET

    @property
    def options(self) -> tuple[TypeExpr, ...]:
        """The type's options: the branches of a union, else the type itself."""
        return options_of(self.type)

    def scalar_kinds(self) -> set[str]:
        """The scalar names this field's type admits directly (not through a list or object)."""
        return {o.name for o in options_of(self.type) if isinstance(o, Scalar)}

    def refs(self) -> set[str]:
        """Names of object types this field refers to, at any depth of lists and unions."""
        return _refs(self.type)


@dataclass(frozen=True)
class ObjectSpec:
    """An object type: the input, the output, or a named type under ``types:``."""

    name: str
    fields: tuple[FieldSpec, ...]
    required: tuple[str, ...] = ()
    description: str | None = None
    title: str | None = None
    additional: bool | TypeExpr = True
    """Whether unknown keys are allowed (``True``/``False``) or the type their values must have."""

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def get(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


@dataclass(frozen=True)
class MediaSemantics:
    """How one output field's files (images, videos, audio, 3D meshes, other files) relate to the
    input; read by the emulator, which makes them, and by the checks, which judge real ones.

    Each ``str`` key names an input field; ``default_*`` keys say what the endpoint makes when no
    input field decides. Which keys a kind accepts is in ``harness.contracts._semantics.KIND_KEYS``.
    """

    field: str
    """Output field holding the files: a list of file objects or a single one."""
    kind: str = "image"
    """``image``, ``video``, ``audio``, ``mesh`` or ``file``."""
    count: str | None = None
    """Input field giving the number of files; without one a list holds exactly one."""
    size: str | None = None
    """Input field giving the size: a preset name or ``{width, height}``."""
    format: str | None = None
    """Input field giving the format (``png``, ``jpeg``, ``mp4``, ``wav``, ``glb``...)."""
    default_size: tuple[int, int] | None = None
    """(width, height) the endpoint produces when no input decides; used by the emulator."""
    default_format: str | None = None
    """Format produced when no input decides."""
    presets: Mapping[str, tuple[int, int]] | None = None
    """Size preset names to (width, height); absent means fal's standard image-size presets."""
    aspect_ratio: str | None = None
    """Input field giving the aspect ratio (``16:9``)."""
    resolution: str | None = None
    """Input field giving the resolution by its short side (``720p``) or its class (``2K``)."""
    width: str | None = None
    height: str | None = None
    """Input fields giving the width and the height in pixels."""
    duration: str | None = None
    """Input field giving the duration in seconds (a number, or a string such as ``"5"``, ``"5s"``)."""
    default_duration: float | None = None
    frames: str | None = None
    """Input field giving the number of frames (with the frame rate, it fixes the duration)."""
    fps: str | None = None
    """Input field giving the frame rate."""
    default_fps: float | None = None
    sample_rate: str | None = None
    """Input field giving the sample rate in Hz."""
    default_sample_rate: int | None = None
    content_type: str | None = None
    """The media type a generic file has (``application/zip``), when no format decides."""


ImageSemantics = MediaSemantics
"""How the output's images relate to the input: media semantics of kind ``image``."""


@dataclass(frozen=True)
class Semantics:
    """Invariants between input and output that a schema cannot state."""

    images: MediaSemantics | None = None
    media: Mapping[str, MediaSemantics] = field(default_factory=dict)
    """Further output fields holding files, by field name (videos, audio, meshes, other files)."""
    text: tuple[str, ...] = ()
    """Output fields holding the model's text answer: present and not empty."""
    seed: str | None = None
    """Field echoed from input to output when given (same name on both sides)."""
    nsfw_flags: str | None = None
    """Output list with one boolean per image."""
    echo: Mapping[str, str] = field(default_factory=dict)
    """Output field to the input field it repeats."""
    sync_mode: str | None = None
    """Boolean input field that, when true, makes every output file come back inline as a data URI
    of its media type, with nothing stored on the CDN."""

    def all_media(self) -> tuple[MediaSemantics, ...]:
        """Every output field holding files: the images first, then the other media."""
        return ((self.images,) if self.images is not None else ()) + tuple(self.media.values())


@dataclass(frozen=True)
class Streaming:
    """How the endpoint streams on ``POST {run}/{endpoint}/stream`` (server-sent JSON events).

    Every event is a JSON object and the last one is the complete output."""

    events: str
    """``partial``: partial outputs whose text ``field`` grows, ``flag`` true until the last
    event; ``progress``: ``{"progress": 0..1, "message"}`` events before the output."""
    field: str | None = None
    """(partial) the string output field that grows from event to event."""
    flag: str | None = None
    """(partial) the boolean output field that is true on partial events and false on the last."""
    count: int = 4
    """Events the emulator sends before the final output."""


@dataclass(frozen=True)
class PageRef:
    """A page a contract was written from: the seed page, the client package it names, a note."""

    seed: str
    client_package: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Provenance:
    """Where a contract comes from: the pages it was written from and notes on it."""

    pages: tuple[PageRef, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Example:
    """A page's example input and output, kept verbatim."""

    name: str
    seed: str | None = None
    input: Mapping[str, Any] | None = None
    output: Mapping[str, Any] | None = None
    output_omits: tuple[str, ...] = ()
    """Required output fields the page's example leaves out (its generator drops fields without
    an example value); validation of this example allows exactly these to be missing."""
    note: str | None = None


@dataclass(frozen=True)
class Scenario:
    """A named, runnable use of the endpoint."""

    name: str
    input: Mapping[str, Any]
    description: str | None = None
    files: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    """Input field to a bundled fixture file name (a list of them for a field of files); the client
    passes each file by the chosen path (storage upload, data URI or hosted URL)."""
    expect_status: int = 200
    """The HTTP status the scenario expects from the model (422 for a deliberately invalid one)."""


@dataclass(frozen=True)
class Contract:
    """Everything the harness knows about one endpoint."""

    endpoint: str
    input: ObjectSpec
    output: ObjectSpec
    types: Mapping[str, ObjectSpec] = field(default_factory=dict)
    contract_version: int = 1
    title: str | None = None
    description: str | None = None
    app_root_override: str | None = None
    provenance: Provenance = field(default_factory=Provenance)
    semantics: Semantics = field(default_factory=Semantics)
    examples: tuple[Example, ...] = ()
    scenarios: tuple[Scenario, ...] = ()
    streaming: Streaming | None = None
    """How ``/stream`` answers; ``None``: the endpoint does not stream."""
    realtime: bool = False
    """The endpoint has a realtime websocket at ``/{endpoint}/realtime`` (msgpack or JSON)."""
    format_version: int = FORMAT_VERSION
    source: Path | None = field(default=None, compare=False)
    """The file it was loaded from (not part of equality)."""

    @property
    def app_root(self) -> str:
        """``owner/alias`` (``namespace/owner/alias`` for workflows/comfy): where status,
        result and cancel URLs live."""
        if self.app_root_override:
            return self.app_root_override
        return app_root_of(self.endpoint)

    def scenario(self, name: str) -> Scenario:
        for s in self.scenarios:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.scenarios) or "none"
        raise ConfigError(f"{self.endpoint} has no scenario {name!r} (known: {known})")

    def object(self, name: str) -> ObjectSpec:
        return self.types[name]

    def file_fields(self) -> list[str]:
        """Top-level input fields that take a file."""
        return [f.name for f in self.input.fields if f.file]

    def apply_defaults(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The input as the model sees it: ``payload`` plus every top-level default it omits."""
        effective = dict(payload)
        for f in self.input.fields:
            if f.name not in effective and f.has_default:
                effective[f.name] = f.default
        return effective


_NAMESPACES = ("workflows", "comfy")


def app_root_of(endpoint: str) -> str:
    """The app an endpoint id belongs to (``fal-ai/flux/dev`` -> ``fal-ai/flux``), under which its
    queue requests' status and result live."""
    parts = endpoint.split("/")
    if parts[0] in _NAMESPACES:
        return "/".join(parts[:3])
    return "/".join(parts[:2])



def _refs(t: TypeExpr) -> set[str]:
    if isinstance(t, Ref):
        return {t.name}
    if isinstance(t, ListOf):
        return _refs(t.item)
    if isinstance(t, MapOf):
        return _refs(t.value)
    if isinstance(t, Union):
        out: set[str] = set()
        for o in t.options:
            out |= _refs(o)
        return out
    return set()
