"""The real loading path: OPENAI_WORKER_FUNCTION_MODULES → import → registry → a job uses them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import Reply, chat_completion, make_configuration

from worker.errors import SettingsError
from worker.functions import load_function_modules, registry
from worker.settings import Settings

MODULE = "loadable_trip_functions"


@pytest.fixture
def trip_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The sample module importable by name; its registrations undone afterwards."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    yield MODULE
    sys.modules.pop(MODULE, None)
    registry.unregister("trip_distance")
    registry.unregister("trip_note")


def test_modules_named_in_the_environment_register_their_functions(trip_module: str) -> None:
    settings = Settings.from_env({"OPENAI_WORKER_FUNCTION_MODULES": f" {trip_module} ,"})

    load_function_modules(settings.function_modules)

    distance = registry.get("trip_distance")
    note = registry.get("trip_note")
    assert distance is not None
    assert note is not None
    assert distance.tool()["function"]["description"] == "Distance in km between two cities"
    assert distance.takes_raw_arguments is False
    assert note.takes_raw_arguments is True
    assert note.description == "Keeps a note for the trip."


def test_a_job_runs_a_function_from_a_loaded_module(
    trip_module: str, run_job: Any, wire_server: Any
) -> None:
    load_function_modules([trip_module])
    harness = run_job(make_configuration("openai", wire_server.url))
    harness.runner.functions = registry  # the process-wide registry, as a worker uses
    call = {
        "id": "c1",
        "type": "function",
        "function": {
            "name": "trip_distance",
            "arguments": '{"origin": "Oslo", "destination": "Rome"}',
        },
    }
    wire_server.script(
        Reply(json=chat_completion(None, finish_reason="tool_calls", tool_calls=[call])),
        Reply(json=chat_completion("About 1234 km.")),
    )

    record = harness.run(
        "chat_completions_without_history",
        {
            "configuration": "test",
            "model": "m",
            "user_prompt": "How far?",
            "functions": [{"name": "trip_distance"}],
        },
    )

    assert record["output"]["assistant_response_text"] == "About 1234 km."
    assert wire_server.last.json["messages"][-1]["content"] == (
        '{"origin": "Oslo", "destination": "Rome", "km": 1234}'
    )


def test_a_module_that_cannot_be_imported_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="no_such_function_module"):
        load_function_modules(["no_such_function_module"])
