"""JUnit XML, the one writer every report uses (the main job's ``junit.xml``, drift's ``junit`` format):
suites of test cases, each passed, failed (with a message, a type and the failure's text) or skipped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["JUnitCase", "JUnitSuite", "junit_xml"]


@dataclass(frozen=True)
class JUnitCase:
    """One test case: passed unless it has a failure message, skipped when it has a skip reason."""

    classname: str
    name: str
    failure: str | None = None
    """The failure's one-line message (``None``: it did not fail)."""
    failure_type: str | None = None
    """What kind of failure: a check id, a drift level."""
    text: str | None = None
    """The failure's full text."""
    skipped: str | None = None
    system_out: str | None = None
    """Output shown beside the case whatever its outcome."""


@dataclass(frozen=True)
class JUnitSuite:
    """A suite of cases, with the properties it was run with."""

    name: str
    cases: Sequence[JUnitCase]
    properties: Mapping[str, str] = field(default_factory=dict)


def junit_xml(name: str, suites: Sequence[JUnitSuite]) -> str:
    """The suites as an indented JUnit XML document; each suite and the whole count their tests,
    failures and skips."""
    root = ET.Element("testsuites", name=name)
    total = failed = 0
    for suite in suites:
        failures = sum(1 for c in suite.cases if c.failure is not None)
        skipped = sum(1 for c in suite.cases if c.skipped is not None)
        element = ET.SubElement(root, "testsuite", name=suite.name, tests=str(len(suite.cases)),
                                failures=str(failures), errors="0", skipped=str(skipped))
        if suite.properties:
            props = ET.SubElement(element, "properties")
            for key, value in suite.properties.items():
                ET.SubElement(props, "property", name=key, value=value)
        for case in suite.cases:
            item = ET.SubElement(element, "testcase", classname=case.classname, name=case.name)
            if case.failure is not None:
                failure = ET.SubElement(item, "failure", message=case.failure)
                if case.failure_type is not None:
                    failure.set("type", case.failure_type)
                failure.text = case.text
            if case.skipped is not None:
                ET.SubElement(item, "skipped", message=case.skipped)
            if case.system_out is not None:
                ET.SubElement(item, "system-out").text = case.system_out
        total += len(suite.cases)
        failed += failures
    root.set("tests", str(total))
    root.set("failures", str(failed))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
