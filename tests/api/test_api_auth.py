"""Who may use the API: tokens from the store, revocable at once; host names; browsers."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import requests
from api_process import api_command, api_env, free_port
from support import dump_value

from worker.tokens import TOKEN_PREFIX, token_digest

pytestmark = pytest.mark.integration
PROTECTED = ("/v1/operations", "/v1/jobs/anything")


def assert_unauthorized(answer: requests.Response, *, offered: bool) -> None:
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["www-authenticate"].startswith("Bearer ")
    assert ('error="invalid_token"' in answer.headers["www-authenticate"]) is offered
    assert answer.json()["type"] == "urn:openai-worker:problem:unauthorized"


def test_a_token_is_needed_and_a_revoked_one_stops_at_once(start_api: Any, cli: Any) -> None:
    # Given two tokens, created as an operator would
    first = cli("api-token", "create", "billing")[1]["token"]
    second = cli("api-token", "create", "reports")[1]["token"]
    api = start_api()

    # Without a token, or with a wrong one, every protected route is refused
    for path in PROTECTED:
        assert_unauthorized(api.get(path), offered=False)
        assert_unauthorized(api.get(path, token=TOKEN_PREFIX + "x" * 43), offered=True)
        assert_unauthorized(
            api.get(path, headers={"Authorization": f"Basic {first}"}), offered=False
        )
    assert_unauthorized(api.post("/v1/jobs", json={}), offered=False)
    # ... while the health check and the document need none
    assert api.get("/healthz").status_code == 200
    assert api.get("/openapi.json").status_code == 200

    # With either token the API answers
    assert api.get("/v1/operations", token=first).status_code == 200
    assert api.get("/v1/operations", token=second).status_code == 200

    # When one is revoked, the next request with it is refused; the other still works
    code, out, _ = cli("api-token", "revoke", "billing")
    assert (code, out) == (0, {"revoked": "billing"})
    assert_unauthorized(api.get("/v1/operations", token=first), offered=True)
    assert api.get("/v1/operations", token=second).status_code == 200
    # The log names the token that was used, never the token
    assert '"token_name": "reports"' in api.log()
    for secret in (first, second):
        assert not any(secret[i : i + 12] in api.log() for i in range(len(secret) - 11))


def test_a_token_is_stored_only_as_its_digest(cli: Any, client: Any) -> None:
    code, out, err = cli("api-token", "create", "ci")
    token = out["token"]
    assert code == 0
    assert token.startswith(TOKEN_PREFIX)
    assert len(token) >= 40
    assert "shown once" in err

    stored = b"".join(
        dump_value(client.redis, key)
        for key in client.redis.scan_iter(f"{client.keys.namespace}:*")
    )
    assert token_digest(token).encode() in stored
    assert not any(token[i : i + 12].encode() in stored for i in range(len(token) - 11))

    code, listed, _ = cli("api-token", "list")
    assert code == 0
    assert [entry["name"] for entry in listed] == ["ci"]
    assert set(listed[0]) == {"name", "created_at"}  # never the digest

    # A name is taken once, and must be a plain word
    assert cli("api-token", "create", "ci")[0] == 2
    assert cli("api-token", "create", "no spaces")[0] == 2
    assert cli("api-token", "revoke", "nobody")[0] == 2


def test_on_loopback_the_api_is_open_until_the_first_token_exists(start_api: Any, cli: Any) -> None:
    api = start_api()  # 127.0.0.1, no token in the store
    assert api.get("/v1/operations").status_code == 200

    cli("api-token", "create", "first")

    assert_unauthorized(api.get("/v1/operations"), offered=False)


def test_beyond_loopback_it_does_not_start_without_a_token(
    redis_url: str, namespace: str, tmp_path: Any, start_api: Any, cli: Any
) -> None:
    # Given no token: the command refuses, says why, and never listens
    port = free_port()
    done = subprocess.run(
        api_command("--host", "0.0.0.0", "--port", str(port)),  # noqa: S104 - under test
        env=api_env(redis_url, namespace, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "beyond this machine" in done.stderr
    assert "api-token create" in done.stderr
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)

    # Given a token, it starts, and every request needs the token ...
    token = cli("api-token", "create", "remote")[1]["token"]
    api = start_api("--host", "0.0.0.0")  # noqa: S104 - under test
    assert_unauthorized(api.get("/v1/operations"), offered=False)
    assert api.get("/v1/operations", token=token).status_code == 200
    # (under whatever name it is reached: a page rebinding its name has no token)
    named = api.get("/v1/operations", token=token, headers={"Host": "api.example.com"})
    assert named.status_code == 200

    # ... even once no token is left: an empty store beyond loopback lets nobody in
    cli("api-token", "revoke", "remote")
    assert_unauthorized(api.get("/v1/operations", token=token), offered=True)
    assert_unauthorized(api.get("/v1/operations"), offered=False)


def test_foreign_host_names_and_cross_site_requests_are_refused(start_api: Any) -> None:
    api = start_api("--allowed-host", "API.internal")

    # A page that points its own name at this machine sends its own Host
    for path in ("/healthz", "/v1/operations", "/v1/jobs"):
        answer = api.get(path, headers={"Host": "evil.example"})
        assert answer.status_code == 400
        assert answer.json()["type"] == "urn:openai-worker:problem:unknown-host"
    assert api.get("/v1/operations", headers={"Host": "api.internal:8088"}).status_code == 200
    assert api.get("/v1/operations", headers={"Host": "localhost"}).status_code == 200

    # A browser marks a request from another site; it is refused, however it is sent
    for site in ("cross-site", "same-site"):
        answer = api.post("/v1/jobs", json={}, headers={"Sec-Fetch-Site": site})
        assert answer.status_code == 403
        assert answer.json()["type"] == "urn:openai-worker:problem:cross-site"
    assert api.get("/v1/operations", headers={"Sec-Fetch-Site": "none"}).status_code == 200


def test_unknown_routes_and_methods_are_problem_documents(start_api: Any) -> None:
    api = start_api()

    missing = api.get("/v1/nothing")
    wrong = requests.delete(api.url + "/v1/operations", timeout=10)

    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "Not Found",
    }
    assert wrong.status_code == 405
    assert wrong.json()["title"] == "Method Not Allowed"
    assert "GET" in wrong.headers["allow"]
