"""An emulator in a child Python process (its ``_serve_child``), for work that must not
share an interpreter lock with it (benchmarks). The child runs the same :class:`Emulator` the
in-process path starts: one way to host the emulator, in whichever process needs it.

Where the system can fork, children come from one warm interpreter per parent process that has
imported the emulator once (``_fork_children``): a child then starts in the time it takes to
load its config, not to import the emulator again (about a second of CPU on a small machine).
Elsewhere each child is a fresh interpreter.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import IO

from harness._errors import ConfigError, HarnessError

__all__ = ["EmulatorProcess", "ReferenceProcess"]

_START_TIMEOUT = 60.0
#: seconds a thread holds the interpreter lock before the emulator's event loop may take it
SWITCH_INTERVAL = 0.0005


class EmulatorProcess:
    """An emulator serving from a child Python process until :meth:`stop`.

    A plain subprocess rather than multiprocessing: it needs no ``if __name__ == "__main__"``
    guard in the caller's script and works from a notebook or a script read from stdin.
    """

    def __init__(self, config: Mapping[str, object] | Path, contracts_dir: Path | None = None) -> None:
        self._start({"config": dict(config) if not isinstance(config, Path) else None,
                     "path": str(config) if isinstance(config, Path) else None,
                     "contracts_dir": str(contracts_dir) if contracts_dir is not None else None})

    def _start(self, order: Mapping[str, object]) -> None:
        self._child = _spawn()
        try:
            self._child.stdin.write(json.dumps(order) + "\n")
            self._child.stdin.flush()
            line = _readline(self._child.stdout, _START_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            self.stop()
            raise HarnessError(f"the benchmark's emulator did not start: {exc or type(exc).__name__}") from None
        message = json.loads(line) if line.strip() else {"error": "the emulator process exited on start"}
        if "error" in message:
            self.stop()
            raise ConfigError(str(message["error"]))
        self._child.pid = int(message["pid"])
        self.queue_url: str = message["queue_url"]
        self.run_url: str = message["run_url"]
        self.key: str = message["key"]
        self.admin_key: str = message["admin_key"]

    def cpu_seconds(self) -> float:
        """The CPU time (user and system, every thread) the child has used so far."""
        self._child.stdin.write("cpu\n")
        self._child.stdin.flush()
        return float(json.loads(_readline(self._child.stdout, _START_TIMEOUT))["cpu_s"])

    def stop(self) -> None:
        """Close the child's stdin (its signal to stop) and wait for it."""
        self._child.stop()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ReferenceProcess(EmulatorProcess):
    """The self-benchmark's reference app (constant answers) served from a child process, hosted
    exactly as the emulator is, so the two are measured alike."""

    def __init__(self) -> None:
        self._start({"reference": True})


class _Child:
    """A child emulator's pipes and how to stop it, however it was started."""

    pid: int | None = None

    def __init__(self, stdin: IO[str], stdout: IO[str]) -> None:
        self.stdin = stdin
        self.stdout = stdout

    def stop(self) -> None:
        """Close stdin (the child's signal to stop), wait for its stdout to close, else kill it."""
        with suppress(OSError):
            self.stdin.close()
        if not _closed_within(self.stdout, 15) and self.pid is not None:
            with suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
            _closed_within(self.stdout, 5)
        self.stdout.close()


class _Popened(_Child):
    """A child that is a fresh interpreter of its own."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            # Imported rather than run with -m: the package imports this module first, which runpy warns of.
            [sys.executable, "-c", "from harness.emulator._process import _serve_child; _serve_child()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        super().__init__(self.process.stdin, self.process.stdout)

    def stop(self) -> None:
        with suppress(OSError):
            self.stdin.close()
        _wait_or_kill(self.process, 15)
        self.stdout.close()


class _Forker:
    """The warm interpreter of one parent process, forking a child emulator for each request."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from harness.emulator._process import _fork_children; _fork_children()"],
                stdin=theirs.fileno(), stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.socket = ours
        self.parent = os.getpid()

    def fork(self) -> _Child:
        """A new child, given this process's working folder and environment as they are now."""
        child_in, stdin = os.pipe()
        stdout, child_out = os.pipe()
        context = json.dumps({"cwd": os.getcwd(), "env": dict(os.environ)}).encode()
        try:
            socket.send_fds(self.socket, [context], [child_in, child_out])
        except OSError:
            os.close(stdin)
            os.close(stdout)
            raise
        finally:
            os.close(child_in)
            os.close(child_out)
        return _Child(open(stdin, "w", encoding="utf-8"), open(stdout, encoding="utf-8"))

    def close(self) -> None:
        """Close the request socket (the warm interpreter's signal to exit) and wait for it."""
        self.socket.close()
        _wait_or_kill(self.process, 5)


def _wait_or_kill(process: subprocess.Popen[str] | subprocess.Popen[bytes], timeout: float) -> None:
    """Wait ``timeout`` seconds for ``process`` to exit, then kill it."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


_FORKER: _Forker | None = None
_FORKER_LOCK = threading.Lock()


def _can_fork() -> bool:
    # Linux only: forking an interpreter that has loaded system frameworks is unsafe on macOS.
    return sys.platform == "linux" and hasattr(socket, "send_fds")


def _spawn() -> _Child:
    """A started child, forked from this process's warm interpreter where the system allows."""
    global _FORKER
    if not _can_fork():
        return _Popened()
    with _FORKER_LOCK:
        if _FORKER is None or _FORKER.parent != os.getpid():  # none yet, or a parent's before a fork
            _FORKER = _Forker()
        elif _FORKER.process.poll() is not None:  # ours, and it has exited
            _FORKER.close()
            _FORKER = _Forker()
        try:
            return _FORKER.fork()
        except OSError:  # it exited between the look and the request: one more, once
            _FORKER.close()
            _FORKER = _Forker()
            return _FORKER.fork()


@atexit.register
def _close_forker() -> None:
    global _FORKER
    with _FORKER_LOCK:
        if _FORKER is not None and _FORKER.parent == os.getpid():
            _FORKER.close()
        _FORKER = None


def _closed_within(stream: IO[str], timeout: float) -> bool:
    """Whether the other end of ``stream`` closes within ``timeout`` seconds (what it sends is dropped)."""
    deadline = time.monotonic() + timeout
    with suppress(OSError, ValueError):
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([stream], [], [], left)
            if ready and not os.read(stream.fileno(), 65536):
                return True
    return False


def _readline(stream: IO[str], timeout: float) -> str:
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        raise TimeoutError(f"no answer within {timeout:g} s")
    return stream.readline()


def _serve_child() -> None:
    """The child's side: read the order, start the emulator, say where it listens, serve until
    stdin closes."""
    # The parent decides when to stop: a Ctrl-C in the terminal reaches the whole process group,
    # and the parent still needs the emulator for the ground truth of what was measured.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from harness.emulator import load_emulator_config, parse_emulator_config, start_emulator

    order = json.loads(sys.stdin.readline())
    if order.get("reference"):
        from harness.emulator._reference import ReferenceServer

        reference = ReferenceServer().start()
        try:
            print(json.dumps({"queue_url": reference.queue_url, "run_url": reference.queue_url,
                              "key": "reference:key", "admin_key": "", "pid": os.getpid()}), flush=True)
            _answer_until_closed()
        finally:
            reference.stop()
        return
    try:
        config = (load_emulator_config(Path(order["path"])) if order.get("path")
                  else parse_emulator_config(order.get("config") or {}))
        if order.get("contracts_dir") and config.contracts_dir is None:
            config = config.replace(contracts_dir=Path(order["contracts_dir"]))
        emulator = start_emulator(config)
    except HarnessError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return
    dedicate_to_serving()
    try:
        print(json.dumps({"queue_url": emulator.queue_url, "run_url": emulator.run_url, "key": emulator.key,
                          "admin_key": emulator.admin_key, "pid": os.getpid()}), flush=True)
        _answer_until_closed()
    finally:
        emulator.stop()


def dedicate_to_serving() -> None:
    """Tune a process whose only work from now on is serving a started emulator (its child process,
    ``fal-harness emulator``). Everything alive now lives as long as the server: it is kept out of
    every later collection, so a collection pause delays a status event less. Media are drawn on
    worker threads while the event loop writes status events: the loop then waits for the
    interpreter lock at most ``SWITCH_INTERVAL`` (Python's default is 5 ms)."""
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL)


def _answer_until_closed() -> None:
    """Serve until stdin closes, answering each ``cpu`` line with the CPU time used so far."""
    for line in sys.stdin:
        if line.strip() == "cpu":
            print(json.dumps({"cpu_s": time.process_time()}), flush=True)


def _fork_children() -> None:
    """The warm interpreter's side: import the emulator once, then fork a child for each request
    (a working folder, an environment and the child's two pipe ends) until the socket closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests = socket.socket(fileno=os.dup(0))
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    os.close(nothing)
    import harness.emulator  # the import each child would otherwise pay for
    import harness.emulator._reference  # noqa: F401
    from harness._resources import bundled
    from harness.contracts import load_contracts

    with suppress(HarnessError):  # and the bundled contracts' reading; a broken one is the child's to report
        load_contracts(bundled("contracts"))
    _warm_up()

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the system reaps the children
    gc.collect()
    gc.freeze()
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(requests, 1 << 20, 2)
        except OSError:
            return
        if not message or len(fds) != 2:
            return
        if os.fork() == 0:
            code = 0
            try:
                requests.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.dup2(fds[0], 0)
                os.dup2(fds[1], 1)
                for fd in fds:
                    os.close(fd)
                context = json.loads(message)
                os.chdir(context["cwd"])
                os.environ.clear()
                os.environ.update(context["env"])
                sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115  # lives as long as the child
                sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
                _serve_child()
            except BaseException:  # a child must never return into the request loop
                traceback.print_exc()
                code = 1
            finally:
                with suppress(Exception):
                    sys.stdout.flush()
                os._exit(code)
        for fd in fds:
            os.close(fd)


#: what a child's server loads on its start and first requests beyond the emulator's own imports
_SERVER_MODULES = ("uvicorn.lifespan.on", "uvicorn.protocols.http.httptools_impl",
                   "uvicorn.protocols.websockets.websockets_sansio_impl", "anyio._backends._asyncio",
                   "anyio.streams.memory", "anyio.streams.stapled", "encodings.idna")


def _warm_up() -> None:
    """Load in the warm interpreter what each child would load on its first requests (the server's
    protocol modules, Pillow's format plugins, the TLS context), so every child inherits it: one
    lifecycle on an in-process emulator, which leaves no thread behind to trouble a fork."""
    import asyncio
    import importlib

    from PIL import Image

    from harness._resources import bundled
    from harness._tls import ssl_context
    from harness.emulator import InProcessEmulator

    for name in _SERVER_MODULES:
        with suppress(ImportError):
            importlib.import_module(name)
    Image.init()
    ssl_context()
    ssl_context(trust_env=False)

    async def once() -> None:
        # The bundled contracts, whatever folder the caller's environment or working folder names.
        config = {"time_scale": 0, "contracts_dir": str(bundled("contracts"))}
        async with InProcessEmulator(config) as emulator, emulator.client() as client:
            handle = (await client.post("/fal-ai/flux-pro", json={"prompt": "warm up",
                                                                "image_size": {"width": 160, "height": 160}})).json()
            await client.get(f"{handle['status_url']}/stream")
            await client.get(handle["response_url"])

    with suppress(Exception):  # a warm-up that fails costs each child its first-request imports, no more
        asyncio.run(once())
