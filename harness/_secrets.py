"""Known secrets and the guard every writer of cassettes, reports and logs goes through.

A registered key is redacted from text in all its forms, and a write that would hold one fails.
"""

from __future__ import annotations

import base64
import os
import re
import secrets as secrets_module
import threading
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

from harness._errors import HarnessError

__all__ = [
    "REDACTED",
    "SAFE_QUERY",
    "SECRETS",
    "SecretLeak",
    "Secrets",
    "ensure_clean",
    "find_secrets",
    "redact",
    "redact_url",
    "register_secret",
    "write_scrubbed",
]

REDACTED = "<redacted>"

#: shorter values cannot be searched for in binary data (images) without false alarms
MIN_SECRET_LENGTH = 8

#: environment variables whose values are always treated as secrets, registered or not
SECRET_ENV = ("FAL_KEY", "FAL_KEY_SECRET")

#: schemes kept in front of a redacted Authorization value: they say how, not what
AUTH_SCHEMES = ("key", "bearer", "basic", "token")


class SecretLeak(HarnessError):
    """A write would have put a registered secret on disk; nothing was written."""


def _base64_forms(value: bytes) -> list[bytes]:
    """Base64 runs that appear wherever ``value`` sits inside a longer encoded text.

    Base64 encodes 3 bytes as 4 characters, so the encoding of ``value`` depends on its offset
    (0, 1 or 2) within the encoded data. For each offset, keep only the characters made of
    ``value``'s bits alone: those appear verbatim in any encoding that contains it there.
    """
    forms: list[bytes] = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + value)
        start = -(-8 * offset // 6)  # first character whose 6 bits all come from value
        end = 8 * (offset + len(value)) // 6  # characters wholly before value ends
        core = encoded[start:end]
        if len(core) >= MIN_SECRET_LENGTH:
            forms.append(core)
            forms.append(core.translate(bytes.maketrans(b"+/", b"-_")))
    return forms


def _text_forms(value: str) -> dict[str, str]:
    encoded = quote(value, safe="")
    return {
        "plain": value,
        "url-encoded": encoded,
        "url-encoded (lower-case)": re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded),
        "url-encoded (path)": quote(value),
        "form-encoded": quote_plus(value),
        "json-escaped": value.encode("unicode_escape").decode("ascii").replace('"', '\\"'),
        "hex": value.encode("utf-8").hex(),
        "hex (upper-case)": value.encode("utf-8").hex().upper(),
    }


class Secrets:
    """A set of secret values and every form they can take in written bytes."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._forms: list[tuple[str, bytes]] = []
        for v in values:
            self.register(v)

    def register(self, value: str | None) -> None:
        """Treat ``value`` as secret from now on (``id:secret`` keys register the secret part too).

        Values shorter than :data:`MIN_SECRET_LENGTH` are ignored: they would match by chance.
        """
        if not value:
            return
        candidates = [value]
        if ":" in value:
            candidates.append(value.split(":", 1)[1])
        with self._lock:
            for candidate in candidates:
                if len(candidate) < MIN_SECRET_LENGTH or candidate in self._values:
                    continue
                self._values.add(candidate)
                forms = {name: text.encode("utf-8") for name, text in _text_forms(candidate).items()}
                seen = set()
                for name, data in forms.items():
                    if data not in seen:
                        seen.add(data)
                        self._forms.append((name, data))
                for data in _base64_forms(candidate.encode("utf-8")) + _base64_forms(
                        f"Key {candidate}".encode()):
                    if data not in seen:
                        seen.add(data)
                        self._forms.append(("base64", data))

    def with_environment(self) -> Secrets:
        """These secrets plus the keys in the environment right now."""
        extra = [os.environ.get(name) for name in SECRET_ENV]
        if not any(extra):
            return self
        merged = Secrets()
        with self._lock:
            merged._values = set(self._values)
            merged._forms = list(self._forms)
        for value in extra:
            merged.register(value)
        return merged

    def __bool__(self) -> bool:
        return bool(self._values)

    def forms(self) -> list[tuple[str, bytes]]:
        """(form name, bytes) for every form of every secret, longest first."""
        with self._lock:
            return sorted(self._forms, key=lambda f: -len(f[1]))

    def find(self, data: bytes | str) -> list[str]:
        """The names of the forms found in ``data`` (never the secret itself)."""
        raw = data.encode("utf-8") if isinstance(data, str) else data
        return sorted({name for name, form in self.forms() if form in raw})

    def redact(self, text: str) -> str:
        """``text`` with every textual form of every secret replaced by ``<redacted>``."""
        for _, form in self.forms():
            needle = form.decode("utf-8")
            if needle in text:
                text = text.replace(needle, REDACTED)
        return text


#: the process-wide registry: targets register their keys here as they are opened
SECRETS = Secrets()


def register_secret(value: str | None) -> None:
    """Register ``value`` (a key) in the process-wide registry."""
    SECRETS.register(value)


def redact(text: str, secrets: Secrets | None = None) -> str:
    return (secrets or SECRETS).with_environment().redact(text)


def find_secrets(data: bytes | str, secrets: Secrets | None = None) -> list[str]:
    """Names of the secret forms in ``data``: the registered ones and the environment's keys."""
    return (secrets or SECRETS).with_environment().find(data)


def ensure_clean(data: bytes | str, where: str | Path, secrets: Secrets | None = None) -> None:
    """Raise :class:`SecretLeak` naming ``where`` when ``data`` holds a secret in any form."""
    found = find_secrets(data, secrets)
    if found:
        raise SecretLeak(f"refusing to write {where}: it would contain a secret ({', '.join(found)} form); "
                         "nothing was written")


def write_scrubbed(path: str | Path, data: bytes | str, secrets: Secrets | None = None) -> None:
    """Write ``data`` to ``path`` only if it holds no secret; atomically, so a reader never
    sees half a file and a refused write leaves the old file as it was."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    ensure_clean(raw, path, secrets)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Opened by name rather than with mkstemp, so the file gets the umask's usual mode, not 0600.
    tmp = path.with_name(f".{path.name}.{secrets_module.token_hex(6)}.tmp")
    try:
        with open(tmp, "xb") as out:
            out.write(raw)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


#: query parameters known to carry no secret; every other query value is redacted in written URLs
SAFE_QUERY = frozenset({"logs", "storage_type"})


def redact_url(url: str) -> str:
    """The URL with every query value except the known-safe ones redacted (signed URLs, tokens,
    webhook addresses that embed a token)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if all(k in SAFE_QUERY or v == REDACTED for k, v in pairs):
        return url
    query = urlencode([(k, v if k in SAFE_QUERY else REDACTED) for k, v in pairs], safe="<>")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
