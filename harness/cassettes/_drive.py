"""One lifecycle in one variant, through the client: the same code records a cassette and replays it.

Replays must send exactly the requests the recording sent, so both go through here.
"""

from __future__ import annotations

from collections.abc import Mapping

from harness.cassettes._model import Variant
from harness.client import AsyncQueueClient, Files, Observation

__all__ = ["REPLAY_WEBHOOK_URL", "drive"]

#: the webhook URL a replay sends; the recorded one was redacted, and so is this one when matched
REPLAY_WEBHOOK_URL = "http://webhook.invalid/"


async def drive(
    client: AsyncQueueClient,
    endpoint: str,
    payload: Mapping[str, object],
    files: Files | None,
    variant: Variant,
    *,
    scenario: str | None = None,
    webhook_url: str | None = None,
    poll_interval: float = 0.1,
) -> Observation:
    """Submit ``payload`` as ``variant`` says and follow it to its end; never raises for what the API does."""
    webhook = (webhook_url or REPLAY_WEBHOOK_URL) if variant.webhook else None
    return await client.lifecycle(endpoint, payload, files=files, file_mode=variant.file_mode, detect=variant.detect,
                                  poll_interval=poll_interval, webhook_url=webhook, cancel=variant.cancel,
                                  scenario=scenario, tags={"variant": variant.name})

