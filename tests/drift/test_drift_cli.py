"""``fal-harness drift``: exit codes by --fail-on, files written, --all, and one-line errors (exit 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from drift_http import LocalServer

from harness.cli import main
from harness.contracts import export_openapi, load_contracts

DATA = Path(__file__).parent.parent / "data" / "drift"
NEWER = str(DATA / "sd-loras-newer.json")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["drift", "--contracts-dir", "contracts", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("fail_on", "code"), [("ERR", 1), ("WARN", 1), ("INFO", 1)])
def test_breaking_drift_exits_1_at_every_fail_on(capsys: pytest.CaptureFixture[str], fail_on: str, code: int) -> None:
    assert run(capsys, "fal-ai/sd-loras", "--against", NEWER, "--fail-on", fail_on)[0] == code


@pytest.mark.parametrize(("fail_on", "code"), [("ERR", 0), ("warn", 0), ("INFO", 1)])
def test_fail_on_decides_the_exit_code(capsys: pytest.CaptureFixture[str], fail_on: str, code: int) -> None:
    accepted = str(DATA / "sd-loras-accepted.yaml")
    result, out, err = run(capsys, "fal-ai/sd-loras", "--against", NEWER, "--ignore", accepted, "--fail-on", fail_on)
    assert (result, err) == (code, "")
    assert "ignored  response-property-removed  output.has_nsfw_concepts" in out


def test_no_drift_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(DATA / "photomaker-seed000.yaml"), "--against", "fal-ai/photomaker",
                       "--fail-on", "INFO")
    assert code == 0 and "no drift" in out


def test_a_report_file_is_written_and_the_verdict_printed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "drift.json"
    code, out, _ = run(capsys, "fal-ai/sd-loras", "--against", NEWER, "--format", "json", "-o", str(target))
    assert code == 1
    assert json.loads(target.read_text())["counts"] == {"ERR": 1, "WARN": 0, "INFO": 6}
    assert out == (f"fal-ai/sd-loras: contracts/fal-ai/sd-loras.yaml against {NEWER}: Breaking: 1 change will break "
                   f"callers (1 ERR, 0 WARN, 6 INFO; {target})\n")


def test_all_compares_each_contract_with_its_document(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    shutil.copy(NEWER, tmp_path / "sd-loras.json")
    flux = export_openapi(load_contracts("contracts")["fal-ai/flux-pro"])
    (tmp_path / "flux-pro.json").write_text(json.dumps(flux), encoding="utf-8")
    code, out, err = run(capsys, "--all", "--against-dir", str(tmp_path), "--format", "json")
    assert (code, err) == (1, "")
    data = json.loads(out)
    assert data["format"] == "fal-harness/drift-set@1"
    assert {r["endpoint"]: r["counts"]["ERR"] for r in data["reports"]} == {"fal-ai/flux-pro": 0,
                                                                            "fal-ai/sd-loras": 1}
    assert f"fal-ai/photomaker: nothing in {tmp_path} to compare with" in data["notes"]


def test_alert_url_posts_when_the_run_fails(capsys: pytest.CaptureFixture[str], local_server: LocalServer) -> None:
    code, _, err = run(capsys, "fal-ai/sd-loras", "--against", NEWER, "--alert-url", f"{local_server.url}/hook")
    assert (code, err) == (1, "")
    assert len(local_server.posted) == 1 and json.loads(local_server.posted[0][2])["text"].startswith("Schema drift")


def test_list_rules_prints_every_rule(capsys: pytest.CaptureFixture[str]) -> None:
    from harness.drift import RULES

    code, out, _ = run(capsys, "--list-rules")
    assert code == 0 and len(out.splitlines()) == len(RULES)
    assert out.splitlines()[0].split()[:3] == ["request-property-added", "INFO", "request"]


@pytest.mark.parametrize(("args", "message"), [
    (["fal-ai/sd-lora", "--against", NEWER], "unknown endpoint 'fal-ai/sd-lora'; did you mean 'fal-ai/sd-loras'?"),
    (["fal-ai/sd-loras", "--against", "missing.json"], "missing.json: no such file"),
    (["fal-ai/sd-loras", "--against", NEWER, "--ignore", str(DATA / "sd-loras-newer.json")],
     "sd-loras-newer.json: openapi: unknown key (allowed: format_version, ignore)"),
    (["fal-ai/sd-loras", "--against", NEWER, "--ignore", "missing-ignore.yaml"], "missing-ignore.yaml: cannot read"),
    (["fal-ai/sd-loras"], "give CONTRACT_OR_ENDPOINT and --against SOURCE"),
    (["--all"], "--all needs --against-dir DIR"),
    (["fal-ai/sd-loras", "--all", "--against-dir", "."], "--all compares every contract"),
    (["fal-ai/sd-loras", "--against", NEWER, "--against-dir", "."], "--against-dir goes with --all"),
    (["fal-ai/sd-loras", "--against", NEWER, "--format", "yaml"], "Invalid value for '--format'"),
    (["fal-ai/sd-loras", "--against", "git:no-such-rev:contracts/fal-ai/sd-loras.yaml"], "git:no-such-rev:"),
    (["fal-ai/sd-loras", "--against", NEWER, "--alert-url", "ftp://example.invalid/x"],
     "--alert-url must be an http(s) URL"),
])
def test_a_user_mistake_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], args: list[str],
                                               message: str) -> None:
    code, _, err = run(capsys, *args)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("fal-harness: error: ")
    assert message in err
