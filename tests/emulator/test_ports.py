"""Port options: out-of-range ports are a user mistake (one line, exit 2), never an OverflowError."""

from __future__ import annotations

from typing import Any

import pytest

import harness.emulator
from harness._errors import ConfigError
from harness.cli import main
from harness.emulator import start_emulator


@pytest.mark.parametrize("args", [["--port", "70000"], ["--port", "-5"], ["--port", "0", "--run-port", "65536"],
                                  ["--port", "0", "--run-port", "-1"]])
def test_cli_refuses_a_port_out_of_range(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", *args, "--time-scale", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("fal-harness: error: ") and "0<=x<=65535" in err[0]


class _Started(Exception):
    pass


@pytest.mark.parametrize(("port", "run_port"), [(65535, 0), (8470, 8471), (0, 0)])
def test_the_default_run_port_is_always_a_port(port: int, run_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_start(config: object, **kwargs: Any) -> None:
        seen.update(kwargs)
        raise _Started

    monkeypatch.setattr(harness.emulator, "start_emulator", fake_start)  # the command imports it when run
    with pytest.raises(_Started):
        main(["emulator", "--port", str(port), "--time-scale", "0"])
    assert (seen["port"], seen["run_port"]) == (port, run_port)


@pytest.mark.parametrize(("kwargs", "name"), [({"port": 70000}, "port"), ({"port": -5}, "port"),
                                              ({"run_port": 65536}, "run_port"), ({"port": "8470"}, "port")])
def test_start_emulator_names_a_bad_port(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        start_emulator({"time_scale": 0}, **kwargs)
    assert str(caught.value).startswith(f"{name} must be a whole number from 0 to 65535")


def test_the_queue_and_run_ports_must_differ(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--port", "18470", "--run-port", "18470", "--time-scale", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["fal-harness: error: port and run_port must differ (both are 18470): the queue and the run API "
                   "each need their own port"]
