"""A producer in another language: ``producer.mjs`` (Node.js, only ``fetch`` and its own
standard library) submits one job of every operation through the API and long-polls
each to success, against a real worker and a provider stand-in that answers each
endpoint in its wire format; then it hears one job's end through a webhook it verifies
with the README's three lines."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
from support import Recorded, Reply, chat_completion, make_configuration, wait_for

from worker.catalog import CATALOG

pytestmark = pytest.mark.integration
PRODUCER = Path(__file__).with_name("producer.mjs")
#: The deployment's webhook secret, which the Node.js receiver holds too.
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"node-producer-webhook-secret-0001").decode()
#: The smallest valid PNG: one transparent pixel.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def provider(request: Recorded) -> Reply:
    """Each endpoint's answer, in the provider's wire format."""
    if request.path.endswith("/embeddings"):
        inputs = request.json["input"]
        count = len(inputs) if isinstance(inputs, list) else 1
        data = [{"object": "embedding", "index": i, "embedding": [0.5, 0.25]} for i in range(count)]
        usage = {"prompt_tokens": 3, "total_tokens": 3}
        return Reply(json={"object": "list", "data": data, "model": "m", "usage": usage})
    if request.path.endswith("/images/generations"):
        image = {"b64_json": base64.b64encode(PNG).decode(), "revised_prompt": "An otter"}
        return Reply(json={"created": 1732000000, "data": [image]})
    if request.path.endswith("/responses"):
        text = {"type": "output_text", "text": "Hello", "annotations": []}
        item = {
            "type": "message",
            "id": "m",
            "status": "completed",
            "role": "assistant",
            "content": [text],
        }
        return Reply(
            json={
                "id": "resp_1",
                "object": "response",
                "created_at": 1,
                "status": "completed",
                "model": "gpt-5-mini",
                "output": [item],
                "usage": None,
            }
        )
    if request.path.endswith("/models"):
        return Reply(json={"object": "list", "data": [{"id": "gpt-4o-mini"}]})
    return Reply(json=chat_completion())


def test_a_node_producer_runs_every_operation_through_the_api(
    start_api: Any, start_worker: Any, client: Any, wire_server: Any, token: str
) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("no node here")
    wire_server.handler = provider
    client.configurations().save(make_configuration("openai", wire_server.url, name="main"))
    start_worker(
        threads=8,
        OPENAI_WORKER_WEBHOOK_SECRET=WEBHOOK_SECRET,
        OPENAI_WORKER_WEBHOOK_ALLOW_HOSTS="127.0.0.1",
    )
    api = start_api(token=token)

    done = subprocess.run(
        [node, str(PRODUCER), "main"],
        env={
            **os.environ,
            "OPENAI_WORKER_API_URL": api.url,
            "OPENAI_WORKER_API_TOKEN": token,
            "OPENAI_WORKER_WEBHOOK_SECRET": WEBHOOK_SECRET,
        },
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    summary = json.loads(done.stdout)
    assert (done.returncode, summary["problems"]) == (0, []), done.stderr
    assert set(summary["operations"]) == set(CATALOG)
    assert all(job["status"] == "succeeded" for job in summary["operations"].values())
    assert summary["operations"]["embeddings_list_input"]["output"] == ["chunks"]
    assert summary["refused"]["errors"] == [
        {"pointer": "/payload/text", "detail": "Not a valid string."}
    ]
    webhook = summary["webhook"]
    assert webhook["verified"] is True
    assert (webhook["type"], webhook["status"]) == ("job.succeeded", "succeeded")
    assert webhook["id"] == webhook["job"]
    # The API shows what became of the webhook once the worker has heard the 204
    job_url = f"{api.url}/v1/jobs/{webhook['job']}"
    auth = {"Authorization": f"Bearer {token}"}

    def delivered() -> bool:
        record = requests.get(job_url, headers=auth, timeout=10).json()
        return bool(record.get("webhook", {}).get("status") == "delivered")

    wait_for(delivered, 30)
    paths = {request.path for request in wire_server.requests}
    assert {
        "/v1/chat/completions",
        "/v1/embeddings",
        "/v1/images/generations",
        "/v1/responses",
        "/v1/models",
    } <= paths
