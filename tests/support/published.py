"""The published facts of the VTEX Orders API, as data: operations, examples and answer schemas.

`tests/fidelity/published.json` is the project's copy of what VTEX's OpenAPI 3.0 documents of the Orders API
and of its PII version (`vtex-orders-api.openapi.json`, `vtex-orders-api-pii.openapi.json`, synced from the public
repository vtex/openapi-schemas) publish for the operations racelab serves: each operation's method, path, JSON pointer,
success statuses, request examples, and 2xx answer schemas already converted to JSON Schema 2020-12 (`$ref` inlined,
`nullable` turned into a `"null"` type). Where a published example contradicts its own schema's `type`, or a
help-center article shows the platform answering a shape the schema does not allow (Change `add`/`remove` as
objects), the copy accepts both and lists each change, with its reason, under the response's `widened`: the platform
answers what its examples show. The project never reads the reference documents themselves; the copy was generated
from them by a script kept outside the repository.

    >>> validate_answer("InvoiceNotification", 200, {"date": "2024-01-31", "orderId": "1", "receipt": "abc"})
    []

This module imports only the standard library and jsonschema, so any test (or a checker) can use it.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

__all__ = [
    "documented_properties",
    "missing_properties",
    "operation",
    "operation_ids",
    "parameter_example",
    "published",
    "request_examples",
    "response_example",
    "success_statuses",
    "validate_answer",
]

PUBLISHED = Path(__file__).resolve().parents[1] / "fidelity" / "published.json"
"""The data lives with the fidelity tests it describes; this module is shared by them and the integration tests."""


@cache
def published() -> dict[str, Any]:
    """The whole data file (`source` and `operations`); treat it as read-only."""
    data: dict[str, Any] = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    return data


def operation_ids() -> list[str]:
    """Every operation the file describes, in the file's order (orders document first, then PII)."""
    return list(published()["operations"])


def operation(operation_id: str) -> dict[str, Any]:
    """One operation's facts: `document`, `pointer`, `method`, `path`, `parameters`, `requestExamples`, …

    Raises:
        KeyError: naming the operations known, when `operation_id` is not one of them.
    """
    operations = published()["operations"]
    if operation_id not in operations:
        raise KeyError(f"{operation_id!r} is not in published.json; known: {', '.join(operations)}")
    found: dict[str, Any] = operations[operation_id]
    return found


def success_statuses(operation_id: str) -> list[int]:
    """The 2xx statuses the document gives the operation (e.g. `[202]` for Createchange)."""
    return list(operation(operation_id)["successStatuses"])


def request_examples(operation_id: str) -> dict[str, Any]:
    """Every documented request body example, by name, each a fresh copy that a test may change.

    The name is the key of the document's `examples` map, `example` for a media type's single `example`, or
    `property-examples` where the document shows no whole body and the body is built from each property's `example`.
    An operation without a request body has none.
    """
    examples = operation(operation_id)["requestExamples"]
    return {name: copy.deepcopy(example["body"]) for name, example in examples.items()}


def response_example(operation_id: str, status: int) -> Any:
    """The documented answer example for `status` (a fresh copy), or None when the document shows none."""
    answer = _response(operation_id, status)
    return copy.deepcopy(answer.get("example")) if answer is not None else None


def parameter_example(operation_id: str, name: str) -> Any:
    """The documented example of a path, query or header parameter, or None when it has none."""
    for parameter in operation(operation_id)["parameters"]:
        if parameter["name"] == name:
            return parameter.get("example")
    raise KeyError(f"{operation_id} documents no parameter {name!r}")


def validate_answer(operation_id: str, status: int, body: object) -> list[str]:
    """What is wrong with an answer, judged by the published document; an empty list when nothing is.

    A status the document does not give the operation is a problem. A documented status with no documented body
    schema (a 204, or a 200 the document describes without content) accepts any body. Otherwise every place where
    `body` breaks the published schema is one readable line: where in the body, what is wrong, which schema rule.

    Args:
        operation_id: as in the document (or racelab's name for the two unnamed changes-settings operations).
        status: the HTTP status answered.
        body: the decoded JSON body (None when there was none).
    """
    answer = _response(operation_id, status)
    if answer is None:
        op = operation(operation_id)
        documented = sorted([*op["responses"], *op["errorResponses"]])
        return [f"{operation_id} answered {status}, a status the document does not give it (documented: {documented})"]
    if "schema" not in answer:
        return []
    problems = []
    for error in _validator(operation_id, str(status)).iter_errors(body):
        where = "/" + "/".join(str(part) for part in error.absolute_path)
        rule = "/" + "/".join(str(part) for part in error.absolute_schema_path)
        problems.append(f"{operation_id} {status} at {where}: {_short(error.message)} (schema rule {rule})")
    return sorted(problems)


def documented_properties(operation_id: str, status: int) -> list[str]:
    """The top-level properties the published answer schema declares (it rarely marks any of them required)."""
    answer = _response(operation_id, status)
    schema = (answer or {}).get("schema", {})
    return list(schema.get("properties", {}))


def missing_properties(operation_id: str, status: int, body: object) -> list[str]:
    """The top-level properties the document declares for the answer and `body` lacks."""
    if not isinstance(body, dict):
        return documented_properties(operation_id, status)
    return [name for name in documented_properties(operation_id, status) if name not in body]


def _response(operation_id: str, status: int) -> dict[str, Any] | None:
    op = operation(operation_id)
    key = str(status)
    found: dict[str, Any] | None = op["responses"].get(key) or op["errorResponses"].get(key)
    return found


@cache
def _validator(operation_id: str, status: str) -> Draft202012Validator:
    answer = _response(operation_id, int(status))
    assert answer is not None
    return Draft202012Validator(answer["schema"], format_checker=Draft202012Validator.FORMAT_CHECKER)


def _short(message: str, limit: int = 300) -> str:
    # jsonschema quotes the whole offending instance; a whole order document makes an unreadable line.
    return message if len(message) <= limit else message[:limit] + "…"
