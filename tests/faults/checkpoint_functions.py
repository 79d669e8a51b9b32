"""Functions for the checkpoint tests, loaded by a real worker via
OPENAI_WORKER_FUNCTION_MODULES. Each call is appended to the file named by
CHECKPOINT_TEST_LOG; ``slow_step`` blocks while the file CHECKPOINT_TEST_BLOCK exists."""

from __future__ import annotations

import os
import time
from pathlib import Path

from worker import function


def _note(text: str) -> None:
    with open(os.environ["CHECKPOINT_TEST_LOG"], "a") as log:
        log.write(text + "\n")


@function(description="A quick step", parameters={"type": "object", "properties": {}})
def quick_step() -> str:
    _note("quick")
    return "quick done"


@function(description="A slow step", parameters={"type": "object", "properties": {}})
def slow_step() -> str:
    _note("slow started")
    while Path(os.environ["CHECKPOINT_TEST_BLOCK"]).exists():
        time.sleep(0.05)
    _note("slow finished")
    return "slow done"
