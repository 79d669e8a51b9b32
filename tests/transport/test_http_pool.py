"""The HTTP pool keeps a connection for every worker thread of a process."""

from __future__ import annotations

from requests.adapters import HTTPAdapter

from worker.transport import HttpClient
from worker.transport.http import POOL_SIZE


def pool_maxsize(client: HttpClient, url: str) -> int:
    adapter = client.session.get_adapter(url)
    assert isinstance(adapter, HTTPAdapter)
    return int(adapter.poolmanager.connection_from_url(url).pool.maxsize)


def test_a_process_with_many_threads_keeps_a_connection_per_thread() -> None:
    client = HttpClient(timeout_s=1, connect_timeout_s=1, pool_size=1024)

    assert pool_maxsize(client, "https://api.openai.com/v1/chat/completions") == 1024
    assert pool_maxsize(client, "http://127.0.0.1:8080/v1/chat/completions") == 1024


def test_a_process_with_few_threads_keeps_the_default_pool() -> None:
    client = HttpClient(timeout_s=1, connect_timeout_s=1, pool_size=8)

    assert pool_maxsize(client, "https://api.openai.com/v1/embeddings") == POOL_SIZE
