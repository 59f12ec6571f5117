"""Known secrets and the guard every writer of cassettes, reports and logs goes through.

A registered key is redacted from text in all its forms before anything is written; a write that
would still hold one after redaction fails, and writes never destroy the file they replace early.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets as secrets_module
import stat
import threading
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

from harness._errors import ConfigError, HarnessError

__all__ = [
    "REDACTED",
    "SAFE_QUERY",
    "SECRETS",
    "SecretLeak",
    "Secrets",
    "atomic_write",
    "ensure_clean",
    "find_secrets",
    "redact",
    "redact_text_bytes",
    "redact_url",
    "register_secret",
    "writable_target",
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
        "url-encoded twice": quote(encoded, safe=""),
        "url-encoded twice (lower-case)": re.sub(r"%25([0-9A-F]{2})", lambda m: "%25" + m.group(1).lower(),
                                                 quote(encoded, safe="")),
        "form-encoded twice": quote_plus(quote_plus(value)),
        # as json.dumps writes a string (quotes, backslashes and control characters escaped, non-ASCII
        # as \u escapes); writers that keep UTF-8 as it is write the plain form
        "json-escaped": json.dumps(value)[1:-1],
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

    def redact_bytes(self, data: bytes) -> bytes:
        """``data`` with every form of every secret replaced by ``<redacted>``."""
        marker = REDACTED.encode()
        for _, form in self.forms():
            if form in data:
                data = data.replace(form, marker)
        return data


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


def write_scrubbed(path: str | Path, data: bytes | str, secrets: Secrets | None = None) -> Path:
    """The one way the harness writes a whole file: redact, then write atomically.

    Every form of every known secret is replaced by ``<redacted>`` first; only data that would
    still hold one after that is refused (:class:`SecretLeak`, the old file left as it was); binary
    data (an image) is never altered, so a secret inside it is refused. The
    bytes go to a temporary file in the same folder, are flushed to disk, and replace the old file
    by a rename, so a reader (or a crash) sees the old file or the new one, never half of either.
    A symlink is written through (the file it points at is replaced, the link kept); a path that is
    a device, FIFO, socket or folder is refused, never replaced. Returns the file written.
    """
    path = Path(path)
    known = (secrets or SECRETS).with_environment()
    raw = redact_text_bytes(data.encode("utf-8") if isinstance(data, str) else data, known)
    ensure_clean(raw, path, known)
    target = writable_target(path)
    atomic_write(target, raw, shown=path)
    return target


def redact_text_bytes(raw: bytes, known: Secrets) -> bytes:
    """``raw`` redacted when it is text (UTF-8); binary data (an image) is left whole, since
    replacing bytes inside it would destroy it: the guard refuses it instead."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    return known.redact_bytes(raw)


def writable_target(path: Path) -> Path:
    """The regular file a write to ``path`` lands in (a symlink's target); a ConfigError for a path
    that exists and is not a regular file."""
    target = Path(os.path.realpath(path))
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else (
            "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
        raise ConfigError(f"cannot write {path}: it is {kind}, and only regular files are written "
                          "(nothing was replaced)")
    return target


def atomic_write(target: Path, raw: bytes, *, shown: Path | None = None) -> None:
    """Write ``raw`` to ``target`` through a same-folder temporary file, fsync and rename; the old
    file stays whole until the new one is on disk. OS errors are one-line ConfigErrors."""
    shown = shown or target
    # Opened by name rather than with mkstemp, so the file gets the umask's usual mode, not 0600.
    tmp = target.with_name(f".{target.name}.{secrets_module.token_hex(6)}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "xb") as out:
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(OSError):  # a replaced file keeps its permissions
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(tmp, target)
        _sync_folder(target.parent)
    except OSError as exc:
        _discard(tmp)
        raise ConfigError(f"cannot write {shown}: {exc.strerror or exc}") from None
    except BaseException:
        _discard(tmp)
        raise


def _discard(tmp: Path) -> None:
    """Remove a temporary file if it was made (an error here, such as a name the system refused
    once already, must not replace the error that brought us here)."""
    with contextlib.suppress(OSError):
        tmp.unlink()


def _sync_folder(folder: Path) -> None:
    """Flush the folder entry of a rename to disk (best effort: not every file system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


#: query parameters known to carry no secret; every other query value is redacted in written URLs
SAFE_QUERY = frozenset({"logs", "storage_type"})


def redact_url(url: str) -> str:
    """The URL with every query value except the known-safe ones redacted (signed URLs, tokens,
    webhook addresses that embed a token) and any user name and password in it redacted too."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:{REDACTED}@{host}" if colon else f"{REDACTED}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if not all(k in SAFE_QUERY or v == REDACTED for k, v in pairs):
            query = urlencode([(k, v if k in SAFE_QUERY else REDACTED) for k, v in pairs], safe="<>")
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
