"""Posters: upload the portrait to fal's storage, submit it to InstantID through the queue, poll
until the run completes, try again when fal says the failure was transient, download the image.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fal_client
import httpx

ENDPOINT = "fal-ai/instantid/lcm"
#: submit answers worth another try (fal-client already retries 429 and load-balancer pages itself)
RETRY_STATUSES = frozenset({500, 502, 503, 504})
#: a run that COMPLETED with one of these errors may succeed on another runner
RETRY_ERRORS = frozenset({"runner_disconnected", "internal_error"})

# Configured once at start-up, as services do: the key is read from the environment now.
_client = fal_client.SyncClient(key=os.environ.get("FAL_KEY"))


class PosterError(Exception):
    """fal could not make the poster."""


@dataclass(frozen=True)
class Poster:
    request_id: str
    image: bytes
    content_type: str
    width: int
    height: int
    attempts: int


class _RunFailed(Exception):
    def __init__(self, error: str, error_type: str | None) -> None:
        super().__init__(f"{error_type or 'error'}: {error}")
        self.retryable = error_type in RETRY_ERRORS


def make_poster(prompt: str, portrait: str | Path, *, style: str = "Headshot", seed: int | None = None,
                client: fal_client.SyncClient | None = None, attempts: int = 3, backoff: float = 1.0,
                poll_interval: float = 0.5, timeout: float = 300.0) -> Poster:
    """Render ``prompt`` around the face in ``portrait``; transient failures are tried again up
    to ``attempts`` times, ``backoff`` seconds apart (doubling)."""
    fal = client or _client
    arguments: dict[str, Any] = {"prompt": prompt, "style": style, "face_image_url": fal.upload_file(portrait)}
    if seed is not None:
        arguments["seed"] = seed
    for attempt in range(1, attempts + 1):
        try:
            handle = fal.submit(ENDPOINT, arguments)
            _wait(handle, poll_interval, timeout)
            result = fal.result(ENDPOINT, handle.request_id)
            break
        except fal_client.FalClientHTTPError as exc:
            if exc.status_code not in RETRY_STATUSES or attempt == attempts:
                raise PosterError(f"fal answered {exc.status_code}: {exc}") from exc
        except _RunFailed as exc:
            if not exc.retryable or attempt == attempts:
                raise PosterError(f"the run failed after {attempt} attempt(s): {exc}") from exc
        time.sleep(backoff * 2 ** (attempt - 1))
    image = result["image"]
    download = httpx.get(image["url"], timeout=60, follow_redirects=True)
    download.raise_for_status()
    return Poster(handle.request_id, download.content, image["content_type"], image["width"], image["height"],
                  attempt)


def _wait(handle: fal_client.SyncRequestHandle, interval: float, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        status = handle.status()
        if isinstance(status, fal_client.Completed):
            if status.error:
                raise _RunFailed(status.error, status.error_type)
            return
        if time.monotonic() > deadline:
            handle.cancel()
            raise PosterError(f"no result after {timeout:g} s (request {handle.request_id})")
        time.sleep(interval)
