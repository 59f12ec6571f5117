"""A target as a user names it, before it is opened: what it is, the request budget it runs under,
whether a plan fits that budget, and whether an address is this machine.

Every front door (the CLI, the pytest plugin, the main job, the benchmarks, recording, the sandbox)
parses a target here, so each says the same thing about the same mistake. Light on purpose: the
pytest plugin reads it while a project that never uses it starts up.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO, cast
from urllib.parse import urlsplit

from harness._errors import BudgetExceeded, ConfigError
from harness._secrets import redact_url

__all__ = [
    "DEFAULT_LIVE_BUDGET",
    "REACH_TIMEOUT",
    "SENDING_TARGETS",
    "TARGET_KINDS",
    "Budget",
    "SharedBudget",
    "TargetKind",
    "TargetSpec",
    "ensure_reachable",
    "is_loopback_url",
]

#: requests a live run may send when nobody says otherwise
DEFAULT_LIVE_BUDGET = 10
TargetKind = Literal["emulator", "replay", "live", "url"]
TARGET_KINDS: tuple[TargetKind, ...] = ("emulator", "replay", "live", "url")
#: the targets that send requests: all but the replay of recordings (what recording and benchmarks take)
SENDING_TARGETS: tuple[TargetKind, ...] = ("emulator", "live", "url")
#: seconds a target's address has to accept a connection before the run starts
REACH_TIMEOUT = 5.0


def ensure_reachable(url: str, timeout: float = REACH_TIMEOUT) -> None:
    """A one-line ConfigError unless ``url``'s host accepts a TCP connection within ``timeout``."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ConfigError(f"not a usable URL: {redact_url(url)} ({exc})") from None
    if not parts.hostname:
        raise ConfigError(f"not a usable URL: {redact_url(url)} (no host)")
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ConfigError(f"cannot reach {redact_url(url)}: {reason}") from None


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` is http(s) on this machine (127.0.0.0/8, ::1 or localhost)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Budget:
    """A cap on billable requests (submits and sync runs); spending past it raises before sending."""

    def __init__(self, max_requests: int | None) -> None:
        if max_requests is not None and max_requests < 0:
            raise ConfigError(f"request budget must be 0 or more, got {max_requests}")
        self.max_requests = max_requests
        self.spent = 0

    @property
    def remaining(self) -> int | None:
        """Requests still allowed (``None``: no cap)."""
        return None if self.max_requests is None else self.max_requests - self._total()

    def allows(self, wanted: int) -> bool:
        """Whether ``wanted`` more requests fit in what remains: the one place a plan meets its budget."""
        return self.max_requests is None or self._total() + wanted <= self.max_requests

    def check(self, wanted: int) -> None:
        """Refuse (:class:`BudgetExceeded`) a plan that would need ``wanted`` more requests than remain."""
        if not self.allows(wanted):
            raise BudgetExceeded(cast(int, self.max_requests), self._total() + wanted)

    def spend(self, n: int = 1) -> None:
        """Count ``n`` requests about to be sent, refusing them first if they do not fit."""
        self.check(n)
        self.spent += n

    def _total(self) -> int:
        return self.spent


class SharedBudget(Budget):
    """A budget several processes spend together (pytest-xdist workers): the count lives in a file
    changed only under an exclusive lock, so the sum over all workers never passes the cap."""

    def __init__(self, max_requests: int, path: Path) -> None:
        super().__init__(max_requests)
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)

    def spend(self, n: int = 1) -> None:
        with self._locked() as f:
            total = _read_count(f)
            if self.max_requests is not None and total + n > self.max_requests:
                raise BudgetExceeded(self.max_requests, total + n)
            f.seek(0)
            f.truncate()
            f.write(str(total + n))
        self.spent += n

    def _total(self) -> int:
        with self._locked() as f:
            return _read_count(f)

    @contextmanager
    def _locked(self) -> Iterator[TextIO]:
        import fcntl  # POSIX only, and only a shared budget needs it

        with self.path.open("r+", encoding="ascii") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield f
            finally:
                f.flush()  # the count must be on disk before another process may read it
                fcntl.flock(f, fcntl.LOCK_UN)


def _read_count(f: TextIO) -> int:
    f.seek(0)
    text = f.read().strip()
    return int(text) if text else 0


@dataclass(frozen=True)
class TargetSpec:
    """Where a run's requests are to go, as a user names it (``emulator``, ``replay``, ``live`` or a
    base URL), with the request budget it runs under. :func:`harness.open_target` opens it."""

    text: str
    """As written: ``emulator``, ``replay``, ``live`` or the URL."""
    kind: TargetKind
    max_requests: int | None = None
    """The budget as given (``--max-requests``); see :attr:`budget` for the one that applies."""
    live_base_url: str | None = None
    """Sends the live target's requests to this server instead of fal (the live path, tested offline)."""
    hosted_base_url: str | None = None
    """Where the bundled fixtures are published (the ``url`` file path on a remote target)."""

    @classmethod
    def parse(cls, text: str, *, max_requests: int | None = None, live_base_url: str | None = None,
              hosted_base_url: str | None = None, allow: Collection[TargetKind] = TARGET_KINDS) -> TargetSpec:
        """Read a target's name; one that is not among ``allow`` is a one-line ConfigError."""
        kind: TargetKind | None = "url" if "://" in text else next((k for k in TARGET_KINDS if k == text), None)
        if kind is None or kind not in allow:
            expected = ", ".join(k for k in TARGET_KINDS if k in allow and k != "url") + " or a URL"
            raise ConfigError(f"unknown target {redact_url(text)!r} (expected {expected})")
        if kind == "url":
            try:
                parts = urlsplit(text)
                usable = parts.scheme in ("http", "https") and bool(parts.hostname)
            except ValueError:
                usable = False
            if not usable:
                raise ConfigError(f"not a usable target URL: {redact_url(text)!r} (expected http://host:port or "
                                  "https://host)")
        if max_requests is not None and max_requests < 0:
            raise ConfigError(f"request budget must be 0 or more, got {max_requests}")
        return cls(text, kind, max_requests, live_base_url, hosted_base_url)

    @property
    def name(self) -> str:
        """The target as it may be shown and written (a URL's credentials redacted)."""
        return redact_url(self.text)

    @property
    def budget(self) -> int | None:
        """The request budget that applies: the one given, else :data:`DEFAULT_LIVE_BUDGET` live;
        ``None`` (no cap) elsewhere."""
        if self.max_requests is not None:
            return self.max_requests
        return DEFAULT_LIVE_BUDGET if self.kind == "live" else None

    @property
    def sends(self) -> bool:
        """Whether requests leave the process (every target but the replay of recordings)."""
        return self.kind in SENDING_TARGETS

    @property
    def is_local(self) -> bool:
        """Whether its requests stay on this machine (an emulator, a replay, a loopback address)."""
        if self.kind in ("emulator", "replay"):
            return True
        url = self.live_base_url if self.kind == "live" else self.text
        return url is not None and is_loopback_url(url)

    def ensure_reachable(self, timeout: float = REACH_TIMEOUT) -> None:
        """A one-line ConfigError unless the address its requests go to (a URL target's, or the
        live target's ``live_base_url``) accepts a TCP connection: a target nobody listens on
        fails now, not after every request has spent its retries."""
        url = self.text if self.kind == "url" else self.live_base_url if self.kind == "live" else None
        if url is not None:
            ensure_reachable(url, timeout)

    def check_plan(self, planned: int, *, what: str = "the run", hint: str) -> None:
        """Refuse, before anything is sent, a plan of ``planned`` requests that the budget does not
        hold: a one-line ConfigError naming both and ``hint`` (how to plan fewer)."""
        budget = self.budget
        if self.sends and not Budget(budget).allows(planned):
            raise ConfigError(f"{what} plans {planned} requests, the budget is {budget} ({hint})")
