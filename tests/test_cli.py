"""The command line as a user runs it: a real ``openai-worker`` process per command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from support import OPENAI_KEY, SECRET_KEY

from worker.settings import Settings


def configure_openai(cli: Any, url: str = "http://127.0.0.1:9/v1") -> tuple[int, Any, str]:
    return cli(
        "configure", "main", "--api-type", "openai", "--endpoint", url, stdin=OPENAI_KEY + "\n"
    )


def test_configure_reads_the_key_from_stdin_and_never_prints_it(cli: Any) -> None:
    code, out, err = configure_openai(cli)

    assert code == 0
    assert out["saved"]["name"] == "main"
    assert OPENAI_KEY not in json.dumps(out) + err


def test_configure_reads_the_key_from_the_environment(cli: Any) -> None:
    code, out, _ = cli(
        "configure",
        "az",
        "--api-type",
        "azure_openai",
        "--endpoint",
        "https://res.openai.azure.com/openai/deployments/",
        "--deployment-name",
        "gpt4o",
        "--api-version",
        "2024-10-21",
        "--key-type",
        "bearer_token",
        OPENAI_WORKER_API_KEY="token-value-123",
    )

    assert code == 0
    assert out["saved"]["key_type"] == "bearer_token"


def test_configurations_lists_without_keys(cli: Any) -> None:
    configure_openai(cli)

    code, out, _ = cli("configurations")

    assert code == 0
    assert [c["name"] for c in out] == ["main"]
    assert OPENAI_KEY not in json.dumps(out)


def test_configure_without_a_key_is_a_clear_error(cli: Any) -> None:
    code, out, err = cli(
        "configure", "main", "--api-type", "openai", "--endpoint", "https://api.openai.com/v1"
    )

    assert code == 2
    assert "no API key" in out["error"]["message"]
    assert "Traceback" not in err


def test_a_missing_secret_key_is_a_clear_error_not_a_stack_trace(cli: Any) -> None:
    code, out, err = cli(
        "configure",
        "main",
        "--api-type",
        "openai",
        "--endpoint",
        "https://api.openai.com/v1",
        stdin="sk-abc\n",
        OPENAI_WORKER_SECRET_KEY="",
    )

    assert code == 3
    assert "OPENAI_WORKER_SECRET_KEY is not set" in out["error"]["message"]
    assert "Traceback" not in err


def test_a_wrong_secret_key_is_a_clear_error(cli: Any) -> None:
    code, out, err = cli(
        "configure",
        "main",
        "--api-type",
        "openai",
        "--endpoint",
        "https://api.openai.com/v1",
        stdin="sk-abc\n",
        OPENAI_WORKER_SECRET_KEY="not-a-fernet-key",
    )

    assert code == 3
    assert "not a Fernet key" in out["error"]["message"]
    assert "Traceback" not in err


def test_an_invalid_configuration_names_the_problem(cli: Any) -> None:
    code, out, _ = cli(
        "configure",
        "az",
        "--api-type",
        "azure_openai",
        "--endpoint",
        "https://res.openai.azure.com",
        stdin="k\n",
    )

    assert code == 2
    assert "deployment_name is required" in out["error"]["message"]
    assert "api_version is required" in out["error"]["message"]


def test_configure_keeps_a_default_callback_url_and_warns_without_a_webhook_secret(
    cli: Any,
) -> None:
    # Given no OPENAI_WORKER_WEBHOOK_SECRET where it is configured
    url = "https://hooks.example.com/jobs"
    code, out, err = cli(
        "configure",
        "main",
        "--api-type",
        "openai",
        "--endpoint",
        "https://api.openai.com/v1",
        "--callback-url",
        url,
        stdin=OPENAI_KEY + "\n",
    )

    # Then it is saved and listed, with a warning saying what the workers need
    assert code == 0
    assert out["saved"]["callback_url"] == url
    assert "OPENAI_WORKER_WEBHOOK_SECRET" in err
    assert cli("configurations")[1][0]["callback_url"] == url


def test_configure_refuses_a_callback_url_that_is_not_absolute(cli: Any) -> None:
    code, out, _ = cli(
        "configure",
        "main",
        "--api-type",
        "openai",
        "--endpoint",
        "https://api.openai.com/v1",
        "--callback-url",
        "hooks.example.com/jobs",
        stdin=OPENAI_KEY + "\n",
    )

    assert code == 2
    assert "callback_url must be an absolute http:// or https:// URL" in out["error"]["message"]


def test_webhook_secret_prints_a_secret_the_worker_accepts(cli: Any) -> None:
    code, out, _ = cli("webhook-secret")

    assert code == 0
    secret = out.strip()
    assert secret.startswith("whsec_")
    settings = Settings.from_env({"OPENAI_WORKER_WEBHOOK_SECRET": secret})
    assert settings.webhooks.secrets == (secret,)


def test_submit_refuses_an_invalid_payload_before_queueing(cli: Any) -> None:
    code, out, _ = cli(
        "submit", "chat_completions_without_history", '{"configuration": "main", "temperature": 7}'
    )

    assert code == 2
    assert out["error"]["type"] == "validation"
    assert set(out["error"]["details"]["fields"]) == {"user_prompt", "temperature"}


def test_submit_refuses_malformed_json_and_unknown_operations(cli: Any) -> None:
    assert cli("submit", "configuration_test", "{nope")[0] == 2
    code, out, _ = cli("submit", "make_coffee", "{}")
    assert code == 2
    assert "unknown operation" in out["error"]["message"]


def test_submit_prints_a_job_id_and_result_reads_the_queued_record(cli: Any) -> None:
    code, out, _ = cli(
        "submit", "configuration_test", "-", stdin='{"configuration": "main", "model": "m"}'
    )
    assert code == 0

    code, record, _ = cli("result", out["job_id"])

    assert code == 0
    assert record["status"] == "queued"
    assert record["operation"] == "configuration_test"


def test_waiting_on_a_job_no_worker_runs_exits_4(cli: Any) -> None:
    _, out, _ = cli("submit", "configuration_test", '{"configuration": "main", "model": "m"}')

    code, record, _ = cli("result", out["job_id"], "--wait", "0.3")

    assert code == 4
    assert record["status"] == "queued"


def test_an_unknown_job_id_is_an_error(cli: Any) -> None:
    code, out, _ = cli("result", "0123456789abcdef")

    assert code == 2
    assert out["error"]["type"] == "not_found"


def test_schemas_exports_a_json_schema_per_operation(cli: Any, tmp_path: Path) -> None:
    code, out, _ = cli("schemas", str(tmp_path / "schemas"))

    assert code == 0
    written = {Path(p).stem for p in out["written"]}
    assert {"chat_completions_without_history", "configuration_test"} <= written
    document = json.loads((tmp_path / "schemas" / "configuration_test.json").read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    assert document["required"] == ["configuration"]


def test_secret_key_prints_a_usable_fernet_key(cli: Any) -> None:
    from worker.configurations import KeyRing

    code, out, _ = cli("secret-key")

    assert code == 0
    KeyRing([str(out).strip()])


def test_an_unreachable_redis_is_a_clear_error(cli: Any) -> None:
    code, out, err = cli("configurations", REDIS_URL="redis://127.0.0.1:1/0")

    assert code == 3
    assert out["error"]["type"] == "redis"
    assert "Traceback" not in err


def test_rotating_the_secret_key_re_encrypts_every_stored_key(
    cli: Any, redis_url: str, namespace: str
) -> None:
    from worker.client import Client
    from worker.configurations import generate_secret_key
    from worker.settings import Settings

    configure_openai(cli)
    new_key = generate_secret_key()

    code, out, _ = cli("rotate-secret-key", OPENAI_WORKER_SECRET_KEY=f"{new_key},{SECRET_KEY}")

    assert code == 0
    assert out == {"rotated": 1}
    only_new = Client(Settings(namespace=namespace, secret_keys=(new_key,)), url=redis_url)
    assert only_new.configurations().load("main").api_key == OPENAI_KEY
    only_new.close()


def test_azure_v1_and_openai_compatible_configurations_are_saved_and_listed(cli: Any) -> None:
    v1 = cli(
        "configure",
        "azure-v1",
        "--api-type",
        "azure_openai",
        "--endpoint",
        "https://res.openai.azure.com",
        "--deployment-name",
        "gpt-5-mini",
        "--api-version",
        "v1",
        stdin="azure-key-0123456789\n",
    )
    local = cli(
        "configure",
        "llama",
        "--api-type",
        "openai_compatible",
        "--endpoint",
        "http://127.0.0.1:8080/v1",
        stdin="none-needed\n",
    )
    refused = cli(
        "configure",
        "bad",
        "--api-type",
        "openai_compatible",
        "--endpoint",
        "http://127.0.0.1:8080/v1",
        "--organization",
        "org-1",
        stdin="none-needed\n",
    )

    assert (v1[0], local[0]) == (0, 0)
    listed = {c["name"]: c for c in cli("configurations")[1]}
    assert listed["azure-v1"]["api_version"] == "v1"
    assert listed["llama"]["api_type"] == "openai_compatible"
    assert refused[0] == 2
    assert "organization applies to openai only" in refused[1]["error"]["message"]
