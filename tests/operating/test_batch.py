"""``openai-worker submit-batch``: many jobs from JSONL, bad lines reported by number."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from support import make_configuration

from worker.cli.bulk import Progress

pytestmark = pytest.mark.integration


def line(operation: str = "chat_completions_without_history", **payload: Any) -> str:
    body = {"configuration": "test", "model": "gpt-4o-mini", "user_prompt": "hi", **payload}
    return json.dumps({"operation": operation, "payload": body})


def test_a_batch_is_submitted_followed_and_written_with_bad_lines_reported(
    cli: Any, client: Any, start_worker: Any, wire_server: Any, tmp_path: Path
) -> None:
    # Given a file with three good jobs between a broken line, an unknown operation,
    # a payload the schema refuses and a blank line
    client.configurations().save(make_configuration("openai", wire_server.url))
    start_worker()
    batch = tmp_path / "jobs.jsonl"
    batch.write_text(
        "\n".join(
            [
                line(user_prompt="one"),
                "{not json",
                line("no_such_operation"),
                "",
                line(temperature="hot"),
                line(user_prompt="two"),
                line(user_prompt="three"),
            ]
        )
        + "\n"
    )

    # When it is submitted and followed to the end
    code, summary, err = cli(
        "submit-batch", str(batch), "--wait", "60", "--output", str(tmp_path / "out.jsonl")
    )

    # Then the good lines ran, the bad ones are named by line number
    assert code == 2  # some lines were invalid; every submitted job succeeded
    assert summary["submitted"] == 3
    assert [job["line"] for job in summary["jobs"]] == [1, 6, 7]
    assert [error["line"] for error in summary["errors"]] == [2, 3, 5]
    assert "not valid JSON" in summary["errors"][0]["error"]
    assert "no_such_operation" in summary["errors"][1]["error"]
    assert "temperature" in summary["errors"][2]["error"]
    assert "line 5:" in err
    assert summary["statuses"] == {"succeeded": 3}
    assert "[###" not in err  # stderr is not a terminal: no progress bar
    records = [json.loads(row) for row in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert summary["written"] == 3
    assert [r["job_id"] for r in records] == [job["job_id"] for job in summary["jobs"]]
    assert {r["status"] for r in records} == {"succeeded"}
    prompts = sorted(request.json["messages"][-1]["content"] for request in wire_server.requests)
    assert prompts == ["one", "three", "two"]


def test_without_wait_the_jobs_are_only_submitted(cli: Any, tmp_path: Path) -> None:
    batch = tmp_path / "jobs.jsonl"
    batch.write_text(line() + "\n" + line() + "\n")

    code, summary, _ = cli("submit-batch", str(batch))

    assert code == 0
    assert summary["submitted"] == 2
    assert "statuses" not in summary


def test_jobs_that_do_not_finish_in_time_exit_with_not_finished(cli: Any, tmp_path: Path) -> None:
    batch = tmp_path / "jobs.jsonl"
    batch.write_text(line() + "\n")

    code, summary, _ = cli("submit-batch", "-", "--wait", "0.5", stdin=batch.read_text())

    assert code == 4
    assert summary["statuses"] == {"queued": 1}


def test_output_without_wait_is_refused(cli: Any, tmp_path: Path) -> None:
    code, out, _ = cli("submit-batch", "-", "--output", str(tmp_path / "x.jsonl"), stdin="")

    assert code == 2
    assert "--wait" in out["error"]["message"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_is_drawn_on_a_terminal_only() -> None:
    terminal, pipe = Terminal(), io.StringIO()

    for stream in (terminal, pipe):
        progress = Progress("submitting", 4, stream)
        progress.advance(3)
        progress.close()

    assert terminal.getvalue().endswith(f"\rsubmitting [{'#' * 22}{'.' * 8}] 3/4\n")
    assert pipe.getvalue() == ""
