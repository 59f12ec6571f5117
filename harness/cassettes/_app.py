"""An app's own fal traffic in one test, recorded and replayed through the same vcrpy seam, scrubber
and secrets guard as the scenario cassettes; only the header differs (it names the test).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from harness._errors import BudgetExceeded, CassetteMiss
from harness._secrets import SECRETS, register_secret
from harness._version import __version__
from harness.cassettes._format import BODIES_DIR, HEADER, CassettePersister, read_app_cassette
from harness.cassettes._model import CANONICAL_URLS, AppCassetteHeader, RecordedRequest
from harness.cassettes._scrub import HostMap, Scrubber
from harness.cassettes._vcr import MemoryPersister, use_cassette
from harness.client import Target

__all__ = ["APP_RECORD_MODES", "AppRecording", "app_base_urls", "record_app", "replay_app"]

#: how an app cassette is made: ``once`` records it when missing, ``rewrite`` (and pytest-recording's
#: ``all``) records it afresh; ``new_episodes`` is refused (a replayed answer would send the app on
#: to addresses no server answers)
APP_RECORD_MODES = ("once", "rewrite", "all")
#: paths on the queue and run addresses that are not model calls (and cost nothing)
_FREE_PATHS = ("/storage/", "/tokens/", "/files/", "/_emulator/")
#: marks a request whose model call the budget has been charged for
_SPENT = "_fal_harness_spent"


@dataclass
class AppRecording:
    """What happened to a cassette while the test ran."""

    path: Path
    mode: str
    """``record`` or ``replay``."""
    base_urls: Mapping[str, str]
    """Where the official clients are pointed: the target while recording, the recording's on replay."""
    refused: list[str] = field(default_factory=list)
    """Billable requests refused because the budget was spent."""
    unplayed: int = 0
    """Recorded requests the test did not make (replay)."""
    unmatched: int = 0
    """Requests the test made that the recording does not hold (replay), caught or not."""


def app_base_urls(target: Target) -> dict[str, str]:
    """The addresses a recording against ``target`` names: the canonical ``.invalid`` hosts for a
    local emulator (its ports change every run), the target's own otherwise."""
    if target.is_loopback:
        return {k: CANONICAL_URLS[k] for k in ("queue", "run", "rest", "cdn")}
    return {"queue": target.queue_url, "run": target.run_url, "rest": target.rest_url, "cdn": target.cdn_url}


@contextlib.contextmanager
def record_app(path: str | Path, target: Target, *, test: str) -> Iterator[AppRecording]:
    """Record every HTTP request made in the block (the emulator's own excepted) into ``path``.

    Written only if the block ends without an exception, after every byte is scrubbed and checked
    for secrets. On a budgeted target (live fal) each model call spends one request before it is
    sent; once the budget is spent the next is refused with :class:`~harness.BudgetExceeded`."""
    path = Path(path)
    register_secret(target.key)
    scrubber = Scrubber(SECRETS.with_environment(), HostMap(target.queue_url, target.run_url)
                        if target.is_loopback else None, client=None)
    base_urls = app_base_urls(target)
    kind = "emulator" if target.emulator is not None else "live" if target.live else "url"
    recording = AppRecording(path, "record", base_urls)
    budget = target.budget

    def header(requests: list[RecordedRequest]) -> AppCassetteHeader:
        agents = dict.fromkeys(r.headers.get("user-agent", "") for r in requests)
        return AppCassetteHeader(
            target=kind, recorded=datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            harness_version=__version__, test=test, clients=tuple(a for a in agents if a), base_urls=base_urls)

    def before_request(request: RecordedRequest) -> RecordedRequest | None:
        kept = scrubber.request(request)
        if kept is not None and budget is not None and not getattr(request, _SPENT, False) \
                and _billable(kept.method, kept.uri, base_urls):
            setattr(request, _SPENT, True)  # vcrpy runs this hook more than once per request
            try:
                budget.spend()
            except BudgetExceeded:
                recording.refused.append(f"{kept.method} {kept.uri}")
                raise
        return kept

    # Recorded from nothing; an earlier recording stays as it was until the new one is written.
    persister = CassettePersister(bodies_dir=path.parent / BODIES_DIR, load=False)
    with use_cassette(str(path), scrubber, mode="new_episodes", persister=persister, before_request=before_request
                      ) as vcr:
        yield recording
        # The header names the clients that made the requests: known once they are made.
        vcr.get_metadata(HEADER, header(vcr.requests))


@contextlib.contextmanager
def replay_app(path: str | Path) -> Iterator[AppRecording]:
    """Play ``path`` back to every HTTP request made in the block; nothing is sent anywhere.

    A request the recording lacks raises :class:`~harness.CassetteMiss` in the code that sent it;
    at the end, a request that went unmatched (even if the app caught the error) or a recorded one
    the block never made raises :class:`~harness.CassetteMiss` too: the app's traffic changed."""
    cassette = read_app_cassette(path)
    scrubber = Scrubber(SECRETS.with_environment(), client=None)
    recording = AppRecording(Path(path), "replay", dict(cassette.header.base_urls))
    seen: dict[int, RecordedRequest] = {}
    loaded = False  # vcrpy passes the recording's own requests through the hook as it loads them

    def before_request(request: RecordedRequest) -> RecordedRequest | None:
        kept = scrubber.request(request)
        if kept is not None and loaded:
            seen[id(request)] = request  # kept alive, so no other request can take its id
        return kept

    with use_cassette(str(path), scrubber, mode="none", persister=MemoryPersister(cassette),
                      before_request=before_request) as vcr:
        loaded = True
        yield recording
    played = sum(vcr.play_counts.values())
    recording.unplayed = len(cassette) - played
    recording.unmatched = len(seen) - played
    if recording.unmatched > 0:
        raise CassetteMiss(f"{path}: {recording.unmatched} request(s) the test made are not in the recording "
                           "(the app caught the error); re-record it with --record-mode=rewrite if the change is "
                           "meant")
    if recording.unplayed:
        raise CassetteMiss(f"{path}: {recording.unplayed} of {len(cassette)} recorded requests were "
                           "not made this time; re-record it with --record-mode=rewrite if the change is meant")


def _billable(method: str, uri: str, base_urls: Mapping[str, str]) -> bool:
    """A model call: a POST to the queue or the run address that is not storage, a token or a file."""
    if method != "POST":
        return False
    parts = urlsplit(uri)
    origin = f"{parts.scheme}://{parts.netloc}"
    if origin not in (base_urls["queue"].rstrip("/"), base_urls["run"].rstrip("/")):
        return False
    return "/requests/" not in parts.path and not parts.path.startswith(_FREE_PATHS)
