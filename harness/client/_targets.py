"""Targets: the set of base URLs (queue, sync run, REST, CDN) and the key requests go to.

``emulator`` is the embedded default, ``live`` is fal itself (chosen explicitly, key from
``FAL_KEY``), and any base URL works too. A live target always carries a request budget.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING
from urllib.parse import unquote

import httpx

from harness._errors import ConfigError
from harness._json import JsonValue
from harness._secrets import redact_url, register_secret
from harness._target import DEFAULT_LIVE_BUDGET, Budget, is_loopback_url
from harness._tls import ssl_context

if TYPE_CHECKING:
    from harness.emulator import Emulator

__all__ = ["LIVE_URLS", "Target", "emulator_target", "live_key", "live_target", "url_target"]

LIVE_URLS = {
    "queue": "https://queue.fal.run",
    "run": "https://fal.run",
    "rest": "https://rest.fal.ai",
    "cdn": "https://v3.fal.media",
}


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
    emulator: Emulator | None = field(default=None, compare=False, repr=False)
    """The running emulator when the target is one (for ground truth)."""

    @property
    def auth_headers(self) -> dict[str, str]:
        """The ``Authorization`` header its requests carry (none without a key)."""
        return {"Authorization": f"Key {self.key}"} if self.key else {}

    def with_budget(self, budget: Budget | None) -> Target:
        """The same target under another budget."""
        return replace(self, budget=budget)

    @property
    def is_loopback(self) -> bool:
        """Whether the target is on this machine (its queue address is a loopback one)."""
        return is_loopback_url(self.queue_url)


def emulator_target(emulator: Emulator, *, budget: Budget | None = None) -> Target:
    """A running emulator as a target: its queue, run, storage and CDN addresses, and its key."""
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
    register_secret(key)  # every writer redacts it from here on
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
    """A target at a base URL. An emulator there is recognised (``/_emulator/health``): its run address is
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
    info: JsonValue = None
    try:
        response = httpx.get(f"{base}/_emulator/health", timeout=2.0, trust_env=False,
                             verify=ssl_context(trust_env=False))
        if response.status_code == 200 and response.headers.get("content-type", "").startswith("application/json"):
            info = response.json()
    except (httpx.HTTPError, ValueError):
        info = None
    run_url = info.get("run_url") if isinstance(info, dict) else None
    default_key = info.get("default_key") if isinstance(info, dict) else None
    key = key or live_key() or (default_key if isinstance(default_key, str) else None)
    register_secret(key)  # every writer redacts it from here on
    return Target(
        name=redact_url(url),
        queue_url=base,
        run_url=str(run_url or base).rstrip("/"),
        rest_url=base,
        cdn_url=base,
        key=key,
        budget=budget,
    )
