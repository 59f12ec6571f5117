"""The local fal-compatible emulator: fal's queue, sync, storage and webhook APIs on loopback,
answering every endpoint that has a contract, with a latency model, a fault plan and ground truth.

    with start_emulator() as emulator, patch_fal_client(emulator):
        fal_client.subscribe("fal-ai/flux-pro", {"prompt": "a fox"})
"""

from typing import TYPE_CHECKING

from harness._lazy import lazy_attributes
from harness.emulator._app import ADMIN_HEADER
from harness.emulator._config import (
    DEFAULT_KEY,
    EmulatorConfig,
    EndpointSettings,
    FaultRule,
    Latency,
    Limits,
    WebhookSettings,
    accept_environment_key,
    load_emulator_config,
    parse_emulator_config,
)
from harness.emulator._node import NODE_PRELOAD, node_redirect_env
from harness.emulator._process import EmulatorProcess, dedicate_to_serving
from harness.emulator._server import (
    IN_PROCESS_URLS,
    MAX_PORT,
    Emulator,
    InProcessEmulator,
    fal_client_urls,
    patch_fal_client,
    start_emulator,
)

if TYPE_CHECKING:
    from harness.emulator._bench import run_bench

__all__ = [
    "ADMIN_HEADER",
    "DEFAULT_KEY",
    "IN_PROCESS_URLS",
    "MAX_PORT",
    "NODE_PRELOAD",
    "Emulator",
    "EmulatorConfig",
    "EmulatorProcess",
    "EndpointSettings",
    "FaultRule",
    "InProcessEmulator",
    "Latency",
    "Limits",
    "WebhookSettings",
    "accept_environment_key",
    "dedicate_to_serving",
    "fal_client_urls",
    "load_emulator_config",
    "node_redirect_env",
    "parse_emulator_config",
    "patch_fal_client",
    "run_bench",
    "start_emulator",
]

# The load test drives the emulator with the harness's client: loaded when asked for.
__getattr__ = lazy_attributes(
    __name__, {"run_bench": "harness.emulator._bench"}, globals())
