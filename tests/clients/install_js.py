"""Install fal's JavaScript clients, pinned by tests/clients/js/package-lock.json, into a cache
folder with ``npm ci``; reinstalled only when the lock changes. Run by .ci/run and by the client
tests, which fail (never skip) when it fails.

    python tests/clients/install_js.py [CACHE]        # prints the node_modules folder
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

JS = Path(__file__).resolve().parent / "js"
ROOT = JS.parents[2]
DEFAULT_CACHE = ROOT / ".cache" / "js-clients"


class InstallError(RuntimeError):
    """npm could not install the pinned clients."""


def ensure_js_clients(cache: Path | None = None) -> Path:
    """The ``node_modules`` folder holding the pinned clients, installing them first if needed."""
    cache = Path(cache or os.environ.get("FAL_HARNESS_JS_CACHE") or DEFAULT_CACHE)
    cache.mkdir(parents=True, exist_ok=True)
    manifest = [(JS / name).read_bytes() for name in ("package.json", "package-lock.json")]
    digest = hashlib.sha256(b"\0".join(manifest)).hexdigest()
    stamp = cache / "installed.sha256"
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers and CI may ask at once
        if stamp.is_file() and stamp.read_text() == digest and (cache / "node_modules").is_dir():
            return cache / "node_modules"
        npm = shutil.which("npm")
        if npm is None:
            raise InstallError("npm is not on PATH: the client tests need Node.js 20 and npm")
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(JS / name, cache / name)
        stamp.unlink(missing_ok=True)
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=cache,
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise InstallError(f"npm ci failed in {cache} (exit {done.returncode}): "
                               f"{(done.stderr or done.stdout).strip()[-2000:]}")
        stamp.write_text(digest)
    return cache / "node_modules"


if __name__ == "__main__":
    try:
        print(ensure_js_clients(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
    except InstallError as exc:
        print(f"install_js: {exc}", file=sys.stderr)
        sys.exit(1)
