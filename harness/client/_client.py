"""The instrumented queue client, async at its core with a thin synchronous facade.

One pooled httpx connection set per target. Low-level calls (submit, status, result, cancel,
run, upload, download) raise the harness's typed errors; ``lifecycle`` runs a whole request and
never raises for what the API does: it records it on the returned :class:`Observation`.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
import uuid
from collections.abc import AsyncGenerator, Coroutine, Iterator, Mapping, Sequence
from contextlib import aclosing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import httpx
import orjson
import pybase64
from httpx_sse import EventSource, SSEError

from harness._errors import BudgetExceeded, HarnessError, VendorError, VendorTimeout, VendorValidationError
from harness._version import __version__
from harness.client._files import FileInput, FileMode, LocalFileHost, build_body
from harness.client._observations import Download, ErrorInfo, Exchange, FileUse, Observation, StatusSeen, StreamEvent
from harness.client._retry import FAL_PYTHON, RetryPolicy
from harness.client._targets import Target
from harness.client._transport import (
    Instrumented,
    fields,
    kept_headers,
    parse_json,
    raise_for_status,
    safe_url,
    ssl_context,
)

__all__ = ["AsyncQueueClient", "QueueClient", "SubmitHandle", "recording"]

USER_AGENT = f"fal-harness/{__version__}"
#: sent with every attempt of one submit, so a retried submit that was queued twice can be traced
SUBMIT_REF_HEADER = "X-Fal-Harness-Submit"
MiB = 1024 * 1024
SUBMIT_KEYS = ("request_id", "response_url", "status_url", "cancel_url")
#: fal-client's queue timeout: long reads, a shorter connect
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=30.0)
_T = TypeVar("_T")


@dataclass(frozen=True)
class SubmitHandle:
    endpoint: str
    request_id: str
    response_url: str
    status_url: str
    cancel_url: str


@dataclass
class _CdnToken:
    token: str
    token_type: str
    base_url: str
    expires_at: datetime


class AsyncQueueClient:
    """Talks to one target. Use as ``async with AsyncQueueClient(target) as client``."""

    def __init__(
        self,
        target: Target,
        *,
        retry: RetryPolicy = FAL_PYTHON,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_connections: int = 200,
        transport: httpx.AsyncBaseTransport | None = None,
        multipart_threshold: int = 100 * MiB,
        multipart_chunk: int = 10 * MiB,
    ) -> None:
        self.target = target
        self._http = httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT},
            timeout=timeout,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            transport=transport,
            follow_redirects=True,
            # A proxy from the environment may serve a remote target; it must never see loopback traffic.
            trust_env=not target.is_loopback,
            verify=ssl_context(),
        )
        self._io = Instrumented(self._http, retry, target.budget)
        self._auth = target.auth_headers
        self._json_headers = {**self._auth, "Content-Type": "application/json"}
        self._token: _CdnToken | None = None
        self._file_host: LocalFileHost | None = None
        self.multipart_threshold = multipart_threshold
        self.multipart_chunk = multipart_chunk

    async def __aenter__(self) -> AsyncQueueClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._file_host is not None:
            self._file_host.close()
            self._file_host = None

    # -- the queue protocol -----------------------------------------------------------------

    async def submit(
        self,
        endpoint: str,
        payload: Mapping[str, Any] | None = None,
        *,
        body: bytes | None = None,
        obs: Observation | None = None,
        webhook_url: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SubmitHandle:
        """POST the input to the queue; returns the URLs the API gave back."""
        content = body if body is not None else orjson.dumps(payload or {})
        first = len(obs.exchanges) if obs is not None else 0
        ref = uuid.uuid4().hex
        if obs is not None:
            obs.submit_ref = ref
        response, raw = await self._io.request(
            "submit", "POST", f"{self.target.queue_url}/{endpoint}", obs=obs, content=content,
            headers={**self._json_headers, SUBMIT_REF_HEADER: ref, **(headers or {})},
            params={"fal_webhook": webhook_url} if webhook_url else None, billable=True,
        )
        if obs is not None:
            obs.submit_sent_ns = obs.exchanges[first].sent_ns
            obs.submit_ack_ns = obs.exchanges[-1].done_ns
        raise_for_status("submit", response, raw)
        data = parse_json(raw, "submit", response)
        if obs is not None:
            obs.submit_response = data if isinstance(data, dict) else {"_": data}
        missing = [k for k in SUBMIT_KEYS if not isinstance(data, dict) or not isinstance(data.get(k), str)]
        if missing:
            raise VendorError(f"submit response lacks {', '.join(missing)}", status=response.status_code,
                              request_id=response.headers.get("x-fal-request-id"))
        if obs is not None:
            obs.request_id = data["request_id"]
        return SubmitHandle(endpoint, data["request_id"], data["response_url"], data["status_url"],
                            data["cancel_url"])

    async def status(self, handle: SubmitHandle, *, logs: bool = False, obs: Observation | None = None) -> Any:
        """One poll of the status URL."""
        response, raw = await self._io.request(
            "status", "GET", handle.status_url, obs=obs, headers=self._auth, params={"logs": "1" if logs else "0"},
        )
        raise_for_status("status", response, raw)
        data = parse_json(raw, "status", response)
        if obs is not None:
            obs.statuses.append(_seen(data, time.monotonic_ns(), "poll", response.status_code))
        return data

    async def iter_status(
        self, handle: SubmitHandle, *, detect: str = "stream", interval: float = 0.1, logs: bool = False,
        obs: Observation | None = None,
    ) -> AsyncGenerator[Any, None]:
        """Yield every status until COMPLETED: from the SSE stream, falling back to polling when
        the stream is refused or ends early (the fallback is tagged on the observation)."""
        if detect == "stream":
            async with aclosing(self._stream(handle, logs=logs, obs=obs)) as events:
                async for data in events:
                    yield data
                    if isinstance(data, dict) and data.get("status") == "COMPLETED":
                        return
        elif detect != "poll":
            raise ValueError(f"detect must be 'stream' or 'poll', not {detect!r}")
        while True:
            data = await self.status(handle, logs=logs, obs=obs)
            yield data
            if isinstance(data, dict) and data.get("status") == "COMPLETED":
                return
            await asyncio.sleep(interval)

    async def _stream(self, handle: SubmitHandle, *, logs: bool, obs: Observation | None) -> AsyncGenerator[Any, None]:
        request = self._http.build_request(
            "GET", f"{handle.status_url}/stream", params={"logs": "1" if logs else "0"},
            headers={**self._auth, "Accept": "text/event-stream"},
            timeout=httpx.Timeout(60.0, connect=30.0),
        )
        exchange = Exchange(phase="stream", method="GET", url=safe_url(request.url), attempt=1,
                            sent_ns=time.monotonic_ns())
        if obs is not None:
            obs.exchanges.append(exchange)
        reason = "closed before COMPLETED"
        try:
            response = await self._http.send(request, stream=True)
        except httpx.HTTPError as error:
            exchange.error = type(error).__name__
            exchange.done_ns = time.monotonic_ns()
            _tag_fallback(obs, f"stream failed to open: {type(error).__name__}")
            return
        exchange.headers_ns = time.monotonic_ns()
        exchange.status = response.status_code
        exchange.request_id = response.headers.get("x-fal-request-id")
        exchange.headers = kept_headers(response.headers)
        try:
            if response.status_code != 200:
                reason = f"stream answered HTTP {response.status_code}"
                return
            async for event in EventSource(response).aiter_sse():
                t_ns = time.monotonic_ns()
                if not event.data:
                    continue
                data = orjson.loads(event.data)
                if obs is not None:
                    obs.statuses.append(_seen(data, t_ns, "stream", 200))
                completed = isinstance(data, dict) and data.get("status") == "COMPLETED"
                if completed:
                    reason = ""  # before yielding: a consumer that stops here closes us at the yield
                yield data
                if completed:
                    return
        except (httpx.HTTPError, SSEError, orjson.JSONDecodeError) as error:
            exchange.error = type(error).__name__
            reason = f"stream broke: {type(error).__name__}"
        finally:
            exchange.done_ns = time.monotonic_ns()
            exchange.bytes_down = response.num_bytes_downloaded
            await response.aclose()
            if reason:
                _tag_fallback(obs, reason)

    async def result(self, handle: SubmitHandle, *, obs: Observation | None = None, check: bool = True) -> Any:
        """GET the response URL: the output, or with ``check=False`` whatever came (error bodies too)."""
        response, raw, data = await self._fetch_result(handle, obs)
        if check:
            raise_for_status("result", response, raw)
            if not isinstance(data, dict):
                raise VendorError("result is not a JSON object", status=response.status_code,
                                  request_id=response.headers.get("x-fal-request-id"))
        return data

    async def _fetch_result(self, handle: SubmitHandle, obs: Observation | None) -> tuple[httpx.Response, bytes, Any]:
        response, raw = await self._io.request("result", "GET", handle.response_url, obs=obs, headers=self._auth)
        try:
            data: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            data = raw.decode("utf-8", "replace")
        if obs is not None:
            obs.result_received_ns = obs.exchanges[-1].done_ns
            obs.result_status = response.status_code
            obs.output = data
        return response, raw, data

    async def cancel(self, handle: SubmitHandle, *, obs: Observation | None = None) -> tuple[int, Any]:
        """PUT the cancel URL; returns the HTTP status and body (400/404 are answers, not errors)."""
        response, raw = await self._io.request("cancel", "PUT", handle.cancel_url, obs=obs, headers=self._auth)
        try:
            data: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            data = raw.decode("utf-8", "replace")
        if obs is not None:
            obs.cancel_response = {"http_status": response.status_code, "body": data}
        return response.status_code, data

    async def run(self, endpoint: str, payload: Mapping[str, Any] | None = None, *, body: bytes | None = None,
                  obs: Observation | None = None) -> Any:
        """The sync API: POST to the run address and get the output directly."""
        content = body if body is not None else orjson.dumps(payload or {})
        first = len(obs.exchanges) if obs is not None else 0
        response, raw = await self._io.request(
            "run", "POST", f"{self.target.run_url}/{endpoint}", obs=obs, content=content,
            headers=self._json_headers, billable=True, timeout=httpx.Timeout(None, connect=30.0),
        )
        if obs is not None:
            obs.submit_sent_ns = obs.exchanges[first].sent_ns
            obs.result_received_ns = obs.exchanges[-1].done_ns
            obs.result_status = response.status_code
            obs.request_id = response.headers.get("x-fal-request-id")
        raise_for_status("run", response, raw)
        data = parse_json(raw, "run", response)
        if obs is not None:
            obs.output = data
        return data

    async def stream(self, endpoint: str, payload: Mapping[str, Any] | None = None, *, body: bytes | None = None,
                     obs: Observation | None = None) -> Any:
        """The streaming API: POST ``{run}/{endpoint}/stream`` and read its server-sent events as
        they arrive (each one timed in ``obs.events``); returns the last event, the output. A
        refusal (fal answers a bad input with a plain 422) raises as ``run`` does."""
        content = body if body is not None else orjson.dumps(payload or {})
        request = self._http.build_request(
            "POST", f"{self.target.run_url}/{endpoint}/stream", content=content,
            headers={**self._json_headers, "Accept": "text/event-stream"}, timeout=httpx.Timeout(None, connect=30.0))
        if self._io.budget is not None:
            self._io.budget.spend()
        exchange = Exchange(phase="stream", method="POST", url=safe_url(request.url), attempt=1,
                            sent_ns=time.monotonic_ns(), bytes_up=len(content))
        if obs is not None:
            obs.exchanges.append(exchange)
            obs.submit_sent_ns = exchange.sent_ns
        try:
            response = await self._http.send(request, stream=True)
        except httpx.HTTPError as error:
            exchange.error = type(error).__name__
            exchange.done_ns = time.monotonic_ns()
            raise VendorError(f"stream failed to open: {type(error).__name__}") from None
        exchange.headers_ns = time.monotonic_ns()
        exchange.status = response.status_code
        exchange.request_id = response.headers.get("x-fal-request-id")
        exchange.headers = kept_headers(response.headers)
        if obs is not None:
            obs.request_id = exchange.request_id
            obs.result_status = response.status_code
        events: list[StreamEvent] = obs.events if obs is not None else []
        try:
            if response.status_code != 200 or not response.headers.get("content-type", "").startswith(
                    "text/event-stream"):
                raw = await response.aread()
                raise_for_status("stream", response, raw)
                raise VendorError("the stream answered without text/event-stream", status=response.status_code,
                                  request_id=exchange.request_id)
            async for event in EventSource(response).aiter_sse():
                t_ns = time.monotonic_ns()
                if not event.data:
                    continue
                try:
                    events.append(StreamEvent(t_ns, len(event.data), orjson.loads(event.data)))
                except orjson.JSONDecodeError:
                    events.append(StreamEvent(t_ns, len(event.data), None, "not JSON"))
        except (httpx.HTTPError, SSEError) as error:
            exchange.error = type(error).__name__
            raise VendorError(f"stream broke: {type(error).__name__}", request_id=exchange.request_id) from None
        finally:
            exchange.done_ns = time.monotonic_ns()
            exchange.bytes_down = response.num_bytes_downloaded
            await response.aclose()
        if not events:
            raise VendorError("the stream ended without an event", status=response.status_code,
                              request_id=exchange.request_id)
        output = events[-1].data
        if obs is not None:
            obs.result_received_ns = events[-1].t_ns
            obs.output = output
        return output

    # -- files ------------------------------------------------------------------------------

    async def upload(self, f: FileInput, *, repository: str = "fal_v3", obs: Observation | None = None) -> str:
        """Put a file in the target's storage; returns its URL. ``fal_v3`` is the CDN flow
        (multipart above ``multipart_threshold``), ``fal`` the initiate + PUT flow."""
        if repository == "fal":
            response, raw = await self._io.request(
                "upload-initiate", "POST", f"{self.target.rest_url}/storage/upload/initiate", obs=obs,
                params={"storage_type": "gcs"}, headers=self._json_headers,
                content=orjson.dumps({"file_name": f.name, "content_type": f.content_type}),
            )
            raise_for_status("upload", response, raw)
            upload_url, file_url = fields(parse_json(raw, "upload", response), "upload", response,
                                          "upload_url", "file_url")
            put, put_raw = await self._io.request("upload", "PUT", str(upload_url), obs=obs, content=f.data,
                                                  headers={"Content-Type": f.content_type})
            raise_for_status("upload", put, put_raw)
            return str(file_url)
        if repository != "fal_v3":
            raise ValueError(f"repository must be 'fal_v3' or 'fal', not {repository!r}")
        token = await self._cdn_token(obs)
        headers = {"Authorization": f"{token.token_type} {token.token}", "Content-Type": f.content_type,
                   "X-Fal-File-Name": f.name}
        if len(f.data) > self.multipart_threshold:
            return await self._multipart(f, token, headers, obs)
        response, raw = await self._io.request("upload", "POST", f"{token.base_url}/files/upload", obs=obs,
                                               content=f.data, headers=headers)
        raise_for_status("upload", response, raw)
        return str(fields(parse_json(raw, "upload", response), "upload", response, "access_url")[0])

    async def _multipart(self, f: FileInput, token: _CdnToken, headers: dict[str, str],
                         obs: Observation | None) -> str:
        response, raw = await self._io.request("upload-create", "POST", f"{token.base_url}/files/upload/multipart",
                                               obs=obs, headers=headers)
        raise_for_status("upload", response, raw)
        access_url, upload_id = fields(parse_json(raw, "upload", response), "upload", response,
                                       "access_url", "uploadId")
        base = f"{access_url}/multipart/{upload_id}"
        auth = {"Authorization": headers["Authorization"], "Content-Type": f.content_type}
        view = memoryview(f.data)

        async def part(n: int) -> dict[str, Any]:
            chunk = bytes(view[(n - 1) * self.multipart_chunk: n * self.multipart_chunk])
            r, body = await self._io.request("upload-part", "PUT", f"{base}/{n}", obs=obs, content=chunk,
                                             headers=auth)
            raise_for_status("upload", r, body)
            if "etag" not in r.headers:
                raise VendorError("upload part answer has no ETag", status=r.status_code)
            return {"partNumber": n, "etag": r.headers["etag"]}

        count = math.ceil(len(f.data) / self.multipart_chunk)
        parts = await asyncio.gather(*(part(n) for n in range(1, count + 1)))
        response, raw = await self._io.request("upload-complete", "POST", f"{base}/complete", obs=obs,
                                               content=orjson.dumps({"parts": parts}),
                                               headers={**auth, "Content-Type": "application/json"})
        raise_for_status("upload", response, raw)
        return str(access_url)

    async def _cdn_token(self, obs: Observation | None) -> _CdnToken:
        if self._token is not None and self._token.expires_at > datetime.now(UTC):
            return self._token
        response, raw = await self._io.request(
            "token", "POST", f"{self.target.rest_url}/storage/auth/token", obs=obs,
            params={"storage_type": "fal-cdn-v3"}, headers=self._json_headers, content=b"{}",
        )
        raise_for_status("token", response, raw)
        data = parse_json(raw, "token", response)
        token, token_type, expires_at = fields(data, "token", response, "token", "token_type", "expires_at")
        try:
            expiry = datetime.fromisoformat(str(expires_at))
        except ValueError:
            raise VendorError(f"token answer has an unreadable expires_at {expires_at!r}") from None
        if expiry.tzinfo is None:
            expiry = expiry.replace(tzinfo=UTC)
        self._token = _CdnToken(str(token), str(token_type), str(data.get("base_url") or self.target.cdn_url), expiry)
        return self._token

    def hosted_url(self, f: FileInput) -> str:
        """A URL where the file is hosted: the harness's own loopback host for loopback targets,
        ``hosted_base_url`` (where the fixtures are published) for others."""
        if self.target.is_loopback:
            if self._file_host is None:
                self._file_host = LocalFileHost()
            return self._file_host.url_for(f)
        if not self.target.hosted_base_url:
            raise HarnessError("the url file path needs a hosted base URL for a non-local target "
                               "(--hosted-base-url where the bundled fixtures are published)")
        return f"{self.target.hosted_base_url.rstrip('/')}/{f.name}"

    async def prepare(self, payload: Mapping[str, Any],
                      files: Mapping[str, FileInput | str | Sequence[FileInput | str]] | None,
                      mode: FileMode | str, obs: Observation) -> bytes:
        """The request body with every file input passed by ``mode``; records each on ``obs``.

        A field given a list of files (``image_urls``) gets a list of URLs or data URIs."""
        mode = FileMode(mode)
        sent = dict(payload)
        inline: dict[str, FileInput | list[FileInput]] = {}
        for name, spec in (files or {}).items():
            many = not isinstance(spec, str | FileInput)
            given = list(cast("Sequence[FileInput | str]", spec)) if many else [cast("FileInput | str", spec)]
            loaded = [FileInput.from_fixture(g) if isinstance(g, str) else g for g in given]
            if mode is FileMode.DATA_URI:
                inline[name] = loaded if many else loaded[0]
                continue
            urls = []
            for j, f in enumerate(loaded):
                t0 = time.monotonic_ns()
                url = await self.upload(f, obs=obs) if mode is FileMode.UPLOAD else self.hosted_url(f)
                urls.append(url)
                obs.files.append(FileUse(f"{name}[{j}]" if many else name, mode.value, len(f.data), t0,
                                         time.monotonic_ns(), url))
            sent[name] = urls if many else urls[0]
        t0 = time.monotonic_ns()
        body = build_body(sent, inline)
        t1 = time.monotonic_ns()
        for name, value in inline.items():
            group = value if isinstance(value, list) else [value]
            for j, f in enumerate(group):
                obs.files.append(FileUse(f"{name}[{j}]" if isinstance(value, list) else name, mode.value,
                                         len(f.data), t0, t1))
            shown = [f"data:{f.content_type};base64,<{len(f.data)} bytes>" for f in group]
            sent[name] = shown if isinstance(value, list) else shown[0]
        obs.input = _shorten(sent)
        return body

    async def download(self, url: str, *, obs: Observation | None = None) -> Download:
        """Fetch an output file (no credentials are sent to file hosts)."""
        started = time.monotonic_ns()
        if url.startswith("data:"):
            header, _, encoded = url.partition(",")
            data = pybase64.b64decode(encoded) if header.endswith(";base64") else encoded.encode()
            d = Download(url=header + ",...", started_ns=started, ended_ns=time.monotonic_ns(), status=None,
                         size=len(data), content_type=header[5:].split(";")[0] or None, data=data)
        else:
            response, raw = await self._io.request("download", "GET", url, obs=obs, max_bytes=MAX_DOWNLOAD_BYTES)
            d = Download(url=safe_url(response.request.url), started_ns=started, ended_ns=time.monotonic_ns(),
                         status=response.status_code, size=len(raw),
                         content_type=response.headers.get("content-type"), data=raw)
        if obs is not None:
            obs.downloads.append(d)
        return d

    # -- whole lifecycles -------------------------------------------------------------------

    async def lifecycle(
        self,
        endpoint: str,
        payload: Mapping[str, Any] | None = None,
        *,
        files: Mapping[str, FileInput | str | Sequence[FileInput | str]] | None = None,
        file_mode: FileMode | str = FileMode.DATA_URI,
        detect: str = "stream",
        poll_interval: float = 0.1,
        logs: bool = False,
        download: bool = True,
        webhook_url: str | None = None,
        scenario: str | None = None,
        tags: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Observation:
        """Submit, follow the status to COMPLETED, fetch the result and download its files.

        ``timeout`` bounds the wait for completion, as fal-client's ``client_timeout`` does: when it
        runs out the request is cancelled and the observation records a timeout.
        """
        obs = Observation(endpoint=endpoint, target=self.target.name, scenario=scenario, detection=detect,
                          tags=dict(tags or {}))
        with recording(obs):
            body = await self.prepare(payload or {}, files, file_mode, obs)
            handle = await self.submit(endpoint, body=body, obs=obs, webhook_url=webhook_url)
            final: Any = None
            try:
                async with asyncio.timeout(timeout):
                    async with aclosing(self.iter_status(handle, detect=detect, interval=poll_interval, logs=logs,
                                                         obs=obs)) as statuses:
                        async for status in statuses:
                            final = status
            except TimeoutError:
                await self.cancel(handle, obs=obs)
                raise VendorTimeout(f"not completed within {timeout} s; cancelled") from None
            response, raw, output = await self._fetch_result(handle, obs)
            obs.error = _judge_result(final, response, raw, output, handle.request_id)
            if obs.error is None and download:
                await self._download_outputs(output, obs)
        return obs

    async def sync_lifecycle(
        self,
        endpoint: str,
        payload: Mapping[str, Any] | None = None,
        *,
        files: Mapping[str, FileInput | str | Sequence[FileInput | str]] | None = None,
        file_mode: FileMode | str = FileMode.DATA_URI,
        download: bool = True,
        scenario: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> Observation:
        """The same through the sync API (one POST to the run address)."""
        obs = Observation(endpoint=endpoint, target=self.target.name, mode="sync", scenario=scenario,
                          tags=dict(tags or {}))
        with recording(obs):
            body = await self.prepare(payload or {}, files, file_mode, obs)
            output = await self.run(endpoint, body=body, obs=obs)
            if download:
                await self._download_outputs(output, obs)
        return obs

    async def stream_lifecycle(
        self,
        endpoint: str,
        payload: Mapping[str, Any] | None = None,
        *,
        files: Mapping[str, FileInput | str] | None = None,
        file_mode: FileMode | str = FileMode.DATA_URI,
        download: bool = True,
        scenario: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> Observation:
        """The same through the streaming API: every event timed, the last one the output."""
        obs = Observation(endpoint=endpoint, target=self.target.name, mode="stream", scenario=scenario,
                          tags=dict(tags or {}))
        with recording(obs):
            body = await self.prepare(payload or {}, files, file_mode, obs)
            output = await self.stream(endpoint, body=body, obs=obs)
            if download:
                await self._download_outputs(output, obs)
        return obs

    async def _download_outputs(self, output: Any, obs: Observation) -> None:
        urls = list(_file_urls(output))
        if urls:
            await asyncio.gather(*(self.download(u, obs=obs) for u in urls))


@contextmanager
def recording(obs: Observation) -> Iterator[None]:
    """What the API does is recorded on the observation, never raised; a spent budget is the
    harness stopping, so it propagates."""
    try:
        yield
    except BudgetExceeded:
        raise
    except HarnessError as error:
        obs.error = _error_info(error, obs.request_id)


#: an output file larger than this is not read to the end (the download fails, and the checks say so)
MAX_DOWNLOAD_BYTES = 1 << 30


def _judge_result(final: Any, response: httpx.Response, raw: bytes, output: Any, request_id: str) -> ErrorInfo | None:
    """How the run ended. The result's own answer comes first (a 422 naming fields is a validation
    error however the status described it); then a COMPLETED ``error`` is the model failing."""
    model_error = isinstance(final, dict) and final.get("error")
    try:
        raise_for_status("result", response, raw)
    except VendorValidationError as error:
        return _error_info(error, request_id)
    except VendorError as error:
        if not model_error:
            return _error_info(error, request_id)
    if model_error:
        return ErrorInfo("model", str(final["error"]), status=response.status_code,
                         error_type=final.get("error_type"), request_id=request_id)
    if not isinstance(output, dict):
        return ErrorInfo("vendor", "result is not a JSON object", status=response.status_code, request_id=request_id)
    return None


def _seen(data: Any, t_ns: int, via: str, http_status: int | None) -> StatusSeen:
    if not isinstance(data, dict):
        return StatusSeen(status=f"<{type(data).__name__}>", t_ns=t_ns, via=via, http_status=http_status)
    logs = data.get("logs")
    return StatusSeen(
        status=str(data.get("status")), t_ns=t_ns, via=via, http_status=http_status,
        queue_position=data.get("queue_position"), logs=len(logs) if isinstance(logs, list) else 0,
        error=data.get("error"), error_type=data.get("error_type"),
    )


def _tag_fallback(obs: Observation | None, reason: str) -> None:
    if obs is not None:
        obs.tags["stream_fallback"] = reason


def _error_info(error: HarnessError, request_id: str | None) -> ErrorInfo:
    if isinstance(error, VendorValidationError):
        return ErrorInfo("validation", str(error), status=error.status, request_id=error.request_id or request_id,
                         fields=list(error.fields))
    if isinstance(error, VendorTimeout):
        return ErrorInfo("timeout", str(error), request_id=request_id)
    if isinstance(error, VendorError):
        kind = "vendor" if error.status is not None else "transport"
        return ErrorInfo(kind, str(error), status=error.status, error_type=error.error_type,
                         request_id=error.request_id or request_id)
    return ErrorInfo("harness", str(error), request_id=request_id)


def _file_urls(value: Any) -> Iterator[str]:
    """URLs of file objects (``{url, content_type|file_name|width...}``) anywhere in an output."""
    if isinstance(value, dict):
        url = value.get("url")
        if isinstance(url, str) and url and ({"content_type", "file_name", "file_size", "width"} & value.keys()):
            yield url
        for v in value.values():
            if isinstance(v, dict | list):
                yield from _file_urls(v)
    elif isinstance(value, list):
        for v in value:
            yield from _file_urls(v)


def _shorten(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Data URIs in a recorded input become ``data:<type>;base64,<N bytes>``."""
    def short(v: Any) -> Any:
        if isinstance(v, str) and v.startswith("data:") and len(v) > 256:
            head, _, rest = v.partition(",")
            return f"{head},<{len(rest) * 3 // 4} bytes>"
        if isinstance(v, dict):
            return {k: short(x) for k, x in v.items()}
        if isinstance(v, list):
            return [short(x) for x in v]
        return v
    return {k: short(v) for k, v in payload.items()}


class QueueClient:
    """The synchronous facade: the same client driven on a private event-loop thread."""

    def __init__(self, target: Target, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fal-harness-client", daemon=True)
        self._thread.start()

        async def make() -> AsyncQueueClient:
            return AsyncQueueClient(target, **options)

        try:
            self.aio = self.call(make())
        except BaseException:
            self._stop_loop()
            raise
        self.target = target

    def call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Run a coroutine of :attr:`aio` (the async client) on this client's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def __enter__(self) -> QueueClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self.call(self.aio.aclose())
        self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def submit(self, endpoint: str, payload: Mapping[str, Any] | None = None, **kw: Any) -> SubmitHandle:
        return self.call(self.aio.submit(endpoint, payload, **kw))

    def status(self, handle: SubmitHandle, **kw: Any) -> Any:
        return self.call(self.aio.status(handle, **kw))

    def result(self, handle: SubmitHandle, **kw: Any) -> Any:
        return self.call(self.aio.result(handle, **kw))

    def cancel(self, handle: SubmitHandle, **kw: Any) -> tuple[int, Any]:
        return self.call(self.aio.cancel(handle, **kw))

    def run(self, endpoint: str, payload: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        return self.call(self.aio.run(endpoint, payload, **kw))

    def upload(self, f: FileInput, **kw: Any) -> str:
        return self.call(self.aio.upload(f, **kw))

    def download(self, url: str, **kw: Any) -> Download:
        return self.call(self.aio.download(url, **kw))

    def lifecycle(self, endpoint: str, payload: Mapping[str, Any] | None = None, **kw: Any) -> Observation:
        return self.call(self.aio.lifecycle(endpoint, payload, **kw))

    def stream(self, endpoint: str, payload: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        return self.call(self.aio.stream(endpoint, payload, **kw))

    def stream_lifecycle(self, endpoint: str, payload: Mapping[str, Any] | None = None, **kw: Any) -> Observation:
        return self.call(self.aio.stream_lifecycle(endpoint, payload, **kw))

    def sync_lifecycle(self, endpoint: str, payload: Mapping[str, Any] | None = None, **kw: Any) -> Observation:
        return self.call(self.aio.sync_lifecycle(endpoint, payload, **kw))
