"""Sustained load on fal's queue API with Locust, recorded as a harness benchmark run.

Each simulated user runs lifecycles back to back through the harness's own client: it submits the
contract scenario's input, follows the status stream to COMPLETED, fetches the result and its
files, and times every phase as ``fal-harness bench`` does. Every lifecycle, from the master and
all its workers, lands in one run folder (``requests.jsonl``, ``summary.json``, the emulator's
``truth.jsonl``) that ``fal-harness report`` and ``fal-harness bench compare`` read; Locust's own
statistics get one ``fal`` row per endpoint.

    # one process, against an emulator started with `fal-harness emulator --port 8470`
    locust -f examples/load/locustfile.py --host http://127.0.0.1:8470 --headless -u 20 -r 20 -t 1m

    # a master and workers (on this machine or others); the master writes the run folder
    locust -f examples/load/locustfile.py --master --host http://127.0.0.1:8470 --headless -u 50 -r 50 -t 5m \\
        --expect-workers 2 --fal-endpoint fal-ai/flux-pro,fal-ai/fast-lcm-diffusion
    locust -f examples/load/locustfile.py --worker --master-host <master>

    # or let the harness start the emulator, the master and the workers
    fal-harness load --workers 2 -u 50 -t 300 --locustfile examples/load/locustfile.py

The ``--fal-*`` options (``locust --help``) choose the endpoints, the scenario, stream or poll
detection, the output folder and the request budget; see docs/load.md.
"""

from locust import between

from harness.load.user import FalQueueUser


class QueueUser(FalQueueUser):
    """A caller that thinks a little between requests; drop ``wait_time`` for back-to-back lifecycles."""

    wait_time = between(0.1, 0.5)
