"""The seam with vcrpy: persisters over our file format, the matchers, and misses as one line.

vcrpy patches httpx at the transport, so the pooled async client is recorded and replayed as is.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from vcr.cassette import Cassette as VcrCassette  # type: ignore[import-untyped]
from vcr.errors import CannotOverwriteExistingCassetteException  # type: ignore[import-untyped]
from vcr.matchers import host, method, path, port, query, scheme  # type: ignore[import-untyped]
from vcr.persisters.filesystem import CassetteNotFoundError  # type: ignore[import-untyped]
from vcr.record_mode import RecordMode  # type: ignore[import-untyped]
from vcr.request import Request as VcrRequest  # type: ignore[import-untyped]

from harness._errors import CassetteMiss, HarnessError
from harness.cassettes._format import read_cassette, write_cassette
from harness.cassettes._model import (
    AppCassette,
    Cassette,
    CassetteHeader,
    Interaction,
    RecordedRequest,
    RecordedResponse,
)
from harness.cassettes._scrub import Scrubber

__all__ = ["MATCHERS", "RecordingPersister", "from_vcr", "use_cassette"]

# vcrpy logs each request and response at INFO before our hooks scrub them (a webhook URL's token,
# a prompt holding a key); a log file must never be where a secret lands.
logging.getLogger("vcr").setLevel(logging.WARNING)


def body(r1: Any, r2: Any) -> None:
    """Bodies are equal: JSON compared as data (key order and spacing do not matter), else bytes."""
    b1, b2 = _bytes(r1.body), _bytes(r2.body)
    if b1 == b2:
        return
    try:
        d1, d2 = json.loads(b1), json.loads(b2)
    except ValueError:
        raise AssertionError(f"the bodies differ ({len(b1)} bytes sent, {len(b2)} recorded)") from None
    where = _first_difference(d1, d2, "")
    if where is not None:
        raise AssertionError(where)


MATCHERS: tuple[Callable[[Any, Any], Any], ...] = (method, scheme, host, port, path, query, body)


def _bytes(value: Any) -> bytes:
    if value is None:
        return b""
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _first_difference(sent: Any, recorded: Any, where: str) -> str | None:
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


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


# -- conversion -----------------------------------------------------------------------------------------


def to_vcr(interactions: list[Interaction]) -> tuple[list[Any], list[dict[str, Any]]]:
    requests = [VcrRequest(i.request.method, i.request.uri, i.request.body, dict(i.request.headers))
                for i in interactions]
    responses = [{"status": {"code": i.response.status, "message": i.response.reason},
                  "headers": {k: list(v) for k, v in i.response.headers.items()},
                  "body": {"string": i.response.body}} for i in interactions]
    return requests, responses


def from_vcr(requests: list[Any], responses: list[dict[str, Any]]) -> list[Interaction]:
    out = []
    for req, res in zip(requests, responses, strict=True):
        headers = {str(k).lower(): str(v) for k, v in req.headers.items()}
        request = RecordedRequest(str(req.method), str(req.uri), headers, _bytes(req.body))
        status = res.get("status") or {}
        kept = {str(k).lower(): [str(x) for x in v] for k, v in (res.get("headers") or {}).items()}
        response = RecordedResponse(int(status.get("code") or 0), str(status.get("message") or ""), kept,
                                    _bytes((res.get("body") or {}).get("string")))
        out.append(Interaction(request, response))
    return out


class RecordingPersister:
    """Loads an existing cassette (for ``new_episodes``) and saves in our format under ``header``;
    ``build`` makes what is saved from the interactions (an app cassette, say) instead."""

    def __init__(self, header: CassetteHeader | None, bodies_dir: Path | None = None, *, load: bool = True,
                 build: Callable[[list[Interaction]], Cassette | AppCassette] | None = None) -> None:
        self.header = header
        self.load = load
        """Whether an existing cassette is loaded (``new_episodes``); a rewrite starts from nothing."""
        self.bodies_dir = bodies_dir
        self.build = build
        self.loaded: Cassette | None = None
        self.saved: Path | None = None

    def load_cassette(self, cassette_path: str, serializer: Any) -> tuple[list[Any], list[dict[str, Any]]]:
        if not self.load or not Path(cassette_path).is_file():
            raise CassetteNotFoundError()
        self.loaded = read_cassette(cassette_path)
        return to_vcr(self.loaded.interactions)

    def save_cassette(self, cassette_path: str, cassette_dict: dict[str, Any], serializer: Any) -> None:
        interactions = from_vcr(cassette_dict["requests"], cassette_dict["responses"])
        if self.build is not None:
            self.saved = write_cassette(self.build(interactions), cassette_path, bodies_dir=self.bodies_dir)
            return
        # A cassette grown by new_episodes keeps the header it was first recorded under.
        header = self.loaded.header if self.loaded is not None else self.header
        if header is None:
            raise HarnessError("a recording persister needs a header or a build function")
        self.saved = write_cassette(Cassette(header, interactions), cassette_path, bodies_dir=self.bodies_dir)


class _MemoryPersister:
    """Hands vcrpy a cassette already read (or made in memory); replays never save."""

    def __init__(self, cassette: Cassette | AppCassette) -> None:
        self.cassette = cassette

    def load_cassette(self, cassette_path: str, serializer: Any) -> tuple[list[Any], list[dict[str, Any]]]:
        return to_vcr(self.cassette.interactions)

    def save_cassette(self, cassette_path: str, cassette_dict: dict[str, Any], serializer: Any) -> None:
        raise HarnessError("a replayed cassette is never written")  # pragma: no cover - mode none never saves


@contextlib.contextmanager
def use_cassette(path: str, scrubber: Scrubber, *, mode: str = "none", persister: Any = None,
                 cassette: Cassette | AppCassette | None = None,
                 before_request: Callable[[Any], Any] | None = None) -> Iterator[Any]:
    """vcrpy installed on httpx with our persister, matchers and scrubbing; misses become
    :class:`CassetteMiss`. ``mode`` is ``none`` (replay only) or ``new_episodes`` (record what is new).
    ``before_request`` replaces ``scrubber.request`` as vcrpy's request hook (it must scrub too)."""
    if persister is None:
        if cassette is None:
            raise ValueError("give a persister or a cassette")
        persister = _MemoryPersister(cassette)
    context = VcrCassette.use(
        path=path, persister=persister, record_mode=RecordMode(mode), match_on=MATCHERS,
        before_record_request=before_request or scrubber.request, before_record_response=scrubber.response,
        allow_playback_repeats=False, record_on_exception=False,
    )
    try:
        with context as vcr_cassette:
            yield vcr_cassette
    except CannotOverwriteExistingCassetteException as exc:
        raise miss_error(exc, path, scrubber) from None


def miss_error(exc: Any, name: str, scrubber: Scrubber) -> CassetteMiss:
    """One line: the cassette, the request, the nearest recorded request and what differed
    (scrubbed like the cassette itself: the failed request is the one the client really sent)."""
    return CassetteMiss(scrubber.text(_miss_text(exc, name, scrubber)))


def _miss_text(exc: Any, name: str, scrubber: Scrubber) -> str:
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
