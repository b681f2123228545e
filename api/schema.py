"""The schema says what every operation may answer besides success: problem details."""

from __future__ import annotations

from typing import Any

PROBLEM = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string", "description": "Machine-readable: not_authenticated, invalid_token, ..."},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}},
                "required": ["field", "code", "message"],
            },
        },
    },
    "required": ["type", "title", "status", "code", "detail"],
}
ANSWERS = {
    "400": "Invalid request: `errors` lists each field's errors.",
    "401": "No token, or a token unknown, expired or revoked.",
    "403": "Not allowed (a read-only token writing, or a rule of the metric).",
    "404": "Not found (or not visible to the caller).",
    "429": "Over the token's rate: see Retry-After.",
}


def add_problem_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every operation may answer these as problem details."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM
    reference = {"$ref": "#/components/schemas/Problem"}
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            for status, description in ANSWERS.items():
                responses = operation.setdefault("responses", {})
                if status in responses:
                    responses[status].setdefault("content", {"application/problem+json": {"schema": reference}})
                    continue
                responses[status] = {
                    "description": description,
                    "content": {"application/problem+json": {"schema": reference}},
                }
            if method in ("post", "put", "patch"):
                operation["responses"].setdefault(
                    "415", {"description": "Not JSON.", "content": {"application/problem+json": {"schema": reference}}}
                )
    return result


def close_request_objects(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: a JSON body's objects have no other properties
    than those listed (the API refuses an unknown or read-only field by name)."""
    schemas = result.get("components", {}).get("schemas", {})
    pending = [
        operation["requestBody"]["content"]["application/json"]["schema"]
        for path in result.get("paths", {}).values()
        for operation in path.values()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]
    seen: set[int] = set()
    while pending:
        schema = pending.pop()
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
        if id(schema) in seen:
            continue
        seen.add(id(schema))
        if schema.get("type") == "object" and "properties" in schema:
            schema["additionalProperties"] = False
            pending.extend(schema["properties"].values())
        pending.extend(schema[key] for key in ("items",) if key in schema)
        pending.extend(choice for key in ("allOf", "oneOf", "anyOf") for choice in schema.get(key, []))
    return result


def require_answer_properties(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: an answer's object has every property listed, even
    those with a default on input (a gate's scores, a release's start), as the serializers
    write them all (null where the schema says nullable)."""
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") or name == "Problem" or "properties" not in schema:
            continue
        schema["required"] = list(schema["properties"])
    return result
