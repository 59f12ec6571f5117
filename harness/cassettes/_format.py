"""The cassette file, as vcrpy's persister and serializer: a versioned YAML header (vcrpy's cassette
metadata) and interactions, binary bodies beside it by hash.

Read safely and checked (one-line errors); written only after every byte is scanned for secrets.
The same persister serves vcrpy while it records and the harness when it reads a cassette itself.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import mimetypes
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, TypeAlias, cast
from urllib.parse import urlsplit

import pybase64
import yaml
from pydantic import AfterValidator, BeforeValidator, PlainValidator, ValidationInfo, with_config
from vcr.persisters.filesystem import CassetteNotFoundError  # type: ignore[import-untyped]

from harness._data import (
    FILE_MODEL,
    MAX_FILE_BYTES,
    JsonValueField,
    Problem,
    SafeDumper,
    StrictInt,
    StrictStr,
    Text,
    dump_model,
    exact_keys,
    kind_of,
    load_model,
    load_nested,
    parse_yaml,
    read_bytes,
    read_head,
    read_text,
)
from harness._errors import DataFileError, HarnessError
from harness._json import JsonObject, JsonValue
from harness._secrets import SECRETS, Secrets, ensure_clean, redact_text_bytes, write_scrubbed
from harness.cassettes._model import (
    APP_FORMAT,
    FORMAT,
    VARIANT_KEYS,
    AppCassette,
    AppCassetteHeader,
    Cassette,
    CassetteHeader,
    RecordedRequest,
    RecordedResponse,
    new_request,
    new_response,
)

__all__ = [
    "BODIES_DIR",
    "SERIALIZER",
    "CassettePersister",
    "YamlSerializer",
    "body_bytes",
    "body_refs",
    "dump_cassette",
    "is_cassette_file",
    "is_recording_file",
    "mentioned_bodies",
    "read_app_cassette",
    "read_cassette",
    "read_recorded",
    "write_cassette",
]

BODIES_DIR = "_bodies"
#: the largest body file read back (recorded bodies are bounded by what the client downloads)
BODY_FILE_LIMIT = 4 * MAX_FILE_BYTES
#: a JSON string holding a data URI longer than this is stored as a body file
DATA_URI_INLINE_LIMIT = 1024
DATA_URI_KEY = "$data-uri"
#: vcrpy's metadata key holding the cassette's header
HEADER = "header"
_FORMAT_PREFIX = "fal-harness/cassette@"
_APP_PREFIX = "fal-harness/app-cassette@"
#: how far into a file its format line is looked for (comments may come first)
_HEAD_BYTES = 64 * 1024
_TEXT_TYPES = ("json", "xml", "event-stream", "urlencoded", "javascript", "yaml")
#: a header has every one of its keys (a ``null`` written out) and no other
_HEADER_KEYS = exact_keys(CassetteHeader.FILE_KEYS)
_APP_HEADER_KEYS = exact_keys(AppCassetteHeader.FILE_KEYS)

AnyHeader: TypeAlias = CassetteHeader | AppCassetteHeader
AnyCassette: TypeAlias = Cassette | AppCassette


class _Dumper(SafeDumper):  # type: ignore[valid-type,misc]  # the C dumper when PyYAML has it
    """The safe dumper, writing multi-line text (SSE streams) as literal blocks a person can read."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value.rstrip("\n") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


class YamlSerializer:
    """vcrpy's serializer seam: the cassette document as YAML text, and back (the bounded safe loader)."""

    @staticmethod
    def serialize(data: Mapping[str, object]) -> str:
        # An unbounded width keeps every string on one line, so a secret is never split across lines
        # where the byte scan could miss it.
        return yaml.dump(dict(data), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=2**30,
                         default_flow_style=False)

    @staticmethod
    def deserialize(text: str, name: str | Path = "<cassette>") -> object:
        value: object = parse_yaml(text, name)
        return value


SERIALIZER = YamlSerializer()


class CassettePersister:
    """vcrpy's persister seam for the cassette file: loads one (for ``new_episodes``; a rewrite
    starts from nothing) and saves what vcrpy recorded under the header in its metadata, body
    files beside it, every byte checked for secrets first."""

    def __init__(self, *, bodies_dir: Path | None = None, load: bool = True, secrets: Secrets | None = None) -> None:
        self.bodies_dir = bodies_dir
        self.load = load
        self.secrets = secrets
        self.saved: Path | None = None

    def load_cassette(self, cassette_path: str, serializer: YamlSerializer
                      ) -> tuple[list[RecordedRequest], list[RecordedResponse], dict[str, AnyHeader]]:
        """The recorded requests and responses, and the header as vcrpy's metadata."""
        path = Path(cassette_path)
        if not self.load or not path.is_file():
            raise CassetteNotFoundError()
        loaded = read_recorded(path, serializer)
        return loaded.requests, loaded.responses, {HEADER: loaded.header}

    def save_cassette(self, cassette_path: str, cassette_dict: Mapping[str, object],
                      serializer: YamlSerializer) -> None:
        """Save vcrpy's ``{"requests", "responses", "metadata"}`` (the header is the metadata's)."""
        metadata = cassette_dict.get("metadata")
        header = metadata.get(HEADER) if isinstance(metadata, Mapping) else None
        if not isinstance(header, CassetteHeader | AppCassetteHeader):
            raise HarnessError(f"{cassette_path}: a recording is saved with its header in the cassette's metadata")
        requests = cast("list[RecordedRequest]", list(cast("Iterable[object]", cassette_dict["requests"])))
        responses = cast("list[RecordedResponse]", list(cast("Iterable[object]", cassette_dict["responses"])))
        recorded: AnyCassette = (AppCassette(header, requests, responses) if isinstance(header, AppCassetteHeader)
                                 else Cassette(header, requests, responses))
        self.saved = write_cassette(recorded, cassette_path, bodies_dir=self.bodies_dir, secrets=self.secrets,
                                    serializer=serializer)


# -- writing -----------------------------------------------------------------------------------------


def dump_cassette(cassette: AnyCassette, serializer: YamlSerializer = SERIALIZER) -> tuple[str, dict[str, bytes]]:
    """The YAML text of a cassette and the body files it refers to (name -> bytes)."""
    files: dict[str, bytes] = {}
    interactions = []
    for req, res in zip(cassette.requests, cassette.responses, strict=True):
        headers = {str(k): str(v) for k, v in req.headers.items()}
        request: JsonObject = {"method": req.method, "uri": req.uri, "headers": dict(headers)}
        body = _encode_body(body_bytes(req.body), headers.get("content-type"), files)
        if body is not None:
            request["body"] = body
        response: JsonObject = {
            "status": res["status"]["code"], "reason": res["status"]["message"],
            "headers": {k: v[0] if len(v) == 1 else list(v) for k, v in res["headers"].items()},
        }
        body = _encode_body(res["body"]["string"], _header(res, "content-type"), files)
        if body is not None:
            response["body"] = body
        interactions.append({"request": request, "response": response})
    header = cassette.header
    fmt = APP_FORMAT if isinstance(header, AppCassetteHeader) else FORMAT
    data = {"format": fmt, "header": _header_data(header), "interactions": interactions}
    return serializer.serialize(data), files


def write_cassette(cassette: AnyCassette, path: str | Path, *, bodies_dir: str | Path | None = None,
                   secrets: Secrets | None = None, serializer: YamlSerializer = SERIALIZER) -> Path:
    """Write the cassette and its body files. Every byte is scanned for secrets first; a leak
    raises :class:`~harness._secrets.SecretLeak` naming the file and nothing is written."""
    path = Path(path)
    known = (secrets or SECRETS).with_environment()
    text, files = dump_cassette(_redacted(cassette, known) if known else cassette, serializer)
    bodies = Path(bodies_dir) if bodies_dir is not None else _default_bodies_dir(path)
    for name, data in files.items():
        ensure_clean(data, bodies / name, secrets)
    ensure_clean(text, path, secrets)
    for name, data in files.items():
        target = bodies / name
        # Content-addressed: an intact copy is already right; a damaged one is replaced.
        if not (target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == name.split(".", 1)[0]):
            write_scrubbed(target, data, secrets)
    write_scrubbed(path, text, secrets)
    return path


def _redacted(cassette: AnyCassette, known: Secrets) -> AnyCassette:
    """The cassette with every form of every known secret redacted, before body files are named."""
    requests = [new_request(r.method, known.redact(r.uri), redact_text_bytes(body_bytes(r.body), known),
                            {str(k): known.redact(str(v)) for k, v in r.headers.items()})
                for r in cassette.requests]
    responses = [new_response(r["status"]["code"], known.redact(r["status"]["message"]),
                              {k: [known.redact(v) for v in vs] for k, vs in r["headers"].items()},
                              redact_text_bytes(r["body"]["string"], known))
                 for r in cassette.responses]
    return replace(cassette, requests=requests, responses=responses)


def _header_data(header: AnyHeader) -> JsonObject:
    """The header as the file has it (every key, ``null`` written out); a variant by how it was driven."""
    data = cast("JsonObject", dump_model(header))
    if isinstance(header, CassetteHeader):
        variant = cast("JsonObject", data["variant"])
        data["variant"] = {k: variant[k] for k in VARIANT_KEYS}
    return data


def _default_bodies_dir(path: Path) -> Path:
    for folder in _ancestors(path.parent):
        if (folder / BODIES_DIR).is_dir():
            return folder / BODIES_DIR
    return path.parent / BODIES_DIR


def _ancestors(folder: Path) -> Iterator[Path]:
    yield folder
    yield from folder.parents


def body_bytes(value: bytes | str | None) -> bytes:
    """A recorded body as bytes (vcrpy keeps text, bytes or nothing)."""
    if value is None:
        return b""
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _header(response: RecordedResponse, name: str) -> str | None:
    values = response["headers"].get(name)
    return values[0] if values else None


def _encode_body(data: bytes, content_type: str | None, files: dict[str, bytes]) -> JsonObject | None:
    if not data:
        return None
    media_type = (content_type or "").split(";")[0].strip().lower()
    if "json" in media_type or (not media_type and data[:1] in (b"{", b"[")):
        try:
            value: JsonValue = json.loads(data)
        except ValueError:
            pass
        else:
            return {"json": _pack_data_uris(value, files)}
    texty = not media_type or media_type.startswith("text/") or any(t in media_type for t in _TEXT_TYPES)
    text = _as_text(data) if texty else None
    if text is not None:
        return {"text": text}
    return _body_file(data, media_type or "application/octet-stream", files)


def _as_text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(ord(c) < 32 and c not in "\t\n\r" for c in text):
        return None
    return text


def _body_file(data: bytes, media_type: str, files: dict[str, bytes]) -> JsonObject:
    extension = mimetypes.guess_extension(media_type) or ".bin"
    name = hashlib.sha256(data).hexdigest() + extension
    files[name] = data
    return {"file": f"{BODIES_DIR}/{name}", "size": len(data), "media_type": media_type}


def _pack_data_uris(value: JsonValue, files: dict[str, bytes]) -> JsonValue:
    """Large ``data:<type>;base64,...`` strings (files sent inline) become references to body files."""
    if isinstance(value, str):
        if len(value) > DATA_URI_INLINE_LIMIT and value.startswith("data:"):
            head, _, encoded = value.partition(",")
            if head.endswith(";base64"):
                try:
                    raw = pybase64.b64decode(encoded, validate=True)
                except (binascii.Error, ValueError):
                    return value
                if pybase64.b64encode(raw).decode("ascii") == encoded:  # only what round-trips exactly
                    media_type = head[5:].removesuffix(";base64") or "application/octet-stream"
                    return {DATA_URI_KEY: _body_file(raw, media_type, files)}
        return value
    if isinstance(value, dict):
        return {k: _pack_data_uris(v, files) for k, v in value.items()}
    if isinstance(value, list):
        return [_pack_data_uris(v, files) for v in value]
    return value


# -- reading -----------------------------------------------------------------------------------------


def is_cassette_file(path: str | Path) -> bool:
    """Whether the file starts like a fal-harness scenario cassette (any version); cheap, reads its first 64 KiB."""
    head = read_head(path, _HEAD_BYTES)
    return head is not None and _FORMAT_PREFIX.encode() in head


def is_recording_file(path: str | Path) -> bool:
    """Whether the file starts like a scenario cassette or an app cassette (either refers to body files)."""
    head = read_head(path, _HEAD_BYTES)
    return head is not None and (_FORMAT_PREFIX.encode() in head or _APP_PREFIX.encode() in head)


def read_recorded(path: str | Path, serializer: YamlSerializer = SERIALIZER) -> AnyCassette:
    """Read and check a scenario or an app cassette and its body files; any problem is a one-line
    DataFileError."""
    path = Path(path)
    data = _document(path, serializer)
    fmt = data.get("format") if isinstance(data, Mapping) else None
    if isinstance(fmt, str) and fmt.startswith(_APP_PREFIX):
        return _app_cassette(path, data)
    return _cassette(path, data)


def read_cassette(path: str | Path) -> Cassette:
    """Read and check a scenario cassette and its body files; any problem is a one-line DataFileError."""
    path = Path(path)
    return _cassette(path, _document(path, SERIALIZER))


def read_app_cassette(path: str | Path) -> AppCassette:
    """Read and check an app cassette and its body files; any problem is a one-line DataFileError."""
    path = Path(path)
    return _app_cassette(path, _document(path, SERIALIZER))


def _document(path: Path, serializer: YamlSerializer) -> object:
    if not path.is_file():
        raise DataFileError(path, "", "no such cassette file")
    return serializer.deserialize(read_text(path), path)


def _cassette(path: Path, data: object) -> Cassette:
    file = load_model(_CassetteFile, data, path, before=_SCENARIO_FORMAT, context={_BODIES: _Bodies(path)})
    return Cassette(file.header, *_traffic(file.interactions), path)


def _app_cassette(path: Path, data: object) -> AppCassette:
    file = load_model(_AppCassetteFile, data, path, before=_APP_FORMAT, context={_BODIES: _Bodies(path)})
    return AppCassette(file.header, *_traffic(file.interactions), path)


def _file_format(expected: str, what: str) -> Callable[[object], object]:
    """A before-validator for the whole file: a mapping whose ``format`` is ``expected``; another
    kind of cassette, another version of this one, or no cassette at all, each said as such."""
    prefix = expected.partition("@")[0] + "@"

    def check(value: object) -> object:
        if not isinstance(value, Mapping) or "format" not in value:
            raise Problem(f"missing: not a fal-harness {what}", "format")
        fmt = value["format"]
        if fmt == expected:
            return value
        if expected == FORMAT and isinstance(fmt, str) and fmt.startswith(_APP_PREFIX):
            raise Problem("an app cassette (one test's traffic): it is replayed by its test through the "
                          "fal_sandbox fixture, not as a scenario", "format")
        if isinstance(fmt, str) and fmt.startswith(prefix):
            raise Problem(f"{fmt!r} is not supported (this harness reads {expected})", "format")
        raise Problem(f"expected {expected!r}, got {fmt!r}", "format")

    return check


_SCENARIO_FORMAT = _file_format(FORMAT, "cassette")
_APP_FORMAT = _file_format(APP_FORMAT, "app cassette")
#: the context key of the body files of the cassette being read
_BODIES = "bodies"
#: the values JSON holds that are no container (a boolean is an ``int``)
_JSON_SCALARS = (str, int, float, type(None))
_BODY_NAME = re.compile(rf"{BODIES_DIR}/[0-9a-f]{{64}}(?:\.[^/]*)?")


class _Bodies:
    """The body files of one cassette, found beside it or above, read once and checked against their names."""

    def __init__(self, cassette: Path) -> None:
        self.cassette = cassette
        self.read: dict[str, bytes] = {}

    def data(self, ref: _BodyFile | _DataUri, *at: str | int) -> bytes:
        """The body file's bytes; one missing, edited or of another size is a Problem at its key (below ``at``)."""
        name = ref.file.partition("/")[2]
        if name not in self.read:
            found = next((f / ref.file for f in _ancestors(self.cassette.parent) if (f / ref.file).is_file()), None)
            if found is None:
                raise Problem(f"body file {ref.file} not found beside the cassette or above it", *at, "file")
            data = read_bytes(found, limit=BODY_FILE_LIMIT, what="body file")
            if hashlib.sha256(data).hexdigest() != name.split(".", 1)[0]:
                raise Problem(f"body file {found} does not match its sha256 (edited or corrupt)", *at, "file")
            self.read[name] = data
        data = self.read[name]
        if ref.size is not None and ref.size != len(data):
            raise Problem(f"says {ref.size} bytes, the body file has {len(data)}", *at, "size")
        return data


def _body_name(ref: str) -> str:
    if not _BODY_NAME.fullmatch(ref):
        raise Problem(f"expected {BODIES_DIR}/<sha256>.<extension>, got {ref!r}")
    return ref


def _json_data(value: object, info: ValidationInfo, at: tuple[str | int, ...] = ()) -> JsonValue:
    """A JSON body's data (copied), each ``{"$data-uri": <body file>}`` in it restored to the data URI
    it was; what JSON cannot hold (a YAML date, a number as a key) is a Problem at its key."""
    if isinstance(value, dict):
        if DATA_URI_KEY in value:
            if len(value) != 1:
                raise Problem(f"a {DATA_URI_KEY} reference stands alone", *at)
            ref = load_nested(_DataUri, value[DATA_URI_KEY], info, *at, DATA_URI_KEY)
            raw = _bodies(info).data(ref, *at, DATA_URI_KEY)
            return f"data:{ref.media_type};base64,{pybase64.b64encode(raw).decode('ascii')}"
        data: dict[str, JsonValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise Problem(f"expected a string key, got {kind_of(key)}", *at, str(key))
            data[key] = item if isinstance(item, _JSON_SCALARS) else _json_data(item, info, (*at, key))
        return data
    if isinstance(value, list):
        return [item if isinstance(item, _JSON_SCALARS) else _json_data(item, info, (*at, n))
                for n, item in enumerate(value)]
    if isinstance(value, _JSON_SCALARS):
        return value
    raise Problem(f"expected JSON data, got {kind_of(value)}", *at)


def _bodies(info: ValidationInfo) -> _Bodies:
    return cast("Mapping[str, _Bodies]", info.context)[_BODIES]


BodyName = Annotated[Text, AfterValidator(_body_name)]


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class _JsonBody:
    """A JSON body as data; a large data URI in it is a body file (``{"$data-uri": {...}}``)."""

    json: Annotated[JsonValueField, PlainValidator(_json_data)]


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class _TextBody:
    """A text body (UTF-8), as written."""

    text: StrictStr


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class _BodyFile:
    """A body stored beside the cassette, named by its hash."""

    file: BodyName
    size: StrictInt | None = None
    media_type: Text | None = None


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class _DataUri:
    """A data URI in a JSON body, stored beside the cassette: ``data:<media_type>;base64,<the file>``."""

    file: BodyName
    media_type: Text
    size: StrictInt | None = None


def _body(value: object, info: ValidationInfo) -> bytes:
    """A body as the file gives it (exactly one of json, text or file), as the bytes it was."""
    if value is None:
        return b""
    if not isinstance(value, Mapping):
        raise Problem(f"expected a mapping, got {kind_of(value)}")
    kinds = [k for k in ("json", "text", "file") if k in value]
    if len(kinds) != 1:
        raise Problem("expected exactly one of json, text or file")
    if kinds[0] == "text":
        return load_nested(_TextBody, value, info).text.encode("utf-8")
    if kinds[0] == "file":
        return _bodies(info).data(load_nested(_BodyFile, value, info))
    data = load_nested(_JsonBody, value, info).json
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _http_url(uri: str) -> str:
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        parts = None
    if parts is None or not parts.hostname or not uri.startswith(("http://", "https://")):
        raise Problem(f"expected an http(s) URL, got {uri!r}")
    return uri


def _http_status(status: int) -> int:
    if not 100 <= status <= 599:
        raise Problem(f"expected an HTTP status (100..599), got {status}")
    return status


def _scalar_text(value: object) -> object:
    # A header value or reason YAML read as a number or a boolean, back as the text it was; nothing is no text.
    if value is None:
        return ""
    return str(value) if isinstance(value, int | float) else value


def _header_lists(value: object) -> object:
    # A response header sent once is one value; sent more often, a list.
    if isinstance(value, Mapping):
        return {k: v if isinstance(v, list) else [v] for k, v in value.items()}
    return value


Body = Annotated[bytes, BeforeValidator(_body)]
AsText = Annotated[StrictStr, BeforeValidator(_scalar_text)]


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class _Request:
    """A recorded request as the file has it."""

    method: Text
    uri: Annotated[Text, AfterValidator(_http_url)]
    headers: Mapping[str, AsText] | None = None
    body: Body = b""


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class _Response:
    """A recorded response as the file has it."""

    status: Annotated[StrictInt, AfterValidator(_http_status)]
    reason: AsText = ""
    headers: Annotated[Mapping[str, tuple[AsText, ...]] | None, BeforeValidator(_header_lists)] = None
    body: Body = b""


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class _Interaction:
    """One request and the response it got."""

    request: _Request
    response: _Response


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class _CassetteFile:
    """A scenario cassette file (its format checked first, by ``_SCENARIO_FORMAT``)."""

    format: str
    header: Annotated[CassetteHeader, BeforeValidator(_HEADER_KEYS)]
    interactions: tuple[_Interaction, ...]


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class _AppCassetteFile:
    """An app cassette file (its format checked first, by ``_APP_FORMAT``)."""

    format: str
    header: Annotated[AppCassetteHeader, BeforeValidator(_APP_HEADER_KEYS)]
    interactions: tuple[_Interaction, ...]


def _traffic(interactions: Iterable[_Interaction]) -> tuple[list[RecordedRequest], list[RecordedResponse]]:
    """The file's interactions as vcrpy keeps them (header names in lower case)."""
    requests: list[RecordedRequest] = []
    responses: list[RecordedResponse] = []
    for item in interactions:
        req, res = item.request, item.response
        requests.append(new_request(req.method.upper(), req.uri, req.body,
                                    {k.lower(): v for k, v in (req.headers or {}).items()}))
        responses.append(new_response(res.status, res.reason,
                                      {k.lower(): list(v) for k, v in (res.headers or {}).items()}, res.body))
    return requests, responses


_BODY_MENTION = re.compile(rb"_bodies/([0-9a-f]{64}\.[A-Za-z0-9.+-]{1,16})")


def mentioned_bodies(data: bytes) -> set[str]:
    """Names of body files mentioned anywhere in ``data`` (``_bodies/<sha256>.<ext>``), parsed or not."""
    return {m.decode("ascii") for m in _BODY_MENTION.findall(data)}


def body_refs(path: str | Path) -> set[str]:
    """Names of the body files a cassette refers to (without reading them)."""
    refs: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, Mapping):
            ref = value.get("file")
            if isinstance(ref, str) and ref.startswith(BODIES_DIR + "/"):
                refs.add(ref.partition("/")[2])
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    path = Path(path)
    walk(SERIALIZER.deserialize(read_text(path), path))
    return refs
