"""The web dashboard over real Redis: pages, escaping, the guarded retry, a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from browsing import fetch, png_pixels
from support import OPENAI_KEY, make_configuration

from worker.batches import BatchGroups, Route
from worker.configurations.pool import Member, Pool
from worker.pools.router import PoolRouter
from worker.settings import BatchSettings

pytestmark = pytest.mark.integration
HOSTILE = "<script>alert('x')</script>"


def failed_job(client: Any, message: str = HOSTILE) -> str:
    """A submitted job whose record says it failed (no worker needed)."""
    payload = {"configuration": "test", "model": "gpt-4o-mini", "user_prompt": "hi"}
    job_id: str = client.submit("chat_completions_without_history", payload)
    record = client.result(job_id)
    record.update(
        status="failed",
        success=False,
        attempts=1,
        error={"type": "provider", "message": message},
        finished_at=record["enqueued_at"],
    )
    client.results.put(record)
    return job_id


def test_the_overview_lists_jobs_with_their_errors_escaped(client: Any, dashboard: str) -> None:
    job_id = failed_job(client)

    code, html = fetch(dashboard + "/")

    assert code == 200
    assert job_id in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert HOSTILE not in html
    assert "0 live workers" in html
    assert f'action="/jobs/{job_id}/retry"' in html


def test_a_jobs_page_shows_its_full_record(client: Any, dashboard: str) -> None:
    job_id = failed_job(client, "bad")

    code, html = fetch(f"{dashboard}/jobs/{job_id}")
    missing, _ = fetch(f"{dashboard}/jobs/nope")

    assert code == 200
    assert "&quot;attempts&quot;: 1" in html
    assert "chat_completions_without_history" in html
    assert missing == 404


def test_retry_is_refused_without_post_or_from_another_origin(client: Any, dashboard: str) -> None:
    job_id = failed_job(client)
    retry = f"{dashboard}/jobs/{job_id}/retry"

    assert fetch(retry)[0] == 405
    assert fetch(retry, data=b"")[0] == 403  # no Origin nor Referer
    assert fetch(retry, data=b"", Origin="https://evil.example")[0] == 403
    assert fetch(retry, data=b"", Origin=dashboard, **{"Sec-Fetch-Site": "cross-site"})[0] == 403
    assert client.result(job_id)["status"] == "failed"


def test_a_same_origin_post_retries_the_failed_job(client: Any, dashboard: str) -> None:
    job_id = failed_job(client)

    code, _ = fetch(f"{dashboard}/jobs/{job_id}/retry", data=b"", Origin=dashboard)
    again, page = fetch(f"{dashboard}/jobs/{job_id}/retry", data=b"", Origin=dashboard)

    assert code == 303
    assert client.result(job_id)["status"] == "queued"
    assert again == 409
    assert "only failed jobs can be retried" in page


def batch_group(client: Any, model: str, endpoint: str = "/v1/chat/completions") -> str:
    """An open group of the batch tier holding one job's request, as the Lua step adds it."""
    groups = BatchGroups(client.redis, client.keys, client.settings.result_ttl_s)
    line = json.dumps({"custom_id": "job", "method": "POST", "url": endpoint, "body": {}})
    job_id = uuid.uuid4().hex
    return groups.add(job_id, Route("test", endpoint, model), [line], BatchSettings()).group


def row_of(html: str, group: str) -> str:
    """The text of a group's row in the batches table, tags dropped."""
    match = re.search(rf'<tr><td><span title="{group}">.*?</tr>', html)
    assert match, f"no row for group {group}"
    return re.sub(r"<[^>]+>", "|", match.group(0))


def test_the_overview_lists_batch_groups_with_their_counts_escaped(
    client: Any, dashboard: str
) -> None:
    # Given a group whose provider batch is running, 3 of 5 requests done and 1 failed
    groups = BatchGroups(client.redis, client.keys, client.settings.result_ttl_s)
    running = batch_group(client, "gpt-4o-mini")
    groups.update(
        running,
        state="submitted",
        provider_status="in_progress",
        batch_id="batch_abc123",
        request_counts=json.dumps({"total": 5, "completed": 3, "failed": 1}),
        created_at="1795000000",
    )
    # and an open group whose model name is HTML
    hostile = batch_group(client, HOSTILE, "/v1/embeddings")

    code, html = fetch(dashboard + "/")

    # Then each has a row, its id shortened, its counts as completed / failed / total
    assert code == 200
    assert "<h2>Batches</h2>" in html
    cells = row_of(html, running).split("|")
    assert f"{running[:12]}…" in cells
    assert [c for c in cells if c][1:] == [
        "test",
        "gpt-4o-mini",
        "submitted",
        "in_progress",
        "batch_abc123",
        "3 / 1 / 5",
        "2026-11-18T11:06:40+00:00",
    ]
    # and the open group, not counted by a provider yet, shows the requests it holds
    hostile_row = row_of(html, hostile)
    assert "|open|" in hostile_row
    assert "|– / – / 1|" in hostile_row
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in hostile_row
    assert HOSTILE not in html
    assert "No batch-tier groups" not in html


def test_the_overview_says_when_there_are_no_batch_groups(client: Any, dashboard: str) -> None:
    code, html = fetch(dashboard + "/")

    assert code == 200
    assert "No batch-tier groups." in html
    assert "<table id=batches>" not in html


def pool_row(html: str, member: str) -> list[str]:
    """The cells of a member's row in the pools table, tags dropped."""
    table = re.search(r"<table id=pools>.*?</table>", html)
    assert table, "no pools table"
    for row in re.findall(r"<tr[^>]*>.*?</tr>", table.group(0)):
        cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        if len(cells) > 2 and cells[2] == member:
            return cells
    raise AssertionError(f"no row for member {member}")


def test_the_overview_says_so_when_there_are_no_pools(client: Any, dashboard: str) -> None:
    code, html = fetch(dashboard + "/")

    assert code == 200
    assert "<h2>Pools</h2>" in html
    assert "No pools." in html
    assert "<table id=pools>" not in html


def test_the_overview_lists_pool_members_with_an_out_of_service_reason_escaped(
    client: Any, dashboard: str
) -> None:
    # Given two configurations pooled least-busy, with a third as the fallback
    store = client.configurations()
    for name in ("east", "west", "spare"):
        store.save(make_configuration("openai", "http://127.0.0.1:9", name=name))
    pool = Pool("chat", (Member("east"), Member("west")), "least-busy", fallback="spare")
    store.save_pool(pool)
    # and west taken out of service as the router does it, for a reason holding HTML
    router = PoolRouter(client.redis, client.keys)
    token = router.claim("west", 30)
    assert token is not None
    router.taken_out("west", token, f"401 invalid key {HOSTILE}")
    # and a call to east in flight
    assert router.claim("east", 30) is not None

    code, html = fetch(dashboard + "/")

    # Then the pool has a row per member, the out-of-service one marked with its reason
    assert code == 200
    assert pool_row(html, "east") == ["chat", "least-busy", "east", "ready", "1", "–", "0", "–"]
    west = pool_row(html, "west")
    assert west[:3] == ["chat", "least-busy", "west"]
    assert west[3] == (
        "out of service 401 invalid key &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
    )
    assert west[4:] == ["0", "–", "0", "–"]
    assert "<tr class=out><td>chat</td><td>least-busy</td><td>west</td>" in html
    assert "fallback: spare" in html
    # and nothing is shown unescaped, nor any key
    assert HOSTILE not in html
    assert OPENAI_KEY not in html


# --- in a real browser ----------------------------------------------------------------


def test_in_a_browser_a_failed_job_is_found_opened_and_retried(
    client: Any, dashboard: str, browser: Any, tmp_path: Path
) -> None:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    # Given a failed job
    job_id = failed_job(client, "the model was not found")

    # When an operator opens the dashboard, follows the job and presses Retry
    browser.get(dashboard + "/")
    assert "openai-worker" in browser.title
    row = browser.find_element(By.XPATH, f"//table[@id='jobs']//tr[td/a[text()='{job_id}']]")
    assert "the model was not found" in row.text
    screenshot = tmp_path / "dashboard.png"
    browser.save_screenshot(str(screenshot))
    if os.environ.get("OPENAI_WORKER_SCREENSHOT_DIR"):  # to look at it
        shutil.copy(screenshot, os.environ["OPENAI_WORKER_SCREENSHOT_DIR"])
    row.find_element(By.LINK_TEXT, job_id).click()
    assert '"status": "failed"' in browser.find_element(By.ID, "record").text
    browser.find_element(By.XPATH, "//button[text()='Retry']").click()

    # Then the browser lands back on the job, queued again (once the redirect's page loads)
    WebDriverWait(
        browser, 10, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
    ).until(lambda b: '"status": "queued"' in b.find_element(By.ID, "record").text)
    assert browser.current_url == f"{dashboard}/jobs/{job_id}"
    assert client.result(job_id)["status"] == "queued"

    # And the screenshot is a real rendered page: full size, not blank
    width, height, rows = png_pixels(screenshot.read_bytes())
    assert width == 1280  # the window's width (--window-size=1280,900)
    assert height >= 600
    values = [v for row_bytes in rows[::8] for v in row_bytes[::24]]
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / len(values)
    assert variance > 200, "the screenshot looks blank"
    assert len(set(values)) > 20


def test_a_large_output_kept_in_parts_is_not_loaded_into_the_page(
    client: Any, dashboard: str
) -> None:
    from worker.results import RedisResultStore

    # Given a finished job whose output went to Redis in parts
    job_id = failed_job(client, "first try")
    small_parts = RedisResultStore(
        client.redis, client.keys, client.settings.result_ttl_s, part_bytes=1024
    )
    record = client.result(job_id)
    output = {"chunks": [{"index": i, "embedding_vector": [0.5] * 64} for i in range(50)]}
    record.update(status="succeeded", success=True, error=None, output=output)
    assert small_parts.put(record, force=True)

    code, html = fetch(f"{dashboard}/jobs/{job_id}")

    assert code == 200
    assert "stored in parts" in html
    assert f"openai-worker result {job_id}" in html
    assert "embedding_vector" not in html
    assert client.result(job_id)["output"] == output  # the store itself still has it all
