"""One lifecycle in one variant, through the client: the same code records a cassette and replays it.

Replays must send exactly the requests the recording sent, so both go through here.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import aclosing
from typing import Any

from harness.cassettes._model import Expect, Variant
from harness.checks import Expectation
from harness.client import AsyncQueueClient, ErrorInfo, FileInput, Observation, recording

__all__ = ["REPLAY_WEBHOOK_URL", "drive", "expectation_of"]

#: the webhook URL a replay sends; the recorded one was redacted, and so is this one when matched
REPLAY_WEBHOOK_URL = "http://webhook.invalid/"


async def drive(
    client: AsyncQueueClient,
    endpoint: str,
    payload: Mapping[str, Any],
    files: Mapping[str, FileInput | str] | None,
    variant: Variant,
    *,
    scenario: str | None = None,
    webhook_url: str | None = None,
    poll_interval: float = 0.1,
) -> Observation:
    """Submit ``payload`` as ``variant`` says and follow it to its end; never raises for what the API does."""
    tags = {"variant": variant.name}
    webhook = (webhook_url or REPLAY_WEBHOOK_URL) if variant.webhook else None
    if not variant.cancel:
        return await client.lifecycle(endpoint, payload, files=files, file_mode=variant.file_mode,
                                      detect=variant.detect, poll_interval=poll_interval, webhook_url=webhook,
                                      scenario=scenario, tags=tags)
    obs = Observation(endpoint=endpoint, target=client.target.name, scenario=scenario, detection=variant.detect,
                      tags=tags)
    with recording(obs):
        body = await client.prepare(payload, files, variant.file_mode, obs)
        handle = await client.submit(endpoint, body=body, obs=obs, webhook_url=webhook)
        code, answer = await client.cancel(handle, obs=obs)
        final: Any = None
        async with aclosing(client.iter_status(handle, detect=variant.detect, interval=poll_interval,
                                               obs=obs)) as statuses:
            async for status in statuses:
                final = status
        output = await client.result(handle, obs=obs, check=False)
        error_type = final.get("error_type") if isinstance(final, dict) else None
        if code == 202:
            obs.error = ErrorInfo("cancelled", f"cancel answered {answer!r}; the request ended without a result",
                                  status=obs.result_status, error_type=error_type, request_id=handle.request_id)
        elif obs.result_status != 200 or not isinstance(output, dict):
            obs.error = ErrorInfo("vendor", f"cancel answered HTTP {code} {answer!r}, then the result HTTP "
                                  f"{obs.result_status}", status=obs.result_status, error_type=error_type,
                                  request_id=handle.request_id)
    return obs




def expectation_of(expect: Expect) -> Expectation:
    """The checks' expectation for a recorded one."""
    return Expectation(status=expect.status, invalid_loc=expect.invalid_loc, rule=expect.rule)
