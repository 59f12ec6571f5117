"""Open a target by name for a run: start the embedded emulator, or resolve live fal or a URL.

The CLI and the pytest plugin both open targets through here, so they behave the same.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from harness._errors import ConfigError
from harness._secrets import redact_url
from harness.client import Budget, Target, emulator_target, live_target, url_target

__all__ = ["TARGET_NAMES", "ensure_reachable", "open_target"]

TARGET_NAMES = ("emulator", "replay", "live")
#: seconds a target's address has to accept a connection before the run starts
REACH_TIMEOUT = 5.0


def ensure_reachable(url: str, timeout: float = REACH_TIMEOUT) -> None:
    """A one-line ConfigError unless ``url``'s host accepts a TCP connection: a target nobody
    listens on fails now, not after every request has spent its retries."""
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


@contextmanager
def open_target(
    spec: str = "emulator",
    *,
    max_requests: int | None = None,
    contracts_dir: Path | None = None,
    emulator_config: object | None = None,
    live_base_url: str | None = None,
    hosted_base_url: str | None = None,
) -> Iterator[Target]:
    """Yield a ready target; an emulator started here is stopped on exit.

    ``live_base_url`` points the live code path (key required, budget enforced) at another
    server, such as an emulator that requires a key; it exists for testing the live path offline.
    """
    if spec == "emulator":
        from harness.emulator import EmulatorConfig, load_emulator_config, start_emulator

        if emulator_config is None:
            config = EmulatorConfig(contracts_dir=contracts_dir)
        elif isinstance(emulator_config, EmulatorConfig):
            config = emulator_config
        else:
            config = load_emulator_config(Path(str(emulator_config)))
        if contracts_dir is not None and config.contracts_dir is None:
            config = config.replace(contracts_dir=contracts_dir)
        with start_emulator(config) as emulator:
            yield emulator_target(emulator, budget=Budget(max_requests) if max_requests is not None else None)
        return
    if spec == "live":
        urls = None
        if live_base_url:
            ensure_reachable(live_base_url)
            found = url_target(live_base_url)
            urls = {"queue": found.queue_url, "run": found.run_url, "rest": found.rest_url, "cdn": found.cdn_url}
        yield live_target(max_requests=max_requests if max_requests is not None else 10, urls=urls,
                          hosted_base_url=hosted_base_url)
        return
    if spec == "replay":
        raise ConfigError("the replay target is opened by the cassette player, not here")
    if "://" in spec:
        target = url_target(spec, budget=Budget(max_requests) if max_requests is not None else None)
        ensure_reachable(target.queue_url)
        yield target
        return
    raise ConfigError(f"unknown target {spec!r} (expected emulator, replay, live or a URL)")
