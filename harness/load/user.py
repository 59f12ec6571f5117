"""The Locust user, for Locust files: ``from harness.load.user import FalQueueUser``.

Importing this module imports Locust, which patches the interpreter with gevent: only a Locust
process should. Everything else of a load run is on ``harness.load``, which imports neither.
"""

from harness.load._locust import FalQueueUser

__all__ = ["FalQueueUser"]
