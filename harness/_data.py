"""Reading and writing data files, done one way everywhere so every file the harness reads reports a
mistake in the same one-line form (file, key path, what).

Every file is read through :func:`read_text`: regular files only (a FIFO or a device would block or
never end), within a size bound, and strict UTF-8. Every document is parsed through
:func:`parse_json_or_yaml` or :func:`parse_yaml`: bounded in nesting depth and in the number of values
it expands to, so an alias bomb or a pathological document is refused before anything walks it.
Parsed data becomes typed values through :func:`load_model`: pydantic validates the harness's own
dataclasses, and its structured errors (location, kind, bounds) are worded here once for every kind
of file; a validator states a problem pydantic cannot see by raising :class:`Problem`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar, Union, cast, get_args, get_origin

import orjson
import yaml
from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
)
from pydantic_core import ErrorDetails

from harness._errors import DataFileError
from harness._json import Json, JsonValue

__all__ = [
    "FILE_MODEL",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_VALUES",
    "RESULT_MODEL",
    "JsonObjectField",
    "JsonValueField",
    "Problem",
    "SafeDumper",
    "SafeLoader",
    "StrictBool",
    "StrictFloat",
    "StrictInt",
    "StrictStr",
    "Text",
    "check_value",
    "decode_text",
    "dump_json",
    "dump_model",
    "dump_yaml",
    "exact_keys",
    "join_key",
    "json_type",
    "key_path",
    "kind_of",
    "load_data_file",
    "load_model",
    "load_nested",
    "load_yaml",
    "model_adapter",
    "parse_json",
    "parse_json_or_yaml",
    "parse_yaml",
    "read_bytes",
    "read_head",
    "read_text",
    "value_bounds_problem",
    "yaml_problem",
]

T = TypeVar("T")

#: the largest data file (contract, cassette, config, OpenAPI document, run file) read whole
MAX_FILE_BYTES = 64 * 1024 * 1024
#: the deepest nesting of a document's values; real files stay under 20
MAX_DEPTH = 100
#: the most values a document may expand to, aliases counted at each use
MAX_VALUES = 1_000_000

#: PyYAML's safe loader and dumper, the C ones when available (every reader and writer of YAML uses these)
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SafeDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class SafeLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """The safe loader, checking the composed document's size and depth before building values."""

    def get_single_data(self) -> Json:
        node = self.get_single_node()
        if node is None:
            return None
        _check_nodes(node)
        data: Json = self.construct_document(node)
        return data


class _TooBig(Exception):
    def __init__(self, problem: str, mark: yaml.Mark | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.mark = mark


def _check_nodes(root: yaml.Node) -> None:
    """Refuse a node graph that is too deep, refers to itself, or expands to too many values."""
    done: dict[int, tuple[int, int]] = {}  # id -> (expanded values, height)
    busy: set[int] = set()

    def visit(node: yaml.Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in done:
            size, height = done[key]
        else:
            if key in busy:
                raise _TooBig("an alias refers to a value that contains it", node.start_mark)
            if depth > MAX_DEPTH:
                raise _TooBig(f"nested deeper than {MAX_DEPTH} levels", node.start_mark)
            busy.add(key)
            size, height = 1, 0
            children: list[yaml.Node] = []
            if isinstance(node, yaml.SequenceNode):
                children = list(node.value)
            elif isinstance(node, yaml.MappingNode):
                children = [part for pair in node.value for part in pair]
            for child in children:
                s, h = visit(child, depth + 1)
                size += s
                height = max(height, h + 1)
                if size > MAX_VALUES:
                    raise _TooBig(f"expands to more than {MAX_VALUES:,} values (aliases counted at each use)",
                                  node.start_mark)
            busy.discard(key)
            done[key] = (size, height)
        if depth + height > MAX_DEPTH:
            raise _TooBig(f"nested deeper than {MAX_DEPTH} levels", node.start_mark)
        return size, height

    visit(root, 0)


def value_bounds_problem(value: object, max_depth: int = MAX_DEPTH, max_values: int = MAX_VALUES) -> str | None:
    """Why parsed JSON data is past the bounds (too deep, too many values), or ``None``; walked
    without recursion, so any depth is safe to ask about."""
    count = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        count += 1
        if depth > max_depth:
            return f"nested deeper than {max_depth} levels"
        if count > max_values:
            return f"holds more than {max_values:,} values"
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return None


def check_value(value: T, name: str | Path) -> T:
    """``value`` (parsed JSON) if it is within the depth and size bounds, else a DataFileError."""
    problem = value_bounds_problem(value)
    if problem is not None:
        raise DataFileError(name, "", problem)
    return value


def _describe_mode(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bytes(path: str | Path, *, limit: int | None = None, what: str = "file") -> bytes:
    """A regular file's bytes, at most ``limit``; anything else is a one-line DataFileError.

    Opened without blocking, so a FIFO with no writer is refused instead of waited on, and checked on
    the open descriptor, so a symlink to a device is refused whatever its name says.
    """
    path = Path(path)
    limit = MAX_FILE_BYTES if limit is None else limit
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise DataFileError(path, "", f"cannot read {what}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DataFileError(path, "", f"cannot read {what}: it is {_describe_mode(info.st_mode)}, "
                                "not a regular file")
        if info.st_size > limit:
            raise DataFileError(path, "", f"cannot read {what}: {info.st_size:,} bytes, more than the "
                                f"{limit:,} allowed")
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise DataFileError(path, "", f"cannot read {what}: more than the {limit:,} bytes allowed")
        return b"".join(chunks)
    except OSError as exc:
        raise DataFileError(path, "", f"cannot read {what}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_head(path: str | Path, size: int) -> bytes | None:
    """The first ``size`` bytes of a regular file, or ``None`` for anything else or an unreadable file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, size)
    except OSError:
        return None
    finally:
        os.close(fd)


def decode_text(data: bytes, name: str | Path) -> str:
    """Strict UTF-8 (a byte-order mark allowed); otherwise a DataFileError naming the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFileError(name, f"byte {exc.start}", "not UTF-8 text") from None


def read_text(path: str | Path, *, limit: int | None = None, what: str = "file") -> str:
    """A regular file's text (strict UTF-8), read as :func:`read_bytes` reads."""
    return decode_text(read_bytes(path, limit=limit, what=what), path)


def yaml_problem(exc: yaml.YAMLError) -> tuple[str, str]:
    """Where a YAML syntax error is (``line L column C``) and what it is, for a one-line message."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return where, str(problem)


def parse_yaml(text: str, name: str | Path, *, what: str = "invalid YAML") -> Json:
    """One YAML document with the bounded safe loader; any problem is a one-line DataFileError."""
    try:
        data: Json = yaml.load(text, Loader=SafeLoader)
        return data
    except _TooBig as exc:
        where = f"line {exc.mark.line + 1} column {exc.mark.column + 1}" if exc.mark is not None else ""
        raise DataFileError(name, where, f"refused: {exc.problem}") from None
    except yaml.YAMLError as exc:
        where, problem = yaml_problem(exc)
        raise DataFileError(name, where, f"{what}: {problem}") from None
    except (ValueError, OverflowError) as exc:  # a value YAML's syntax allows but Python cannot build
        raise DataFileError(name, "", f"{what}: {_value_problem(exc)}") from None
    except RecursionError:
        raise DataFileError(name, "", f"refused: nested deeper than {MAX_DEPTH} levels") from None


def parse_json(text: str | bytes, name: str | Path) -> Json:
    """JSON within the bounds; any problem is a one-line DataFileError."""
    try:
        value: Json = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFileError(name, f"line {exc.lineno} column {exc.colno}", f"invalid JSON: {exc.msg}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataFileError(name, "", f"invalid JSON: {_value_problem(exc)}") from None
    except RecursionError:
        raise DataFileError(name, "", f"refused: nested deeper than {MAX_DEPTH} levels") from None
    return check_value(value, name)


def _value_problem(exc: BaseException) -> str:
    text = str(exc)
    if "integer string conversion" in text or "digits" in text:
        return "an integer with too many digits (more than 4300)"
    return text.splitlines()[0] if text else type(exc).__name__


def parse_json_or_yaml(text: str, name: str | Path) -> Json:
    """JSON, else YAML (safe loader); text that opens like JSON is reported with JSON's own error."""
    try:
        return check_value(cast(Json, json.loads(text)), name)
    except json.JSONDecodeError as exc:
        json_error = exc
    except (ValueError, RecursionError):
        return parse_json(text, name)  # valid JSON that Python cannot build: JSON's message
    try:
        return parse_yaml(text, name, what="neither JSON nor YAML")
    except DataFileError as exc:
        if text.lstrip()[:1] in ("{", "[") and not exc.problem.startswith("refused"):
            raise DataFileError(name, f"line {json_error.lineno} column {json_error.colno}",
                                f"neither JSON nor YAML: {json_error.msg}") from None
        raise


def load_data_file(path: str | Path, *, what: str = "file") -> Json:
    """A JSON or YAML file's data, read and parsed within the bounds."""
    return parse_json_or_yaml(read_text(path, what=what), str(path))


def dump_json(value: object) -> bytes:
    """A result file's JSON, indented, ending in a newline: dataclasses as objects (through their
    ``to_dict()`` when they have one), numpy values as numbers."""
    return orjson.dumps(value, default=_plain_data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY
                        | orjson.OPT_PASSTHROUGH_DATACLASS) + b"\n"


def _plain_data(value: object) -> object:
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    raise TypeError(f"not JSON data: {type(value).__name__}")


def load_yaml(path: str | Path, *, what: str = "file") -> Json:
    """A YAML file's data, read and parsed within the bounds."""
    return parse_yaml(read_text(path, what=what), path)


def dump_yaml(data: object, *, width: int = 100, dumper: type[yaml.SafeDumper] = SafeDumper) -> str:
    """YAML text in the data's own key order, unicode kept as written."""
    return yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True, width=width,
                     default_flow_style=False)


def json_type(value: object) -> str:
    """The JSON Schema type name of a parsed value (``integer`` for whole numbers, not booleans)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return "object"


def kind_of(value: object) -> str:
    """A value's kind in words, for messages: ``a string``, ``a list``, ``nothing``."""
    if value is None:
        return "nothing"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a mapping"}.get(type(value), type(value).__name__)


def join_key(path: str, key: str) -> str:
    """A dotted key path one level deeper."""
    return f"{path}.{key}" if path else key


# -- models ------------------------------------------------------------------------------------------

#: the pydantic settings of every file model: an unknown key is a mistake, not something to ignore
FILE_MODEL = ConfigDict(extra="forbid")
#: the pydantic settings of a result file the harness wrote (run.json, summary.json, request lines):
#: keys a later version added are read past, so older readers keep reading newer files
RESULT_MODEL = ConfigDict(extra="ignore")
#: text that says something: a string, not empty
Text = Annotated[StrictStr, Field(min_length=1)]

if TYPE_CHECKING:  # mypy reads the harness's JSON types; pydantic validates with its own, which it can build
    from harness._json import JsonObject as JsonObjectField
    from harness._json import JsonValue as JsonValueField
else:
    from pydantic import JsonValue as JsonValueField

    JsonObjectField = dict[str, JsonValueField]


class Problem(ValueError):
    """Raised by a model's validator (or ``__post_init__``) for a mistake pydantic cannot see:
    ``message`` as it is shown, ``at`` the keys below the value being validated where it sits."""

    def __init__(self, message: str, *at: str | int) -> None:
        super().__init__(message)
        self.message = message
        self.at = at


def exact_keys(keys: Sequence[str]) -> Callable[[object], object]:
    """A before-validator for a file mapping that must have every key of ``keys`` and no other (a
    ``null`` written out, not left out): each mistake a :class:`Problem` at the key."""

    def check(value: object) -> object:
        if not isinstance(value, Mapping):
            raise Problem(f"expected a mapping, got {kind_of(value)}")
        for key in keys:
            if key not in value:
                raise Problem("missing", key)
        extra = sorted(str(k) for k in value if k not in keys)
        if extra:
            raise Problem(f"unknown key (allowed: {', '.join(keys)})", extra[0])
        return value

    return check


#: a validator run on the raw data before the model's own (to word a mistake pydantic would word worse)
Before = Callable[[object], object] | Callable[[object, ValidationInfo], object]

_ADAPTERS: dict[tuple[object, Before | None], TypeAdapter[object]] = {}


def model_adapter(tp: type[T], before: Before | None = None) -> TypeAdapter[T]:
    """The one pydantic adapter of a model type (built once: building one compiles a validator),
    running ``before`` on the raw data first when given."""
    found = _ADAPTERS.get((tp, before))
    if found is None:
        form = tp if before is None else cast("type[T]", Annotated[tp, BeforeValidator(before)])
        found = _ADAPTERS[(tp, before)] = TypeAdapter(form)
    return cast("TypeAdapter[T]", found)


def load_model(tp: type[T], data: object, source: str | Path, *, before: Before | None = None,
               context: Mapping[str, object] | None = None, at: Sequence[str | int] = ()) -> T:
    """``data`` (parsed JSON or YAML) as a value of ``tp`` (``before`` run on it first); the first
    mistake is a one-line :class:`DataFileError` naming ``source``, the key path (below ``at``) and
    the problem."""
    try:
        return model_adapter(tp, before).validate_python(data, context={"source": source, **(context or {})})
    except ValidationError as exc:
        raise model_error(exc, tp, source, at) from None


def dump_model(value: object) -> JsonValue:
    """A model value as plain JSON data (what :func:`load_model` reads back)."""
    data: JsonValue = model_adapter(type(value)).dump_python(value, mode="json")
    return data


def load_nested(tp: type[T], data: object, info: ValidationInfo, *at: str | int) -> T:
    """Inside a validator: ``data`` as a value of ``tp``, with the same context; its first mistake a
    :class:`Problem` at its own keys (below ``at``), so the file's one line still names where it is."""
    try:
        return model_adapter(tp).validate_python(data, context=info.context)
    except ValidationError as exc:
        loc, problem = _first_problem(exc, tp)
        raise Problem(problem, *at, *loc) from None


def model_error(exc: ValidationError, tp: object, source: str | Path, at: Sequence[str | int] = ()) -> DataFileError:
    """The first of pydantic's errors in the harness's one-line form (a key missing beside an
    unknown one is most likely that key misspelt: the unknown key is named)."""
    loc, problem = _first_problem(exc, tp)
    return DataFileError(source, key_path([*at, *loc]), problem)


def _first_problem(exc: ValidationError, tp: object) -> tuple[list[str | int], str]:
    """Where (keys below ``tp``'s value) and what the first of pydantic's errors is."""
    errors = exc.errors(include_url=False)
    error = errors[0]
    if error["type"] in _MISSING:
        parent = error["loc"][:-1]
        error = next((e for e in errors if e["type"] in _UNKNOWN and e["loc"][:-1] == parent), error)
    loc = _own_loc(error)
    problem = _wording(error, tp, loc)
    if error["type"] == "value_error":
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, Problem):
            loc.extend(cause.at)
    return loc, problem


def key_path(parts: Sequence[str | int]) -> str:
    """``("input", "fields", "x", "enum", 0)`` as ``input.fields.x.enum[0]``."""
    out = ""
    for part in parts:
        out = f"{out}[{part}]" if isinstance(part, int) else join_key(out, str(part))
    return out


def _own_loc(error: ErrorDetails) -> list[str | int]:
    loc = list(error["loc"])
    if loc and loc[-1] == "[key]":  # a mapping key of the wrong type: the path ends at the key
        loc.pop()
        loc[-1] = str(loc[-1])
    return loc


_MISSING = ("missing", "missing_argument", "missing_keyword_only_argument")
_UNKNOWN = ("extra_forbidden", "unexpected_keyword_argument")
_TYPE_WORDS = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number",
    "string_type": "a string", "bool_type": "true or false", "bool_parsing": "true or false",
    "dict_type": "a mapping", "dataclass_type": "a mapping", "model_type": "a mapping",
    "model_attributes_type": "a mapping", "dataclass_exact_type": "a mapping",
    "list_type": "a list", "tuple_type": "a list", "set_type": "a list", "frozen_set_type": "a list",
    "none_required": "nothing",
}


def _wording(error: ErrorDetails, tp: object, loc: Sequence[str | int]) -> str:
    kind = error["type"]
    ctx: Mapping[str, object] = error.get("ctx") or {}
    got = error.get("input")
    if kind == "value_error":
        cause = ctx.get("error")
        return cause.message if isinstance(cause, Problem) else str(cause)
    if kind in _MISSING:
        return "missing"
    if kind in _UNKNOWN:
        allowed = _allowed_keys(tp, loc[:-1])
        return f"unknown key (allowed: {', '.join(allowed)})" if allowed else "unknown key"
    if error["loc"] and error["loc"][-1] == "[key]":
        return f"expected a string key, got {kind_of(got)}"
    if kind in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[kind]}, got {kind_of(got)}"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return f"expected a non-empty string, got {kind_of(got)}"
    if kind == "finite_number":
        return f"expected a finite number, got {got!r}"
    bounds = {"greater_than_equal": ("at least", "ge"), "less_than_equal": ("at most", "le"),
              "greater_than": ("above", "gt"), "less_than": ("below", "lt")}
    if kind in bounds:
        words, key = bounds[kind]
        return f"must be {words} {_plain(ctx[key])}, got {got!r}"
    if kind in ("too_short", "too_long"):
        words = "at least" if kind == "too_short" else "at most"
        bound = ctx.get("min_length" if kind == "too_short" else "max_length")
        return f"expected {words} {bound} item{'s' if bound != 1 else ''}, got {ctx.get('actual_length')}"
    if kind in ("literal_error", "enum"):
        return f"must be {ctx.get('expected')}, got {got!r}"
    if kind == "string_pattern_mismatch":
        return f"{got!r} does not match {ctx.get('pattern')}"
    message = str(error["msg"])
    return message[:1].lower() + message[1:]


def _plain(bound: object) -> str:
    return f"{bound:g}" if isinstance(bound, float) else str(bound)


def _unwrap(tp: object) -> object:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            options = [a for a in get_args(tp) if a is not type(None)]
            if len(options) != 1:
                return tp
            tp = options[0]
        else:
            return tp


def _allowed_keys(tp: object, loc: Sequence[str | int]) -> list[str]:
    """The keys the model at ``loc`` (below ``tp``) takes, for a message; empty when unknown."""
    for part in loc:
        tp = _unwrap(tp)
        origin = get_origin(tp)
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            hints = typing.get_type_hints(tp, include_extras=True)
            if part not in hints:
                return []
            tp = hints[str(part)]
        elif isinstance(origin, type) and issubclass(origin, Mapping):
            tp = get_args(tp)[1] if get_args(tp) else object
        elif isinstance(origin, type) and issubclass(origin, Sequence):
            tp = get_args(tp)[0] if get_args(tp) else object
        else:
            return []
    tp = _unwrap(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        keys = getattr(tp, "FILE_KEYS", None)
        return list(keys) if keys is not None else [f.name for f in dataclasses.fields(tp) if f.init]
    return []
