"""Your app's fal calls under test: every fal client in the process pointed at an emulator, at a
recording being made, or at a recording played back offline, and put back afterwards.

    with start_emulator() as emulator, open_sandbox(emulator_target(emulator)):
        my_app.make_poster("a lighthouse")      # its fal_client calls reach the emulator
"""

from typing import TYPE_CHECKING

from harness._lazy import lazy_attributes
from harness.sandbox._python import FalClientRedirect, fal_client_urls, patch_fal_client

if TYPE_CHECKING:
    from harness.sandbox._sandbox import REPLAY_KEY, SANDBOX_MODES, Sandbox, open_sandbox, sandbox_mode

__all__ = ["REPLAY_KEY", "SANDBOX_MODES", "FalClientRedirect", "Sandbox", "fal_client_urls", "open_sandbox",
           "patch_fal_client", "sandbox_mode"]

__getattr__ = lazy_attributes(__name__, dict.fromkeys(("REPLAY_KEY", "SANDBOX_MODES", "Sandbox", "open_sandbox",
                                                       "sandbox_mode"), "harness.sandbox._sandbox"), globals())
