"""Sustained load with Locust, recorded as the harness's benchmarks are: a Locust user that drives
fal's queue through the harness's client (status stream, per-phase timing, contract inputs), and
the run folder its master writes from every worker's records (``requests.jsonl``, ``summary.json``),
which ``fal-harness report`` and ``fal-harness bench compare`` read like any other run.

The Locust user is ``harness.load.user.FalQueueUser``: that module imports Locust (and gevent's
monkey-patching), so only a Locust file imports it. This page imports neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness._extras import require_load
from harness._lazy import lazy_attributes

if TYPE_CHECKING:
    from harness.load._collect import RunCollector
    from harness.load._command import LOCUSTFILE, LoadRun, locust_command, run_load
    from harness.load._driver import Drained, LifecycleDriver
    from harness.load._plan import LOAD_SCENARIO, LoadCase, LoadSettings, load_cases

__all__ = [
    "LOAD_SCENARIO",
    "LOCUSTFILE",
    "Drained",
    "LifecycleDriver",
    "LoadCase",
    "LoadRun",
    "LoadSettings",
    "RunCollector",
    "load_cases",
    "locust_command",
    "require_load",
    "run_load",
]

_LAZY = {
    "RunCollector": "_collect",
    "LOCUSTFILE": "_command", "LoadRun": "_command", "locust_command": "_command", "run_load": "_command",
    "Drained": "_driver", "LifecycleDriver": "_driver",
    "LOAD_SCENARIO": "_plan", "LoadCase": "_plan", "LoadSettings": "_plan", "load_cases": "_plan",
}

__getattr__ = lazy_attributes(__name__, {k: f"harness.load.{v}" for k, v in _LAZY.items()}, globals())
