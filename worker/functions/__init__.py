"""Functions the worker may run for the model (function calling)."""

from worker.functions.registry import (
    FunctionRegistry,
    RegisteredFunction,
    function,
    load_function_modules,
    registry,
)

__all__ = [
    "FunctionRegistry",
    "RegisteredFunction",
    "function",
    "load_function_modules",
    "registry",
]
