"""pytest-benchmark runs the scenarios from ``benchmarks/`` (never collected by default) and its JSON
carries our percentiles in ``extra_info``."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_default_run_collects_tests_only() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["tool"]["pytest"]["ini_options"]["testpaths"] == ["tests"]
    assert (ROOT / "benchmarks" / "test_bench_scenarios.py").is_file()


def test_benchmark_json_carries_our_percentiles_in_extra_info(repo_pytest: Callable[..., pytest.RunResult],
                                                              tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = repo_pytest("benchmarks", "-q", "-k", "data-uri", f"--benchmark-json={out}",
                       f"--bench-out={tmp_path / 'reports'}")
    assert done.ret == 0, done.outlines[-40:] + done.errlines[-40:]
    (entry,) = json.loads(out.read_text())["benchmarks"]
    assert entry["name"] == "test_scenario[data-uri]"
    info = entry["extra_info"]
    assert info["format"] == "fal-harness/bench@1" and info["scenario"] == "data-uri"
    phases = info["series"]["10MiB"]["phases"]
    for phase in ("harness", "reference"):
        assert {"p50", "p90", "p95", "p99", "p50_ci", "p99_ci"} <= set(phases[phase])
    assert info["derived"]["data-uri/10MiB/speedup"] > 1
    assert Path(info["run_dir"], "summary.json").is_file()
