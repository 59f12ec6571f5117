"""Cassettes in memory: vcrpy's recorded requests and response dicts under a typed header (vcrpy's
cassette metadata), and the variants a scenario is recorded in.

Storing them is ``_format``'s job (vcrpy's persister and serializer seams), talking to vcrpy ``_vcr``'s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from datetime import datetime as Datetime
from pathlib import Path
from typing import Annotated, ClassVar, Generic, Literal, Protocol, TypedDict, TypeVar

from pydantic import AfterValidator, BeforeValidator, StrictBool, StrictInt, with_config
from vcr.request import Request  # type: ignore[import-untyped]

from harness._data import FILE_MODEL, Problem, Text, exact_keys, kind_of
from harness._errors import ConfigError
from harness._json import is_number
from harness.checks import Expectation
from harness.contracts import ENDPOINT_ID_PATTERN

__all__ = [
    "APP_FORMAT",
    "CANONICAL_URLS",
    "FORMAT",
    "VARIANTS",
    "AppCassette",
    "AppCassetteHeader",
    "Cassette",
    "CassetteHeader",
    "Recorded",
    "RecordedRequest",
    "RecordedResponse",
    "Variant",
    "cassette_path",
    "get_variant",
    "new_request",
    "new_response",
]

FORMAT = "fal-harness/cassette@1"
#: an app's own traffic in one test: the same interactions, a header naming the test, not a scenario
APP_FORMAT = "fal-harness/app-cassette@1"

#: where the emulator's loopback addresses are rewritten to at record time; ``.invalid`` never resolves
CANONICAL_URLS: Mapping[str, str] = {
    "queue": "http://queue.emulator.invalid",
    "run": "http://run.emulator.invalid",
    "rest": "http://queue.emulator.invalid",
    "cdn": "http://queue.emulator.invalid",
    "files": "http://files.emulator.invalid",
}


class RecordedRequest(Protocol):
    """vcrpy's ``vcr.request.Request``, as far as the harness reads and changes it."""

    method: str
    uri: str
    body: bytes | None
    headers: dict[str, str]
    """Case-insensitive (vcrpy's ``HeadersDict``); lower-case names once scrubbed."""


class ResponseStatus(TypedDict):
    code: int
    message: str


class ResponseBody(TypedDict):
    string: bytes


class RecordedResponse(TypedDict):
    """vcrpy's recorded response dict: ``{"status": {"code", "message"}, "headers": {name: [values]},
    "body": {"string": bytes}}``."""

    status: ResponseStatus
    headers: dict[str, list[str]]
    body: ResponseBody


def new_request(method: str, uri: str, body: bytes = b"", headers: Mapping[str, str] | None = None) -> RecordedRequest:
    """A recorded request, as vcrpy makes them."""
    request: RecordedRequest = Request(method, uri, body, dict(headers or {}))
    return request


def new_response(status: int, reason: str = "", headers: Mapping[str, list[str]] | None = None,
                 body: bytes = b"") -> RecordedResponse:
    """A recorded response, as vcrpy stores them."""
    return {"status": {"code": status, "message": reason}, "headers": dict(headers or {}), "body": {"string": body}}


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class Variant:
    """How a scenario's lifecycle is driven: file path, completion detection, fault, cancel, webhook."""

    name: Text = "default"
    file_mode: Literal["upload", "data-uri", "url"] = "data-uri"
    detect: Literal["stream", "poll"] = "stream"
    fault: Text | None = None
    """The emulator fault switched on while recording (``stuck_queue``, ``completed_with_error``)."""
    cancel: StrictBool = False
    """Cancel right after the submit, then follow the status to its end."""
    webhook: StrictBool = False
    """Submit with ``?fal_webhook=``; the URL itself is redacted in the cassette."""
    fails: tuple[str, ...] = ()
    """Checks this variant exists to make fail (a cassette of it passes when exactly these fail)."""
    needs_files: bool = False
    """Only scenarios with file inputs have this variant."""
    needs_fault: bool = False
    """Only the emulator can produce it (live fal has no fault switch)."""
    description: str = ""

    def applies_to(self, has_files: bool, expect_status: int) -> bool:
        """Whether a scenario with (or without) file inputs, expecting this status, has the variant."""
        if self.needs_files and not has_files:
            return False
        # A rejected input never runs: there is nothing to poll, cancel, fail or call back about.
        return self.name == "default" or self.needs_files or expect_status < 400


VARIANTS: Mapping[str, Variant] = {v.name: v for v in (
    Variant("default", description="file inputs as data URIs, completion from the status stream"),
    Variant("upload", file_mode="upload", needs_files=True,
            description="file inputs uploaded to storage first (fal's v3 CDN flow)"),
    Variant("url", file_mode="url", needs_files=True,
            description="file inputs passed as URLs of an already hosted copy"),
    Variant("poll", detect="poll", description="completion found by polling the status URL"),
    Variant("webhook", webhook=True, description="submitted with a webhook URL"),
    Variant("cancel", cancel=True, fault="stuck_queue", fails=("result.available", "run.completed-without-error"),
            description="cancelled while queued (the emulator holds it in the queue); no result follows"),
    Variant("completed-with-error", fault="completed_with_error", needs_fault=True,
            fails=("run.completed-without-error",),
            description="the run COMPLETED with an error (the emulator's completed_with_error fault)"),
)}


def get_variant(name: str) -> Variant:
    """The variant of that name; an unknown one is a one-line ConfigError listing them."""
    try:
        return VARIANTS[name]
    except KeyError:
        raise ConfigError(f"unknown variant {name!r} (known: {', '.join(VARIANTS)})") from None


#: the keys a cassette file gives a variant: how it was driven (what it expects is the header's ``expect``)
VARIANT_KEYS = ("name", "file_mode", "detect", "fault", "cancel", "webhook")
#: the base URLs every header names
URL_KEYS = ("queue", "run", "rest", "cdn")


def _date_as_text(value: object) -> object:
    # An unquoted time in YAML reads as a datetime: accept it as the text it was.
    return str(value) if isinstance(value, Datetime | date) else value


def _utc_time(value: str) -> str:
    try:
        Datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Problem(f"expected a UTC time such as 2026-11-21T11:38:07Z, got {value!r}") from None
    return value


def _version_as_text(value: object) -> object:
    # A version number YAML read as a number, back as the text it was.
    return str(value) if is_number(value) else value


def _every_url(urls: Mapping[str, str]) -> Mapping[str, str]:
    for key in URL_KEYS:
        if key not in urls:
            raise Problem("missing", key)
    return urls


def _user_agents(value: object) -> object:
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise Problem(f"expected a list of user agents, got {kind_of(value)}")
    return value


def _http_status(expect: Expectation) -> Expectation:
    if not 100 <= expect.status <= 599:
        raise Problem(f"expected an HTTP status (100..599), got {expect.status}", "status")
    return expect


RecordedAt = Annotated[Text, BeforeValidator(_date_as_text), AfterValidator(_utc_time)]
VersionText = Annotated[Text, BeforeValidator(_version_as_text)]
BaseUrls = Annotated[Mapping[str, Text], AfterValidator(_every_url)]


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class CassetteHeader:
    """Where, when and how a scenario cassette was recorded, and what the run was meant to produce."""

    FILE_KEYS: ClassVar[tuple[str, ...]] = ("target", "recorded", "harness_version", "client", "endpoint",
                                            "contract_version", "scenario", "variant", "seed", "base_urls", "expect")

    target: Text
    recorded: RecordedAt
    harness_version: VersionText
    client: Text
    endpoint: Text
    contract_version: StrictInt
    scenario: Text
    variant: Annotated[Variant, BeforeValidator(exact_keys(VARIANT_KEYS))]
    seed: StrictInt | None
    base_urls: BaseUrls
    expect: Annotated[Expectation, AfterValidator(_http_status)] = field(default_factory=Expectation)


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class AppCassetteHeader:
    """Where, when and by which test an app's own fal traffic was recorded."""

    FILE_KEYS: ClassVar[tuple[str, ...]] = ("target", "recorded", "harness_version", "test", "clients", "base_urls")

    target: Text
    """``emulator``, ``live`` (fal) or ``url``."""
    recorded: RecordedAt
    harness_version: VersionText
    test: Text
    """The pytest node id (or the name given) of the test that made the requests."""
    clients: Annotated[tuple[str, ...], BeforeValidator(_user_agents)]
    """The user agents the recorded requests came from (``fal-client/1.0.3 (python)``...)."""
    base_urls: BaseUrls
    """``queue``, ``run``, ``rest`` and ``cdn``: where the official clients are pointed on replay."""


HeaderT = TypeVar("HeaderT", CassetteHeader, AppCassetteHeader)


@dataclass
class Recorded(Generic[HeaderT]):
    """Recorded traffic as vcrpy keeps it (requests and response dicts, in order) under its header
    (vcrpy's cassette metadata): a :data:`Cassette` or an :data:`AppCassette`."""

    header: HeaderT
    requests: list[RecordedRequest]
    responses: list[RecordedResponse]
    path: Path | None = None
    """The file it was read from or is written to (``None`` for one made in memory)."""

    def __post_init__(self) -> None:
        if len(self.requests) != len(self.responses):
            raise ValueError(f"{len(self.requests)} requests but {len(self.responses)} responses")

    @property
    def name(self) -> str:
        """The file it is, or what it records when it is in memory only."""
        if self.path is not None:
            return str(self.path)
        header = self.header
        return f"<{header.endpoint}::{header.scenario}>" if isinstance(header, CassetteHeader) else f"<{header.test}>"

    def __len__(self) -> int:
        return len(self.requests)


Cassette = Recorded[CassetteHeader]
"""One scenario's lifecycle in one variant (``fal-harness/cassette@1``)."""
AppCassette = Recorded[AppCassetteHeader]
"""One test's own fal traffic (``fal-harness/app-cassette@1``)."""


def cassette_path(root: str | Path, endpoint: str, scenario: str, variant: str = "default") -> Path:
    """``<root>/<endpoint id>/<scenario>.yaml``, or ``<scenario>.<variant>.yaml`` for other variants."""
    if not re.fullmatch(ENDPOINT_ID_PATTERN, endpoint):
        raise ConfigError(f"not an endpoint id: {endpoint!r} (names of letters, digits, '_.-' joined by '/', "
                          "none starting with a dot)")
    stem = scenario if variant == "default" else f"{scenario}.{variant}"
    if not re.fullmatch(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]*", stem):
        raise ConfigError(f"not a cassette name: {stem!r} (letters, digits and '_.-', not starting with a dot)")
    return Path(root).joinpath(*endpoint.split("/")) / f"{stem}.yaml"
