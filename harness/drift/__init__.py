"""Schema drift: compare two schemas of an endpoint (contracts, OpenAPI documents, git revisions,
observed traffic) and report each change under a stable rule id, judged by what it breaks."""

from harness.drift._alert import alert_payload, check_alert_url, post_alert
from harness.drift._compare import compare
from harness.drift._diff import ASPECTS, FieldPair, aspect
from harness.drift._formats import FORMATS, SET_FORMAT, render, verdict, writer
from harness.drift._ignore import IgnoreEntry, apply_ignores, load_ignore_file, parse_ignores
from harness.drift._observed import ObservedNode, ObservedSchema, observed_from_observations, observed_from_outputs
from harness.drift._protocol import ObservedProtocol, QueueProtocol, protocol_from_openapi
from harness.drift._report import REPORT_FORMAT, DriftReport, Finding, IgnoredFinding, SourceInfo
from harness.drift._rules import LEVELS, RULES, Direction, Level, Rule
from harness.drift._schema import REPORT_SCHEMA, REPORT_SET_SCHEMA
from harness.drift._sources import (
    Source,
    TrafficReader,
    load_source,
    read_observations_jsonl,
    register_traffic_reader,
    sources_in_dir,
)

__all__ = [
    "ASPECTS",
    "FORMATS",
    "LEVELS",
    "REPORT_FORMAT",
    "REPORT_SCHEMA",
    "REPORT_SET_SCHEMA",
    "RULES",
    "SET_FORMAT",
    "Direction",
    "DriftReport",
    "FieldPair",
    "Finding",
    "IgnoreEntry",
    "IgnoredFinding",
    "Level",
    "ObservedNode",
    "ObservedProtocol",
    "ObservedSchema",
    "QueueProtocol",
    "Rule",
    "Source",
    "SourceInfo",
    "TrafficReader",
    "alert_payload",
    "apply_ignores",
    "aspect",
    "check_alert_url",
    "compare",
    "load_ignore_file",
    "load_source",
    "observed_from_observations",
    "observed_from_outputs",
    "parse_ignores",
    "post_alert",
    "protocol_from_openapi",
    "read_observations_jsonl",
    "register_traffic_reader",
    "render",
    "sources_in_dir",
    "verdict",
    "writer",
]
