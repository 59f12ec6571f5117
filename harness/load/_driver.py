"""One load process's lifecycles: each sent through the harness's own client (its status stream and
its timing) on one event loop of the process's, each turned into a benchmark ``Record`` on that loop
as it ends, whoever waits for it, and kept in an outbox until the process hands it on.

Nothing here imports Locust: under Locust (gevent) the loop's thread is a greenlet and the futures
below wait cooperatively; anywhere else the same code runs on a real thread. One loop for the
process, not one per caller: greenlets share one OS thread, and asyncio allows one running loop on it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness._errors import BudgetExceeded
from harness._json import JsonObject, JsonValue, is_integer
from harness.bench import Record, measured_from_observation
from harness.client import AsyncQueueClient, Target
from harness.load._plan import LoadCase, LoadSettings

__all__ = ["Drained", "LifecycleDriver"]


@dataclass(frozen=True)
class Drained:
    """How a process's part of the run ended: the lifecycles it numbered and those it recorded; the
    difference is those a spent budget refused (nothing sent), those still running when the drain
    gave up (cancelled), and those a fault in the harness stopped (the error is logged)."""

    worker: str
    started: int
    recorded: int
    refused: int = 0
    unfinished: int = 0

    def to_dict(self) -> JsonObject:
        """As the worker's last message carries it."""
        return {"worker": self.worker, "started": self.started, "recorded": self.recorded, "refused": self.refused,
                "unfinished": self.unfinished}

    @classmethod
    def from_dict(cls, data: Mapping[str, JsonValue]) -> Drained:
        """From a worker's last message; a malformed one is a ValueError."""
        worker = data.get("worker")
        counts = [data.get(k) for k in ("started", "recorded", "refused", "unfinished")]
        numbers = [c for c in counts if is_integer(c)]
        if not isinstance(worker, str) or len(numbers) != len(counts):
            raise ValueError(f"not a drained message: {data!r}")
        started, recorded, refused, unfinished = numbers
        return cls(worker, started, recorded, refused, unfinished)


class LifecycleDriver:
    """Runs lifecycles for one process (a Locust worker, or a local run) and keeps their records.

    ``worker`` names the process in every lifecycle id (``<worker>/<sequence>``), so ids are
    unique across the processes of a run and a gap in one process's sequence shows a loss.
    """

    def __init__(self, target: Target, settings: LoadSettings, cases: Sequence[LoadCase], worker: str) -> None:
        self.settings = settings
        self.cases = tuple(cases)
        self.worker = worker
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fal-harness-load", daemon=True)
        self._thread.start()

        async def make() -> AsyncQueueClient:
            return AsyncQueueClient(target, max_connections=1000)

        self.client = asyncio.run_coroutine_threadsafe(make(), self._loop).result()
        self._sequence = itertools.count()
        self._lock = threading.Lock()
        self._outbox: list[Record] = []
        self._pending: set[concurrent.futures.Future[Record]] = set()
        self._warm_until_ns: int | None = None
        self._started = self._recorded = self._refused = 0

    def warm_up_until(self, t_ns: int | None) -> None:
        """Lifecycles started before ``t_ns`` (monotonic) are warm-up (Locust's ramp-up); ``None``: none are."""
        self._warm_until_ns = t_ns

    def run(self, case: LoadCase) -> Record:
        """Run one lifecycle to its end and return its record (also put in the outbox).

        The lifecycle runs on the client's loop: if the caller stops waiting (a Locust user stopped
        mid-task), it still ends there and its record still reaches the outbox. A spent budget raises
        :class:`~harness.BudgetExceeded` and records nothing (nothing was sent)."""
        with self._lock:
            sequence = next(self._sequence)
            self._started += 1
            future = asyncio.run_coroutine_threadsafe(self._lifecycle(case, sequence), self._loop)
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return future.result()

    def _forget(self, future: concurrent.futures.Future[Record]) -> None:
        with self._lock:
            self._pending.discard(future)

    async def _lifecycle(self, case: LoadCase, sequence: int) -> Record:
        lifecycle = f"{self.worker}/{sequence}"
        settings = self.settings
        started = time.monotonic_ns()
        try:
            obs = await self.client.lifecycle(
                case.endpoint, dict(case.payload), files=dict(case.files), detect=settings.detect,
                poll_interval=settings.poll_interval, scenario=case.scenario, tags={"lifecycle": lifecycle},
                timeout=settings.timeout,
            )
        except BudgetExceeded:
            with self._lock:
                self._refused += 1
            raise
        measured = measured_from_observation(obs, started, time.monotonic_ns())
        phases = dict(measured.phases_ns)
        phases["latency"] = measured.ended_ns - started  # a closed loop: each starts when it was meant to
        warm = self._warm_until_ns
        record = Record(
            run_id="", series=case.series, index=sequence, warmup=warm is not None and started < warm, cold=False,
            intended_start_ns=started, started_ns=measured.started_ns, ended_ns=measured.ended_ns,
            phases_ns=phases, error=measured.error, request_id=measured.request_id, endpoint=measured.endpoint,
            labels=case.labels(settings), observation=measured.observation, lifecycle=lifecycle,
        )
        with self._lock:
            self._outbox.append(record)
            self._recorded += 1
        return record

    def take(self) -> list[Record]:
        """The records finished since the last take, in the order they ended."""
        with self._lock:
            taken, self._outbox = self._outbox, []
        return taken

    def drain(self, timeout: float) -> Drained:
        """Wait up to ``timeout`` seconds for the lifecycles still running, cancel what is left, and
        say how the process's part ended; the records are then all in the outbox."""
        with self._lock:
            pending = list(self._pending)
        _, left = concurrent.futures.wait(pending, timeout=timeout)
        for future in left:
            future.cancel()
        with self._lock:
            return Drained(self.worker, self._started, self._recorded, self._refused, len(left))

    def close(self) -> None:
        """Close the client's connections and stop its loop; safe to call twice."""
        if self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self.client.aclose(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
