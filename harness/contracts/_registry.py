"""Find and load every contract in a folder; one file per endpoint, found by walking the folder."""

from __future__ import annotations

import difflib
import os
from functools import lru_cache
from pathlib import Path

from harness._errors import ConfigError, DataFileError
from harness._resources import bundled
from harness.contracts._loader import load_contract
from harness.contracts._model import Contract

__all__ = ["contracts_dir", "get_contract", "load_contracts"]

ENV_DIR = "FAL_HARNESS_CONTRACTS"


def contracts_dir(directory: str | Path | None = None) -> Path:
    """The folder to read: the argument, ``$FAL_HARNESS_CONTRACTS``, ``./contracts``, or the
    bundled contracts, in that order."""
    if directory is not None:
        path = Path(directory)
    elif os.environ.get(ENV_DIR):
        path = Path(os.environ[ENV_DIR])
    elif Path("contracts").is_dir():
        path = Path("contracts")
    else:
        path = bundled("contracts")
    if not path.is_dir():
        raise ConfigError(f"contracts folder not found: {path}")
    return path


def load_contracts(directory: str | Path | None = None) -> dict[str, Contract]:
    """Every contract under the folder, keyed and sorted by endpoint id."""
    return dict(_load_all(contracts_dir(directory).resolve()))


@lru_cache(maxsize=8)
def _load_all(root: Path) -> tuple[tuple[str, Contract], ...]:
    found: dict[str, Contract] = {}
    for path in sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")]):
        contract = load_contract(path)
        if contract.endpoint in found:
            other = found[contract.endpoint].source
            raise DataFileError(path, "endpoint", f"{contract.endpoint!r} is also defined in {other}")
        found[contract.endpoint] = contract
    return tuple(sorted(found.items()))


def get_contract(endpoint: str, directory: str | Path | None = None) -> Contract:
    """The contract of ``endpoint`` from ``directory`` (the bundled contracts by default); an unknown
    endpoint is a ConfigError naming the closest known one."""
    contracts = load_contracts(directory)
    if endpoint in contracts:
        return contracts[endpoint]
    close = difflib.get_close_matches(endpoint, list(contracts), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(contracts) or 'none'})"
    raise ConfigError(f"unknown endpoint {endpoint!r}{hint}")
