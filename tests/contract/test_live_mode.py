"""The live code path (key from FAL_KEY, a request budget) run against an emulator that requires a
key: the budget holds and the key appears in no output."""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import BudgetExceeded, ConfigError
from harness._session import open_target
from harness.client import QueueClient
from harness.emulator import Emulator

KEY = "live-test-key-6f1d:9c2e55aa17b04d7e"
ROOT = Path(__file__).resolve().parents[2]


def _forms(secret: str) -> list[str]:
    """The key as it could leak: plain, URL-encoded, and base64 of it and of its header value."""
    return [secret, urllib.parse.quote(secret, safe=""), base64.b64encode(secret.encode()).decode(),
            base64.b64encode(f"Key {secret}".encode()).decode()]


@pytest.fixture
def keyed_emulator(fal_emulator_factory: Callable[..., Emulator]) -> Emulator:
    return fal_emulator_factory({"keys": [KEY]})


def test_live_target_refuses_to_start_without_a_key(monkeypatch: pytest.MonkeyPatch, keyed_emulator: Emulator) -> None:
    for name in ("FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="FAL_KEY"), open_target("live", live_base_url=keyed_emulator.queue_url):
        pass


def test_budget_cap_holds_and_nothing_is_sent_past_it(monkeypatch: pytest.MonkeyPatch,
                                                      keyed_emulator: Emulator) -> None:
    monkeypatch.setenv("FAL_KEY", KEY)
    with open_target("live", max_requests=2, live_base_url=keyed_emulator.queue_url) as target:
        assert target.live and target.budget is not None
        with QueueClient(target) as client:
            for _ in range(2):
                assert client.lifecycle("fal-ai/flux-pro", {"prompt": "x", "image_size": "square"}).ok
            with pytest.raises(BudgetExceeded):
                client.lifecycle("fal-ai/flux-pro", {"prompt": "one too many"})
    assert len(keyed_emulator.timelines()) == 2


def test_a_wrong_key_is_a_401_vendor_error(monkeypatch: pytest.MonkeyPatch, keyed_emulator: Emulator) -> None:
    monkeypatch.setenv("FAL_KEY", "not-the-key")
    with open_target("live", max_requests=1, live_base_url=keyed_emulator.queue_url) as target, \
            QueueClient(target) as client:
        obs = client.lifecycle("fal-ai/flux-pro", {"prompt": "x"})
    assert obs.error is not None
    assert (obs.error.kind, obs.error.status) == ("vendor", 401)


def _pytest_live(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, emulator: Emulator,
                 budget: int, tmp_path: Path) -> pytest.RunResult:
    """The contract suite run in this process as a user runs it on live fal (the emulator stands in)."""
    monkeypatch.setenv("FAL_KEY", KEY)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    return pytester.runpytest_inprocess(
        str(ROOT / "tests/contract/test_contract_suite.py"), "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT),
        "-p", "no:cacheprovider", "-q", "-rA", "--fal-target=live", f"--fal-live-base-url={emulator.queue_url}",
        f"--fal-max-requests={budget}", "--fal-endpoint=fal-ai/flux-pro", f"--fal-contracts={ROOT / 'contracts'}",
        f"--junitxml={tmp_path / 'junit.xml'}")


def test_pytest_live_run_states_and_keeps_its_budget_and_never_prints_the_key(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, keyed_emulator: Emulator, tmp_path: Path
) -> None:
    # flux-pro has four scenarios: a budget of three is refused before anything is sent.
    refused = _pytest_live(pytester, monkeypatch, keyed_emulator, 3, tmp_path)
    assert refused.ret == 4, refused.outlines + refused.errlines
    assert "live run plans 4 requests, the budget is 3" in refused.stderr.str()
    assert keyed_emulator.timelines() == []

    ran = _pytest_live(pytester, monkeypatch, keyed_emulator, 4, tmp_path)
    out = ran.stdout.str()
    assert ran.ret == 0, out[-3000:]
    assert "target live, 4 requests planned, budget 4" in out
    assert "4 passed" in out and "skipped" in out  # generated-input tests stay off live
    assert len(keyed_emulator.timelines()) == 4
    written = out + ran.stderr.str() + (tmp_path / "junit.xml").read_text()
    for form in _forms(KEY):
        assert form not in written


def test_live_run_under_xdist_is_refused_in_one_line(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                    keyed_emulator: Emulator) -> None:
    monkeypatch.setenv("FAL_KEY", KEY)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    result = pytester.runpytest_inprocess(
        str(ROOT / "tests/contract/test_contract_suite.py"), "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT),
        "-p", "no:cacheprovider", "-n", "2", "--fal-target=live", f"--fal-live-base-url={keyed_emulator.queue_url}")
    assert result.ret == 4
    assert "drop -n/--numprocesses" in result.stderr.str()
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert keyed_emulator.timelines() == []


def test_a_zero_budget_is_zero_everywhere(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                         keyed_emulator: Emulator, tmp_path: Path) -> None:
    refused = _pytest_live(pytester, monkeypatch, keyed_emulator, 0, tmp_path)
    assert refused.ret == 4
    assert "live run plans 4 requests, the budget is 0" in refused.stderr.str()
