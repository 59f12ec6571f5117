"""Open a target for a run: start the embedded emulator, or resolve live fal or a URL.

Every front door opens its :class:`~harness.TargetSpec` through here, so they behave the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from harness._errors import ConfigError
from harness._target import Budget, TargetSpec
from harness.client import Target, emulator_target, live_target, url_target

if TYPE_CHECKING:
    from harness.emulator import EmulatorConfig

__all__ = ["open_target"]

@contextmanager
def open_target(
    spec: str | TargetSpec = "emulator",
    *,
    max_requests: int | None = None,
    contracts_dir: Path | None = None,
    emulator_config: EmulatorConfig | Path | str | None = None,
    live_base_url: str | None = None,
    hosted_base_url: str | None = None,
) -> Iterator[Target]:
    """Yield a ready target for ``spec`` (a :class:`TargetSpec`, or a name it parses with the other
    arguments); an emulator started here is stopped on exit. Every target gets the spec's budget.

    ``live_base_url`` points the live code path (key required, budget enforced) at another
    server, such as an emulator that requires a key; it exists for testing the live path offline.
    """
    if isinstance(spec, str):
        spec = TargetSpec.parse(spec, max_requests=max_requests, live_base_url=live_base_url,
                                hosted_base_url=hosted_base_url)
    budget = Budget(spec.budget) if spec.budget is not None else None
    if spec.kind == "emulator":
        # Imported here: only a run on the emulator pays for loading it.
        from harness.emulator import EmulatorConfig, load_emulator_config, start_emulator

        if emulator_config is None:
            config = EmulatorConfig(contracts_dir=contracts_dir)
        elif isinstance(emulator_config, EmulatorConfig):
            config = emulator_config
        else:
            config = load_emulator_config(Path(emulator_config))
        if contracts_dir is not None and config.contracts_dir is None:
            config = config.replace(contracts_dir=contracts_dir)
        with start_emulator(config) as emulator:
            yield emulator_target(emulator, budget=budget)
        return
    if spec.kind == "live":
        urls = None
        if spec.live_base_url:
            spec.ensure_reachable()
            found = url_target(spec.live_base_url)
            urls = {"queue": found.queue_url, "run": found.run_url, "rest": found.rest_url, "cdn": found.cdn_url}
        yield live_target(max_requests=spec.budget, urls=urls, hosted_base_url=spec.hosted_base_url)
        return
    if spec.kind == "replay":
        raise ConfigError("the replay target is opened by the cassette player, not here")
    spec.ensure_reachable()  # a host that never answers fails here, before the emulator probe waits on it
    yield url_target(spec.text, budget=budget)
