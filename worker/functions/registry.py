"""Registration of functions with ``@function`` and loading of the modules that hold them.

Modules are named in the worker's environment (``OPENAI_WORKER_FUNCTION_MODULES``),
never in a payload: a payload can only pick among functions already registered.
"""

from __future__ import annotations

import importlib
import inspect
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from worker.errors import SettingsError

F = TypeVar("F", bound=Callable[..., Any])
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class RegisteredFunction:
    """A callable and what the model is told about it."""

    name: str
    description: str | None
    parameters: dict[str, Any] | None
    func: Callable[..., Any]
    #: Whether the model is asked to follow ``parameters`` exactly (Structured Outputs).
    strict: bool = False

    @property
    def takes_raw_arguments(self) -> bool:
        """Without a parameters schema the function gets the raw argument string."""
        return self.parameters is None

    def tool(self, description: str | None = None, strict: bool | None = None) -> dict[str, Any]:
        """The Chat Completions ``tools`` entry; a payload may override description and strict."""
        spec: dict[str, Any] = {"name": self.name}
        text = description or self.description
        if text:
            spec["description"] = text
        strict = self.strict if strict is None else strict
        spec["parameters"] = self.parameters or _raw_arguments(strict)
        if strict:
            spec["strict"] = True
        return {"type": "function", "function": spec}


def _raw_arguments(strict: bool) -> dict[str, Any]:
    """The parameters of a function without a schema: one string, its raw arguments."""
    schema: dict[str, Any] = {"type": "object", "properties": {"arguments": {"type": "string"}}}
    if strict:
        # Strict mode requires every property listed and nothing else allowed.
        schema.update(required=["arguments"], additionalProperties=False)
    return schema


class FunctionRegistry:
    """Name → function, filled by ``@function`` at import time."""

    def __init__(self) -> None:
        self._functions: dict[str, RegisteredFunction] = {}
        self._lock = threading.Lock()

    def register(
        self,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        parameters: dict[str, Any] | None = None,
        strict: bool = False,
    ) -> RegisteredFunction:
        fname = name or func.__name__
        if not _NAME.match(fname):
            raise ValueError(f"function name {fname!r} must match {_NAME.pattern}")
        if parameters is not None and not isinstance(parameters, dict):
            raise TypeError("parameters must be a JSON Schema object (a dict)")
        entry = RegisteredFunction(
            fname, description or inspect.getdoc(func) or None, parameters, func, strict
        )
        with self._lock:
            existing = self._functions.get(fname)
            if existing is not None and existing.func is not func:
                raise ValueError(f"a function named {fname!r} is registered already")
            self._functions[fname] = entry
        return entry

    def get(self, name: str) -> RegisteredFunction | None:
        return self._functions.get(name)

    def names(self) -> list[str]:
        return sorted(self._functions)

    def unregister(self, name: str) -> None:
        with self._lock:
            self._functions.pop(name, None)


#: The process-wide registry that ``@function`` fills.
registry = FunctionRegistry()


def function(
    func: F | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    parameters: dict[str, Any] | None = None,
    strict: bool = False,
) -> Any:
    """Register a function the model may call; usable bare or with arguments."""

    def decorate(f: F) -> F:
        registry.register(
            f, name=name, description=description, parameters=parameters, strict=strict
        )
        return f

    return decorate(func) if func is not None else decorate


def load_function_modules(modules: Iterable[str]) -> None:
    """Import every named module so its ``@function`` registrations run."""
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:
            raise SettingsError(
                f"OPENAI_WORKER_FUNCTION_MODULES: cannot import {module!r}: {exc}"
            ) from exc
