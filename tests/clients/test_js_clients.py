"""fal's JavaScript clients, @fal-ai/client 1.10.1 and @fal-ai/serverless-client 0.15.0 from the
npm registry, unchanged, against the emulator: one Node process per client runs every operation
(tests/clients/js/*.cjs) through the harness's Node redirect, whose guard refuses any address off
this machine, and reports JSON that is checked here against the emulator's own records."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.contracts import get_contract, validate_output
from harness.emulator import Emulator, node_redirect_env

from .conftest import BIG_BYTES, HELD, REALTIME, STREAMED, Receiver, fetch, patterned, verify_webhook

JS = Path(__file__).with_name("js")
IMAGE = "fal-ai/flux-pro"


def _run_client(script: str, emulator: Emulator, receiver: Receiver, modules: Path) -> dict[str, Any]:
    options = {"big_bytes": BIG_BYTES, "webhook_url": receiver.url, "held_endpoint": HELD[0], "held_input": HELD[1],
               "stream_endpoint": STREAMED[0], "stream_input": STREAMED[1], "realtime_endpoint": REALTIME[0],
               "realtime_input": REALTIME[1]}
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("FAL_", "NODE_"))},
           **node_redirect_env(emulator), "NODE_PATH": str(modules), "FAL_CLIENT_TEST": json.dumps(options)}
    done = subprocess.run(["node", str(JS / script)], env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def _valid(endpoint: str, output: Any) -> list[str]:
    return [str(v) for v in validate_output(get_contract(endpoint), output)]


def _judge(report: dict[str, Any], emulator: Emulator, receiver: Receiver) -> dict[str, str]:
    """Every operation's problems (an empty dict when all passed), so a failure names them all."""
    steps = report["steps"]
    problems: dict[str, str] = {}

    def check(name: str, test: Any) -> None:
        step = steps.get(name)
        if step is None:
            problems[name] = "not run"
            return
        if not step["ok"]:
            problems[name] = f"{step['error']} (status {step.get('status')}, body {step.get('body')})"
            return
        try:
            test(step["value"])
        except AssertionError as exc:
            problems[name] = str(exc) or "assertion failed"

    def output(value: dict[str, Any], endpoint: str = IMAGE) -> None:
        assert _valid(endpoint, value["output"]) == [], _valid(endpoint, value["output"])

    def run(v: dict[str, Any]) -> None:
        output(v)
        assert v["file"]["status"] == 200 and v["file"]["type"] == "image/jpeg", v["file"]
        assert v["file"]["size"] == v["output"]["images"][0]["file_size"]

    def subscribed(v: dict[str, Any]) -> None:
        output(v)
        assert v["statuses"] and v["statuses"][-1] == "COMPLETED", v["statuses"]

    def queue(v: dict[str, Any]) -> None:
        output(v)
        assert v["done"] == "COMPLETED"
        assert v["cancelled"] == {"status": 400, "body": {"status": "ALREADY_COMPLETED"}}, v["cancelled"]
        assert emulator.timeline(v["requestId"])["status"] == "COMPLETED"

    def cancelled(v: dict[str, Any]) -> None:
        assert (v["before"], v["after"], v["error_type"]) == ("IN_QUEUE", "COMPLETED", "client_cancelled"), v
        assert "cancelled_ns" in emulator.timeline(v["requestId"])

    def status_stream(v: dict[str, Any]) -> None:
        assert v["statuses"] and v["statuses"][-1] == "COMPLETED" and v["last"] == "COMPLETED", v

    def uploaded(v: dict[str, Any], size: int) -> None:
        source = patterned(size)
        assert v["size"] == size
        if "file" in v:  # the client read its small upload back itself
            assert v["file"]["sha256"] == v["sha256"] == hashlib.sha256(source).hexdigest()
        stored = fetch(v["url"]).content  # the emulator's copy, read independently of the client
        assert len(stored) == size and stored == source, "the stored file differs from the bytes uploaded"

    def stream(v: dict[str, Any]) -> None:
        events = [*v["events"], v["done"]] if v["events"][-1:] != [v["done"]] else v["events"]
        assert [e["partial"] for e in events] == [True] * (len(events) - 1) + [False], events
        texts = [e["output"] for e in events]
        assert all(b.startswith(a) for a, b in itertools.pairwise(texts)), texts
        assert len(events) == 5, f"{len(events)} events"
        assert _valid(STREAMED[0], v["done"]) == []

    def realtime(v: dict[str, Any]) -> None:
        (result,) = v["results"]
        assert result["request_id"] == "js-realtime-1"
        assert result["images"][0]["url"].startswith("data:image/jpeg;base64,")
        assert _valid(REALTIME[0], {k: x for k, x in result.items() if k != "request_id"}) == []
        (error,) = v["errors"]
        assert error["body"]["error"] == "VALIDATION_ERROR", error
        assert error["body"]["detail"][0]["loc"] == ["body", "num_inference_steps"]

    def webhook(v: dict[str, Any]) -> None:
        headers, body = receiver.wait_for(v["requestId"])
        verify_webhook(emulator, headers, body["raw"])
        assert body["status"] == "OK" and _valid(IMAGE, body["payload"]) == []

    def wrong_key(v: dict[str, Any]) -> None:
        assert v == {"status": 401, "body": {"detail": "No user found for Key ID and Secret"}}, v

    check("run", run)
    check("subscribe_poll", subscribed)
    check("subscribe_stream", subscribed)
    check("queue", queue)
    check("cancel_queued", cancelled)
    check("status_stream", status_stream)
    check("upload_small", lambda v: uploaded(v, 4096))
    check("upload_big", lambda v: uploaded(v, BIG_BYTES))
    check("stream", stream)
    check("realtime", realtime)
    check("webhook", webhook)
    check("wrong_key", wrong_key)
    if "sync_mode" in steps:
        check("sync_mode", lambda v: (v["url"].startswith("data:image/jpeg;base64,") and v["file"]["status"] == 200)
              or pytest.fail(str(v)))
    if "off_machine" in steps:
        def refused(v: dict[str, Any]) -> None:
            assert v["reached"] is False and "only loopback" in v["error"], v
            assert report["refused"] == [{"host": "192.0.2.1", "what": "connect to"}], report["refused"]
        check("off_machine", refused)
    elif report["refused"]:
        problems["guard"] = f"attempts to leave this machine: {report['refused']}"
    return problems


@pytest.mark.parametrize("script", ["fal-client.cjs", "serverless-client.cjs"])
def test_every_operation_of_the_js_client_passes(script: str, emulator: Emulator, receiver: Receiver,
                                                  js_modules: Path) -> None:
    report = _run_client(script, emulator, receiver, js_modules)
    assert _judge(report, emulator, receiver) == {}
