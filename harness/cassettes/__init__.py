"""Cassettes: recorded traffic of one scenario lifecycle each, replayed offline through the client.

Recording, replay in vcrpy's mode none, scrubbing, verification, mutation and drift's traffic reader.
"""

from harness.cassettes._format import BODIES_DIR, body_refs, is_cassette_file, read_cassette, write_cassette
from harness.cassettes._model import (
    CANONICAL_URLS,
    FORMAT,
    VARIANTS,
    Cassette,
    CassetteHeader,
    Expect,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    Variant,
    cassette_path,
    get_variant,
)
from harness.cassettes._mutate import MUTATIONS, mutate
from harness.cassettes._record import (
    RECORD_MODES,
    PlannedCassette,
    RecordOutcome,
    arecord_cassette,
    plan_recording,
    prune_bodies,
    record_cassettes,
)
from harness.cassettes._replay import (
    cassette_files,
    iter_outputs,
    load_observations,
    read_traffic,
    replay_recorded,
    replay_scenario,
    replay_target,
    scenario_cassette,
    scenario_variant,
)
from harness.cassettes._verify import Verdict, verify_cassette, verify_cassettes

__all__ = [
    "BODIES_DIR",
    "CANONICAL_URLS",
    "FORMAT",
    "MUTATIONS",
    "RECORD_MODES",
    "VARIANTS",
    "Cassette",
    "CassetteHeader",
    "Expect",
    "Interaction",
    "PlannedCassette",
    "RecordOutcome",
    "RecordedRequest",
    "RecordedResponse",
    "Variant",
    "Verdict",
    "arecord_cassette",
    "body_refs",
    "cassette_files",
    "cassette_path",
    "get_variant",
    "is_cassette_file",
    "iter_outputs",
    "load_observations",
    "mutate",
    "plan_recording",
    "prune_bodies",
    "read_cassette",
    "read_traffic",
    "record_cassettes",
    "replay_recorded",
    "replay_scenario",
    "replay_target",
    "scenario_cassette",
    "scenario_variant",
    "verify_cassette",
    "verify_cassettes",
    "write_cassette",
]
