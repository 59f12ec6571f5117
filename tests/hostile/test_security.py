"""Nothing reaches outside the folders the user chose, and no key is shown: untrusted endpoint ids,
git revisions and output paths are checked; keys are redacted wherever a URL or a banner is printed."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import quote

import pytest
from hostile_helpers import REPO, Outcome

from harness._secrets import Secrets

KEY = "hostile-key-id:hostile-key-s3cr3t-0123456789"
CLI = Callable[[Sequence[object]], Outcome]


def _one_line_error(done: Outcome, code: int = 2) -> str:
    assert done.code == code, (done.code, done.out, done.err)
    assert len(done.error_lines) == 1 and done.error_lines[0].startswith("fal-harness: error: "), done.err
    assert "Traceback" not in done.err + done.out
    return done.error_lines[0]


@pytest.mark.parametrize("endpoint", ["../../TRAVOUT", "fal-ai/../../x", "fal-ai/./x", "/abs/path", "fal-ai/.x"])
def test_a_contract_endpoint_that_would_leave_the_folder_is_refused(endpoint: str, tmp_path: Path, cli: CLI) -> None:
    text = (REPO / "contracts/fal-ai/flux-pro.yaml").read_text().replace("endpoint: fal-ai/flux-pro",
                                                                         f"endpoint: '{endpoint}'")
    folder = tmp_path / "contracts"
    (folder / "fal-ai").mkdir(parents=True)
    (folder / "fal-ai/flux-pro.yaml").write_text(text)
    line = _one_line_error(cli(["contracts", "validate", folder / "fal-ai/flux-pro.yaml"]), 1)  # a finding
    assert "endpoint" in line
    out = tmp_path / "deep/er/out"
    _one_line_error(cli(["record", "--contracts-dir", folder, "--out", out]))
    assert not any(tmp_path.rglob("*TRAVOUT*")) and not (tmp_path / "deep").exists()


def test_an_openapi_path_that_would_leave_the_folder_is_refused(tmp_path: Path, cli: CLI) -> None:
    document = (REPO / "tests/data/openapi").glob("*.json")
    source = next(iter(sorted(document)))
    text = source.read_text()
    import json

    data = json.loads(text)
    data["paths"] = {"/../../TRAVOUT": next(v for v in data["paths"].values() if "post" in v),
                     **{k: v for k, v in data["paths"].items() if "post" not in v}}
    data.get("info", {}).pop("x-fal-metadata", None)
    (tmp_path / "doc.json").write_text(json.dumps(data))
    _one_line_error(cli(["contracts", "import-openapi", tmp_path / "doc.json", "-o", tmp_path / "out.yaml"]))
    assert not (tmp_path / "out.yaml").exists()


def test_a_cassette_header_cannot_send_a_mutated_copy_outside_out(cassettes_copy: Path, tmp_path: Path,
                                                                  cli: CLI) -> None:
    path = cassettes_copy / "fal-ai/flux-pro/defaults.yaml"
    path.write_text(path.read_text().replace("endpoint: fal-ai/flux-pro", "endpoint: ../../../TRAVOUT"))
    _one_line_error(cli(["cassettes", "mutate", path, "--kind", "body-truncated", "--out", tmp_path / "m"]))
    assert not any(tmp_path.parent.rglob("TRAVOUT*"))


@pytest.mark.parametrize("revision", ["--output=GITPWN", "-oGITPWN", "--output"])
def test_a_git_revision_is_never_read_as_an_option(revision: str, tmp_path: Path, cli: CLI,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    target = tmp_path / "GITPWN"
    for path in ("x", "contracts/fal-ai/flux-pro.yaml"):
        spec = f"git:{revision.replace('GITPWN', str(target))}:{path}"
        _one_line_error(cli(["drift", "fal-ai/flux-pro", "--against", spec]))
    assert not list(tmp_path.glob("GITPWN*")) and not list(REPO.glob("GITPWN*"))


def test_output_writes_through_a_symlink_and_keeps_it(tmp_path: Path, cli: CLI) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    done = cli(["contracts", "export-openapi", "fal-ai/flux-pro", "-o", link])
    assert done.code == 0, done.err
    assert link.is_symlink() and real.read_text().startswith("{")


def test_output_never_replaces_a_device_or_a_fifo(tmp_path: Path, cli: CLI) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    device = tmp_path / "null"
    device.symlink_to("/dev/null")
    for path in (fifo, device):
        line = _one_line_error(cli(["contracts", "export-openapi", "fal-ai/flux-pro", "-o", path]))
        assert "only regular files" in line
    assert stat.S_ISFIFO(fifo.stat().st_mode) and device.is_symlink()
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    line = _one_line_error(cli(["drift", "fal-ai/flux-pro", "--against", "fal-ai/flux-pro", "-o", tmp_path]))
    assert "folder" in line


def test_a_failed_fetch_never_shows_the_key_in_its_url(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAL_KEY", KEY)
    secret = KEY.split(":")[1]
    done = cli(["contracts", "import-openapi", f"http://127.0.0.1:9/openapi.json?token={quote(KEY)}"])
    line = _one_line_error(done)
    assert not Secrets([KEY]).find(done.out + done.err) and secret not in line


def test_the_run_plan_never_shows_a_password_in_the_target_url(cli: CLI, tmp_path: Path,
                                                               fal_emulator: object) -> None:
    url = str(fal_emulator.queue_url).replace("http://", f"http://user:{quote(KEY, safe='')}@")  # type: ignore[attr-defined]
    done = cli(["run", "--target", url, "--endpoint", "fal-ai/flux-pro", "--bench-requests", "0",
                "--out", tmp_path / "run"])
    assert not Secrets([KEY]).find(done.out + done.err), done.out + done.err
    written = b"".join(p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file())
    assert not Secrets([KEY]).find(written)


def test_the_emulator_banner_never_prints_a_configured_key(tmp_path: Path) -> None:
    config = tmp_path / "emulator.yaml"
    config.write_text(f"keys: ['{KEY}']\n")
    python = Path(os.sys.executable)  # type: ignore[attr-defined]
    process = subprocess.Popen([str(python.with_name("fal-harness")), "emulator", "--port", "0", "--config",
                                str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "time scale" in line:
                break
    finally:
        process.terminate()
        process.wait(timeout=30)
    banner = "".join(lines)
    assert "queue API" in banner and not Secrets([KEY]).find(banner), banner


def test_a_double_url_encoded_key_is_redacted_too() -> None:
    secrets = Secrets([KEY])
    twice = quote(quote(KEY, safe=""), safe="")
    assert secrets.find(f"prompt={twice}") and KEY.split(":")[1] not in secrets.redact(f"a {twice} b")
    assert "%25" in twice and "<redacted>" in secrets.redact(f"a {twice} b")
