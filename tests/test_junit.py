"""The one JUnit writer: suites count their cases, failures and skips; a failure keeps its type and text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness._junit import JUnitCase, JUnitSuite, junit_xml


def test_suites_count_their_cases_and_the_whole_counts_them_all() -> None:
    text = junit_xml("fal-harness run", [
        JUnitSuite("contract suite", [
            JUnitCase("fal-ai/flux-pro", "defaults"),
            JUnitCase("fal-ai/flux-pro", "custom-size", failure="output.image-size", failure_type="output.image-size",
                      text="[output.image-size] image 0 is 512x480, 640x480 asked for\n  at images[0]"),
        ], {"target": "emulator"}),
        JUnitSuite("latency", [JUnitCase("latency", "no regression", skipped="not measured", system_out="why")]),
    ])
    root = ET.fromstring(text)
    assert (root.get("name"), root.get("tests"), root.get("failures")) == ("fal-harness run", "3", "1")
    contract, latency = root
    assert (contract.get("tests"), contract.get("failures"), contract.get("skipped")) == ("2", "1", "0")
    assert contract.find("properties/property[@name='target']").get("value") == "emulator"  # type: ignore[union-attr]
    failure = contract.find("testcase[@name='custom-size']/failure")
    assert failure is not None and failure.get("type") == "output.image-size"
    assert failure.text is not None and failure.text.endswith("at images[0]")
    assert contract.find("testcase[@name='defaults']/failure") is None
    assert latency.get("skipped") == "1" and latency.find("testcase/system-out").text == "why"  # type: ignore[union-attr]
