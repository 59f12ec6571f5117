"""Cassettes in memory: the header, the variants a scenario is recorded in, and the interactions.

Plain data; reading and writing files is ``_format``'s job, talking to vcrpy ``_vcr``'s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness._errors import ConfigError
from harness.contracts._fileschema import ENDPOINT_ID_PATTERN

__all__ = [
    "APP_FORMAT",
    "CANONICAL_URLS",
    "FORMAT",
    "VARIANTS",
    "AppCassette",
    "AppCassetteHeader",
    "Cassette",
    "CassetteHeader",
    "Expect",
    "Interaction",
    "RecordedRequest",
    "RecordedResponse",
    "Variant",
    "cassette_path",
    "get_variant",
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


@dataclass(frozen=True)
class Variant:
    """How a scenario's lifecycle is driven: file path, completion detection, fault, cancel, webhook."""

    name: str = "default"
    file_mode: str = "data-uri"
    detect: str = "stream"
    fault: str | None = None
    """The emulator fault switched on while recording (``stuck_queue``, ``completed_with_error``)."""
    cancel: bool = False
    """Cancel right after the submit, then follow the status to its end."""
    webhook: bool = False
    """Submit with ``?fal_webhook=``; the URL itself is redacted in the cassette."""
    fails: tuple[str, ...] = ()
    """Checks this variant exists to make fail (a cassette of it passes when exactly these fail)."""
    needs_files: bool = False
    """Only scenarios with file inputs have this variant."""
    needs_fault: bool = False
    """Only the emulator can produce it (live fal has no fault switch)."""
    description: str = ""

    def to_data(self) -> dict[str, Any]:
        return {"name": self.name, "file_mode": self.file_mode, "detect": self.detect, "fault": self.fault,
                "cancel": self.cancel, "webhook": self.webhook}

    def applies_to(self, has_files: bool, expect_status: int) -> bool:
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
    try:
        return VARIANTS[name]
    except KeyError:
        raise ConfigError(f"unknown variant {name!r} (known: {', '.join(VARIANTS)})") from None


@dataclass(frozen=True)
class Expect:
    """What the recorded run was meant to produce."""

    status: int = 200
    invalid_loc: tuple[str | int, ...] | None = None
    rule: str | None = None
    fails: tuple[str, ...] = ()

    def to_data(self) -> dict[str, Any]:
        return {"status": self.status, "invalid_loc": list(self.invalid_loc) if self.invalid_loc is not None else None,
                "rule": self.rule, "fails": list(self.fails)}


@dataclass(frozen=True)
class CassetteHeader:
    """Where, when and how a cassette was recorded."""

    target: str
    recorded: str
    harness_version: str
    client: str
    endpoint: str
    contract_version: int
    scenario: str
    variant: Variant
    seed: int | None
    base_urls: Mapping[str, str]
    expect: Expect = field(default_factory=Expect)

    def to_data(self) -> dict[str, Any]:
        return {
            "target": self.target, "recorded": self.recorded, "harness_version": self.harness_version,
            "client": self.client, "endpoint": self.endpoint, "contract_version": self.contract_version,
            "scenario": self.scenario, "variant": self.variant.to_data(), "seed": self.seed,
            "base_urls": dict(self.base_urls), "expect": self.expect.to_data(),
        }


@dataclass
class RecordedRequest:
    method: str
    uri: str
    headers: dict[str, str] = field(default_factory=dict)
    """Lower-case names; scrubbed."""
    body: bytes = b""


@dataclass
class RecordedResponse:
    status: int
    reason: str = ""
    headers: dict[str, list[str]] = field(default_factory=dict)
    """Lower-case names, each with its values in order; scrubbed."""
    body: bytes = b""

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None


@dataclass
class Interaction:
    request: RecordedRequest
    response: RecordedResponse


@dataclass
class Cassette:
    """One lifecycle of one scenario in one variant, as recorded."""

    header: CassetteHeader
    interactions: list[Interaction]
    path: Path | None = None
    """The file it was read from or is written to (``None`` for one made in memory)."""

    @property
    def name(self) -> str:
        return str(self.path) if self.path is not None else f"<{self.header.endpoint}::{self.header.scenario}>"

    def replace(self, **changes: Any) -> Cassette:
        return replace(self, **changes)


@dataclass(frozen=True)
class AppCassetteHeader:
    """Where, when and by which test an app's own fal traffic was recorded."""

    target: str
    """``emulator``, ``live`` (fal) or ``url``."""
    recorded: str
    harness_version: str
    test: str
    """The pytest node id (or the name given) of the test that made the requests."""
    clients: tuple[str, ...]
    """The user agents the recorded requests came from (``fal-client/1.0.3 (python)``...)."""
    base_urls: Mapping[str, str]
    """``queue``, ``run``, ``rest`` and ``cdn``: where the official clients are pointed on replay."""

    def to_data(self) -> dict[str, Any]:
        return {"target": self.target, "recorded": self.recorded, "harness_version": self.harness_version,
                "test": self.test, "clients": list(self.clients), "base_urls": dict(self.base_urls)}


@dataclass
class AppCassette:
    """Everything one test of an app sent to fal and what came back, in order."""

    header: AppCassetteHeader
    interactions: list[Interaction]
    path: Path | None = None

    @property
    def name(self) -> str:
        return str(self.path) if self.path is not None else f"<{self.header.test}>"


def cassette_path(root: str | Path, endpoint: str, scenario: str, variant: str = "default") -> Path:
    """``<root>/<endpoint id>/<scenario>.yaml``, or ``<scenario>.<variant>.yaml`` for other variants."""
    if not re.fullmatch(ENDPOINT_ID_PATTERN, endpoint):
        raise ConfigError(f"not an endpoint id: {endpoint!r} (names of letters, digits, '_.-' joined by '/', "
                          "none starting with a dot)")
    stem = scenario if variant == "default" else f"{scenario}.{variant}"
    if not re.fullmatch(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]*", stem):
        raise ConfigError(f"not a cassette name: {stem!r} (letters, digits and '_.-', not starting with a dot)")
    return Path(root).joinpath(*endpoint.split("/")) / f"{stem}.yaml"
