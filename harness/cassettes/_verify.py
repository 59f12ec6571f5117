"""Verification: replay each cassette through the client and judge it by today's contract.

A cassette passes when exactly the checks its variant exists to fail fail, and nothing else does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness._errors import CassetteMiss, ConfigError
from harness._suite import ScenarioCase, output_judged
from harness.cassettes._format import read_cassette
from harness.cassettes._model import Cassette, Recorded
from harness.cassettes._replay import cassette_files, replay_scenario, unrecognised_files
from harness.checks import CheckResult
from harness.contracts import Contract, load_contracts

__all__ = ["Verdict", "verify_cassette", "verify_cassettes"]


@dataclass(frozen=True)
class Verdict:
    """One cassette verified offline: its check results, what failed unexpectedly, what passed
    unexpectedly, and why it could not be read when it could not."""

    name: str
    cassette: Cassette | None
    """``None`` for a file that could not be read as a cassette (``problem`` says why)."""
    results: tuple[CheckResult, ...] = ()
    failed: tuple[str, ...] = ()
    """Error-severity checks that failed and were not expected to."""
    passed_unexpectedly: tuple[str, ...] = ()
    """Checks the cassette's variant expects to fail that did not."""
    warnings: tuple[str, ...] = ()
    problem: str | None = None
    """Why the cassette could not be judged (a replay miss, a scenario the contract no longer has)."""

    @property
    def ok(self) -> bool:
        return self.problem is None and not self.failed and not self.passed_unexpectedly

    @property
    def counts(self) -> dict[str, int]:
        out = {"passed": 0, "failed": 0, "skipped": 0}
        for r in self.results:
            out[r.outcome] += 1
        return out


def verify_cassette(cassette: Cassette | str | Path, contracts: Mapping[str, Contract], *,
                    runner: asyncio.Runner | None = None) -> Verdict:
    """Replay one cassette as the contract suite would and run every check on what came back
    (on ``runner``'s event loop when given, as :func:`verify_cassettes` does for all of a run)."""
    loaded = cassette if isinstance(cassette, Recorded) else read_cassette(cassette)
    header = loaded.header
    contract = contracts.get(header.endpoint)
    if contract is None:
        return Verdict(loaded.name, loaded, problem=f"no contract for {header.endpoint}")
    try:
        scenario = contract.scenario(header.scenario)
    except ConfigError as exc:
        return Verdict(loaded.name, loaded, problem=f"{exc}; record the cassette again or delete it")
    try:
        run = replay_scenario(loaded, ScenarioCase(contract, scenario), runner=runner)
    except CassetteMiss as exc:
        return Verdict(loaded.name, loaded, problem=str(exc))
    failed = {r.check for r in run.results if r.failed and r.severity == "error"}
    expected = set(header.expect.fails)
    problem = None
    meant_to_succeed = header.expect.status == 200 and not expected and not header.variant.cancel
    if meant_to_succeed and not failed and not output_judged(run):
        problem = "no output check judged the recorded output (declare what it promises under semantics:)"
    return Verdict(
        loaded.name, loaded, tuple(run.results), tuple(sorted(failed - expected)), tuple(sorted(expected - failed)),
        tuple(sorted(r.check for r in run.warnings)), problem,
    )


def verify_cassettes(paths: Iterable[str | Path], contracts_dir: str | Path | None = None) -> list[Verdict]:
    """Every cassette under ``paths``; all are read (and any unreadable one reported) before replaying."""
    paths = list(paths)
    files = cassette_files(paths)
    strays = unrecognised_files(paths)
    if not files and not strays:
        raise ConfigError("no cassettes found (record some with 'fal-harness record')")
    cassettes = [read_cassette(p) for p in files]
    contracts = load_contracts(contracts_dir)
    with asyncio.Runner() as runner:
        verdicts = [verify_cassette(c, contracts, runner=runner) for c in cassettes]
    verdicts += [Verdict(str(p), None, problem="not a fal-harness cassette (no 'format: fal-harness/cassette@1' "
                         "line near its top); move it out of the cassette folder or record it again")
                 for p in strays]
    return verdicts
