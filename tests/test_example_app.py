"""examples/myapp, the example of testing your own app: its tests pass offline with the network
blocked, and recording them again with a key in the environment leaves no trace of the key."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from harness.cassettes import read_app_cassette
from harness.cassettes._scrub import CANONICAL_EXPIRY

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "myapp"
KEY = "myapp-id-7f3e:RECOGNISABLE-c0ffee-secret"


@pytest.fixture
def project(pytester: pytest.Pytester) -> Path:
    shutil.copytree(EXAMPLE, pytester.path, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return Path(pytester.path)


def _forms(secret: str) -> dict[str, bytes]:
    """Every spelling of ``secret`` the acceptance names: plain, URL-encoded, base64 at each of the
    three offsets inside a longer run, hex."""
    raw = secret.encode()
    forms = {"plain": raw, "url-encoded": quote(secret, safe="").encode(), "form-encoded": quote_plus(secret).encode(),
             "hex": raw.hex().encode(), "hex upper-case": raw.hex().upper().encode()}
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw)
        forms[f"base64 at offset {offset}"] = encoded[-(-8 * offset // 6):8 * (offset + len(raw)) // 6]
        forms[f"url-safe base64 at offset {offset}"] = forms[f"base64 at offset {offset}"].translate(
            bytes.maketrans(b"+/", b"-_"))
    return forms


def test_the_example_apps_tests_pass_offline_with_the_network_blocked(pytester: pytest.Pytester,
                                                                      project: Path) -> None:
    result = pytester.runpytest_inprocess("--block-network", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)


def test_recording_the_example_again_with_a_key_leaves_no_trace_of_it(pytester: pytest.Pytester, project: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAL_KEY", KEY)  # the app reads it at import, as services do, and sends it
    cassettes = project / "tests" / "cassettes"
    shipped = {p.name: p.read_bytes() for p in cassettes.rglob("*.yaml")}
    pytester.runpytest_inprocess("--record-mode=rewrite", "-k", "recorded").assert_outcomes(passed=3)
    again = {p.name: p.read_bytes() for p in cassettes.rglob("*.yaml")}
    assert again.keys() == shipped.keys() and again != shipped  # written anew
    files = [f for f in project.rglob("*") if f.is_file()]
    for secret in (KEY, KEY.split(":", 1)[1]):
        for form, needle in _forms(secret).items():
            assert not [f for f in files if needle in f.read_bytes()], f"{form} of the key found"
    for path in cassettes.rglob("*.yaml"):
        cassette = read_app_cassette(path)
        assert "Key <redacted>" in {r.headers.get("authorization") for r in cassette.requests}
        bodies = [r["body"]["string"] for r in cassette.responses]
        assert all(CANONICAL_EXPIRY in b.decode("utf-8", "replace") for b in bodies
                   if b"expires_at" in b)  # a storage token recorded today replays any day
    monkeypatch.delenv("FAL_KEY")
    # The new recordings replay with no socket at all (not even loopback: no emulator is needed).
    replayed = pytester.runpytest_inprocess("--block-network", "--allowed-hosts=nothing.invalid", "-k", "recorded")
    replayed.assert_outcomes(passed=3)
