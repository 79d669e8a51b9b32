"""Ten thousand batch-tier jobs over two configurations and two models: the provider
receives exactly one file and one batch per route, and every job ends once with its own
answer (the answers carry the ``custom_id``)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from batch_api_server import serve_batch_api
from support import OPENAI_KEY, make_configuration, wait_for

pytestmark = pytest.mark.integration
JOBS = 10_000
ROUTES = [(conf, model) for conf in ("first", "second") for model in ("model-a", "model-b")]


def test_ten_thousand_jobs_map_back_to_their_own_answers(client: Any, start_worker: Any) -> None:
    with serve_batch_api(api_key=OPENAI_KEY) as api:
        for name in ("first", "second"):
            client.configurations().save(make_configuration("openai", api.url, name=name))
        # Groups seal when full (a quarter of the jobs each), never by the window.
        start_worker(
            processes=2,
            threads=8,
            OPENAI_WORKER_BATCH_WINDOW_S="600",
            OPENAI_WORKER_BATCH_MAX_REQUESTS=str(JOBS // len(ROUTES)),
            OPENAI_WORKER_BATCH_POLL_MIN_S="0.5",
            OPENAI_WORKER_BATCH_POLL_MAX_S="1",
        )
        routes = {}
        for i in range(JOBS):
            conf, model = ROUTES[i % len(ROUTES)]
            payload = {"configuration": conf, "model": model, "user_prompt": f"Q{i}"}
            job_id = client.submit("chat_completions_without_history", payload, tier="batch")
            routes[job_id] = (conf, model)

        def finished() -> bool:
            pipe = client.redis.pipeline(transaction=False)
            for job_id in routes:
                pipe.hget(client.keys.job(job_id), "status")
            return all(s in (b"succeeded", b"failed") for s in pipe.execute())

        wait_for(finished, 300)
        records = [client.result(job_id) for job_id in routes]

    assert Counter(r["status"] for r in records) == {"succeeded": JOBS}
    for record in records:
        job_id = record["job_id"]
        assert record["output"]["assistant_response_text"] == f"answer to {job_id}/round:0"
        assert record["attempts"] == 1
    # One file and one batch per route (configuration × model), each with its jobs.
    assert api.files_uploaded == len(ROUTES)
    assert api.batches_created == len(ROUTES)
    by_batch = Counter(r["batch"]["provider_batch_id"] for r in records)
    assert sorted(by_batch.values()) == [JOBS // len(ROUTES)] * len(ROUTES)
    models = {r["batch"]["provider_batch_id"]: routes[r["job_id"]] for r in records}
    assert len(set(models.values())) == len(ROUTES)
