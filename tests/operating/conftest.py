"""Fixtures for the operating tests: a free port, polling, a served dashboard, a headless
browser."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from worker.dashboard import serve


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _eventually(check: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail with its last error."""
    deadline = time.monotonic() + timeout_s
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except (AssertionError, OSError) as exc:
            last = exc
        else:
            if value:
                return value
        time.sleep(0.1)
    raise AssertionError(f"condition not met in {timeout_s}s: {last!r}")


@pytest.fixture
def eventually() -> Callable[..., Any]:
    """``eventually(check, timeout_s=30)``: poll until ``check`` returns something truthy."""
    return _eventually


@pytest.fixture
def port() -> int:
    return free_port()


RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def _rabbitmq_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def rabbitmq_url(namespace: str) -> Iterator[str]:
    """RabbitMQ on 127.0.0.1:5672; this test's queues (named after its namespace) go after."""
    if not _rabbitmq_reachable():
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")
    yield RABBITMQ_URL
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    channel = connection.channel()
    for suffix in ("jobs", "jobs.DQ", "jobs.XQ"):
        channel.queue_delete(f"{namespace}.{suffix}")
    connection.close()


@pytest.fixture
def rabbitmq_client(redis_url: str, namespace: str, rabbitmq_url: str) -> Iterator[Any]:
    """A producer whose jobs travel on RabbitMQ; results stay in Redis."""
    from support import SECRET_KEY

    from worker.client import Client
    from worker.settings import Settings

    settings = Settings(
        redis_url=redis_url, namespace=namespace, secret_keys=(SECRET_KEY,), broker_url=rabbitmq_url
    )
    producer = Client(settings, url=redis_url)
    yield producer
    producer.close()


# --- the dashboard, and a real browser to look at it -----------------------------------


@pytest.fixture
def dashboard(client: Any) -> Iterator[str]:
    server = serve(client, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
]


@pytest.fixture
def browser() -> Iterator[Any]:
    available = os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        available = False
    if not available:
        if os.environ.get("OPENAI_WORKER_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium, chromium-driver and selenium are required")
        pytest.skip("no chromium/chromium-driver/selenium here")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in BROWSER_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()
