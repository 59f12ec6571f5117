"""Checks on the queue protocol itself: submit answers, status sequences, status codes, 422s.

Each check is registered by a call after its function, not by a decorator, so that mutation testing
reaches its body (docs/testing.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

from harness.checks._registry import CheckContext, Failure, NotApplicable, check

#: what fal's submit answer carries (the queue page's "Submit a request"), judged here on its own
#: rather than by the client's reading of it
SUBMIT_KEYS = ("request_id", "response_url", "status_url", "cancel_url")
_ORDER = {"IN_QUEUE": 0, "IN_PROGRESS": 1, "COMPLETED": 2}


def submit_response_shape(ctx: CheckContext) -> Iterator[Failure]:
    """The submit answer carries request_id, response_url, status_url and cancel_url, status IN_QUEUE."""
    body = ctx.obs.submit_response
    if body is None:
        raise NotApplicable("nothing was submitted to the queue")
    for key in SUBMIT_KEYS:
        if not isinstance(body.get(key), str) or not body.get(key):
            yield Failure(f"submit response has no {key}", key)
    if body.get("status") != "IN_QUEUE":
        yield Failure(f"submit response status is {body.get('status')!r}, expected 'IN_QUEUE'", "status", "IN_QUEUE",
                      body.get("status"))


check("submit.response-shape")(submit_response_shape)


def submit_urls_use_app_root(ctx: CheckContext) -> Iterator[str]:
    """Status, response and cancel URLs live under the app root, as fal returns them."""
    body = ctx.obs.submit_response
    if body is None:
        raise NotApplicable("nothing was submitted to the queue")
    root = f"/{ctx.contract.app_root}/requests/"
    for key in ("response_url", "status_url", "cancel_url"):
        url = body.get(key)
        if isinstance(url, str) and root not in url:
            yield f"{key} {url!r} is not under {root}"


check("submit.urls-use-app-root", severity="warning")(submit_urls_use_app_root)


def status_sequence(ctx: CheckContext) -> Iterator[str]:
    """Statuses never go back (IN_QUEUE, IN_PROGRESS, COMPLETED), so nothing but COMPLETED follows COMPLETED."""
    statuses = [s.status for s in ctx.obs.statuses]
    if not statuses:
        raise NotApplicable("no status was observed")
    unknown = sorted({s for s in statuses if s not in _ORDER})
    if unknown:
        yield f"unknown status value(s): {', '.join(unknown)} (expected IN_QUEUE, IN_PROGRESS, COMPLETED)"
    ranks = [_ORDER[s] for s in statuses if s in _ORDER]
    for before, after in pairwise(ranks):
        if after < before:
            yield f"status went back: {' -> '.join(statuses)}"
            break
    if ctx.obs.result_status is not None and "COMPLETED" not in statuses:
        yield "a result was fetched but COMPLETED was never seen"


check("status.sequence")(status_sequence)


def status_queue_position(ctx: CheckContext) -> Iterator[str]:
    """queue_position is present while IN_QUEUE and never increases."""
    queued = [s for s in ctx.obs.statuses if s.status == "IN_QUEUE"]
    if not queued:
        raise NotApplicable("never seen in the queue")
    positions = [s.queue_position for s in queued]
    if any(p is None for p in positions):
        yield "IN_QUEUE status without queue_position"
    known = [p for p in positions if p is not None]
    for before, after in pairwise(known):
        if after > before:
            yield f"queue_position increased: {' -> '.join(map(str, known))}"
            break
    if any(p < 0 for p in known):
        yield f"negative queue_position: {min(known)}"


check("status.queue-position")(status_queue_position)


def status_http_codes(ctx: CheckContext) -> Iterator[Failure]:
    """Polled status answers 202 while queued or running and 200 when completed."""
    polled = [s for s in ctx.obs.statuses if s.via == "poll" and s.http_status is not None]
    if not polled:
        raise NotApplicable("no status was polled")
    for s in polled:
        expected = 200 if s.status == "COMPLETED" else 202
        if s.http_status != expected:
            yield Failure(f"status {s.status} answered HTTP {s.http_status}, expected {expected}", "status", expected,
                          s.http_status)


check("status.http-codes")(status_http_codes)


def result_available(ctx: CheckContext) -> Iterator[Failure]:
    """A run that completed without error has its result: HTTP 200 and a JSON object."""
    if ctx.expect.status != 200 or ctx.obs.result_status is None:
        raise NotApplicable("no result was fetched for a valid input")
    if ctx.obs.error is not None and ctx.obs.error.kind == "model":
        raise NotApplicable("the model failed; run.completed-without-error reports it")
    if ctx.obs.result_status != 200:
        yield Failure(f"result answered HTTP {ctx.obs.result_status}", "result", 200, ctx.obs.result_status)
    elif not isinstance(ctx.obs.output, dict):
        yield Failure(f"result is not a JSON object: {type(ctx.obs.output).__name__}", "result")


check("result.available")(result_available)


def run_completed_without_error(ctx: CheckContext) -> Iterator[str]:
    """The request finished without a failure (a COMPLETED run with ``error`` is a vendor failure)."""
    if ctx.expect.status != 200:
        raise NotApplicable("the input was meant to be rejected")
    error = ctx.obs.error
    if error is None:
        return
    if error.kind == "model":
        yield f"vendor failure: the run COMPLETED with error_type={error.error_type!r}: {error.message}"
    elif error.kind == "validation":
        yield f"a valid input was rejected with 422: {', '.join(error.fields) or error.message}"
    else:
        yield f"{error.kind} error: {error.message}"


check("run.completed-without-error")(run_completed_without_error)


def response_request_id(ctx: CheckContext) -> Iterator[str]:
    """Successful answers from the queue API carry x-fal-request-id."""
    relevant = [e for e in ctx.obs.exchanges
                if e.phase in ("submit", "status", "result", "run") and e.status is not None and e.status < 400]
    if not relevant:
        raise NotApplicable("no successful queue answer")
    missing = sorted({e.phase for e in relevant if not e.request_id})
    if missing:
        yield f"no x-fal-request-id on {', '.join(missing)} answers"


check("response.request-id", severity="warning")(response_request_id)


def validation_rejected(ctx: CheckContext) -> Iterator[Failure]:
    """An invalid input is answered 422, naming the broken field."""
    if ctx.expect.status != 422:
        raise NotApplicable("the input was valid")
    error = ctx.obs.error
    if error is None or error.kind != "validation":
        got = f"{error.kind} error: {error.message}" if error else "it was accepted"
        yield Failure(f"expected 422 for an invalid input, but {got}", "submit", 422, error.kind if error else None)
        return
    loc = ctx.expect.invalid_loc
    if loc is not None:
        wanted = ".".join(str(p) for p in loc)
        if not any(f == wanted or f.startswith(wanted + ".") or wanted.startswith(f + ".") for f in error.fields):
            yield Failure(f"422 names {error.fields}, not the broken field {wanted}", wanted, wanted,
                          list(error.fields))


check("validation.rejected")(validation_rejected)


def validation_billable_units(ctx: CheckContext) -> Iterator[str]:
    """A 422 is free: it carries x-fal-billable-units: 0."""
    rejected = [e for e in ctx.obs.exchanges if e.status == 422]
    if not rejected:
        raise NotApplicable("no 422")
    for e in rejected:
        if e.headers.get("x-fal-billable-units") != "0":
            yield f"422 on {e.phase} has x-fal-billable-units={e.headers.get('x-fal-billable-units')!r}"


check("validation.billable-units", severity="warning")(validation_billable_units)
