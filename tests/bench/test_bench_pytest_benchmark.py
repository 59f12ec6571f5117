"""pytest-benchmark runs the scenarios from ``benchmarks/`` (never collected by default) and its JSON
carries our percentiles in ``extra_info``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_default_run_collects_tests_only() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["tool"]["pytest"]["ini_options"]["testpaths"] == ["tests"]
    assert (ROOT / "benchmarks" / "test_bench_scenarios.py").is_file()


def test_benchmark_json_carries_our_percentiles_in_extra_info(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    # pytest-benchmark turns itself off inside an xdist worker, and would think this is one
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "benchmarks", "-q", "-p", "no:cacheprovider", "-k", "data-uri",
         f"--benchmark-json={out}", f"--bench-out={tmp_path / 'reports'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False, env=env,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (entry,) = json.loads(out.read_text())["benchmarks"]
    assert entry["name"] == "test_scenario[data-uri]"
    info = entry["extra_info"]
    assert info["format"] == "fal-harness/bench@1" and info["scenario"] == "data-uri"
    phases = info["series"]["10MiB"]["phases"]
    for phase in ("harness", "reference"):
        assert {"p50", "p90", "p95", "p99", "p50_ci", "p99_ci"} <= set(phases[phase])
    assert info["derived"]["data-uri/10MiB/speedup"] > 1
    assert Path(info["run_dir"], "summary.json").is_file()
