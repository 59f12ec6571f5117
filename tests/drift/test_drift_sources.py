"""Drift sources: contract files, endpoint ids, OpenAPI files and URLs, git revisions, and their errors."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from drift_http import LocalServer

from harness import ConfigError, DataFileError
from harness.contracts import export_openapi, load_contracts
from harness.drift import compare, load_source, sources_in_dir

CONTRACTS = load_contracts("contracts")
SD_LORAS = Path("contracts/fal-ai/sd-loras.yaml")
NEWER = Path(__file__).parent.parent / "data" / "drift" / "sd-loras-newer.json"


def test_an_endpoint_id_is_the_contract_in_the_contracts_folder() -> None:
    source = load_source("fal-ai/sd-loras", contracts_dir="contracts")
    assert source.kind == "endpoint" and source.contract == CONTRACTS["fal-ai/sd-loras"]
    assert source.file is not None and source.file.endswith("sd-loras.yaml")


def test_a_contract_file_and_an_openapi_file_are_told_apart_by_content(tmp_path: Path) -> None:
    assert load_source(str(SD_LORAS)).kind == "contract"
    yaml_document = tmp_path / "doc.yaml"  # an OpenAPI document written as YAML
    yaml_document.write_text(json.dumps(export_openapi(CONTRACTS["fal-ai/sd-loras"]), indent=1), encoding="utf-8")
    assert load_source(str(yaml_document)).kind == "openapi"


def test_an_openapi_url_is_fetched_over_http(local_server: LocalServer) -> None:
    local_server.pages["/openapi.json"] = (200, NEWER.read_bytes())
    url = f"{local_server.url}/openapi.json"
    source = load_source(url)
    assert source.kind == "openapi" and source.spec == url and source.file is None
    report = compare(load_source(str(SD_LORAS)), source)
    assert [f.rule for f in report.findings if f.level == "ERR"] == ["response-property-removed"]


def test_an_unreachable_url_is_one_line(local_server: LocalServer) -> None:
    with pytest.raises(DataFileError, match=r"/missing.json: cannot fetch: HTTP 404$"):
        load_source(f"{local_server.url}/missing.json")


def test_a_changed_endpoint_id_in_a_document_is_reported_not_hidden(tmp_path: Path) -> None:
    document = export_openapi(CONTRACTS["fal-ai/sd-loras"])
    text = json.dumps(document).replace("fal-ai/sd-loras", "fal-ai/lora")
    (tmp_path / "lora.json").write_text(text, encoding="utf-8")
    new = load_source(str(tmp_path / "lora.json"), endpoint="fal-ai/sd-loras")
    assert [(f.rule, f.old, f.new) for f in compare(load_source(str(SD_LORAS)), new).findings] == [
        ("endpoint-id-changed", "fal-ai/sd-loras", "fal-ai/lora")]


@pytest.mark.parametrize(("spec", "message"), [
    ("missing.yaml", r"^missing\.yaml: no such file$"),
    ("./missing", r"^\./missing: no such file$"),
    ("fal-ai/sd-lora", r"unknown endpoint 'fal-ai/sd-lora'; did you mean 'fal-ai/sd-loras'\?"),
    ("git:HEAD", r"expected git:REVISION:PATH"),
])
def test_a_bad_source_is_one_clear_line(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_source(spec, contracts_dir="contracts")
    assert "\n" not in str(caught.value)


def test_a_file_that_is_no_schema_says_so(tmp_path: Path) -> None:
    path = tmp_path / "notes.yaml"
    path.write_text("just: notes\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="neither a contract, an OpenAPI document nor recorded traffic"):
        load_source(str(path))


# -- git ---------------------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=drift test", "-c", "user.email=drift@example.invalid",
                    "-c", "commit.gpgsign=false", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository holding the sd-loras contract, committed once and then edited."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    (tmp_path / "contracts").mkdir()
    contract = tmp_path / "contracts" / "sd-loras.yaml"
    shutil.copy(SD_LORAS, contract)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "contract")
    text = contract.read_text(encoding="utf-8").replace("enum: [DPM++ 2M, ", "enum: [")
    contract.write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_contract_at_a_git_revision_is_compared_with_the_working_copy(repo: Path) -> None:
    old = load_source("git:HEAD:contracts/sd-loras.yaml")
    assert old.kind == "git" and old.contract == CONTRACTS["fal-ai/sd-loras"]
    report = compare(old, load_source("contracts/sd-loras.yaml"))
    assert [(f.rule, f.level, f.path, f.message) for f in report.findings] == [
        ("request-enum-value-removed", "ERR", "input.scheduler", 'no longer accepts "DPM++ 2M"')]


@pytest.mark.parametrize(("spec", "message"), [
    ("git:no-such-rev:contracts/sd-loras.yaml", r"^git:no-such-rev:contracts/sd-loras\.yaml: .*no-such-rev"),
    ("git:HEAD:contracts/missing.yaml", r"^git:HEAD:contracts/missing\.yaml: .*missing\.yaml"),
])
def test_a_bad_git_revision_or_path_is_one_line(repo: Path, spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_source(spec)
    assert "\n" not in str(caught.value) and "fatal" not in str(caught.value)


# -- folders for --all ---------------------------------------------------------------------------------


def test_a_folder_of_documents_is_keyed_by_endpoint(tmp_path: Path) -> None:
    shutil.copy(NEWER, tmp_path / "sd.json")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "flux.json").write_text(json.dumps(export_openapi(CONTRACTS["fal-ai/flux-pro"])),
                                                   encoding="utf-8")
    found = sources_in_dir(tmp_path)
    assert sorted(found) == ["fal-ai/flux-pro", "fal-ai/sd-loras"]
    assert found["fal-ai/sd-loras"].spec.endswith("sd.json")


def test_two_documents_of_one_endpoint_in_a_folder_is_a_mistake(tmp_path: Path) -> None:
    shutil.copy(NEWER, tmp_path / "a.json")
    shutil.copy(NEWER, tmp_path / "b.json")
    with pytest.raises(DataFileError, match=r"b\.json: fal-ai/sd-loras is also described by .*a\.json"):
        sources_in_dir(tmp_path)
