"""Every operation's implementation, discovered from the modules of this package.

Each module lists its operations in ``OPERATIONS``, each bound to its entry in
``worker.catalog`` (name, payload schema, description). Adding an operation is a schema
in ``schemas/``, an entry in the catalogue and a module here; discovery refuses an
entry without an implementation and an implementation without an entry.
"""

from __future__ import annotations

import importlib
import pkgutil

from worker.catalog import CATALOG
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
            if CATALOG.get(operation.name) is not operation.spec:
                raise RuntimeError(f"operation {operation.name!r} is not the catalogue's entry")
            found[operation.name] = operation
    missing = sorted(set(CATALOG) - set(found))
    if missing:
        raise RuntimeError(f"catalogued operations without an implementation: {missing}")
    return dict(sorted(found.items()))


#: Operation name → operation, for the runner.
OPERATIONS: dict[str, Operation] = _discover()

__all__ = ["OPERATIONS", "JobContext", "Operation", "Outcome"]
