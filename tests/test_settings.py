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
        # ':' and glob characters would let one namespace's scans reach another's keys.
        ("OPENAI_WORKER_NAMESPACE", "prod:eu"),
        ("OPENAI_WORKER_NAMESPACE", "prod*"),
        ("OPENAI_WORKER_NAMESPACE", "p[ro]d"),
        ("OPENAI_WORKER_NAMESPACE", "prod?"),
        # A stack this small could overflow and kill the process, not fail a job.
        ("OPENAI_WORKER_THREAD_STACK_KIB", "64"),
        ("OPENAI_WORKER_THREAD_STACK_KIB", "big"),
        ("OPENAI_WORKER_TURNS", "-1"),
        ("OPENAI_WORKER_TURNS", "few"),
    ],
)
def test_unusable_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_the_secret_keys_never_show_in_a_repr() -> None:
    settings = Settings.from_env({"OPENAI_WORKER_SECRET_KEY": "very-secret-value"})

    assert "very-secret-value" not in repr(settings)


def test_slow_operations_get_longer_read_timeouts_by_default() -> None:
    settings = Settings.from_env({})

    assert settings.read_timeout_s("chat") == 600
    assert settings.read_timeout_s("images") == 600
    assert settings.read_timeout_s("embeddings") == 120
    assert settings.read_timeout_s("default") == 120


def test_the_general_timeout_applies_to_every_operation_unless_one_is_named() -> None:
    settings = Settings.from_env(
        {"OPENAI_WORKER_TIMEOUT_S": "30", "OPENAI_WORKER_IMAGES_TIMEOUT_S": "900"}
    )

    assert settings.read_timeout_s("chat") == 30
    assert settings.read_timeout_s("embeddings") == 30
    assert settings.read_timeout_s("images") == 900
    assert settings.read_timeout_s("default") == 30


def test_the_wait_for_rate_limit_capacity_is_bounded_at_a_day_by_default() -> None:
    assert Settings.from_env({}).max_queue_wait_s == 24 * 3600
    assert Settings.from_env({"OPENAI_WORKER_MAX_QUEUE_WAIT_S": "60"}).max_queue_wait_s == 60


def test_a_namespace_of_letters_digits_dashes_underscores_and_dots_is_accepted() -> None:
    assert Settings.from_env({"OPENAI_WORKER_NAMESPACE": "prod-eu_2.a"}).namespace == "prod-eu_2.a"


def test_the_thread_stack_size_is_left_to_the_worker_unless_set() -> None:
    assert Settings.from_env({}).thread_stack_kib is None
    assert Settings.from_env({"OPENAI_WORKER_THREAD_STACK_KIB": "0"}).thread_stack_kib is None
    assert Settings.from_env({"OPENAI_WORKER_THREAD_STACK_KIB": "512"}).thread_stack_kib == 512


def test_turns_are_left_to_the_worker_unless_set() -> None:
    assert Settings.from_env({}).turns is None
    assert Settings.from_env({"OPENAI_WORKER_TURNS": " "}).turns is None
    assert Settings.from_env({"OPENAI_WORKER_TURNS": "0"}).turns == 0
    assert Settings.from_env({"OPENAI_WORKER_TURNS": "16"}).turns == 16
