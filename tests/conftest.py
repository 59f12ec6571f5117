"""Fixtures for the project's own tests."""

from __future__ import annotations

import gc
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Some machines (CI images among them) set PYTHONDONTWRITEBYTECODE. The suite runs in two workers
# and starts many child interpreters (the CLI, the benchmark's emulator), each of which would then
# compile every module of the project and rewrite every test module again; the compiled files go
# to the usual __pycache__ folders, which git ignores.
sys.dont_write_bytecode = False

# No test verifies a public host's certificate: no test reaches the internet. Yet every HTTP
# client the suite builds (fal's clients make one per call) loads the whole CA bundle it is pointed
# at, tens of milliseconds each time. An empty certificate folder costs nothing to load and trusts
# no public host; child processes inherit it.
os.environ.pop("SSL_CERT_FILE", None)
os.environ["SSL_CERT_DIR"] = str(ROOT / "tests" / "data" / "no-public-ca")

# A shell starts a background job with SIGINT ignored, and every process it starts inherits that:
# the tests that stop a run with SIGINT, as Ctrl-C does, would find it ignored. The suite's own
# processes take SIGINT as Python does, so the runs they start do too.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

RepoPytest = Callable[..., pytest.RunResult]


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection built (modules, test items, the contracts they hold) lives for the whole run:
    move it out of the garbage collector's way, and collect the young objects less often (the
    suite makes many short-lived ones). The collector's passes cost about a tenth of the CPU."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


@pytest.fixture(autouse=True)
def _fresh_decodings() -> None:
    """Each test decodes the files it judges itself. The checks keep decodings for the process, by
    the bytes' digest; across tests that would let an earlier test's answer stand in (and under
    mutation testing, a decoder's mutant would never run: the unmutated answer is already kept)."""
    media = sys.modules.get("harness.checks._media")
    if media is not None:
        media._decoded.clear()


@pytest.fixture
def repo_pytest(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> RepoPytest:
    """Run pytest in this process as a user runs it from the repository root: its configuration,
    its folders, the plugin as installed. Cheaper than a child interpreter, which pays its start
    and every import again; a test that needs a process of its own (signals, xdist) uses one."""
    monkeypatch.chdir(ROOT)
    # the outer run may be an xdist worker; the inner one is a plain session
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_TESTRUNUID", raising=False)

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest_inprocess("-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT),
                                            "-p", "no:cacheprovider", *args)

    return run
