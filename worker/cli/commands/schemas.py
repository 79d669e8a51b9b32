"""``openai-worker schemas [DIR]``: every operation's payload as a JSON Schema."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from schemas import to_json_schema
from worker.catalog import CATALOG
from worker.cli.common import EXIT_OK, emit


def cmd_schemas(args: argparse.Namespace) -> int:
    documents = {
        name: to_json_schema(spec.schema, title=name) | {"description": spec.description}
        for name, spec in CATALOG.items()
    }
    if args.dir is None:
        emit(documents)
        return EXIT_OK
    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    for name, document in documents.items():
        (directory / f"{name}.json").write_text(json.dumps(document, indent=2) + "\n")
    emit({"written": sorted(str(directory / f"{n}.json") for n in documents)})
    return EXIT_OK


def register(sub: Any) -> None:
    schemas = sub.add_parser("schemas", help="export every payload's JSON Schema")
    schemas.add_argument("dir", nargs="?")
    schemas.set_defaults(func=cmd_schemas)
