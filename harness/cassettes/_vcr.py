"""The seam with vcrpy: the cassette in use, its persisters and matchers, and misses as one line.

vcrpy patches httpx at the transport, so the pooled async client is recorded and replayed as is.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from typing import Any, Protocol

from vcr.cassette import Cassette as VcrCassette  # type: ignore[import-untyped]
from vcr.errors import CannotOverwriteExistingCassetteException  # type: ignore[import-untyped]
from vcr.filters import decode_response  # type: ignore[import-untyped]
from vcr.matchers import host, method, path, port, query, scheme  # type: ignore[import-untyped]
from vcr.patch import PATCHER_NAMES  # type: ignore[import-untyped]
from vcr.record_mode import RecordMode  # type: ignore[import-untyped]
from vcr.request import Request  # type: ignore[import-untyped]

from harness._errors import CassetteMiss, HarnessError
from harness._json import JsonValue
from harness.cassettes._format import HEADER, SERIALIZER, CassettePersister, body_bytes
from harness.cassettes._model import (
    AppCassette,
    AppCassetteHeader,
    Cassette,
    CassetteHeader,
    RecordedRequest,
    RecordedResponse,
)
from harness.cassettes._scrub import Scrubber

__all__ = ["HARNESS_LIBRARIES", "MATCHERS", "MemoryPersister", "Persister", "response_hook", "use_cassette"]

# vcrpy logs each request and response at INFO before our hooks scrub them (a webhook URL's token,
# a prompt holding a key); a log file must never be where a secret lands.
logging.getLogger("vcr").setLevel(logging.WARNING)

#: the HTTP libraries the harness's own client (and fal-client) send through
HARNESS_LIBRARIES = ("httpx",)


def body(r1: RecordedRequest, r2: RecordedRequest) -> None:
    """Bodies are equal: JSON compared as data (key order and spacing do not matter), else bytes."""
    b1, b2 = body_bytes(r1.body), body_bytes(r2.body)
    if b1 == b2:
        return
    try:
        d1: JsonValue = json.loads(b1)
        d2: JsonValue = json.loads(b2)
    except ValueError:
        raise AssertionError(f"the bodies differ ({len(b1)} bytes sent, {len(b2)} recorded)") from None
    where = _first_difference(d1, d2, "")
    if where is not None:
        raise AssertionError(where)


Matcher = Callable[[RecordedRequest, RecordedRequest], None]
#: what a replayed request must share with a recorded one (vcrpy's matchers, and ours for bodies)
MATCHERS: tuple[Matcher, ...] = (method, scheme, host, port, path, query, body)


def _first_difference(sent: JsonValue, recorded: JsonValue, where: str) -> str | None:
    if isinstance(sent, dict) and isinstance(recorded, dict):
        for key in [*recorded, *(k for k in sent if k not in recorded)]:
            here = f"{where}.{key}" if where else str(key)
            if key not in sent:
                return f"{here} was recorded but not sent"
            if key not in recorded:
                return f"{here} was sent but not recorded"
            found = _first_difference(sent[key], recorded[key], here)
            if found:
                return found
        return None
    if isinstance(sent, list) and isinstance(recorded, list):
        if len(sent) != len(recorded):
            return f"{where or 'body'} has {len(sent)} items sent, {len(recorded)} recorded"
        for n, (a, b) in enumerate(zip(sent, recorded, strict=True)):
            found = _first_difference(a, b, f"{where}[{n}]")
            if found:
                return found
        return None
    if sent != recorded or type(sent) is not type(recorded):
        return f"{where or 'body'}: sent {_short(sent)}, recorded {_short(recorded)}"
    return None


def _short(value: JsonValue) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


class MemoryPersister:
    """vcrpy's persister seam for a cassette already in memory (read, or mutated): loads copies of
    its requests and responses, so replaying leaves it as it was; replays never save."""

    def __init__(self, cassette: Cassette | AppCassette) -> None:
        self.cassette = cassette

    def load_cassette(self, cassette_path: str, serializer: object
                      ) -> tuple[list[RecordedRequest], list[RecordedResponse], dict[str, object]]:
        """Copies of the requests (vcrpy's hooks rewrite them in place) and the responses."""
        c = self.cassette
        requests = [Request(r.method, r.uri, r.body, dict(r.headers.items())) for r in c.requests]
        return requests, [_copied(r) for r in c.responses], {HEADER: c.header}

    def save_cassette(self, cassette_path: str, cassette_dict: object, serializer: object) -> None:
        raise HarnessError("a replayed cassette is never written")  # pragma: no cover - mode none never saves


def _copied(value: Any) -> Any:
    """A copy of a response's dicts and lists (its strings and bytes, never changed in place, are
    shared): what ``copy.deepcopy`` makes, at a fraction of its cost."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    return value


Persister = CassettePersister | MemoryPersister


class CassetteInUse(Protocol):
    """vcrpy's cassette while it is in use, as far as the harness reads it."""

    play_counts: Counter[int]
    """How often each recorded interaction has been played back, by index."""

    @property
    def requests(self) -> list[RecordedRequest]: ...

    def get_metadata(self, key: str, default: object) -> object: ...


def response_hook(scrubber: Scrubber) -> Callable[[RecordedResponse], RecordedResponse]:
    """vcrpy's ``before_record_response`` for our cassettes: the body decoded as vcrpy's
    ``decode_compressed_response`` does it, then scrubbed."""

    def hook(response: RecordedResponse) -> RecordedResponse:
        decoded: RecordedResponse = decode_response(response)
        return scrubber.response(decoded)

    return hook


@contextlib.contextmanager
def use_cassette(path: str, scrubber: Scrubber, *, mode: str = "none", persister: Persister,
                 header: CassetteHeader | AppCassetteHeader | None = None,
                 before_request: Callable[[RecordedRequest], RecordedRequest | None] | None = None,
                 libraries: Collection[str] | None = None) -> Iterator[CassetteInUse]:
    """vcrpy installed on httpx with our persister, serializer, matchers and scrubbing; responses are
    decoded (vcrpy's ``decode_compressed_response``) before they are scrubbed, and misses become
    :class:`CassetteMiss`. ``mode`` is ``none`` (replay only) or ``new_episodes`` (record what is
    new); ``header`` is the metadata a new recording is saved under (a loaded cassette keeps its
    own). ``before_request`` replaces ``scrubber.request`` as vcrpy's request hook (it must scrub too).
    ``libraries`` names the HTTP libraries to patch (vcrpy's patcher names; default all): vcrpy
    otherwise tries to import each one it knows on every cassette, which costs milliseconds."""
    skip = () if libraries is None else tuple(n for n in PATCHER_NAMES if n not in libraries)
    context = VcrCassette.use(
        path=path, persister=persister, serializer=SERIALIZER, record_mode=RecordMode(mode), match_on=MATCHERS,
        before_record_request=before_request or scrubber.request,
        # Replaying records nothing, and what it loads was decoded and scrubbed when it was written:
        # vcrpy would otherwise copy, decode and scrub every loaded response again.
        before_record_response=response_hook(scrubber) if mode != "none" else None,
        allow_playback_repeats=False, record_on_exception=False, skip_patchers=skip,
    )
    try:
        with context as vcr_cassette:
            if header is not None:
                vcr_cassette.get_metadata(HEADER, header)
            yield vcr_cassette
    except CannotOverwriteExistingCassetteException as exc:
        raise miss_error(exc, path, scrubber) from None


def miss_error(exc: CannotOverwriteExistingCassetteException, name: str, scrubber: Scrubber) -> CassetteMiss:
    """One line: the cassette, the request, the nearest recorded request and what differed
    (scrubbed like the cassette itself: the failed request is the one the client really sent)."""
    return CassetteMiss(scrubber.text(_miss_text(exc, name, scrubber)))


def _miss_text(exc: CannotOverwriteExistingCassetteException, name: str, scrubber: Scrubber) -> str:
    request = exc.failed_request
    sent = f"{request.method} {scrubber.url(request.uri)}" if request is not None else "a request"
    similar = exc.similar_requests or []
    if exc.reason == "already_played":
        return (f"{name}: {sent} was recorded fewer times than it was sent now "
                "(the run made more requests than the recording holds)")
    if not similar:
        return f"{name}: no recorded request is like {sent}"
    nearest, _, failed = similar[0]
    differs = "; ".join(f"{matcher} differs" + (f" ({' '.join(str(m).split())})" if m else "")
                        for matcher, m in failed)
    return f"{name}: no recorded request matches {sent}; nearest is {nearest.method} {nearest.uri}: {differs}"
