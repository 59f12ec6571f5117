"""The three ways to pass a file input (storage upload, data URI, hosted URL) behind one call.

Data-URI bodies are built as bytes: the payload is serialised once with orjson around a
placeholder, and the file's base64 (pybase64, SIMD) is written into the one buffer that becomes the
body, a small piece at a time: the file is encoded into memory the cache already holds and copied
once into the body, whose pages are touched once (a whole-file encode then a join would fault in
every page twice, and page faults, not base64, were most of the cost).
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path

import orjson
import pybase64

from harness._data import read_bytes
from harness._errors import ConfigError
from harness._resources import fixture

__all__ = ["FileInput", "FileMode", "LocalFileHost", "build_body", "data_uri"]


class FileMode(StrEnum):
    """How a file input reaches the model."""

    UPLOAD = "upload"
    """Upload to the target's storage first (fal's v3 CDN flow) and pass the returned URL."""
    DATA_URI = "data-uri"
    """Inline the file as ``data:<type>;base64,...`` in the request body."""
    URL = "url"
    """Pass a URL where the file is already hosted."""


#: the largest local file sent as a file input
FILE_INPUT_LIMIT = 1 << 30


@dataclass(frozen=True)
class FileInput:
    """A file to pass as an input: its bytes, content type and name (see :class:`FileMode` for how)."""

    data: bytes
    content_type: str
    name: str

    @classmethod
    def from_path(cls, path: str | Path) -> FileInput:
        path = Path(path)
        data = read_bytes(path, limit=FILE_INPUT_LIMIT, what="file input")
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return cls(data, content_type, path.name)

    @classmethod
    def from_fixture(cls, name: str) -> FileInput:
        path = fixture(name)
        if not path.is_file():
            raise ConfigError(f"no bundled fixture named {name!r}")
        return cls.from_path(path)

    @cached_property
    def digest(self) -> str:
        """Content hash naming the file on hosts; computed once (hashing 32 MiB takes ~20 ms)."""
        return hashlib.sha256(self.data).hexdigest()[:16]


def data_uri(data: bytes, content_type: str) -> bytes:
    """``data:<type>;base64,<...>`` as bytes."""
    return b"data:" + content_type.encode("ascii") + b";base64," + pybase64.b64encode(data)


def build_body(payload: Mapping[str, object], inline: Mapping[str, FileInput | list[FileInput]]) -> bytes:
    """The JSON request body for ``payload`` with each ``inline`` field set to the file's data URI
    (a list of data URIs for a list of files).

    Base64 output and media types need no JSON escaping, so the URI bytes can be placed between
    the quotes of a placeholder string verbatim.
    """
    if not inline:
        return orjson.dumps(payload)
    token = "fal-harness-inline-" + secrets.token_hex(8)
    marked = dict(payload)
    order: list[FileInput] = []
    for name, value in inline.items():
        group = value if isinstance(value, list) else [value]
        marks = [f"{token}-{len(order) + j}" for j in range(len(group))]
        order += group
        marked[name] = marks if isinstance(value, list) else marks[0]
    body = orjson.dumps(marked)
    pieces: list[bytes | FileInput] = []
    rest = body
    for i, f in enumerate(order):
        head, sep, rest = rest.partition(f'"{token}-{i}"'.encode())
        if not sep:  # pragma: no cover - the token is unique and every field was set above
            raise AssertionError("inline placeholder lost")
        pieces += [head, _uri_head(f), f, b'"']
    pieces.append(rest)
    size = sum(_encoded_size(len(p.data)) if isinstance(p, FileInput) else len(p) for p in pieces)
    # One bytes object of the final size (BytesIO sizes it when the last byte is written first),
    # filled in order and handed over by getvalue() without a copy.
    out = io.BytesIO()
    out.seek(size - len(rest))
    out.write(rest)
    out.seek(0)
    for piece in pieces[:-1]:
        if isinstance(piece, FileInput):
            _encode_into(out, piece.data)
        else:
            out.write(piece)
    return out.getvalue()


def _uri_head(f: FileInput) -> bytes:
    return b'"data:' + f.content_type.encode("ascii") + b";base64,"


def _encoded_size(n: int) -> int:
    return 4 * ((n + 2) // 3)


#: file bytes encoded per step: a multiple of 3 (so only the last piece is padded) whose 64 KiB of
#: base64 stays in the cache and under the allocator's threshold for a fresh mapping
ENCODE_STEP = 3 * 16 * 1024


def _encode_into(out: io.BytesIO, data: bytes) -> None:
    view = memoryview(data)
    for start in range(0, len(view), ENCODE_STEP):
        out.write(pybase64.b64encode(view[start:start + ENCODE_STEP]))


class LocalFileHost:
    """Serves registered files on 127.0.0.1: the ``url`` file path for loopback targets.

    It stands in for "your own hosting" so the model fetches the file from another server, as it
    would from a public URL.
    """

    def __init__(self) -> None:
        # Starlette and uvicorn load with the first loopback URL-mode file, not with the client.
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route

        from harness._serve import serve_loopback

        self._files: dict[str, FileInput] = {}

        async def get(request: Request) -> Response:
            f = self._files.get(request.path_params["key"])
            if f is None:
                return Response(status_code=404)
            return Response(f.data, media_type=f.content_type)

        app = Starlette(routes=[Route("/{key:path}", get, methods=["GET"])])
        self._served = serve_loopback(app, name="fal-harness-files")
        self.base_url = f"http://127.0.0.1:{self._served.ports[0]}"

    def url_for(self, f: FileInput) -> str:
        key = f"{f.digest}/{f.name}"
        self._files[key] = f
        return f"{self.base_url}/{key}"

    def close(self) -> None:
        self._served.stop()
