"""The emulator's HTTP face: the queue, sync-run, storage, JWKS and emulator-only routes.

Two listening addresses share one app: a request is routed to the sync API when it arrived on the
run socket (or names ``fal.run`` in its Host header) and to everything else otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harness._tls import ssl_context
from harness._version import EMULATOR_AGENT
from harness.contracts import Contract, app_root_of
from harness.emulator._config import DEFAULT_KEY, EmulatorConfig, FaultRule
from harness.emulator._faults import LIFECYCLE_FAULTS, FaultPlan, apply_fault
from harness.emulator._files import FileResolver
from harness.emulator._http import BodyError, bearer_or_key, detail, dumps, json_response, read_json
from harness.emulator._model import StandInModel
from harness.emulator._queue import COMPLETED, IN_QUEUE, Endpoint, Job, Outcome, Scheduler
from harness.emulator._realtime import RealtimeApi
from harness.emulator._runner import Runner
from harness.emulator._storage import BlobStore, StorageApi
from harness.emulator._webhooks import WebhookSender

__all__ = ["BAD_KEY_FORMAT", "NO_USER", "Runtime", "build_app"]

log = logging.getLogger("harness.emulator")

#: what can follow ``<app root>/requests/<request id>``
_ACTIONS = ((), ("status",), ("status", "stream"), ("cancel",))
_RUN_HOSTS = (b"fal.run",)
_QUEUE_HOSTS = (b"queue.fal.run", b"rest.fal.ai", b"v3.fal.media")
#: the header the emulator-only routes want the admin key in
ADMIN_HEADER = "X-Fal-Emulator-Admin-Key"
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")
_PRIORITIES = ("normal", "low")
#: request headers fal documents that the emulator accepts and notes in the timeline
_NOTED_HEADERS = ("x-fal-queue-priority", "x-fal-runner-hint", "x-fal-store-io", "x-fal-no-retry",
                  "x-fal-object-lifecycle-preference")

#: fal's bodies for a key it does not know and for one that is not ``<key_id>:<key_secret>``
NO_USER = "No user found for Key ID and Secret"
BAD_KEY_FORMAT = "Invalid Key Authorization header format. Expected '<key_id>:<key_secret>'."


class Runtime:
    """Everything one running emulator holds; lives on its event loop."""

    def __init__(self, config: EmulatorConfig, contracts: Mapping[str, Contract], queue_url: str,
                 run_url: str) -> None:
        self.config = config
        self.queue_url = queue_url
        self.run_url = run_url
        limits = config.limits
        file_ttl = config.scaled(limits.file_ttl_seconds) if config.time_scale > 0 else None
        self.store = BlobStore(limits.max_stored_bytes, file_ttl)
        self.http: httpx.AsyncClient | None = None
        self.files = FileResolver(self.store, lambda: queue_url, config.url_map, self.client,
                                  limits.max_file_bytes, limits.max_image_pixels)
        self.faults = FaultPlan(config.faults, config.seed)
        self.webhooks = WebhookSender(config.webhooks, config.time_scale, self.client)
        runner = Runner(self.store, self.files, queue_url, run_url)
        self.scheduler = Scheduler(config, runner, self._completed, queue_url)
        self.endpoints = {
            name: Endpoint(StandInModel(c, limits), config.settings_for(name), config, self.scheduler)
            for name, c in contracts.items()
        }
        self.scheduler.endpoints = self.endpoints
        self.app_roots = {e.app_root for e in self.endpoints.values()}
        self.keys = frozenset(config.keys)
        self.realtime = RealtimeApi(self.scheduler, self.endpoints, self.refuse_key, self.authorize,
                                    limits.max_body_bytes)
        self.admin_key = config.admin_key or secrets.token_urlsafe(24)

    def admitted(self, request: Request) -> bool:
        """Whether the request carries the admin key (the ground truth and the fault log are the
        operator's, not a tenant's: they hold every request and webhook URL)."""
        given = request.headers.get(ADMIN_HEADER, "")
        return hmac.compare_digest(given.encode(), self.admin_key.encode())

    def client(self) -> httpx.AsyncClient:
        if self.http is None:
            # trust_env=False: no proxy settings may ever route a loopback call elsewhere.
            # Its own user agent, so a recording of an app's traffic leaves the server's requests out.
            # The harness's one TLS context: building a context of its own loads the CA bundle again.
            self.http = httpx.AsyncClient(trust_env=False, follow_redirects=False, verify=ssl_context(trust_env=False),
                                          headers={"User-Agent": EMULATOR_AGENT})
        return self.http

    def authorize(self, request: Request) -> Response | None:
        """fal's answer to a request without a usable key, or None when its key is accepted."""
        cred = bearer_or_key(request)
        if cred is None:
            return detail(401, "Missing authorization header: send 'Authorization: Key <key_id>:<key_secret>'")
        scheme, key = cred
        return self.refuse_key(key) if scheme == "key" else detail(401, NO_USER)

    def refuse_key(self, key: str) -> Response | None:
        """fal's 401 for a malformed or unknown key (the body its gateway sends), else None."""
        if ":" not in key:
            return detail(401, BAD_KEY_FORMAT)
        if self.keys and key not in self.keys:
            return detail(401, NO_USER)
        return None

    def _completed(self, job: Job) -> None:
        if job.webhook is not None and job.outcome is not None:
            record: dict[str, Any] = {"url": job.webhook, "deliveries": [], "outcome": None}
            job.timeline["webhook"] = record
            self.scheduler.spawn(self.webhooks.deliver(job.webhook, job.id, job.outcome.status, job.outcome.body,
                                                       record))

    def pick_fault(self, stage: str, endpoint: str | None, job: Job | None = None) -> FaultRule | None:
        rule = self.faults.pick(stage, endpoint, job.id if job is not None else None)
        if rule is not None and job is not None:
            job.timeline["faults"].append(rule.fault)
        return rule

    async def sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.scheduler.sweep()
            self.store.sweep()

    def begin_close(self) -> None:
        """Stop taking work and release everyone waiting on a request (streams, sync runs)."""
        self.scheduler.closing = True
        for job in list(self.scheduler.jobs.values()):
            job.done.set()
            job.touch()

    async def close(self) -> None:
        self.begin_close()
        for task in list(self.scheduler.tasks):
            task.cancel()
        if self.http is not None:
            await self.http.aclose()


class QueueApi:
    """Submit, status (and its stream), result, cancel, and the sync run."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.scale = rt.config.time_scale
        self.max_body = rt.config.limits.max_body_bytes
        self._hot = {(): self._request(self.result), ("status",): self._request(self.status),
                     ("status", "stream"): self._request(self.stream)}

    def routes(self) -> list[Route]:
        """The queue API's routes: a request's actions under its app root, then a submit to any endpoint id.
        Every one wants a key first; what none matches is answered by :meth:`not_routed`."""
        requests = "/{root:path}/requests/{request_id}"
        actions = (("/status/stream", self.stream, "GET"), ("/status", self.status, "GET"),
                   ("/cancel", self.cancel, "PUT"), ("", self.result, "GET"))
        # fal takes each with a trailing slash too
        return [*(Route(f"{requests}{action}{slash}", self._request(handler), methods=[method])
                  for action, handler, method in actions for slash in ("", "/")),
                Route("/{path:path}", self.submit_route, methods=["POST"])]

    def _request(self, action: Callable[[Request, Job | None], Awaitable[Response]]
                 ) -> Callable[[Request], Awaitable[Response]]:
        """A request action's route: the key checked, then the request looked up under its app root (a
        request is its submitter's: another key is told it does not exist)."""

        async def route(request: Request) -> Response:
            denied = self.rt.authorize(request)
            if denied is not None:
                return denied
            root: str = request.path_params["root"]
            if root not in self.rt.app_roots:
                return self._unknown(request.url.path)
            job = self.rt.scheduler.get(root, request.path_params["request_id"])
            return await action(request, job if job is not None and job.owner == _owner(request) else None)

        return route

    def hot_route(self, scope: Scope) -> Callable[[Request], Awaitable[Response]] | None:
        """The handler of a submit, status, status stream or result, found without walking the
        router and its middleware (these are most of the emulator's traffic); None for anything
        else, which the Starlette routes answer."""
        method, path = scope["method"], scope["path"]
        if method == "POST":
            return self.submit_route if path.strip("/") in self.rt.endpoints else None
        found = _request_parts(path) if method == "GET" else None
        if found is None:
            return None
        root, request_id, action = found
        handler = self._hot.get(action)
        if handler is None or root not in self.rt.app_roots or not request_id:
            return None
        scope["path_params"] = {"root": root, "request_id": request_id}
        return handler

    async def submit_route(self, request: Request) -> Response:
        """``POST /<endpoint id>``: queue a request."""
        denied = self.rt.authorize(request)
        if denied is not None:
            return denied
        path = request.url.path
        endpoint = self._endpoint(path)
        if endpoint is None:  # a request's action asked with POST is a known path, the wrong method
            return detail(405, "Method Not Allowed") if self._request_path(path) else self._unknown(path)
        return await self.submit(request, endpoint)

    async def not_routed(self, request: Request, exc: Exception) -> Response:
        """fal's answer where no route matched: 401 without a key, 405 for a known path asked with the
        wrong method, else 404 naming the unknown application or path."""
        denied = self.rt.authorize(request)
        if denied is not None:
            return denied
        path = request.url.path
        if isinstance(exc, HTTPException) and exc.status_code == 405 and (
                self._endpoint(path) is not None or self._request_path(path)):
            return detail(405, "Method Not Allowed")
        return self._unknown(path)

    def _request_path(self, path: str) -> bool:
        """Whether ``path`` names one of a request's actions under a known app root."""
        found = _request_parts(path)
        return found is not None and found[0] in self.rt.app_roots and found[2] in _ACTIONS

    def _endpoint(self, path: str) -> Endpoint | None:
        return self.rt.endpoints.get(path.strip("/"))

    def _unknown(self, path: str) -> Response:
        name = path.strip("/")
        root = app_root_of(name)
        if root in self.rt.app_roots:
            return detail(404, f"Path /{name[len(root) + 1:]} not found")
        return detail(404, f"Application '{root}' not found")

    # -- queue ------------------------------------------------------------------------------------

    async def submit(self, request: Request, endpoint: Endpoint) -> Response:
        webhook = request.query_params.get("fal_webhook")
        if webhook is not None:
            why = self.rt.webhooks.refuse(webhook)
            if why is not None:
                entry = {"loc": ["query", "fal_webhook"], "msg": why, "type": "value_error", "input": webhook}
                return json_response({"detail": [entry]}, 422)
        start_timeout, bad = _start_timeout(request)
        if bad is not None:
            return bad
        priority = request.headers.get("x-fal-queue-priority", "normal").strip().lower() or "normal"
        if priority not in _PRIORITIES:
            refused = {"loc": ["header", "x-fal-queue-priority"], "msg": "Input should be 'normal' or 'low'",
                       "type": "enum", "input": request.headers.get("x-fal-queue-priority")}
            return json_response({"detail": [refused]}, 422)
        rule = self.rt.pick_fault("submit", endpoint.name)

        async def handle() -> Response:
            job = await self._accept(request, endpoint, "queue", rule, start_timeout, webhook, priority)
            if isinstance(job, Response):
                return job
            body: dict[str, Any] = {"status": IN_QUEUE, "request_id": job.id, **job.urls,
                                    "queue_position": endpoint.position(job), "logs": None, "metrics": {}}
            if webhook is not None:
                body["gateway_request_id"] = job.id
            return _Written(dumps(body), 200, {"x-fal-request-id": job.id}, job, IN_QUEUE)

        return await _guard(apply_fault(rule, self.scale, handle))

    async def _accept(self, request: Request, endpoint: Endpoint, mode: str, rule: FaultRule | None,
                      start_timeout: float | None, webhook: str | None = None, priority: str = "normal"
                      ) -> Job | Response:
        """Admit the request within the limits, read its body and queue it."""
        full = self.rt.scheduler.full()
        if full is not None:
            return detail(429, full)
        if not self.rt.store.has_room(1):
            return detail(429, "Emulator storage is full (limits.max_stored_bytes); retry later")
        payload = await read_json(request, self.max_body)
        lifecycle = rule if rule is not None and rule.fault in LIFECYCLE_FAULTS else None
        job = self.rt.scheduler.submit(endpoint, payload, mode, webhook=webhook, fault=lifecycle,
                                       start_timeout=start_timeout, priority=priority)
        job.owner = _owner(request)
        ref = request.headers.get("x-fal-harness-submit")
        if ref:  # which submit (all its retried attempts) created this request
            job.timeline["client_submit"] = ref[:64]
        # Accepted and ignored: the emulator has one pool of runners per endpoint and keeps no
        # request history, so a runner hint and the store-IO switch change nothing here.
        job.timeline["headers"] = {name: request.headers[name] for name in _NOTED_HEADERS if name in request.headers}
        return job

    async def status(self, request: Request, job: Job | None) -> Response:
        if job is None:
            return detail(404, "Request not found")
        with_logs = _flag(request.query_params.get("logs"))
        if with_logs is None:
            return _bad_logs(request)
        job.timeline["status_polls"] += 1

        async def handle() -> Response:
            phase = job.phase
            return _Written(dumps(job.status_body(with_logs)), 200 if phase == COMPLETED else 202,
                            {"x-fal-request-id": job.id}, job, phase)

        return await apply_fault(self.rt.pick_fault("status", job.endpoint.name, job), self.scale, handle, job.id)

    async def stream(self, request: Request, job: Job | None) -> Response:
        if job is None:
            return detail(404, "Request not found")
        with_logs = _flag(request.query_params.get("logs"))
        if with_logs is None:
            return _bad_logs(request)
        scheduler = self.rt.scheduler

        async def events() -> AsyncIterator[dict[str, str]]:
            last = b""
            while not scheduler.closing:
                changed = job.changed()
                phase = job.phase
                body = dumps(job.status_body(with_logs))
                if body != last:
                    last = body
                    # noted just before the write: a note taken after it could follow the client's read
                    job.written(phase)
                    yield {"data": body.decode()}
                if phase == COMPLETED:
                    return
                await changed.wait()

        async def handle() -> Response:
            return EventSourceResponse(events(), ping=self.rt.config.keepalive_seconds,
                                       headers={"x-fal-request-id": job.id}, sep="\n")

        return await apply_fault(self.rt.pick_fault("stream", job.endpoint.name, job), self.scale, handle, job.id)

    async def result(self, request: Request, job: Job | None) -> Response:
        if job is None:
            return detail(404, "Request not found")
        rule = self.rt.pick_fault("result", job.endpoint.name, job)

        async def handle() -> Response:
            if job.phase != COMPLETED or job.outcome is None:
                return detail(400, "Request is still in progress", {"x-fal-request-id": job.id})
            if rule is not None and rule.fault == "result_expired":
                self.rt.scheduler.expire(job)
                return detail(404, "Request not found")
            return _serve(job, job.outcome)

        return await apply_fault(rule, self.scale, handle, job.id)

    async def cancel(self, request: Request, job: Job | None) -> Response:
        if job is None:
            return json_response({"status": "NOT_FOUND"}, 404)

        async def handle() -> Response:
            code, status = self.rt.scheduler.cancel(job)
            return json_response({"status": status}, code, {"x-fal-request-id": job.id})

        return await apply_fault(self.rt.pick_fault("cancel", job.endpoint.name, job), self.scale, handle, job.id)

    # -- sync -------------------------------------------------------------------------------------

    async def run(self, request: Request) -> Response:
        denied = self.rt.authorize(request)
        if denied is not None:
            return denied
        path = request.url.path
        endpoint = self._endpoint(path)
        streamed = endpoint is None and path.rstrip("/").endswith("/stream")
        if streamed:
            endpoint = self._endpoint(path.rstrip("/")[: -len("/stream")])
            if endpoint is not None and endpoint.model.contract.streaming is None:
                return detail(404, "Path /stream not found")
        if endpoint is None:
            return self._unknown(path)
        start_timeout, bad = _start_timeout(request)
        if bad is not None:
            return bad
        rule = self.rt.pick_fault("run", endpoint.name)

        async def handle() -> Response:
            job = await self._accept(request, endpoint, "stream" if streamed else "sync", rule, start_timeout)
            if isinstance(job, Response):
                return job
            if streamed:
                return await self._event_stream(job)
            await job.done.wait()
            if job.outcome is None:
                return _shutting_down()
            return _serve(job, job.outcome)

        return await _guard(apply_fault(rule, self.scale, handle))

    async def _event_stream(self, job: Job) -> Response:
        """Server-sent events: each partial or progress event, then the output. A request the
        runner refuses before its first event (a bad input) is answered as the sync API would."""
        while not job.events and not job.done.is_set():
            await job.changed().wait()
        if not job.events:
            if job.outcome is None:
                return _shutting_down()
            if job.outcome.status >= 400:
                return _serve(job, job.outcome)
        scheduler = self.rt.scheduler

        async def events() -> AsyncIterator[dict[str, str]]:
            sent = 0
            while True:
                changed = job.changed()
                while sent < len(job.events):
                    yield {"data": job.events[sent].decode()}
                    sent += 1
                if job.phase == COMPLETED or scheduler.closing:
                    break
                await changed.wait()
            if job.outcome is not None:
                job.timeline["result_served_ns"].append(time.monotonic_ns())
                yield {"data": job.outcome.body.decode()}

        return EventSourceResponse(events(), ping=self.rt.config.keepalive_seconds, sep="\n",
                                   headers={"x-fal-request-id": job.id})


class _Written(Response):
    """A JSON answer stating a request's status that notes, as it is sent, when that status was
    first written (the ground truth's emit time)."""

    media_type = "application/json"

    def __init__(self, body: bytes, status_code: int, headers: Mapping[str, str], job: Job, phase: str) -> None:
        super().__init__(body, status_code, dict(headers))
        self.job, self.phase = job, phase

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.job.written(self.phase)  # just before the write, so never after the client's read
        await super().__call__(scope, receive, send)


def _shutting_down() -> Response:
    return detail(503, "The emulator is shutting down", error_type="runner_scheduling_failure")


def _owner(request: Request) -> str:
    """Who a request belongs to: a digest of the key it was sent with (the key itself is never kept)."""
    cred = bearer_or_key(request)
    return hashlib.sha256((cred[1] if cred else "").encode()).hexdigest()


def _serve(job: Job, out: Outcome) -> Response:
    """The model's answer, as the result URL or the sync API gives it; noted in the timeline."""
    job.timeline["result_served_ns"].append(time.monotonic_ns())
    return Response(out.body, status_code=out.status, headers=out.headers, media_type="application/json")


async def _guard(response: Awaitable[Response]) -> Response:
    try:
        return await response
    except BodyError as exc:
        return exc.response


def _flag(value: str | None) -> bool | None:
    if value is None:
        return False
    lowered = value.lower()
    return True if lowered in _TRUE else False if lowered in _FALSE else None


def _bad_logs(request: Request) -> Response:
    entry = {"loc": ["query", "logs"], "msg": "Input should be a valid boolean", "type": "bool_parsing",
             "input": request.query_params.get("logs")}
    return json_response({"detail": [entry]}, 422)


def _start_timeout(request: Request) -> tuple[float | None, Response | None]:
    raw = request.headers.get("x-fal-request-timeout")
    if raw is None:
        return None, None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if seconds <= 1:
        return None, detail(400, "X-Fal-Request-Timeout must be a number of seconds above 1", error_type="bad_request")
    return seconds, None


def _emulator_routes(rt: Runtime) -> list[Route]:
    refused = detail(401, f"the emulator's ground truth and fault log need its admin key in {ADMIN_HEADER}")

    async def timelines(request: Request) -> Response:
        if not rt.admitted(request):
            return refused
        return json_response({"requests": list(rt.scheduler.timelines.values())})

    async def timeline(request: Request) -> Response:
        if not rt.admitted(request):
            return refused
        found = rt.scheduler.timelines.get(request.path_params["request_id"])
        return json_response(found) if found is not None else detail(404, "Request not found")

    async def faults(request: Request) -> Response:
        if not rt.admitted(request):
            return refused
        return json_response({"faults": list(rt.faults.log)})

    async def health(request: Request) -> Response:
        # The documented default key is public; a configured key is never shown here.
        default_key = DEFAULT_KEY if not rt.config.keys or DEFAULT_KEY in rt.config.keys else None
        return json_response({"status": "ok", "queue_url": rt.queue_url, "run_url": rt.run_url,
                              "default_key": default_key, "stored_bytes": rt.store.used,
                              "stored_files": len(rt.store), **rt.scheduler.stats()})

    async def jwks(request: Request) -> Response:
        return json_response(rt.webhooks.jwks())

    return [
        Route("/_emulator/requests", timelines, methods=["GET"]),
        Route("/_emulator/requests/{request_id}", timeline, methods=["GET"]),
        Route("/_emulator/faults", faults, methods=["GET"]),
        Route("/_emulator/health", health, methods=["GET"]),
        Route("/.well-known/jwks.json", jwks, methods=["GET"]),
    ]


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    if status == 405:
        return detail(405, "Method Not Allowed")
    return detail(status, f"Path {request.url.path} not found")


def build_app(rt: Runtime) -> ASGIApp:
    """The ASGI app for one runtime: fixed routes first, then endpoint ids."""
    api = QueueApi(rt)

    async def guarded(handle: Callable[[], Awaitable[Response]]) -> Response:
        return await apply_fault(rt.pick_fault("upload", None), rt.config.time_scale, handle)

    limits = rt.config.limits
    storage = StorageApi(rt.store, lambda: rt.queue_url, rt.authorize, guarded, limits.max_body_bytes,
                         limits.max_upload_bytes)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        rt.client()
        sweeper = asyncio.get_running_loop().create_task(rt.sweep_forever())
        try:
            yield
        finally:
            sweeper.cancel()
            await rt.close()

    handlers: Any = {404: _not_found, 405: _not_found}
    tokens = rt.realtime.token
    queue_app = Starlette(routes=[*_emulator_routes(rt), *storage.routes(),
                                  Route("/tokens/", tokens, methods=["POST"]),
                                  Route("/tokens", tokens, methods=["POST"]),
                                  *api.routes()],
                          exception_handlers={404: api.not_routed, 405: api.not_routed}, lifespan=lifespan)
    # The run address also serves the files its runs made: a client that downloads only from its
    # base URL's origin (the AI SDK's provider) finds them there.
    run_app = Starlette(routes=[Route("/files/{token}/{name}", storage.serve, methods=["GET"]),
                                Route("/{path:path}", api.run, methods=["POST"]),
                                WebSocketRoute("/{path:path}", rt.realtime.socket)],
                        exception_handlers=handlers)
    run_netloc, run_port = urlsplit(rt.run_url).netloc.lower().encode(), urlsplit(rt.run_url).port

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await run_app(scope, receive, send)
            return
        if scope["type"] != "http":
            await queue_app(scope, receive, send)
            return
        target = run_app if _is_run(scope, run_netloc, run_port) else queue_app
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            hot = api.hot_route(scope) if target is queue_app else None
            if hot is not None:
                response = await hot(Request(scope, receive))
                await response(scope, receive, tracked)
            else:
                await target(scope, receive, tracked)
        except Exception:
            # fal's shape for an unhandled error; the traceback goes to the log.
            log.exception("emulator error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await detail(500, "Internal Server Error")(scope, receive, send)

    return app


def _is_run(scope: Scope, run_netloc: bytes, run_port: int | None) -> bool:
    """Whether a request is for the run API: its Host names fal's run host or the run address,
    else it came in on the run address's port."""
    for name, value in scope["headers"]:
        if name == b"host":
            lowered = value.lower()
            host = lowered.split(b":", 1)[0]
            if host in _RUN_HOSTS or lowered == run_netloc:
                return True
            if host in _QUEUE_HOSTS:
                return False
            break
    server = scope.get("server")
    return server is not None and run_port is not None and server[1] == run_port


def _request_parts(path: str) -> tuple[str, str, tuple[str, ...]] | None:
    """``(app root, request id, action)`` of a path under an app's ``requests/`` (the action: ``()``
    for the result, ``("status",)``, ``("status", "stream")``, ``("cancel",)``...), else None."""
    name = path.strip("/")
    root = app_root_of(name)
    rest = name[len(root) + 1:].split("/") if len(name) > len(root) else []
    if len(rest) < 2 or rest[0] != "requests":
        return None
    return root, rest[1], tuple(rest[2:])
