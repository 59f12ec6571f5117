"""The ``fal_sandbox`` fixture and marker as a user's suite meets them: a failed test records
nothing, a misuse is one line, a missing cassette says how to record it."""

from __future__ import annotations

from pathlib import Path

import pytest

USER_TESTS = """
import fal_client
import pytest

IMAGE = "fal-ai/flux-pro"
SMALL = {"prompt": "a lighthouse", "image_size": {"width": 64, "height": 48}}


@pytest.mark.fal_sandbox(cassette=True)
def test_fails_after_its_calls():
    fal_client.run(IMAGE, SMALL)
    assert False, "the app broke"


@pytest.mark.fal_sandbox(cassette="named")
def test_marker_alone_records():
    assert fal_client.run(IMAGE, SMALL)["images"][0]["width"] == 64


@pytest.mark.vcr
def test_vcr_beside_the_sandbox(fal_sandbox):
    pass


@pytest.mark.fal_sandbox(cassete=True)
def test_misspelt_marker():
    pass


def test_mode_and_key(fal_sandbox):
    import os
    assert fal_sandbox.mode == "target" and os.environ["FAL_KEY"] == fal_sandbox.key
"""


def test_the_fixture_and_marker_in_a_users_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    recorded = pytester.runpytest_inprocess("--record-mode=once", "-p", "no:cacheprovider")
    recorded.assert_outcomes(passed=2, failed=1, errors=2)
    folder = Path(pytester.path) / "cassettes" / "test_user"
    assert sorted(p.name for p in folder.glob("*.yaml")) == ["named.yaml"]  # the failed test wrote nothing
    recorded.stdout.fnmatch_lines([
        "*drop @pytest.mark.vcr from this test*",
        "*@pytest.mark.fal_sandbox takes cassette= and emulator= only (got cassete)*",
    ])
    replayed = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--block-network", "-k", "marker_alone or fails")
    replayed.assert_outcomes(passed=1, errors=1)
    replayed.stdout.fnmatch_lines(["*no cassette for this test at *test_fails_after_its_calls.yaml; record it once "
                                   "with: pytest 'test_user.py::test_fails_after_its_calls' --record-mode=once*"])
    refused = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--record-mode=new_episodes", "-k", "marker_alone")
    refused.assert_outcomes(errors=1)
    refused.stdout.fnmatch_lines(["*record mode 'new_episodes' does not apply to an app cassette*"])
