"""The Locust file ``fal-harness load`` runs: one user class that drives fal's queue through the
harness's client and records every lifecycle (see ``harness.load`` and docs/load.md).

    locust -f harness/load/locustfile.py --host http://127.0.0.1:8470 --headless -u 20 -r 20 -t 1m
"""

from harness.load.user import FalQueueUser


class QueueUser(FalQueueUser):
    """Lifecycles back to back, the contract scenario's input, completion seen on the status stream."""
