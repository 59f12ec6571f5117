"""The shape of a contract file (format version 1), as the dataclasses ``load_model`` reads it into.

Each class mirrors one mapping of the file, key for key: pydantic checks keys, types, bounds and
names, and a validator states what pydantic cannot see (a type expression that does not parse, a
semantics key its kind of output does not take). What needs the whole contract (a type that is
not declared, a default outside its range, a scenario that breaks the input) is checked by the
loader once the file has this shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SkipValidation, with_config

from harness._data import FILE_MODEL, Problem, StrictBool, StrictFloat, StrictInt, StrictStr, kind_of
from harness._json import is_integer, is_number
from harness.contracts._frozen import FrozenDict, FrozenList
from harness.contracts._model import FORMAT_VERSION, UNSET
from harness.contracts._semantics import FORMATS, KIND_KEYS
from harness.contracts._types import ANY, SCALARS, TypeExpr, TypeSyntaxError, parse_type

__all__ = [
    "CONSTRAINT_KEYS",
    "ENDPOINT_ID_PATTERN",
    "ConstraintsFile",
    "ContractFile",
    "ExampleFile",
    "FieldFile",
    "ImagesFile",
    "MediaEntryFile",
    "MediaFile",
    "ObjectFile",
    "PageFile",
    "ProvenanceFile",
    "ScenarioFile",
    "SemanticsFile",
    "SizeFile",
    "StreamingFile",
]

#: an endpoint id: two or more /-separated names of letters, digits, ``_.-``, none starting with a dot,
#: so no id can name ``.`` or ``..`` and reach outside the folder a cassette or contract goes in
ENDPOINT_ID_PATTERN = r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*(/[A-Za-z0-9_\-][A-Za-z0-9_.\-]*)+$"

#: the bounds a field, a list item or a union branch may set, in file order
CONSTRAINT_KEYS = (
    "minimum", "maximum", "exclusive_minimum", "exclusive_maximum",
    "min_length", "max_length", "min_items", "max_items",
)


# -- values --------------------------------------------------------------------------------------


def _frozen_json(value: object, at: tuple[str | int, ...]) -> object:
    """``value`` read-only if it is JSON data; otherwise a :class:`Problem` at the first value that is not."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list):
        return FrozenList(_frozen_json(item, (*at, i)) for i, item in enumerate(value))
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise Problem(f"expected a string key, got {kind_of(key)}", *at, str(key))
            out[key] = _frozen_json(item, (*at, key))
        return FrozenDict(out)
    raise Problem(f"expected JSON data, got {kind_of(value)}", *at)


def _json_value(value: object) -> object:
    return _frozen_json(value, ())


def _json_object(value: object) -> object:
    if not isinstance(value, dict):
        raise Problem(f"expected a mapping, got {kind_of(value)}")
    return _frozen_json(value, ())


def _number(value: object) -> object:
    if not is_number(value):
        raise Problem(f"expected a number, got {kind_of(value)}")
    return value


def _positive(value: object) -> object:
    if is_number(value) and not value > 0:
        raise Problem(f"must be above 0, got {value!r}")
    return _number(value)


def _format_version(value: object) -> object:
    if not is_integer(value) or value != FORMAT_VERSION:
        raise Problem(f"must be {FORMAT_VERSION} (this harness reads format version {FORMAT_VERSION}), got {value!r}")
    return value


def _endpoint_id(value: str) -> str:
    if len(value) > 200 or not re.fullmatch(ENDPOINT_ID_PATTERN, value):
        raise Problem(f"not an endpoint id: {value!r} (at most 200 characters: names of letters, digits and "
                      "'_.-' joined by '/', none starting with a dot)")
    return value


def _named(pattern: str, words: str) -> AfterValidator:
    """A name that must match ``pattern``; ``words`` say what that allows."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise Problem(f"invalid name {value!r}: use {words}")
        return value

    return AfterValidator(check)


def _type_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name in SCALARS or name in ("list", "map", ANY):
        raise Problem(f"type name {name!r} must be an identifier that is not a scalar name (string, integer, "
                      "float, boolean, any)")
    return name


def _type_expr(value: object) -> TypeExpr:
    if not isinstance(value, str):
        raise Problem(f"expected a type expression (a string), got {kind_of(value)}")
    try:
        return parse_type(value)
    except TypeSyntaxError as exc:
        raise Problem(str(exc)) from None


def _additional(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _type_expr(value)
    raise Problem(f"expected true, false or a type expression, got {kind_of(value)}")


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            raise Problem(f"{value!r} is listed twice", i)
        seen.add(value)
    return values


def _file_names(value: object) -> object:
    """One fixture file's name, or a list of at least one."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise Problem(f"expected a file name or a list of them, got {kind_of(value)}")
    if not value:
        raise Problem("expected at least 1 file name, got 0")
    for i, name in enumerate(value):
        if not isinstance(name, str):
            raise Problem(f"expected a string, got {kind_of(name)}", i)
    return FrozenList(value)


#: any JSON value, made read-only (a default, an enum value)
JsonData = Annotated[object, SkipValidation(), BeforeValidator(_json_value)]
#: a JSON object, made read-only (an example's or a scenario's payload)
JsonMapping = Annotated[Mapping[str, object], SkipValidation(), BeforeValidator(_json_object)]
#: a JSON number (an integer stays an integer)
Number = Annotated[StrictInt | StrictFloat, SkipValidation(), BeforeValidator(_number)]
Positive = Annotated[StrictInt | StrictFloat, SkipValidation(), BeforeValidator(_positive)]
Count = Annotated[StrictInt, Field(ge=0)]
#: names that may each be given once
Names = Annotated[tuple[StrictStr, ...], AfterValidator(_unique)]
TypeField = Annotated[TypeExpr, SkipValidation(), BeforeValidator(_type_expr)]
TypeName = Annotated[str, AfterValidator(_type_name)]
FileNames = Annotated[StrictStr | list[StrictStr], SkipValidation(), BeforeValidator(_file_names)]


# -- objects and fields --------------------------------------------------------------------------


@with_config(FILE_MODEL)
@dataclass(frozen=True, kw_only=True)
class ConstraintsFile:
    """The keys that constrain a value: a field's, a list item's (``items``) and a union branch's
    (``branches``)."""

    description: StrictStr | None = None
    title: StrictStr | None = None
    default: JsonData = UNSET
    enum: Annotated[tuple[JsonData, ...], Field(min_length=1)] | None = None
    enum_name: StrictStr | None = None
    minimum: Number | None = None
    maximum: Number | None = None
    exclusive_minimum: Number | None = None
    exclusive_maximum: Number | None = None
    min_length: Count | None = None
    max_length: Count | None = None
    min_items: Count | None = None
    max_items: Count | None = None
    pattern: StrictStr | None = None
    format: StrictStr | None = None
    nullable: StrictBool = False
    deprecated: StrictBool = False
    file: Literal["image", "video", "audio", "mesh", "archive", "any"] | None = None
    items: ConstraintsFile | None = None
    branches: Annotated[tuple[ConstraintsFile, ...], Field(min_length=2)] | None = None
    inferred: StrictStr | None = None
    sources: Mapping[str, StrictStr] = field(default_factory=dict)

    def sets(self, key: str) -> bool:
        """Whether the file gives ``key`` a value (a key this mapping does not take is never set)."""
        if key not in _CONSTRAINTS_FIELDS:
            return False
        value = getattr(self, key)
        if key == "default":
            return value is not UNSET  # null is a default
        return value is not None and value is not False


_CONSTRAINTS_FIELDS = frozenset(f.name for f in fields(ConstraintsFile))


@with_config(FILE_MODEL)
@dataclass(frozen=True, kw_only=True)
class FieldFile(ConstraintsFile):
    """One field of an object: its type expression and its constraints."""

    FILE_KEYS: ClassVar[tuple[str, ...]] = ("type", *(f.name for f in fields(ConstraintsFile)))

    type: TypeField


@with_config(FILE_MODEL)
@dataclass(frozen=True, kw_only=True)
class ObjectFile:
    """An object type: ``input``, ``output``, or one under ``types``."""

    name: StrictStr | None = None
    title: StrictStr | None = None
    description: StrictStr | None = None
    required: Names = ()
    fields: Mapping[str, FieldFile]
    additional: Annotated[bool | TypeExpr, SkipValidation(), BeforeValidator(_additional)] = True

    def __post_init__(self) -> None:
        for i, name in enumerate(self.required):
            if name not in self.fields:
                raise Problem(f"required field {name!r} is not among the fields", "required", i)


# -- semantics -----------------------------------------------------------------------------------


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class SizeFile:
    """A width and a height in pixels."""

    width: Annotated[StrictInt, Field(ge=1)]
    height: Annotated[StrictInt, Field(ge=1)]


@with_config(FILE_MODEL)
@dataclass(frozen=True, kw_only=True)
class MediaFile:
    """The keys of a media entry; which apply to which kind of output is checked as it is read."""

    count: StrictStr | None = None
    size: StrictStr | None = None
    format: StrictStr | None = None
    default_size: SizeFile | None = None
    default_format: StrictStr | None = None
    presets: Mapping[str, SizeFile] | None = None
    aspect_ratio: StrictStr | None = None
    resolution: StrictStr | None = None
    width: StrictStr | None = None
    height: StrictStr | None = None
    duration: StrictStr | None = None
    default_duration: Positive | None = None
    frames: StrictStr | None = None
    fps: StrictStr | None = None
    default_fps: Positive | None = None
    sample_rate: StrictStr | None = None
    default_sample_rate: Annotated[StrictInt, Field(ge=1)] | None = None
    content_type: StrictStr | None = None

    @property
    def media_kind(self) -> str:
        """``image``, ``video``, ``audio``, ``mesh`` or ``file``."""
        return "image"

    def __post_init__(self) -> None:
        kind = self.media_kind
        allowed = KIND_KEYS[kind]
        for key in _MEDIA_FIELDS:
            if key not in allowed and getattr(self, key) is not None:
                raise Problem(f"{key} does not apply to {kind} outputs ({kind} takes: "
                              f"{', '.join(sorted(allowed - {'field', 'kind'}))})", key)
        fmt = self.default_format
        if fmt is not None and fmt.lower() not in FORMATS[kind]:
            raise Problem(f"{fmt!r} is not a {kind} format this harness makes or checks (known: "
                          f"{', '.join(FORMATS[kind])})", "default_format")


_MEDIA_FIELDS = tuple(f.name for f in fields(MediaFile))


@with_config(FILE_MODEL)
@dataclass(frozen=True, kw_only=True)
class ImagesFile(MediaFile):
    """``semantics.images``: the output field holding the images, and how the input decides them."""

    FILE_KEYS: ClassVar[tuple[str, ...]] = ("field", *_MEDIA_FIELDS)

    field: StrictStr


@with_config(FILE_MODEL)
@dataclass(frozen=True, kw_only=True)
class MediaEntryFile(MediaFile):
    """One entry of ``semantics.media`` (named by its output field): its kind, and how the input decides it."""

    FILE_KEYS: ClassVar[tuple[str, ...]] = ("kind", *_MEDIA_FIELDS)

    kind: Literal["image", "video", "audio", "mesh", "file"]

    @property
    def media_kind(self) -> str:
        return self.kind


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class SemanticsFile:
    """``semantics``: invariants between the input and the output."""

    images: ImagesFile | None = None
    media: Mapping[str, MediaEntryFile] = field(default_factory=dict)
    text: Names = ()
    seed: StrictStr | None = None
    nsfw_flags: StrictStr | None = None
    echo: Mapping[str, StrictStr] = field(default_factory=dict)
    sync_mode: StrictStr | None = None


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class StreamingFile:
    """``streaming``: the kind of events the endpoint streams."""

    events: Literal["partial", "progress"]
    field: StrictStr | None = None
    flag: StrictStr | None = None
    count: Annotated[StrictInt, Field(ge=1, le=1000)] = 4


# -- the rest ------------------------------------------------------------------------------------


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class PageFile:
    """One page of ``provenance.pages``."""

    seed: StrictStr
    client_package: StrictStr | None = None
    note: StrictStr | None = None


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class ProvenanceFile:
    """``provenance``: the pages a contract was written from, and notes."""

    pages: tuple[PageFile, ...] = ()
    notes: tuple[StrictStr, ...] = ()


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class ExampleFile:
    """One of ``examples``: a page's example, verbatim."""

    name: Annotated[StrictStr, _named(r"[A-Za-z_][A-Za-z0-9_\-]*", "letters, digits, '_' and '-'")]
    seed: StrictStr | None = None
    input: JsonMapping | None = None
    output: JsonMapping | None = None
    output_omits: tuple[StrictStr, ...] = ()
    note: StrictStr | None = None


@with_config(FILE_MODEL)
@dataclass(frozen=True, kw_only=True)
class ScenarioFile:
    """One of ``scenarios`` (named by its key): an input to run."""

    description: StrictStr | None = None
    input: JsonMapping
    files: Mapping[str, FileNames] = field(default_factory=dict)
    expect_status: Annotated[StrictInt, Field(ge=100, le=599)] = 200


ScenarioName = Annotated[str, _named(r"[a-z0-9][a-z0-9\-]*", "lowercase letters, digits and dashes")]


@with_config(FILE_MODEL)
@dataclass(frozen=True, kw_only=True)
class ContractFile:
    """A whole contract file."""

    format_version: Annotated[StrictInt, BeforeValidator(_format_version)]
    endpoint: Annotated[StrictStr, AfterValidator(_endpoint_id)]
    contract_version: Annotated[StrictInt, Field(ge=1)] = 1
    title: StrictStr | None = None
    description: StrictStr | None = None
    app_root: StrictStr | None = None
    provenance: ProvenanceFile = ProvenanceFile()
    input: ObjectFile
    output: ObjectFile
    types: Mapping[TypeName, ObjectFile] = field(default_factory=dict)
    semantics: SemanticsFile = SemanticsFile()
    examples: tuple[ExampleFile, ...] = ()
    scenarios: Mapping[ScenarioName, ScenarioFile] = field(default_factory=dict)
    streaming: StreamingFile | None = None
    realtime: StrictBool = False
