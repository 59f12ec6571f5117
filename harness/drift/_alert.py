"""Alerts: a Slack-compatible JSON summary of the findings that fail the run, posted to a webhook.

Slack, Mattermost and most chat webhooks read ``{"text": ..., "blocks": [...]}``; only ``text`` is required.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

import httpx

from harness._errors import ConfigError
from harness._json import Json
from harness._tls import ssl_context
from harness.drift._formats import verdict
from harness.drift._report import DriftReport
from harness.drift._rules import Level

__all__ = ["alert_payload", "check_alert_url", "post_alert"]

_FINDINGS_PER_ENDPOINT = 10
_SECTION_LIMIT = 2900  # Slack rejects section text over 3000 characters
_ENDPOINT_BLOCKS = 45  # Slack allows 50 blocks per message


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def alert_payload(reports: Sequence[DriftReport], *, fail_on: Level = "ERR") -> dict[str, Json]:
    """The message for the reports that have findings at or above ``fail_on``."""
    failing = [r for r in reports if r.fails(fail_on)]
    if len(failing) == 1:
        r = failing[0]
        text = f"Schema drift in {r.endpoint}: {verdict(r)} ({r.old.spec} -> {r.new.spec})"
    else:
        names = ", ".join(r.endpoint for r in failing)
        text = f"Schema drift at or above {fail_on} in {len(failing)} endpoints: {names}"
    blocks: list[dict[str, Json]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Schema drift at or above {fail_on}"[:150]}},
    ]
    for r in failing[:_ENDPOINT_BLOCKS]:
        findings = r.at_or_above(fail_on)
        lines = [f"*{_mrkdwn(r.endpoint)}*: {_mrkdwn(verdict(r))}",
                 f"`{_mrkdwn(r.old.spec)}` → `{_mrkdwn(r.new.spec)}`"]
        lines += [f"• *{f.level}* `{_mrkdwn(f.path)}` {_mrkdwn(f.message)} (`{f.rule}`)"
                  for f in findings[:_FINDINGS_PER_ENDPOINT]]
        if len(findings) > _FINDINGS_PER_ENDPOINT:
            lines.append(f"…and {len(findings) - _FINDINGS_PER_ENDPOINT} more")
        body = "\n".join(lines)
        if len(body) > _SECTION_LIMIT:
            body = body[:_SECTION_LIMIT] + "…"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body}})
    if len(failing) > _ENDPOINT_BLOCKS:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"…and {len(failing) - _ENDPOINT_BLOCKS} more endpoints"}]})
    return {"text": text, "blocks": blocks}


def check_alert_url(url: str) -> str:
    """The URL's scheme and host, for messages (webhook URLs carry their secret in the path)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError("--alert-url must be an http(s) URL")
    return f"{parts.scheme}://{parts.netloc}"


def post_alert(url: str, reports: Sequence[DriftReport], *, fail_on: Level = "ERR", timeout: float = 10.0) -> bool:
    """Post the summary when some finding is at or above ``fail_on``; returns whether it posted."""
    where = check_alert_url(url)
    if not any(r.fails(fail_on) for r in reports):
        return False
    try:
        response = httpx.post(url, json=alert_payload(reports, fail_on=fail_on), timeout=timeout,
                              verify=ssl_context())
    except httpx.HTTPError as exc:
        raise ConfigError(f"alert to {where} failed: {type(exc).__name__}") from None
    if response.status_code >= 400:
        raise ConfigError(f"alert to {where} failed: HTTP {response.status_code}")
    return True
