"""Requests and their queues: per-endpoint waiting lines served by a fixed number of runners,
the IN_QUEUE -> IN_PROGRESS -> COMPLETED state machine, expiry, limits and the ground-truth timeline.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from harness.emulator._config import EmulatorConfig, EndpointSettings, FaultRule
from harness.emulator._http import dumps
from harness.emulator._model import StandInModel

__all__ = ["DIRECT_MODES", "RUN_MODES", "Endpoint", "Job", "Outcome", "Scheduler"]

log = logging.getLogger("harness.emulator")

T = TypeVar("T")

IN_QUEUE, IN_PROGRESS, COMPLETED = "IN_QUEUE", "IN_PROGRESS", "COMPLETED"

#: request modes that bypass the queue's wait, as fal's direct calls do
DIRECT_MODES = frozenset({"stream", "realtime"})
#: request modes answered on the run address, whose files are served from there too
RUN_MODES = frozenset({"sync", "stream", "realtime"})


@dataclass(eq=False, slots=True)
class Outcome:
    """What the result URL answers, and what the COMPLETED status says about it."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    error_type: str | None = None

    @classmethod
    def request_error(cls, status: int, message: str, error_type: str, **headers: str) -> Outcome:
        """fal's infrastructure error: flat ``detail`` + ``error_type``, also in ``x-fal-error-type``."""
        body = dumps({"detail": message, "error_type": error_type})
        return cls(status, body, {"x-fal-error-type": error_type, "x-fal-billable-units": "0", **headers},
                   message, error_type)

    @classmethod
    def model_error(cls, entries: list[dict[str, Any]], status: int = 422) -> Outcome:
        """The model's own rejection: a ``detail`` list, nothing billed."""
        first = entries[0]
        return cls(status, dumps({"detail": entries}), {"x-fal-billable-units": "0"}, str(first.get("msg")),
                   str(first.get("type")))


class Job:
    """One request from submit to expiry."""

    __slots__ = ("_changed", "cancel_reason", "deadline", "done", "endpoint", "events", "fault", "id", "logs",
                 "mode", "outcome", "owner", "payload", "phase", "priority", "ready_ns", "run_seconds", "task",
                 "timeline", "urls", "webhook")

    def __init__(self, endpoint: Endpoint, payload: Any, mode: str, webhook: str | None, fault: FaultRule | None,
                 queue_base: str, priority: str = "normal") -> None:
        self.id = str(uuid.uuid4())
        self.owner = ""
        """A digest of the key that submitted it: only that key may read or cancel it."""
        self.endpoint = endpoint
        self.payload = payload
        self.mode = mode
        self.webhook = webhook
        self.fault = fault
        self.priority = priority
        self.phase = IN_QUEUE
        self.logs: list[dict[str, Any]] = []
        self.outcome: Outcome | None = None
        self.task: asyncio.Task[Outcome] | None = None
        self.deadline: asyncio.TimerHandle | None = None
        self.cancel_reason: Outcome | None = None
        self.done = asyncio.Event()
        self._changed: asyncio.Event | None = None
        self.events: list[bytes] = []
        """A stream's events so far, each a JSON body (the final output is the outcome's body)."""
        now = time.monotonic_ns()
        # Direct calls (streams, realtime) go straight to a runner: no time in fal's queue.
        queue_wait = 0.0 if mode in DIRECT_MODES else endpoint.scaled(
            endpoint.settings.queue_wait.sample(endpoint.latency_rng))
        self.run_seconds = endpoint.scaled(endpoint.settings.run_time.sample(endpoint.latency_rng))
        self.ready_ns = now + int(queue_wait * 1e9)
        base = f"{queue_base}/{endpoint.app_root}/requests/{self.id}"
        self.urls = {"response_url": base, "status_url": f"{base}/status", "cancel_url": f"{base}/cancel"}
        self.timeline: dict[str, Any] = {
            "request_id": self.id, "endpoint": endpoint.name, "mode": mode, "clock": "monotonic_ns",
            "received_ns": now, "dispatched_ns": None, "started_ns": None, "completed_ns": None,
            "result_served_ns": [], "written_ns": {}, "status_polls": 0, "status": IN_QUEUE, "status_code": None,
            "error_type": None, "sampled": {"queue_wait_s": queue_wait, "run_time_s": self.run_seconds},
            "faults": [fault.fault] if fault is not None else [], "webhook": None, "priority": priority,
        }

    def touch(self) -> None:
        """Wake whoever streams this request's status."""
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def changed(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def written(self, status: str) -> None:
        """Note, just before the socket write, the first time ``status`` was written to a client (the
        submit answer for IN_QUEUE, a status answer, a status stream event): against the time the
        state changed it is the emulator's own emit lag, against the client's receive time the
        client's."""
        seen = self.timeline["written_ns"]
        if status not in seen:
            seen[status] = time.monotonic_ns()

    def add_event(self, body: bytes) -> None:
        """Publish one stream event to whoever streams this request; noted in the timeline."""
        self.events.append(body)
        self.timeline.setdefault("events_ns", []).append(time.monotonic_ns())
        self.touch()

    def add_log(self, message: str, level: str = "INFO") -> None:
        self.logs.append({"message": message, "level": level, "source": "user",
                          "timestamp": datetime.now(UTC).isoformat()})
        del self.logs[:-100]  # fal serves a moving window, not the whole history
        self.touch()

    def status_body(self, with_logs: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.phase, "request_id": self.id, **self.urls,
                                "logs": list(self.logs) if with_logs else None, "metrics": {}}
        if self.phase == IN_QUEUE:
            body["queue_position"] = self.endpoint.position(self)
        elif self.phase == COMPLETED:
            started, completed = self.timeline["started_ns"], self.timeline["completed_ns"]
            if started is not None:
                body["metrics"] = {"inference_time": (completed - started) / 1e9}
            if self.outcome is not None and self.outcome.error is not None:
                body["error"] = self.outcome.error
                body["error_type"] = self.outcome.error_type
        return body


Execute = Callable[[Job], Awaitable[Outcome]]


class Endpoint:
    """One endpoint: its contract's stand-in model, a FIFO waiting line and ``runners`` workers."""

    def __init__(self, model: StandInModel, settings: EndpointSettings, config: EmulatorConfig,
                 scheduler: Scheduler) -> None:
        self.model = model
        self.name = model.endpoint
        self.app_root = model.contract.app_root
        self.settings = settings
        self.scaled = config.scaled
        self.scheduler = scheduler
        self.latency_rng = random.Random(f"{config.seed}:latency:{self.name}")
        self.seed_rng = random.Random(f"{config.seed}:seeds:{self.name}")
        self.waiting: deque[Job] = deque()
        """The line: every ``normal`` request ahead of every ``low`` one, each kind first come first served."""
        self.low_waiting = 0
        self.free = settings.runners

    def position(self, job: Job) -> int:
        # A job a runner has taken but not started (its queue wait) is at the head: 0.
        try:
            return self.waiting.index(job)
        except ValueError:
            return 0

    def enqueue(self, job: Job) -> None:
        if job.priority == "low":
            self.waiting.append(job)
            self.low_waiting += 1
        elif self.low_waiting == 0:
            self.waiting.append(job)
        else:
            index = len(self.waiting) - self.low_waiting
            self.waiting.insert(index, job)
            self._moved(index + 1)
        self._dispatch()

    def remove(self, job: Job) -> bool:
        try:
            index = self.waiting.index(job)
        except ValueError:
            return False
        del self.waiting[index]
        self.low_waiting -= job.priority == "low"
        self._moved(index)
        return True

    def _dispatch(self) -> None:
        if self.scheduler.closing:
            return
        moved = False
        while self.free > 0 and self.waiting:
            job = self.waiting.popleft()
            self.low_waiting -= job.priority == "low"
            self.free -= 1
            moved = True
            job.timeline["dispatched_ns"] = time.monotonic_ns()
            job.task = self.scheduler.spawn(self._attempt(job))
            # A callback, not a finally: a task cancelled before it first runs never enters its body.
            job.task.add_done_callback(functools.partial(self._finished, job))
        if moved:
            self._moved(0)

    def _moved(self, start: int) -> None:
        for i in range(start, len(self.waiting)):
            self.waiting[i].touch()

    def _finished(self, job: Job, task: asyncio.Task[Outcome]) -> None:
        self.free += 1
        if task.cancelled():
            outcome = job.cancel_reason
        elif task.exception() is not None:
            log.error("emulator run of %s failed", job.id, exc_info=task.exception())
            outcome = Outcome.request_error(500, "Internal Server Error", "runner_server_error")
        else:
            outcome = task.result()
        if outcome is not None and job.phase != COMPLETED:
            self.scheduler.complete(job, outcome)
        self._dispatch()

    async def _attempt(self, job: Job) -> Outcome:
        try:
            wait = (job.ready_ns - time.monotonic_ns()) / 1e9
            if wait > 0:
                await asyncio.sleep(wait)
            job.phase = IN_PROGRESS
            job.timeline["started_ns"] = time.monotonic_ns()
            job.timeline["status"] = IN_PROGRESS
            if job.deadline is not None:
                job.deadline.cancel()
            job.touch()
            return await self.scheduler.execute(job)
        except asyncio.CancelledError:
            if job.cancel_reason is None:
                raise
            return job.cancel_reason


class Scheduler:
    """Every live request, the limits on them, their expiry and their timelines."""

    def __init__(self, config: EmulatorConfig, execute: Execute, on_complete: Callable[[Job], None],
                 queue_base: str) -> None:
        self.config = config
        self.execute = execute
        self.on_complete = on_complete
        self.queue_base = queue_base
        limits = config.limits
        self.ttl_ns = int(config.scaled(limits.result_ttl_seconds) * 1e9) if config.time_scale > 0 else None
        self.jobs: dict[str, Job] = {}
        self._expiry: OrderedDict[str, int] = OrderedDict()
        self._finished: OrderedDict[str, None] = OrderedDict()
        """Completed requests, oldest first: the first to make room when the live limit is reached."""
        self.timelines: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.endpoints: dict[str, Endpoint] = {}
        self.closing = False

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def full(self) -> str | None:
        """Why no more requests are admitted right now, or None."""
        limit = self.config.limits.max_live_requests
        if len(self.jobs) >= limit:
            self.sweep()
            # A finished request is not live work: the oldest make room, so the limit only ever
            # refuses when that many requests are really queued or running (even at time scale 0,
            # where results never expire by time).
            while len(self.jobs) >= limit and self._finished:
                job = self.jobs.get(next(iter(self._finished)))
                if job is None:
                    self._finished.popitem(last=False)
                else:
                    self.expire(job)
            if len(self.jobs) >= limit:
                return f"Too many requests: the emulator holds {limit} live requests (limits.max_live_requests)"
        return None

    def submit(self, endpoint: Endpoint, payload: Any, mode: str, *, webhook: str | None = None,
               fault: FaultRule | None = None, start_timeout: float | None = None, priority: str = "normal") -> Job:
        job = Job(endpoint, payload, mode, webhook, fault, self.queue_base, priority)
        self.jobs[job.id] = job
        self.timelines[job.id] = job.timeline
        while len(self.timelines) > self.config.limits.max_timelines:
            self.timelines.popitem(last=False)
        if start_timeout is not None:
            job.deadline = asyncio.get_running_loop().call_later(start_timeout, self._start_timeout, job)
        if fault is None or fault.fault != "stuck_queue":
            endpoint.enqueue(job)
        return job

    def get(self, app_root: str, request_id: str) -> Job | None:
        job = self.jobs.get(request_id)
        if job is None or job.endpoint.app_root != app_root:
            return None
        if job.phase == COMPLETED and job.id in self._expiry and self._expiry[job.id] <= time.monotonic_ns():
            self.sweep()
            return None
        return job

    def cancel(self, job: Job) -> tuple[int, str]:
        if job.phase == COMPLETED:
            return 400, "ALREADY_COMPLETED"
        job.timeline["cancelled_ns"] = time.monotonic_ns()
        self.abort(job, Outcome.request_error(499, "Request was cancelled", "client_cancelled"))
        return 202, "CANCELLATION_REQUESTED"

    def abort(self, job: Job, outcome: Outcome) -> None:
        """End a request that has not completed: out of the line, or its run stopped."""
        if job.phase == COMPLETED:
            return
        job.cancel_reason = outcome
        if job.task is not None:
            job.task.cancel()
        else:
            job.endpoint.remove(job)
            self.complete(job, outcome)

    def _start_timeout(self, job: Job) -> None:
        if job.phase == IN_QUEUE:
            self.abort(job, Outcome.request_error(504, "Request timed out", "request_timeout",
                                                  **{"x-fal-request-timeout-type": "user"}))

    def complete(self, job: Job, outcome: Outcome) -> None:
        now = time.monotonic_ns()
        if job.deadline is not None:
            job.deadline.cancel()
        job.outcome = outcome
        outcome.headers["x-fal-request-id"] = job.id
        job.phase = COMPLETED
        job.payload = None  # inputs can be large; only the outcome is needed from here on
        tl = job.timeline
        tl.update(completed_ns=now, status=COMPLETED, status_code=outcome.status, error_type=outcome.error_type)
        if self.ttl_ns is not None:
            self._expiry[job.id] = now + self.ttl_ns
        self._finished[job.id] = None
        job.done.set()
        job.touch()
        self.on_complete(job)

    def expire(self, job: Job) -> None:
        self.jobs.pop(job.id, None)
        self._expiry.pop(job.id, None)
        self._finished.pop(job.id, None)
        job.timeline["expired_ns"] = time.monotonic_ns()

    def sweep(self) -> None:
        # Every result lives equally long, so completion order is expiry order.
        now = time.monotonic_ns()
        while self._expiry:
            request_id, expires = next(iter(self._expiry.items()))
            if expires > now:
                break
            job = self.jobs.get(request_id)
            if job is not None:
                self.expire(job)
            else:
                self._expiry.pop(request_id)

    def stats(self) -> Mapping[str, int]:
        queued = sum(len(e.waiting) for e in self.endpoints.values())
        return {"live_requests": len(self.jobs), "queued": queued, "timelines": len(self.timelines)}
