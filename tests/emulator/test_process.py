"""Child emulators: started from one warm interpreter where the system can fork, from a fresh one
elsewhere, and either way given the caller's working folder and stopped when asked."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from harness.emulator import EmulatorProcess, _process

forking = pytest.mark.skipif(not _process._can_fork(), reason="children are forked only on Linux")


def _serves(child: EmulatorProcess) -> bool:
    answer = httpx.get(f"{child.queue_url}/fal-ai/flux-pro/requests/nope/status",
                       headers={"Authorization": f"Key {child.key}"}, timeout=30)
    return answer.status_code in (404, 422)


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


@forking
def test_two_children_at_once_come_from_one_warm_interpreter_and_each_serves() -> None:
    started: list[EmulatorProcess] = []
    threads = [threading.Thread(target=lambda: started.append(EmulatorProcess({}))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert len(started) == 2
        forker = _process._FORKER
        assert forker is not None and forker.process.poll() is None
        pids = {child._child.pid for child in started}
        assert len(pids) == 2 and forker.process.pid not in pids and os.getpid() not in pids
        assert started[0].queue_url != started[1].queue_url
        assert all(_serves(child) for child in started)
        third = EmulatorProcess({})
        third.stop()
        assert _process._FORKER is forker  # the same warm interpreter, not a new import
    finally:
        for child in started:
            child.stop()
    assert all(_gone(pid) for pid in pids if pid is not None)


@forking
def test_a_relative_config_path_is_read_from_the_callers_working_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "emulator.yaml").write_text("keys: [relative:key]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with EmulatorProcess(Path("emulator.yaml")) as child:
        assert child.key == "relative:key" and _serves(child)


@forking
def test_a_dead_warm_interpreter_is_replaced_on_the_next_start() -> None:
    with EmulatorProcess({}):
        pass
    forker = _process._FORKER
    assert forker is not None
    os.kill(forker.process.pid, signal.SIGKILL)
    forker.process.wait(timeout=30)
    with EmulatorProcess({}) as child:
        assert _serves(child)
        assert _process._FORKER is not forker


def test_without_fork_each_child_is_a_fresh_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_process, "_can_fork", lambda: False)
    with EmulatorProcess({}) as child:
        assert isinstance(child._child, _process._Popened) and _serves(child)
        process = child._child.process
    assert process.returncode == 0


def test_the_warm_up_leaves_no_thread_behind_to_trouble_a_fork() -> None:
    before = {t.ident for t in threading.enumerate()}
    _process._warm_up()
    assert {t.ident for t in threading.enumerate()} <= before
