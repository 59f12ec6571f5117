"""Which recorded interaction is which: the submit, the status polls and stream, the result.

Found from the URLs the submit answer gave, as the client follows them, not from stored labels.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from harness._json import JsonObject, JsonValue
from harness.cassettes._model import Cassette

__all__ = ["json_body", "recorded_input", "result_index", "status_indices", "submit_index", "submit_urls"]


def json_body(data: bytes) -> JsonValue:
    """The body as JSON data, or ``None`` when it is not JSON."""
    try:
        value: JsonValue = json.loads(data) if data else None
    except ValueError:
        return None
    return value


def _path(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def submit_index(cassette: Cassette) -> int | None:
    """The queue submit (or the sync run): a POST to the endpoint id at the queue or run address."""
    h = cassette.header
    wanted = {f"{h.base_urls['queue'].rstrip('/')}/{h.endpoint}", f"{h.base_urls['run'].rstrip('/')}/{h.endpoint}"}
    for n, request in enumerate(cassette.requests):
        if request.method == "POST" and _path(request.uri) in wanted:
            return n
    return None


def submit_urls(cassette: Cassette) -> dict[str, str]:
    """``response_url``, ``status_url`` and ``cancel_url`` from the recorded submit answer."""
    n = submit_index(cassette)
    if n is None:
        return {}
    answer = json_body(cassette.responses[n]["body"]["string"])
    if not isinstance(answer, dict):
        return {}
    return {k: str(answer[k]) for k in ("response_url", "status_url", "cancel_url") if isinstance(answer.get(k), str)}


def result_index(cassette: Cassette) -> int | None:
    """The GET of the response URL (the last one, when a retry repeated it)."""
    url = submit_urls(cassette).get("response_url")
    found = [n for n, r in enumerate(cassette.requests)
             if url is not None and r.method == "GET" and _path(r.uri) == url]
    return found[-1] if found else None


def status_indices(cassette: Cassette) -> list[int]:
    """Every polled status answer, in recorded order."""
    url = submit_urls(cassette).get("status_url")
    return [n for n, r in enumerate(cassette.requests) if url is not None and r.method == "GET" and _path(r.uri) == url]


def recorded_input(cassette: Cassette) -> JsonObject | None:
    """The model input as the recording sent it (files inline as data URIs, or their URLs)."""
    n = submit_index(cassette)
    if n is None:
        return None
    data = json_body(cassette.requests[n].body or b"")
    return data if isinstance(data, dict) else None
