"""Nothing is lost: a failed or killed recording keeps the old cassette, pruning keeps every body a
file may refer to, and the secrets guard redacts instead of throwing a run's results away."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hostile_helpers import Outcome

import harness
from harness._secrets import Secrets
from harness._suite import ScenarioCase
from harness.cassettes import PlannedCassette, arecord_cassette, get_variant, prune_bodies, read_cassette
from harness.cassettes import _record as record_module
from harness.cassettes._format import mentioned_bodies
from harness.client import emulator_target
from harness.client._observations import ErrorInfo
from harness.contracts import load_contracts
from harness.emulator import Emulator


def test_a_rewrite_that_breaks_off_keeps_the_old_cassette(cassettes_copy: Path, fal_emulator: Emulator,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = cassettes_copy / "fal-ai/flux-pro/defaults.yaml"
    before = path.read_bytes()
    real_drive = record_module.drive

    async def broken(*args: object, **kwargs: object) -> object:
        obs = await real_drive(*args, **kwargs)  # type: ignore[arg-type]
        obs.error = ErrorInfo(kind="transport", message="the connection dropped")
        return obs

    monkeypatch.setattr(record_module, "drive", broken)
    flux = load_contracts()["fal-ai/flux-pro"]
    planned = PlannedCassette(ScenarioCase(flux, flux.scenario("defaults")), get_variant("default"), cassettes_copy)
    with pytest.raises(Exception, match="broke off"):
        asyncio.run(arecord_cassette(emulator_target(fal_emulator), planned, mode="rewrite"))
    assert path.read_bytes() == before


def test_a_rewrite_against_an_unreachable_target_fails_fast_and_keeps_the_cassette(
        cassettes_copy: Path, cli: Callable[[Sequence[object]], Outcome]) -> None:
    path = cassettes_copy / "fal-ai/flux-pro/defaults.yaml"
    before = path.read_bytes()
    done = cli(["record", "--record-mode", "rewrite", "--target", "http://127.0.0.1:9", "--endpoint",
                "fal-ai/flux-pro", "--scenario", "defaults", "--out", cassettes_copy])
    assert done.code == 2 and len(done.error_lines) == 1 and "cannot reach" in done.err, done.err
    assert path.read_bytes() == before


def test_pruning_keeps_the_bodies_of_cassettes_it_does_not_recognise(
        cassettes_copy: Path, cli: Callable[[Sequence[object]], Outcome]) -> None:
    commented = cassettes_copy / "fal-ai/photomaker/image-to-image.upload.yaml"
    commented.write_text("# " + "x" * 300 + "\n" + commented.read_text())
    headless = cassettes_copy / "fal-ai/photomaker/image-to-image.yaml"
    headless.write_text(headless.read_text().replace("format: fal-harness/cassette@1\n", ""))
    # A comment before the format line still reads as a cassette; a file that does not is a failure,
    # never passed over in silence.
    checked = cli(["cassettes", "verify", cassettes_copy])
    assert checked.code == 1
    assert f"ok    {commented}" in checked.out.replace("../", "") or "image-to-image.upload.yaml  " in checked.out
    assert "FAIL" in checked.out and "image-to-image.yaml  not a fal-harness cassette" in checked.out
    recorded = cli(["record", "--endpoint", "fal-ai/flux-pro", "--scenario", "defaults", "--record-mode",
                    "rewrite", "--out", cassettes_copy])
    assert recorded.code == 0, recorded.err
    still = {p.name for p in (cassettes_copy / "_bodies").iterdir()}
    for other in cassettes_copy.rglob("*.yaml"):
        assert mentioned_bodies(other.read_bytes()) <= still, other
    assert mentioned_bodies(headless.read_bytes())  # the check above covered the unrecognised file
    assert read_cassette(commented).requests


def test_pruning_stops_at_an_unreadable_cassette(cassettes_copy: Path) -> None:
    broken = cassettes_copy / "fal-ai/sd-loras/text-to-image.yaml"
    broken.write_bytes(b"format: fal-harness/cassette@1\n\xff\xfe not text")
    orphan = cassettes_copy / "_bodies" / ("0" * 64 + ".bin")
    orphan.write_bytes(b"left behind")
    assert prune_bodies(cassettes_copy) == []
    assert orphan.exists()
    broken.unlink()
    assert orphan in prune_bodies(cassettes_copy)


def test_a_live_run_whose_retries_spend_the_budget_keeps_what_was_sent(
        fal_emulator_factory: Callable[..., Emulator], tmp_path: Path, cli: Callable[[Sequence[object]], Outcome],
        monkeypatch: pytest.MonkeyPatch) -> None:
    key = "hostile-live-key:budget-s3cr3t-0123456789"
    emulator = fal_emulator_factory({"keys": [key], "time_scale": 0,
                                     "faults": [{"fault": "connection_reset", "when": "after", "rate": 0.7,
                                                 "on": ["submit"]}]})
    monkeypatch.setenv("FAL_KEY", key)
    out = tmp_path / "run"
    done = cli(["run", "--target", "live", "--live-base-url", emulator.queue_url, "--endpoint", "fal-ai/flux-pro",
                "--max-requests", "4", "--bench-requests", "0", "--out", out])
    assert done.code == 1, done.err
    summary = json.loads((out / "run.json").read_text())
    assert summary["ok"] is False and len(summary["scenarios"]) == 4
    lines = (out / "observations.jsonl").read_text().splitlines()
    assert len(lines) == 4
    assert any(json.loads(line)["error"] and json.loads(line)["error"]["kind"] == "budget" for line in lines)


def test_run_folders_started_in_the_same_second_are_distinct(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from harness._mainjob import claim_run_dir

    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    first, second = claim_run_dir(tmp_path, now=now), claim_run_dir(tmp_path, now=now)
    assert first != second and first.is_dir() and second.is_dir()
    # one naming scheme for every run folder: the UTC start time, then what ran (a benchmark's: the scenario)
    assert (first.name, second.name) == ("20260102T030405Z-run", "20260102T030405Z-run-2")


def _leaks(folder: Path, secrets: Secrets) -> list[str]:
    return [f"{p}: {secrets.find(p.read_bytes())}" for p in folder.rglob("*") if p.is_file()
            and secrets.find(p.read_bytes())]


def test_a_key_inside_faults_prompts_and_inputs_is_redacted_and_the_run_kept(
        tmp_path: Path, cli: Callable[[Sequence[object]], Outcome], monkeypatch: pytest.MonkeyPatch) -> None:
    key = "hostile-env-key:in-the-fault-s3cr3t-0123456789"
    monkeypatch.setenv("FAL_KEY", key)
    secrets = Secrets([key])
    config = tmp_path / "faults.yaml"
    config.write_text("time_scale: 0\nfaults:\n  - {fault: completed_with_error, rate: 1, on: [submit], "
                      f"message: 'runner said {key}'}}\n")
    out = tmp_path / "run"
    done = cli(["run", "--emulator-config", config, "--endpoint", "fal-ai/flux-pro", "--bench-requests", "2",
                "--out", out])
    assert done.code == 1, done.err
    assert "refusing" not in done.err
    observations = (out / "observations.jsonl").read_text().splitlines()
    assert len(observations) == 4 and "<redacted>" in "".join(observations)
    assert (out / "bench" / "requests.jsonl").read_text().count("\n") == 3
    assert _leaks(out, secrets) == []
    # The benchmark's request lines hold the fault's message too: redacted, every line kept.
    assert "<redacted>" in (out / "bench" / "requests.jsonl").read_text()


@pytest.mark.parametrize("failing", ["write", "fsync", "replace"])
def test_a_write_that_fails_midway_leaves_the_old_file_whole(failing: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import harness._secrets as guard

    target = tmp_path / "run.json"
    target.write_text('{"old": true}')

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    if failing == "write":
        real_open = open

        class Full:
            def __init__(self, *args: object, **kwargs: object) -> None:
                self.file = real_open(*args, **kwargs)  # type: ignore[call-overload]

            def __enter__(self) -> Full:
                return self

            def __exit__(self, *exc: object) -> None:
                self.file.close()

            def write(self, data: bytes) -> int:
                self.file.write(data[: len(data) // 2])
                raise OSError(28, "No space left on device")

        monkeypatch.setattr(guard, "open", Full, raising=False)
    else:
        monkeypatch.setattr(os, failing, broken)
    with pytest.raises(harness.ConfigError, match=r"cannot write .*run\.json: No space left on device"):
        guard.write_scrubbed(target, '{"new": true, "padding": "' + "x" * 10_000 + '"}')
    assert target.read_text() == '{"old": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temporary file left behind


def test_a_cassette_the_guard_refuses_is_reported_and_the_others_are_recorded(
        tmp_path: Path, cli: Callable[[Sequence[object]], Outcome], monkeypatch: pytest.MonkeyPatch) -> None:
    from harness._secrets import SecretLeak
    from harness.cassettes import _format

    real = _format.write_cassette

    def refuse_one(cassette: object, path: object, **kwargs: object) -> Path:
        if str(path).endswith("defaults.yaml"):
            raise SecretLeak(f"refusing to write {path}: it would contain a secret (plain form); nothing was written")
        return real(cassette, path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_format, "write_cassette", refuse_one)
    done = cli(["record", "--endpoint", "fal-ai/flux-pro", "--scenario", "defaults", "--scenario", "custom-size",
                "--out", tmp_path])
    assert done.code == 1, done.err
    assert "refused" in done.out and "defaults.yaml" in done.out
    assert not (tmp_path / "fal-ai/flux-pro/defaults.yaml").exists()
    assert read_cassette(tmp_path / "fal-ai/flux-pro/custom-size.yaml").requests
