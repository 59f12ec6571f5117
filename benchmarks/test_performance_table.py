"""The performance table: each figure measured on this machine beside its reference (where it has
one) and its goal, with the command that measures it again (``pytest benchmarks -k performance -s``).

Each figure is the median of interleaved rounds (``FAL_HARNESS_BENCH_ROUNDS``, default 3): the
subject and its reference alternate, so a drift in the machine's speed falls on both. These are
figures, not timed tests: a row fails only when it measured nothing. The main job at 200 contracts
takes a minute or more, so it runs only with ``FAL_HARNESS_BENCH_200=1``.

The cassette, CLI, data-URI and client rows call the measurements of ``benchmarks/fast_paths.py``.
The emulator row compares with a constant-JSON Starlette app answering the same routes when
``harness.emulator._bench`` offers one (a ``reference`` argument of ``run_bench``, or a
``run_reference_bench`` function taking ``requests`` and ``concurrency``); otherwise it prints the
emulator's figure alone and says the reference is missing.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.fast_paths import (
    cli_start_over_bare,
    client_over_bare_httpx,
    data_uri_over_limit,
    verify_cost_per_cassette,
)
from harness.bench import BenchOptions, run_benchmark

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ROUNDS = int(os.environ.get("FAL_HARNESS_BENCH_ROUNDS", "3"))


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _interleaved(subjects: dict[str, Callable[[], float]], rounds: int = ROUNDS) -> dict[str, float]:
    """Each subject's median over ``rounds``, the order of the subjects turned round each round."""
    seen: dict[str, list[float]] = {name: [] for name in subjects}
    order = list(subjects)
    for i in range(rounds):
        for name in order if i % 2 == 0 else order[::-1]:
            seen[name].append(subjects[name]())
    return {name: _median(values) for name, values in seen.items()}


# -- the main job -------------------------------------------------------------------------------


def make_contracts(dest: Path, count: int) -> Path:
    """``count`` contracts: the shipped ones, then copies of them under new endpoint ids."""
    shipped = sorted((ROOT / "contracts").rglob("*.yaml"))
    for i in range(count):
        source = shipped[i % len(shipped)]
        text = source.read_text(encoding="utf-8")
        found = re.search(r"^endpoint: (\S+)", text, re.M)
        assert found is not None, source
        endpoint = found.group(1)
        new = endpoint if i < len(shipped) else f"copy{i // len(shipped)}/{endpoint.replace('/', '-')}"
        path = dest / f"{new}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace(f"endpoint: {endpoint}", f"endpoint: {new}"), encoding="utf-8")
    return dest


def _high_water_mib(pid: int) -> float:
    """A process's peak resident set so far (``VmHWM``), 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return int(found.group(1)) / 1024 if found else 0.0


def _timed_process(args: Sequence[str], cwd: Path) -> tuple[float, float, float, float, int]:
    """Wall seconds, CPU seconds (user + system, children included), the peak RSS in MiB of the
    process itself (its high-water mark, read until it exits) and of the largest process of its
    tree (its emulators'), and the exit code."""
    began = time.perf_counter()
    process = subprocess.Popen(list(args), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    readings = [0.0]
    exited = threading.Event()

    def watch() -> None:  # the high-water mark only grows: the last reading before the exit is the peak
        while not exited.wait(0.1):
            readings.append(_high_water_mib(process.pid))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(process.pid, 0)  # this process's resources, its reaped children's folded in
    exited.set()
    watcher.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - began
    return wall, usage.ru_utime + usage.ru_stime, max(readings), usage.ru_maxrss / 1024, process.returncode


def _main_job(contracts: Path, work: Path, label: str) -> Callable[[], tuple[float, float, float, float]]:
    runs = iter(range(1000))

    def once() -> tuple[float, float, float, float]:
        out = work / f"{label}-{next(runs)}"  # a folder of its own: no earlier run is its baseline
        wall, cpu, own, largest, code = _timed_process(
            [str(BIN / "fal-harness"), "run", "--bench-requests", "4", "--contracts-dir", str(contracts),
             "--out", str(out / "run")], cwd=work)
        assert code in (0, 1), f"fal-harness run exited {code}"
        assert (out / "run" / "run.json").is_file(), "the main job wrote no run.json"
        return wall, cpu, own, largest

    return once


def test_performance_main_job_cost_per_contract(tmp_path: Path, performance_table: Any) -> None:
    sizes = [4, 40] + ([200] if os.environ.get("FAL_HARNESS_BENCH_200") else [])
    jobs = {n: _main_job(make_contracts(tmp_path / f"contracts-{n}", n), tmp_path, str(n)) for n in sizes}
    seen: dict[int, list[tuple[float, float, float, float]]] = {n: [] for n in sizes}
    for i in range(ROUNDS):
        for n in (sizes if i % 2 == 0 else sizes[::-1]):
            if n == 200 and seen[n]:
                continue  # one round at 200: it takes minutes
            seen[n].append(jobs[n]())
    walls = {n: _median([w for w, *_ in seen[n]]) for n in sizes}
    for n in sizes:
        cpu = _median([c / w for w, c, *_ in seen[n]])
        own = max(o for *_, o, _ in seen[n])
        largest = max(r for *_, r in seen[n])
        previous = sizes[sizes.index(n) - 1] if sizes.index(n) else None
        marginal = (f"; {(walls[n] - walls[previous]) / (n - previous):.3f} s per contract added over {previous}"
                    if previous else "")
        performance_table.add(
            f"`fal-harness run --bench-requests 4`, {n} contracts",
            f"{walls[n]:.1f} s = {walls[n] / n:.3f} s per contract{marginal}; peak RSS {own:.0f} MiB "
            f"(largest process of its tree {largest:.0f} MiB); CPU/wall {cpu:.2f}",
            "-", "<= 0.15 s per contract; 200 contracts in 30 s; memory flat",
            f"fal-harness run --bench-requests 4 --contracts-dir <{n} contracts>")
    assert all(w > 0 for w in walls.values())


# -- the paths that should cost next to nothing (measured by benchmarks/fast_paths.py) -------------


def test_performance_cassettes_verify_per_cassette(performance_table: Any) -> None:
    for count, ms in verify_cost_per_cassette((10, 100, 1000), rounds=ROUNDS).items():
        performance_table.add(f"`cassettes verify`, {count} cassettes", f"{ms:.1f} ms per cassette", "-",
                              "<= 5 ms per cassette", f"fal-harness cassettes verify <{count} cassettes>")
        assert ms > 0


def test_performance_cli_start_over_bare_python(performance_table: Any) -> None:
    found = cli_start_over_bare(rounds=max(ROUNDS, 7))
    performance_table.add("`fal-harness --help` start", f"{found['over_bare_ms']:.0f} ms over bare Python",
                          f"bare Python {found['bare_ms']:.0f} ms", "<= 150 ms over bare Python", "fal-harness --help")
    assert found["cli_ms"] > 0


def test_performance_data_uri_body_against_pybase64(performance_table: Any) -> None:
    for mib, found in data_uri_over_limit((1, 10, 50), rounds=max(ROUNDS, 5)).items():
        performance_table.add(f"data-URI body build, {mib} MiB, fresh pages", f"{found['harness_ms']:.2f} ms "
                              f"({found['harness_faults_per_mib']:.0f} page faults per MiB)",
                              f"pybase64 encode + copy {found['limit_ms']:.2f} ms "
                              f"({found['limit_faults_per_mib']:.0f} per MiB); ratio {found['over_limit']:.2f}x",
                              "<= 1.5x the limit", "fal-harness bench --scenario data-uri")
        assert found["harness_ms"] > 0


def test_performance_client_against_bare_httpx(performance_table: Any) -> None:
    found = client_over_bare_httpx(rounds=max(ROUNDS * 10, 30))
    for kind, client in (("sync", "QueueClient"), ("async", "AsyncQueueClient")):
        performance_table.add(f"{kind} client, one lifecycle at zero latency (submit, status stream, result, pictures)",
                              f"harness `{client}` {found[f'{kind}_harness_ms']:.2f} ms",
                              f"bare httpx {found[f'{kind}_httpx_ms']:.2f} ms; ratio {found[f'{kind}_ratio']:.2f}x",
                              "<= 1.1x bare httpx", "pytest benchmarks/test_fast_paths.py -s")
        assert found[f"{kind}_harness_ms"] > 0


# -- the emulator -------------------------------------------------------------------------------


def test_performance_emulator_lifecycles_at_50_clients(performance_table: Any) -> None:
    from harness.emulator import _bench

    requests, concurrency = 1000, 50
    # Interleaved rounds of the emulator and the constant-JSON reference app, each in a child
    # process of its own, their medians side by side (as ``fal-harness emulator bench`` prints).
    result = _bench.run_bench(requests=requests, concurrency=concurrency, reference=True, rounds=ROUNDS)
    reference = result.reference_lifecycles_per_second
    assert reference is not None and result.reference_client_p99_ms is not None
    added = result.client_p99_ms - result.reference_client_p99_ms
    performance_table.add("emulator lifecycles/s, 50 clients, zero latency",
                          f"{result.lifecycles_per_second:.0f} lifecycles/s, client p99 "
                          f"{result.client_p99_ms:.1f} ms (+{added:.1f} ms over the reference)",
                          f"{reference:.0f} lifecycles/s, client p99 {result.reference_client_p99_ms:.1f} ms; "
                          f"ratio {result.lifecycles_per_second / reference:.2f}x",
                          ">= 0.6x the reference; added p99 <= 5 ms",
                          f"fal-harness emulator bench --concurrency {concurrency} --requests {requests} "
                          f"--rounds {ROUNDS}")
    assert result.lifecycles_per_second > 0 and reference > 0


# -- stream timing against ground truth ----------------------------------------------------------


def test_performance_stream_timing_error_against_ground_truth(tmp_path: Path, performance_table: Any) -> None:
    # What the command in the row runs: every shipped endpoint, 40 requests each after the scenario's
    # own warm-up (as many as run at once, so no measured request is in the opening burst).
    options = BenchOptions(requests=40, ci_resamples=0)
    result = run_benchmark("queue", options=options, out=tmp_path, history=False)
    assert result.status == "complete"
    worst: dict[str, float] = {}
    for series in result.summary.series:
        errors = [b.error.p99_abs for p, b in series.phases.items()
                  if p in ("queue_wait", "run") and b.error is not None and b.error.p99_abs is not None]
        if errors:
            worst[series.name] = max(errors)
    assert worst, "no series had ground truth to compare with"
    shown = ", ".join(f"{name.removeprefix('fal-ai/')} {ms:.1f} ms" for name, ms in worst.items())
    performance_table.add("stream timing absolute error p99 against ground truth (queue wait, run; worst of the two)",
                          shown, "-", "<= 2 ms on every shipped endpoint idle, <= 5 ms with one core busy",
                          "fal-harness bench --scenario queue --requests 40")
