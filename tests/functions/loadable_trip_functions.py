"""A function module as a deployment would name it in OPENAI_WORKER_FUNCTION_MODULES.

Not a test module: ``test_function_modules.py`` imports it by name through the real
loading path.
"""

from __future__ import annotations

from worker import function


@function(
    description="Distance in km between two cities",
    parameters={
        "type": "object",
        "properties": {"origin": {"type": "string"}, "destination": {"type": "string"}},
        "required": ["origin", "destination"],
    },
)
def trip_distance(origin: str, destination: str) -> dict[str, object]:
    return {"origin": origin, "destination": destination, "km": 1234}


@function(name="trip_note")
def note(arguments: str) -> str:
    """Keeps a note for the trip."""
    return f"noted: {arguments}"
