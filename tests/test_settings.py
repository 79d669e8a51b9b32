"""Settings come from the environment once, with clear errors for unusable values."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.errors import SettingsError
from worker.settings import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S, Settings


def test_defaults_need_no_environment() -> None:
    settings = Settings.from_env({"HOME": "/home/u"})

    assert settings.redis_url is None
    assert settings.timeout_s == DEFAULT_TIMEOUT_S
    assert settings.max_retries == DEFAULT_MAX_RETRIES
    assert settings.data_dir == Path("/home/u/.local/share/openai-worker")


def test_values_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "REDIS_URL": "redis://h:6379/2",
            "OPENAI_WORKER_SECRET_KEY": " new-key , old-key ",
            "OPENAI_WORKER_FUNCTION_MODULES": "app.tools,app.more",
            "OPENAI_WORKER_TIMEOUT_S": "30.5",
            "OPENAI_WORKER_MAX_RETRIES": "0",
            "OPENAI_WORKER_RESULT_TTL_S": "60",
            "OPENAI_WORKER_DATA_DIR": "/data",
        }
    )

    assert settings.redis_url == "redis://h:6379/2"
    assert settings.secret_keys == ("new-key", "old-key")
    assert settings.function_modules == ("app.tools", "app.more")
    assert settings.timeout_s == 30.5
    assert settings.max_retries == 0
    assert settings.result_ttl_s == 60
    assert settings.data_dir == Path("/data")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OPENAI_WORKER_TIMEOUT_S", "fast"),
        ("OPENAI_WORKER_TIMEOUT_S", "0"),
        ("OPENAI_WORKER_MAX_RETRIES", "-1"),
        ("OPENAI_WORKER_RESULT_TTL_S", "nan"),
        ("OPENAI_WORKER_LOG_FORMAT", "xml"),
        ("OPENAI_WORKER_NAMESPACE", "has space"),
    ],
)
def test_unusable_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_the_secret_keys_never_show_in_a_repr() -> None:
    settings = Settings.from_env({"OPENAI_WORKER_SECRET_KEY": "very-secret-value"})

    assert "very-secret-value" not in repr(settings)
