"""One table of routes drives both the aiohttp router and `GET /openapi.json`, so the two cannot drift apart.

Owns: `Route`, `Query`, body parsing (`parse_body`, `validate_json`), and `openapi_document()`.

The document says what the server does, for every route at once:
- a body is validated strictly (no string for a number, no number for a string), except that an integral number
  (`2097.0`, `1e3`) is an integer wherever one is declared, as JSON Schema counts it (`validate_json`);
- each object schema states `additionalProperties`: `false` for models that refuse unknown fields
  (`extra="forbid"`), `true` for models that ignore them;
- the credentials a service checks, when the configuration sets them, as `securitySchemes` (`Security`);
- the body size limit, in the 413 answer's description.

Imports: aiohttp, pydantic (and pydantic_core's schema types), `simulator.errors`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, overload

from aiohttp import web
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from ..errors import BadRequest

__all__ = [
    "Handler",
    "Query",
    "Route",
    "Security",
    "Service",
    "openapi_document",
    "parse_body",
    "validate_json",
    "validation_message",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Service = Literal["orders", "accounting", "control"]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Query:
    name: str
    schema: dict[str, Any]
    required: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    service: Service
    summary: str
    operation_id: str
    body: type[BaseModel] | None = None
    body_required: bool = True
    responses: dict[int, type[BaseModel] | dict[str, Any] | None] = field(default_factory=dict)
    """Success statuses and their body model (None: no body). Error statuses are added per service."""
    query: Sequence[Query] = ()
    tags: Sequence[str] = ()
    faults: str | None = None
    """The class of `faults` (a `simulator.config.FaultsConfig` field) that applies to this route; None: never
    faulted. Every Accounting route is in the class `accounting`."""
    path_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """The schema of a path parameter the handler checks (by name); the others are any non-empty string."""


def validation_message(exc: ValidationError) -> str:
    """`field.path: what was expected` for each problem, on one line."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}" if loc else err["msg"])
    return "; ".join(parts)


def _orders_message(exc: ValidationError) -> str:
    return f"invalid request body: {validation_message(exc)}"


@overload
async def parse_body(
    request: web.Request,
    model: type[M],
    *,
    required: Literal[True] = True,
    describe: Callable[[ValidationError], str] = ...,
    missing: str = ...,
) -> M: ...


@overload
async def parse_body(
    request: web.Request,
    model: type[M],
    *,
    required: Literal[False],
    describe: Callable[[ValidationError], str] = ...,
    missing: str = ...,
) -> M | None: ...


async def parse_body(
    request: web.Request,
    model: type[M],
    *,
    required: bool = True,
    describe: Callable[[ValidationError], str] = _orders_message,
    missing: str = "a JSON body is required",
) -> M | None:
    """Read and validate a JSON body strictly (no type coercion), turning every mistake into a 400.

    Args:
        request: the request.
        model: what the body must be.
        required: without a body, answer 400 (True) or return None (False).
        describe: the message for a body that does not validate, in the answering service's words.
        missing: the message for a missing body.

    Raises:
        BadRequest: malformed JSON, wrong types, missing fields, or no body where one is required.
    """
    raw = await request.read()
    if not raw.strip():
        if required:
            raise BadRequest(missing)
        return None
    return validate_json(model, raw, describe=describe)


def validate_json(
    model: type[M], raw: bytes | str, *, describe: Callable[[ValidationError], str] = _orders_message
) -> M:
    """A JSON body validated as `parse_body` validates it (for callers in the same process).

    Raises:
        BadRequest: malformed JSON, wrong types or missing fields.
    """
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        refused = exc
    # Strict validation refuses 2097.0 where an integer is declared; JSON Schema counts it as an integer (a number
    # with a zero fractional part), and so do clients that write every number as a float. Retried only on failure,
    # so the common path costs nothing.
    if any(e["type"] == "int_type" for e in refused.errors(include_url=False)):
        integral = _integral_floats_as_ints(raw)
        if integral is not None:
            try:
                return model.model_validate_json(integral, strict=True)
            except ValidationError as exc:
                refused = exc
    raise BadRequest(describe(refused))


def _integral_floats_as_ints(raw: bytes | str) -> str | None:
    """`raw` with every integral float written as an integer (`2097.0` -> `2097`); None when there is none or
    `raw` is not JSON. A float field still accepts the integer (strict mode takes an int for a float)."""
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    changed = False

    def walk(v: Any) -> Any:
        nonlocal changed
        if isinstance(v, float) and v.is_integer():
            changed = True
            return int(v)
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        return v

    value = walk(value)
    return json.dumps(value) if changed else None


# -- OpenAPI -------------------------------------------------------------------------------------------------

_ORDERS_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "exception": {"type": ["string", "null"]},
            },
        }
    },
}
_ACCOUNTING_ERROR = {
    "type": "object",
    "required": ["type", "title", "code", "description"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "code": {"type": "integer"},
        "description": {"type": "string"},
    },
}
_ERROR_STATUSES: dict[str, tuple[int, ...]] = {
    "orders": (400, 401, 403, 404, 405, 409, 413, 500, 502, 503, 504),
    "accounting": (400, 401, 403, 404, 405, 413, 500, 502, 503, 504),
    "control": (400, 403, 404, 405, 413),
}
_ERROR_TEXT = {
    400: "Bad request: malformed body, wrong type, missing field, or a business rule refused it",
    401: "Credentials are configured and none were sent",
    403: "Wrong credentials, or the control API from a non-loopback client without the token",
    404: "Unknown resource",
    405: "Method not allowed (the `Allow` header lists the methods this path serves)",
    409: "Conflict: the order's status does not allow the action (start-handling)",
    413: "Body over the size limit",
    500: "An injected fault, or (Accounting) a missing subscription key with faithful_errors on, the real service's "
    "documented oddity",
    502: "An injected fault",
    503: "An injected fault",
    504: "An injected fault",
}


@dataclass(frozen=True, slots=True)
class Security:
    """The credentials one service checks (only when configured): OpenAPI `securitySchemes` and the alternatives a
    request may satisfy (each a set of scheme names that go together)."""

    schemes: Mapping[str, Mapping[str, Any]]
    requirements: Sequence[Sequence[str]]


class _JsonSchema(GenerateJsonSchema):
    """pydantic's JSON Schema, with `additionalProperties` stated for every model: `false` when the model refuses
    unknown fields, `true` when it ignores (or keeps) them, so a client reading the document knows which."""

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        out = super().model_schema(schema)
        if not schema.get("root_model") and out.get("type") == "object":
            extra = schema.get("config", {}).get("extra_fields_behavior", "ignore")
            out.setdefault("additionalProperties", extra != "forbid")
        return out


def openapi_document(
    routes: Sequence[Route],
    *,
    title: str,
    version: str,
    security: Mapping[Service, Security] | None = None,
    max_body_bytes: int | None = None,
) -> dict[str, Any]:
    """An OpenAPI 3.1 document of every route served, request and response schemas included.

    Args:
        routes: the route table.
        title: the document's title.
        version: the document's version.
        security: per service, the credentials it checks (a service absent: open).
        max_body_bytes: the body size limit, stated in the 413 answers.
    """
    security = security or {}
    models: set[type[BaseModel]] = set()
    for r in routes:
        if r.body is not None:
            models.add(r.body)
        models.update(m for m in r.responses.values() if isinstance(m, type))
    ordered = sorted(models, key=lambda m: m.__name__)
    _, defs = models_json_schema(
        [(m, "validation") for m in ordered], ref_template="#/components/schemas/{model}", schema_generator=_JsonSchema
    )
    schemas = dict(defs.get("$defs", {}))  # OpenAPI 3.1 schemas are JSON Schema 2020-12, as pydantic emits them
    schemas["OrdersError"] = _ORDERS_ERROR
    schemas["AccountingError"] = _ACCOUNTING_ERROR
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        params: list[dict[str, Any]] = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": dict(r.path_params.get(name, {"type": "string", "minLength": 1})),
            }
            for name in _path_params(r.path)
        ]
        params += [
            {"name": q.name, "in": "query", "required": q.required, "schema": q.schema, "description": q.description}
            for q in r.query
        ]
        op: dict[str, Any] = {
            "operationId": r.operation_id,
            "summary": r.summary,
            "tags": list(r.tags) or [r.service],
            "responses": {},
        }
        if params:
            op["parameters"] = params
        if r.body is not None:
            op["requestBody"] = {
                "required": r.body_required,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{r.body.__name__}"}}},
            }
        for status, model in r.responses.items():
            resp: dict[str, Any] = {"description": _SUCCESS_TEXT.get(status, "Success")}
            if model is not None:
                schema = {"$ref": f"#/components/schemas/{model.__name__}"} if isinstance(model, type) else model
                resp["content"] = {"application/json": {"schema": schema}}
            op["responses"][str(status)] = resp
        error_ref = "#/components/schemas/" + ("AccountingError" if r.service == "accounting" else "OrdersError")
        for status in _ERROR_STATUSES[r.service]:
            text = _ERROR_TEXT[status]
            if status == 413 and max_body_bytes is not None:
                text = f"Body over the size limit of {max_body_bytes} bytes (`limits.max_body_bytes`)"
            op["responses"].setdefault(
                str(status), {"description": text, "content": {"application/json": {"schema": {"$ref": error_ref}}}}
            )
        checked = security.get(r.service)
        if checked is not None:
            op["security"] = [{name: [] for name in alternative} for alternative in checked.requirements]
        paths.setdefault(r.path, {})[r.method.lower()] = op
    components: dict[str, Any] = {"schemas": schemas}
    schemes = {name: dict(scheme) for s in security.values() for name, scheme in s.schemes.items()}
    if schemes:
        components["securitySchemes"] = schemes
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": components,
    }


_SUCCESS_TEXT = {200: "OK", 201: "Created", 202: "Accepted: processed asynchronously", 204: "No content"}


def _path_params(path: str) -> list[str]:
    return [seg[1:-1].split(":")[0] for seg in path.split("/") if seg.startswith("{") and seg.endswith("}")]
