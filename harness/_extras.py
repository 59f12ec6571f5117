"""Optional parts of the install: the ``bench`` extra (statistics and figures) and what a command
says when it needs one that is not installed.
"""

from __future__ import annotations

import importlib.util
import sys

from harness._errors import ConfigError

__all__ = ["BENCH_MODULES", "LOAD_HINT", "bench_missing", "require_bench", "require_load"]

#: the modules ``pip install 'fal-harness[bench]'`` brings (import name -> distribution)
BENCH_MODULES = {"scipy": "scipy", "matplotlib": "matplotlib", "hdrh": "hdrhistogram"}
BENCH_HINT = "pip install 'fal-harness[bench]'"
LOAD_HINT = "pip install 'fal-harness[load]'"


def bench_missing() -> list[str]:
    """The bench extra's distributions that are not installed (none: benchmarks and plots work)."""
    return [dist for module, dist in BENCH_MODULES.items() if not _installed(module)]


def _installed(module: str) -> bool:
    if module in sys.modules:  # imported already, or blocked (None)
        return sys.modules[module] is not None
    return importlib.util.find_spec(module) is not None


def require_bench(what: str) -> None:
    """Raise a one-line :class:`~harness.ConfigError` when ``what`` needs the bench extra and it
    is not installed."""
    missing = bench_missing()
    if missing:
        raise ConfigError(f"{what} needs the bench extra ({', '.join(missing)} not installed): {BENCH_HINT}")


def require_load(what: str) -> None:
    """Raise a one-line :class:`~harness.ConfigError` when ``what`` needs the load extra (Locust) and
    it is not installed. Looks Locust up without importing it (its import patches the interpreter)."""
    if not _installed("locust"):
        raise ConfigError(f"{what} needs the load extra (locust not installed): {LOAD_HINT}")
