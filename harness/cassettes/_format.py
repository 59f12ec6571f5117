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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TypeAlias, cast
from urllib.parse import urlsplit

import pybase64
import yaml
from vcr.persisters.filesystem import CassetteNotFoundError  # type: ignore[import-untyped]

from harness._data import (
    MAX_FILE_BYTES,
    SafeDumper,
    exact_keys,
    join_key,
    kind_of,
    load_model,
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
    if isinstance(header, AppCassetteHeader):
        return {"target": header.target, "recorded": header.recorded, "harness_version": header.harness_version,
                "test": header.test, "clients": list(header.clients), "base_urls": dict(header.base_urls)}
    v, e = header.variant, header.expect
    return {
        "target": header.target, "recorded": header.recorded, "harness_version": header.harness_version,
        "client": header.client, "endpoint": header.endpoint, "contract_version": header.contract_version,
        "scenario": header.scenario,
        "variant": {"name": v.name, "file_mode": v.file_mode, "detect": v.detect, "fault": v.fault,
                    "cancel": v.cancel, "webhook": v.webhook},
        "seed": header.seed, "base_urls": dict(header.base_urls),
        "expect": {"status": e.status, "invalid_loc": list(e.invalid_loc) if e.invalid_loc is not None else None,
                   "rule": e.rule, "fails": list(e.fails)},
    }


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
    if not path.is_file():
        raise DataFileError(path, "", "no such cassette file")
    data = serializer.deserialize(read_text(path), path)
    reader = _Reader(path)
    fmt = data.get("format") if isinstance(data, Mapping) else None
    if isinstance(fmt, str) and fmt.startswith(_APP_PREFIX):
        return reader.app_cassette(data)
    return reader.cassette(data)


def read_cassette(path: str | Path) -> Cassette:
    """Read and check a scenario cassette and its body files; any problem is a one-line DataFileError."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "", "no such cassette file")
    return _Reader(path).cassette(SERIALIZER.deserialize(read_text(path), path))


def read_app_cassette(path: str | Path) -> AppCassette:
    """Read and check an app cassette and its body files; any problem is a one-line DataFileError."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "", "no such cassette file")
    return _Reader(path).app_cassette(SERIALIZER.deserialize(read_text(path), path))


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._bodies: dict[str, bytes] = {}

    def fail(self, key: str, problem: str) -> DataFileError:
        return DataFileError(self.path, key, problem)

    def mapping(self, value: object, key: str) -> Mapping[str, object]:
        if not isinstance(value, Mapping):
            raise self.fail(key, f"expected a mapping, got {kind_of(value)}")
        return value

    def need(self, data: Mapping[str, object], key: str, where: str) -> object:
        if key not in data:
            raise self.fail(join_key(where, key), "missing")
        return data[key]

    def text(self, value: object, key: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"expected a non-empty string, got {kind_of(value)}")
        return value

    def integer(self, value: object, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected an integer, got {kind_of(value)}")
        return value

    def cassette(self, data: object) -> Cassette:
        if not isinstance(data, Mapping) or "format" not in data:
            raise self.fail("format", "missing: not a fal-harness cassette")
        fmt = data["format"]
        if fmt != FORMAT:
            if isinstance(fmt, str) and fmt.startswith(_APP_PREFIX):
                raise self.fail("format", "an app cassette (one test's traffic): it is replayed by its test "
                                          "through the fal_sandbox fixture, not as a scenario")
            if isinstance(fmt, str) and fmt.startswith(_FORMAT_PREFIX):
                raise self.fail("format", f"{fmt!r} is not supported (this harness reads {FORMAT})")
            raise self.fail("format", f"expected {FORMAT!r}, got {fmt!r}")
        header = self.header(self.need(self.top(data), "header", ""))
        requests, responses = self.interactions(data)
        return Cassette(header, requests, responses, self.path)

    def app_cassette(self, data: object) -> AppCassette:
        if not isinstance(data, Mapping) or "format" not in data:
            raise self.fail("format", "missing: not a fal-harness app cassette")
        fmt = data["format"]
        if fmt != APP_FORMAT:
            if isinstance(fmt, str) and fmt.startswith(_APP_PREFIX):
                raise self.fail("format", f"{fmt!r} is not supported (this harness reads {APP_FORMAT})")
            raise self.fail("format", f"expected {APP_FORMAT!r}, got {fmt!r}")
        header = self.app_header(self.need(self.top(data), "header", ""))
        requests, responses = self.interactions(data)
        return AppCassette(header, requests, responses, self.path)

    def top(self, data: Mapping[str, object]) -> Mapping[str, object]:
        extra = sorted(str(k) for k in data if k not in ("format", "header", "interactions"))
        if extra:
            raise self.fail(extra[0], "unknown key (allowed: format, header, interactions)")
        return data

    def interactions(self, data: Mapping[str, object]) -> tuple[list[RecordedRequest], list[RecordedResponse]]:
        raw = self.need(data, "interactions", "")
        if not isinstance(raw, list):
            raise self.fail("interactions", f"expected a list, got {kind_of(raw)}")
        pairs = [self.interaction(item, f"interactions[{n}]") for n, item in enumerate(raw)]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def header(self, value: object) -> CassetteHeader:
        return load_model(CassetteHeader, value, self.path, before=_HEADER_KEYS, at=("header",))

    def app_header(self, value: object) -> AppCassetteHeader:
        return load_model(AppCassetteHeader, value, self.path, before=_APP_HEADER_KEYS, at=("header",))

    def interaction(self, value: object, where: str) -> tuple[RecordedRequest, RecordedResponse]:
        item = self.mapping(value, where)
        req = self.mapping(self.need(item, "request", where), f"{where}.request")
        res = self.mapping(self.need(item, "response", where), f"{where}.response")
        method = self.text(self.need(req, "method", f"{where}.request"), f"{where}.request.method")
        uri = self.text(self.need(req, "uri", f"{where}.request"), f"{where}.request.uri")
        if not uri.startswith(("http://", "https://")) or not _usable_url(uri):
            raise self.fail(f"{where}.request.uri", f"expected an http(s) URL, got {uri!r}")
        req_headers = {str(k).lower(): str(v) for k, v in self.mapping(req.get("headers") or {},
                                                                        f"{where}.request.headers").items()}
        request = new_request(method.upper(), uri, self.body(req.get("body"), f"{where}.request.body"), req_headers)
        status = self.integer(self.need(res, "status", f"{where}.response"), f"{where}.response.status")
        if not 100 <= status <= 599:
            raise self.fail(f"{where}.response.status", f"expected an HTTP status (100..599), got {status}")
        headers: dict[str, list[str]] = {}
        for k, v in self.mapping(res.get("headers") or {}, f"{where}.response.headers").items():
            headers[str(k).lower()] = [str(x) for x in v] if isinstance(v, list) else [str(v)]
        response = new_response(status, str(res.get("reason") or ""), headers,
                                self.body(res.get("body"), f"{where}.response.body"))
        return request, response

    def body(self, value: object, where: str) -> bytes:
        if value is None:
            return b""
        spec = self.mapping(value, where)
        kinds = [k for k in ("json", "text", "file") if k in spec]
        if len(kinds) != 1:
            raise self.fail(where, "expected exactly one of json, text or file")
        kind = kinds[0]
        if kind == "text":
            text = spec["text"]
            if not isinstance(text, str):
                raise self.fail(f"{where}.text", f"expected text, got {kind_of(text)}")
            return text.encode("utf-8")
        if kind == "file":
            return self.file(spec, where)
        restored = self.unpack(spec["json"], f"{where}.json")
        return json.dumps(restored, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def unpack(self, value: object, where: str) -> object:
        if isinstance(value, Mapping):
            if DATA_URI_KEY in value:
                if len(value) != 1:
                    raise self.fail(where, f"a {DATA_URI_KEY} reference stands alone")
                ref = self.mapping(value[DATA_URI_KEY], f"{where}.{DATA_URI_KEY}")
                raw = self.file(ref, f"{where}.{DATA_URI_KEY}")
                media_type = self.text(ref.get("media_type"), f"{where}.{DATA_URI_KEY}.media_type")
                return f"data:{media_type};base64,{pybase64.b64encode(raw).decode('ascii')}"
            return {str(k): self.unpack(v, f"{where}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.unpack(v, f"{where}[{n}]") for n, v in enumerate(value)]
        return value

    def file(self, spec: Mapping[str, object], where: str) -> bytes:
        ref = self.text(spec.get("file"), f"{where}.file")
        prefix, _, name = ref.partition("/")
        digest = name.split(".", 1)[0]
        if prefix != BODIES_DIR or "/" in name or len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise self.fail(f"{where}.file", f"expected {BODIES_DIR}/<sha256>.<extension>, got {ref!r}")
        if name not in self._bodies:
            found = next((f / BODIES_DIR / name for f in _ancestors(self.path.parent)
                          if (f / BODIES_DIR / name).is_file()), None)
            if found is None:
                raise self.fail(f"{where}.file", f"body file {ref} not found beside the cassette or above it")
            data = read_bytes(found, limit=BODY_FILE_LIMIT, what='body file')
            if hashlib.sha256(data).hexdigest() != digest:
                raise self.fail(f"{where}.file", f"body file {found} does not match its sha256 (edited or corrupt)")
            self._bodies[name] = data
        data = self._bodies[name]
        size = spec.get("size")
        if size is not None and size != len(data):
            raise self.fail(f"{where}.size", f"says {size} bytes, the body file has {len(data)}")
        return data


_BODY_MENTION = re.compile(rb"_bodies/([0-9a-f]{64}\.[A-Za-z0-9.+-]{1,16})")


def mentioned_bodies(data: bytes) -> set[str]:
    """Names of body files mentioned anywhere in ``data`` (``_bodies/<sha256>.<ext>``), parsed or not."""
    return {m.decode("ascii") for m in _BODY_MENTION.findall(data)}


def _usable_url(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        return False
    return bool(parts.hostname)


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


