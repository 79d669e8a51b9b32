"""Hand-made answers of OpenAI's Files and Batches API, for the batch contract cases.

Written against OpenAI's spec: ``OpenAIFile``, ``ListFilesResponse``, ``Batch`` (with
``BatchRequestCounts`` and ``Metadata``), ``ListBatchesResponse`` and
``DeleteFileResponse``. An output or error file is JSON Lines of the request output
objects OpenAI's batch guide documents (``id``, ``custom_id``, ``response`` with
``status_code``, ``request_id`` and ``body``, ``error``): the spec itself types a file's
content as a string. ``handmade.py`` wraps each answer as a ``Handmade``; a case lists
them in ``rounds``, one per request, in the order the worker sends them.

Ids chain: the worker sends each request with ids from the answers before it (the
uploaded file's id in the batch it creates, the batch's id in its polls, the output
file's id in its read), so each case has ids of its own. Replay tells the cases'
recordings apart by them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from batch_api.lifecycle import TIMESTAMPS

#: A batch line's answer is the answer the standard tier would get: chat or embeddings.
Body = dict[str, Any]
#: A JSON answer, or a file's lines.
Answer = dict[str, Any] | tuple[dict[str, Any], ...]

#: What a case's job is, in the harness (``batch_harness``): its file name and metadata.
FILENAME = "openai-worker-contract-group.jsonl"
GROUP = "contract-group"
METADATA = {"openai_worker_group": GROUP, "openai_worker_namespace": "openai-worker"}
#: OpenAI keeps a batch input file 30 days; a batch's window is 24 hours.
FILE_TTL_S = 30 * 24 * 3600
WINDOW_S = 24 * 3600

#: The requests of a batch-tier job's life, in order (``JOB_STEPS``), and of the calls
#: the life leaves out (``CALLS_STEPS``): searching over two pages, cancelling.
JOB_STEPS = (
    "uploaded",
    "validating",
    "in_progress",
    "completed",
    "output",
    "input_deleted",
    "output_deleted",
)
CALLS_STEPS = (
    "uploaded",
    "files_page_1",
    "files_page_2",
    "validating",
    "batches_page_1",
    "batches_page_2",
    "cancelling",
    "cancelled",
    "errors",
    "input_deleted",
    "errors_deleted",
)


@dataclass(frozen=True)
class Ids:
    """One case's ids and clock."""

    input_file: str
    batch: str
    #: The output file of a completed batch, or the error file of a cancelled one.
    result_file: str
    created: int


def file_object(
    file_id: str, filename: str, size: int, created: int, purpose: str
) -> dict[str, Any]:
    """An ``OpenAIFile``."""
    return {
        "id": file_id,
        "object": "file",
        "bytes": size,
        "created_at": created,
        "expires_at": created + FILE_TTL_S,
        "filename": filename,
        "purpose": purpose,
        "status": "processed",
        "status_details": None,
    }


def listing(data: list[dict[str, Any]], *, more: bool) -> dict[str, Any]:
    """A ``ListFilesResponse`` or ``ListBatchesResponse`` page."""
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"],
        "last_id": data[-1]["id"],
        "has_more": more,
    }


def batch_object(
    ids: Ids,
    endpoint: str,
    model: str,
    status: str,
    *,
    total: int = 0,
    completed: int = 0,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A ``Batch`` in ``status``, with the timestamps of the states it went through."""
    at = ids.created
    reached = {
        "validating": [],
        "in_progress": ["in_progress_at"],
        "completed": ["in_progress_at", "finalizing_at", "completed_at"],
        "cancelling": ["cancelling_at"],
        "cancelled": ["cancelling_at", "cancelled_at"],
    }[status]
    times = {
        name: (at + 3 + 40 * step if name in reached else None)
        for step, name in enumerate(TIMESTAMPS)
    }
    return {
        "id": ids.batch,
        "object": "batch",
        "endpoint": endpoint,
        "model": model,
        "errors": None,
        "input_file_id": ids.input_file,
        "completion_window": "24h",
        "status": status,
        "output_file_id": ids.result_file if status == "completed" else None,
        "error_file_id": ids.result_file if status == "cancelled" else None,
        "created_at": at,
        "expires_at": at + WINDOW_S,
        **times,
        "request_counts": {"total": total, "completed": completed, "failed": 0},
        "metadata": METADATA if metadata is None else metadata,
    }


def deleted(file_id: str) -> dict[str, Any]:
    """A ``DeleteFileResponse``."""
    return {"id": file_id, "object": "file", "deleted": True}


def job_answers(
    ids: Ids, *, endpoint: str, model: str, custom_id: str, body: Body, size: int
) -> dict[str, Answer]:
    """A batch-tier job's life: upload, create, two polls, its answer, the deletes."""
    return {
        "uploaded": file_object(ids.input_file, FILENAME, size, ids.created - 2, "batch"),
        "validating": batch_object(ids, endpoint, model, "validating"),
        "in_progress": batch_object(ids, endpoint, model, "in_progress", total=1),
        "completed": batch_object(ids, endpoint, model, "completed", total=1, completed=1),
        "output": (
            {
                "id": f"batch_req_{ids.batch[-24:]}",
                "custom_id": custom_id,
                "response": {
                    "status_code": 200,
                    "request_id": f"req_{ids.batch[-32:]}",
                    "body": body,
                },
                "error": None,
            },
        ),
        "input_deleted": deleted(ids.input_file),
        "output_deleted": deleted(ids.result_file),
    }


def calls_answers(
    ids: Ids, *, endpoint: str, model: str, custom_id: str, size: int
) -> dict[str, Answer]:
    """The calls a group's life makes only after a crash (a search over two pages, as
    on a busy account) and an operator's cancel: the batch, then its error file."""
    other_file = file_object(
        "file-Rk2Wq8ZpL6vXn3TyHc5BfJ",
        "nightly-eval-2024-11-18.jsonl",
        48211,
        ids.created - 900,
        "batch",
    )
    # Another batch of the account, still running: not the group's.
    other_batch = batch_object(
        Ids(other_file["id"], "batch_673b1e5f2a948190b0d61a2c7e35f4d8", "", ids.created - 898),
        endpoint,
        model,
        "in_progress",
        total=120,
        completed=37,
        metadata={"customer_id": "user_123456789", "batch_description": "Nightly eval"},
    )
    ours = file_object(ids.input_file, FILENAME, size, ids.created - 2, "batch")
    return {
        "uploaded": ours,
        "files_page_1": listing([other_file], more=True),
        "files_page_2": listing([ours], more=False),
        "validating": batch_object(ids, endpoint, model, "validating"),
        "batches_page_1": listing([other_batch], more=True),
        "batches_page_2": listing([batch_object(ids, endpoint, model, "validating")], more=False),
        "cancelling": batch_object(ids, endpoint, model, "cancelling"),
        "cancelled": batch_object(ids, endpoint, model, "cancelled", total=1),
        "errors": (
            {
                "id": f"batch_req_{ids.batch[-24:]}",
                "custom_id": custom_id,
                "response": None,
                "error": {
                    "code": "batch_cancelled",
                    "message": "This request was not executed because the batch was cancelled.",
                },
            },
        ),
        "input_deleted": deleted(ids.input_file),
        "errors_deleted": deleted(ids.result_file),
    }
