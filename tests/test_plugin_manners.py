"""The plugin in a project that merely has it installed: it changes no setting unless asked, claims
no package's name, says nothing, and imports nothing heavy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from harness import pytest_plugin
from harness.client import FileMode
from harness.client._targets import DEFAULT_LIVE_BUDGET
from harness.contracts import CI_PROFILE, THOROUGH_PROFILE


@pytest.fixture
def profile_kept() -> Iterator[None]:
    """In-process runs load hypothesis profiles into this process; put the session's back."""
    before = settings.get_current_profile_name()
    settings.load_profile("default")
    yield
    settings.load_profile(before)


def _profile_test(pytester: pytest.Pytester, expected: str) -> None:
    pytester.makepyfile(test_profile=f"""
        from hypothesis import settings

        def test_profile():
            assert settings.get_current_profile_name() == {expected!r}
    """)


@pytest.mark.usefixtures("profile_kept")
@pytest.mark.parametrize(("ini", "options", "expected"), [
    ("", [], "default"),
    (f"fal_hypothesis_profile = {CI_PROFILE}", [], CI_PROFILE),
    ("", ["--fal-hypothesis-profile", THOROUGH_PROFILE], THOROUGH_PROFILE),
    (f"fal_hypothesis_profile = {CI_PROFILE}", ["--hypothesis-profile", THOROUGH_PROFILE], THOROUGH_PROFILE),
], ids=["left-alone", "ini-opt-in", "option-opt-in", "hypothesis-option-wins"])
def test_the_hypothesis_profile_is_loaded_only_when_asked(pytester: pytest.Pytester, ini: str, options: list[str],
                                                          expected: str) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    _profile_test(pytester, expected)
    pytester.runpytest_inprocess(*options).assert_outcomes(passed=1)


@pytest.mark.usefixtures("profile_kept")
def test_a_user_conftest_that_loads_its_own_profile_keeps_it(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        from hypothesis import settings

        settings.register_profile("mine", max_examples=7)
        settings.load_profile("mine")
    """)
    pytester.makepyfile(test_mine="""
        from hypothesis import given, settings, strategies as st

        seen = []

        @given(st.integers())
        def test_drawn(n):
            seen.append(n)

        def test_the_profile_is_still_mine():
            assert settings.get_current_profile_name() == "mine"
            assert settings.default.max_examples == 7 and not settings.default.derandomize
            assert 0 < len(seen) <= 7
    """)
    pytester.runpytest_inprocess("-p", "no:randomly").assert_outcomes(passed=2)


def test_an_unknown_profile_asked_for_is_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_inprocess("--fal-hypothesis-profile", "nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*no hypothesis profile named 'nope'*"])


def test_no_fixture_is_named_like_the_official_package(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_named="""
        def test_asks_for_the_package_by_name(fal_client):
            pass
    """)
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'fal_client' not found*"])
    assert all(not name.replace("_", "").startswith("falclient") for name in pytest_plugin.FIXTURES)


def test_a_project_that_does_not_use_the_harness_hears_nothing_from_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    quiet = pytester.runpytest_inprocess()
    quiet.assert_outcomes(passed=1)
    assert "fal-harness:" not in quiet.stdout.str()  # (pytest itself lists installed plugins by name)
    pytester.runpytest_inprocess("-v").stdout.fnmatch_lines(["fal-harness: target emulator"])


def test_a_project_that_uses_the_harness_is_told_its_target(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_uses="""
        import pytest

        @pytest.mark.fal_sandbox(cassette="never-recorded")
        def test_marked():
            pass
    """)
    pytester.runpytest_inprocess("--co", "-q").stdout.fnmatch_lines(["fal-harness: target emulator"])


def test_the_plugins_spelled_out_constants_match_the_library() -> None:
    assert tuple(m.value for m in FileMode) == pytest_plugin.FILE_MODES
    assert pytest_plugin.DEFAULT_LIVE_BUDGET == DEFAULT_LIVE_BUDGET


#: modules the plugin must not bring into a session that does not use it
HEAVY = ("numpy", "scipy", "matplotlib", "hdrh", "PIL", "httpx", "hypothesis.core", "yaml", "jsonschema", "pydantic",
         "uvicorn", "starlette", "vcr", "fal_client", "harness.client", "harness.contracts", "harness.emulator",
         "harness.cassettes", "harness.bench")

_PROBE = textwrap.dedent("""
    import json, sys
    import pytest

    class Probe:
        def pytest_collection_finish(self, session):
            self.seen = sorted(sys.modules)

    probe = Probe()
    # Only pytest and this plugin: whatever heavy module is loaded, the plugin brought it.
    code = pytest.main(["--co", "-q", "-p", "no:cacheprovider", "-p", "harness.pytest_plugin"], plugins=[probe])
    print("PROBE" + json.dumps(probe.seen))
""")


def test_collecting_a_project_that_does_not_use_it_imports_nothing_heavy(tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    pass\n")
    done = subprocess.run([sys.executable, "-c", _PROBE], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          check=False, env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    line = next((x for x in done.stdout.splitlines() if x.startswith("PROBE")), None)
    assert line is not None, done.stdout + done.stderr
    imported = set(json.loads(line[len("PROBE"):]))
    assert "harness.pytest_plugin" in imported and "1 test collected" in done.stdout
    assert not {m for m in imported if m in HEAVY or m.split(".")[0] in HEAVY}, sorted(imported)


@pytest.fixture(scope="module")
def emulator_loaded() -> None:
    """The emulator's modules loaded before an in-process run, so its end keeps them (numpy's C core
    cannot be loaded twice in one process)."""
    import harness.emulator
    from harness.emulator import start_emulator

    with start_emulator({"time_scale": 0}):
        assert harness.emulator.Emulator


@pytest.mark.usefixtures("emulator_loaded")
@pytest.mark.parametrize(("ini", "expected"), [("", 0.01), ("fal_emulator_time_scale = 0", 0.0),
                                              ("fal_emulator_time_scale = 0.25", 0.25)],
                         ids=["default", "none", "ini"])
def test_the_fixtures_emulators_take_the_ini_time_scale(pytester: pytest.Pytester, ini: str, expected: float) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(test_scale=f"""
        def test_session(fal_emulator):
            assert fal_emulator.config.time_scale == {expected!r}

        def test_factory(fal_emulator_factory):
            assert fal_emulator_factory({{}}).config.time_scale == {expected!r}
            assert fal_emulator_factory({{"time_scale": 2}}).config.time_scale == 2
    """)
    pytester.runpytest_inprocess("-p", "no:randomly").assert_outcomes(passed=2)


@pytest.mark.usefixtures("emulator_loaded")
@pytest.mark.parametrize("value", ["fast", "-1", "inf"])
def test_a_time_scale_that_is_not_a_number_at_least_0_is_one_line(pytester: pytest.Pytester, value: str) -> None:
    pytester.makeini(f"[pytest]\nfal_emulator_time_scale = {value}\n")
    pytester.makepyfile(test_x="def test_x(fal_emulator):\n    pass\n")
    result = pytester.runpytest_inprocess()
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines([f"*fal_emulator_time_scale: '{value}' is not a number >= 0*"])
