from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fal-harness")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0+unknown"

#: the prefix of the user agent the emulator's own requests carry (fetching a file input, calling a
#: webhook), so a recording of an app's traffic can tell them from the app's
EMULATOR_AGENT_PREFIX = "fal-emulator/"
EMULATOR_AGENT = f"{EMULATOR_AGENT_PREFIX}{__version__}"
