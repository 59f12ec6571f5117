"""Observations: what the client saw during one request lifecycle, as plain data.

Checks, statistics and reports read these; nothing here talks to the network. Timestamps are
``time.monotonic_ns()`` values, comparable with the emulator's ground truth on the same machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import TypeVar, cast

from harness._json import JsonObject, JsonValue

__all__ = [
    "Download",
    "ErrorInfo",
    "Exchange",
    "FileUse",
    "Observation",
    "StatusSeen",
    "StreamEvent",
]

#: the version of the dict shape ``Observation.to_dict`` writes (JSONL, cassettes, reports)
OBSERVATION_FORMAT = 1


@dataclass
class Exchange:
    """One HTTP attempt: a request and what came back (or the transport error)."""

    phase: str
    """submit, status, stream, result, cancel, run, token, upload, download, ..."""
    method: str
    url: str
    """Scheme, host and path; the query string keeps only non-secret parameters."""
    attempt: int
    sent_ns: int
    done_ns: int | None = None
    """When the response was in (its body too, unless it streams on): when its last bytes reached
    this machine where the kernel says (a target on loopback), else when the client read them."""
    status: int | None = None
    bytes_up: int = 0
    bytes_down: int = 0
    request_id: str | None = None
    """``x-fal-request-id`` of the response."""
    error: str | None = None
    """Transport error class name, when no response arrived."""
    retry_delay_s: float | None = None
    """Set when this attempt was retried: the delay slept before the next one."""
    headers: dict[str, str] = field(default_factory=dict)
    """Response headers the checks read (``x-fal-*``, content type), lower-case names."""
    read_ns: int | None = None
    """When the client read the response's last bytes, where ``done_ns`` is their arrival (the
    difference is how long the client's event loop kept them waiting)."""

    @property
    def retried(self) -> bool:
        return self.retry_delay_s is not None


@dataclass
class StatusSeen:
    """A status the client observed (every poll answer or stream event)."""

    status: str
    t_ns: int
    """When it reached this machine where the kernel says (a target on loopback), else when the
    client read it."""
    via: str
    """``stream`` or ``poll``."""
    queue_position: int | None = None
    http_status: int | None = None
    logs: int = 0
    error: str | None = None
    error_type: str | None = None
    read_ns: int | None = None
    """When the client read it, where ``t_ns`` is its arrival."""


@dataclass
class FileUse:
    """How a file input was passed."""

    field: str
    mode: str
    """``upload``, ``data-uri`` or ``url``."""
    size: int
    started_ns: int
    ended_ns: int
    url: str | None = None
    """The URL given to the model (``None`` for a data URI)."""


@dataclass
class Download:
    """One output file fetched from the URL the model returned."""

    url: str
    started_ns: int
    ended_ns: int
    status: int | None
    size: int
    content_type: str | None = None
    data: bytes | None = field(default=None, repr=False)
    """The bytes themselves, kept in memory for checks; never serialised."""


@dataclass
class StreamEvent:
    """One server-sent event of a stream (``POST {run}/{endpoint}/stream``) as it arrived."""

    t_ns: int
    size: int
    data: JsonValue = None
    """The event's JSON value; ``None`` with ``error`` set when it was not JSON."""
    error: str | None = None


@dataclass
class ErrorInfo:
    """Why a lifecycle did not produce an output: its kind, message and what the API said."""

    kind: str
    """``vendor`` (an HTTP error from the API), ``validation`` (422), ``model`` (COMPLETED with an
    error), ``timeout``, ``transport``, ``budget`` or ``cancelled``."""
    message: str
    status: int | None = None
    error_type: str | None = None
    request_id: str | None = None
    fields: list[str] = field(default_factory=list)
    """For validation errors: the locations the 422 named, dotted (``image_size.width``)."""


@dataclass
class Observation:
    """Everything seen while taking one request through the queue (or the sync API)."""

    endpoint: str
    target: str
    mode: str = "queue"
    """``queue``, ``sync`` or ``stream``."""
    scenario: str | None = None
    detection: str | None = None
    """How completion was detected: ``stream`` or ``poll`` (queue mode)."""
    input: JsonObject = field(default_factory=dict)
    """The payload as sent; data URIs are shortened to their media type and size."""
    files: list[FileUse] = field(default_factory=list)
    request_id: str | None = None
    submit_sent_ns: int | None = None
    submit_ack_ns: int | None = None
    submit_response: JsonObject | None = None
    statuses: list[StatusSeen] = field(default_factory=list)
    result_received_ns: int | None = None
    result_status: int | None = None
    output: JsonValue = None
    downloads: list[Download] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    cancel_response: JsonObject | None = None
    error: ErrorInfo | None = None
    submit_ref: str | None = None
    """The token sent with every attempt of the submit (``X-Fal-Harness-Submit``): a server that
    keeps it can tell which requests one submit created when a retry queued it twice."""
    tags: JsonObject = field(default_factory=dict)
    """Free-form labels: ``warmup``, ``cold``, ``index``, ``intended_start_ns``..."""
    events: list[StreamEvent] = field(default_factory=list)
    """A stream's events in arrival order (``mode`` ``stream``); the last one is the output."""

    # -- derived figures (nanoseconds) -----------------------------------------------------

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def retries(self) -> int:
        return sum(1 for e in self.exchanges if e.retried)

    @property
    def bytes_up(self) -> int:
        return sum(e.bytes_up for e in self.exchanges)

    @property
    def bytes_down(self) -> int:
        return sum(e.bytes_down for e in self.exchanges)

    def first_seen(self, status: str) -> StatusSeen | None:
        return next((s for s in self.statuses if s.status == status), None)

    @property
    def completed(self) -> StatusSeen | None:
        return self.first_seen("COMPLETED")

    @property
    def submit_ns(self) -> int | None:
        """Submit sent to submit acknowledged."""
        return _span(self.submit_sent_ns, self.submit_ack_ns)

    @property
    def queue_wait_ns(self) -> int | None:
        """Submit acknowledged to the first sight of the run starting (IN_PROGRESS, or COMPLETED
        when the run was too short to be seen in progress)."""
        started = self.first_seen("IN_PROGRESS") or self.completed
        return _span(self.submit_ack_ns, started.t_ns if started else None)

    @property
    def run_ns(self) -> int | None:
        """First sight of IN_PROGRESS to first sight of COMPLETED."""
        started, done = self.first_seen("IN_PROGRESS"), self.completed
        return _span(started.t_ns if started else None, done.t_ns if done else None)

    @property
    def result_ns(self) -> int | None:
        """COMPLETED seen to result received."""
        done = self.completed
        return _span(done.t_ns if done else None, self.result_received_ns)

    @property
    def download_ns(self) -> int | None:
        """Result received to the last output file downloaded."""
        if not self.downloads:
            return None
        return _span(self.result_received_ns, max(d.ended_ns for d in self.downloads))

    @property
    def upload_ns(self) -> int | None:
        """Time spent passing file inputs (uploading or encoding) before the submit."""
        if not self.files:
            return None
        return max(f.ended_ns for f in self.files) - min(f.started_ns for f in self.files)

    @property
    def end_to_end_ns(self) -> int | None:
        """First byte of work (file preparation or submit) to the last thing received."""
        start = min([f.started_ns for f in self.files]
                    + ([self.submit_sent_ns] if self.submit_sent_ns is not None else []),
                    default=None)
        ends = [self.result_received_ns, *(d.ended_ns for d in self.downloads)]
        end = max((e for e in ends if e is not None), default=None)
        return _span(start, end)

    @property
    def first_event_ns(self) -> int | None:
        """Stream request sent to its first event received."""
        return _span(self.submit_sent_ns, self.events[0].t_ns if self.events else None)

    @property
    def event_gap_ns(self) -> int | None:
        """The mean time between consecutive events of a stream (the last one is the output)."""
        if len(self.events) < 2:
            return None
        return (self.events[-1].t_ns - self.events[0].t_ns) // (len(self.events) - 1)

    @property
    def stream_ns(self) -> int | None:
        """Stream request sent to its last event (the output) received."""
        return _span(self.submit_sent_ns, self.events[-1].t_ns if self.events else None)

    def phases(self) -> dict[str, int | None]:
        """Every per-phase duration in nanoseconds, by name (a stream adds ``first_event``,
        ``event_gap`` and ``stream``)."""
        phases = {
            "upload": self.upload_ns,
            "submit": self.submit_ns,
            "queue_wait": self.queue_wait_ns,
            "run": self.run_ns,
            "result": self.result_ns,
            "download": self.download_ns,
            "end_to_end": self.end_to_end_ns,
        }
        if self.mode == "stream":
            phases.update(first_event=self.first_event_ns, event_gap=self.event_gap_ns, stream=self.stream_ns)
        return phases

    # -- serialisation ----------------------------------------------------------------------

    def to_dict(self) -> JsonObject:
        """JSON-ready data (downloaded bytes are left out)."""
        data = cast(JsonObject, asdict(self))
        for d in cast("list[JsonObject]", data["downloads"]):
            d.pop("data", None)
        data["format"] = OBSERVATION_FORMAT
        data["phases_ns"] = dict(self.phases())
        data["retries"] = self.retries
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Observation:
        """The observation ``to_dict`` wrote (lines written before ``headers_ns`` was dropped read too)."""

        def each(kind: type[_T], name: str) -> list[_T]:
            found = data.get(name)
            items = found if isinstance(found, list) else []
            return [_build(kind, item) for item in items if isinstance(item, Mapping)]

        error = data.get("error")
        return _build(cls, {k: v for k, v in data.items() if k not in ("format", "phases_ns", "retries")} | {
            "events": each(StreamEvent, "events"), "files": each(FileUse, "files"),
            "statuses": each(StatusSeen, "statuses"), "downloads": each(Download, "downloads"),
            "exchanges": each(Exchange, "exchanges"),
            "error": _build(ErrorInfo, error) if isinstance(error, Mapping) else None,
        })


_T = TypeVar("_T")


def _build(kind: type[_T], data: Mapping[str, object]) -> _T:
    """A dataclass from the fields of it that ``data`` holds (a key it no longer has is left out)."""
    names = {f.name for f in fields(kind)}  # type: ignore[arg-type]  # every kind given is a dataclass
    return kind(**{k: v for k, v in data.items() if k in names})


def _span(start: int | None, end: int | None) -> int | None:
    if start is None or end is None:
        return None
    return end - start
