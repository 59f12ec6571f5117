"""Recording: drive each planned scenario variant through the client against a target under vcrpy.

One client per cassette, so no token or file host is shared; one emulator per fault a variant needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from harness._data import read_bytes
from harness._errors import ConfigError, DataFileError, HarnessError
from harness._secrets import SECRETS, SecretLeak, register_secret
from harness._serve import serve_loopback
from harness._session import open_target
from harness._suite import ScenarioCase, ScenarioRun, expectation
from harness._target import SENDING_TARGETS, TargetSpec
from harness._version import __version__
from harness.cassettes._drive import drive
from harness.cassettes._format import BODIES_DIR, CassettePersister, body_refs, is_recording_file, mentioned_bodies
from harness.cassettes._model import CANONICAL_URLS, VARIANTS, CassetteHeader, Variant, cassette_path, get_variant
from harness.cassettes._scrub import HostMap, Scrubber
from harness.cassettes._vcr import HARNESS_LIBRARIES, use_cassette
from harness.checks import run_checks
from harness.client import USER_AGENT, AsyncQueueClient, Target
from harness.contracts import Contract

if TYPE_CHECKING:
    from harness.emulator import EmulatorConfig

__all__ = [
    "RECORD_MODES",
    "PlannedCassette",
    "RecordOutcome",
    "arecord_cassette",
    "plan_recording",
    "prune_bodies",
    "record_cassettes",
]

#: pytest-recording's names; ``none`` is replay, ``all`` is not offered (``rewrite`` says what it does)
RECORD_MODES = ("once", "new_episodes", "rewrite")
#: the emulator's delays are scaled by this while recording unless told otherwise
RECORD_TIME_SCALE = 0.01
#: fal-client's poll interval
POLL_INTERVAL = 0.1


@dataclass(frozen=True)
class PlannedCassette:
    """A cassette to record: a scenario, a variant and the folder it is written under."""

    case: ScenarioCase
    variant: Variant
    root: Path

    @property
    def path(self) -> Path:
        return cassette_path(self.root, self.case.contract.endpoint, self.case.scenario.name, self.variant.name)


@dataclass(frozen=True)
class RecordOutcome:
    """What recording one planned cassette did, and what its checks said."""

    planned: PlannedCassette
    status: str
    """``recorded`` (written anew), ``kept`` (``once`` and it exists), ``unchanged`` or ``extended``
    (``new_episodes`` found nothing new, or added requests), ``refused`` (the secrets guard wrote
    nothing, and an old cassette there is kept)."""
    failed: tuple[str, ...] = ()
    """Error-severity checks that failed although the variant does not expect them to."""
    passed_unexpectedly: tuple[str, ...] = ()
    """Checks the variant expects to fail that passed."""
    run: ScenarioRun | None = None
    """What the recorded run observed and every check's result (``None`` when nothing ran)."""
    problem: str | None = None
    """Why nothing was written (``refused``: the secrets guard found a key it could not redact)."""

    @property
    def path(self) -> Path:
        return self.planned.path

    @property
    def ok(self) -> bool:
        return not self.failed and not self.passed_unexpectedly and self.problem is None


def plan_recording(contracts: Iterable[Contract], root: str | Path, *, scenarios: Sequence[str] = (),
                   variants: Sequence[str] = ("default",), live: bool = False) -> list[PlannedCassette]:
    """Every (scenario, variant) to record; ``variants`` names variants, or ``all``. Variants that do
    not apply to a scenario (file paths without files, faults on live fal) are left out."""
    names = list(VARIANTS) if "all" in variants else list(dict.fromkeys(variants))
    chosen = [get_variant(n) for n in names]
    contracts = list(contracts)
    known = {s.name for c in contracts for s in c.scenarios}
    unknown = [s for s in scenarios if s not in known]
    if unknown:
        raise ConfigError(f"no selected endpoint has a scenario {unknown[0]!r} (known: {', '.join(sorted(known))})")
    plan = []
    for contract in contracts:
        for scenario in contract.scenarios:
            if scenarios and scenario.name not in scenarios:
                continue
            for variant in chosen:
                if live and variant.needs_fault:
                    continue
                if variant.applies_to(bool(scenario.files), scenario.expect_status):
                    plan.append(PlannedCassette(ScenarioCase(contract, scenario), variant, Path(root)))
    return plan


def record_cassettes(
    plan: Sequence[PlannedCassette],
    *,
    target: str | TargetSpec = "emulator",
    mode: str = "once",
    emulator_config: EmulatorConfig | Path | None = None,
    time_scale: float | None = None,
    contracts_dir: Path | None = None,
    max_requests: int | None = None,
    live_base_url: str | None = None,
    hosted_base_url: str | None = None,
    webhook_url: str | None = None,
    on_outcome: Callable[[RecordOutcome], None] | None = None,
) -> list[RecordOutcome]:
    """Record ``plan`` against ``target`` (``emulator``, ``live`` or a base URL, or its spec) in ``mode``."""
    spec = target if isinstance(target, TargetSpec) else TargetSpec.parse(
        target, max_requests=max_requests, live_base_url=live_base_url, hosted_base_url=hosted_base_url,
        allow=SENDING_TARGETS)
    if mode not in RECORD_MODES:
        raise ConfigError(f"record mode must be one of {', '.join(RECORD_MODES)}, not {mode!r}")
    todo = [p for p in plan if not (mode == "once" and p.path.exists())]
    outcomes = [RecordOutcome(p, "kept") for p in plan if p not in todo]
    for outcome in outcomes:
        if on_outcome is not None:
            on_outcome(outcome)
    spec.check_plan(len(todo), what="the recording",
                    hint="select fewer with --endpoint/--scenario/--variants or raise --max-requests")
    if not spec.is_local and not spec.hosted_base_url and any(p.variant.file_mode == "url" for p in todo):
        raise ConfigError("the url variant on a remote target needs --hosted-base-url (where the bundled fixtures "
                          "are published)")
    if not spec.is_local and not webhook_url and any(p.variant.webhook for p in todo):
        raise ConfigError("the webhook variant on a remote target needs --webhook-url (a URL fal can reach)")
    groups: dict[str | None, list[PlannedCassette]] = {}
    for p in todo:
        groups.setdefault(p.variant.fault if spec.kind == "emulator" else None, []).append(p)
    for fault, items in groups.items():
        with (_target(spec, fault, emulator_config, time_scale, contracts_dir) as opened,
              _webhook_receiver(webhook_url, opened, any(p.variant.webhook for p in items)) as hook):
            for p in items:
                try:
                    outcome = asyncio.run(arecord_cassette(opened, p, mode=mode, webhook_url=hook))
                except SecretLeak as leak:
                    # One cassette the guard refuses (a key inside an image) costs only that cassette.
                    outcome = RecordOutcome(p, "refused", problem=str(leak))
                outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
    return outcomes


async def arecord_cassette(target: Target, planned: PlannedCassette, *, mode: str = "rewrite",
                           webhook_url: str | None = None) -> RecordOutcome:
    """Record one cassette; a run that broke off (transport error, timeout) writes nothing."""
    path = planned.path
    if mode == "once" and path.exists():
        return RecordOutcome(planned, "kept")
    register_secret(target.key)
    # A rewrite records from nothing but leaves the old file in place: the new one replaces it
    # only once it is completely written, so a recording that breaks off loses nothing.
    before = None if mode == "rewrite" or not path.exists() else read_bytes(path, what="cassette")
    case, variant = planned.case, planned.variant
    emulator = target.emulator
    scale = emulator.config.time_scale if emulator is not None else 1.0
    header = _header(target, case, variant)
    hosts = HostMap(target.queue_url, target.run_url) if target.is_loopback else None
    scrubber = Scrubber(SECRETS.with_environment(), hosts)
    persister = CassettePersister(bodies_dir=planned.root / BODIES_DIR, load=mode != "rewrite")
    # A cassette grown by new_episodes keeps the header it was first recorded under.
    with use_cassette(str(path), scrubber, mode="new_episodes", persister=persister, header=header,
                      libraries=HARNESS_LIBRARIES):
        async with AsyncQueueClient(target) as client:
            # Polling as often, relative to the run, as fal-client does against real delays.
            obs = await drive(client, case.contract.endpoint, dict(case.scenario.input), dict(case.scenario.files),
                              variant, scenario=case.scenario.name, webhook_url=webhook_url,
                              poll_interval=max(POLL_INTERVAL * scale, 0.005))
        if obs.error is not None and obs.error.kind in ("transport", "timeout", "harness"):
            raise HarnessError(f"recording {path} broke off ({obs.error.kind}: {obs.error.message}); "
                               "nothing was written")
    results = run_checks(obs, case.contract, expect=header.expect)
    failed = {r.check for r in results if r.failed and r.severity == "error"}
    expected = set(header.expect.fails)
    after = read_bytes(path, what="cassette") if path.exists() else None
    status = "recorded" if before is None else "unchanged" if after == before else "extended"
    return RecordOutcome(planned, status, tuple(sorted(failed - expected)), tuple(sorted(expected - failed)),
                         ScenarioRun(case, obs, results))


def _header(target: Target, case: ScenarioCase, variant: Variant) -> CassetteHeader:
    emulator = target.emulator
    kind = "emulator" if emulator is not None else "live" if target.live else "url"
    if target.is_loopback:
        base_urls = dict(CANONICAL_URLS)
    else:
        base_urls = {"queue": target.queue_url, "run": target.run_url, "rest": target.rest_url, "cdn": target.cdn_url}
        if target.hosted_base_url:
            base_urls["files"] = target.hosted_base_url.rstrip("/")
    wanted = expectation(case.contract, case.scenario)
    return CassetteHeader(
        target=kind,
        recorded=datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        harness_version=__version__,
        client=USER_AGENT,
        endpoint=case.contract.endpoint,
        contract_version=case.contract.contract_version,
        scenario=case.scenario.name,
        # A fault only exists where the emulator could switch it on.
        variant=variant if emulator is not None else replace(variant, fault=None),
        seed=emulator.config.seed if emulator is not None else None,
        base_urls=base_urls,
        expect=replace(wanted, fails=variant.fails),
    )


@contextmanager
def _target(spec: TargetSpec, fault: str | None, emulator_config: EmulatorConfig | Path | None,
            time_scale: float | None, contracts_dir: Path | None) -> Iterator[Target]:
    config = None
    if spec.kind == "emulator":
        # Imported here: only recording on the emulator pays for loading it.
        from harness.emulator import EmulatorConfig, FaultRule, load_emulator_config

        if emulator_config is None:
            config = EmulatorConfig(contracts_dir=contracts_dir, time_scale=RECORD_TIME_SCALE)
        elif isinstance(emulator_config, EmulatorConfig):
            config = emulator_config
        else:
            config = load_emulator_config(Path(emulator_config))
        if time_scale is not None:
            config = config.replace(time_scale=time_scale)
        if contracts_dir is not None:
            config = config.replace(contracts_dir=contracts_dir)
        if fault is not None:
            config = config.replace(faults=(FaultRule(fault, rate=1.0),))
    with open_target(spec, contracts_dir=contracts_dir, emulator_config=config) as target:
        yield target


@contextmanager
def _webhook_receiver(given: str | None, target: Target, needed: bool) -> Iterator[str | None]:
    """The webhook URL to submit with: the one given, or a local receiver for a local target."""
    if given is not None or not needed:
        yield given
        return
    if not target.is_loopback:
        raise ConfigError("the webhook variant on a remote target needs --webhook-url (a URL fal can reach)")

    async def receive(request: Request) -> Response:
        await request.body()
        return Response()

    with serve_loopback(Starlette(routes=[Route("/webhook", receive, methods=["POST"])]),
                        name="fal-harness-webhooks") as served:
        yield f"http://127.0.0.1:{served.ports[0]}/webhook"


def prune_bodies(root: str | Path) -> list[Path]:
    """Delete body files under ``root/_bodies`` that no file under ``root`` mentions any more (left
    behind by rewrites). A mention anywhere counts, in a cassette or in a file this harness does
    not recognise; nothing is deleted if any file under ``root`` cannot be read."""
    root = Path(root)
    bodies = root / BODIES_DIR
    if not bodies.is_dir():
        return []
    referenced: set[str] = set()
    for path in root.rglob("*"):
        if BODIES_DIR in path.relative_to(root).parts or path.is_dir():
            continue
        try:
            if is_recording_file(path):
                referenced |= body_refs(path)
            referenced |= mentioned_bodies(read_bytes(path))
        except DataFileError:
            return []
    removed = []
    for f in sorted(bodies.iterdir()):
        if f.is_file() and f.name not in referenced:
            f.unlink()
            removed.append(f)
    return removed
