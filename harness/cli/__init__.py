"""The ``fal-harness`` command: a thin front door over the library.

Every user mistake ends as one line on stderr and exit code 2; a failed check or a regression
exits 1; success exits 0. Each command imports the parts of the library it runs inside itself, so
``fal-harness --help`` and every command load only what they use.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence

import click

from harness import ConfigError, HarnessError
from harness.cli import (
    _bench,  # noqa: F401  (registers its commands)
    _cassettes,  # noqa: F401  (registers its commands)
    _checks,  # noqa: F401  (registers its commands)
    _contracts,  # noqa: F401  (registers its commands)
    _drift,  # noqa: F401  (registers its commands)
    _emulator,  # noqa: F401  (registers its commands)
    _load,  # noqa: F401  (registers its commands)
    _report,  # noqa: F401  (registers its commands)
    _run,  # noqa: F401  (registers its commands)
)
from harness.cli._app import cli

__all__ = ["cli", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fal-harness`` with ``argv`` (default: the command line) and return its exit code."""
    with _terminate_as_interrupt():
        return _main(argv)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CI job cancelled, a container stopped) stops a run as Ctrl-C does, so it still
    writes the report of what finished. Only the main thread may handle signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt("terminated (SIGTERM)")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: Sequence[str] | None) -> int:
    try:
        result = cli.main(args=list(argv) if argv is not None else None, prog_name="fal-harness",
                          standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:
        # A group run without a command: show what it offers (click's own behaviour, on stdout).
        click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
        return 0
    except click.exceptions.Abort as exc:
        # click turns Ctrl-C into Abort; the interrupt's own message says where the report is.
        stop = exc.__cause__ or exc.__context__
        _say(str(stop) if isinstance(stop, KeyboardInterrupt) and str(stop) else "aborted")
        return 130
    except click.UsageError as exc:
        where = f" (see 'fal-harness {exc.ctx.command_path.partition(' ')[2]} --help')".replace(
            "  ", " ") if exc.ctx else ""
        _say(f"{exc.format_message()}{where}")
        return 2
    except ConfigError as exc:
        _say(str(exc))
        return 2
    except ModuleNotFoundError as exc:
        from harness.bench import BENCH_HINT, BENCH_MODULES

        top = (exc.name or "").split(".")[0]
        if top not in BENCH_MODULES:
            raise
        _say(f"this command needs the bench extra ({BENCH_MODULES[top]} is not installed): {BENCH_HINT}")
        return 2
    except HarnessError as exc:
        _say(str(exc))
        return 1
    except KeyboardInterrupt as exc:
        _say(str(exc) or "interrupted")
        return 130
    return result if isinstance(result, int) else 0


def _say(message: str) -> None:
    first = message.strip().splitlines()[0] if message.strip() else "error"
    print(f"fal-harness: error: {first}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
