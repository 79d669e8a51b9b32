"""The OpenAPI document is valid OpenAPI 3.1 and says what the served API does.

One test drives every documented path, method and response status of the document the
running API serves, over real HTTP, against real Redis and a real worker process, and
checks each answer's status, media type, headers and body against the document's
schemas; the requests it sends are checked against the documented request schema too.
A route or status documented but not driven, or driven but not documented, fails it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError as SchemaError
from openapi_spec_validator import validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from support import make_configuration, provider_error

from worker.api import openapi_document
from worker.catalog import CATALOG

pytestmark = pytest.mark.integration
BASE = "urn:openai-worker:openapi"
WAIT_S = 30


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


class Document:
    """The served document, and checks of requests and answers against it."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.registry = Registry().with_resource(BASE, DRAFT202012.create_resource(document))
        self.driven: set[tuple[str, str, str]] = set()

    def documented(self) -> set[tuple[str, str, str]]:
        return {
            (path, method, status)
            for path, item in self.document["paths"].items()
            for method, operation in item.items()
            for status in operation["responses"]
        }

    def errors(self, instance: Any, *parts: str) -> list[SchemaError]:
        schema = {"$ref": f"{BASE}#/{_pointer(*parts)}"}
        validator = Draft202012Validator(
            schema, registry=self.registry, format_checker=FormatChecker()
        )
        return list(validator.iter_errors(instance))

    def request_is_valid(self, path: str, method: str, body: Any) -> bool:
        parts = ("paths", path, method, "requestBody", "content", "application/json", "schema")
        return not self.errors(body, *parts)

    def check(self, path: str, method: str, answer: requests.Response) -> dict[str, Any] | Any:
        """Check ``answer`` against the response the document gives for its status."""
        responses = self.document["paths"][path][method]["responses"]
        status = str(answer.status_code)
        key = status if status in responses else "default"
        assert key in responses, f"{method.upper()} {path} answered {status}, not documented"
        response = responses[key]
        media_type = answer.headers["content-type"].split(";")[0]
        assert media_type in response["content"], (path, method, status, media_type)
        for header in response.get("headers", {}):
            assert header in answer.headers, (path, method, status, header)
        body = answer.json()
        parts = ("paths", path, method, "responses", key, "content", media_type, "schema")
        assert self.errors(body, *parts) == [], (path, method, status, body)
        if media_type == "application/problem+json":
            assert body["status"] == answer.status_code
        self.driven.add((path, method, key))
        return body


def test_the_document_is_valid_openapi_3_1_and_documents_every_operation() -> None:
    document = openapi_document()

    validate(document)  # openapi-spec-validator: raises on any departure from OpenAPI 3.1

    assert document["openapi"] == "3.1.0"
    request = document["components"]["schemas"]["JobRequest"]
    assert set(request["discriminator"]["mapping"]) == set(CATALOG)
    for name in CATALOG:
        payload = document["components"]["schemas"][f"{name.title().replace('_', '')}Payload"]
        assert payload["title"] == name
        assert "configuration" in payload["required"]


def test_every_documented_route_answers_as_the_document_says(
    start_api: Any, start_worker: Any, client: Any, wire_server: Any, token: str
) -> None:
    # Given a worker on a provider stand-in, and the API with a 1 KiB payload limit
    client.configurations().save(make_configuration("openai", wire_server.url, name="main"))
    start_worker()
    api = start_api(token=token, OPENAI_WORKER_MAX_PAYLOAD_BYTES="1024")
    served = requests.get(api.url + "/openapi.json", timeout=10)
    document = Document(served.json())
    validate(document.document)
    assert document.document == json.loads(json.dumps(openapi_document()))
    document.check("/openapi.json", "get", served)
    hostile = {"Sec-Fetch-Site": "cross-site"}  # refused before any route: the "default"
    jobs, job, retry = "/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/retry"

    # POST /v1/jobs
    good = {
        "operation": "chat_completions_without_history",
        "payload": {"configuration": "main", "model": "gpt-4o-mini", "user_prompt": "Hi"},
        "idempotency_key": "first",
    }
    assert document.request_is_valid(jobs, "post", good)
    accepted = document.check(jobs, "post", api.post(jobs, json=good))
    assert accepted["status"] == "queued"
    bad = {"operation": "summarize_text", "payload": {"configuration": "main", "text": 3}}
    assert not document.request_is_valid(jobs, "post", bad)
    refused = document.check(jobs, "post", api.post(jobs, json=bad))
    assert refused["errors"] == [{"pointer": "/payload/text", "detail": "Not a valid string."}]
    json_type = {"Content-Type": "application/json"}
    assert document.check(jobs, "post", api.post(jobs, data=b"{", headers=json_type))
    assert document.check(jobs, "post", api.post(jobs, data=b"x" * 70_000, headers=json_type))
    assert document.check(
        jobs, "post", api.post(jobs, data=b"{}", headers={"Content-Type": "text/plain"})
    )
    assert document.check(jobs, "post", requests.post(api.url + jobs, json=good, timeout=10))
    assert document.check(jobs, "post", api.post(jobs, json=good, headers=hostile))

    # GET /v1/jobs/{job_id}: long-polled until the worker is done
    path = f"/v1/jobs/{accepted['id']}"
    record = document.check(job, "get", api.get(path, params={"wait": WAIT_S}))
    assert record["status"] == "succeeded"
    assert record["output"]["assistant_response_text"] == "Hello from the wire server."
    assert document.check(job, "get", api.get("/v1/jobs/no-such-job"))["status"] == 404
    assert document.check(job, "get", api.get(path, params={"wait": "61"}))["status"] == 422
    assert document.check(job, "get", requests.get(api.url + path, timeout=10))["status"] == 401
    assert document.check(job, "get", api.get(path, headers=hostile))["status"] == 403

    # POST /v1/jobs/{job_id}/retry: a job the provider refused once runs again and succeeds
    wire_server.script(provider_error(400, "refused once"))
    failing = {**good, "idempotency_key": "second"}
    failed_id = document.check(jobs, "post", api.post(jobs, json=failing))["id"]
    failed = api.get(f"/v1/jobs/{failed_id}", params={"wait": WAIT_S}).json()
    assert failed["status"] == "failed", failed
    again = document.check(retry, "post", api.post(f"/v1/jobs/{failed_id}/retry"))
    assert (again["id"], again["status"]) == (failed_id, "queued")
    record = api.get(f"/v1/jobs/{failed_id}", params={"wait": WAIT_S}).json()
    assert record["status"] == "succeeded"
    conflict = document.check(retry, "post", api.post(f"{path}/retry"))
    assert conflict["status"] == 409
    assert document.check(retry, "post", api.post("/v1/jobs/no-such-job/retry"))["status"] == 404
    unauthorized = requests.post(api.url + f"{path}/retry", timeout=10)
    assert document.check(retry, "post", unauthorized)["status"] == 401
    assert document.check(retry, "post", api.post(f"{path}/retry", headers=hostile))

    # GET /v1/operations: every operation with the schema its payload is checked against
    listed = document.check("/v1/operations", "get", api.get("/v1/operations"))
    assert [entry["name"] for entry in listed["operations"]] == list(CATALOG)
    assert document.check(
        "/v1/operations", "get", requests.get(api.url + "/v1/operations", timeout=10)
    )
    assert document.check("/v1/operations", "get", api.get("/v1/operations", headers=hostile))

    # GET /healthz, GET /openapi.json: open without a token
    healthy = requests.get(api.url + "/healthz", timeout=10)
    assert document.check("/healthz", "get", healthy) == {"status": "ok"}
    assert document.check("/healthz", "get", api.get("/healthz", headers=hostile))
    assert document.check("/openapi.json", "get", api.get("/openapi.json", headers=hostile))

    # Every documented route and status was driven, and nothing undocumented answered
    assert document.driven == document.documented()
    assert len(wire_server.requests) == 3  # the first job, the refused one, its retry
