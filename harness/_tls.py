"""The verifying TLS context every HTTP client of the harness shares (the clients', the emulator's
webhook and file fetches): building one loads the CA bundle, tens of milliseconds each time."""

from __future__ import annotations

import functools
import os
import ssl

import httpx

__all__ = ["ssl_context"]


def ssl_context(*, trust_env: bool = True) -> ssl.SSLContext:
    """The verifying TLS context every client of the harness shares: building one loads the CA
    bundle (tens of milliseconds), so it is built once per CA setting (``SSL_CERT_FILE`` and
    ``SSL_CERT_DIR`` are read when ``trust_env``)."""
    if not trust_env:
        return _context(None, None, False)
    return _context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"), True)


@functools.cache
def _context(cert_file: str | None, cert_dir: str | None, trust_env: bool) -> ssl.SSLContext:
    return httpx.create_ssl_context(trust_env=trust_env)
