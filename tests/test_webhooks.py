"""Webhook signatures: the Standard Webhooks scheme, checked against the reference library
and against the README's three lines of Node.js."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook as ReferenceWebhook
from standardwebhooks.webhooks import WebhookVerificationError as ReferenceError

from worker.errors import SettingsError
from worker.settings import Settings
from worker.webhooks import (
    WebhookVerificationError,
    generate_secret,
    secret_key,
    signed_headers,
    verify,
)

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
OLD_SECRET = "whsec_" + base64.b64encode(bytes(range(100, 124))).decode()
BODY = json.dumps({"type": "job.succeeded", "data": {"job_id": "j1", "note": "é"}}).encode()
README = Path(__file__).resolve().parents[1] / "README.md"


def test_what_the_worker_signs_verifies_with_the_reference_library() -> None:
    headers = signed_headers([SECRET], "msg_abc", int(time.time()), BODY)

    assert ReferenceWebhook(SECRET).verify(BODY, headers) == json.loads(BODY)
    assert headers["webhook-signature"].startswith("v1,")


def test_what_the_reference_library_signs_verifies_with_ours() -> None:
    now = datetime.now(UTC)
    signature = ReferenceWebhook(SECRET).sign("msg_ref", now, BODY.decode())
    headers = {
        "Webhook-Id": "msg_ref",
        "Webhook-Timestamp": str(int(now.timestamp())),
        "Webhook-Signature": signature,
    }

    assert verify(SECRET, headers, BODY) == json.loads(BODY)


def test_a_tampered_body_or_another_secret_is_refused_by_both() -> None:
    headers = signed_headers([SECRET], "msg_abc", int(time.time()), BODY)
    tampered = BODY.replace(b"j1", b"j2")

    with pytest.raises(WebhookVerificationError, match="no signature matches"):
        verify(SECRET, headers, tampered)
    with pytest.raises(WebhookVerificationError, match="no signature matches"):
        verify(generate_secret(), headers, BODY)
    with pytest.raises(ReferenceError):
        ReferenceWebhook(SECRET).verify(tampered, headers)


def test_an_old_or_future_timestamp_is_refused_within_the_tolerance_only() -> None:
    now = 1_800_000_000
    headers = signed_headers([SECRET], "msg_abc", now, BODY)

    assert verify(SECRET, headers, BODY, now=now + 299) == json.loads(BODY)
    with pytest.raises(WebhookVerificationError, match="400 s old"):
        verify(SECRET, headers, BODY, now=now + 400)
    with pytest.raises(WebhookVerificationError, match="far in the future"):
        verify(SECRET, headers, BODY, now=now - 400)
    assert verify(SECRET, headers, BODY, now=now + 400, tolerance_s=600) == json.loads(BODY)


def test_missing_or_malformed_headers_are_named() -> None:
    headers = signed_headers([SECRET], "msg_abc", int(time.time()), BODY)

    with pytest.raises(WebhookVerificationError, match="missing header.*webhook-signature"):
        verify(SECRET, {k: v for k, v in headers.items() if k != "webhook-signature"}, BODY)
    with pytest.raises(WebhookVerificationError, match="not Unix seconds"):
        verify(SECRET, {**headers, "webhook-timestamp": "12.5"}, BODY)
    with pytest.raises(WebhookVerificationError, match="no signature matches"):
        verify(SECRET, {**headers, "webhook-signature": "v1,not-base64!! v1a,xyz"}, BODY)


def test_a_rotation_signs_with_both_secrets_and_either_receiver_accepts() -> None:
    # Given the worker moving from OLD_SECRET to SECRET: it signs with both
    headers = signed_headers([SECRET, OLD_SECRET], "msg_rot", int(time.time()), BODY)

    # Then the header holds two space-separated signatures, and a receiver holding either
    # secret (or both) accepts the delivery
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert verify(OLD_SECRET, headers, BODY) == json.loads(BODY)
    assert verify([generate_secret(), SECRET], headers, BODY) == json.loads(BODY)
    assert ReferenceWebhook(OLD_SECRET).verify(BODY, headers) == json.loads(BODY)


def test_secrets_must_be_whsec_base64_of_24_to_64_bytes() -> None:
    assert len(secret_key(generate_secret())) == 32
    for bad, reason in [
        ("plain-text-secret", "starts with 'whsec_'"),
        ("whsec_not*base64", "followed by base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "this one 5"),
        ("whsec_" + base64.b64encode(bytes(65)).decode(), "this one 65"),
    ]:
        with pytest.raises(ValueError, match=reason):
            secret_key(bad)


def test_a_webhook_id_with_a_dot_is_never_signed() -> None:
    # The dot delimits the signed text: an id holding one could forge another's content.
    with pytest.raises(ValueError, match="may not contain"):
        signed_headers([SECRET], "msg.1", 0, BODY)


def test_a_bad_webhook_secret_setting_is_named_without_quoting_it() -> None:
    secret = "whsec_" + base64.b64encode(b"twenty-bytes-secret!").decode()

    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"OPENAI_WORKER_WEBHOOK_SECRET": f"{SECRET},{secret}"})

    assert "OPENAI_WORKER_WEBHOOK_SECRET (secret 2)" in str(refused.value)
    assert secret not in str(refused.value)
    assert secret[6:18] not in str(refused.value)
    settings = Settings.from_env({"OPENAI_WORKER_WEBHOOK_SECRET": f"{SECRET}, {OLD_SECRET}"})
    assert settings.webhooks.secrets == (SECRET, OLD_SECRET)
    assert SECRET not in repr(settings)


def test_webhook_settings_read_hosts_and_the_public_api_url() -> None:
    settings = Settings.from_env(
        {
            "OPENAI_WORKER_WEBHOOK_ALLOW_HOSTS": "Receiver.internal, 127.0.0.1:8080, ::1",
            "OPENAI_WORKER_PUBLIC_API_URL": "https://jobs.example.com/",
            "OPENAI_WORKER_WEBHOOK_BACKOFF_BASE_S": "0.5",
        }
    )

    assert settings.webhooks.allow_hosts == ("receiver.internal", "127.0.0.1:8080", "[::1]")
    assert settings.webhooks.public_api_url == "https://jobs.example.com"
    assert settings.webhooks.backoff_base_s == 0.5
    assert settings.webhooks.max_age_s == 24 * 3600
    for name, value in [
        ("OPENAI_WORKER_WEBHOOK_ALLOW_HOSTS", "http://receiver/"),
        ("OPENAI_WORKER_WEBHOOK_ALLOW_HOSTS", "receiver:99999"),
        ("OPENAI_WORKER_PUBLIC_API_URL", "jobs.example.com"),
    ]:
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: value})


def test_the_receiver_helper_loads_no_engine_redis_or_dramatiq() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, worker.webhooks; print(' '.join(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()

    heavy = ("worker.engine", "worker.queue", "worker.client", "dramatiq", "redis", "requests")
    assert [name for name in loaded if name.startswith(heavy)] == []


def readme_node_lines() -> str:
    """The README's verification for other languages: its ```js block under Webhooks."""
    section = README.read_text().split("\n## Webhooks", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```js\n(.*?)```", section, re.S)
    assert block is not None, "the Webhooks section shows its Node.js lines"
    return block.group(1)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_readme_node_lines_verify_a_delivery_and_refuse_a_tampered_one() -> None:
    lines = readme_node_lines()
    assert len(lines.strip().splitlines()) == 3
    headers = signed_headers([SECRET, OLD_SECRET], "msg_node", int(time.time()), BODY)

    def node_says(body: bytes, secret: str) -> str:
        # The README's lines with the request's parts bound to the names they use.
        script = (
            "const crypto = require('crypto');\n"
            "const [secret, id, ts, sig, rawBody] = JSON.parse(process.argv[1]);\n"
            f"{lines}\n"
            "console.log(ok ? 'valid' : 'invalid');\n"
        )
        args = [secret, headers["webhook-id"], headers["webhook-timestamp"]]
        args += [headers["webhook-signature"], body.decode()]
        done = subprocess.run(
            ["node", "-e", script, json.dumps(args)],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    assert node_says(BODY, SECRET) == "valid"
    assert node_says(BODY, OLD_SECRET) == "valid"
    assert node_says(BODY.replace(b"j1", b"j2"), SECRET) == "invalid"
    assert node_says(BODY, generate_secret()) == "invalid"
