"""The instrumented queue client: talks to a target and records observations as plain data."""

from harness.client._client import AsyncQueueClient, QueueClient, SubmitHandle, recording
from harness.client._files import FileInput, FileMode, LocalFileHost, build_body, data_uri
from harness.client._observations import (
    Download,
    ErrorInfo,
    Exchange,
    FileUse,
    Observation,
    StatusSeen,
    StreamEvent,
)
from harness.client._retry import FAL_JS, FAL_PYTHON, NO_RETRY, RetryPolicy
from harness.client._targets import (
    LIVE_URLS,
    Budget,
    SharedBudget,
    Target,
    emulator_target,
    live_key,
    live_target,
    resolve_target,
    url_target,
)
from harness.client._transport import ssl_context

__all__ = [
    "FAL_JS",
    "FAL_PYTHON",
    "LIVE_URLS",
    "NO_RETRY",
    "AsyncQueueClient",
    "Budget",
    "Download",
    "ErrorInfo",
    "Exchange",
    "FileInput",
    "FileMode",
    "FileUse",
    "LocalFileHost",
    "Observation",
    "QueueClient",
    "RetryPolicy",
    "SharedBudget",
    "StatusSeen",
    "StreamEvent",
    "SubmitHandle",
    "Target",
    "build_body",
    "data_uri",
    "emulator_target",
    "live_key",
    "live_target",
    "recording",
    "resolve_target",
    "ssl_context",
    "url_target",
]
