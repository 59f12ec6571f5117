"""The paths that should cost next to nothing, each figure printed against its goal:
``pytest benchmarks/test_fast_paths.py -s``. Figures only; nothing here fails on a time.
The measurements themselves are the functions of ``benchmarks/fast_paths.py``."""

from __future__ import annotations

from benchmarks.conftest import Promises
from benchmarks.fast_paths import (
    cli_start_over_bare,
    client_over_bare_httpx,
    data_uri_over_limit,
    verify_cost_per_cassette,
)

#: the goals these paths are held to
VERIFY_MS_PER_CASSETTE = 5.0
CLI_START_MS = 150.0
DATA_URI_OVER_LIMIT = 1.5
CLIENT_OVER_HTTPX = 1.1


def test_verifying_cassettes(promises: Promises) -> None:
    for count, ms in verify_cost_per_cassette((10, 100, 1000)).items():
        promises.add(f"cassettes verify, {count} cassettes, per cassette", ms, VERIFY_MS_PER_CASSETTE, "ms")


def test_starting_the_command(promises: Promises) -> None:
    found = cli_start_over_bare()
    promises.add("fal-harness --help over python -c pass", found["over_bare_ms"], CLI_START_MS, "ms")


def test_building_a_data_uri_body(promises: Promises) -> None:
    for mib, found in data_uri_over_limit((1, 10, 50)).items():
        promises.add(f"data-URI body, {mib} MiB, fresh pages, over pybase64 encode + copy", found["over_limit"],
                     DATA_URI_OVER_LIMIT, "x")


def test_the_client_over_bare_httpx(promises: Promises) -> None:
    found = client_over_bare_httpx()
    for kind in ("sync", "async"):
        promises.add(f"{kind} client lifecycle over bare httpx", found[f"{kind}_ratio"], CLIENT_OVER_HTTPX, "x")
