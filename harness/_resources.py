"""Where bundled data lives: inside the installed package, or beside it in a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def bundled(name: str) -> Path:
    """The bundled copy of a top-level data folder (``contracts``, ``cassettes``...)."""
    installed = _PACKAGE / "_bundled" / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name


def fixture(name: str) -> Path:
    """A small file the harness ships for scenarios and the emulator (face image, archive...)."""
    return _PACKAGE / "fixtures" / name
