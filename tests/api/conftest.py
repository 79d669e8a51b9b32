"""Fixtures for the HTTP API tests: ``start_api`` runs ``openai-worker api`` as a real
process; ``token`` creates a token with the command line."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from api_process import ApiProcess, api_command, api_env, free_port
from support import leaks


@pytest.fixture
def start_api(
    redis_url: str, namespace: str, tmp_path: Path
) -> Iterator[Callable[..., ApiProcess]]:
    """Start ``openai-worker api`` on a free loopback port: ``start_api(*args, **env)``."""
    started: list[ApiProcess] = []

    def start(*args: str, token: str | None = None, **env: str) -> ApiProcess:
        port = free_port()
        log_path = tmp_path / f"api-{len(started)}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                api_command("--port", str(port), *args),
                env=api_env(redis_url, namespace, tmp_path, **env),
                stdout=log,
                stderr=log,
                cwd=tmp_path,
            )
        api = ApiProcess(process, f"http://127.0.0.1:{port}", log_path, token)
        started.append(api)
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(api.url + "/healthz", timeout=2).status_code == 200:
                    return api
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                api.stop()
                raise RuntimeError(f"the API did not start:\n{api.log()}")
            time.sleep(0.05)

    yield start
    for api in started:
        api.stop()
    # Every test with an API process is also a check that its log holds no key nor token.
    for api in started:
        log = api.log()
        assert not leaks(log.encode()), "a test key in the API's log"
        if api.token:
            parts = {api.token[i : i + 12] for i in range(len(api.token) - 11)}
            assert not any(part in log for part in parts), "a token, or part of one, in a log"


@pytest.fixture
def token(cli: Any) -> str:
    """A token created by ``openai-worker api-token create``, as an operator would."""
    code, out, _ = cli("api-token", "create", "tests")
    assert code == 0, out
    created: str = out["token"]
    return created
