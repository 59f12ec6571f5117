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
    load_emulator_config,
    parse_emulator_config,
)
from harness.emulator._server import Emulator, patch_fal_client, start_emulator

__all__ = [
    "Emulator",
    "EmulatorConfig",
    "EndpointSettings",
    "FaultRule",
    "Latency",
    "Limits",
    "WebhookSettings",
    "load_emulator_config",
    "parse_emulator_config",
    "patch_fal_client",
    "start_emulator",
]
