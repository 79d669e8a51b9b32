"""The API's OpenAPI 3.1 document, built from the catalogue at start.

Each operation's payload is a component, exported from its marshmallow schema by the
same code as ``openai-worker schemas`` (OpenAPI 3.1 schemas are JSON Schema 2020-12).
A job request is one of thirteen request shapes, told apart by ``operation`` (a
discriminator), so a generated client or a validator checks the payload that goes with
the operation named. Every route the app serves is here, with every status it answers;
a test drives each one from this document and checks the answers against it.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from schemas import to_json_schema
from worker.api.problems import MEDIA_TYPE, TYPES
from worker.catalog import CATALOG
from worker.results.deliveries import WEBHOOK_STATUSES
from worker.results.record import STATUSES
from worker.submission import ON_EXPIRY

#: The longest ``?wait=`` a request may hold, in seconds.
MAX_WAIT_S = 60.0
#: Bytes a job request may carry beyond its payload's limit (the envelope's fields).
ENVELOPE_BYTES = 64 * 1024
TIERS = ("standard", "batch")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def component_name(operation: str) -> str:
    """``chat_completions_with_history`` → ``ChatCompletionsWithHistory``."""
    return "".join(part.capitalize() for part in operation.split("_"))


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {MEDIA_TYPE: {"schema": _ref("Problem")}}}


def _unauthorized() -> dict[str, Any]:
    response = _problem("No token, or a token that is unknown or revoked.")
    response["headers"] = {
        "WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}
    }
    return response


def _nullable(kind: str | list[str]) -> dict[str, Any]:
    kinds = kind if isinstance(kind, list) else [kind]
    return {"type": [*kinds, "null"]}


def _components() -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "Problem": {
            "type": "object",
            "description": "An RFC 9457 problem document.",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {
                    "type": "string",
                    "format": "uri-reference",
                    "enum": ["about:blank", *(f"urn:openai-worker:problem:{k}" for k in TYPES)],
                },
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
                "errors": {"type": "array", "items": _ref("FieldError")},
            },
        },
        "FieldError": {
            "type": "object",
            "description": "One refused field: a JSON Pointer into the request body, or "
            "the query parameter.",
            "required": ["detail"],
            "properties": {
                "pointer": {"type": "string"},
                "parameter": {"type": "string"},
                "detail": {"type": "string"},
            },
        },
        "JobAccepted": {
            "type": "object",
            "required": ["id", "status", "links"],
            "properties": {
                "id": {"type": "string"},
                "status": {"type": "string", "enum": list(STATUSES)},
                "links": {
                    "type": "object",
                    "required": ["self"],
                    "properties": {"self": {"type": "string", "format": "uri-reference"}},
                },
            },
        },
        "JobRecord": _record_schema(),
        "Operation": {
            "type": "object",
            "required": ["name", "description", "batchable", "payload_schema"],
            "properties": {
                "name": {"type": "string", "enum": list(CATALOG)},
                "description": {"type": "string"},
                "batchable": {
                    "type": "boolean",
                    "description": "Whether it may run in the batch tier.",
                },
                "payload_schema": {
                    "type": "object",
                    "description": "The payload's JSON Schema (draft 2020-12).",
                },
            },
        },
        "OperationList": {
            "type": "object",
            "required": ["operations"],
            "properties": {"operations": {"type": "array", "items": _ref("Operation")}},
        },
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"const": "ok"}},
        },
        "JobRequest": {
            "description": "A job: the operation, its payload, and how to run it.",
            "oneOf": [_ref(component_name(name) + "Request") for name in CATALOG],
            "discriminator": {
                "propertyName": "operation",
                "mapping": {
                    name: f"#/components/schemas/{component_name(name)}Request" for name in CATALOG
                },
            },
        },
    }
    for name, spec in CATALOG.items():
        payload = to_json_schema(spec.schema, title=name)
        payload.pop("$schema", None)
        payload["description"] = spec.description
        schemas[component_name(name) + "Payload"] = payload
        schemas[component_name(name) + "Request"] = _request_schema(name)
    return {
        "schemas": schemas,
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "A token from `openai-worker api-token create NAME`.",
            }
        },
    }


def _request_schema(operation: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["operation", "payload"],
        "additionalProperties": False,
        "properties": {
            "operation": {"const": operation},
            "payload": _ref(component_name(operation) + "Payload"),
            "idempotency_key": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "description": "A second job with the same key gets the first job's id and "
                "runs nothing. Goes into the payload as `idempotency_key`.",
            },
            "tier": {
                "type": "string",
                "enum": list(TIERS),
                "description": "`batch`: through the provider's Batch API, half the price, "
                "within 24 hours. Unset: the configuration's default tier.",
            },
            "on_expiry": {
                "type": "string",
                "enum": list(ON_EXPIRY),
                "default": "standard",
                "description": "Batch tier: what becomes of requests an expired or "
                "cancelled batch did not answer.",
            },
            "callback_url": {
                "type": "string",
                "format": "uri",
                "description": "Where the worker posts the job's result when it ends. "
                "Goes into the payload as `callback_url`.",
            },
        },
    }


def _record_schema() -> dict[str, Any]:
    stamp = _nullable("string")
    return {
        "type": "object",
        "description": "A job's result record, as `Client.result` returns it.",
        "required": [
            "job_id",
            "operation",
            "configuration",
            "status",
            "success",
            "output",
            "error",
            "attempts",
            "usage",
            "enqueued_at",
            "started_at",
            "finished_at",
        ],
        "properties": {
            "job_id": {"type": "string"},
            "operation": {"type": "string"},
            "configuration": _nullable("string"),
            "status": {"type": "string", "enum": list(STATUSES)},
            "success": _nullable("boolean"),
            "output": {"description": "The operation's output once it succeeded."},
            "error": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["type", "message"],
                        "properties": {
                            "type": {"type": "string"},
                            "message": {"type": "string"},
                            "status_code": _nullable("integer"),
                            "details": {"type": "object"},
                        },
                    },
                ]
            },
            "attempts": {"type": "integer", "minimum": 0},
            "usage": _nullable("object"),
            "enqueued_at": {"type": "string"},
            "started_at": stamp,
            "finished_at": stamp,
            "retry_at": stamp,
            "waited_s": {"type": "number", "minimum": 0},
            "tier": {"type": "string", "enum": list(TIERS)},
            "batch": {"type": "object"},
            "webhook": {
                "type": "object",
                "description": "What became of the job's webhook (a job with a callback_url).",
                "required": ["id", "status", "attempts"],
                "properties": {
                    "id": {"type": "string"},
                    "status": {"type": "string", "enum": list(WEBHOOK_STATUSES)},
                    "attempts": {"type": "integer", "minimum": 0},
                    "last_status_code": _nullable("integer"),
                    "last_error": _nullable("string"),
                },
            },
        },
    }


def _job_id() -> dict[str, Any]:
    return {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _paths() -> dict[str, Any]:
    accepted = _json(_ref("JobAccepted"), "Accepted: the job is queued.")
    accepted["headers"] = {
        "Location": {"description": "The job's URL.", "schema": {"type": "string"}}
    }
    return {
        "/v1/jobs": {
            "post": {
                "operationId": "submitJob",
                "summary": "Submit a job",
                "description": "Validates the payload against the operation's schema and "
                "queues the job. A repeated `idempotency_key` answers 202 with the first "
                "job's id and its current status, and queues nothing.",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("JobRequest")}},
                },
                "responses": {
                    "202": accepted,
                    "400": _problem("The body is not JSON, or not a JSON object."),
                    "401": _unauthorized(),
                    "413": _problem("The body is over the payload limit plus the envelope."),
                    "415": _problem("The body is not `application/json`."),
                    "422": _problem(
                        "The request or its payload was refused; `errors` names each field."
                    ),
                    "default": _problem("Another error."),
                },
            }
        },
        "/v1/jobs/{job_id}": {
            "get": {
                "operationId": "getJob",
                "summary": "A job's result record",
                "description": "With `wait`, holds the request until the job is final or "
                "the seconds pass, then answers the latest record.",
                "parameters": [
                    _job_id(),
                    {
                        "name": "wait",
                        "in": "query",
                        "required": False,
                        "description": f"Seconds to wait for a final status (at most "
                        f"{MAX_WAIT_S:g}).",
                        "schema": {"type": "number", "minimum": 0, "maximum": MAX_WAIT_S},
                    },
                ],
                "responses": {
                    "200": _json(_ref("JobRecord"), "The record."),
                    "401": _unauthorized(),
                    "404": _problem("No such job (unknown, or expired)."),
                    "422": _problem("`wait` is not a number of seconds within the limit."),
                    "default": _problem("Another error."),
                },
            }
        },
        "/v1/jobs/{job_id}/retry": {
            "post": {
                "operationId": "retryJob",
                "summary": "Run a failed job again",
                "description": "From its stored payload, under the same id.",
                "parameters": [_job_id()],
                "responses": {
                    "202": accepted,
                    "401": _unauthorized(),
                    "404": _problem("No such job (unknown, or expired)."),
                    "409": _problem("The job has not failed (or is queued again already)."),
                    "default": _problem("Another error."),
                },
            }
        },
        "/v1/operations": {
            "get": {
                "operationId": "listOperations",
                "summary": "Every operation, with its payload's JSON Schema",
                "responses": {
                    "200": _json(_ref("OperationList"), "The operations, by name."),
                    "401": _unauthorized(),
                    "default": _problem("Another error."),
                },
            }
        },
        "/healthz": {
            "get": {
                "operationId": "health",
                "summary": "Whether the API can reach Redis",
                "security": [],
                "responses": {
                    "200": _json(_ref("Health"), "It can."),
                    "default": _problem("It cannot (503), or another error."),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": _json({"type": "object"}, "The OpenAPI 3.1 document."),
                    "default": _problem("Another error."),
                },
            }
        },
    }


def _version() -> str:
    try:
        return metadata.version("openai-worker")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "openai-worker job API",
            "version": _version(),
            "description": "Submit OpenAI and Azure OpenAI jobs and read their results. "
            "Every error is an RFC 9457 problem document. Requests need a bearer token "
            "(`openai-worker api-token create NAME`), except `/healthz` and "
            "`/openapi.json`, and except on loopback while no token exists.",
        },
        "security": [{"bearer": []}],
        "paths": _paths(),
        "components": _components(),
    }
