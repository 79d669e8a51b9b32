"""The dashboard's boundaries: host names, the token, and what one page may load."""

from __future__ import annotations

import io
import re
import threading
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from worker.dashboard import Dashboard, serve
from worker.results import new_record

pytestmark = pytest.mark.integration


def call(app: Any, path: str = "/", method: str = "GET", body: bytes = b"", **headers: str) -> Any:
    """One request through the WSGI app: (status code, headers, body text)."""
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
        **{f"HTTP_{name.upper()}": value for name, value in headers.items()},
    }
    answer: dict[str, Any] = {}

    def start(status: str, response_headers: list[tuple[str, str]]) -> None:
        answer["status"], answer["headers"] = int(status.split()[0]), dict(response_headers)

    text = b"".join(app(environ, start)).decode()
    return answer["status"], answer["headers"], text


@pytest.fixture
def served(client: Any) -> Iterator[Any]:
    servers = []

    def start(host: str = "127.0.0.1", **kwargs: Any) -> int:
        server = serve(client, host, 0, **kwargs)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return int(server.server_address[1])

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_foreign_host_name_is_refused_on_every_path(client: Any) -> None:
    # A page on evil.example that rebinds its name to 127.0.0.1 sends its own Host.
    app = Dashboard(client, {"127.0.0.1", "localhost"})

    for path in ("/", "/jobs/x", "/jobs/x/retry"):
        status, _, text = call(app, path, host="evil.example:8089")
        assert status == 400
        assert "unknown host" in text
    assert call(app, "/", host="localhost:8089")[0] == 200
    assert call(app, "/", host="dash.internal", **{"x": "y"})[0] == 400


def test_an_allowed_host_name_can_be_added(client: Any, served: Any) -> None:
    import urllib.request

    port = served(allowed_hosts=["dash.internal"])
    request = urllib.request.Request(  # noqa: S310 - a local test server
        f"http://127.0.0.1:{port}/", headers={"Host": f"dash.internal:{port}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 200


def test_binding_beyond_loopback_needs_a_token(client: Any) -> None:
    with pytest.raises(ValueError, match="OPENAI_WORKER_DASHBOARD_TOKEN"):
        serve(client, "0.0.0.0", 0)  # noqa: S104 - the refusal under test


def test_with_a_token_nothing_is_shown_until_it_is_given(client: Any) -> None:
    app = Dashboard(client, {"localhost"}, token="let-me-in-please")
    host = {"host": "localhost"}

    status, headers, _ = call(app, "/", **host)
    assert (status, headers["Location"]) == (303, "/login")
    assert call(app, "/jobs/anything", **host)[0] == 303
    assert call(app, "/", authorization="Bearer wrong", **host)[0] == 303

    origin = {"origin": "http://localhost", **host}
    refused = call(app, "/login", "POST", b"token=wrong", **origin)
    assert refused[0] == 403
    status, headers, _ = call(app, "/login", "POST", b"token=let-me-in-please", **origin)
    assert status == 303
    cookie = headers["Set-Cookie"].split(";")[0]
    assert "HttpOnly" in headers["Set-Cookie"]
    assert "SameSite=Strict" in headers["Set-Cookie"]
    assert call(app, "/", cookie=cookie, **host)[0] == 200
    assert call(app, "/", authorization="Bearer let-me-in-please", **host)[0] == 200


def test_the_charts_fragment_and_the_script_pass_the_same_checks_as_every_page(
    client: Any,
) -> None:
    app = Dashboard(client, {"localhost"}, token="let-me-in-please")
    signed_in = {"host": "localhost", "authorization": "Bearer let-me-in-please"}

    # Without the right host, or without the token, neither is served
    for path in ("/fragments/charts?range=day", "/static/refresh.js", "/configurations/east"):
        assert call(app, path, host="evil.example")[0] == 400
        status, headers, _ = call(app, path, host="localhost")
        assert (status, headers["Location"]) == (303, "/login")
        assert call(app, path, host="localhost", authorization="Bearer wrong")[0] == 303

    # With it, the fragment is the charts' container alone, never cached
    status, headers, text = call(app, "/fragments/charts?range=day", **signed_in)
    assert status == 200
    assert text.startswith('<div id=charts data-fragment="/fragments/charts?range=day"')
    assert "<html" not in text
    assert headers["Cache-Control"] == "no-store"
    assert call(app, "/fragments/charts?range=year", **signed_in)[0] == 400
    # and the script is served as JavaScript, and evaluates no strings
    status, headers, script = call(app, "/static/refresh.js", **signed_in)
    assert status == 200
    assert headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "fetch(" in script
    assert "eval(" not in script
    assert "innerHTML" not in script


def test_pages_run_only_the_dashboards_own_script_and_load_nothing_from_elsewhere(
    client: Any,
) -> None:
    app = Dashboard(client, {"localhost"})

    for path in ("/", "/?range=week", "/configurations/east"):
        status, headers, html = call(app, path, host="localhost")

        assert status == 200
        policy = dict(
            part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";")
        )
        assert policy["default-src"] == "'none'"
        assert policy["script-src"] == "'self'"
        assert policy["connect-src"] == "'self'"
        assert "unsafe-eval" not in headers["Content-Security-Policy"]
        assert re.findall(r"<script[^>]*>(.*?)</script>", html) == [""]
        assert '<script src="/static/refresh.js" defer>' in html
        assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers
        # Every link and source stays on the dashboard (the SVG namespace is a name only)
        assert all(
            target.startswith(("/", "?", "#")) or target.startswith("url(#")
            for target in re.findall(r'(?:src|href)="([^"]*)"', html)
        )
        assert "<img" not in html


def test_the_overview_of_ten_thousand_jobs_reads_only_what_it_shows(client: Any) -> None:
    # Given 10,000 jobs, the newest three with outputs of 4 MB each
    for n in range(10_000):
        record = new_record(f"job-{n:05d}", "configuration_test", "main")
        record["enqueued_at"] = f"2026-01-01T00:00:{n // 1000:02d}.{n % 1000:03d}Z"
        client.results.submit(record, "configuration_test", {"configuration": "main"})
    for n in range(9_997, 10_000):
        record = client.result(f"job-{n:05d}")
        record.update(status="succeeded", success=True, output={"text": "x" * 4_000_000})
        client.results.put(record)
    app = Dashboard(client, {"localhost"})

    # When the overview is rendered
    tracemalloc.start()
    status, _, text = call(app, "/", host="localhost")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    # Then it lists the newest jobs first and never loaded an output
    assert status == 200
    assert text.index("job-09999") < text.index("job-09998") < text.index("job-09950")
    assert "job-09949" not in text
    assert "xxxx" not in text
    assert peak < 4_000_000, f"the overview took {peak} bytes at its peak"
