"""The emulator's file storage: a bounded in-memory blob store and fal's upload flows.

Flows: the v3 token + single upload, v3 multipart (create, parts with ETags, complete), the
initiate + PUT (``storage_type=gcs`` or ``fal-cdn-v3``), and the JS client's initiate-multipart,
whose part and complete URLs carry their authorisation in an ``upload_token`` query parameter.
Every stored file is served back at its URL with its content type.
"""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from harness.emulator._http import BodyError, bearer_or_key, detail, json_response, read_body, read_json

__all__ = ["Blob", "BlobStore", "StorageApi", "etag_of"]

_TOKEN_SECONDS = 3600
_MAX_PENDING = 1000


@dataclass(eq=False, slots=True)
class Blob:
    data: bytes
    content_type: str
    expires_ns: int | None
    etag: str
    """Computed once when stored: hashing on every GET blocked the event loop (~44 ms per 32 MiB)."""


@dataclass(eq=False, slots=True)
class _Multipart:
    key: str
    content_type: str
    created_ns: int
    parts: dict[int, tuple[bytes, str]] = field(default_factory=dict)
    """Part number to its bytes and ETag (hashed once, when the part arrives)."""


class BlobStore:
    """Files by key (``<token>/<file name>``); counts bytes, expires files after a fixed time."""

    def __init__(self, max_bytes: int, ttl_seconds: float | None) -> None:
        self.max_bytes = max_bytes
        self.ttl_ns = None if ttl_seconds is None else int(ttl_seconds * 1e9)
        self.used = 0
        self._blobs: OrderedDict[str, Blob] = OrderedDict()

    def __len__(self) -> int:
        return len(self._blobs)

    def has_room(self, extra: int = 0) -> bool:
        """Whether ``extra`` more bytes fit, after dropping what has expired."""
        if self.used + extra <= self.max_bytes:
            return True
        self.sweep()
        return self.used + extra <= self.max_bytes

    def put(self, data: bytes, content_type: str, file_name: str) -> str:
        key = f"{secrets.token_hex(10)}/{_safe_name(file_name)}"
        self.put_at(key, data, content_type)
        return key

    def put_at(self, key: str, data: bytes, content_type: str, etag: str | None = None) -> None:
        """Store ``data`` at ``key`` (its ETag given when it was worked out elsewhere)."""
        expires = None if self.ttl_ns is None else time.monotonic_ns() + self.ttl_ns
        old = self._blobs.pop(key, None)
        if old is not None:
            self.used -= len(old.data)
        self._blobs[key] = Blob(data, content_type, expires, etag or etag_of(data))
        self.used += len(data)

    def get(self, key: str) -> Blob | None:
        blob = self._blobs.get(key)
        if blob is not None and blob.expires_ns is not None and blob.expires_ns <= time.monotonic_ns():
            self.sweep()
            return None
        return blob

    def sweep(self) -> None:
        # Every blob lives equally long, so insertion order is expiry order.
        now = time.monotonic_ns()
        while self._blobs:
            key, blob = next(iter(self._blobs.items()))
            if blob.expires_ns is None or blob.expires_ns > now:
                break
            del self._blobs[key]
            self.used -= len(blob.data)


Authorize = Callable[[Request], Response | None]
Guard = Callable[[Callable[[], Awaitable[Response]]], Awaitable[Response]]


class StorageApi:
    """The REST and CDN storage routes, all served on the emulator's queue address."""

    def __init__(self, store: BlobStore, base_url: Callable[[], str], authorize_key: Authorize, guard: Guard,
                 max_body_bytes: int, max_upload_bytes: int) -> None:
        self.store = store
        self.base_url = base_url
        self.authorize_key = authorize_key
        self.guard = guard
        self.max_body = max_body_bytes
        self.max_upload = max_upload_bytes
        self._secret = secrets.token_bytes(32)
        self._multipart: OrderedDict[str, _Multipart] = OrderedDict()
        self._pending_bytes = 0  # parts of unfinished multipart uploads count against the store's limit
        self._initiated: OrderedDict[str, tuple[str, str]] = OrderedDict()

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/storage/auth/token", self._guarded(self.token), methods=["POST"]),
            Route("/storage/upload/initiate", self._guarded(self.initiate), methods=["POST"]),
            Route("/storage/upload/initiate-multipart", self._guarded(self.initiate_multipart), methods=["POST"]),
            Route("/files/upload", self._guarded(self.upload), methods=["POST"]),
            Route("/files/upload/multipart", self._guarded(self.multipart_create), methods=["POST"]),
            Route("/files/{token}/{name}/multipart/{upload_id}/complete", self._guarded(self.multipart_complete),
                  methods=["POST"]),
            Route("/files/{token}/{name}/multipart/{upload_id}/{part:int}", self._guarded(self.multipart_part),
                  methods=["PUT"]),
            Route("/files/{token}/{name}", self.serve, methods=["GET"]),
            Route("/files/{token}/{name}", self._guarded(self.put_initiated), methods=["PUT"]),
        ]

    def _guarded(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await self.guard(lambda: handler(request))
            except BodyError as exc:
                return exc.response
        return endpoint

    # -- v3: token, single upload, multipart ------------------------------------------------------

    async def token(self, request: Request) -> Response:
        denied = self.authorize_key(request)
        if denied is not None:
            return denied
        expires = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=_TOKEN_SECONDS)
        stamp = str(int(expires.timestamp()))
        token = f"{stamp}.{self._sign(stamp)}"
        return json_response({"token": token, "token_type": "Bearer", "base_url": self.base_url(),
                              "expires_at": expires.isoformat()})

    def _token_ok(self, request: Request) -> Response | None:
        cred = bearer_or_key(request)
        if cred is not None and cred[0] == "bearer":
            stamp, _, sig = cred[1].partition(".")
            if stamp.isdigit() and hmac.compare_digest(sig, self._sign(stamp)) and int(stamp) > time.time():
                return None
            return detail(401, "Invalid or expired storage token")
        return self.authorize_key(request)

    async def upload(self, request: Request) -> Response:
        denied = self._token_ok(request)
        if denied is not None:
            return denied
        data = await read_body(request, self.max_upload, "limits.max_upload_bytes")
        if not self.store.has_room(len(data)):
            return _full()
        content_type = _content_type(request)
        key = self.store.put(data, content_type, _file_name(request, content_type))
        return json_response({"access_url": self._url(key), "content_type": content_type, "file_size": len(data)})

    async def multipart_create(self, request: Request) -> Response:
        denied = self._token_ok(request)
        if denied is not None:
            return denied
        self._expire_pending()
        if len(self._multipart) >= _MAX_PENDING:
            return detail(429, f"Too many unfinished multipart uploads (at most {_MAX_PENDING})")
        content_type = _content_type(request)
        key = f"{secrets.token_hex(10)}/{_safe_name(_file_name(request, content_type))}"
        upload_id = self._open_multipart(key, content_type)
        return json_response({"access_url": self._url(key), "uploadId": upload_id})

    def _open_multipart(self, key: str, content_type: str) -> str:
        upload_id = secrets.token_hex(16)
        self._multipart[upload_id] = _Multipart(key, content_type, time.monotonic_ns())
        return upload_id

    def _pending(self, request: Request) -> _Multipart | Response:
        """The multipart upload a part or complete request names, or the answer refusing it.

        A part or complete call is authorised by a CDN token or key, or (as the JS client sends
        them) by the ``upload_token`` that initiate-multipart signed into its upload URL."""
        p = request.path_params
        signed = request.query_params.get("upload_token")
        if signed is not None:
            if not hmac.compare_digest(signed, self._sign(f"multipart:{p['upload_id']}")):
                return detail(403, "Upload URL is unknown or already used")
        else:
            denied = self._token_ok(request)
            if denied is not None:
                return denied
        upload = self._multipart.get(p["upload_id"])
        if upload is None or upload.key != f"{p['token']}/{p['name']}":
            return detail(404, "Unknown multipart upload")
        return upload

    async def multipart_part(self, request: Request) -> Response:
        upload = self._pending(request)
        if isinstance(upload, Response):
            return upload
        number = int(request.path_params["part"])
        if not 1 <= number <= 10_000:
            return detail(400, "Part numbers run from 1 to 10000")
        data = await read_body(request, self.max_body)
        if not self.store.has_room(self._pending_bytes + len(data)):
            return _full()
        self._pending_bytes += len(data) - len(upload.parts.get(number, (b"", ""))[0])
        etag = etag_of(data)
        upload.parts[number] = (data, etag)
        # The Python client reads the ETag header, the JS client this JSON body.
        return json_response({"partNumber": number, "etag": etag}, headers={"ETag": etag})

    async def multipart_complete(self, request: Request) -> Response:
        upload = self._pending(request)
        if isinstance(upload, Response):
            return upload
        body = await read_json(request, self.max_body)
        parts = body.get("parts") if isinstance(body, dict) else None
        if not isinstance(parts, list) or not parts:
            return detail(400, "Body must be {\"parts\": [{\"partNumber\": n, \"etag\": ...}, ...]}")
        chunks: list[bytes] = []
        for entry in sorted(parts, key=lambda e: e.get("partNumber", 0) if isinstance(e, dict) else 0):
            number = entry.get("partNumber") if isinstance(entry, dict) else None
            part = upload.parts.get(number) if isinstance(number, int) else None
            if part is None:
                return detail(400, f"Part {number!r} was never uploaded")
            data, etag = part
            if entry.get("etag") != etag:
                return detail(400, f"ETag of part {number} does not match the uploaded part")
            chunks.append(data)
        self._drop(request.path_params["upload_id"])
        self.store.put_at(upload.key, b"".join(chunks), upload.content_type)
        return json_response({"access_url": self._url(upload.key)})

    # -- legacy: initiate, then PUT to the returned upload URL ------------------------------------

    async def _initiated_file(self, request: Request) -> tuple[str, str] | Response:
        """(key, content type) for an initiate call's ``{file_name, content_type}`` body."""
        denied = self.authorize_key(request)
        if denied is not None:
            return denied
        body = await read_json(request, self.max_body)
        if not isinstance(body, dict):
            return detail(422, "Body must be {\"file_name\": ..., \"content_type\": ...}")
        content_type = str(body.get("content_type") or "application/octet-stream")
        name = str(body.get("file_name") or f"upload{mimetypes.guess_extension(content_type) or '.bin'}")
        return f"{secrets.token_hex(10)}/{_safe_name(name)}", content_type

    async def initiate_multipart(self, request: Request) -> Response:
        """The JS client's flow: PUT ``<upload_url>/<n>`` for each part, POST ``<upload_url>/complete``."""
        initiated = await self._initiated_file(request)
        if isinstance(initiated, Response):
            return initiated
        key, content_type = initiated
        self._expire_pending()
        if len(self._multipart) >= _MAX_PENDING:
            return detail(429, f"Too many unfinished multipart uploads (at most {_MAX_PENDING})")
        upload_id = self._open_multipart(key, content_type)
        url = self._url(key)
        signed = self._sign(f"multipart:{upload_id}")
        return json_response({"upload_url": f"{url}/multipart/{upload_id}?upload_token={signed}", "file_url": url})

    async def initiate(self, request: Request) -> Response:
        initiated = await self._initiated_file(request)
        if isinstance(initiated, Response):
            return initiated
        key, content_type = initiated
        self._expire_pending()
        while len(self._initiated) >= _MAX_PENDING:
            self._initiated.popitem(last=False)
        upload_token = self._sign(key)
        self._initiated[upload_token] = (key, content_type)
        url = self._url(key)
        return json_response({"upload_url": f"{url}?upload_token={upload_token}", "file_url": url})

    async def put_initiated(self, request: Request) -> Response:
        upload_token = request.query_params.get("upload_token", "")
        pending = self._initiated.get(upload_token)
        key = f"{request.path_params['token']}/{request.path_params['name']}"
        if pending is None or pending[0] != key:
            return detail(403, "Upload URL is unknown or already used")
        data = await read_body(request, self.max_upload, "limits.max_upload_bytes")
        if not self.store.has_room(len(data)):
            return _full()
        del self._initiated[upload_token]
        self.store.put_at(key, data, request.headers.get("content-type") or pending[1])
        return Response(status_code=200)

    # -- serving ----------------------------------------------------------------------------------

    async def serve(self, request: Request) -> Response:
        blob = self.store.get(f"{request.path_params['token']}/{request.path_params['name']}")
        if blob is None:
            return detail(404, "File not found")
        return Response(blob.data, media_type=blob.content_type, headers={"ETag": blob.etag})

    def _url(self, key: str) -> str:
        return f"{self.base_url()}/files/{quote(key)}"

    def _sign(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()[:32]

    def _drop(self, upload_id: str) -> None:
        upload = self._multipart.pop(upload_id)
        self._pending_bytes -= sum(len(data) for data, _ in upload.parts.values())

    def _expire_pending(self) -> None:
        horizon = time.monotonic_ns() - _TOKEN_SECONDS * 1_000_000_000
        while self._multipart and next(iter(self._multipart.values())).created_ns < horizon:
            self._drop(next(iter(self._multipart)))


def _full() -> Response:
    return detail(429, "Emulator storage is full (limits.max_stored_bytes); retry later")


def etag_of(data: bytes) -> str:
    """The ETag a stored file is served with: the MD5 of its bytes, quoted."""
    return f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'


def _content_type(request: Request) -> str:
    return request.headers.get("content-type") or "application/octet-stream"


def _file_name(request: Request, content_type: str) -> str:
    name = request.headers.get("x-fal-file-name")
    if name:
        return name
    extension = mimetypes.guess_extension(content_type.split(";")[0].strip()) or ".bin"
    return f"{secrets.token_hex(8)}{extension}"


def _safe_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in name.rsplit("/", 1)[-1])
    return cleaned.strip(".") or "file"
