"""No key reaches disk: a full recorded session is searched byte by byte, and a leaking save is refused."""

from __future__ import annotations

import base64
import dataclasses
import os
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import yaml
from cassette_helpers import REPO, SHIPPED

from harness._secrets import SecretLeak, Secrets, write_scrubbed
from harness.cassettes import (
    RecordedRequest,
    RecordedResponse,
    new_request,
    new_response,
    read_cassette,
    write_cassette,
)
from harness.cli import main
from harness.contracts import load_contracts

KEY_ID = "fal-test-KEY-7f3a9c2e"
KEY_SECRET = "s3cr3t-0123456789abcdef"
KEY = f"{KEY_ID}:{KEY_SECRET}"


def key_forms(value: str) -> dict[str, bytes]:
    """Every form of ``value`` that must not appear, computed here and not by the code under test."""
    forms = {"plain": value.encode(), "url-encoded": quote(value, safe="").encode(),
             "form-encoded": quote_plus(value).encode()}
    for text in (value, f"Key {value}"):
        raw = text.encode()
        for offset in range(3):
            encoded = base64.b64encode(b"\0" * offset + raw)
            # the characters made of the value's bits alone, whatever surrounds it
            core = encoded[-(-8 * offset // 6): 8 * (offset + len(raw)) // 6]
            forms[f"base64 of {text[:4]!r}... at offset {offset}"] = core
            forms[f"url-safe base64 of {text[:4]!r}... at offset {offset}"] = core.replace(b"+", b"-").replace(
                b"/", b"_")
    return forms


def leaks(root: Path) -> list[str]:
    found = []
    forms = {**key_forms(KEY), **{f"secret part, {k}": v for k, v in key_forms(KEY_SECRET).items()}}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.relative_to(root)}: {name}" for name, form in forms.items() if form in data]
    return found


class _Receiver(BaseHTTPRequestHandler):
    seen: list[str]

    def do_POST(self) -> None:  # http.server's naming
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def webhook_receiver() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Receiver", (_Receiver,), {"seen": seen}))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook?token={quote(KEY, safe='')}", seen
    server.shutdown()
    server.server_close()


def _contracts_with_the_key_in_every_prompt(folder: Path) -> Path:
    shutil.copytree(REPO / "contracts", folder)
    for path in folder.rglob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        for scenario in (data.get("scenarios") or {}).values():
            if "prompt" in scenario["input"]:
                scenario["input"]["prompt"] += f" (key {KEY})"
        path.write_text(yaml.safe_dump(data, sort_keys=False, width=10**9))
    return folder


def test_a_recorded_session_writes_the_key_nowhere(tmp_path: Path, webhook_receiver: tuple[str, list[str]],
                                                   capfd: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    webhook_url, webhook_calls = webhook_receiver
    contracts = _contracts_with_the_key_in_every_prompt(tmp_path / "contracts")
    config = tmp_path / "emulator.yaml"
    config.write_text(yaml.safe_dump({"keys": [KEY], "time_scale": 0.01}))
    out = tmp_path / "out"
    (out / "logs").mkdir(parents=True)
    for name in [k for k in os.environ if k.startswith("FAL_KEY")]:
        monkeypatch.delenv(name)
    # Both commands run in this process, as the CLI's main; what they print to the terminal (file
    # descriptors 1 and 2, whoever writes there) is kept as their logs and searched like every file.
    recorded = main(["record", "--emulator-config", str(config), "--contracts-dir", str(contracts),
                     "--variants", "all", "--scenario", "text-to-image", "--scenario", "controlnet-canny",
                     "--scenario", "image-to-image", "--webhook-url", webhook_url, "--out", str(out / "cassettes"),
                     "--report", str(out / "report.json")])
    printed = capfd.readouterr()
    (out / "logs/record.out").write_text(printed.out)
    (out / "logs/record.err").write_text(printed.err)
    # Replaying inputs that hold the key needs the key, to redact them as the recording did.
    monkeypatch.setenv("FAL_KEY", KEY)
    verified = main(["cassettes", "verify", str(out / "cassettes"), "--contracts-dir", str(contracts)])
    printed = capfd.readouterr()
    (out / "logs/verify.out").write_text(printed.out)
    (out / "logs/verify.err").write_text(printed.err)
    logs = "".join(p.read_text() for p in sorted((out / "logs").iterdir()))
    assert recorded == 0, logs
    assert verified == 0, logs
    assert "cassettes" in logs  # the commands did print, so an empty search means something

    cassettes = [read_cassette(p) for p in (out / "cassettes").rglob("*.yaml")]
    chosen = {"text-to-image", "controlnet-canny", "image-to-image"}
    assert {c.header.endpoint for c in cassettes} == {
        c.endpoint for c in load_contracts(contracts).values() if chosen & {s.name for s in c.scenarios}}
    assert {c.header.variant.name for c in cassettes} >= {"upload", "url", "webhook", "cancel"}
    # The key really was sent: in the header (the emulator accepts only it), the query (the
    # webhook URL's token reached the receiver) and the body (the prompts).
    assert webhook_calls and all(f"token={quote(KEY, safe='')}" in p for p in webhook_calls)
    submits = [r for c in cassettes for r in c.requests if r.method == "POST"
               and r.uri.split("?")[0].endswith(c.header.endpoint)]
    assert all(r.headers["authorization"] == "Key <redacted>" for r in submits)
    assert any(r.uri.endswith("?fal_webhook=<redacted>") for r in submits)
    assert all(b"(key <redacted>)" in r.body for r in submits)

    assert leaks(out) == []
    # The search itself finds a key hidden in base64 at an odd offset, so the empty list means something.
    (tmp_path / "canary").mkdir()
    (tmp_path / "canary/x.bin").write_bytes(base64.b64encode(b"xy" + f"Key {KEY}".encode()))
    assert leaks(tmp_path / "canary")


def test_the_scan_finds_the_key_in_every_form_and_inside_longer_base64() -> None:
    secrets = Secrets([KEY])
    for name, form in key_forms(KEY).items():
        assert secrets.find(b"..." + form + b"..."), name
    for prefix in (b"", b"a", b"ab", b"Authorization: Key "):
        assert secrets.find(base64.b64encode(prefix + KEY.encode() + b" and more")) == ["base64"]
    assert secrets.find(base64.b64encode(KEY_SECRET.encode())) == ["base64"]
    assert secrets.find(SHIPPED.joinpath("fal-ai/flux-pro/defaults.yaml").read_bytes()) == []


def _cassette_with(request: RecordedRequest, response: RecordedResponse) -> Any:
    base = read_cassette(SHIPPED / "fal-ai/flux-pro/defaults.yaml")
    return dataclasses.replace(base, requests=[request], responses=[response], path=None)


def test_a_save_that_would_hold_the_key_fails_loudly_and_writes_nothing(tmp_path: Path) -> None:
    secrets = Secrets([KEY])
    # An image cannot be redacted without being destroyed, so a key inside one is refused.
    image = new_response(200, "OK", {"content-type": ["image/png"]}, b"\x89PNG\0\0" + KEY.encode() + b"\0")
    cassette = _cassette_with(new_request("GET", "http://queue.emulator.invalid/files/a/b.png"), image)
    with pytest.raises(SecretLeak) as caught:
        write_cassette(cassette, tmp_path / "c.yaml", bodies_dir=tmp_path / "_bodies", secrets=secrets)
    assert str(caught.value).startswith(f"refusing to write {tmp_path}/_bodies/")
    assert "plain form" in str(caught.value) and KEY not in str(caught.value) and KEY_SECRET not in str(caught.value)
    assert list(tmp_path.iterdir()) == []
    # A header that bypassed the scrubber is redacted in the cassette text itself, and the rest kept.
    sneaky = new_request("GET", "http://queue.emulator.invalid/x", headers={"x-debug": base64.b64encode(
        f"Key {KEY}".encode()).decode()})
    written = write_cassette(_cassette_with(sneaky, new_response(204)), tmp_path / "c.yaml", secrets=secrets)
    text = written.read_text()
    assert "<redacted>" in text and not secrets.find(text) and "header:" in text
    assert read_cassette(written).responses[0]["status"]["code"] == 204


def test_reports_and_logs_write_through_the_same_guard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAL_KEY", KEY)  # the environment's key is a secret whether registered or not
    write_scrubbed(tmp_path / "report.json", f'{{"url": "https://x/?k={quote(KEY, safe="")}", "n": 1}}')
    assert (tmp_path / "report.json").read_text() == '{"url": "https://x/?k=<redacted>", "n": 1}'
    # Binary data cannot be redacted without being destroyed: refused, and the old file kept.
    (tmp_path / "image.png").write_bytes(b"old")
    with pytest.raises(SecretLeak, match=re.escape("image.png")):
        write_scrubbed(tmp_path / "image.png", b"\x89PNG\0" + KEY.encode())
    assert (tmp_path / "image.png").read_bytes() == b"old"
