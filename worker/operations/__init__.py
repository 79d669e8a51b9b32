"""Every operation, discovered from the modules of this package.

Each module lists its operations in ``OPERATIONS``; adding an operation family is
adding a module, nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil

from worker.operations.base import JobContext, Operation, Outcome


def _discover() -> dict[str, Operation]:
    found: dict[str, Operation] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for operation in getattr(module, "OPERATIONS", ()):
            if operation.name in found:
                raise RuntimeError(f"operation {operation.name!r} is defined twice")
            found[operation.name] = operation
    return dict(sorted(found.items()))


#: Operation name → operation, for the actors, the client and the CLI.
OPERATIONS: dict[str, Operation] = _discover()

__all__ = ["OPERATIONS", "JobContext", "Operation", "Outcome"]
