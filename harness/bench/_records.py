"""One measured unit of work (a request lifecycle, or one local repetition) as plain data, and the
ground-truth durations an emulator timeline gives for the same phases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

from pydantic import ValidationError, with_config

from harness._data import RESULT_MODEL, JsonObjectField, StrictBool, StrictInt, StrictStr, model_adapter
from harness._json import JsonObject, JsonValue
from harness.client import Observation

__all__ = [
    "LAG_STATUSES",
    "PHASES",
    "RECORD_FORMAT",
    "TRUTH_PHASES",
    "Measured",
    "Record",
    "attribute_duplicates",
    "measured_from_observation",
    "read_lags",
    "status_lags",
    "truth_phases",
]

#: the version of one line of ``requests.jsonl`` (docs/formats.md, "Benchmark results")
RECORD_FORMAT = "fal-harness/bench-request@1"

#: phase names in the order reports show them
PHASES: tuple[str, ...] = (
    "upload", "submit", "queue_wait", "run", "result", "first_event", "event_gap", "stream", "download",
    "completion", "end_to_end", "latency",
)

#: phases the emulator's timeline knows the true duration of
TRUTH_PHASES: tuple[str, ...] = ("queue_wait", "run", "completion", "first_event", "event_gap", "stream")


#: the statuses whose emit and receive lags a benchmark reports: the submit answer (IN_QUEUE),
#: the run seen starting and the run seen done
LAG_STATUSES: tuple[str, ...] = ("IN_QUEUE", "IN_PROGRESS", "COMPLETED")
_CHANGED = {"IN_QUEUE": "received_ns", "IN_PROGRESS": "started_ns", "COMPLETED": "completed_ns"}


@dataclass
class Measured:
    """What a unit of work hands back to the runner."""

    started_ns: int
    ended_ns: int
    phases_ns: dict[str, int | None]
    error: JsonObject | None = None
    request_id: str | None = None
    endpoint: str | None = None
    observation: JsonObject | None = None
    """The client's observation (``Observation.to_dict`` without the model output)."""
    request_ids: tuple[str, ...] = ()
    """Every request id the unit sent, when it sent more than one (the overhead scenario's pairs)."""


@with_config(RESULT_MODEL)
@dataclass
class Record:
    """One line of ``requests.jsonl``."""

    run_id: StrictStr
    series: StrictStr
    index: StrictInt
    """Position in the series, warm-up included, in the order the work was started."""
    warmup: StrictBool
    cold: StrictBool
    """The first request the run sent to its endpoint (cold start, where the vendor has one)."""
    intended_start_ns: StrictInt
    """When the schedule meant the work to start; latency counts from here (no coordinated omission)."""
    started_ns: StrictInt
    ended_ns: StrictInt
    phases_ns: dict[str, StrictInt | None]
    error: JsonObjectField | None = None
    request_id: StrictStr | None = None
    endpoint: StrictStr | None = None
    labels: JsonObjectField = field(default_factory=dict)
    observation: JsonObjectField | None = None
    request_ids: list[StrictStr] = field(default_factory=list)
    lifecycle: StrictStr | None = None
    """The unit of work's own id, unique across every process that wrote the run (a Locust run's
    ``<worker>/<sequence>``): a line seen twice or a sequence with a gap shows a duplicate or a loss."""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def measured(self) -> bool:
        """Counted in the statistics: neither warm-up nor the cold start."""
        return not self.warmup and not self.cold

    def to_dict(self) -> JsonObject:
        """The request line. Every field already holds plain JSON data: no deep copy (this runs once
        per request, in the loop that takes the next request's timestamps)."""
        out: JsonObject = {"format": RECORD_FORMAT}
        out.update({name: getattr(self, name) for name in self.__dataclass_fields__})
        if self.lifecycle is None:  # a benchmark's lines keep the shape they always had
            del out["lifecycle"]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, JsonValue]) -> Record | None:
        """A request line as a Record; ``None`` when it does not have a request line's shape."""
        try:
            return model_adapter(cls).validate_python(data)
        except ValidationError:
            return None


def measured_from_observation(obs: Observation, started_ns: int, ended_ns: int) -> Measured:
    """The runner's view of a lifecycle: the client's phases plus ``completion`` (submit
    acknowledged to COMPLETED seen, defined even when IN_PROGRESS was never seen)."""
    phases = dict(obs.phases())
    done = obs.completed
    phases["completion"] = (done.t_ns - obs.submit_ack_ns) if done is not None and obs.submit_ack_ns is not None \
        else None
    data = obs.to_dict()
    data.pop("output", None)  # model outputs can be large; the phases and exchanges are what count here
    data.pop("submit_response", None)
    error = asdict(obs.error) if obs.error is not None else None
    return Measured(started_ns=started_ns, ended_ns=ended_ns, phases_ns=phases, error=error,
                    request_id=obs.request_id, endpoint=obs.endpoint, observation=data)


def truth_phases(timeline: Mapping[str, JsonValue]) -> dict[str, int | None]:
    """The true durations, in ns, of the phases an emulator timeline records.

    queue wait: received to started; run: started to completed; completion: received to completed;
    for a stream, first event: received to the first event sent; event gap: the mean time between
    events, the output counted as the last; stream: received to the output sent.
    """
    received, started, completed = (timeline.get(k) for k in ("received_ns", "started_ns", "completed_ns"))

    def span(a: JsonValue, b: JsonValue) -> int | None:
        return b - a if isinstance(a, int) and isinstance(b, int) else None

    out = {"queue_wait": span(received, started), "run": span(started, completed),
           "completion": span(received, completed)}
    events = timeline.get("events_ns") or []
    if timeline.get("mode") == "stream" and isinstance(events, list) and events:
        gaps = span(events[0], completed)
        out.update(first_event=span(received, events[0]), stream=span(received, completed),
                   event_gap=gaps // len(events) if gaps is not None else None)
    return out


def attribute_duplicates(records: Sequence[Record], timelines: Sequence[Mapping[str, JsonValue]]) -> int:
    """Put every request a retried submit created (the emulator's timelines carry the submit's
    reference) on that submit's record, in its ``request_ids``; returns how many were extra. The
    records are changed in place."""
    created: dict[str, list[str]] = {}
    for t in timelines:
        ref, request_id = t.get("client_submit"), t.get("request_id")
        if isinstance(ref, str) and isinstance(request_id, str):
            created.setdefault(ref, []).append(request_id)
    extra = 0
    for record in records:
        ref = (record.observation or {}).get("submit_ref")
        ids = created.get(ref, []) if isinstance(ref, str) else []
        if len(ids) > 1:
            main = [record.request_id] if record.request_id else []
            record.request_ids = list(dict.fromkeys([*main, *record.request_ids, *ids]))
            extra += len(ids) - 1
    return extra


def read_lags(observation: Mapping[str, JsonValue] | None) -> dict[str, int]:
    """Per status, in ns: how long the client's event loop left it unread after it reached this
    machine (the submit answer for IN_QUEUE). Only where the kernel said when the bytes arrived (a
    target on loopback); that wait is not in any phase's time, which runs from arrival."""
    out: dict[str, int] = {}
    if observation is None:
        return out
    exchanges = observation.get("exchanges")
    submits = [e for e in exchanges if isinstance(e, Mapping) and e.get("phase") == "submit"] \
        if isinstance(exchanges, list) else []
    if submits and isinstance(read := submits[-1].get("read_ns"), int) \
            and isinstance(done := submits[-1].get("done_ns"), int):
        out["IN_QUEUE"] = read - done
    statuses = observation.get("statuses")
    for item in statuses if isinstance(statuses, list) else ():
        if isinstance(item, Mapping) and isinstance(t := item.get("t_ns"), int):
            status = item.get("status")
            if isinstance(status, str) and status in LAG_STATUSES and status != "IN_QUEUE" and status not in out \
                    and isinstance(read := item.get("read_ns"), int):
                out[status] = read - t
    return out


def status_lags(timeline: Mapping[str, JsonValue], observation: Mapping[str, JsonValue] | None
                ) -> dict[str, tuple[int | None, int | None]]:
    """Per status, in ns: the emulator's emit lag (the state changed to the status first written to
    a client) and the client's receive lag (written to first seen by the client; for IN_QUEUE, the
    submit answer read). Both clocks are this machine's monotonic clock.

    A phase's timing error is their sum at its end minus their sum at its start: queue wait's
    error is IN_PROGRESS's emit and receive lags less IN_QUEUE's."""
    written = timeline.get("written_ns")
    written = written if isinstance(written, Mapping) else {}
    seen: dict[str, int] = {}
    if observation is not None:
        ack = observation.get("submit_ack_ns")
        if isinstance(ack, int):
            seen["IN_QUEUE"] = ack
        statuses = observation.get("statuses")
        for item in statuses if isinstance(statuses, list) else ():
            if isinstance(item, Mapping) and isinstance(t := item.get("t_ns"), int):
                status = item.get("status")
                if isinstance(status, str) and status != "IN_QUEUE" and status not in seen:
                    seen[status] = t
    out: dict[str, tuple[int | None, int | None]] = {}
    for status in LAG_STATUSES:
        changed, wrote = timeline.get(_CHANGED[status]), written.get(status)
        if not isinstance(wrote, int):
            continue
        emit = wrote - changed if isinstance(changed, int) else None
        client = seen.get(status)
        out[status] = (emit, client - wrote if client is not None else None)
    return out
