"""The redirect for fal's JavaScript clients: a Node preload that sends every fal host to the
emulator and refuses any non-loopback connection, and the environment that loads it.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from harness._errors import ConfigError

if TYPE_CHECKING:
    from harness.emulator._server import Emulator

__all__ = ["NODE_PRELOAD", "node_redirect_env"]

#: the preload (``node --require``) that rewrites fal's hosts in ``fetch`` and ``WebSocket``
NODE_PRELOAD = Path(__file__).with_name("node") / "fal-redirect.cjs"


def node_redirect_env(emulator: Emulator, *, set_key: bool = True, loopback_only: bool = True,
                      node: str = "node") -> dict[str, str]:
    """Environment variables that point fal's JS clients in a Node process at ``emulator``.

    Merge them into the child's environment: ``NODE_OPTIONS`` loads the preload (and, on Node
    before 22, turns on the global ``WebSocket`` the realtime client needs), ``FAL_HARNESS_EMULATOR``
    names the addresses, ``FAL_KEY`` is the emulator's key unless ``set_key`` is false. With
    ``loopback_only`` the process cannot reach or even resolve anything but this machine."""
    options = [f"--require {json.dumps(str(NODE_PRELOAD))}"]
    if _node_major(node) < 22:
        options.append("--experimental-websocket")
    env = {
        "NODE_OPTIONS": " ".join(options),
        "FAL_HARNESS_EMULATOR": json.dumps({"queue": emulator.queue_url, "run": emulator.run_url}),
        "FAL_HARNESS_LOOPBACK_ONLY": "1" if loopback_only else "0",
    }
    if set_key:
        env["FAL_KEY"] = emulator.key
    return env


@functools.lru_cache(maxsize=4)
def _node_major(node: str) -> int:
    found = shutil.which(node)
    if found is None:
        raise ConfigError(f"{node!r} is not on PATH: fal's JS clients need Node.js 18 or later")
    try:
        version = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=30, check=True)
        return int(version.stdout.strip().lstrip("v").split(".")[0])
    except (subprocess.SubprocessError, OSError, ValueError) as exc:
        raise ConfigError(f"cannot tell the version of {found}: {exc}") from None
