"""The root command group every sub-command module attaches to."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Collection
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from harness import DEFAULT_LIVE_BUDGET, ConfigError, TargetKind, TargetSpec, writable_target

#: bounds on numeric options: far above any real use, low enough that nothing overflows or runs forever
MAX_REQUESTS = 1_000_000
MAX_CONCURRENCY = 1_000
MAX_RATE = 10_000.0
MAX_TIMEOUT_S = 86_400.0
MAX_TIME_SCALE = 1_000.0
MAX_SEED = 2**63 - 1


class FiniteRange(click.FloatRange):
    """A float range that also refuses ``nan`` and ``inf`` (click's own compares them away)."""

    name = "float range"

    def convert(self, value: float, param: click.Parameter | None, ctx: click.Context | None) -> float:
        number: float = super().convert(value, param, ctx)
        if number is not None and not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def seconds(*, maximum: float = MAX_TIMEOUT_S) -> FiniteRange:
    """More than zero seconds, at most ``maximum``."""
    return FiniteRange(0, maximum, min_open=True)


TIME_SCALE = FiniteRange(0, MAX_TIME_SCALE)


def check_output(path: Path | None) -> None:
    """Refuse an output file that can never be written (a device, a FIFO, a folder, a path under a
    file) before any work is done, so a mistake costs no fetch, no comparison and no requests."""
    if path is None:
        return
    target = writable_target(path)
    existing = target.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"cannot write {path}: {existing} is not a folder")


_P = ParamSpec("_P")
_R = TypeVar("_R")
_WORDS = {"emulator": "the embedded emulator", "replay": "the recorded cassettes (offline)",
          "live": "live fal (needs FAL_KEY)", "url": "a base URL"}


def target_options(*, allow: Collection[TargetKind], live_base_url_hidden: bool = False, hosted: bool = True
                   ) -> Callable[[Callable[_P, _R]], Callable[..., _R]]:
    """The options that name a target (``--target``, ``--max-requests``, ``--live-base-url`` and,
    with ``hosted``, ``--hosted-base-url``), read into one :class:`~harness.TargetSpec` that the
    command receives as ``target``; a target not in ``allow`` is one line, exit 2."""
    kinds = [k for k in ("emulator", "replay", "live", "url") if k in allow]
    options = [
        click.option("--target", default="emulator", show_default=True, metavar="TARGET",
                     help=f"Where requests go: {', '.join(_WORDS[k] for k in kinds)}."),
        click.option("--max-requests", type=click.IntRange(0), default=None,
                     help=f"Request budget (live default {DEFAULT_LIVE_BUDGET}); a plan over it is refused before "
                          "anything is sent."),
        click.option("--live-base-url", default=None, metavar="URL", hidden=live_base_url_hidden,
                     help="Send the live target's requests to this server instead of fal (the live path, offline)."),
    ]
    if hosted:
        options.append(click.option("--hosted-base-url", default=None, metavar="URL",
                                    help="Where the bundled fixtures are published (the url file path on a "
                                         "remote target)."))

    def decorate(command: Callable[_P, _R]) -> Callable[..., _R]:
        @functools.wraps(command)
        def read_target(*args: object, target: str, max_requests: int | None, live_base_url: str | None,
                        hosted_base_url: str | None = None, **kwargs: object) -> _R:
            spec = TargetSpec.parse(target, max_requests=max_requests, live_base_url=live_base_url,
                                    hosted_base_url=hosted_base_url, allow=allow)
            return command(*args, target=spec, **kwargs)  # type: ignore[arg-type]

        wrapped: Callable[..., _R] = read_target
        for option in reversed(options):
            wrapped = option(wrapped)
        return wrapped

    return decorate


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="fal-harness", prog_name="fal-harness")  # read when asked for
def cli() -> None:
    """Contract tests, cassettes, latency benchmarks and schema drift for fal's model API."""
