"""The local fal-compatible emulator: fal's queue, sync, storage and webhook APIs on loopback,
answering every endpoint that has a contract, with a latency model, a fault plan and ground truth.

    with start_emulator() as emulator, patch_fal_client(emulator):
        fal_client.subscribe("fal-ai/flux-pro", {"prompt": "a fox"})
"""

from harness.emulator._config import (
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
from harness.emulator._process import EmulatorProcess
from harness.emulator._server import (
    IN_PROCESS_URLS,
    Emulator,
    InProcessEmulator,
    fal_client_urls,
    patch_fal_client,
    start_emulator,
)

__all__ = [
    "IN_PROCESS_URLS",
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
    "fal_client_urls",
    "load_emulator_config",
    "node_redirect_env",
    "parse_emulator_config",
    "patch_fal_client",
    "start_emulator",
]
