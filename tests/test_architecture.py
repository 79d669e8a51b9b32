"""The layout holds: layers only look down, producers stay light, keys have one home.

The layers themselves are import-linter contracts in ``pyproject.toml`` (run by
``make lint``); these tests check that the contracts bite, and what a contract cannot
see: the modules a fresh interpreter really loads, and key names spelled in strings.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import dramatiq.common
import pytest

from worker.catalog import CATALOG
from worker.keys import Keys
from worker.operations import OPERATIONS

ROOT = Path(__file__).resolve().parent.parent
#: What a Redis key looks like when spelled by hand: a namespace, then ``:`` or ``.``;
#: one of our key kinds after a colon; or Dramatiq's queue suffixes.
KEY_SHAPES = (
    re.compile(r"namespace\}[:.]"),
    re.compile(
        r":(job|payload|idempotency|failed|output|ledger|ratelimit|configurations"
        r"|workers|dramatiq)\b"
    ),
    re.compile(r"\.(DQ|XQ)\b"),
)


def key_strings(source: str) -> list[str]:
    """The string literals (f-strings included) of ``source`` that look like Redis keys."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.STRING and any(s.search(token.string) for s in KEY_SHAPES):
            found.append(token.string)
    return found


def test_a_producer_imports_none_of_the_engine() -> None:
    # Given a fresh interpreter, when a producing app imports the client
    code = "import sys, worker.client\nprint('\\n'.join(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(done.stdout.split())

    # Then neither requests nor the code that runs operations was loaded
    assert "worker.client" in loaded
    heavy = {
        name
        for name in loaded
        if name == "requests"
        or name.startswith(("worker.operations", "worker.providers", "worker.engine"))
        or name.startswith("worker.transport")
    }
    assert heavy == set()


def test_no_redis_key_is_spelled_outside_the_keys_module() -> None:
    offenders = {
        str(path.relative_to(ROOT)): strings
        for path in sorted((ROOT / "worker").rglob("*.py"))
        if path.name != "keys.py" and (strings := key_strings(path.read_text()))
    }
    assert offenders == {}


@pytest.mark.parametrize(
    "spelled",
    [
        'f"{self.namespace}:job:{job_id}"',
        'f"{settings.namespace}:failed"',
        'f"{prefix}.DQ"',
        'f"{ns}:ratelimit:{name}"',
    ],
)
def test_the_key_check_finds_a_key_spelled_by_hand(spelled: str) -> None:
    assert key_strings(f"key = {spelled}\n") == [spelled]


def test_key_names_stay_what_deployments_already_hold() -> None:
    # Renaming a key would orphan every record, queue and configuration already stored.
    keys = Keys("ns")
    assert [
        keys.job("j"),
        keys.payload("j"),
        keys.idempotency("k"),
        keys.failed,
        keys.output_part("j", "w", 2),
        keys.ledger("j"),
        keys.rate_limit("main", "tokens"),
        keys.configurations,
        keys.workers,
        keys.events,
        keys.job_ended("j"),
    ] == [
        "ns:job:j",
        "ns:payload:j",
        "ns:idempotency:k",
        "ns:failed",
        "ns:output:j:w:2",
        "ns:ledger:j",
        "ns:ratelimit:main:tokens",
        "ns:configurations",
        "ns:workers",
        "ns:events",
        "ns:ended:j",
    ]
    assert keys.broker_queue(rabbitmq=True) == "ns.jobs"
    assert keys.broker_queue(rabbitmq=False) == "jobs"


def test_dramatiqs_queue_layout_is_the_installed_dramatiqs() -> None:
    keys = Keys("ns")
    assert keys.queue == "ns:dramatiq:jobs"
    assert keys.delayed_queue == "ns:dramatiq:" + dramatiq.common.dq_name("jobs")
    assert keys.dead_letters == "ns:dramatiq:" + dramatiq.common.xq_name("jobs")
    assert keys.dead_letter_messages == keys.dead_letters + ".msgs"


def test_every_catalogued_operation_has_an_implementation() -> None:
    assert list(OPERATIONS) == list(CATALOG)
    assert all(OPERATIONS[name].spec is CATALOG[name] for name in CATALOG)


def test_an_upward_import_breaks_the_layers_contract(tmp_path: Path) -> None:
    # Given a copy of the project in which a bottom layer imports the command line
    for part in ("worker", "schemas"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    errors = tmp_path / "worker" / "errors.py"
    errors.write_text(errors.read_text() + "\nimport worker.cli  # noqa: E402\n")

    # When the contracts are checked on that copy
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(lint), "--no-cache"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": str(lint.parent)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # Then the layers contract is broken, naming the import
    assert done.returncode == 1, done.stdout + done.stderr
    assert "worker's layers only look down BROKEN" in done.stdout
    assert "worker.errors -> worker.cli" in done.stdout
