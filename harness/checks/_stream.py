"""Checks on streams (``POST {run}/{endpoint}/stream``): every event is JSON, partial outputs grow
and say they are partial, progress moves forward; the last event is the output (``output.schema``).

Each check is registered by a call after its function, not by a decorator, so that mutation testing
reaches its body (docs/testing.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from harness.checks._registry import CheckContext, NotApplicable, check
from harness.contracts import validate_output


def _events(ctx: CheckContext) -> None:
    if ctx.obs.mode != "stream":
        raise NotApplicable("not a stream")
    if ctx.expect.status != 200:
        raise NotApplicable("the input was meant to be rejected")
    if not ctx.obs.events:
        raise NotApplicable("the stream sent no event")


def stream_events_json(ctx: CheckContext) -> Iterator[str]:
    """Every event of the stream is a JSON object."""
    _events(ctx)
    for i, event in enumerate(ctx.obs.events):
        if event.error is not None:
            yield f"event {i} is {event.error} ({event.size} bytes)"
        elif not isinstance(event.data, dict):
            yield f"event {i} is a JSON {type(event.data).__name__}, not an object"


check("stream.events-json")(stream_events_json)


def stream_final_output(ctx: CheckContext) -> Iterator[str]:
    """The stream's last event is the complete output: it matches the output schema."""
    _events(ctx)
    last = ctx.obs.events[-1].data
    if not isinstance(last, dict):
        yield "the last event is not a JSON object"
        return
    for v in validate_output(ctx.contract, last):
        yield f"last event: {v.path}: {v.message} [{v.rule}]"


check("stream.final-output")(stream_final_output)


def stream_progression(ctx: CheckContext) -> Iterator[str]:
    """Events move forward as the contract says: a partial text grows and is flagged partial until
    the last event; progress never goes back and stays within 0..1."""
    _events(ctx)
    streaming = ctx.contract.streaming
    if streaming is None:
        raise NotApplicable("the contract declares no streaming")
    data = [e.data for e in ctx.obs.events if isinstance(e.data, dict)]
    if streaming.events == "partial":
        field, flag = streaming.field, streaming.flag
        if field is None or flag is None:  # the loader requires both for partial events
            raise NotApplicable("the contract's partial events name no field and flag")
        flags = [d.get(flag) for d in data]
        if flags[-1] is not False and flags[-1] is not None:
            yield f"the last event has {flag}={flags[-1]!r}, not false"
        for i, value in enumerate(flags[:-1]):
            if value is not True:
                yield f"event {i} has {flag}={value!r} before the last event"
        texts = [d.get(field) for d in data]
        for i, (a, b) in enumerate(itertools.pairwise(texts)):
            if not isinstance(a, str) or not isinstance(b, str) or not b.startswith(a):
                yield f"event {i + 1}'s {field} does not continue event {i}'s"
        return
    progress = [d["progress"] for d in data[:-1] if "progress" in d]
    if not progress:
        yield "no progress event came before the output"
    for i, value in enumerate(progress):
        if not isinstance(value, int | float) or not 0 <= value <= 1:
            yield f"progress event {i} has progress {value!r}, outside 0..1"
    if any(b < a for a, b in itertools.pairwise(progress) if isinstance(a, int | float) and isinstance(b, int | float)):
        yield f"progress went back: {progress}"


check("stream.progression")(stream_progression)
