"""The batch tier's contract cases: the Files and Batches calls, one cassette each.

``cassettes/<provider>/batch/<name>.yaml``, in two stories (run by ``batch_harness``):

- ``job``: a batch-tier job's whole life through the real runner, admission and
  ``BatchSteps``: its line written by its operation, the file uploaded, the batch
  created and polled until it completes, the output file read into the job's ledger,
  the files deleted; then the job finished from its answer line by the same operation
  code as the standard tier. One chat and one embeddings job per provider.
- ``calls``: the ``BatchApi`` calls that life makes only after a crash or never: the
  search of the provider's files and batches for the group's (over two pages on
  OpenAI, so ``after`` is sent), and a cancel, the cancelled batch and its error file.

OpenAI's cases are recorded against the Prism mock of OpenAI's official spec, which
validates every request; the worker is handed the hand-made answers of
``handmade_batch`` instead of the mock's placeholders (``rounds``). Azure's specs have
no mock for batches (2024-10-21's inference spec has no Files or Batches paths, the v1
spec no Batches paths), so Azure's cases are recorded against the stateful Batch API
server of ``batch_api``, which follows Microsoft's documentation, and keep its answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cases import BASIC_CHAT, CASSETTES, CHAT, TEXTS, OutputFrom, chat_text, one_vector, provider_of
from handmade_batch import CALLS_STEPS, JOB_STEPS

EMBEDDINGS = "embeddings_single_input"


@dataclass(frozen=True)
class BatchCase:
    """One recorded conversation with a Batch API, for one job of ``operation``."""

    name: str
    variant: str  # openai | azure_api_key | azure_v1
    operation: str
    payload: dict[str, Any]
    story: str  # job | calls
    #: The job's expected ``output``, from the body of its answer line (story ``job``).
    output: OutputFrom | None = None
    #: OpenAI: the ``handmade.RESPONSES`` answering each request in turn.
    rounds: tuple[str, ...] = ()
    #: A real Batch API answers within 24 hours: these are never recorded live.
    live: bool = False
    #: What the recorder reads of every case: nothing to ask the mock, no single answer.
    mock_status: None = None
    handmade: None = None

    @property
    def provider(self) -> str:
        return provider_of(self.variant)

    @property
    def cassette(self) -> Path:
        return CASSETTES / self.provider / "batch" / f"{self.name}.yaml"

    @property
    def id(self) -> str:
        return f"{self.provider}/batch/{self.name}"


def _rounds(variant: str, name: str, steps: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"openai_batch_{name}_{step}" for step in steps) if variant == "openai" else ()


def _cases(variant: str) -> list[BatchCase]:
    openai = variant == "openai"
    embedding = {"input": TEXTS[0], "dimensions": 8, "encoding_format": "float"}
    if openai:
        embedding = {"model": "text-embedding-3-small", **embedding}
    return [
        BatchCase(
            "chat_job",
            variant,
            CHAT,
            BASIC_CHAT,
            "job",
            output=chat_text,
            rounds=_rounds(variant, "chat_job", JOB_STEPS),
        ),
        BatchCase(
            "embeddings_job",
            variant,
            EMBEDDINGS,
            embedding,
            "job",
            output=one_vector,
            rounds=_rounds(variant, "embeddings_job", JOB_STEPS),
        ),
        BatchCase(
            "search_and_cancel",
            variant,
            CHAT,
            BASIC_CHAT,
            "calls",
            rounds=_rounds(variant, "search_and_cancel", CALLS_STEPS),
        ),
    ]


BATCH_CASES: list[BatchCase] = [
    *_cases("openai"),
    *_cases("azure_api_key"),
    *_cases("azure_v1"),
]


def batch_by_id() -> dict[str, BatchCase]:
    found: dict[str, BatchCase] = {}
    for case in BATCH_CASES:
        if case.id in found:
            raise RuntimeError(f"two batch cases write {case.id}")
        found[case.id] = case
    return found
