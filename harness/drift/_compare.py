"""One comparison: two sources in, one report out.

Declared against declared compares schemas and the queue protocol; declared against observed judges the traffic.
"""

from __future__ import annotations

from harness._errors import ConfigError
from harness.contracts import Contract
from harness.drift._diff import compare_contracts
from harness.drift._observed import ObservedSchema, compare_observed
from harness.drift._protocol import compare_observed_protocol, compare_protocols
from harness.drift._report import DriftReport, Finding
from harness.drift._sources import Source, contract_protocol, shown_path

__all__ = ["as_source", "compare"]


def as_source(value: Source | Contract | ObservedSchema) -> Source:
    """A source for a contract or an observed schema built in code."""
    if isinstance(value, Source):
        return value
    if isinstance(value, Contract):
        file = shown_path(value.source) if value.source else None
        return Source(file or value.endpoint, "contract", value, contract_protocol(value), file=file)
    return Source(f"observed {value.endpoint}", "observed", observed=value)


def compare(old: Source | Contract, new: Source | Contract | ObservedSchema) -> DriftReport:
    """Every change from ``old`` to ``new``, each judged by its rule.

    ``new`` may be observed traffic; ``old`` is then the declaration it is held to.
    """
    before, after = as_source(old), as_source(new)
    if before.contract is None:
        raise ConfigError(f"{before.spec}: observed traffic can only be the side compared against (--against)")
    findings: list[Finding]
    if after.observed is not None:
        observed = after.observed
        if observed.endpoint and observed.endpoint != before.contract.endpoint:
            raise ConfigError(f"{after.spec}: the traffic is of {observed.endpoint}, "
                              f"not {before.contract.endpoint}")
        findings = compare_observed(before.contract, observed)
        if before.protocol is not None and observed.protocol is not None:
            findings += compare_observed_protocol(before.protocol, observed.protocol)
    else:
        assert after.contract is not None
        findings = compare_contracts(before.contract, after.contract)
        if before.protocol is not None and after.protocol is not None:
            findings += compare_protocols(before.protocol, after.protocol)
    return DriftReport(before.contract.endpoint, before.info, after.info, tuple(findings))
