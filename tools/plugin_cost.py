"""What the pytest plugin costs a project that has it installed and does not use it: the median
CPU time (user + system, steadier than wall time on a shared machine) of ``import
harness.pytest_plugin`` and of ``pytest --co`` with and without the plugin, in a throw-away
project holding one plain test.

    python tools/plugin_cost.py [--runs 15] [--source DIR]

``--source`` puts another checkout of the harness first on the path (to measure an older one).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _median_seconds(command: list[str], cwd: Path, env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = _cpu()
        subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
        times.append(_cpu() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--source", type=Path, default=None, help="a harness checkout to import instead")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.source is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(args.source.resolve()), env.get("PYTHONPATH", "")])
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / "test_plain.py").write_text("def test_plain():\n    pass\n")
        collect = [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider"]
        bare = _median_seconds([sys.executable, "-c", "pass"], project, env, args.runs)
        plugin = _median_seconds([sys.executable, "-c", "import harness.pytest_plugin"], project, env, args.runs)
        with_it = _median_seconds(collect, project, env, args.runs)
        without = _median_seconds([*collect, "-p", "no:fal_harness"], project, env, args.runs)
    print(f"python -c 'import harness.pytest_plugin': {plugin * 1e3:.0f} ms ({(plugin - bare) * 1e3:.0f} ms over "
          f"a bare interpreter)")
    print(f"pytest --co: {with_it * 1e3:.0f} ms with the plugin, {without * 1e3:.0f} ms without: "
          f"the plugin adds {(with_it - without) * 1e3:.0f} ms (median of {args.runs})")


if __name__ == "__main__":
    main()
