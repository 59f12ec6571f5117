"""Ignore files set accepted findings aside; alerts post a Slack-compatible summary to a real local server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from drift_http import LocalServer

from harness import ConfigError, DataFileError
from harness.drift import (
    DriftReport,
    alert_payload,
    apply_ignores,
    compare,
    load_ignore_file,
    load_source,
    post_alert,
)

DATA = Path(__file__).parent.parent / "data" / "drift"


@pytest.fixture(scope="module")
def report() -> DriftReport:
    return compare(load_source("fal-ai/sd-loras", contracts_dir="contracts"),
                   load_source(str(DATA / "sd-loras-newer.json")))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "drift-ignore.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_ignore_file_sets_findings_aside_by_rule_and_path_glob(tmp_path: Path, report: DriftReport) -> None:
    entries = load_ignore_file(write(tmp_path, """\
format_version: 1
ignore:
  - rule: response-property-removed
    path: output.has_nsfw_concepts
    reason: we read the safety flags from our own checker
  - rule: "request-*"
    path: "input.tile_*"
    endpoint: fal-ai/sd-*
    reason: tiling is not used here
  - rule: response-property-added
    path: output.debug_latents
    endpoint: fal-ai/flux-pro
    reason: another endpoint's finding
"""))
    result = apply_ignores(report, entries)
    assert [i.finding.path for i in result.ignored] == ["input.tile_width", "input.tile_height",
                                                        "output.has_nsfw_concepts"]
    assert result.counts == {"ERR": 0, "WARN": 0, "INFO": 4}
    assert not result.fails("ERR") and result.fails("INFO")
    assert "output.debug_latents" in [f.path for f in result.findings]


def test_list_item_paths_match_literally(tmp_path: Path) -> None:
    entries = load_ignore_file(write(tmp_path, "ignore:\n  - {rule: description-changed, "
                                               "path: 'output.images[].*', reason: wording}\n"))
    assert entries[0].path == "output.images[].*"
    from harness.drift import Finding

    finding = Finding("description-changed", "INFO", "response", "output.images[].url", "a", "b", "changed")
    other = Finding("description-changed", "INFO", "response", "output.imagesX.url", "a", "b", "changed")
    assert entries[0].matches("fal-ai/x", finding) and not entries[0].matches("fal-ai/x", other)


@pytest.mark.parametrize(("text", "message"), [
    ("ignore: {rule: x}\n", r"drift-ignore\.yaml: ignore: expected a list"),
    ("ignore:\n  - {rule: request-enum-value-removd, path: input.x, reason: r}\n",
     r"ignore\[0\]\.rule: unknown rule 'request-enum-value-removd'"),
    ("ignore:\n  - {rule: description-changed, path: input.x}\n", r"ignore\[0\]\.reason: missing"),
    ("ignore:\n  - {rule: description-changed, path: input.x, reason: '  '}\n",
     r"ignore\[0\]\.reason: expected a non-empty string"),
    ("ignore:\n  - {rule: description-changed, path: input.x, reason: r, why: w}\n", r"ignore\[0\]\.why: unknown key"),
    ("format_version: 2\nignore: []\n", r"format_version: must be 1"),
    ("ignore: [\n", r"drift-ignore\.yaml: line \d+ column \d+: neither JSON nor YAML"),
    ("- rule: x\n", r"expected a mapping with 'format_version: 1' and an 'ignore' list"),
])
def test_a_bad_ignore_file_is_one_line_naming_the_place(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DataFileError, match=message) as caught:
        load_ignore_file(write(tmp_path, text))
    assert "\n" not in str(caught.value)


# -- alerts -------------------------------------------------------------------------------------------


def test_an_alert_posts_a_slack_compatible_summary(local_server: LocalServer, report: DriftReport) -> None:
    assert post_alert(f"{local_server.url}/hooks/T000/B000/secret", [report], fail_on="ERR") is True
    [(path, content_type, body)] = local_server.posted
    assert path == "/hooks/T000/B000/secret" and content_type == "application/json"
    payload = json.loads(body)
    assert payload["text"].startswith("Schema drift in fal-ai/sd-loras: Breaking: 1 change will break callers")
    assert [b["type"] for b in payload["blocks"]] == ["header", "section"]
    section = payload["blocks"][1]["text"]
    assert section["type"] == "mrkdwn"
    # Only what fails the run is listed, with Slack's own escaping of angle brackets.
    assert "• *ERR* `output.has_nsfw_concepts` removed (was list&lt;boolean&gt;, optional)" in section["text"]
    assert "input.scheduler" not in section["text"]


def test_no_alert_when_nothing_is_at_or_above_fail_on(local_server: LocalServer, report: DriftReport) -> None:
    quiet = apply_ignores(report, load_ignore_file(DATA / "sd-loras-accepted.yaml"))
    assert post_alert(f"{local_server.url}/hook", [quiet], fail_on="ERR") is False
    assert local_server.posted == []


def test_a_failed_alert_is_one_line_without_the_webhook_secret(local_server: LocalServer,
                                                               report: DriftReport) -> None:
    local_server.pages["/hooks/secret-token"] = (500, b"no")
    with pytest.raises(ConfigError, match=r"^alert to http://127\.0\.0\.1:\d+ failed: HTTP 500$") as caught:
        post_alert(f"{local_server.url}/hooks/secret-token", [report])
    assert "secret-token" not in str(caught.value)


def test_an_alert_for_several_endpoints_names_them(report: DriftReport) -> None:
    payload = alert_payload([report, report], fail_on="INFO")
    assert payload["text"] == "Schema drift at or above INFO in 2 endpoints: fal-ai/sd-loras, fal-ai/sd-loras"
    assert len(payload["blocks"]) == 3
