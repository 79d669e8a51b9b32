"""The HTTP pools keep a connection for every worker thread of a process."""

from __future__ import annotations

from requests.adapters import HTTPAdapter

from worker.transport import HttpClient
from worker.transport.http import POOL_SIZE


def pool_sizes(client: HttpClient, url: str) -> tuple[int, int]:
    """The pool of provider calls (direct) and of requests' path (proxies, uploads)."""
    adapter = client.session.get_adapter(url)
    assert isinstance(adapter, HTTPAdapter)
    session_pool = adapter.poolmanager.connection_from_url(url)
    route = client.direct.route(url, None)
    assert route is not None
    return int(route.pool.pool.maxsize), int(session_pool.pool.maxsize)


def test_a_process_with_many_threads_keeps_a_connection_per_thread() -> None:
    client = HttpClient(timeout_s=1, connect_timeout_s=1, pool_size=1024)

    assert pool_sizes(client, "https://api.openai.com/v1/chat/completions") == (1024, 1024)
    assert pool_sizes(client, "http://127.0.0.1:8080/v1/chat/completions") == (1024, 1024)


def test_a_process_with_few_threads_keeps_the_default_pool() -> None:
    client = HttpClient(timeout_s=1, connect_timeout_s=1, pool_size=8)

    assert pool_sizes(client, "https://api.openai.com/v1/embeddings") == (POOL_SIZE, POOL_SIZE)
