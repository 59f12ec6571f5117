"""Targets: the set of base URLs (queue, sync run, REST, CDN) and the key requests go to.

``emulator`` is the embedded default, ``live`` is fal itself (chosen explicitly, key from
``FAL_KEY``), and any base URL works too. A live target always carries a request budget.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, TextIO
from urllib.parse import unquote

import httpx

from harness._errors import BudgetExceeded, ConfigError
from harness._secrets import redact_url, register_secret

__all__ = [
    "LIVE_URLS", "Budget", "SharedBudget", "Target", "emulator_target", "live_target", "resolve_target", "url_target",
]

LIVE_URLS = {
    "queue": "https://queue.fal.run",
    "run": "https://fal.run",
    "rest": "https://rest.fal.ai",
    "cdn": "https://v3.fal.media",
}

#: requests a live run may send when nobody says otherwise
DEFAULT_LIVE_BUDGET = 10


class Budget:
    """A cap on billable requests (submits and sync runs); spending past it raises before sending."""

    def __init__(self, max_requests: int | None) -> None:
        if max_requests is not None and max_requests < 0:
            raise ConfigError(f"request budget must be 0 or more, got {max_requests}")
        self.max_requests = max_requests
        self.spent = 0

    @property
    def remaining(self) -> int | None:
        return None if self.max_requests is None else self.max_requests - self.spent

    def check(self, wanted: int) -> None:
        """Refuse a plan that would need ``wanted`` more requests than remain."""
        if self.max_requests is not None and self.spent + wanted > self.max_requests:
            raise BudgetExceeded(self.max_requests, self.spent + wanted)

    def spend(self, n: int = 1) -> None:
        self.check(n)
        self.spent += n


class SharedBudget(Budget):
    """A budget several processes spend together (pytest-xdist workers): the count lives in a file
    changed only under an exclusive lock, so the sum over all workers never passes the cap."""

    def __init__(self, max_requests: int, path: Path) -> None:
        super().__init__(max_requests)
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)

    @property
    def spent_total(self) -> int:
        with self._locked() as f:
            return _read_count(f)

    def check(self, wanted: int) -> None:
        with self._locked() as f:
            self._check_total(_read_count(f), wanted)

    def spend(self, n: int = 1) -> None:
        with self._locked() as f:
            total = _read_count(f)
            self._check_total(total, n)
            f.seek(0)
            f.truncate()
            f.write(str(total + n))
        self.spent += n

    def _check_total(self, total: int, wanted: int) -> None:
        if self.max_requests is not None and total + wanted > self.max_requests:
            raise BudgetExceeded(self.max_requests, total + wanted)

    @contextmanager
    def _locked(self) -> Iterator[TextIO]:
        import fcntl

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
class Target:
    """Where requests go. ``key`` is never printed (``repr`` hides it)."""

    name: str
    queue_url: str
    run_url: str
    rest_url: str
    cdn_url: str
    key: str | None = field(default=None, repr=False)
    live: bool = False
    budget: Budget | None = field(default=None, compare=False)
    hosted_base_url: str | None = None
    """Base URL under which bundled fixtures are publicly reachable (the ``url`` file path on a
    live target); on loopback targets the harness hosts them itself."""
    emulator: Any = field(default=None, compare=False, repr=False)
    """The running emulator when the target is one (for ground truth)."""

    def __post_init__(self) -> None:
        # Every writer of cassettes, reports and logs redacts registered secrets and refuses to
        # write one; a target's key is registered the moment the target exists.
        register_secret(self.key)

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Key {self.key}"} if self.key else {}

    def with_budget(self, budget: Budget | None) -> Target:
        return replace(self, budget=budget)

    @property
    def is_loopback(self) -> bool:
        host = httpx.URL(self.queue_url).host
        return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


class _EmulatorLike(Protocol):
    queue_url: str
    run_url: str

    @property
    def key(self) -> str: ...


def emulator_target(emulator: _EmulatorLike, *, budget: Budget | None = None) -> Target:
    return Target(
        name="emulator",
        queue_url=emulator.queue_url,
        run_url=emulator.run_url,
        rest_url=emulator.queue_url,
        cdn_url=emulator.queue_url,
        key=emulator.key,
        budget=budget,
        emulator=emulator,
    )


def live_key(env: Mapping[str, str] | None = None) -> str | None:
    """The key the official clients would use: ``FAL_KEY``, else ``FAL_KEY_ID:FAL_KEY_SECRET``."""
    env = os.environ if env is None else env
    if env.get("FAL_KEY"):
        return env["FAL_KEY"]
    if env.get("FAL_KEY_ID") and env.get("FAL_KEY_SECRET"):
        return f"{env['FAL_KEY_ID']}:{env['FAL_KEY_SECRET']}"
    return None


def live_target(
    *,
    max_requests: int | None = DEFAULT_LIVE_BUDGET,
    env: Mapping[str, str] | None = None,
    urls: Mapping[str, str] | None = None,
    hosted_base_url: str | None = None,
) -> Target:
    """fal itself. Refuses to exist without a key; always budgeted.

    ``urls`` replaces fal's base URLs (tests point the live code path at an emulator that
    requires a key, so nothing leaves the machine).
    """
    key = live_key(env)
    if not key:
        raise ConfigError("the live target needs FAL_KEY (or FAL_KEY_ID and FAL_KEY_SECRET) in the environment")
    if max_requests is None:
        raise ConfigError("the live target needs a request budget (--max-requests)")
    u = {**LIVE_URLS, **(urls or {})}
    return Target(
        name="live",
        queue_url=u["queue"],
        run_url=u["run"],
        rest_url=u["rest"],
        cdn_url=u["cdn"],
        key=key,
        live=True,
        budget=Budget(max_requests),
        hosted_base_url=hosted_base_url,
    )


def url_target(url: str, *, key: str | None = None, budget: Budget | None = None) -> Target:
    """Any base URL. An emulator there is recognised (``/_emulator/health``): its run address is
    used, and its documented default key when it accepts it and no key is given. Anything else
    serves the sync API from the same address and takes ``FAL_KEY``."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise ConfigError(f"not a usable target URL: {redact_url(url)} ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(f"not a usable target URL: {redact_url(url)!r} (expected http://host:port or https://host)")
    if parsed.password:
        register_secret(parsed.password)
        register_secret(unquote(parsed.password))
    base = url.rstrip("/")
    info: dict[str, Any] = {}
    try:
        response = httpx.get(f"{base}/_emulator/health", timeout=2.0, trust_env=False)
        if response.status_code == 200 and response.headers.get("content-type", "").startswith("application/json"):
            info = response.json()
    except (httpx.HTTPError, ValueError):
        info = {}
    return Target(
        name=redact_url(url),
        queue_url=base,
        run_url=str(info.get("run_url", base)).rstrip("/"),
        rest_url=base,
        cdn_url=base,
        key=key or live_key() or info.get("default_key"),
        budget=budget,
    )


def resolve_target(spec: str, *, emulator: _EmulatorLike | None = None, max_requests: int | None = None) -> Target:
    """Turn ``emulator``, ``live`` or a URL into a target."""
    if spec == "emulator":
        if emulator is None:
            raise ConfigError("the emulator target needs a running emulator")
        return emulator_target(emulator, budget=Budget(max_requests) if max_requests is not None else None)
    if spec == "live":
        return live_target(max_requests=max_requests if max_requests is not None else DEFAULT_LIVE_BUDGET)
    if "://" in spec:
        return url_target(spec, budget=Budget(max_requests) if max_requests is not None else None)
    raise ConfigError(f"unknown target {spec!r} (expected emulator, replay, live or a URL)")
