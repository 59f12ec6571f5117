"""How to send a failed scenario's request again on the target it ran on: the emulator at its own
address (started as the run had it), the recording it was replayed from, fal itself, or the URL.
The key always stays in ``$FAL_KEY``; the command never spends a request the run did not.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from harness._suite import ScenarioRun
from harness.checks import reproduction

__all__ = ["Reproducer"]

#: fal's queue, where a live run's requests go unless the run was pointed elsewhere
FAL_QUEUE = "https://queue.fal.run"


def _port(url: str) -> str | None:
    tail = url.rstrip("/").rsplit(":", 1)
    return tail[1] if len(tail) == 2 and tail[1].isdigit() else None


@dataclass(frozen=True)
class Reproducer:
    """What a run's target was, enough to send one of its requests again."""

    target: str
    """``emulator``, ``replay``, ``live`` or a base URL."""
    queue_url: str | None = None
    """Where the queue requests went: the emulator's address in this run, or a live run's base URL."""
    emulator_config: Path | None = None
    """The emulator config file the run used (``None``: the run's default, scaled by ``time_scale``)."""
    time_scale: float | None = None
    cassettes: Path | None = None
    """The folder a replay run played its cassettes from."""
    contracts_dir: Path | None = None

    def command(self, run: ScenarioRun) -> str:
        """A command (a few lines of shell) that sends the scenario's request again, or replays it."""
        obs = run.observation
        if self.target == "replay":
            return self._replay(run)
        if self.target == "emulator":
            url = self.queue_url or "http://127.0.0.1:8470"
            # the queue API where the run had it; the sync-run API anywhere free (the curl needs only the queue)
            start = ["fal-harness", "emulator", "--port", _port(url) or "8470", "--run-port", "0"]
            if self.emulator_config is not None:
                start += ["--config", str(self.emulator_config)]
            elif self.time_scale is not None:
                start += ["--time-scale", f"{self.time_scale:g}"]
            env = f"FAL_HARNESS_CONTRACTS={shlex.quote(str(self.contracts_dir))} " if self.contracts_dir else ""
            return ("# the emulator as this run had it, in another terminal (it accepts the key in $FAL_KEY):\n"
                    f"{env}{shlex.join(start)}\n{reproduction(obs, url)}")
        if self.target == "live":
            return reproduction(obs, self.queue_url or FAL_QUEUE)
        return reproduction(obs, self.target)

    def _replay(self, run: ScenarioRun) -> str:
        from harness.cassettes import scenario_cassette  # vcrpy: only a replayed run needs it

        root = self.cassettes or Path("cassettes")
        case = run.case
        cassette = scenario_cassette(root, case)
        extra = ["--contracts-dir", str(self.contracts_dir)] if self.contracts_dir else []
        if not cassette.is_file():
            return shlex.join(["fal-harness", "record", "--endpoint", case.contract.endpoint, "--scenario",
                               case.scenario.name, "--out", str(root)])
        return (f"# replays the recording {cassette} and runs every check on it\n"
                + shlex.join(["fal-harness", "cassettes", "verify", str(cassette), *extra]))
