"""A cassette replays the same on any later day: recorded expiry times are canonical."""

from __future__ import annotations

import json
from pathlib import Path

from harness._secrets import Secrets
from harness.cassettes import read_cassette
from harness.cassettes._scrub import CANONICAL_EXPIRY, Scrubber

ROOT = Path(__file__).resolve().parents[2]


def test_a_recorded_token_grant_never_expires() -> None:
    grant = {"token": "t0k3n", "token_type": "Bearer", "base_url": "http://x",
             "expires_at": "2026-11-21T12:38:09+00:00"}
    cleaned = json.loads(Scrubber(Secrets()).body(json.dumps(grant).encode(), "application/json"))
    assert cleaned["expires_at"] == CANONICAL_EXPIRY
    assert cleaned["token"] != "t0k3n"


def test_shipped_cassettes_hold_no_real_expiry_times() -> None:
    for path in sorted((ROOT / "cassettes").rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if "expires_at" in text:
            assert "expires_at: '2999-12-31T23:59:59+00:00'" in text, path
            assert read_cassette(path).header.endpoint
