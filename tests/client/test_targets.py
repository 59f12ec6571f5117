"""Targets by name or URL: an emulator at a URL is recognised, fal's hosts are the live default."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from harness import DEFAULT_LIVE_BUDGET, ConfigError, TargetSpec
from harness.client import LIVE_URLS, QueueClient, live_target, url_target
from harness.emulator import Emulator


def test_an_emulator_at_a_url_gives_its_run_address_and_default_key(
    monkeypatch: pytest.MonkeyPatch, fal_emulator: Emulator
) -> None:
    monkeypatch.delenv("FAL_KEY", raising=False)
    target = url_target(fal_emulator.queue_url)
    assert (target.run_url, target.key) == (fal_emulator.run_url, fal_emulator.key)
    with QueueClient(target) as client:
        assert client.lifecycle("fal-ai/flux-pro", {"prompt": "x", "image_size": "square"}).ok
        assert client.sync_lifecycle("fal-ai/flux-pro", {"prompt": "x", "image_size": "square"}).ok


def test_an_emulator_with_its_own_keys_does_not_reveal_them(
    monkeypatch: pytest.MonkeyPatch, fal_emulator_factory: Callable[..., Emulator]
) -> None:
    monkeypatch.delenv("FAL_KEY", raising=False)
    emulator = fal_emulator_factory({"keys": ["private-id:private-secret"]})
    assert url_target(emulator.queue_url).key is None


def test_live_target_uses_fals_hosts_and_a_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    target = live_target(env={"FAL_KEY_ID": "id", "FAL_KEY_SECRET": "secret"}, max_requests=3)
    assert (target.queue_url, target.run_url) == (LIVE_URLS["queue"], LIVE_URLS["run"])
    assert target.key == "id:secret"
    assert target.budget is not None and target.budget.max_requests == 3
    assert "secret" not in repr(target)


@pytest.mark.parametrize("spec", ["stagin", "ftp://x", "http://", "http://[::1"])
def test_unusable_target_specs_are_one_line_config_errors(spec: str) -> None:
    with pytest.raises(ConfigError) as caught:
        TargetSpec.parse(spec)
    message = str(caught.value)
    assert "\n" not in message and ("unknown target" in message or "not a usable target URL" in message)


def test_a_target_not_taken_here_is_named_with_those_that_are() -> None:
    with pytest.raises(ConfigError, match=r"unknown target 'replay' \(expected emulator, live or a URL\)"):
        TargetSpec.parse("replay", allow=("emulator", "live", "url"))


def test_only_live_fal_has_a_budget_unless_one_is_given() -> None:
    assert TargetSpec.parse("live").budget == DEFAULT_LIVE_BUDGET
    assert TargetSpec.parse("live", max_requests=3).budget == 3
    assert TargetSpec.parse("emulator").budget is None
    assert TargetSpec.parse("http://127.0.0.1:9", max_requests=0).budget == 0


def test_a_plan_is_held_to_the_budget_in_one_line_that_names_both() -> None:
    live = TargetSpec.parse("live", max_requests=4)
    live.check_plan(4, hint="h")
    with pytest.raises(ConfigError, match=r"^the run plans 5 requests, the budget is 4 \(fewer, please\)$"):
        live.check_plan(5, hint="fewer, please")
    TargetSpec.parse("emulator").check_plan(10**6, hint="h")  # no budget, no cap
    TargetSpec.parse("replay", max_requests=0).check_plan(3, hint="h")  # a replay sends nothing


def test_only_this_machines_addresses_are_local() -> None:
    assert TargetSpec.parse("emulator").is_local and TargetSpec.parse("replay").is_local
    assert TargetSpec.parse("http://127.0.0.2:8470").is_local and TargetSpec.parse("http://[::1]:1").is_local
    assert not TargetSpec.parse("https://queue.example").is_local
    assert not TargetSpec.parse("live").is_local
    assert TargetSpec.parse("live", live_base_url="http://localhost:9").is_local


def test_loopback_traffic_ignores_proxy_settings(monkeypatch: pytest.MonkeyPatch, fal_emulator: Emulator) -> None:
    # A proxy that does not exist: any request sent through it would fail.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://192.0.2.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with QueueClient(url_target(fal_emulator.queue_url)) as client:
        assert client.lifecycle("fal-ai/flux-pro", {"prompt": "x", "image_size": "square"}).ok


def test_a_client_that_cannot_be_built_leaves_no_thread_behind() -> None:
    import threading

    before = {t.name for t in threading.enumerate()}
    target = url_target("http://127.0.0.1:9")
    with pytest.raises(TypeError):
        QueueClient(target, max_conections=5)
    assert {t.name for t in threading.enumerate()} - before == set()


def test_clients_share_one_tls_context_per_ca_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from harness.client import ssl_context

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    assert ssl_context() is ssl_context()
    import certifi

    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    assert ssl_context() is not ssl_context(trust_env=False)  # the user's CA file is read, once
    assert ssl_context() is ssl_context()
