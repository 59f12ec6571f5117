"""Resolving file inputs without touching the network: data URIs, the emulator's own files,
loopback URLs and the config's URL map; then checking each file is what its field says.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes

import httpx
import pybase64
from cachetools import LRUCache

from harness._data import read_bytes
from harness._target import is_loopback_url
from harness.contracts import Contract, FieldSpec
from harness.emulator._images import probe
from harness.emulator._storage import BlobStore

__all__ = ["FileResolver"]

_INLINE_LIMIT = 256 * 1024  # bytes checked on the event loop; anything larger goes to a thread
_DOCS = "https://docs.fal.ai/errors/#"
_CHECKED = 1024  # files remembered as good
_MAX_MEMBERS = 100  # archive members looked at for an image
#: members that inflate more than this many times are bombs, not photos (images barely compress)
_MAX_RATIO = 200


class _FileError(Exception):
    def __init__(self, kind: str, message: str, ctx: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.ctx = ctx


class FileResolver:
    """Turns each file field's URL into bytes and checks them, or says why it cannot."""

    def __init__(self, store: BlobStore, own_base: Callable[[], str], url_map: Mapping[str, Path],
                 client: Callable[[], httpx.AsyncClient], max_bytes: int, max_pixels: int) -> None:
        self.store = store
        self.own_base = own_base
        self.url_map = dict(url_map)
        self.client = client
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self._mapped: dict[str, bytes] = {}
        self.checked: LRUCache[tuple[str, str], None] = LRUCache(maxsize=_CHECKED)
        """(kind, sha256) of files that passed their check: the same file sent again (a fixture in
        every request) is decoded once, not on every request."""

    async def resolve(self, contract: Contract, payload: Mapping[str, object]
                      ) -> tuple[dict[str, str], list[dict[str, object]]]:
        """(field -> sha256 of its file, fal error entries); every present file field is checked."""
        digests: dict[str, str] = {}
        errors: list[dict[str, object]] = []
        for spec in contract.input.fields:
            value = payload.get(spec.name) if spec.file else None
            values = [v for v in value if isinstance(v, str)] if isinstance(value, list) else [value]
            for index, item in enumerate(values):
                if isinstance(item, str):
                    await self._one(spec, index if isinstance(value, list) else None, item, digests, errors)
        return digests, errors

    async def _one(self, spec: FieldSpec, index: int | None, value: str, digests: dict[str, str],
                   errors: list[dict[str, object]]) -> None:
        """Fetch and check one file (``index`` is its place in a list field); record its digest or error."""
        kind = spec.file or "any"
        try:
            data = await self._fetch(value)
            digest = hashlib.sha256(data).hexdigest()
            if (kind, digest) not in self.checked:
                if len(data) > _INLINE_LIMIT or kind in ("video", "audio", "image"):
                    await asyncio.to_thread(self._check, kind, data)
                else:
                    self._check(kind, data)
                self.checked[kind, digest] = None
        except _FileError as exc:
            loc: list[str | int] = ["body", spec.name] if index is None else ["body", spec.name, index]
            entry: dict[str, object] = {"loc": loc, "msg": str(exc), "type": exc.kind, "url": _DOCS + exc.kind}
            if exc.ctx:
                entry["ctx"] = dict(exc.ctx)
            if len(value) <= 200:
                entry["input"] = value
            errors.append(entry)
        else:
            key = spec.name if index is None else f"{spec.name}[{index}]"
            digests[key] = digest

    async def _fetch(self, url: str) -> bytes:
        if url.startswith("data:"):
            return self._data_uri(url)
        if url in self.url_map:
            return self._mapped_file(url)
        own = self.own_base() + "/files/"
        if url.startswith(own):
            blob = self.store.get(unquote(url[len(own):].split("?", 1)[0]))
            if blob is None:
                raise _FileError("file_download_error", "Failed to download the file: the emulator holds no file "
                                                        "at this URL (never uploaded, or expired)")
            return blob.data
        if is_loopback_url(url):
            return await self._download(url)
        raise _FileError("file_download_error",
                         "Failed to download the file: the emulator makes no network calls and only reads data "
                         "URIs, its own files, loopback URLs and the URLs in its config's url_map")

    def _data_uri(self, url: str) -> bytes:
        header, sep, payload = url[5:].partition(",")
        if not sep:
            raise _FileError("file_download_error", "Malformed data URI: no comma before the data")
        if header.endswith(";base64"):
            try:
                data: bytes = pybase64.b64decode(payload, validate=True)
            except ValueError:
                raise _FileError("file_download_error", "Malformed data URI: the data is not valid base64") from None
        else:
            data = unquote_to_bytes(payload)
        if len(data) > self.max_bytes:
            raise _FileError("file_too_large", f"File is larger than {self.max_bytes} bytes",
                             {"max_size": self.max_bytes})
        return data

    def _mapped_file(self, url: str) -> bytes:
        data = self._mapped.get(url)
        if data is None:
            data = self._mapped[url] = read_bytes(self.url_map[url], limit=self.max_bytes, what='mapped file')
        return data

    async def _download(self, url: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            async with self.client().stream("GET", url, timeout=10.0) as response:
                if not response.is_success:
                    raise _FileError("file_download_error",
                                     f"Failed to download the file: HTTP {response.status_code}")
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise _FileError("file_too_large", f"File is larger than {self.max_bytes} bytes",
                                         {"max_size": self.max_bytes})
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise _FileError("file_download_error", f"Failed to download the file: {type(exc).__name__}") from None
        return b"".join(chunks)

    def _check(self, kind: str, data: bytes) -> None:
        if kind in ("video", "audio"):
            if not _has_stream(data, kind):
                raise _FileError(f"{kind}_load_error", f"Failed to load the {kind}: the file holds no {kind} stream "
                                                       "in a supported format, or it is corrupted")
        elif kind == "mesh":
            if not _looks_like_mesh(data):
                raise _FileError("mesh_load_error", "Failed to load the 3D model: the file is not GLB, glTF, OBJ, "
                                                    "PLY or STL, or it is corrupted")
        elif kind == "image":
            if probe(data, self.max_pixels * 4) is None:
                raise _FileError("image_load_error", "Failed to load the image: the file is not an image "
                                                     "in a supported format, or it is corrupted")
        elif kind == "archive":
            try:
                archive = zipfile.ZipFile(io.BytesIO(data))
            except (zipfile.BadZipFile, ValueError):
                raise _FileError("invalid_archive", "The archive is not a valid zip file") from None
            # Inflating is bounded in total, not per member: a zip bomb of many members just under
            # the file limit costs no more than one file at the limit.
            budget = self.max_bytes
            with archive:
                for info in archive.infolist()[:_MAX_MEMBERS]:
                    if info.is_dir() or info.file_size > budget or (
                            info.compress_size and info.file_size / info.compress_size > _MAX_RATIO):
                        continue
                    try:
                        with archive.open(info) as opened:
                            member = opened.read(info.file_size + 1)
                    except (zipfile.BadZipFile, ValueError, RuntimeError, OSError):
                        continue
                    budget -= len(member)
                    if len(member) > info.file_size:
                        continue
                    if probe(member, self.max_pixels * 4) is not None:
                        return
            raise _FileError("archive_file_count_below_minimum", "The archive must contain at least 1 image",
                             {"min_count": 1, "provided_count": 0})


def _has_stream(data: bytes, kind: str) -> bool:
    """Whether FFmpeg finds a stream of this kind (``video``/``audio``) in the file."""
    import av  # FFmpeg loads only for an input that is video or audio

    try:
        with av.open(io.BytesIO(data)) as container:
            streams = container.streams.video if kind == "video" else container.streams.audio
            return len(streams) > 0
    except (av.error.FFmpegError, ValueError, OSError):
        return False


def _looks_like_mesh(data: bytes) -> bool:
    """A sniff of the 3D formats' own signatures (binary glTF, glTF JSON, PLY, OBJ, STL)."""
    head = data[:512]
    if head.startswith((b"glTF", b"ply\n", b"ply\r\n", b"solid")) or b'"asset"' in head:
        return True
    if len(data) >= 84 and len(data) == 84 + 50 * int.from_bytes(data[80:84], "little"):
        return True  # binary STL: a header, a triangle count and 50 bytes per triangle
    text = head.decode("ascii", "replace")
    return any(line.startswith(("v ", "f ")) for line in text.splitlines())
