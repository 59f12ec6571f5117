"""One test's sandbox: the official clients pointed at a target (an emulator, normally), at a
target while its traffic is recorded, or at a recording played back with nothing sent.

Recording and replay (vcrpy) and the emulator load only for a sandbox that uses them: the pytest
plugin opens sandboxes, and must stay cheap for a project that never does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness._errors import BudgetExceeded, ConfigError
from harness._secrets import register_secret
from harness.client import Target, live_key
from harness.sandbox._python import patch_fal_client

if TYPE_CHECKING:
    from harness.cassettes import AppRecording
    from harness.emulator import Emulator

__all__ = ["REPLAY_KEY", "SANDBOX_MODES", "Sandbox", "open_sandbox", "sandbox_mode"]

#: ``FAL_KEY`` while a recording plays back: the clients need some key, and the real one is never needed
REPLAY_KEY = "replay-key-id:replay-key-secret"
#: ``target``: the clients talk to the target; ``record``: and their traffic is recorded; ``replay``:
#: a recording answers them and nothing is sent
SANDBOX_MODES = ("target", "record", "replay")


@dataclass
class Sandbox:
    """What the fal clients in the process are pointed at for the length of the sandbox."""

    mode: str
    """One of :data:`SANDBOX_MODES`."""
    target: Target
    """Where the clients are pointed (on replay, the recording's addresses, which nothing serves)."""
    cassette: Path | None = None
    recording: AppRecording | None = None
    """The cassette being recorded or played back, and what happened to it."""

    @property
    def emulator(self) -> Emulator | None:
        """The emulator the clients talk to (``None`` on replay or another target), for its ground
        truth (``timelines()``) and addresses."""
        return self.target.emulator

    @property
    def key(self) -> str | None:
        """The key in ``FAL_KEY`` inside the sandbox."""
        return self.target.key

    def child_env(self) -> dict[str, str]:
        """Environment variables that point a child process's fal clients at the same emulator:
        ``FAL_KEY``, and for Node the preload that redirects ``@fal-ai/client`` (see
        ``harness.emulator.node_redirect_env``). Merge them into the child's environment.

        Only for an emulator: a child process's traffic is not recorded or replayed (the recording
        hooks live in this process), so under a cassette this raises :class:`~harness.ConfigError`."""
        if self.mode != "target" or self.emulator is None:
            raise ConfigError(f"a child process cannot share this sandbox ({self.mode} of {self.cassette}): "
                              "recordings are made and played in this process only; use the emulator")
        from harness.emulator import node_redirect_env

        return node_redirect_env(self.emulator)


def sandbox_mode(cassette: str | Path | None, record_mode: str = "none") -> str:
    """The mode a sandbox with this cassette and pytest-recording's ``record_mode`` runs in."""
    from harness.cassettes import APP_RECORD_MODES

    if cassette is None:
        return "target"
    if record_mode not in ("none", *APP_RECORD_MODES):
        raise ConfigError(f"record mode {record_mode!r} does not apply to an app cassette (use none to replay, "
                          f"once to record what is missing, rewrite to record again)")
    if record_mode == "none" or (record_mode == "once" and Path(cassette).is_file()):
        return "replay"
    return "record"


@contextlib.contextmanager
def open_sandbox(target: Target | None = None, *, cassette: str | Path | None = None, record_mode: str = "none",
                 name: str = "sandbox") -> Iterator[Sandbox]:
    """Point every fal client in this process at ``target``, or record or replay ``cassette``.

    Without a cassette the clients talk to ``target`` (``FAL_KEY`` is its key). With one, the mode
    follows ``record_mode`` as pytest-recording names it: ``none`` replays (a missing cassette is
    a :class:`~harness.DataFileError`), ``once`` records against ``target`` when the cassette is
    missing and replays it otherwise, ``rewrite`` records again. A recording is written only when
    the block ends without an exception, scrubbed and checked for secrets; the caller's own
    ``FAL_KEY`` is treated as a secret throughout, whichever client holds it."""
    register_secret(live_key())
    mode = sandbox_mode(cassette, record_mode)
    if mode == "replay":
        from harness.cassettes import replay_app

        assert cassette is not None
        path = Path(cassette)
        with replay_app(path) as recording:
            urls = recording.base_urls
            where = Target(name="replay", queue_url=urls["queue"], run_url=urls["run"], rest_url=urls["rest"],
                           cdn_url=urls["cdn"], key=REPLAY_KEY)
            with patch_fal_client(where):
                yield Sandbox(mode, where, path, recording)
        return
    if target is None:
        raise ConfigError(f"{name}: a sandbox that {'records' if mode == 'record' else 'talks to fal'} needs a "
                          "target (an emulator, normally)")
    if mode == "target":
        with patch_fal_client(target):
            yield Sandbox(mode, target)
        return
    from harness.cassettes import record_app

    assert cassette is not None
    path = Path(cassette)
    with record_app(path, target, test=name) as recording, patch_fal_client(target):
        yield Sandbox(mode, target, path, recording)
        if recording.refused:
            # The app may have caught the refusal; the recording lacks what it was refused, so
            # nothing is written (leaving the block by an exception).
            budget = target.budget
            allowed = budget.max_requests if budget is not None and budget.max_requests is not None else 0
            raise BudgetExceeded(allowed, allowed + len(recording.refused))
