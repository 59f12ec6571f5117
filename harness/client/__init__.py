"""The instrumented queue client: talks to a target and records observations as plain data.

Every attempt goes through :class:`InstrumentedTransport` (budget, timing, recording, retry).
"""

from harness._target import DEFAULT_LIVE_BUDGET, Budget, SharedBudget, TargetSpec
from harness.client._client import (
    SUBMIT_KEYS,
    USER_AGENT,
    AsyncQueueClient,
    ClientOptions,
    Files,
    QueueClient,
    SubmitHandle,
    recording,
)
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
from harness.client._targets import LIVE_URLS, Target, emulator_target, live_key, live_target, url_target
from harness.client._transport import (
    BlockingTransport,
    Call,
    InstrumentedTransport,
    current_observation,
    observing,
    ssl_context,
)

__all__ = [
    "DEFAULT_LIVE_BUDGET",
    "FAL_JS",
    "FAL_PYTHON",
    "LIVE_URLS",
    "NO_RETRY",
    "SUBMIT_KEYS",
    "USER_AGENT",
    "AsyncQueueClient",
    "BlockingTransport",
    "Budget",
    "Call",
    "ClientOptions",
    "Download",
    "ErrorInfo",
    "Exchange",
    "FileInput",
    "FileMode",
    "FileUse",
    "Files",
    "InstrumentedTransport",
    "LocalFileHost",
    "Observation",
    "QueueClient",
    "RetryPolicy",
    "SharedBudget",
    "StatusSeen",
    "StreamEvent",
    "SubmitHandle",
    "Target",
    "TargetSpec",
    "build_body",
    "current_observation",
    "data_uri",
    "emulator_target",
    "live_key",
    "live_target",
    "observing",
    "recording",
    "ssl_context",
    "url_target",
]
