"""The results file's contract, written once: `results.schema.json` (shipped in the package).

`scoreclaims verify` validates the document it writes against it (`validate`), and `scoreclaims
report` validates what it reads, so a results file with an unknown verdict, a missing field or a
verdict that contradicts its own expectation is refused with one line (exit status 2) rather than
rendered. The vocabularies the producer and the report share (verdicts, expectations, the verdict
each expectation asks for, the framework's own metrics, "n/a") are read from that file.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

SCHEMA_FILE = "results.schema.json"


@functools.cache
def schema() -> dict[str, Any]:
    """The JSON Schema of a results file."""
    return json.loads(resources.files(__package__).joinpath(SCHEMA_FILE).read_text("utf-8"))


def _definition(name: str) -> Any:
    block = schema()["definitions"][name]
    return block["enum"] if "enum" in block else block["const"]


SCHEMA_ID: str = schema()["properties"]["schema"]["const"]
VERDICTS: tuple[str, ...] = tuple(_definition("verdict"))
EXPECTATIONS: tuple[str, ...] = tuple(_definition("expectation"))
EXPECTED_VERDICT: Mapping[str, str] = dict(_definition("expected_verdict"))
NOT_APPLICABLE: str = _definition("not_applicable")
FRAMEWORK_METRICS: frozenset[str] = frozenset(_definition("framework_metrics"))


class SchemaError(ValueError):
    """A document that is not a valid results file (the message is one line)."""


@functools.cache
def _validator() -> Callable[[Any], Any]:
    import fastjsonschema

    return fastjsonschema.compile(schema())


def validate(document: Any) -> None:
    """Raise `SchemaError` unless `document` is a valid, self-consistent results file."""
    import fastjsonschema

    try:
        _validator()(document)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise SchemaError(" ".join(str(exc.message).replace("data", "results", 1).split())
                          ) from None
    claims = document["claims"]
    summary = document["summary"]
    for i, claim in enumerate(claims):
        matches = EXPECTED_VERDICT[claim["expected"]] == claim["verdict"]
        if claim["matches_expectation"] != matches:
            raise SchemaError(f"results.claims[{i}] ({claim['id']}): matches_expectation is "
                              f"{claim['matches_expectation']} for verdict {claim['verdict']!r} "
                              f"and expectation {claim['expected']!r}")
    mismatched = [c["id"] for c in claims if not c["matches_expectation"]]
    if summary["claims"] != len(claims) or summary["mismatched"] != mismatched:
        raise SchemaError("results.summary does not count the claims listed (claims, mismatched)")
    if summary["exit_status"] != (1 if mismatched else 0):
        raise SchemaError(f"results.summary.exit_status is {summary['exit_status']}, but "
                          f"{len(mismatched)} claims mismatch")
