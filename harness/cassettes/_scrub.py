"""What happens to a request or response before it is kept or matched: redaction and canonical hosts.

vcrpy runs the request half on recorded and on replayed requests, so both are rewritten alike.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from harness._json import JsonValue
from harness._secrets import AUTH_SCHEMES, REDACTED, Secrets, redact_url
from harness._version import EMULATOR_AGENT_PREFIX
from harness.cassettes._model import CANONICAL_URLS, RecordedRequest, RecordedResponse, new_response

__all__ = ["CLIENT_PREFIX", "HostMap", "Scrubber", "is_secret_name"]

#: query parameters known to carry no secret; every other value is redacted
#: headers that say nothing about the API and change on every recording, or that re-encoding makes wrong
_DROPPED_HEADERS = frozenset({"content-length", "date", "host"})
_SECRET_NAME = re.compile(
    r"(?:^|[_-])(?:token|secret|password|passwd|signature|authorization|api[_-]?key|key|cookie|credentials?"
    r"|session)$", re.IGNORECASE)
_LOOPBACK = re.compile(r"https?://(?:127(?:\.\d{1,3}){3}|localhost|\[::1\]):(\d{1,5})(/[0-9a-f]{16}(?=/))?")
_URL = re.compile(r"https?://[^\s\"'<>]+")
#: only our own client's traffic is kept: an in-process emulator fetching a file or calling a
#: webhook (with httpx's own user agent) is the server's business, not part of the exchange
CLIENT_PREFIX = "fal-harness/"


def is_secret_name(name: str) -> bool:
    """Whether a header, query or JSON key name looks like it holds a credential."""
    return bool(_SECRET_NAME.search(name))


class HostMap:
    """Rewrites a local emulator's loopback addresses to the canonical ``.invalid`` hosts.

    The queue and run ports become ``queue.emulator.invalid`` and ``run.emulator.invalid``; any
    other loopback port is the client's own file host, whose ``/<digest>/`` prefix is dropped so
    the URL matches what the replay target's hosted base URL gives.
    """

    def __init__(self, queue_url: str, run_url: str) -> None:
        self.ports = {_port(queue_url): CANONICAL_URLS["queue"], _port(run_url): CANONICAL_URLS["run"]}

    def rewrite(self, text: str) -> str:
        if "://" not in text:
            return text

        def canonical(m: re.Match[str]) -> str:
            known = self.ports.get(int(m.group(1)))
            if known is not None:
                return known + (m.group(2) or "")
            return CANONICAL_URLS["files"]

        return _LOOPBACK.sub(canonical, text)


#: recorded expiry times (storage tokens) become this, so a replay a day later does not see an
#: expired token and ask for a new one the recording does not hold
CANONICAL_EXPIRY = "2999-12-31T23:59:59+00:00"


class Scrubber:
    """Redacts credentials and canonicalises hosts in vcrpy's request objects and response dicts.

    ``client`` is the user-agent prefix whose requests are kept (the harness's own client); with
    ``None`` every request is kept except the emulator's own (an app's traffic, whatever made it)."""

    def __init__(self, secrets: Secrets, hosts: HostMap | None = None, *, client: str | None = CLIENT_PREFIX) -> None:
        self.secrets = secrets
        self.hosts = hosts
        self.client = client

    # -- text ------------------------------------------------------------------------------------------

    def text(self, value: str) -> str:
        if self.hosts is not None:
            value = self.hosts.rewrite(value)
        if "?" in value and "://" in value:
            value = _URL.sub(lambda m: redact_url(m.group(0)), value)
        return self.secrets.redact(value) if self.secrets else value

    def url(self, value: str) -> str:
        if self.hosts is not None:
            value = self.hosts.rewrite(value)
        value = redact_url(value)
        return self.secrets.redact(value) if self.secrets else value

    def json(self, value: JsonValue) -> JsonValue:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: REDACTED if is_secret_name(str(k)) and isinstance(v, str | int | float) and v != ""
                    else CANONICAL_EXPIRY if k == "expires_at" and isinstance(v, str)
                    else self.json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v) for v in value]
        return value

    def body(self, data: bytes, content_type: str | None) -> bytes:
        if not data:
            return data
        media_type = (content_type or "").split(";")[0].strip().lower()
        if "json" in media_type:
            try:
                value: JsonValue = json.loads(data)
            except ValueError:
                pass
            else:
                cleaned = self.json(value)
                if cleaned == value:
                    return data
                return json.dumps(cleaned, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return data  # binary (images): left whole; the save-time scan refuses any secret in it
        cleaned_text = self.text(text)
        return data if cleaned_text == text else cleaned_text.encode("utf-8")

    def header(self, name: str, value: str) -> str:
        if is_secret_name(name):
            scheme, _, rest = value.partition(" ")
            return f"{scheme} {REDACTED}" if rest and scheme.lower() in AUTH_SCHEMES else REDACTED
        return self.text(value)

    def keeps(self, agent: str) -> bool:
        """Whether a request made with this user agent is part of the recorded exchange."""
        if self.client is None:
            return not agent.startswith(EMULATOR_AGENT_PREFIX)
        return agent.startswith(self.client)

    # -- vcrpy hooks -----------------------------------------------------------------------------------

    def request(self, request: RecordedRequest) -> RecordedRequest | None:
        """``before_record_request``: ``None`` for traffic that is not our client's."""
        agent = request.headers.get("user-agent")
        # vcrpy also passes every loaded interaction through here: one without a user agent (written
        # by hand) is kept; only another client's traffic is left out.
        if agent is not None and not self.keeps(str(agent)):
            return None
        request.uri = self.url(request.uri)
        headers = {}
        for name, value in request.headers.items():
            lower = name.lower()
            if lower not in _DROPPED_HEADERS:
                headers[lower] = self.header(lower, str(value))
        request.headers = headers
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        request.body = self.body(body or b"", headers.get("content-type"))
        return request

    def response(self, response: RecordedResponse) -> RecordedResponse:
        """``before_record_response``, after vcrpy has decoded the body: redacted, canonical."""
        headers: dict[str, list[str]] = {}
        for name, values in response["headers"].items():
            lower = name.lower()
            if lower not in _DROPPED_HEADERS:
                headers[lower] = [self.header(lower, str(v)) for v in values]
        content_type = headers["content-type"][0] if headers.get("content-type") else None
        status = response["status"]
        return new_response(status["code"], status.get("message") or "", headers,
                            self.body(response["body"]["string"] or b"", content_type))


def _port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)
