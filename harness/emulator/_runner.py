"""What a runner does with one request: validate, fetch its files, spend its run time writing
logs, make its files (images, video, audio, meshes...), store them, and answer with the model's
output or the model's error.
"""

from __future__ import annotations

import asyncio
import functools
import math
import secrets
from typing import Any

from harness.contracts import validate_input
from harness.emulator._files import FileResolver
from harness.emulator._http import dumps, validation_entries
from harness.emulator._model import RunPlan, StandInModel
from harness.emulator._queue import RUN_MODES, Job, Outcome
from harness.emulator._storage import BlobStore

__all__ = ["Runner"]

_INLINE_PIXELS = 128 * 128


class Runner:
    def __init__(self, store: BlobStore, files: FileResolver, queue_base: str, run_base: str) -> None:
        self.store = store
        self.files = files
        self.files_base = f"{queue_base}/files/"
        # Files of a direct call live on the address it was made to, so a client that trusts only
        # its base URL's origin can download them.
        self.run_files_base = f"{run_base}/files/"

    async def __call__(self, job: Job) -> Outcome:
        model = job.endpoint.model
        payload = job.payload
        violations = validate_input(model.contract, payload)
        if violations:
            return Outcome.model_error(validation_entries(violations))
        digests, file_errors = await self.files.resolve(model.contract, payload)
        if file_errors:
            return Outcome.model_error(file_errors)
        plan = model.plan(payload, digests, job.endpoint.seed_rng)
        if not isinstance(plan, RunPlan):
            return Outcome.model_error(plan)
        base = self.run_files_base if job.mode in RUN_MODES else self.files_base
        streams = job.mode == "stream" and model.contract.streaming is not None
        schedule = self._schedule(job) if streams else None  # a stream's run time is its schedule's
        # Files are drawn (or taken from the media cache) on a worker thread, names and ETags worked
        # out there too, while the run's sampled time passes: the run then takes the time its latency
        # model says (the drawing hidden in it when it fits), and the event loop keeps answering
        # status and writing stream events meanwhile. Small pictures alone are drawn in place at the
        # end: in less time than the hop to a thread.
        produce = functools.partial(model.produce, plan, base, job.run_seconds, _storage_key)
        small = plan.pixels <= _INLINE_PIXELS and all(f.media.kind in ("image", "file") for f in plan.files)
        making = None if small else asyncio.ensure_future(asyncio.to_thread(produce))
        if making is not None:  # its failure is retrieved even when nobody waits for it
            making.add_done_callback(lambda done: done.cancelled() or done.exception())
        try:
            if schedule is not None:
                await self._stream(job, model, plan, base, schedule)
            else:
                await self._spend(job, plan)
            fault = job.fault
            if fault is not None and fault.fault == "completed_with_error":
                error_type = str(fault.params.get("error_type", "runner_disconnected"))
                message = str(fault.params.get("message", error_type.replace("_", " ").capitalize()))
                return Outcome.request_error(int(fault.params.get("status", 503)), message, error_type)
            produced = produce() if making is None else await making
        finally:
            if making is not None:  # a run cancelled or failed by a fault stores no files
                making.cancel()
        for key, made in produced.stored:
            self.store.put_at(key, made.data, made.content_type, made.etag)
        return Outcome(200, dumps(produced.output), {"x-fal-billable-units": str(produced.count)})

    @staticmethod
    def _schedule(job: Job) -> tuple[float, list[float]]:
        """A stream's schedule: the delay to its first event and the gap after each event (the last
        one before the output), their sum its run time."""
        endpoint = job.endpoint
        streaming = endpoint.model.contract.streaming
        assert streaming is not None
        first = endpoint.scaled(endpoint.settings.first_event.sample(endpoint.latency_rng))
        gaps = [endpoint.scaled(endpoint.settings.event_gap.sample(endpoint.latency_rng))
                for _ in range(streaming.count)]
        job.run_seconds = first + sum(gaps)
        job.timeline["sampled"].update(first_event_s=first, event_gaps_s=gaps, run_time_s=job.run_seconds)
        return first, gaps

    async def _stream(self, job: Job, model: StandInModel, plan: RunPlan, base: str,
                      schedule: tuple[float, list[float]]) -> None:
        """Send the stream's events on its schedule: the first after ``first_event``, each next one
        (and then the output) ``event_gap`` later."""
        streaming = model.contract.streaming
        assert streaming is not None
        count = streaming.count
        first, gaps = schedule
        words = plan.text.split(" ")
        preview = (model.produce(plan, base, job.run_seconds, _storage_key, with_files=False).output
                   if streaming.events == "partial" else {})
        for i in range(1, count + 1):
            delay = first if i == 1 else gaps[i - 2]
            if delay > 0:
                await asyncio.sleep(delay)
            event: dict[str, Any]
            if streaming.events == "partial":
                event = model.partial_output(preview, " ".join(words[: math.ceil(len(words) * i / (count + 1))]))
            else:
                event = {"progress": round(i / count, 6), "message": f"Step {i}/{count}"}
            job.add_event(dumps(event))
        if gaps[-1] > 0:
            await asyncio.sleep(gaps[-1])

    async def _spend(self, job: Job, plan: RunPlan) -> None:
        """Sleep the sampled run time, writing the configured number of log lines across it."""
        lines = job.endpoint.settings.log_lines
        seconds = job.run_seconds
        if lines <= 0:
            if seconds > 0:
                await asyncio.sleep(seconds)
            return
        job.add_log(f"Running {job.endpoint.name} (seed {plan.seed})" if plan.seed is not None
                    else f"Running {job.endpoint.name}")
        for step in range(1, lines):
            if seconds > 0:
                await asyncio.sleep(seconds / lines)
            if step < lines - 1:
                job.add_log(f"Step {step}/{lines - 2}")
        if seconds > 0:
            await asyncio.sleep(seconds / lines)
        if lines > 1:
            job.add_log(f"Generated {len(plan.files)} file(s) in {seconds:.3f}s")


def _storage_key(file_name: str) -> str:
    """Where a generated file is stored and served: a fresh token, then its name."""
    return f"{secrets.token_hex(10)}/{file_name}"
