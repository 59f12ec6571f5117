"""An app's own fal traffic recorded in one test and replayed with nothing running: independent of
the emulator's ports, scrubbed of the caller's key in every form, strict about what the app sends,
and held to a live budget."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import fal_client
import httpx
import pytest
from pytest_recording import network

from harness import BudgetExceeded, CassetteMiss, DataFileError
from harness.cassettes import (
    is_cassette_file,
    is_recording_file,
    prune_bodies,
    read_app_cassette,
    read_cassette,
)
from harness.client import emulator_target, live_target, ssl_context
from harness.emulator import Emulator
from harness.sandbox import open_sandbox

#: the one TLS context for the loopback clients here (a client building its own loads the CA bundle)
TLS = ssl_context(trust_env=False)

IMAGE = "fal-ai/flux-pro"
KEY = "myid:SUPERSECRET-0c3f9a"


def app(client: Any = fal_client, prompt: str = "a lighthouse") -> tuple[str, int, bytes]:
    """A caller of fal: uploads a file, submits, polls, downloads the result."""
    uploaded = client.upload(b"reference bytes", "application/octet-stream", "reference.bin")
    handle = client.submit(IMAGE, {"prompt": prompt, "image_size": {"width": 64, "height": 48}, "seed": 3})
    output = handle.get(interval=0.005)
    image = httpx.get(output["images"][0]["url"], trust_env=False, verify=TLS)
    return uploaded.rsplit("/", 1)[-1], output["images"][0]["width"], image.content


def _record(path: Path, emulator: Emulator, client: Any = fal_client) -> tuple[str, int, bytes]:
    with open_sandbox(emulator_target(emulator), cassette=path, record_mode="once", name="test"):
        return app(client)


def test_a_recording_replays_with_no_emulator_and_no_socket_whatever_port_it_was_made_on(
        tmp_path: Path, fal_emulator: Emulator, fal_emulator_factory: Any) -> None:
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    recorded = _record(first, fal_emulator)
    _record(second, fal_emulator_factory())
    uris = [[r.uri for r in read_app_cassette(p).requests] for p in (first, second)]
    # Token, upload, submit: the same addresses from two emulators on different ports (the request
    # ids after them are the emulator's own).
    assert uris[0][:3] == uris[1][:3] and all(u.startswith("http://queue.emulator.invalid/") for u in uris[0][:3])
    assert not [u for u in uris[0] + uris[1] if "127.0.0.1" in u]
    with network.blocking_context(allowed_hosts=[]), open_sandbox(cassette=first) as box:
        assert box.mode == "replay" and box.emulator is None
        assert app() == recorded


def _forms(secret: str) -> dict[str, bytes]:
    raw = secret.encode()
    forms = {"plain": raw, "url": quote(secret, safe="").encode(), "form": quote_plus(secret).encode(),
             "hex": raw.hex().encode(), "HEX": raw.hex().upper().encode()}
    for offset in range(3):  # base64 of the secret wherever it sits in a longer encoded run
        encoded = base64.b64encode(b"\0" * offset + raw)
        forms[f"base64+{offset}"] = encoded[-(-8 * offset // 6):8 * (offset + len(raw)) // 6]
    return forms


def test_the_callers_key_leaves_no_trace_in_any_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     fal_emulator_factory: Any) -> None:
    monkeypatch.setenv("FAL_KEY", KEY)
    emulator = fal_emulator_factory()  # accepts the environment's key, as the fixtures' emulators do
    configured_early = fal_client.SyncClient(key=os.environ["FAL_KEY"])  # holds the key before the sandbox
    path = tmp_path / "cassettes" / "keyed.yaml"
    _record(path, emulator, configured_early)
    written = [f for f in tmp_path.rglob("*") if f.is_file()]
    assert len(written) >= 3  # the cassette and its body files
    for secret in (KEY, KEY.split(":", 1)[1]):
        for name, form in _forms(secret).items():
            assert not [f for f in written if form in f.read_bytes()], (name, secret)
    headers = [r.headers.get("authorization") for r in read_app_cassette(path).requests]
    assert "Key <redacted>" in headers


def test_a_request_the_recording_lacks_is_a_miss_naming_the_nearest(tmp_path: Path, fal_emulator: Emulator) -> None:
    path = tmp_path / "a.yaml"
    _record(path, fal_emulator)
    with pytest.raises(CassetteMiss, match=r"nearest is POST http://queue\.emulator\.invalid/fal-ai/flux-pro: "
                                           r"body differs \(prompt: sent \"a fox\""), open_sandbox(cassette=path):
        app(prompt="a fox")


def test_recorded_requests_the_app_no_longer_makes_fail_the_replay(tmp_path: Path, fal_emulator: Emulator) -> None:
    path = tmp_path / "a.yaml"
    _record(path, fal_emulator)
    with pytest.raises(CassetteMiss, match=r"of \d+ recorded requests were not made"), open_sandbox(cassette=path):
        fal_client.upload(b"reference bytes", "application/octet-stream", "reference.bin")


def test_a_live_recording_spends_its_budget_and_writes_nothing_past_it(tmp_path: Path,
                                                                       fal_emulator: Emulator) -> None:
    # The live code path (key required, budget) pointed at the emulator, so nothing leaves the machine.
    target = live_target(max_requests=1, env={"FAL_KEY": fal_emulator.key},
                         urls={"queue": fal_emulator.queue_url, "run": fal_emulator.run_url,
                               "rest": fal_emulator.queue_url, "cdn": fal_emulator.queue_url})
    path = tmp_path / "live.yaml"

    def two_model_calls() -> None:
        with open_sandbox(target, cassette=path, record_mode="rewrite"):
            app()  # the upload is free, the submit spends the one request
            fal_client.run(IMAGE, {"prompt": "one more"})

    with pytest.raises(BudgetExceeded):
        two_model_calls()
    assert not path.exists()
    assert target.budget is not None and target.budget.spent == 1


def test_an_app_cassette_is_read_strictly_and_kept_apart_from_scenario_cassettes(tmp_path: Path,
                                                                                 fal_emulator: Emulator) -> None:
    path = tmp_path / "cassettes" / "a.yaml"
    _record(path, fal_emulator)
    assert is_recording_file(path) and not is_cassette_file(path)
    with pytest.raises(DataFileError, match=r"a\.yaml: format: an app cassette"):
        read_cassette(path)
    assert prune_bodies(tmp_path / "cassettes") == []  # its body files are referenced, so kept
    broken = tmp_path / "cassettes" / "broken.yaml"
    broken.write_text(re.sub(r"  clients:\n(  - .*\n)+", "  clients: 3\n", path.read_text(), count=1))
    with pytest.raises(DataFileError, match=r"broken\.yaml: header\.clients: expected a list of user agents"):
        read_app_cassette(broken)
